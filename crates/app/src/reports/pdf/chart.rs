//! Charts drawn as vectors: rectangles and lines in the page's content, never an image, so they
//! print sharp at any size. Bars (grouped by series), lines, stacked bars and a heat map
//! (series are its rows), each with a y axis of round numbers, thinned x labels and a legend in
//! the look's colours.

use pdf_writer::types::{LineCapStyle, LineJoinStyle};
use pdf_writer::Content;

use super::look::{PdfLook, Rgb};
use super::page::{fill, outline, rule, show, show_centred, show_right, Pages, LEFT, WIDTH};
use super::text::{self, Font};
use crate::reports::format;
use crate::reports::model::{Chart, ChartKind};

const TITLE_H: f32 = 22.0;
const PLOT_H: f32 = 140.0;
const X_LABELS_H: f32 = 16.0;
const LEGEND_ROW: f32 = 13.0;
const PAD: f32 = 10.0;
const LABEL: f32 = 7.0;
const HEAT_ROW: f32 = 12.0;
/// The most heat-map rows drawn (a week has seven).
const HEAT_MAX_ROWS: usize = 40;

/// The chart's values, one row per series, every row as long as the x axis; anything not a
/// number counts as 0.
struct Data {
    n: usize,
    rows: Vec<Vec<f64>>,
}

impl Data {
    fn of(ch: &Chart) -> Self {
        let n = ch
            .series
            .iter()
            .map(|s| s.values.len())
            .max()
            .unwrap_or(0)
            .max(ch.x_labels.len());
        let rows = ch
            .series
            .iter()
            .map(|s| {
                (0..n)
                    .map(|i| s.values.get(i).copied().filter(|v| v.is_finite()).unwrap_or(0.0))
                    .collect()
            })
            .collect();
        Self { n, rows }
    }

    fn is_empty(&self) -> bool {
        self.n == 0 || self.rows.is_empty()
    }

    /// The lowest and highest value the axis must show (0 always among them).
    fn extent(&self, stacked: bool) -> (f64, f64) {
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for i in 0..self.n {
            if stacked {
                let (neg, pos) =
                    self.rows.iter().map(|r| r[i]).fold(
                        (0.0, 0.0),
                        |(n, p), v| {
                            if v < 0.0 {
                                (n + v, p)
                            } else {
                                (n, p + v)
                            }
                        },
                    );
                lo = lo.min(neg);
                hi = hi.max(pos);
            } else {
                for r in &self.rows {
                    lo = lo.min(r[i]);
                    hi = hi.max(r[i]);
                }
            }
        }
        (lo, hi)
    }
}

/// The height the chart takes on the page.
pub fn height(ch: &Chart) -> f32 {
    let legend = legend_rows(ch) as f32 * LEGEND_ROW;
    let body = match ch.kind {
        ChartKind::Heat => ch.series.len().clamp(1, HEAT_MAX_ROWS) as f32 * HEAT_ROW + LEGEND_ROW,
        _ => PLOT_H,
    };
    TITLE_H + body + X_LABELS_H + legend + 2.0 * PAD
}

fn legend_rows(ch: &Chart) -> usize {
    if ch.kind == ChartKind::Heat || ch.series.len() < 2 {
        return 0;
    }
    let widths: Vec<f32> = ch.series.iter().map(|s| legend_item_w(&s.name)).collect();
    let mut rows = 1;
    let mut x = 0.0;
    for w in widths {
        if x > 0.0 && x + w > WIDTH - 2.0 * PAD {
            rows += 1;
            x = 0.0;
        }
        x += w;
    }
    rows
}

fn legend_item_w(name: &str) -> f32 {
    12.0 + Font::Regular.width(&text::fit(Font::Regular, name, LABEL, 160.0), LABEL) + 14.0
}

/// The chart in a box the page's width, on this page if it fits, else on the next.
pub fn chart(p: &mut Pages, ch: &Chart) {
    let h = height(ch);
    p.ensure(h + 8.0);
    p.y -= 8.0;
    let top = p.y;
    let bottom = top - h;
    let look = p.look;
    let c = &mut p.c;
    outline(c, Rgb::grey(0.85), LEFT, bottom, WIDTH, h, 0.5);
    let unit = text::fit(Font::Regular, &ch.unit, LABEL + 0.5, 120.0);
    let unit_w = Font::Regular.width(&unit, LABEL + 0.5);
    let title = text::fit(Font::Bold, &ch.title, 10.0, WIDTH - 2.0 * PAD - unit_w - 10.0);
    show(
        c,
        Font::Bold,
        10.0,
        LEFT + PAD,
        top - PAD - 9.0,
        &title,
        Rgb::grey(0.15),
    );
    show_right(
        c,
        Font::Regular,
        LABEL + 0.5,
        LEFT + WIDTH - PAD,
        top - PAD - 9.0,
        &unit,
        Rgb::grey(0.45),
    );
    let data = Data::of(ch);
    let plot_top = top - PAD - TITLE_H;
    let plot_bottom = bottom + PAD + X_LABELS_H + legend_rows(ch) as f32 * LEGEND_ROW;
    if data.is_empty() {
        let none = text::encode("No data for this period.");
        let cy = (plot_top + plot_bottom) / 2.0;
        show_centred(c, Font::Regular, 9.0, LEFT + WIDTH / 2.0, cy, &none, Rgb::grey(0.45));
    } else if ch.kind == ChartKind::Heat {
        heat(c, look, ch, &data, plot_top);
    } else {
        plot(c, look, ch, &data, plot_top, plot_bottom);
        legend(c, look, ch, bottom + PAD + legend_rows(ch) as f32 * LEGEND_ROW);
    }
    p.y = bottom - 4.0;
}

/// Round steps for an axis from `lo` to `hi`: about four of 1, 2, 2.5 or 5 times a power of ten.
/// Nothing to show counts from 0 to 4.
fn ticks(lo: f64, hi: f64) -> (f64, f64, f64) {
    let hi = if hi > lo { hi } else { lo + 4.0 };
    let raw = (hi - lo) / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|k| k * mag)
        .find(|s| *s >= raw * 0.999_999)
        .unwrap_or(10.0 * mag);
    ((lo / step).floor() * step, (hi / step).ceil() * step, step)
}

/// A y-axis label: short for big numbers, with as many decimals as the step needs.
fn tick_label(v: f64, step: f64, unit: &str) -> String {
    if step >= 1.0 {
        return format::axis(v, unit);
    }
    let decimals = (1..=6)
        .find(|&d| {
            let k = step * 10f64.powi(d);
            (k - k.round()).abs() < 1e-6
        })
        .unwrap_or(6) as usize;
    let pct = if unit == "%" { "%" } else { "" };
    format!("{v:.decimals$}{pct}")
}

/// Bars, lines or stacked bars over a y axis.
fn plot(c: &mut Content, look: &PdfLook, ch: &Chart, data: &Data, top: f32, bottom: f32) {
    let stacked = ch.kind == ChartKind::StackedBar;
    let (lo, hi) = data.extent(stacked);
    let (lo, hi, step) = ticks(lo, hi);
    let steps = ((hi - lo) / step).round() as usize;
    let labels: Vec<Vec<u8>> = (0..=steps)
        .map(|k| text::encode(&tick_label(lo + step * k as f64, step, &ch.unit)))
        .collect();
    let label_w = labels.iter().map(|l| Font::Regular.width(l, LABEL)).fold(0.0, f32::max);
    let left = LEFT + PAD + label_w + 6.0;
    let right = LEFT + WIDTH - PAD;
    let y_of = |v: f64| bottom + ((v - lo) / (hi - lo)) as f32 * (top - bottom);
    for (k, l) in labels.iter().enumerate() {
        let y = y_of(lo + step * k as f64);
        rule(c, Rgb::grey(0.9), left, right, y, 0.4);
        show_right(c, Font::Regular, LABEL, left - 4.0, y - 2.5, l, Rgb::grey(0.4));
    }
    let slot = (right - left) / data.n as f32;
    match ch.kind {
        ChartKind::Line => lines(c, look, data, left, slot, &y_of),
        ChartKind::StackedBar => {
            let w = slot * 0.7;
            let mut pos = vec![0.0f64; data.n];
            let mut neg = vec![0.0f64; data.n];
            for (s, row) in data.rows.iter().enumerate() {
                let col = look.series(s);
                c.set_fill_rgb(col.0, col.1, col.2);
                for (i, &v) in row.iter().enumerate() {
                    let base = if v < 0.0 { &mut neg[i] } else { &mut pos[i] };
                    let (y0, y1) = (y_of(*base), y_of(*base + v));
                    *base += v;
                    if (y1 - y0).abs() > 0.01 {
                        c.rect(
                            left + slot * i as f32 + (slot - w) / 2.0,
                            y0.min(y1),
                            w,
                            (y1 - y0).abs(),
                        );
                    }
                }
                c.fill_nonzero();
            }
        }
        _ => {
            let group = slot * 0.78;
            let w = group / data.rows.len() as f32;
            for (s, row) in data.rows.iter().enumerate() {
                let col = look.series(s);
                c.set_fill_rgb(col.0, col.1, col.2);
                for (i, &v) in row.iter().enumerate() {
                    let (y0, y1) = (y_of(0.0), y_of(v));
                    if (y1 - y0).abs() > 0.01 {
                        let x = left + slot * i as f32 + (slot - group) / 2.0 + w * s as f32;
                        c.rect(x, y0.min(y1), w, (y1 - y0).abs());
                    }
                }
                c.fill_nonzero();
            }
        }
    }
    rule(c, Rgb::grey(0.35), left, right, y_of(0.0), 0.8);
    x_labels(c, &ch.x_labels, left, slot, bottom - 10.0);
}

fn lines(c: &mut Content, look: &PdfLook, data: &Data, left: f32, slot: f32, y_of: &dyn Fn(f64) -> f32) {
    c.set_line_join(LineJoinStyle::RoundJoin);
    c.set_line_cap(LineCapStyle::RoundCap);
    for (s, row) in data.rows.iter().enumerate() {
        let col = look.series(s);
        c.set_stroke_rgb(col.0, col.1, col.2);
        c.set_line_width(1.6);
        for (i, &v) in row.iter().enumerate() {
            let (x, y) = (left + slot * (i as f32 + 0.5), y_of(v));
            if i == 0 {
                c.move_to(x, y);
            } else {
                c.line_to(x, y);
            }
        }
        if data.n == 1 {
            let y = y_of(row[0]);
            c.line_to(left + slot * 0.5 + 0.1, y);
        }
        c.stroke();
        if data.n <= 40 {
            c.set_fill_rgb(col.0, col.1, col.2);
            for (i, &v) in row.iter().enumerate() {
                c.rect(left + slot * (i as f32 + 0.5) - 1.6, y_of(v) - 1.6, 3.2, 3.2);
            }
            c.fill_nonzero();
        }
    }
    c.set_line_cap(LineCapStyle::ButtCap);
    c.set_line_join(LineJoinStyle::MiterJoin);
}

/// The x labels under their slots, as many as fit side by side.
fn x_labels(c: &mut Content, labels: &[String], left: f32, slot: f32, y: f32) {
    if labels.is_empty() {
        return;
    }
    let widest = labels
        .iter()
        .map(|l| Font::Regular.width_of(l, LABEL))
        .fold(0.0, f32::max);
    let every = (((widest.min(90.0) + 8.0) / slot).ceil() as usize).max(1);
    let room = slot * every as f32 - 4.0;
    for (i, l) in labels.iter().enumerate().step_by(every) {
        let t = text::fit(Font::Regular, l, LABEL, room);
        let cx = left + slot * (i as f32 + 0.5);
        show_centred(c, Font::Regular, LABEL, cx, y, &t, Rgb::grey(0.4));
    }
}

/// A swatch and the name of each series, in rows under the plot.
fn legend(c: &mut Content, look: &PdfLook, ch: &Chart, top: f32) {
    if legend_rows(ch) == 0 {
        return;
    }
    let (mut x, mut y) = (LEFT + PAD, top - LEGEND_ROW + 3.0);
    for (s, series) in ch.series.iter().enumerate() {
        let w = legend_item_w(&series.name);
        if x > LEFT + PAD && x + w > LEFT + WIDTH - PAD {
            x = LEFT + PAD;
            y -= LEGEND_ROW;
        }
        fill(c, look.series(s), x, y, 8.0, 8.0);
        let name = text::fit(Font::Regular, &series.name, LABEL, 160.0);
        show(c, Font::Regular, LABEL, x + 12.0, y + 1.0, &name, Rgb::grey(0.25));
        x += w;
    }
}

/// Shaded cells, one row per series, and a scale from nothing to the largest value.
fn heat(c: &mut Content, look: &PdfLook, ch: &Chart, data: &Data, top: f32) {
    let rows = data.rows.len().min(HEAT_MAX_ROWS);
    let names: Vec<Vec<u8>> = ch.series[..rows]
        .iter()
        .map(|s| text::fit(Font::Regular, &s.name, LABEL, 90.0))
        .collect();
    let label_w = names.iter().map(|n| Font::Regular.width(n, LABEL)).fold(0.0, f32::max);
    let left = LEFT + PAD + label_w + 6.0;
    let right = LEFT + WIDTH - PAD;
    let slot = (right - left) / data.n as f32;
    let max = data.rows.iter().flatten().fold(0.0f64, |m, v| m.max(*v));
    let grid_top = top;
    for (r, row) in data.rows[..rows].iter().enumerate() {
        let y = grid_top - HEAT_ROW * (r as f32 + 1.0);
        show_right(c, Font::Regular, LABEL, left - 4.0, y + 3.5, &names[r], Rgb::grey(0.35));
        for (i, &v) in row.iter().enumerate() {
            let t = if max > 0.0 { (v / max) as f32 } else { 0.0 };
            fill(c, look.heat(t), left + slot * i as f32, y, slot, HEAT_ROW);
        }
    }
    let grid_bottom = grid_top - HEAT_ROW * rows as f32;
    outline(
        c,
        Rgb::grey(0.8),
        left,
        grid_bottom,
        right - left,
        grid_top - grid_bottom,
        0.4,
    );
    x_labels(c, &ch.x_labels, left, slot, grid_bottom - 10.0);
    // the scale: five steps from white to the strongest shade
    let y = grid_bottom - X_LABELS_H - LEGEND_ROW + 2.0;
    let zero = text::encode("0");
    show(c, Font::Regular, LABEL, left, y + 1.0, &zero, Rgb::grey(0.35));
    let x0 = left + 10.0;
    for k in 0..5 {
        fill(c, look.heat(k as f32 / 4.0), x0 + 14.0 * k as f32, y, 14.0, 8.0);
    }
    outline(c, Rgb::grey(0.8), x0, y, 70.0, 8.0, 0.4);
    let top_label = text::encode(&format!("{} {}", format::axis(max, &ch.unit), ch.unit));
    show(c, Font::Regular, LABEL, x0 + 76.0, y + 1.0, &top_label, Rgb::grey(0.35));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_step_in_round_numbers() {
        assert_eq!(ticks(0.0, 97.0), (0.0, 100.0, 25.0));
        assert_eq!(ticks(0.0, 1_234_567.0), (0.0, 1_500_000.0, 500_000.0));
        assert_eq!(ticks(0.0, 0.0), (0.0, 4.0, 1.0), "nothing: 0 to 4");
        let (lo, hi, step) = ticks(0.0, 1.0);
        assert_eq!((lo, hi), (0.0, 1.0));
        assert_eq!(tick_label(step, step, ""), "0.25");
        assert_eq!(tick_label(2.0 * step, step, "%"), "0.50%");
        assert_eq!(tick_label(1_500_000.0, 500_000.0, "RWF"), "1.5M");
        assert_eq!(ticks(-30.0, 70.0), (-50.0, 75.0, 25.0));
        assert_eq!(ticks(0.0, 8.0), (0.0, 8.0, 2.0));
    }
}
