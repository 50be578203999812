//! The redemptions-per-day bar chart of the batch page, laid out here and drawn as inline SVG by
//! the template (no script, no third-party library), with a table of the same numbers.

use super::DayCount;
use crate::web::chart::{scale, DayAxis, BASE, HEIGHT, LEFT, RIGHT, TOP, WIDTH};

pub use crate::web::chart::Tick;

pub struct Bar {
    pub x: f64,
    pub y: i64,
    pub w: f64,
    pub h: i64,
    pub label: String,
    pub count: i64,
}

pub struct Row {
    pub day: String,
    pub count: i64,
    pub amount: i64,
}

pub struct Chart {
    pub width: i64,
    pub height: i64,
    pub left: i64,
    pub right: i64,
    pub top: i64,
    pub base: i64,
    pub y_max: i64,
    pub y_mid: i64,
    pub mid_y: i64,
    pub total: i64,
    pub bars: Vec<Bar>,
    pub ticks: Vec<Tick>,
    pub rows: Vec<Row>,
    pub first_day: String,
    pub last_day: String,
}

/// The chart of `days` in the shared day frame ([`crate::web::chart`]): the same size for one
/// day as for a year.
pub fn layout(days: &[DayCount]) -> Chart {
    let axis = DayAxis::new(days.len());
    let y_max = days.iter().map(|d| d.redemptions).max().unwrap_or(0).max(1);
    let bars: Vec<Bar> = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            // a day with redemptions always shows at least a sliver
            let h = if d.redemptions > 0 {
                scale(d.redemptions, y_max).max(1)
            } else {
                0
            };
            Bar {
                x: axis.bar_x(i),
                y: BASE - h,
                w: axis.bar_w(),
                h,
                label: d.day.format("%Y-%m-%d").to_string(),
                count: d.redemptions,
            }
        })
        .collect();
    let dates: Vec<_> = days.iter().map(|d| d.day).collect();
    Chart {
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        right: RIGHT,
        top: TOP,
        base: BASE,
        y_max,
        y_mid: y_max / 2,
        mid_y: BASE - scale(y_max / 2, y_max),
        total: days.iter().map(|d| d.redemptions).sum(),
        bars,
        ticks: axis.ticks(&dates),
        rows: days
            .iter()
            .map(|d| Row {
                day: d.day.format("%Y-%m-%d").to_string(),
                count: d.redemptions,
                amount: d.amount,
            })
            .collect(),
        first_day: days.first().map(|d| d.day.to_string()).unwrap_or_default(),
        last_day: days.last().map(|d| d.day.to_string()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::web::chart::PLOT_H;

    #[test]
    fn bars_scale_to_the_busiest_day() {
        let day = |d: u32, n: i64| DayCount {
            day: NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or_default(),
            redemptions: n,
            amount: n * 1000,
        };
        let c = layout(&[day(1, 0), day(2, 4), day(3, 1)]);
        assert_eq!(c.y_max, 4);
        assert_eq!(c.bars[0].h, 0);
        assert_eq!(c.bars[1].h, PLOT_H);
        assert_eq!(c.bars[1].y, TOP);
        assert_eq!(
            (c.width, c.height),
            (WIDTH, HEIGHT),
            "the frame does not depend on the days"
        );
        assert!(c.bars[0].x < c.bars[1].x && c.bars[1].x < c.bars[2].x);
        assert_eq!(c.bars[2].h, PLOT_H / 4);
        assert_eq!(c.ticks.len(), 3);
        assert_eq!(c.total, 5);
    }
}
