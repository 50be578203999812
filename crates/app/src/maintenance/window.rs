//! Whether the system is in maintenance at an instant: switched on by hand
//! (`backup.maintenanceMode`), or inside the weekly window (`backup.maintenanceEnabled`, opening
//! every `maintenanceDay` at `maintenanceTime`, Africa/Kigali, for `maintenanceDurationMinutes`).
//! Pure: the settings and the instant in, the answer out.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use serde::Serialize;

use crate::settings::model::BackupSettings;

/// Why the system is in maintenance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The operator's switch (`maintenanceMode`): until switched off.
    SwitchedOn,
    /// The weekly window.
    Scheduled,
}

impl Reason {
    pub fn label(self) -> &'static str {
        match self {
            Reason::SwitchedOn => "switched on by an administrator",
            Reason::Scheduled => "the weekly maintenance window",
        }
    }
}

/// The system is in maintenance: why, and until when (`None`: until switched off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub until: Option<DateTime<Utc>>,
    pub reason: Reason,
}

/// When the window has no end to tell (switched on by hand): how long callers are asked to wait.
pub const RETRY_AFTER_BY_HAND_SECS: u64 = 300;

impl Window {
    /// The seconds a caller should wait before trying again (at least 1).
    pub fn retry_after_secs(&self, now: DateTime<Utc>) -> u64 {
        match self.until {
            Some(until) => u64::try_from((until - now).num_seconds()).unwrap_or(0).max(1),
            None => RETRY_AFTER_BY_HAND_SECS,
        }
    }

    /// "until 2026-12-13 03:00 (Kigali)" or "until switched off".
    pub fn until_text(&self) -> String {
        match self.until {
            Some(t) => format!("until {} (Kigali time)", crate::clock::local_display(t)),
            None => "until an administrator switches it off".to_owned(),
        }
    }
}

/// The system's maintenance state at `now`, if it is in maintenance.
pub fn current(b: &BackupSettings, now: DateTime<Utc>) -> Option<Window> {
    if b.maintenance_mode {
        return Some(Window {
            until: None,
            reason: Reason::SwitchedOn,
        });
    }
    scheduled(b, now).map(|(_, end)| Window {
        until: Some(end),
        reason: Reason::Scheduled,
    })
}

/// The weekly window holding `now` (`[start, end)`), when the window is enabled and open.
pub fn scheduled(b: &BackupSettings, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = last_start(b, now)?;
    let end = start + duration(b);
    (now < end).then_some((start, end))
}

/// The next time the weekly window opens after `now` (strictly), when it is enabled.
pub fn next_start(b: &BackupSettings, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    last_start(b, now).map(|s| s + Duration::days(7))
}

/// The window's length.
pub fn duration(b: &BackupSettings) -> Duration {
    Duration::minutes(i64::from(b.maintenance_duration_minutes.clamp(5, 720)))
}

/// The latest opening of the weekly window at or before `now`.
fn last_start(b: &BackupSettings, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if !b.maintenance_enabled {
        return None;
    }
    let day = weekday(&b.maintenance_day)?;
    let time = NaiveTime::parse_from_str(&b.maintenance_time, "%H:%M").ok()?;
    let kigali = crate::clock::kigali();
    let local = now.with_timezone(&kigali);
    let back = (7 + local.weekday().num_days_from_monday() - day.num_days_from_monday()) % 7;
    let date = local.date_naive() - Duration::days(i64::from(back));
    let start = kigali
        .from_local_datetime(&date.and_time(time))
        .single()?
        .with_timezone(&Utc);
    Some(if start > now { start - Duration::days(7) } else { start })
}

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s {
        "monday" => Weekday::Mon,
        "tuesday" => Weekday::Tue,
        "wednesday" => Weekday::Wed,
        "thursday" => Weekday::Thu,
        "friday" => Weekday::Fri,
        "saturday" => Weekday::Sat,
        "sunday" => Weekday::Sun,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn weekly(day: &str, time: &str, minutes: u32) -> BackupSettings {
        BackupSettings {
            maintenance_enabled: true,
            maintenance_day: day.into(),
            maintenance_time: time.into(),
            maintenance_duration_minutes: minutes,
            ..BackupSettings::default()
        }
    }

    #[test]
    fn off_by_default_and_on_when_switched_on() {
        let now = at("2026-12-13T00:30:00Z");
        assert_eq!(current(&BackupSettings::default(), now), None);
        let on = BackupSettings {
            maintenance_mode: true,
            ..BackupSettings::default()
        };
        let w = current(&on, now).unwrap();
        assert_eq!(w.reason, Reason::SwitchedOn);
        assert_eq!(w.until, None);
        assert_eq!(w.retry_after_secs(now), RETRY_AFTER_BY_HAND_SECS);
    }

    #[test]
    fn the_window_is_kigali_time() {
        // Sunday 2026-12-13 02:00 in Kigali is 00:00 UTC
        let b = weekly("sunday", "02:00", 60);
        assert_eq!(current(&b, at("2026-12-12T23:59:59Z")), None, "01:59:59 Kigali");
        let w = current(&b, at("2026-12-13T00:00:00Z")).unwrap();
        assert_eq!(w.reason, Reason::Scheduled);
        assert_eq!(w.until, Some(at("2026-12-13T01:00:00Z")));
        assert_eq!(w.retry_after_secs(at("2026-12-13T00:30:00Z")), 1800);
        assert!(current(&b, at("2026-12-13T00:59:59Z")).is_some());
        assert_eq!(current(&b, at("2026-12-13T01:00:00Z")), None, "the end is outside");
        // a week later, again; not on the Saturday or Monday between
        assert!(current(&b, at("2026-12-20T00:10:00Z")).is_some());
        assert_eq!(current(&b, at("2026-12-19T00:10:00Z")), None);
        assert_eq!(current(&b, at("2026-12-14T00:10:00Z")), None);
        // disabled: nothing
        let off = BackupSettings {
            maintenance_enabled: false,
            ..b.clone()
        };
        assert_eq!(current(&off, at("2026-12-13T00:10:00Z")), None);
    }

    #[test]
    fn a_window_runs_over_midnight_and_the_end_of_the_week() {
        // Sunday 23:30 Kigali for 90 minutes: to Monday 01:00 Kigali (Sunday 23:00 UTC)
        let b = weekly("sunday", "23:30", 90);
        let (start, end) = scheduled(&b, at("2026-12-13T22:45:00Z")).unwrap();
        assert_eq!(start, at("2026-12-13T21:30:00Z"));
        assert_eq!(end, at("2026-12-13T23:00:00Z"));
        // Monday 00:10 Kigali is Sunday 22:10 UTC: inside
        assert!(current(&b, at("2026-12-13T22:10:00Z")).is_some());
        assert_eq!(current(&b, at("2026-12-13T23:00:00Z")), None);
        assert_eq!(
            next_start(&b, at("2026-12-13T23:00:00Z")),
            Some(at("2026-12-20T21:30:00Z"))
        );
        // Monday 00:30 Kigali for an hour: the Kigali Monday is still Sunday in UTC
        let m = weekly("monday", "00:30", 60);
        assert!(current(&m, at("2026-12-13T22:45:00Z")).is_some());
        assert_eq!(
            next_start(&m, at("2026-12-13T22:00:00Z")),
            Some(at("2026-12-13T22:30:00Z"))
        );
    }
}
