//! A [`Report`] as the custom report page shows it: figures and cells formatted for people
//! (thousands separators, RWF, durations, Kigali time), the chart as inline SVG geometry in the
//! panel's shared frame (`web::chart`), no script.

use super::format::thousands;
use super::model::{Block, Cell, ChartKind, Report};
use crate::clock::local_display;
use crate::web::chart::{BASE, HEIGHT, LEFT, PLOT_H, RIGHT, TOP, WIDTH};

pub struct FigureView {
    pub label: String,
    pub value: String,
}

pub struct TableView {
    pub name: String,
    pub columns: Vec<(String, bool)>,
    pub rows: Vec<Vec<(String, bool)>>,
    pub totals: Option<Vec<(String, bool)>>,
}

pub struct LineView {
    pub name: String,
    /// A stroke colour of [`PALETTE`] (a presentation attribute: no inline style).
    pub color: &'static str,
    pub points: String,
}

/// Line colours, one per series in turn.
pub const PALETTE: [&str; 6] = ["#2563EB", "#16A34A", "#DC2626", "#D97706", "#7C3AED", "#0891B2"];

pub struct BarView {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub title: String,
}

pub struct TickView {
    pub x: f64,
    pub label: String,
}

pub struct ChartView {
    pub title: String,
    pub width: i64,
    pub height: i64,
    pub left: i64,
    pub right: i64,
    pub top: i64,
    pub base: i64,
    pub mid_y: i64,
    pub y_max: String,
    pub y_mid: String,
    pub unit: String,
    pub lines: Vec<LineView>,
    pub bars: Vec<BarView>,
    pub ticks: Vec<TickView>,
}

pub struct ReportView {
    pub title: String,
    pub range: String,
    pub filters: Vec<String>,
    pub generated: String,
    pub figures: Vec<FigureView>,
    pub charts: Vec<ChartView>,
    pub tables: Vec<TableView>,
    pub notes: Vec<String>,
}

/// A cell for people (the one report formatter); the flag says it is a number (right-aligned).
pub fn cell(c: &Cell) -> (String, bool) {
    (super::format::cell(c), super::format::is_number(c))
}

fn short(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        thousands(v as i64)
    } else {
        format!("{v:.1}")
    }
}

fn tenth(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn chart(c: &super::model::Chart) -> Option<ChartView> {
    let n = c.x_labels.len();
    if n == 0 || c.series.is_empty() {
        return None;
    }
    let max = c
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let slot = (RIGHT - LEFT) as f64 / n as f64;
    let y = |v: f64| tenth(BASE as f64 - v / max * PLOT_H as f64);
    let x_mid = |i: usize| tenth(LEFT as f64 + (i as f64 + 0.5) * slot);
    let mut lines = Vec::new();
    let mut bars = Vec::new();
    match c.kind {
        ChartKind::Line => {
            for (k, s) in c.series.iter().enumerate() {
                let points = s
                    .values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| format!("{},{}", x_mid(i), y(*v)))
                    .collect::<Vec<_>>()
                    .join(" ");
                lines.push(LineView {
                    name: s.name.clone(),
                    color: PALETTE[k % PALETTE.len()],
                    points,
                });
            }
        }
        _ => {
            let w = tenth((slot * 0.7).clamp(0.5, 36.0));
            for (i, v) in c.series[0].values.iter().enumerate() {
                let top = y(*v);
                bars.push(BarView {
                    x: tenth(x_mid(i) - w / 2.0),
                    y: top,
                    w,
                    h: tenth(BASE as f64 - top),
                    title: format!("{}: {}", c.x_labels[i], short(*v)),
                });
            }
        }
    }
    let mut picks = vec![0];
    if n > 2 {
        picks.push(n / 2);
    }
    if n > 1 {
        picks.push(n - 1);
    }
    Some(ChartView {
        title: c.title.clone(),
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        right: RIGHT,
        top: TOP,
        base: BASE,
        mid_y: TOP + PLOT_H / 2,
        y_max: short(max),
        y_mid: short(max / 2.0),
        unit: c.unit.clone(),
        lines,
        bars,
        ticks: picks
            .into_iter()
            .map(|i| TickView {
                x: x_mid(i),
                label: c.x_labels[i].chars().take(16).collect(),
            })
            .collect(),
    })
}

impl ReportView {
    pub fn of(r: &Report) -> Self {
        let mut v = ReportView {
            title: r.title.clone(),
            range: if r.range.from == r.range.to {
                r.range.from.to_string()
            } else {
                format!("{} – {}", r.range.from, r.range.to)
            },
            filters: r.filters.clone(),
            generated: format!("{}, {}", r.generated_by, local_display(r.generated_at)),
            figures: Vec::new(),
            charts: Vec::new(),
            tables: Vec::new(),
            notes: Vec::new(),
        };
        for b in r.sections.iter().flat_map(|s| s.blocks.iter()) {
            match b {
                Block::Figures { figures } => v.figures.extend(figures.iter().map(|f| FigureView {
                    label: f.label.clone(),
                    value: cell(&f.value).0,
                })),
                Block::Chart(c) => v.charts.extend(chart(c)),
                Block::Table(t) => v.tables.push(TableView {
                    name: t.name.clone(),
                    columns: t.columns.iter().map(|c| (c.name.clone(), c.numeric)).collect(),
                    rows: t.rows.iter().map(|r| r.iter().map(cell).collect()).collect(),
                    totals: t.totals.as_ref().map(|r| r.iter().map(cell).collect()),
                }),
                Block::Note { text } => v.notes.push(text.clone()),
            }
        }
        v
    }
}
