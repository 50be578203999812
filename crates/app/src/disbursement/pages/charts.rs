//! The statistics page's charts, laid out here and drawn as inline SVG by the template (no
//! script, no library): payouts per day stacked by outcome, failures by reason, and the time
//! from redemption to payout. Each comes with a table of the same numbers.

use crate::disbursement::ops::stats::{Bucket, DayStats, ReasonCount};
use crate::web::chart::{scale, DayAxis, BASE, HEIGHT, LEFT, RIGHT, TOP, WIDTH};

pub use crate::web::chart::Tick;

/// One stacked segment: y and height in SVG units.
pub struct Segment {
    pub y: i64,
    pub h: i64,
}

pub struct DayBar {
    pub x: f64,
    pub w: f64,
    pub completed: Segment,
    pub failed: Segment,
    pub pending: Segment,
    pub title: String,
}

pub struct DayChart {
    pub width: i64,
    pub height: i64,
    pub left: i64,
    pub right: i64,
    pub top: i64,
    pub base: i64,
    pub y_max: i64,
    pub y_mid: i64,
    pub mid_y: i64,
    pub bars: Vec<DayBar>,
    pub ticks: Vec<Tick>,
}

/// Payouts per day, each day's bar stacked completed (bottom), failed, pending (top), in the
/// shared day frame: the same size for a week as for a year.
pub fn per_day(days: &[DayStats]) -> DayChart {
    let axis = DayAxis::new(days.len());
    let y_max = days
        .iter()
        .map(|d| d.completed + d.failed + d.pending)
        .max()
        .unwrap_or(0)
        .max(1);
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let hc = scale(d.completed, y_max);
            let hf = scale(d.failed, y_max);
            let hp = scale(d.pending, y_max);
            let label = d.day.format("%Y-%m-%d").to_string();
            DayBar {
                x: axis.bar_x(i),
                w: axis.bar_w(),
                completed: Segment { y: BASE - hc, h: hc },
                failed: Segment {
                    y: BASE - hc - hf,
                    h: hf,
                },
                pending: Segment {
                    y: BASE - hc - hf - hp,
                    h: hp,
                },
                title: format!(
                    "{label}: {} completed, {} failed, {} pending",
                    d.completed, d.failed, d.pending
                ),
            }
        })
        .collect();
    let dates: Vec<_> = days.iter().map(|d| d.day).collect();
    DayChart {
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        right: RIGHT,
        top: TOP,
        base: BASE,
        y_max,
        y_mid: y_max / 2,
        mid_y: BASE - scale(y_max / 2, y_max),
        bars,
        ticks: axis.ticks(&dates),
    }
}

/// One horizontal bar with its label and count.
pub struct HBar {
    pub label: String,
    pub count: i64,
    pub y: i64,
    pub w: i64,
}

pub struct HChart {
    pub left: i64,
    pub width: i64,
    pub height: i64,
    pub bars: Vec<HBar>,
}

/// The horizontal charts share the day charts' width: labels, bars, then the count.
const H_LEFT: i64 = 150;
const H_MAX: i64 = 200;
const H_ROW: i64 = 22;

fn hbars(items: impl Iterator<Item = (String, i64)>) -> HChart {
    let items: Vec<(String, i64)> = items.collect();
    let max = items.iter().map(|(_, c)| *c).max().unwrap_or(0).max(1);
    let bars: Vec<HBar> = items
        .into_iter()
        .enumerate()
        .map(|(i, (label, count))| HBar {
            w: if count > 0 { (count * H_MAX / max).max(1) } else { 0 },
            y: i as i64 * H_ROW,
            label,
            count,
        })
        .collect();
    HChart {
        left: H_LEFT,
        width: WIDTH,
        height: (bars.len() as i64 * H_ROW).max(H_ROW),
        bars,
    }
}

/// Failures by reason (MoMo's reason or our error code), the most frequent first.
pub fn failures(reasons: &[ReasonCount]) -> HChart {
    hbars(reasons.iter().map(|r| (r.reason.clone(), r.count)))
}

/// The time from redemption to completed payout, by bucket.
pub fn time_to_payout(buckets: &[Bucket]) -> HChart {
    hbars(buckets.iter().map(|b| (b.label.to_owned(), b.count)))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::web::chart::PLOT_H;

    #[test]
    fn day_bars_stack_and_scale_to_the_busiest_day() {
        let day = |d: u32, completed: i64, failed: i64, pending: i64| DayStats {
            day: NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or_default(),
            completed,
            failed,
            pending,
            paid_amount: 0,
        };
        let c = per_day(&[day(1, 0, 0, 0), day(2, 2, 1, 1), day(3, 1, 0, 0)]);
        assert_eq!(c.y_max, 4);
        let b = &c.bars[1];
        assert_eq!(b.completed.h, PLOT_H / 2);
        assert_eq!(b.failed.y + b.failed.h, b.completed.y, "failed sits on completed");
        assert_eq!(b.pending.y, TOP, "the busiest day reaches the top");
        assert_eq!(c.bars[0].completed.h + c.bars[0].failed.h + c.bars[0].pending.h, 0);
        assert_eq!(c.ticks.len(), 3);
    }

    #[test]
    fn horizontal_bars_scale_to_the_largest() {
        let c = failures(&[
            ReasonCount {
                reason: "NOT_ENOUGH_FUNDS".into(),
                count: 4,
            },
            ReasonCount {
                reason: "rejected".into(),
                count: 1,
            },
        ]);
        assert_eq!(c.bars[0].w, H_MAX);
        assert_eq!(c.bars[1].w, H_MAX / 4);
        assert_eq!(c.bars[1].y, H_ROW);
    }
}
