//! The PDF file around the pages, written as it goes: the head (catalog, page tree, fonts, the
//! logo image), each page as it is laid out, then the cross-reference table.

use super::pdf::{Logo, FIRST_PAGE_OBJ, LOGO_OBJ, PAGE_H, PAGE_W};

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
                    "<< /Type /XObject /Subtype /Image /Width {} /Height {} /ColorSpace /{} \
                     /BitsPerComponent 8 /Filter /{} /Length {} >>",
                    l.width,
                    l.height,
                    l.color_space,
                    l.filter,
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
