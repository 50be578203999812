//! Cells as people read them: thousands separators, amounts in RWF, shares as percentages,
//! days and times in Kigali, durations in the largest units that matter. The one formatter of
//! report values: the page, the custom report view and the PDF all write a value this way.

use chrono::{DateTime, NaiveDate, Utc};

use crate::clock;
use crate::reports::model::{Cell, DayRange};

/// A cell for a table or a figure.
pub fn cell(c: &Cell) -> String {
    match c {
        Cell::Text(s) => s.clone(),
        Cell::Int(n) => thousands(*n),
        Cell::Money(n) => format!("{} RWF", thousands(*n)),
        Cell::Ratio(r) => percent(*r),
        Cell::Day(d) => day(*d),
        Cell::Time(t) => clock::local_display(*t),
        Cell::Millis(ms) => duration(*ms),
        Cell::Empty => String::new(),
    }
}

pub use crate::codes::pages::thousands;

/// Whether the cell is a number (right-aligned in tables).
pub fn is_number(c: &Cell) -> bool {
    !matches!(c, Cell::Text(_) | Cell::Day(_) | Cell::Time(_) | Cell::Empty)
}

/// A share from 0 to 1 as a percentage with one decimal; a share that is not a number (0 of 0)
/// as a dash.
pub fn percent(r: f64) -> String {
    if r.is_finite() {
        format!("{:.1}%", r * 100.0)
    } else {
        "\u{2013}".to_owned()
    }
}

pub fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The report's days: "2026-12-01 – 2026-12-07", or the one day.
pub fn range(r: &DayRange) -> String {
    if r.from == r.to {
        day(r.from)
    } else {
        format!("{} \u{2013} {}", day(r.from), day(r.to))
    }
}

/// When the report was generated, in Kigali.
pub fn generated(t: DateTime<Utc>) -> String {
    format!("{} (Kigali)", clock::local_display(t))
}

/// Milliseconds as a duration: "850 ms", "12.4 s", "4 min 05 s", "2 h 03 min", "3 d 4 h".
pub fn duration(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    let s = ms / 1000;
    let text = match ms {
        0..=999 => format!("{ms} ms"),
        1000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{} min {:02} s", s / 60, s % 60),
        3_600_000..=86_399_999 => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    };
    format!("{sign}{text}")
}

/// An axis value, short: "950", "12.5k", "3.2M"; with "%" when the chart counts percentages.
pub fn axis(v: f64, unit: &str) -> String {
    let a = v.abs();
    let text = if a >= 1e9 {
        format!("{}B", short(v / 1e9))
    } else if a >= 1e6 {
        format!("{}M", short(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", short(v / 1e3))
    } else if a >= 1000.0 && v.fract() == 0.0 {
        thousands(v as i64)
    } else {
        short(v)
    };
    if unit == "%" {
        format!("{text}%")
    } else {
        text
    }
}

/// At most one decimal, none when it is zero.
fn short(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn cells_read_as_people_write_them() {
        assert_eq!(cell(&Cell::Int(1_234_567)), "1,234,567");
        assert_eq!(cell(&Cell::Int(-1_000)), "-1,000");
        assert_eq!(cell(&Cell::Int(i64::MIN)), "-9,223,372,036,854,775,808");
        assert_eq!(cell(&Cell::Money(250_000)), "250,000 RWF");
        assert_eq!(cell(&Cell::Money(0)), "0 RWF");
        assert_eq!(cell(&Cell::Ratio(0.4567)), "45.7%");
        assert_eq!(cell(&Cell::Ratio(f64::NAN)), "\u{2013}");
        let d = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(cell(&Cell::Day(d)), "2026-12-07");
        // 22:30 UTC is half past midnight the next day in Kigali
        let t = Utc.with_ymd_and_hms(2026, 12, 6, 22, 30, 0).unwrap();
        assert_eq!(cell(&Cell::Time(t)), "2026-12-07 00:30");
        assert_eq!(cell(&Cell::Empty), "");
        assert_eq!(cell(&Cell::Text("Kivu".into())), "Kivu");
    }

    #[test]
    fn durations_use_the_units_that_matter() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_400), "12.4 s");
        assert_eq!(duration(245_000), "4 min 05 s");
        assert_eq!(duration(7_380_000), "2 h 03 min");
        assert_eq!(duration(273_600_000), "3 d 4 h");
        assert_eq!(duration(-1_500), "-1.5 s");
    }

    #[test]
    fn axes_are_short() {
        assert_eq!(axis(0.0, ""), "0");
        assert_eq!(axis(950.0, ""), "950");
        assert_eq!(axis(2500.0, ""), "2,500");
        assert_eq!(axis(12_500.0, ""), "12.5k");
        assert_eq!(axis(3_200_000.0, "RWF"), "3.2M");
        assert_eq!(axis(2.5, ""), "2.5");
        assert_eq!(axis(50.0, "%"), "50%");
        let r = DayRange {
            from: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
        };
        assert_eq!(range(&r), "2026-12-01 \u{2013} 2026-12-07");
    }
}
