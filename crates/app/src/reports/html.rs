//! A report as the page shows it: every cell formatted for people (thousands separators, RWF,
//! percentages, Kigali times) and every chart laid out as SVG shapes the template draws inline
//! (no script, no chart library). Built from the [`Report`] alone.

use super::model::{Block, Cell, Chart, ChartKind, Report};
use crate::codes::pages::thousands;

/// One formatted cell; `num` right-aligns it.
pub struct ViewCell {
    pub text: String,
    pub num: bool,
}

pub struct ViewTable {
    pub name: String,
    pub columns: Vec<(String, bool)>,
    pub rows: Vec<Vec<ViewCell>>,
    pub totals: Option<Vec<ViewCell>>,
}

pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub class: String,
    /// Opacity (the heat map's shade); 1 elsewhere.
    pub o: f64,
    pub title: String,
}

pub struct Label {
    pub x: f64,
    pub y: f64,
    pub anchor: &'static str,
    pub text: String,
}

pub struct Line {
    pub points: String,
    pub class: String,
}

pub struct ViewChart {
    pub id: String,
    pub title: String,
    pub width: i64,
    pub height: i64,
    pub rects: Vec<Rect>,
    pub lines: Vec<Line>,
    pub labels: Vec<Label>,
    /// Series names and their colour classes, for the legend.
    pub legend: Vec<(String, String)>,
}

pub enum ViewBlock {
    Figures(Vec<(String, String)>),
    Chart(ViewChart),
    Table(ViewTable),
    Note(String),
}

pub struct ViewSection {
    pub heading: String,
    pub blocks: Vec<ViewBlock>,
}

/// Formats a cell for people (the one report formatter).
pub fn show(c: &Cell) -> String {
    super::format::cell(c)
}

fn cell(c: &Cell) -> ViewCell {
    ViewCell {
        text: show(c),
        num: super::format::is_number(c),
    }
}

pub fn sections(report: &Report) -> Vec<ViewSection> {
    let mut n = 0;
    report
        .sections
        .iter()
        .map(|s| ViewSection {
            heading: s.heading.clone(),
            blocks: s
                .blocks
                .iter()
                .map(|b| match b {
                    Block::Figures { figures } => {
                        ViewBlock::Figures(figures.iter().map(|f| (f.label.clone(), show(&f.value))).collect())
                    }
                    Block::Chart(c) => {
                        n += 1;
                        ViewBlock::Chart(chart(c, &format!("chart-{n}")))
                    }
                    Block::Table(t) => ViewBlock::Table(ViewTable {
                        name: t.name.clone(),
                        columns: t.columns.iter().map(|c| (c.name.clone(), c.numeric)).collect(),
                        rows: t.rows.iter().map(|r| r.iter().map(cell).collect()).collect(),
                        totals: t.totals.as_ref().map(|r| r.iter().map(cell).collect()),
                    }),
                    Block::Note { text } => ViewBlock::Note(text.clone()),
                })
                .collect(),
        })
        .collect()
}

const W: f64 = 400.0;
const H: f64 = 200.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = W - 8.0;
const TOP: f64 = 12.0;
const BASE: f64 = 160.0;

fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn short(v: f64) -> String {
    if v >= 1_000_000.0 {
        format!("{:.1}M", v / 1_000_000.0)
    } else if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else {
        thousands(v.round() as i64)
    }
}

/// The first, middle and last x labels.
fn x_ticks(labels: &[String], slot: f64) -> Vec<Label> {
    let n = labels.len();
    let mut picks = vec![0usize];
    if n > 2 {
        picks.push(n / 2);
    }
    if n > 1 {
        picks.push(n - 1);
    }
    picks
        .into_iter()
        .filter_map(|i| labels.get(i).map(|l| (i, l)))
        .map(|(i, l)| Label {
            x: r1(LEFT + (i as f64 + 0.5) * slot),
            y: BASE + 16.0,
            anchor: "middle",
            text: l.clone(),
        })
        .collect()
}

fn chart(c: &Chart, id: &str) -> ViewChart {
    let legend = c
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), format!("series-{}", i % 6)))
        .collect();
    let mut v = ViewChart {
        id: id.to_owned(),
        title: c.title.clone(),
        width: W as i64,
        height: H as i64,
        rects: Vec::new(),
        lines: Vec::new(),
        labels: Vec::new(),
        legend,
    };
    let n = c.x_labels.len().max(1);
    if c.kind == ChartKind::Heat {
        heat(c, &mut v);
        return v;
    }
    let slot = (RIGHT - LEFT) / n as f64;
    let max = match c.kind {
        ChartKind::StackedBar => (0..n)
            .map(|i| {
                c.series
                    .iter()
                    .map(|s| s.values.get(i).copied().unwrap_or(0.0))
                    .sum::<f64>()
            })
            .fold(0.0, f64::max),
        _ => c
            .series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .fold(0.0, f64::max),
    }
    .max(1.0);
    let y = |val: f64| r1(BASE - val / max * (BASE - TOP));
    for (t, val) in [(TOP, max), ((TOP + BASE) / 2.0, max / 2.0), (BASE, 0.0)] {
        v.labels.push(Label {
            x: LEFT - 6.0,
            y: t + 4.0,
            anchor: "end",
            text: short(val),
        });
    }
    v.labels.extend(x_ticks(&c.x_labels, slot));
    let bar_w = r1((slot * 0.7).clamp(0.5, 36.0));
    match c.kind {
        ChartKind::Bar | ChartKind::StackedBar => {
            for i in 0..n {
                let mut acc = 0.0;
                let x = r1(LEFT + i as f64 * slot + (slot - bar_w) / 2.0);
                for (k, s) in c.series.iter().enumerate() {
                    let val = s.values.get(i).copied().unwrap_or(0.0);
                    if val <= 0.0 {
                        continue;
                    }
                    let (top, bottom) = (y(acc + val), y(acc));
                    if c.kind == ChartKind::StackedBar {
                        acc += val;
                    }
                    v.rects.push(Rect {
                        x,
                        y: top,
                        w: bar_w,
                        h: r1((bottom - top).max(0.5)),
                        class: format!("series-{}", k % 6),
                        o: 1.0,
                        title: format!(
                            "{} · {}: {} {}",
                            c.x_labels.get(i).cloned().unwrap_or_default(),
                            s.name,
                            short(val),
                            c.unit
                        ),
                    });
                }
            }
        }
        ChartKind::Line => {
            for (k, s) in c.series.iter().enumerate() {
                let points = s
                    .values
                    .iter()
                    .enumerate()
                    .map(|(i, val)| format!("{},{}", r1(LEFT + (i as f64 + 0.5) * slot), y(*val)))
                    .collect::<Vec<_>>()
                    .join(" ");
                v.lines.push(Line {
                    points,
                    class: format!("series-{}", k % 6),
                });
            }
        }
        ChartKind::Heat => {}
    }
    v
}

/// Rows are the series (weekdays), columns the x labels (hours); shade by value.
fn heat(c: &Chart, v: &mut ViewChart) {
    let cols = c.x_labels.len().max(1);
    let rows = c.series.len().max(1);
    let cw = (RIGHT - LEFT) / cols as f64;
    let ch = (BASE - TOP) / rows as f64;
    let max = c
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0, f64::max)
        .max(1.0);
    for (r, s) in c.series.iter().enumerate() {
        v.labels.push(Label {
            x: LEFT - 6.0,
            y: r1(TOP + (r as f64 + 0.5) * ch + 4.0),
            anchor: "end",
            text: s.name.clone(),
        });
        for (i, val) in s.values.iter().enumerate() {
            v.rects.push(Rect {
                x: r1(LEFT + i as f64 * cw),
                y: r1(TOP + r as f64 * ch),
                w: r1(cw - 1.0),
                h: r1(ch - 1.0),
                class: "heat".into(),
                o: r1(0.08 + 0.92 * val / max),
                title: format!(
                    "{} {}:00 · {} {}",
                    s.name,
                    c.x_labels.get(i).cloned().unwrap_or_default(),
                    short(*val),
                    c.unit
                ),
            });
        }
    }
    for (i, l) in c.x_labels.iter().enumerate().step_by(3) {
        v.labels.push(Label {
            x: r1(LEFT + (i as f64 + 0.5) * cw),
            y: BASE + 16.0,
            anchor: "middle",
            text: l.clone(),
        });
    }
    v.legend.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::model::Series;

    #[test]
    fn charts_stay_in_their_frame() {
        for kind in [ChartKind::Bar, ChartKind::StackedBar, ChartKind::Line, ChartKind::Heat] {
            let c = Chart {
                title: "t".into(),
                kind,
                x_labels: (0..366).map(|i| i.to_string()).collect(),
                series: (0..7)
                    .map(|k| Series {
                        name: k.to_string(),
                        values: (0..366).map(|i| (i * k) as f64).collect(),
                    })
                    .collect(),
                unit: "x".into(),
            };
            let v = chart(&c, "c");
            for r in &v.rects {
                assert!(
                    r.x >= LEFT - 0.1 && r.x + r.w <= RIGHT + 0.6,
                    "{kind:?} {} {}",
                    r.x,
                    r.w
                );
                assert!(r.y >= TOP - 0.1 && r.y + r.h <= BASE + 0.6, "{kind:?} {} {}", r.y, r.h);
            }
        }
        assert_eq!(show(&Cell::Money(1_250_000)), "1,250,000 RWF");
        assert_eq!(show(&Cell::Ratio(0.25)), "25.0%");
    }
}
