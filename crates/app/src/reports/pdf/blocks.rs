//! The report's opening (title, days, filters), section headings, rows of boxed figures and
//! notes. Tables and charts have their own modules.

use super::look::Rgb;
use super::page::{fill, outline, rule, show, Pages, LEFT, RIGHT, WIDTH};
use super::text::{self, Font};
use crate::reports::format;
use crate::reports::model::{Figure, Report};

/// The report's title block at the top of the first page.
pub fn opening(p: &mut Pages, r: &Report) {
    let strong = p.look.strong();
    let title = text::wrap(Font::Bold, &r.title, 20.0, WIDTH);
    for line in title.iter().take(2) {
        p.y -= 22.0;
        show(&mut p.c, Font::Bold, 20.0, LEFT, p.y, line, Rgb::grey(0.1));
    }
    p.y -= 16.0;
    let days = text::encode(&format!("{} (Kigali days)", format::range(&r.range)));
    show(&mut p.c, Font::Regular, 10.0, LEFT, p.y, &days, Rgb::grey(0.3));
    if !r.filters.is_empty() {
        for line in text::wrap(Font::Regular, &r.filters.join("  \u{2022}  "), 9.0, WIDTH) {
            p.y -= 13.0;
            show(&mut p.c, Font::Regular, 9.0, LEFT, p.y, &line, Rgb::grey(0.3));
        }
    }
    p.y -= 10.0;
    fill(&mut p.c, strong, LEFT, p.y, 48.0, 2.5);
    p.y -= 8.0;
}

/// Height of a section heading.
pub const HEADING_H: f32 = 30.0;

/// A section's heading, kept on the page with at least `next` points of what follows it.
pub fn heading(p: &mut Pages, title: &str, next: f32) {
    p.ensure(HEADING_H + next);
    let strong = p.look.strong();
    p.y -= 22.0;
    let t = text::fit(Font::Bold, title, 13.0, WIDTH);
    show(&mut p.c, Font::Bold, 13.0, LEFT, p.y, &t, strong);
    p.y -= 5.0;
    rule(&mut p.c, Rgb::grey(0.8), LEFT, RIGHT, p.y, 0.5);
    p.y -= 3.0;
}

const PER_ROW: usize = 4;
const BOX_H: f32 = 44.0;
const GAP: f32 = 8.0;

/// Height of a row of figures (and of each further row).
pub fn figures_height(n: usize) -> f32 {
    let rows = n.div_ceil(PER_ROW).max(1) as f32;
    rows * (BOX_H + GAP) + 4.0
}

/// Headline figures in boxes, up to four to a row.
pub fn figures(p: &mut Pages, figures: &[Figure]) {
    p.y -= 8.0;
    let strong = p.look.strong();
    let wash = p.look.wash();
    for row in figures.chunks(PER_ROW) {
        p.ensure(BOX_H + GAP);
        let n = PER_ROW.min(figures.len()) as f32;
        let w = (WIDTH - GAP * (n - 1.0)) / n;
        let y = p.y - BOX_H;
        for (i, f) in row.iter().enumerate() {
            let x = LEFT + i as f32 * (w + GAP);
            fill(&mut p.c, wash, x, y, w, BOX_H);
            outline(&mut p.c, Rgb::grey(0.82), x, y, w, BOX_H, 0.5);
            fill(&mut p.c, strong, x, y, 3.0, BOX_H);
            let label = text::fit(Font::Regular, &f.label, 8.0, w - 16.0);
            show(
                &mut p.c,
                Font::Regular,
                8.0,
                x + 10.0,
                y + BOX_H - 14.0,
                &label,
                Rgb::grey(0.3),
            );
            let value = format::cell(&f.value);
            let (v, size) = text::shrink(Font::Bold, &value, 15.0, 8.0, w - 16.0);
            show(&mut p.c, Font::Bold, size, x + 10.0, y + 10.0, &v, Rgb::grey(0.1));
        }
        p.y = y - GAP;
    }
    p.y -= 4.0;
}

const NOTE_SIZE: f32 = 9.0;
const NOTE_LEAD: f32 = 12.5;

/// Height of a note.
pub fn note_height(t: &str) -> f32 {
    text::wrap(Font::Regular, t, NOTE_SIZE, WIDTH).len() as f32 * NOTE_LEAD + 8.0
}

/// A paragraph of explanation, across pages when it is long.
pub fn note(p: &mut Pages, t: &str) {
    p.y -= 4.0;
    for line in text::wrap(Font::Regular, t, NOTE_SIZE, WIDTH) {
        p.ensure(NOTE_LEAD);
        p.y -= NOTE_LEAD;
        show(
            &mut p.c,
            Font::Regular,
            NOTE_SIZE,
            LEFT,
            p.y + 3.0,
            &line,
            Rgb::grey(0.25),
        );
    }
    p.y -= 4.0;
}
