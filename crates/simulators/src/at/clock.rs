//! The one place the simulator reads the wall clock: the notification's `date`, as AT stamps it.

use chrono::{DateTime, Utc};

/// Now, in UTC.
#[expect(
    clippy::disallowed_methods,
    reason = "a gateway stamps its own notifications with wall-clock time"
)]
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now()
}

/// AT's notification date format, `yyyy-MM-dd HH:mm:ss`.
pub(crate) fn at_date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}
