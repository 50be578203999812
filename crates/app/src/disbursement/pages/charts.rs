//! The statistics page's charts, laid out here and drawn as inline SVG by the template (no
//! script, no library): payouts per day stacked by outcome, failures by reason, and the time
//! from redemption to payout. Each comes with a table of the same numbers.

use crate::disbursement::ops::stats::{Bucket, DayStats, ReasonCount};

const LEFT: i64 = 44;
const TOP: i64 = 12;
const PLOT_H: i64 = 160;
const BOTTOM: i64 = 36;

/// One stacked segment: y and height in SVG units.
pub struct Segment {
    pub y: i64,
    pub h: i64,
}

pub struct DayBar {
    pub x: i64,
    pub w: i64,
    pub completed: Segment,
    pub failed: Segment,
    pub pending: Segment,
    pub title: String,
}

pub struct Tick {
    pub x: i64,
    pub label: String,
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

/// Payouts per day, each day's bar stacked completed (bottom), failed, pending (top).
pub fn per_day(days: &[DayStats]) -> DayChart {
    let n = days.len().max(1) as i64;
    // wide slots for a week, narrow ones for a year, within 12..=40 units
    let slot = (720 / n).clamp(2, 40);
    let bar = (slot * 7 / 10).max(1);
    let y_max = days
        .iter()
        .map(|d| d.completed + d.failed + d.pending)
        .max()
        .unwrap_or(0)
        .max(1);
    let base = TOP + PLOT_H;
    let scale = |v: i64| v * PLOT_H / y_max;
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let hc = scale(d.completed);
            let hf = scale(d.failed);
            let hp = scale(d.pending);
            let label = d.day.format("%Y-%m-%d").to_string();
            DayBar {
                x: LEFT + i as i64 * slot + (slot - bar) / 2,
                w: bar,
                completed: Segment { y: base - hc, h: hc },
                failed: Segment {
                    y: base - hc - hf,
                    h: hf,
                },
                pending: Segment {
                    y: base - hc - hf - hp,
                    h: hp,
                },
                title: format!(
                    "{label}: {} completed, {} failed, {} pending",
                    d.completed, d.failed, d.pending
                ),
            }
        })
        .collect();
    let mut picks = vec![0usize];
    if days.len() > 2 {
        picks.push(days.len() / 2);
    }
    if days.len() > 1 {
        picks.push(days.len() - 1);
    }
    let ticks = picks
        .into_iter()
        .filter_map(|i| days.get(i).map(|d| (i, d)))
        .map(|(i, d)| Tick {
            x: LEFT + i as i64 * slot + slot / 2,
            label: d.day.format("%d %b").to_string(),
        })
        .collect();
    DayChart {
        width: LEFT + n * slot + 12,
        height: base + BOTTOM,
        left: LEFT,
        right: LEFT + n * slot,
        top: TOP,
        base,
        y_max,
        y_mid: y_max / 2,
        mid_y: base - (y_max / 2) * PLOT_H / y_max,
        bars,
        ticks,
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

const H_LEFT: i64 = 170;
const H_MAX: i64 = 320;
const H_ROW: i64 = 20;

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
        width: H_LEFT + H_MAX + 60,
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
