//! Sliding-window rate limits kept in PostgreSQL (`rate_limits`), so every process shares them:
//! sign-in per client address, registration, downloads. (USSD limits come from the interaction
//! log instead; see DESIGN.md.)

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Hits counted against the limit: this window's, plus the previous window's weighted by
    /// how much of it still overlaps the last `window` seconds (rounded up).
    pub count: i32,
    /// This hit is the one that went over the limit (the first refusal of a burst).
    pub first_refusal: bool,
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

/// Counts one hit on `key` and says whether the hits of the last `window_secs` are within `max`.
///
/// Counters are kept per fixed window; the previous window counts in proportion to how much of
/// it is still within the last `window_secs` (the sliding-window counter), so a burst split
/// across a window boundary is refused like one inside a window (a fixed window would let twice
/// the limit through around the boundary).
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
    let previous = DateTime::from_timestamp(start_ts - window, 0).unwrap_or(now);
    let (count, before): (i32, i32) = sqlx::query_as(
        "with cur as ( \
           insert into rate_limits (key, window_start, window_seconds, max_requests, count, created_at, updated_at) \
           values ($1, $2, $3, $4, 1, $5, $5) \
           on conflict (key, window_seconds, window_start) do update set count = rate_limits.count + 1, updated_at = $5 \
           returning count) \
         select (select count from cur), \
                coalesce((select count from rate_limits where key = $1 and window_seconds = $3 and window_start = $6), 0)",
    )
    .bind(key)
    .bind(start)
    .bind(window_secs)
    .bind(max.max(1))
    .bind(now)
    .bind(previous)
    .fetch_one(conn)
    .await?;
    let elapsed_ms = (now - start).num_milliseconds().clamp(0, window * 1000);
    let overlap = 1.0 - elapsed_ms as f64 / (window * 1000) as f64;
    let weighted = |c: i32| f64::from(c) + f64::from(before) * overlap;
    let allowed = weighted(count) <= f64::from(max);
    let retry_after_secs = (start_ts + window - now.timestamp()).max(1) as u64;
    Ok(Decision {
        allowed,
        count: weighted(count).ceil() as i32,
        first_refusal: !allowed && weighted(count - 1) <= f64::from(max),
        retry_after_secs,
    })
}

/// Counts one event on `key` in the fixed window of `window_secs` that holds `now`, and returns
/// this window's count (this event included) and the previous window's. For throttling what is
/// *recorded* about something (the first refusal of a minute, say), not for refusing it.
pub async fn count_fixed(
    conn: &mut PgConnection,
    key: &str,
    window_secs: i32,
    now: DateTime<Utc>,
) -> Result<(i32, i32), sqlx::Error> {
    let window = i64::from(window_secs.max(1));
    let start_ts = now.timestamp() - now.timestamp().rem_euclid(window);
    let start = DateTime::from_timestamp(start_ts, 0).unwrap_or(now);
    let previous = DateTime::from_timestamp(start_ts - window, 0).unwrap_or(now);
    sqlx::query_as(
        "with cur as ( \
           insert into rate_limits (key, window_start, window_seconds, max_requests, count, created_at, updated_at) \
           values ($1, $2, $3, 1, 1, $4, $4) \
           on conflict (key, window_seconds, window_start) do update set count = rate_limits.count + 1, updated_at = $4 \
           returning count) \
         select (select count from cur), \
                coalesce((select count from rate_limits where key = $1 and window_seconds = $3 and window_start = $5), 0)",
    )
    .bind(key)
    .bind(start)
    .bind(window_secs)
    .bind(now)
    .bind(previous)
    .fetch_one(conn)
    .await
}
