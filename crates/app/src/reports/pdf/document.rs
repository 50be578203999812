//! The file around the pages: catalog, page tree, the two standard fonts and the logo (stored
//! once, named in every page's resources), document information, and each page's content
//! compressed.

use chrono::{Datelike, Timelike};
use pdf_writer::{Date, Filter, Name, Pdf, Rect, Ref, TextStr};

use super::look::PdfLook;
use super::page::{LOGO, PAGE_H, PAGE_W};
use crate::clock;
use crate::reports::model::Report;

const CATALOG: Ref = Ref::new(1);
const TREE: Ref = Ref::new(2);
const HELVETICA: Ref = Ref::new(3);
const HELVETICA_BOLD: Ref = Ref::new(4);
const IMAGE: Ref = Ref::new(5);
const INFO: Ref = Ref::new(6);
const FIRST_PAGE: i32 = 7;

/// The whole file, from each page's content.
pub fn write(report: &Report, look: &PdfLook, pages: Vec<Vec<u8>>) -> Vec<u8> {
    let size: usize = pages.iter().map(Vec::len).sum();
    let mut pdf = Pdf::with_capacity(size / 3 + 16 * 1024);
    pdf.set_version(1, 4);
    let ids: Vec<(Ref, Ref)> = (0..pages.len() as i32)
        .map(|i| (Ref::new(FIRST_PAGE + 2 * i), Ref::new(FIRST_PAGE + 2 * i + 1)))
        .collect();
    pdf.catalog(CATALOG).pages(TREE);
    let logo = look.logo();
    pdf.pages(TREE)
        .kids(ids.iter().map(|(page, _)| *page))
        .count(ids.len() as i32);
    for (id, base) in [(HELVETICA, "Helvetica"), (HELVETICA_BOLD, "Helvetica-Bold")] {
        pdf.type1_font(id)
            .base_font(Name(base.as_bytes()))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    if let Some(l) = logo {
        let mut image = pdf.image_xobject(IMAGE, &l.data);
        image
            .width(l.width as i32)
            .height(l.height as i32)
            .color_space_name(Name(l.color_space.as_bytes()))
            .bits_per_component(8);
        image.filter(if l.filter == "DCTDecode" {
            Filter::DctDecode
        } else {
            Filter::FlateDecode
        });
    }
    let t = report.generated_at.with_timezone(&clock::kigali());
    let date = Date::new(t.year().clamp(0, 9999) as u16)
        .month(t.month() as u8)
        .day(t.day() as u8)
        .hour(t.hour() as u8)
        .minute(t.minute() as u8)
        .second(t.second() as u8)
        .utc_offset_hour(2)
        .utc_offset_minute(0);
    {
        let mut info = pdf.document_info(INFO);
        info.title(TextStr(&report.title))
            .creator(TextStr("MBELYCO Promo"))
            .producer(TextStr("MBELYCO Promo"))
            .creation_date(date);
        if let Some(company) = look.company() {
            info.author(TextStr(company));
        }
    }
    for ((page, contents), content) in ids.iter().zip(pages) {
        let mut p = pdf.page(*page);
        p.parent(TREE)
            .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .contents(*contents);
        // on each page (not inherited from the tree), which every reader finds
        let mut res = p.resources();
        res.fonts()
            .pair(Name(b"F1"), HELVETICA)
            .pair(Name(b"F2"), HELVETICA_BOLD);
        if logo.is_some() {
            res.x_objects().pair(LOGO, IMAGE);
        }
        drop(res);
        drop(p);
        pdf.stream(*contents, &deflate(&content)).filter(Filter::FlateDecode);
    }
    pdf.finish()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::with_capacity(data.len() / 3), flate2::Compression::fast());
    // writing to a Vec cannot fail
    let _ = z.write_all(data);
    z.finish().unwrap_or_default()
}
