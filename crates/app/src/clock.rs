//! Time is passed in: every "now" in the system comes from a [`Clock`], so expiry, backoff, TOTP
//! windows and audit timestamps can be tested. `Utc::now` is banned elsewhere by clippy.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, FixedOffset, Utc};

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
