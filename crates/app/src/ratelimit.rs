//! Fixed-window rate limits kept in PostgreSQL (`rate_limits`), so every process shares them:
//! sign-in per client address, registration, downloads. (USSD limits come from the interaction
//! log instead; see DESIGN.md.)

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub count: i32,
    pub retry_after_secs: u64,
}

impl Decision {
    /// Within the limit: `Ok`; over it: 429 with the window's `Retry-After`.
    pub fn or_refuse(self) -> Result<(), crate::error::AppError> {
        if self.allowed {
            Ok(())
        } else {
            Err(crate::error::AppError::RateLimited {
                retry_after_secs: self.retry_after_secs,
            })
        }
    }
}

/// Counts one hit on `key` in the current window of `window_secs` and says whether it is within
/// `max`.
pub async fn hit(
    conn: &mut PgConnection,
    key: &str,
    window_secs: i32,
    max: i32,
    now: DateTime<Utc>,
) -> Result<Decision, sqlx::Error> {
    let window = i64::from(window_secs.max(1));
    let start_ts = now.timestamp() - now.timestamp().rem_euclid(window);
    let start = DateTime::from_timestamp(start_ts, 0).unwrap_or(now);
    let count: i32 = sqlx::query_scalar(
        "insert into rate_limits (key, window_start, window_seconds, max_requests, count, created_at, updated_at) \
         values ($1, $2, $3, $4, 1, $5, $5) \
         on conflict (key, window_seconds, window_start) do update set count = rate_limits.count + 1, updated_at = $5 \
         returning count",
    )
    .bind(key)
    .bind(start)
    .bind(window_secs)
    .bind(max.max(1))
    .bind(now)
    .fetch_one(conn)
    .await?;
    let retry_after_secs = (start_ts + window - now.timestamp()).max(1) as u64;
    Ok(Decision {
        allowed: count <= max,
        count,
        retry_after_secs,
    })
}
