//! The redemptions-per-day bar chart of the batch page, laid out here and drawn as inline SVG by
//! the template (no script, no third-party library), with a table of the same numbers.

use super::DayCount;

/// Width of one day's slot and its bar, in SVG units.
const SLOT: i64 = 20;
const BAR: i64 = 14;
const LEFT: i64 = 44;
const RIGHT: i64 = 12;
const TOP: i64 = 12;
const PLOT_H: i64 = 160;
const BOTTOM: i64 = 36;

pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
    pub label: String,
    pub count: i64,
}

pub struct Tick {
    pub x: i64,
    pub label: String,
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

pub fn layout(days: &[DayCount]) -> Chart {
    let n = days.len().max(1) as i64;
    let y_max = days.iter().map(|d| d.redemptions).max().unwrap_or(0).max(1);
    let base = TOP + PLOT_H;
    let bars: Vec<Bar> = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let h = d.redemptions * PLOT_H / y_max;
            Bar {
                x: LEFT + i as i64 * SLOT + (SLOT - BAR) / 2,
                y: base - h,
                w: BAR,
                // a day with redemptions always shows at least a sliver
                h: if d.redemptions > 0 { h.max(1) } else { 0 },
                label: d.day.format("%Y-%m-%d").to_string(),
                count: d.redemptions,
            }
        })
        .collect();
    // first, middle and last day under the axis
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
            x: LEFT + i as i64 * SLOT + SLOT / 2,
            label: d.day.format("%d %b").to_string(),
        })
        .collect();
    Chart {
        width: LEFT + n * SLOT + RIGHT,
        height: base + BOTTOM,
        left: LEFT,
        right: LEFT + n * SLOT,
        top: TOP,
        base,
        y_max,
        y_mid: y_max / 2,
        mid_y: base - (y_max / 2) * PLOT_H / y_max,
        total: days.iter().map(|d| d.redemptions).sum(),
        bars,
        ticks,
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
        assert_eq!(c.bars[2].h, PLOT_H / 4);
        assert_eq!(c.ticks.len(), 3);
        assert_eq!(c.total, 5);
    }
}
