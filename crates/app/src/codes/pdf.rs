//! Printable A4 sheets of codes: 12 per page in a 3 × 4 grid with cut guides, each code large
//! with its amount and its serial small beside it; a header with the company logo and name, the
//! batch number, batch name and generation date and the contact details from the branding
//! settings; the company, its tagline and contact details and "Page X of Y" in the footer. Every card keeps [`SAFE_MARGIN`] clear of its cut lines.
//!
//! The document is written as it goes — page by page, tracking byte offsets for the
//! cross-reference table — so a million-code batch streams in constant memory. Page content is
//! built here with pdf-writer's `Content`; the few objects around it (catalog, page tree, the
//! three standard fonts, which need no embedding) are written by [`StreamingPdf`], because
//! pdf-writer assembles whole documents in memory. Text fitting is in `pdf_text`, the logo in
//! `pdf_logo`.

use pdf_writer::{Content, Name, Str};

pub use super::pdf_logo::Logo;
pub use super::pdf_stream::StreamingPdf;
use super::pdf_text::{centred, centred_left, code_line, latin1, right_aligned};
pub use super::pdf_text::{Font, Line, ASCENT, DESCENT};

pub const PER_PAGE: usize = 12;
const COLS: usize = 3;
const ROWS: usize = 4;
pub(super) const PAGE_W: f32 = 595.28;
pub(super) const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 36.0;
const HEADER_H: f32 = 58.0;
const FOOTER_H: f32 = 30.0;
/// Object 6 is the logo image (or `null` without one); pages start after it.
pub(super) const LOGO_OBJ: usize = 6;
pub(super) const FIRST_PAGE_OBJ: usize = 7;
const LOGO_H: f32 = 30.0;
/// One millimetre in points.
pub const MM: f32 = 72.0 / 25.4;
/// Nothing on a card is printed nearer than this to its cut lines: a guillotine or scissors
/// stray by a millimetre or two, and a code cut through is a code lost.
pub const SAFE_MARGIN: f32 = 5.0 * MM;

/// What the sheets say besides the codes.
#[derive(Debug, Clone)]
pub struct SheetInfo {
    pub company: String,
    /// The company's tagline, beside its name in the header and in the footer; empty: none.
    pub tagline: String,
    pub batch_number: i64,
    pub batch_name: String,
    pub generated_on: String,
    pub service_code: String,
    /// Drawn once into the document and placed on every page's header.
    pub logo: Option<std::sync::Arc<Logo>>,
    pub contact: Contact,
}

/// The branding settings' contact details; empty ones are left out.
#[derive(Debug, Clone, Default)]
pub struct Contact {
    pub phone: String,
    pub email: String,
    pub website: String,
}

impl Contact {
    /// All of them on one line, for the page header.
    pub fn line(&self) -> String {
        [&self.phone, &self.email, &self.website]
            .into_iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("  |  ")
    }

    /// The one a customer holding a card reaches first: the phone, else the email, else the site.
    pub fn card_line(&self) -> Option<String> {
        [&self.phone, &self.email, &self.website]
            .into_iter()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
            .map(|s| format!("Help: {s}"))
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

/// The grid of cards: left edge, top edge, width and height of each cell.
#[derive(Debug, Clone, Copy)]
pub struct Grid {
    pub left: f32,
    pub top: f32,
    pub bottom: f32,
    pub cell_w: f32,
    pub cell_h: f32,
}

pub const GRID: Grid = {
    let top = PAGE_H - MARGIN - HEADER_H;
    let bottom = MARGIN + FOOTER_H;
    Grid {
        left: MARGIN,
        top,
        bottom,
        cell_w: (PAGE_W - 2.0 * MARGIN) / COLS as f32,
        cell_h: (top - bottom) / ROWS as f32,
    }
};

impl Grid {
    /// Cell `k`'s box (left, bottom, right, top), row by row from the top left.
    pub fn cell(&self, k: usize) -> [f32; 4] {
        let (col, row) = ((k % COLS) as f32, (k / COLS) as f32);
        let x0 = self.left + col * self.cell_w;
        let y_top = self.top - row * self.cell_h;
        [x0, y_top - self.cell_h, x0 + self.cell_w, y_top]
    }
}

/// The lines every card of a page repeats (company, how to redeem, help), fitted once per page
/// in the first cell; every other cell draws them moved by its offset. The amount line is kept
/// while the amount stays the same (a batch has one amount).
struct CardText {
    fixed: Vec<Line>,
    amount: Option<(i64, String, Line)>,
}

/// The inner box of cell `k`: left, bottom, right, top, after [`SAFE_MARGIN`] on every side.
fn inner(k: usize) -> [f32; 4] {
    let [x0, y0, x1, y1] = GRID.cell(k);
    [x0 + SAFE_MARGIN, y0 + SAFE_MARGIN, x1 - SAFE_MARGIN, y1 - SAFE_MARGIN]
}

impl CardText {
    fn new(info: &SheetInfo) -> Self {
        let [left, bottom, right, top] = inner(0);
        let h = top - bottom;
        let mut fixed = vec![
            centred(&info.company, Font::Regular, 8.0, left, right, top - ASCENT * 8.0),
            centred(
                &format!("Dial {} and enter the code", info.service_code),
                Font::Regular,
                7.5,
                left,
                right,
                top - 0.77 * h,
            ),
        ];
        if let Some(help) = info.contact.card_line() {
            fixed.push(centred(&help, Font::Regular, 6.5, left, right, top - 0.88 * h));
        }
        Self { fixed, amount: None }
    }

    /// The amount line in the first cell, laid out again only when the amount changes.
    fn amount(&mut self, amount: i64, currency: &str) -> &Line {
        if !matches!(&self.amount, Some((a, c, _)) if *a == amount && c == currency) {
            self.amount = None;
        }
        let placed = self.amount.get_or_insert_with(|| {
            let [left, bottom, right, top] = inner(0);
            let y = top - 0.36 * (top - bottom);
            let line = centred(&money(amount, currency), Font::Bold, 17.0, left, right, y);
            (amount, currency.to_owned(), line)
        });
        &placed.2
    }

    /// Draws card `k` (or, with `out`, collects its lines instead).
    fn card(&mut self, c: &mut Content, slot: &Slot, k: usize, mut out: Option<&mut Vec<Line>>) {
        let [b0, b1, ..] = inner(0);
        let [left, bottom, right, top] = inner(k);
        let (dx, dy) = (left - b0, bottom - b1);
        let mut put = |c: &mut Content, l: &Line, moved: bool| {
            let (x, y) = if moved { (l.x + dx, l.y + dy) } else { (l.x, l.y) };
            match out.as_deref_mut() {
                Some(v) => v.push(Line { x, y, ..l.clone() }),
                None => draw(c, l.font, l.size, x, y, &l.text),
            }
        };
        for l in &self.fixed {
            put(c, l, true);
        }
        put(c, self.amount(slot.amount, &slot.currency), true);
        let h = top - bottom;
        put(c, &code_line(&slot.code, left, right, top - 0.6 * h), false);
        let serial = format!("No. {}", slot.serial);
        let serial = right_aligned(&serial, Font::Regular, 6.5, left, right, bottom + DESCENT * 6.5);
        put(c, &serial, false);
    }
}

/// The lines of card `k`, each inside its cell less [`SAFE_MARGIN`] on every side.
pub fn card_lines(info: &SheetInfo, slot: &Slot, k: usize) -> Vec<Line> {
    let mut lines = Vec::with_capacity(6);
    CardText::new(info).card(&mut Content::new(), slot, k, Some(&mut lines));
    lines
}

/// The header and footer lines of a page.
fn frame_lines(info: &SheetInfo, page: usize, pages: usize) -> Vec<Line> {
    let top = PAGE_H - MARGIN;
    let (left, right) = (MARGIN + logo_width(info), PAGE_W - MARGIN);
    let contact = info.contact.line();
    let mut lines = Vec::with_capacity(5);
    let mut name_right = right;
    if !contact.is_empty() {
        let c = right_aligned(
            &contact,
            Font::Regular,
            8.0,
            left + (right - left) / 2.0,
            right,
            top - 12.0,
        );
        name_right = c.x - 12.0;
        lines.push(c);
    }
    let name = centred_left(&info.company, Font::Bold, 13.0, left, name_right, top - 14.0);
    let tagline = info.tagline.trim();
    let name_end = name.bounds()[2];
    lines.push(name);
    if !tagline.is_empty() && name_right - name_end > 40.0 {
        lines.push(centred_left(
            tagline,
            Font::Regular,
            9.0,
            name_end + 8.0,
            name_right,
            top - 14.0,
        ));
    }
    let gen = format!("Generated {}", info.generated_on);
    let gen = right_aligned(&gen, Font::Regular, 9.0, left + (right - left) / 2.0, right, top - 30.0);
    let batch = format!("Batch {} - {}", info.batch_number, info.batch_name);
    lines.push(centred_left(&batch, Font::Regular, 9.0, left, gen.x - 12.0, top - 30.0));
    lines.push(gen);
    // the footer: who printed the sheet and how to reach them, then the page
    let mut who = info.company.trim().to_owned();
    if !tagline.is_empty() {
        who = format!("{who} - {tagline}");
    }
    if !contact.is_empty() {
        who = format!("{who}  |  {contact}");
    }
    lines.push(centred(
        &who,
        Font::Regular,
        7.5,
        MARGIN,
        PAGE_W - MARGIN,
        MARGIN + 17.0,
    ));
    let footer = format!("Page {page} of {pages}");
    lines.push(centred(
        &footer,
        Font::Regular,
        8.0,
        MARGIN,
        PAGE_W - MARGIN,
        MARGIN + 5.0,
    ));
    lines
}

/// Room the logo takes at the header's left, with its gap.
fn logo_width(info: &SheetInfo) -> f32 {
    info.logo.as_ref().map_or(0.0, |l| l.drawn_width().min(120.0) + 8.0)
}

impl Logo {
    /// Width in points when drawn `LOGO_H` high.
    fn drawn_width(&self) -> f32 {
        LOGO_H * self.width as f32 / self.height as f32
    }
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

fn draw(c: &mut Content, font: Font, size: f32, x: f32, y: f32, text: &str) {
    let bytes = latin1(text);
    c.begin_text();
    c.set_font(Name(font.resource()), size);
    c.next_line(x, y);
    c.show(Str(&bytes));
    c.end_text();
}

/// The content stream of one page.
pub fn page_content(info: &SheetInfo, slots: &[Slot], page: usize, pages: usize) -> Vec<u8> {
    let mut c = Content::new();
    if let Some(logo) = &info.logo {
        let w = logo.drawn_width().min(120.0);
        let top = PAGE_H - MARGIN;
        c.save_state();
        c.transform([w, 0.0, 0.0, LOGO_H, MARGIN, top - LOGO_H + 2.0]);
        c.x_object(Name(b"Im1"));
        c.restore_state();
    }
    for l in frame_lines(info, page, pages) {
        draw(&mut c, l.font, l.size, l.x, l.y, &l.text);
    }
    // grid with dashed cut guides
    let g = GRID;
    c.set_stroke_gray(0.55);
    c.set_line_width(0.5);
    c.set_dash_pattern([3.0, 3.0], 0.0);
    for i in 0..=COLS {
        let x = g.left + i as f32 * g.cell_w;
        c.move_to(x, g.bottom);
        c.line_to(x, g.top);
    }
    for j in 0..=ROWS {
        let y = g.bottom + j as f32 * g.cell_h;
        c.move_to(g.left, y);
        c.line_to(PAGE_W - MARGIN, y);
    }
    c.stroke();
    let mut cards = CardText::new(info);
    for (k, slot) in slots.iter().enumerate().take(PER_PAGE) {
        cards.card(&mut c, slot, k, None);
    }
    c.finish()
}

pub fn page_count(codes: usize) -> usize {
    codes.div_ceil(PER_PAGE).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact() -> Contact {
        Contact {
            phone: "+250 788 300 400".into(),
            email: "care@mbelyco.rw".into(),
            website: "https://mbelyco.rw".into(),
        }
    }

    /// Every line of every card, whatever the text, stays [`SAFE_MARGIN`] (5 mm) inside its
    /// cell's cut lines; the code itself is never shortened.
    #[test]
    fn every_card_keeps_a_printer_safe_margin_from_its_cut_lines() {
        const { assert!(SAFE_MARGIN >= 5.0 * MM - 0.001) };
        let long = "Mbelyco Paints & Coatings Rwanda Limited, Kigali Special Economic Zone";
        for (company, service, code, amount) in [
            ("MBELYCO Paints", "*789#", "ABCD-EF26-GH11-JK25", 1_000),
            (long, "*789*123*45#", "WWWW-WWWW-WWWW-WWWW-WWWW-WW", 1_000_000_000),
            ("M", "*1#", "A", 0),
        ] {
            let info = SheetInfo {
                company: company.into(),
                tagline: "Quality paints, rewarded".into(),
                batch_number: 1,
                batch_name: "Margins".into(),
                generated_on: "2026-12-07".into(),
                service_code: service.into(),
                logo: None,
                contact: contact(),
            };
            for k in 0..PER_PAGE {
                let slot = Slot {
                    code: code.into(),
                    serial: 999_999,
                    amount,
                    currency: "RWF".into(),
                };
                let [x0, y0, x1, y1] = GRID.cell(k);
                let lines = card_lines(&info, &slot, k);
                assert!(
                    lines.iter().any(|l| l.font == Font::Mono && l.text == code),
                    "whole code"
                );
                assert!(lines.iter().any(|l| l.text == "Help: +250 788 300 400"));
                for l in &lines {
                    let [l0, b0, r0, t0] = l.bounds();
                    let gap = (l0 - x0).min(x1 - r0).min(b0 - y0).min(y1 - t0);
                    assert!(
                        gap >= SAFE_MARGIN - 0.01,
                        "card {k}: `{}` at {:.1} pt is {:.1} mm from a cut line",
                        l.text,
                        l.size,
                        gap / MM
                    );
                }
                // and the lines do not run into each other
                let mut boxes: Vec<[f32; 4]> = lines.iter().map(Line::bounds).collect();
                boxes.sort_by(|a, b| b[3].total_cmp(&a[3]));
                for w in boxes.windows(2) {
                    assert!(w[0][1] >= w[1][3] - 0.01, "overlap in card {k}: {boxes:?}");
                }
            }
        }
    }

    /// The header of every page names the contact details; the page frame stays on the page.
    #[test]
    fn the_contact_details_head_every_page() {
        let info = SheetInfo {
            company: "MBELYCO Paints".into(),
            tagline: "Quality paints, rewarded".into(),
            batch_number: 3,
            batch_name: "Contact".into(),
            generated_on: "2026-12-07".into(),
            service_code: "*789#".into(),
            logo: None,
            contact: contact(),
        };
        let lines = frame_lines(&info, 1, 2);
        let header = lines
            .iter()
            .find(|l| l.text.contains("care@mbelyco.rw"))
            .expect("contact line");
        assert!(header.text.contains("+250 788 300 400") && header.text.contains("https://mbelyco.rw"));
        for l in &lines {
            let [x0, _, x1, _] = l.bounds();
            assert!(x0 >= MARGIN - 0.01 && x1 <= PAGE_W - MARGIN + 0.01, "{l:?}");
        }
        let company = lines.iter().find(|l| l.text == "MBELYCO Paints").unwrap();
        assert!(
            company.bounds()[2] < header.x,
            "the name and the contact line do not overlap"
        );
        // the tagline beside the name, clear of the contact line; the footer names all three
        let tagline = lines
            .iter()
            .find(|l| l.text == "Quality paints, rewarded")
            .expect("tagline");
        assert!(tagline.x > company.bounds()[2] && tagline.bounds()[2] < header.x);
        let footer = lines
            .iter()
            .find(|l| l.y < GRID.bottom && l.text.starts_with("MBELYCO Paints - Quality paints, rewarded"))
            .expect("footer names the company");
        assert!(footer.text.contains("care@mbelyco.rw") && footer.text.contains("+250 788 300 400"));
        assert!(footer.bounds()[3] < GRID.bottom, "the footer stays below the cards");
        let page = lines.iter().find(|l| l.text == "Page 1 of 2").unwrap();
        assert!(page.bounds()[3] < footer.bounds()[1] && page.bounds()[1] > 0.0);
        assert_eq!(Contact::default().card_line(), None);
        assert_eq!(Contact::default().line(), "");
    }

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
            tagline: "Quality paints, rewarded".into(),
            batch_number: 7,
            batch_name: "Kivu Blue".into(),
            generated_on: "2026-11-25".into(),
            service_code: "*789#".into(),
            logo: None,
            contact: Contact::default(),
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
            tagline: "Quality paints, rewarded".into(),
            batch_number: 1,
            batch_name: "Logo".into(),
            generated_on: "2026-11-25".into(),
            service_code: "*789#".into(),
            logo: Some(std::sync::Arc::new(logo)),
            contact: Contact::default(),
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
