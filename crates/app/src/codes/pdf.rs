//! Printable A4 sheets of codes: 12 per page in a 3 × 4 grid with cut guides, each code large
//! with its amount and its serial small beside it; a header with the company, batch number, batch
//! name and generation date (and the company logo from the branding settings, when it is a PNG);
//! "Page X of Y" in the footer.
//!
//! The document is written as it goes — page by page, tracking byte offsets for the
//! cross-reference table — so a million-code batch streams in constant memory. Page content is
//! built with pdf-writer's `Content`; the few objects around it (catalog, page tree, the three
//! standard fonts, which need no embedding) are written here, because pdf-writer assembles whole
//! documents in memory.

use pdf_writer::{Content, Name, Str};

pub const PER_PAGE: usize = 12;
const COLS: usize = 3;
const ROWS: usize = 4;
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 36.0;
const HEADER_H: f32 = 58.0;
const FOOTER_H: f32 = 30.0;
/// Object 6 is the logo image (or `null` without one); pages start after it.
const LOGO_OBJ: usize = 6;
const FIRST_PAGE_OBJ: usize = 7;
const LOGO_H: f32 = 30.0;

/// What the sheets say besides the codes.
#[derive(Debug, Clone)]
pub struct SheetInfo {
    pub company: String,
    pub batch_number: i64,
    pub batch_name: String,
    pub generated_on: String,
    pub service_code: String,
    /// Drawn once into the document and placed on every page's header.
    pub logo: Option<std::sync::Arc<Logo>>,
}

/// A logo decoded from the branding setting (a `data:image/png;base64,…` URL), as a Flate
/// compressed RGB image composited on white. SVG or anything else is skipped: the header then
/// shows the company name alone.
#[derive(Debug)]
pub struct Logo {
    pub width: u32,
    pub height: u32,
    data: Vec<u8>,
}

impl Logo {
    pub fn from_data_url(url: &str) -> Option<Logo> {
        use base64::Engine;
        let b64 = url.trim().strip_prefix("data:image/png;base64,")?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
        Self::from_png(&bytes)
    }

    pub fn from_png(bytes: &[u8]) -> Option<Logo> {
        let mut decoder = png::Decoder::new(bytes);
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().ok()?;
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).ok()?;
        let (w, h) = (info.width, info.height);
        if w == 0 || h == 0 || w > 4096 || h > 4096 {
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
            data: z.finish().ok()?,
        })
    }

    /// Width in points when drawn `LOGO_H` high.
    fn drawn_width(&self) -> f32 {
        LOGO_H * self.width as f32 / self.height as f32
    }
}

/// One code on a sheet.
#[derive(Debug, Clone)]
pub struct Slot {
    pub code: String,
    pub serial: i32,
    pub amount: i64,
    pub currency: String,
}

/// Standard fonts use WinAnsi: keep Latin-1, replace the rest.
fn latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| if (c as u32) < 256 { c as u8 } else { b'?' })
        .collect()
}

fn money(amount: i64, currency: &str) -> String {
    let digits = amount.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{}{out} {currency}", if amount < 0 { "-" } else { "" })
}

/// Approximate text widths for centring (Helvetica averages ~0.55 em; Courier is 0.6 em).
fn width(text: &str, size: f32, mono: bool) -> f32 {
    text.chars().count() as f32 * size * if mono { 0.6 } else { 0.55 }
}

fn text(c: &mut Content, font: &[u8], size: f32, x: f32, y: f32, s: &str) {
    let bytes = latin1(s);
    c.begin_text();
    c.set_font(Name(font), size);
    c.next_line(x, y);
    c.show(Str(&bytes));
    c.end_text();
}

/// The content stream of one page.
pub fn page_content(info: &SheetInfo, slots: &[Slot], page: usize, pages: usize) -> Vec<u8> {
    let mut c = Content::new();
    // header
    let top = PAGE_H - MARGIN;
    let mut name_x = MARGIN;
    if let Some(logo) = &info.logo {
        let w = logo.drawn_width().min(120.0);
        c.save_state();
        c.transform([w, 0.0, 0.0, LOGO_H, MARGIN, top - LOGO_H + 2.0]);
        c.x_object(Name(b"Im1"));
        c.restore_state();
        name_x = MARGIN + w + 8.0;
    }
    text(&mut c, b"F2", 13.0, name_x, top - 14.0, &info.company);
    text(
        &mut c,
        b"F1",
        9.0,
        name_x,
        top - 30.0,
        &format!("Batch {} - {}", info.batch_number, info.batch_name),
    );
    let gen = format!("Generated {}", info.generated_on);
    text(
        &mut c,
        b"F1",
        9.0,
        PAGE_W - MARGIN - width(&gen, 9.0, false),
        top - 30.0,
        &gen,
    );
    // grid with dashed cut guides
    let grid_top = top - HEADER_H;
    let grid_bottom = MARGIN + FOOTER_H;
    let cell_w = (PAGE_W - 2.0 * MARGIN) / COLS as f32;
    let cell_h = (grid_top - grid_bottom) / ROWS as f32;
    c.set_stroke_gray(0.55);
    c.set_line_width(0.5);
    c.set_dash_pattern([3.0, 3.0], 0.0);
    for i in 0..=COLS {
        let x = MARGIN + i as f32 * cell_w;
        c.move_to(x, grid_bottom);
        c.line_to(x, grid_top);
    }
    for j in 0..=ROWS {
        let y = grid_bottom + j as f32 * cell_h;
        c.move_to(MARGIN, y);
        c.line_to(PAGE_W - MARGIN, y);
    }
    c.stroke();
    for (k, slot) in slots.iter().enumerate().take(PER_PAGE) {
        let (col, row) = (k % COLS, k / COLS);
        let x0 = MARGIN + col as f32 * cell_w;
        let y_top = grid_top - row as f32 * cell_h;
        let cx = x0 + cell_w / 2.0;
        text(
            &mut c,
            b"F1",
            8.0,
            cx - width(&info.company, 8.0, false) / 2.0,
            y_top - 24.0,
            &info.company,
        );
        let amount = money(slot.amount, &slot.currency);
        text(
            &mut c,
            b"F2",
            17.0,
            cx - width(&amount, 17.0, false) / 2.0,
            y_top - cell_h * 0.40,
            &amount,
        );
        text(
            &mut c,
            b"F3",
            14.0,
            cx - width(&slot.code, 14.0, true) / 2.0,
            y_top - cell_h * 0.60,
            &slot.code,
        );
        let how = format!("Dial {} and enter the code", info.service_code);
        text(
            &mut c,
            b"F1",
            7.5,
            cx - width(&how, 7.5, false) / 2.0,
            y_top - cell_h * 0.75,
            &how,
        );
        let serial = format!("No. {}", slot.serial);
        text(
            &mut c,
            b"F1",
            6.5,
            x0 + cell_w - 8.0 - width(&serial, 6.5, false),
            y_top - cell_h + 8.0,
            &serial,
        );
    }
    let footer = format!("Page {page} of {pages}");
    text(
        &mut c,
        b"F1",
        8.0,
        PAGE_W / 2.0 - width(&footer, 8.0, false) / 2.0,
        MARGIN + 8.0,
        &footer,
    );
    c.finish()
}

/// Writes a PDF incrementally: `start`, then `page` for each page in order, then `finish`.
pub struct StreamingPdf {
    offset: usize,
    offsets: Vec<usize>,
    pages: usize,
    has_logo: bool,
}

impl StreamingPdf {
    /// The document head: catalog, page tree (its kids are known from the page count) and fonts.
    pub fn start(pages: usize, logo: Option<&Logo>) -> (Self, Vec<u8>) {
        let mut me = Self {
            offset: 0,
            offsets: vec![0; FIRST_PAGE_OBJ + 2 * pages],
            pages,
            has_logo: logo.is_some(),
        };
        let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
        me.offset = out.len();
        let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", FIRST_PAGE_OBJ + 2 * i)).collect();
        let objects = [
            (1, "<< /Type /Catalog /Pages 2 0 R >>".to_owned()),
            (
                2,
                format!("<< /Type /Pages /Count {pages} /Kids [{}] >>", kids.join(" ")),
            ),
            (
                3,
                "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_owned(),
            ),
            (
                4,
                "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>".to_owned(),
            ),
            (
                5,
                "<< /Type /Font /Subtype /Type1 /BaseFont /Courier-Bold /Encoding /WinAnsiEncoding >>".to_owned(),
            ),
        ];
        for (n, body) in objects {
            me.object(&mut out, n, body.as_bytes(), None);
        }
        match logo {
            Some(l) => {
                let dict = format!(
                    "<< /Type /XObject /Subtype /Image /Width {} /Height {} /ColorSpace /DeviceRGB \
                     /BitsPerComponent 8 /Filter /FlateDecode /Length {} >>",
                    l.width,
                    l.height,
                    l.data.len()
                );
                me.object(&mut out, LOGO_OBJ, dict.as_bytes(), Some(&l.data));
            }
            None => me.object(&mut out, LOGO_OBJ, b"null", None),
        }
        (me, out)
    }

    fn object(&mut self, out: &mut Vec<u8>, n: usize, dict: &[u8], stream: Option<&[u8]>) {
        self.offsets[n] = self.offset;
        let start = out.len();
        out.extend_from_slice(format!("{n} 0 obj\n").as_bytes());
        out.extend_from_slice(dict);
        if let Some(data) = stream {
            out.extend_from_slice(b"\nstream\n");
            out.extend_from_slice(data);
            out.extend_from_slice(b"\nendstream");
        }
        out.extend_from_slice(b"\nendobj\n");
        self.offset += out.len() - start;
    }

    /// One page (index from 0), as bytes to send.
    pub fn page(&mut self, index: usize, content: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(content.len() + 400);
        let (page_obj, content_obj) = (FIRST_PAGE_OBJ + 2 * index, FIRST_PAGE_OBJ + 2 * index + 1);
        let xobject = if self.has_logo {
            format!(" /XObject << /Im1 {LOGO_OBJ} 0 R >>")
        } else {
            String::new()
        };
        let dict = format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] \
             /Resources << /Font << /F1 3 0 R /F2 4 0 R /F3 5 0 R >>{xobject} >> /Contents {content_obj} 0 R >>"
        );
        self.object(&mut out, page_obj, dict.as_bytes(), None);
        let len = format!("<< /Length {} >>", content.len());
        self.object(&mut out, content_obj, len.as_bytes(), Some(content));
        out
    }

    /// The cross-reference table and trailer.
    pub fn finish(self) -> Vec<u8> {
        let n = FIRST_PAGE_OBJ + 2 * self.pages;
        let mut out = format!("xref\n0 {n}\n0000000000 65535 f \n").into_bytes();
        for off in &self.offsets[1..n] {
            out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {n} /Root 1 0 R >>\nstartxref\n{}\n%%EOF\n",
                self.offset
            )
            .as_bytes(),
        );
        out
    }
}

pub fn page_count(codes: usize) -> usize {
    codes.div_ceil(PER_PAGE).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_pages() {
        assert_eq!(money(1_000, "RWF"), "1,000 RWF");
        assert_eq!(money(250_000, "RWF"), "250,000 RWF");
        assert_eq!(page_count(1_201), 101);
        assert_eq!(page_count(12), 1);
        assert_eq!(page_count(0), 1);
    }

    #[test]
    fn a_document_reads_back() {
        let info = SheetInfo {
            company: "MBELYCO Paints".into(),
            batch_number: 7,
            batch_name: "Kivu Blue".into(),
            generated_on: "2026-11-25".into(),
            service_code: "*789#".into(),
            logo: None,
        };
        let slots: Vec<Slot> = (1..=25)
            .map(|i| Slot {
                code: format!("ABCD-EF26-GH11-J{:03}", i).chars().take(19).collect(),
                serial: i,
                amount: 1000,
                currency: "RWF".into(),
            })
            .collect();
        let pages = page_count(slots.len());
        let (mut w, mut bytes) = StreamingPdf::start(pages, None);
        for (i, chunk) in slots.chunks(PER_PAGE).enumerate() {
            bytes.extend(w.page(i, &page_content(&info, chunk, i + 1, pages)));
        }
        bytes.extend(w.finish());
        let doc = lopdf::Document::load_mem(&bytes).expect("a valid PDF");
        assert_eq!(doc.get_pages().len(), 3);
        let text = doc.extract_text(&[1]).unwrap();
        assert!(
            text.contains("Batch 7 - Kivu Blue") && text.contains("Page 1 of 3") && text.contains("No. 12"),
            "{text}"
        );
        let last = doc.extract_text(&[3]).unwrap();
        assert!(last.contains("No. 25") && !last.contains("No. 26"), "{last}");
    }

    /// A PNG logo from the branding settings is embedded once and drawn on every page's header.
    #[test]
    fn the_logo_is_drawn_on_every_page() {
        use base64::Engine;
        let mut png_bytes = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut png_bytes, 4, 2);
            enc.set_color(png::ColorType::Rgba);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc.write_header().unwrap();
            w.write_image_data(&[200u8; 4 * 2 * 4]).unwrap();
        }
        let url = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&png_bytes)
        );
        let logo = Logo::from_data_url(&url).expect("a PNG logo decodes");
        assert_eq!((logo.width, logo.height), (4, 2));
        assert!(Logo::from_data_url("data:image/svg+xml;base64,PHN2Zy8+").is_none());
        let info = SheetInfo {
            company: "MBELYCO Paints".into(),
            batch_number: 1,
            batch_name: "Logo".into(),
            generated_on: "2026-11-25".into(),
            service_code: "*789#".into(),
            logo: Some(std::sync::Arc::new(logo)),
        };
        let slot = Slot {
            code: "ABCD-EF26-GH11-JK25".into(),
            serial: 1,
            amount: 500,
            currency: "RWF".into(),
        };
        let (mut w, mut bytes) = StreamingPdf::start(2, info.logo.as_deref());
        for i in 0..2 {
            bytes.extend(w.page(i, &page_content(&info, std::slice::from_ref(&slot), i + 1, 2)));
        }
        bytes.extend(w.finish());
        let doc = lopdf::Document::load_mem(&bytes).expect("a valid PDF");
        for (_, page) in doc.get_pages() {
            let content = String::from_utf8_lossy(&doc.get_page_content(page).unwrap()).into_owned();
            assert!(content.contains("/Im1 Do"), "{content}");
        }
        let image = doc.get_object((6, 0)).unwrap().as_stream().unwrap();
        assert_eq!(image.dict.get(b"Subtype").unwrap().as_name().unwrap(), b"Image");
    }
}
