//! The one place the MoMo simulator reads the wall clock: transfer dates, as MoMo stamps them.

use chrono::{DateTime, Utc};

/// Now, in UTC.
#[expect(
    clippy::disallowed_methods,
    reason = "a payment provider stamps its own ledger with wall-clock time"
)]
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now()
}
