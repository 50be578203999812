//! Charts drawn as shapes on the server: the page renders them as inline SVG and the page's
//! script redraws them from the same shapes in the API's answer, so neither draws on its own and
//! the two can never disagree. Line, bar (`analytics.dashboard.*Chart`) and pie.

use serde::Serialize;
use utoipa::ToSchema;

use super::{ChartKind, Point};

/// The viewBox every dashboard chart shares (the stylesheet scales it to the card).
pub const WIDTH: f64 = 400.0;
pub const HEIGHT: f64 = 200.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = WIDTH - 8.0;
const TOP: f64 = 12.0;
const BASE: f64 = 160.0;

/// One element of a chart's SVG. `title` is the tooltip (label and value); `href` opens the list
/// the point counts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = DashboardShape)]
#[serde(rename_all = "camelCase", tag = "shape")]
pub enum Shape {
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        class: String,
        title: String,
        href: Option<String>,
    },
    /// A circle: a line chart's point.
    Dot {
        cx: f64,
        cy: f64,
        class: &'static str,
        title: String,
        href: Option<String>,
    },
    /// A polyline through `points` (`"x,y x,y …"`).
    Path { points: String, class: &'static str },
    /// A pie slice (`d` is an SVG path).
    Slice {
        d: String,
        class: String,
        title: String,
        href: Option<String>,
    },
    Line {
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        class: &'static str,
    },
    Text {
        x: f64,
        y: f64,
        text: String,
        anchor: &'static str,
        class: &'static str,
    },
}

/// A chart ready to draw: its viewBox and shapes.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = DashboardDrawing)]
#[serde(rename_all = "camelCase")]
pub struct Drawing {
    pub width: f64,
    pub height: f64,
    pub shapes: Vec<Shape>,
}

fn tenth(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A round top for the y axis: 1, 2 or 5 times a power of ten, at least `max`.
fn nice_max(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|v| *v >= max)
        .unwrap_or(max)
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Draws `points` as `kind`.
pub fn draw(kind: ChartKind, points: &[Point]) -> Drawing {
    let shapes = match kind {
        ChartKind::Pie => pie(points),
        ChartKind::Bar | ChartKind::Line => axes(kind, points),
    };
    Drawing {
        width: WIDTH,
        height: HEIGHT,
        shapes,
    }
}

fn axes(kind: ChartKind, points: &[Point]) -> Vec<Shape> {
    let max = nice_max(points.iter().map(|p| p.value).fold(0.0, f64::max));
    let y = |v: f64| tenth(BASE - v / max * (BASE - TOP));
    let mut s = vec![
        Shape::Line {
            x1: LEFT,
            y1: TOP,
            x2: RIGHT,
            y2: TOP,
            class: "grid",
        },
        Shape::Line {
            x1: LEFT,
            y1: y(max / 2.0),
            x2: RIGHT,
            y2: y(max / 2.0),
            class: "grid",
        },
    ];
    for v in [max, max / 2.0, 0.0] {
        s.push(Shape::Text {
            x: LEFT - 5.0,
            y: y(v) + 4.0,
            text: number(v),
            anchor: "end",
            class: "tick",
        });
    }
    let n = points.len().max(1);
    let slot = (RIGHT - LEFT) / n as f64;
    let mid = |i: usize| tenth(LEFT + (i as f64 + 0.5) * slot);
    match kind {
        ChartKind::Line => {
            let line: Vec<String> = points
                .iter()
                .enumerate()
                .map(|(i, p)| format!("{},{}", mid(i), y(p.value)))
                .collect();
            s.push(Shape::Path {
                points: line.join(" "),
                class: "line",
            });
            for (i, p) in points.iter().enumerate() {
                s.push(Shape::Dot {
                    cx: mid(i),
                    cy: y(p.value),
                    class: "dot",
                    title: format!("{}: {}", p.label, p.shown),
                    href: p.href.clone(),
                });
            }
        }
        _ => {
            let w = tenth((slot * 0.7).clamp(0.5, 36.0));
            for (i, p) in points.iter().enumerate() {
                let top = y(p.value);
                s.push(Shape::Rect {
                    x: tenth(mid(i) - w / 2.0),
                    y: top,
                    w,
                    h: tenth(BASE - top),
                    class: "bar".into(),
                    title: format!("{}: {}", p.label, p.shown),
                    href: p.href.clone(),
                });
            }
        }
    }
    s.push(Shape::Line {
        x1: LEFT,
        y1: BASE,
        x2: RIGHT,
        y2: BASE,
        class: "axis",
    });
    // first, middle and last labels under the axis
    let mut picks = vec![0usize];
    if points.len() > 2 {
        picks.push(points.len() / 2);
    }
    if points.len() > 1 {
        picks.push(points.len() - 1);
    }
    for i in picks {
        if let Some(p) = points.get(i) {
            s.push(Shape::Text {
                x: mid(i),
                y: BASE + 16.0,
                text: p.label.clone(),
                anchor: "middle",
                class: "tick",
            });
        }
    }
    s
}

fn pie(points: &[Point]) -> Vec<Shape> {
    let total: f64 = points.iter().map(|p| p.value.max(0.0)).sum();
    let (cx, cy, r) = (100.0, 100.0, 88.0);
    let mut s = Vec::new();
    if total <= 0.0 {
        s.push(Shape::Text {
            x: cx,
            y: cy,
            text: "nothing yet".into(),
            anchor: "middle",
            class: "tick",
        });
        return s;
    }
    let at = |a: f64| (tenth(cx + r * a.sin()), tenth(cy - r * a.cos()));
    let mut angle = 0.0f64;
    for (i, p) in points.iter().enumerate() {
        let share = p.value.max(0.0) / total;
        if share <= 0.0 {
            continue;
        }
        let class = format!("slice slice-{}", i % 6);
        let title = format!("{}: {} ({:.0} %)", p.label, p.shown, share * 100.0);
        let d = if share >= 0.9999 {
            // a whole circle as two half arcs
            format!(
                "M {cx} {} A {r} {r} 0 1 1 {cx} {} A {r} {r} 0 1 1 {cx} {} Z",
                cy - r,
                cy + r,
                cy - r
            )
        } else {
            let (x1, y1) = at(angle);
            let end = angle + share * std::f64::consts::TAU;
            let (x2, y2) = at(end);
            let large = if share > 0.5 { 1 } else { 0 };
            format!("M {cx} {cy} L {x1} {y1} A {r} {r} 0 {large} 1 {x2} {y2} Z")
        };
        angle += share * std::f64::consts::TAU;
        s.push(Shape::Slice {
            d,
            class: class.clone(),
            title: title.clone(),
            href: p.href.clone(),
        });
        // the legend on the right
        let ly = 20.0 + i as f64 * 18.0;
        if ly < HEIGHT - 6.0 {
            s.push(Shape::Rect {
                x: 210.0,
                y: ly - 10.0,
                w: 10.0,
                h: 10.0,
                class,
                title: title.clone(),
                href: None,
            });
            s.push(Shape::Text {
                x: 226.0,
                y: ly,
                text: format!("{}: {}", p.label, p.shown),
                anchor: "start",
                class: "tick",
            });
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(values: &[f64]) -> Vec<Point> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Point {
                label: format!("p{i}"),
                value: *v,
                shown: number(*v),
                href: None,
            })
            .collect()
    }

    #[test]
    fn bars_stay_inside_the_frame_whatever_their_number() {
        for n in [1usize, 7, 24, 30, 500] {
            let d = draw(ChartKind::Bar, &pts(&vec![3.0; n]));
            for s in &d.shapes {
                if let Shape::Rect { x, w, y, h, .. } = s {
                    assert!(*x >= LEFT - 0.5 && x + w <= RIGHT + 0.5, "{n} bars: {x}+{w}");
                    assert!(*y >= TOP - 0.5 && y + h <= BASE + 0.5);
                }
            }
        }
    }

    #[test]
    fn a_pie_is_split_in_shares_and_a_lone_slice_is_a_circle() {
        let d = draw(ChartKind::Pie, &pts(&[1.0, 3.0]));
        let slices: Vec<&String> = d
            .shapes
            .iter()
            .filter_map(|s| match s {
                Shape::Slice { title, .. } => Some(title),
                _ => None,
            })
            .collect();
        assert_eq!(slices, ["p0: 1 (25 %)", "p1: 3 (75 %)"]);
        let one = draw(ChartKind::Pie, &pts(&[5.0]));
        assert!(one
            .shapes
            .iter()
            .any(|s| matches!(s, Shape::Slice { d, .. } if d.matches(" A ").count() == 2)));
    }

    #[test]
    fn the_y_axis_ends_on_a_round_number() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(130.0), 200.0);
        assert_eq!(nice_max(5000.0), 5000.0);
    }
}
