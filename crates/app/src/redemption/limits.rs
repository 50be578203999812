//! Attempt limits per phone, counted from the interaction log (DESIGN.md §1: no second store).
//!
//! An attempt is a well-formed code: one that reached the database (a guess, a typo told by its
//! check character after the lookup, or a redemption), or one with a character no code has
//! (answered without a lookup, but still typed at the code prompt; issue 17, item 14). Menu hops
//! and keypad slips (a `*`, a wrong length) are not. Crossing the minute, hour or day limit refuses the attempt and
//! starts a block of `blockDurationMinutes`, which further attempts inside it do not extend.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::settings::model::UssdSettings;

/// Interaction outcomes that count as attempts.
pub const ATTEMPTS: &[&str] = &[
    "redeemed",
    "code_valid",
    "unknown_code",
    "already_redeemed",
    "expired",
    "blocked",
    "campaign_closed",
    "customer_limit",
    "typo",
    "not_a_code",
];

/// Why an attempt is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// This attempt crossed a limit (outcome `rate_limited`, starts the block).
    Crossed,
    /// Inside the block started by an earlier crossing (outcome `phone_blocked`).
    Blocked,
}

/// The attempt limits of one phone as a query of one row and one column, `limited`: `'blocked'`,
/// `'crossed'` or null. Its parameters are `$1` to `$7`; bind them with [`bind_limits!`] first.
/// The redemption statement runs it as a `with` item, and so refuses in the same round trip.
macro_rules! limited_sql {
    () => {
        r#"select case
                    when max(created_at) filter (where outcome = 'rate_limited') + make_interval(mins => $4) > $2
                      then 'blocked'
                    when count(*) filter (where created_at > $2 - interval '1 minute' and outcome = any($3)) >= $5
                      or count(*) filter (where created_at > $2 - interval '1 hour' and outcome = any($3)) >= $6
                      or count(*) filter (where outcome = any($3)) >= $7
                      then 'crossed'
                  end as limited
           from ussd_interactions
           where phone_number = $1 and created_at > $2 - interval '1 day'"#
    };
}
pub(crate) use limited_sql;

/// Binds the parameters of [`limited_sql!`]: `$q.bind(…)` for the phone (E.164), the time and the
/// settings.
macro_rules! bind_limits {
    ($q:expr, $phone:expr, $now:expr, $s:expr) => {{
        let s: &$crate::settings::model::UssdSettings = $s;
        $q.bind($phone)
            .bind($now)
            .bind($crate::redemption::limits::ATTEMPTS)
            .bind(s.block_duration_minutes as i32)
            .bind(i64::from(s.max_attempts_per_minute))
            .bind(i64::from(s.max_attempts_per_hour))
            .bind(i64::from(s.max_attempts_per_day))
    }};
}
pub(crate) use bind_limits;

impl Limited {
    /// The value of [`limited_sql!`]'s column.
    pub(crate) fn parse(limited: Option<&str>) -> Option<Limited> {
        match limited? {
            "blocked" => Some(Limited::Blocked),
            _ => Some(Limited::Crossed),
        }
    }
}

pub async fn check(
    conn: &mut PgConnection,
    phone: &str,
    now: DateTime<Utc>,
    s: &UssdSettings,
) -> Result<Option<Limited>, sqlx::Error> {
    let limited: Option<String> = bind_limits!(sqlx::query_scalar(limited_sql!()), phone, now, s)
        .fetch_one(conn)
        .await?;
    Ok(Limited::parse(limited.as_deref()))
}
