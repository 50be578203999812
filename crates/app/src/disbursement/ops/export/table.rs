//! A page of a table in the exports' PDF: title, subtitle, column heads, up to 50 rows and
//! "Page X of Y", in the standard fonts `codes::pdf::StreamingPdf` declares (no embedding).

use pdf_writer::{Content, Name, Str};

pub(super) const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
pub(super) const MARGIN: f32 = 36.0;
const ROW_H: f32 = 12.5;
const FONT: f32 = 7.0;

/// Standard fonts use WinAnsi: keep Latin-1, spell out the ellipsis and dashes, replace the rest.
fn latin1(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '…' => out.extend_from_slice(b"..."),
            '–' | '—' | '−' => out.push(b'-'),
            c if (c as u32) < 256 && !c.is_control() => out.push(c as u8),
            _ => out.push(b'?'),
        }
    }
    out
}

fn text(c: &mut Content, font: &[u8], size: f32, x: f32, y: f32, s: &str) {
    let bytes = latin1(s);
    c.begin_text();
    c.set_font(Name(font), size);
    c.next_line(x, y);
    c.show(Str(&bytes));
    c.end_text();
}

/// Cuts `s` to what fits in `width` points at the table's font size (Helvetica averages about
/// 0.55 em a character).
fn fit(s: &str, width: f32) -> String {
    fit_at(s, FONT, width)
}

fn fit_at(s: &str, size: f32, width: f32) -> String {
    let max = ((width - 4.0) / (size * 0.55)).floor().max(1.0) as usize;
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(3)).collect();
        out.push_str("...");
        out
    }
}

/// One page of a table: title, the report's header lines (who it is from, when it was
/// exported), column heads, up to 50 rows, "Page X of Y".
pub(super) fn table_page(
    title: &str,
    subtitle: &[String; 2],
    cols: &[(&str, f32)],
    rows: &[Vec<String>],
    page: usize,
    pages: usize,
) -> Vec<u8> {
    let mut c = Content::new();
    let top = PAGE_H - MARGIN;
    text(&mut c, b"F2", 13.0, MARGIN, top - 14.0, title);
    text(
        &mut c,
        b"F1",
        8.0,
        MARGIN,
        top - 28.0,
        &fit_at(&subtitle[0], 8.0, PAGE_W - 2.0 * MARGIN),
    );
    text(&mut c, b"F1", 8.0, MARGIN, top - 39.0, &subtitle[1]);
    let head_y = top - 52.0;
    let mut x = MARGIN;
    for (name, w) in cols {
        text(&mut c, b"F2", FONT, x, head_y, name);
        x += w;
    }
    c.set_stroke_gray(0.6);
    c.set_line_width(0.5);
    c.move_to(MARGIN, head_y - 4.0);
    c.line_to(PAGE_W - MARGIN, head_y - 4.0);
    c.stroke();
    for (i, row) in rows.iter().enumerate() {
        let y = head_y - ROW_H * (i as f32 + 1.0);
        let mut x = MARGIN;
        for ((_, w), cell) in cols.iter().zip(row) {
            text(&mut c, b"F1", FONT, x, y, &fit(cell, *w));
            x += w;
        }
    }
    let footer = format!("Page {page} of {pages}");
    text(&mut c, b"F1", 8.0, PAGE_W / 2.0 - 20.0, MARGIN + 8.0, &footer);
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::pdf::StreamingPdf;

    #[test]
    fn cells_fit_their_column() {
        assert_eq!(fit("short", 60.0), "short");
        let cut = fit(&"x".repeat(100), 40.0);
        assert!(cut.ends_with("...") && cut.len() < 20, "{cut}");
        assert_eq!(latin1("ABCD-…-JK25"), b"ABCD-...-JK25");
    }

    #[test]
    fn a_table_document_reads_back() {
        let rows: Vec<Vec<String>> = (0..60)
            .map(|i| vec![format!("row {i}"), "+250788123456".into()])
            .collect();
        let cols = [("Name", 100.0), ("Phone", 100.0)];
        let subtitle = [
            "MBELYCO Paints - Quality paints, rewarded".to_owned(),
            "Exported today".to_owned(),
        ];
        let (mut w, mut bytes) = StreamingPdf::start(2, None);
        for (i, chunk) in rows.chunks(super::super::PDF_ROWS_PER_PAGE).enumerate() {
            bytes.extend(w.page(i, &table_page("Payouts", &subtitle, &cols, chunk, i + 1, 2)));
        }
        bytes.extend(w.finish());
        let doc = lopdf::Document::load_mem(&bytes).expect("a valid PDF");
        assert_eq!(doc.get_pages().len(), 2);
        let last = doc.extract_text(&[2]).unwrap();
        assert!(last.contains("row 59") && last.contains("Page 2 of 2"), "{last}");
        assert!(
            last.contains("MBELYCO Paints - Quality paints, rewarded"),
            "the report header on every page: {last}"
        );
    }
}
