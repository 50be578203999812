//! The geometry the panel's bar charts share (inline SVG drawn by the templates, no script): one
//! fixed viewBox per kind of chart, so a chart keeps its shape whatever the number of bars, and
//! the stylesheet scales it to the card's width up to a cap. A week and a year of days both fill
//! the same 400 × 200 frame; only the bars get thinner.

use chrono::NaiveDate;

/// The day charts' viewBox: wide enough for three date labels, short enough to sit in a card.
pub const WIDTH: i64 = 400;
pub const HEIGHT: i64 = 200;
/// Room for the y-axis numbers on the left and a little air on the right.
pub const LEFT: i64 = 40;
pub const RIGHT: i64 = WIDTH - 10;
pub const TOP: i64 = 12;
/// The plot's height; the x-axis labels and the axis title sit below it.
pub const PLOT_H: i64 = 148;
pub const BASE: i64 = TOP + PLOT_H;
/// The widest a bar gets (a period of one or two days).
const MAX_BAR: f64 = 36.0;

/// A label under the x axis.
pub struct Tick {
    pub x: f64,
    pub label: String,
}

/// Where each of `n` days sits on the x axis: equal slots across the plot.
pub struct DayAxis {
    n: usize,
    slot: f64,
}

/// One decimal is plenty for SVG units and keeps the markup short.
fn tenth(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

impl DayAxis {
    pub fn new(n: usize) -> Self {
        Self {
            n,
            slot: (RIGHT - LEFT) as f64 / n.max(1) as f64,
        }
    }

    /// The width of a bar: most of its slot, never under a hairline, never a wall.
    pub fn bar_w(&self) -> f64 {
        tenth((self.slot * 0.7).min(MAX_BAR).max(self.slot.min(0.5)))
    }

    /// The left edge of day `i`'s bar.
    pub fn bar_x(&self, i: usize) -> f64 {
        tenth(LEFT as f64 + i as f64 * self.slot + (self.slot - self.bar_w()) / 2.0)
    }

    /// The first, middle and last days, labelled under the axis.
    pub fn ticks(&self, days: &[NaiveDate]) -> Vec<Tick> {
        let mut picks = vec![0usize];
        if self.n > 2 {
            picks.push(self.n / 2);
        }
        if self.n > 1 {
            picks.push(self.n - 1);
        }
        picks
            .into_iter()
            .filter_map(|i| days.get(i).map(|d| (i, d)))
            .map(|(i, d)| Tick {
                x: tenth(LEFT as f64 + (i as f64 + 0.5) * self.slot),
                label: d.format("%d %b").to_string(),
            })
            .collect()
    }
}

/// `value` of `y_max` as a height in the plot.
pub fn scale(value: i64, y_max: i64) -> i64 {
    value * PLOT_H / y_max.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_number_of_days_fills_the_same_frame() {
        for n in [1usize, 7, 30, 365, 1000] {
            let axis = DayAxis::new(n);
            let last = axis.bar_x(n - 1) + axis.bar_w();
            assert!(axis.bar_x(0) >= LEFT as f64, "{n} days");
            assert!(last <= RIGHT as f64 + 0.5, "{n} days end at {last}");
            assert!(axis.bar_w() > 0.0);
        }
        let one = DayAxis::new(1);
        assert!(one.bar_w() <= MAX_BAR, "a lone day is a bar, not a wall");
    }
}
