//! Attempt limits per phone, counted from the interaction log (DESIGN.md §1: no second store).
//!
//! An attempt is a well-formed code that reached the database (a guess or a redemption); menu
//! hops and keypad slips are not. Crossing the minute, hour or day limit refuses the attempt and
//! starts a block of `blockDurationMinutes`, which further attempts inside it do not extend.

use chrono::{DateTime, Duration, Utc};
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
];

/// Why an attempt is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// This attempt crossed a limit (outcome `rate_limited`, starts the block).
    Crossed,
    /// Inside the block started by an earlier crossing (outcome `phone_blocked`).
    Blocked,
}

pub async fn check(
    conn: &mut PgConnection,
    phone: &str,
    now: DateTime<Utc>,
    s: &UssdSettings,
) -> Result<Option<Limited>, sqlx::Error> {
    let (minute, hour, day, last_crossed): (i64, i64, i64, Option<DateTime<Utc>>) = sqlx::query_as(
        r#"select count(*) filter (where created_at > $2 and outcome = any($5)),
                  count(*) filter (where created_at > $3 and outcome = any($5)),
                  count(*) filter (where outcome = any($5)),
                  max(created_at) filter (where outcome = 'rate_limited')
           from ussd_interactions
           where phone_number = $1 and created_at > $4"#,
    )
    .bind(phone)
    .bind(now - Duration::minutes(1))
    .bind(now - Duration::hours(1))
    .bind(now - Duration::days(1))
    .bind(ATTEMPTS)
    .fetch_one(conn)
    .await?;
    if let Some(t) = last_crossed {
        if t + Duration::minutes(i64::from(s.block_duration_minutes)) > now {
            return Ok(Some(Limited::Blocked));
        }
    }
    let over = minute >= i64::from(s.max_attempts_per_minute)
        || hour >= i64::from(s.max_attempts_per_hour)
        || day >= i64::from(s.max_attempts_per_day);
    Ok(over.then_some(Limited::Crossed))
}
