//! Housekeeping: an hourly job that deletes what has served its time — finished jobs after 30
//! days, expired sessions and verifications, old rate-limit windows, stale worker heartbeats.
//! Audit rows are never touched here (their retention is partition-based).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::{enqueue, JobContext, JobError, JobHandler, NewJob};
use crate::clock::SharedClock;

pub const KIND: &str = "maintenance.housekeeping";

pub struct Housekeeping;

#[async_trait]
impl JobHandler for Housekeeping {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let now = ctx.clock.now();
        let jobs = sqlx::query("delete from jobs where status in ('succeeded', 'cancelled') and finished_at < $1")
            .bind(now - chrono::Duration::days(30))
            .execute(&ctx.pool)
            .await?
            .rows_affected();
        let sessions =
            sqlx::query("delete from sessions where expires_at < $1 or revoked_at < $1 - interval '30 days'")
                .bind(now)
                .execute(&ctx.pool)
                .await?
                .rows_affected();
        let verifications = sqlx::query("delete from verifications where expires_at < $1 - interval '30 days'")
            .bind(now)
            .execute(&ctx.pool)
            .await?
            .rows_affected();
        let windows = sqlx::query("delete from rate_limits where window_start + make_interval(secs => window_seconds) < $1 - interval '1 day'")
            .bind(now)
            .execute(&ctx.pool)
            .await?
            .rows_affected();
        let heartbeats = sqlx::query("delete from worker_heartbeats where beat_at < $1 - interval '1 day'")
            .bind(now)
            .execute(&ctx.pool)
            .await?
            .rows_affected();
        Ok(Some(json!({
            "jobsDeleted": jobs,
            "sessionsDeleted": sessions,
            "verificationsDeleted": verifications,
            "rateLimitWindowsDeleted": windows,
            "heartbeatsDeleted": heartbeats,
        })))
    }
}

/// Enqueues housekeeping once per hour; the unique key makes every worker's scheduler agree.
pub async fn schedule(pool: PgPool, clock: SharedClock, shutdown: CancellationToken) {
    schedule_periodic(pool, clock, shutdown, "housekeeping", every_hour(KIND)).await
}

/// The job of an hourly upkeep scheduler ([`schedule_periodic`]): `kind` with no payload, low
/// priority, three attempts, keyed by the hour so every worker's scheduler agrees on one run.
pub fn every_hour(kind: &'static str) -> impl Fn(chrono::DateTime<chrono::Utc>) -> NewJob {
    move |now| NewJob {
        kind,
        payload: json!({}),
        run_at: None,
        priority: -10,
        max_attempts: 3,
        unique_key: Some(now.format("%Y-%m-%dT%H").to_string()),
        created_by: None,
    }
}

/// The job of a once-a-minute scheduler ([`schedule_periodic`]): `kind` with no payload, keyed by
/// the minute so every worker's scheduler agrees on one run.
pub fn every_minute(
    kind: &'static str,
    priority: i16,
    max_attempts: i32,
) -> impl Fn(chrono::DateTime<chrono::Utc>) -> NewJob {
    move |now| NewJob {
        kind,
        payload: json!({}),
        run_at: None,
        priority,
        max_attempts,
        unique_key: Some(now.format("%Y-%m-%dT%H:%M").to_string()),
        created_by: None,
    }
}

/// Checks every minute whether `job(now)` (whose unique key names its period) already exists in
/// any state and enqueues it if not, so every worker's scheduler agrees on one run per period.
pub async fn schedule_periodic<F>(
    pool: PgPool,
    clock: SharedClock,
    shutdown: CancellationToken,
    what: &'static str,
    job: F,
) where
    F: Fn(chrono::DateTime<chrono::Utc>) -> NewJob,
{
    loop {
        let now = clock.now();
        let job = job(now);
        let res = async {
            let mut conn = pool.acquire().await?;
            let exists: bool =
                sqlx::query_scalar("select exists (select 1 from jobs where kind = $1 and unique_key = $2)")
                    .bind(job.kind)
                    .bind(job.unique_key.as_deref())
                    .fetch_one(&mut *conn)
                    .await?;
            if !exists {
                enqueue(&mut conn, &job, now).await?;
            }
            Ok::<_, sqlx::Error>(())
        }
        .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "scheduling {what} failed");
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}
