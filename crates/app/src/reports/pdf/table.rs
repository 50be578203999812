//! Tables across pages: columns sized to what they hold within the page's width, numbers
//! right-aligned, text too long for its column shortened with an ellipsis, striped rows, the
//! header row again at the top of every page the table continues on, and the totals row last.

use super::look::Rgb;
use super::page::{fill, rule, show, show_right, Pages, LEFT, RIGHT, WIDTH};
use super::text::{self, Font};
use crate::reports::format;
use crate::reports::model::{Cell, Table};

const SIZE: f32 = 8.0;
const HEAD_SIZE: f32 = 7.5;
const ROW_H: f32 = 14.0;
const HEAD_H: f32 = 17.0;
const NAME_H: f32 = 20.0;
const PAD: f32 = 5.0;
/// The narrowest a text column is squeezed to before numbers give way too.
const MIN_TEXT_W: f32 = 48.0;

/// What the table's start needs on a page: its name, header and a few rows.
pub fn start_height(t: &Table) -> f32 {
    NAME_H + HEAD_H + ROW_H * t.rows.len().clamp(1, 3) as f32
}

/// The table, starting on this page if its start fits, else on the next.
pub fn table(p: &mut Pages, t: &Table) {
    if t.columns.is_empty() {
        return;
    }
    let n = t.columns.len();
    let cells = |row: &[Cell]| -> Vec<String> {
        (0..n)
            .map(|i| row.get(i).map(format::cell).unwrap_or_default())
            .collect()
    };
    let rows: Vec<Vec<String>> = t.rows.iter().map(|r| cells(r)).collect();
    let totals = t.totals.as_deref().map(cells);
    let layout = Layout::new(t, &rows, totals.as_deref());

    p.ensure(start_height(t));
    name(p, &t.name, false);
    layout.header(p, t);
    if rows.is_empty() {
        p.y -= ROW_H;
        let none = text::encode("No rows in this period.");
        show(
            &mut p.c,
            Font::Regular,
            SIZE,
            LEFT + PAD,
            p.y + 4.5,
            &none,
            Rgb::grey(0.45),
        );
    }
    for (i, row) in rows.iter().enumerate() {
        if p.room() < ROW_H {
            p.new_page();
            name(p, &t.name, true);
            layout.header(p, t);
        }
        p.y -= ROW_H;
        if i % 2 == 1 {
            fill(&mut p.c, p.look.wash(), LEFT, p.y, WIDTH, ROW_H);
        }
        layout.row(p, t, row, Font::Regular);
    }
    if let Some(totals) = &totals {
        if p.room() < ROW_H + 2.0 {
            p.new_page();
            name(p, &t.name, true);
            layout.header(p, t);
        }
        p.y -= ROW_H + 2.0;
        fill(&mut p.c, Rgb::grey(0.9), LEFT, p.y, WIDTH, ROW_H + 2.0);
        rule(&mut p.c, Rgb::grey(0.35), LEFT, RIGHT, p.y + ROW_H + 2.0, 0.8);
        p.y += 1.0;
        layout.row(p, t, totals, Font::Bold);
        p.y -= 1.0;
    }
    rule(&mut p.c, Rgb::grey(0.75), LEFT, RIGHT, p.y, 0.5);
    p.y -= 6.0;
}

fn name(p: &mut Pages, name: &str, continued: bool) {
    let label = if continued {
        format!("{name} (continued)")
    } else {
        name.to_owned()
    };
    p.y -= NAME_H;
    let t = text::fit(Font::Bold, &label, 10.0, WIDTH);
    show(&mut p.c, Font::Bold, 10.0, LEFT, p.y + 6.0, &t, Rgb::grey(0.15));
}

/// Each column's left edge and width.
struct Layout {
    x: Vec<f32>,
    w: Vec<f32>,
}

impl Layout {
    fn new(t: &Table, rows: &[Vec<String>], totals: Option<&[String]>) -> Self {
        let mut natural: Vec<f32> = t
            .columns
            .iter()
            .map(|c| Font::Bold.width_of(&c.name, HEAD_SIZE))
            .collect();
        for row in rows {
            for (w, cell) in natural.iter_mut().zip(row) {
                *w = w.max(Font::Regular.width_of(cell, SIZE));
            }
        }
        for (w, cell) in natural.iter_mut().zip(totals.unwrap_or_default()) {
            *w = w.max(Font::Bold.width_of(cell, SIZE));
        }
        let natural: Vec<f32> = natural.into_iter().map(|w| w + 2.0 * PAD).collect();
        let w = fit_widths(&natural, &t.columns.iter().map(|c| c.numeric).collect::<Vec<_>>());
        let mut x = Vec::with_capacity(w.len());
        let mut at = LEFT;
        for cw in &w {
            x.push(at);
            at += cw;
        }
        Self { x, w }
    }

    fn header(&self, p: &mut Pages, t: &Table) {
        let strong = p.look.strong();
        p.y -= HEAD_H;
        fill(&mut p.c, strong, LEFT, p.y, WIDTH, HEAD_H);
        let on = strong.on();
        for (i, col) in t.columns.iter().enumerate() {
            let label = text::fit(Font::Bold, &col.name, HEAD_SIZE, self.w[i] - 2.0 * PAD);
            let y = p.y + 6.0;
            if col.numeric {
                show_right(
                    &mut p.c,
                    Font::Bold,
                    HEAD_SIZE,
                    self.x[i] + self.w[i] - PAD,
                    y,
                    &label,
                    on,
                );
            } else {
                show(&mut p.c, Font::Bold, HEAD_SIZE, self.x[i] + PAD, y, &label, on);
            }
        }
    }

    fn row(&self, p: &mut Pages, t: &Table, row: &[String], font: Font) {
        let y = p.y + 4.5;
        for (i, (col, cell)) in t.columns.iter().zip(row).enumerate() {
            let s = text::fit(font, cell, SIZE, self.w[i] - 2.0 * PAD);
            let ink = Rgb::grey(0.1);
            if col.numeric {
                show_right(&mut p.c, font, SIZE, self.x[i] + self.w[i] - PAD, y, &s, ink);
            } else {
                show(&mut p.c, font, SIZE, self.x[i] + PAD, y, &s, ink);
            }
        }
    }
}

/// Column widths summing to the page's width: with room to spare, text columns (or all, when
/// there are none) share it; short of room, numbers keep their width and text columns share
/// what is left, each at least [`MIN_TEXT_W`]; still short, every column gives way alike.
fn fit_widths(natural: &[f32], numeric: &[bool]) -> Vec<f32> {
    let total: f32 = natural.iter().sum();
    let texts = numeric.iter().filter(|n| !**n).count();
    if total <= WIDTH {
        let spare = WIDTH - total;
        let text_sum: f32 = natural.iter().zip(numeric).filter(|(_, n)| !**n).map(|(w, _)| w).sum();
        return natural
            .iter()
            .zip(numeric)
            .map(|(w, n)| match (texts, n) {
                (0, _) => w + spare / natural.len() as f32,
                (_, false) => w + spare * w / text_sum.max(1.0),
                (_, true) => *w,
            })
            .collect();
    }
    let numbers: f32 = natural.iter().zip(numeric).filter(|(_, n)| **n).map(|(w, _)| w).sum();
    let left_for_text = WIDTH - numbers;
    if texts > 0 && left_for_text >= MIN_TEXT_W * texts as f32 {
        // squeeze the wide text columns first: each keeps the smaller of its width and a fair
        // share of the room, the share growing by what the narrower ones leave
        let mut share = left_for_text / texts as f32;
        let mut widths: Vec<f32> = natural.to_vec();
        for _ in 0..texts {
            let (small, small_n) = natural
                .iter()
                .zip(numeric)
                .filter(|(w, n)| !**n && **w <= share)
                .fold((0.0, 0), |(s, k), (w, _)| (s + w, k + 1));
            if small_n == texts {
                break;
            }
            let new_share = (left_for_text - small) / (texts - small_n) as f32;
            if (new_share - share).abs() < 0.01 {
                break;
            }
            share = new_share;
        }
        for (w, (nat, n)) in widths.iter_mut().zip(natural.iter().zip(numeric)) {
            if !*n {
                *w = nat.min(share.max(MIN_TEXT_W));
            }
        }
        let sum: f32 = widths.iter().sum();
        let k = WIDTH / sum;
        return widths.into_iter().map(|w| w * k).collect();
    }
    natural.iter().map(|w| w * WIDTH / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(v: &[f32]) -> f32 {
        v.iter().sum()
    }

    #[test]
    fn columns_fill_the_width_and_numbers_keep_theirs() {
        // room to spare: the text column takes it
        let w = fit_widths(&[60.0, 50.0, 50.0], &[false, true, true]);
        assert!((sum(&w) - WIDTH).abs() < 0.01);
        assert_eq!((w[1], w[2]), (50.0, 50.0));
        // short of room: the long text column gives way, the numbers do not
        let w = fit_widths(&[900.0, 40.0, 70.0, 70.0], &[false, false, true, true]);
        assert!((sum(&w) - WIDTH).abs() < 0.01, "{w:?}");
        assert!((w[1] - 40.0).abs() < 0.01 && (w[2] - 70.0).abs() < 0.01, "{w:?}");
        // far too many numbers: all give way alike
        let w = fit_widths(&[100.0; 12], &[true; 12]);
        assert!((sum(&w) - WIDTH).abs() < 0.01);
        assert!(w.iter().all(|x| (x - WIDTH / 12.0).abs() < 0.01));
    }
}
