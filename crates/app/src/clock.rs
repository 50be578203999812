//! Time is passed in: every "now" in the system comes from a [`Clock`], so expiry, backoff, TOTP
//! windows and audit timestamps can be tested. `Utc::now` is banned elsewhere by clippy.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, Utc};

/// Rwanda keeps Central Africa Time, UTC+2, all year (no daylight saving since 1911's adoption
/// of the zone), so a fixed offset is exact for Africa/Kigali.
pub fn kigali() -> FixedOffset {
    FixedOffset::east_opt(2 * 3600).expect("UTC+2 is a valid offset")
}

/// A time as staff read it: Kigali local time, to the minute.
pub fn local_display(t: DateTime<Utc>) -> String {
    t.with_timezone(&kigali()).format("%Y-%m-%d %H:%M").to_string()
}

/// [`local_display`], or `none` when there is no time.
pub fn local_display_or(t: Option<DateTime<Utc>>, none: &str) -> String {
    t.map_or_else(|| none.to_owned(), local_display)
}

/// A time as a live monitor shows it: Kigali local time, to the second.
pub fn local_display_seconds(t: DateTime<Utc>) -> String {
    t.with_timezone(&kigali()).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The value of an `<input type="datetime-local">` showing `t` in Kigali (`2026-11-26T14:05`).
pub fn local_input(t: DateTime<Utc>) -> String {
    t.with_timezone(&kigali()).format("%Y-%m-%dT%H:%M").to_string()
}

/// A Kigali local time as a `datetime-local` input sends it (`2026-11-26T14:05`, seconds
/// optional, a space instead of the `T` allowed) or an RFC 3339 instant; `None` otherwise.
pub fn parse_local(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let s = s.replacen(' ', "T", 1);
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&s, f).ok())
        .and_then(|n| n.and_local_timezone(kigali()).single())
        .map(|t| t.with_timezone(&Utc))
}

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(clippy::disallowed_methods, reason = "the one place the wall clock is read")]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock tests move by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(start))
    }

    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_inputs_are_read_as_kigali_time() {
        let t = parse_local("2026-11-26T14:05").expect("a datetime-local value");
        assert_eq!(t.to_rfc3339(), "2026-11-26T12:05:00+00:00");
        assert_eq!(
            parse_local("2026-11-26 14:05:30").map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-11-26T12:05:30+00:00")
        );
        assert_eq!(parse_local("2026-11-26T12:05:00Z"), Some(t));
        assert_eq!(local_input(t), "2026-11-26T14:05");
        assert_eq!(local_display_seconds(t), "2026-11-26 14:05:00");
        for bad in ["", "yesterday", "2026-13-01T00:00", "2026-11-26"] {
            assert_eq!(parse_local(bad), None, "{bad}");
        }
    }
}
