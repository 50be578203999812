//! The figures the rules read: the hourly rollups (`stats_hourly`, through its (fact, hour) index;
//! a window counts the whole hours it touches, the current one up to now) and a few indexed
//! counts. Never a scan of a base table.

use chrono::{DateTime, DurationRound, Utc};
use sqlx::PgConnection;

/// The start of the hour `t` falls in.
fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(chrono::Duration::hours(1)).unwrap_or(t)
}

/// Sum of `n` (or `amount`) of `fact` rows (of `states`, or any) in the hours from `since`'s to `now`'s.
async fn rollup(
    conn: &mut PgConnection,
    fact: &str,
    states: Option<&[&str]>,
    amount: bool,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let column = if amount { "amount" } else { "n" };
    sqlx::query_scalar(&format!(
        "select coalesce(sum({column}), 0)::bigint from stats_hourly \
         where fact = $1 and hour >= $2 and hour <= $3 and ($4::text[] is null or state = any($4))"
    ))
    .bind(fact)
    .bind(hour_of(since))
    .bind(now)
    .bind(states)
    .fetch_one(conn)
    .await
}

/// Payouts created since `since` that failed (`failed`, `payee_invalid`), and all that finished.
pub async fn payout_outcomes(
    conn: &mut PgConnection,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    let failed = rollup(conn, "payout", Some(&["failed", "payee_invalid"]), false, since, now).await?;
    let done = rollup(conn, "payout", Some(&["completed"]), false, since, now).await?;
    Ok((failed, failed + done))
}

/// RWF paid (payouts completed) since `since`.
pub async fn paid_amount(
    conn: &mut PgConnection,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    rollup(conn, "paid", None, true, since, now).await
}

/// Redemptions made since `since`.
pub async fn redemptions(
    conn: &mut PgConnection,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    rollup(conn, "redemption", None, false, since, now).await
}

/// USSD attempts with an unknown code since `since`.
pub async fn wrong_codes(
    conn: &mut PgConnection,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    rollup(conn, "attempt", Some(&["unknown_code"]), false, since, now).await
}

/// Payouts not finished yet (waiting for approval, queued, in flight, to be retried).
pub async fn payouts_pending(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from disbursements \
         where status in ('awaiting_approval', 'queued', 'processing', 'retry_scheduled')",
    )
    .fetch_one(conn)
    .await
}

/// Seconds the oldest due job has waited (0 when none waits).
pub async fn queue_age_seconds(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<i64, sqlx::Error> {
    let oldest: Option<DateTime<Utc>> =
        sqlx::query_scalar("select min(run_at) from jobs where status = 'queued' and run_at <= $1")
            .bind(now)
            .fetch_one(conn)
            .await?;
    Ok(oldest.map_or(0, |t| (now - t).num_seconds().max(0)))
}

/// Jobs that went dead since `since`.
pub async fn dead_jobs(conn: &mut PgConnection, since: DateTime<Utc>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from jobs where status = 'dead' and updated_at > $1")
        .bind(since)
        .fetch_one(conn)
        .await
}
