//! The company logo on printable sheets, from the branding setting `companyLogo`: a `data:` URL
//! stored in the settings, never fetched from anywhere (decision 0027). A PNG is decoded and
//! written as a Flate compressed RGB image composited on white; a JPEG is embedded as it is
//! (PDF reads JPEG natively). An SVG, or anything that does not decode, is left out: the header
//! then shows the company name alone.

use base64::Engine;

/// An image ready to be written as the document's one image XObject (the code sheets here, the
/// report PDFs in `reports::pdf`).
#[derive(Debug)]
pub struct Logo {
    pub width: u32,
    pub height: u32,
    pub color_space: &'static str,
    pub filter: &'static str,
    pub data: Vec<u8>,
}

const MAX_SIDE: u32 = 4096;

impl Logo {
    pub fn from_data_url(url: &str) -> Option<Logo> {
        let url = url.trim();
        let decode = |b64: &str| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok();
        if let Some(b64) = url.strip_prefix("data:image/png;base64,") {
            return Self::from_png(&decode(b64)?);
        }
        if let Some(b64) = url.strip_prefix("data:image/jpeg;base64,") {
            return Self::from_jpeg(decode(b64)?);
        }
        None
    }

    pub fn from_png(bytes: &[u8]) -> Option<Logo> {
        let mut decoder = png::Decoder::new(bytes);
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().ok()?;
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).ok()?;
        let (w, h) = (info.width, info.height);
        if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
            return None;
        }
        let px = &buf[..info.buffer_size()];
        let mut rgb = Vec::with_capacity((w * h * 3) as usize);
        let blend = |c: u8, a: u8| -> u8 { ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8 };
        match info.color_type {
            png::ColorType::Rgb => rgb.extend_from_slice(px),
            png::ColorType::Rgba => px
                .chunks_exact(4)
                .for_each(|p| rgb.extend([blend(p[0], p[3]), blend(p[1], p[3]), blend(p[2], p[3])])),
            png::ColorType::Grayscale => px.iter().for_each(|&g| rgb.extend([g, g, g])),
            png::ColorType::GrayscaleAlpha => px.chunks_exact(2).for_each(|p| {
                let g = blend(p[0], p[1]);
                rgb.extend([g, g, g]);
            }),
            png::ColorType::Indexed => return None,
        }
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut z, &rgb).ok()?;
        Some(Logo {
            width: w,
            height: h,
            color_space: "DeviceRGB",
            filter: "FlateDecode",
            data: z.finish().ok()?,
        })
    }

    /// A baseline or progressive JPEG in grey or RGB, kept as it is (`/DCTDecode`). CMYK JPEGs
    /// (their inks are stored inverted by some writers) and arithmetic coding are left out.
    pub fn from_jpeg(bytes: Vec<u8>) -> Option<Logo> {
        let (width, height, components) = jpeg_frame(&bytes)?;
        let color_space = match components {
            1 => "DeviceGray",
            3 => "DeviceRGB",
            _ => return None,
        };
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return None;
        }
        Some(Logo {
            width,
            height,
            color_space,
            filter: "DCTDecode",
            data: bytes,
        })
    }
}

/// Width, height and colour components from a JPEG's start-of-frame segment.
fn jpeg_frame(b: &[u8]) -> Option<(u32, u32, u8)> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        match marker {
            0xFF => {
                i += 1; // fill byte
                continue;
            }
            0x01 | 0xD0..=0xD7 => {
                i += 2; // markers without a length
                continue;
            }
            0xD9 | 0xDA => return None, // end of image or scan data before any frame
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        if len < 2 {
            return None;
        }
        if matches!(marker, 0xC0..=0xC2) {
            // precision, height, width, components
            let seg = b.get(i + 4..i + 2 + len)?;
            if seg.len() < 6 {
                return None;
            }
            let height = u32::from(u16::from_be_bytes([seg[1], seg[2]]));
            let width = u32::from(u16::from_be_bytes([seg[3], seg[4]]));
            return Some((width, height, seg[5]));
        }
        if matches!(marker, 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF) {
            return None; // lossless, hierarchical or arithmetic: not for every PDF reader
        }
        i += 2 + len;
    }
    None
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The head of a JPEG: SOI, an APP0 segment, a baseline frame of `w` × `h` in `n` components,
    /// EOI. Enough to be read and embedded.
    pub fn jpeg_head(w: u16, h: u16, n: u8) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        b.extend(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        let len = 8 + 3 * u16::from(n);
        b.extend([0xFF, 0xC0]);
        b.extend(len.to_be_bytes());
        b.push(8);
        b.extend(h.to_be_bytes());
        b.extend(w.to_be_bytes());
        b.push(n);
        for c in 0..n {
            b.extend([c + 1, 0x11, 0]);
        }
        b.extend([0xFF, 0xD9]);
        b
    }

    #[test]
    fn jpeg_logos_are_embedded_as_they_are() {
        let bytes = jpeg_head(40, 20, 3);
        let url = format!(
            "data:image/jpeg;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&bytes)
        );
        let logo = Logo::from_data_url(&url).expect("a JPEG logo is read");
        assert_eq!(
            (logo.width, logo.height, logo.color_space, logo.filter),
            (40, 20, "DeviceRGB", "DCTDecode")
        );
        assert_eq!(logo.data, bytes);
        assert_eq!(Logo::from_jpeg(jpeg_head(8, 8, 1)).unwrap().color_space, "DeviceGray");
        assert!(Logo::from_jpeg(jpeg_head(8, 8, 4)).is_none(), "CMYK is left out");
        assert!(Logo::from_jpeg(vec![0xFF, 0xD8, 0xFF, 0xD9]).is_none(), "no frame");
        assert!(Logo::from_jpeg(b"not a jpeg".to_vec()).is_none());
        assert!(
            Logo::from_data_url("https://example.com/logo.png").is_none(),
            "never fetched"
        );
    }
}
