//! A PostgreSQL job queue for background work that is not a payout (payouts have their own
//! queue, the disbursements table).
//!
//! Owns `jobs` and `worker_heartbeats`. A job is a row: enqueued with the caller's connection (so
//! it commits with the change that caused it), claimed with `FOR UPDATE SKIP LOCKED` and a lease,
//! then run outside any transaction. The runner extends the lease while the job runs; a dead
//! worker's lease expires and the job is queued again. Failures retry with exponential backoff
//! until `max_attempts`, then the row stays `dead` for inspection and [`retry`]. `NOTIFY
//! jobs_ready` wakes idle workers; `NOTIFY job_progress` lets pages follow a job's progress.

pub mod housekeeping;
mod runner;
mod status;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub use runner::{hostname as runner_hostname, Registry, Worker, WorkerOptions};
pub use status::JobStatus;

use crate::audit::{self, Action};
use crate::clock::SharedClock;
use crate::error::AppError;
use crate::unit::Acting;

pub const READY_CHANNEL: &str = "jobs_ready";
pub const PROGRESS_CHANNEL: &str = "job_progress";

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: &'static str,
    pub payload: Value,
    pub run_at: Option<DateTime<Utc>>,
    pub priority: i16,
    pub max_attempts: i32,
    /// While a job with the same kind and key is queued or running, enqueueing another is a no-op.
    pub unique_key: Option<String>,
    pub created_by: Option<Uuid>,
}

impl NewJob {
    pub fn new<T: Serialize>(kind: &'static str, payload: &T) -> Result<Self, serde_json::Error> {
        Ok(Self {
            kind,
            payload: serde_json::to_value(payload)?,
            run_at: None,
            priority: 0,
            max_attempts: 5,
            unique_key: None,
            created_by: None,
        })
    }

    pub fn unique(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    pub fn max_attempts(mut self, n: i32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    pub fn priority(mut self, p: i16) -> Self {
        self.priority = p;
        self
    }

    pub fn created_by(mut self, user: Option<Uuid>) -> Self {
        self.created_by = user;
        self
    }
}

/// Enqueues on the caller's connection. Returns the job id, or `None` when a queued or running
/// job with the same unique key already exists.
pub async fn enqueue(conn: &mut PgConnection, job: &NewJob, now: DateTime<Utc>) -> Result<Option<i64>, sqlx::Error> {
    let id: Option<i64> = sqlx::query_scalar(
        "insert into jobs (kind, payload, status, priority, max_attempts, run_at, unique_key, created_by_user_id, created_at, updated_at) \
         values ($1, $2, 'queued', $3, $4, $5, $6, $7, $8, $8) \
         on conflict (kind, unique_key) where unique_key is not null and status in ('queued', 'running') do nothing \
         returning id",
    )
    .bind(job.kind)
    .bind(&job.payload)
    .bind(job.priority)
    .bind(job.max_attempts)
    .bind(job.run_at.unwrap_or(now))
    .bind(job.unique_key.as_deref())
    .bind(job.created_by)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if id.is_some() {
        sqlx::query("select pg_notify($1, $2)")
            .bind(READY_CHANNEL)
            .bind(job.kind)
            .execute(&mut *conn)
            .await?;
    }
    Ok(id)
}

/// Enqueues a job with a unique key, or answers the one of that key already queued or running.
/// The two can race (the running one finishes between the insert that met it and the look for
/// it), so it tries again until one of them holds. Returns the job's id.
pub async fn enqueue_or_join(conn: &mut PgConnection, job: &NewJob, now: DateTime<Utc>) -> Result<i64, sqlx::Error> {
    loop {
        if let Some(id) = enqueue(conn, job, now).await? {
            return Ok(id);
        }
        let active: Option<i64> = sqlx::query_scalar(
            "select id from jobs where kind = $1 and unique_key = $2 and status in ('queued', 'running') \
             order by id desc limit 1",
        )
        .bind(job.kind)
        .bind(job.unique_key.as_deref())
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(id) = active {
            return Ok(id);
        }
    }
}

/// What a page or API shows of a job.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub id: i64,
    pub kind: String,
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub progress_done: Option<i64>,
    pub progress_total: Option<i64>,
    pub progress_message: Option<String>,
    pub result: Option<Value>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl JobView {
    /// Progress as a percentage, when the job reports a total.
    pub fn percent(&self) -> Option<f64> {
        match (self.progress_done, self.progress_total) {
            (Some(d), Some(t)) if t > 0 => Some((d as f64 * 100.0 / t as f64).clamp(0.0, 100.0)),
            _ if self.status == JobStatus::Succeeded => Some(100.0),
            _ => None,
        }
    }
}

const VIEW_COLUMNS: &str = "id, kind, status, attempts, max_attempts, run_at, progress_done, progress_total, \
     progress_message, result, last_error, created_at, started_at, finished_at";

pub async fn get(conn: &mut PgConnection, id: i64) -> Result<JobView, AppError> {
    sqlx::query_as(&format!("select {VIEW_COLUMNS} from jobs where id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("job"))
}

pub async fn list_dead(conn: &mut PgConnection, limit: i64) -> Result<Vec<JobView>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {VIEW_COLUMNS} from jobs where status = 'dead' order by updated_at desc limit $1"
    ))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Puts a dead (or cancelled) job back in the queue with a fresh retry budget. Audited.
pub async fn retry(conn: &mut PgConnection, id: i64, acting: &Acting) -> Result<JobView, AppError> {
    let now = acting.now;
    let before = get(conn, id).await?;
    if !matches!(before.status, JobStatus::Dead | JobStatus::Cancelled) {
        return Err(AppError::conflict(
            "status",
            format!(
                "only dead or cancelled jobs can be retried; this one is {}",
                before.status
            ),
        ));
    }
    debug_assert!(before.status.can_move_to(JobStatus::Queued));
    sqlx::query(
        "update jobs set status = $3, attempts = 0, run_at = $2, finished_at = null, updated_at = $2 \
         where id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(JobStatus::Queued.as_str())
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        &acting
            .audit(Action::JobRetried, "job", id)
            .before(serde_json::json!({"status": before.status, "attempts": before.attempts, "lastError": before.last_error}))
            .after(serde_json::json!({"status": JobStatus::Queued, "attempts": 0})),
        now,
    )
    .await?;
    sqlx::query("select pg_notify($1, $2)")
        .bind(READY_CHANNEL)
        .bind(&before.kind)
        .execute(&mut *conn)
        .await?;
    get(conn, id).await
}

/// Counts by status, for metrics and health.
pub async fn depth(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("select status, count(*) from jobs group by status order by status")
        .fetch_all(pool)
        .await
}

/// How a job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt after the backoff.
    #[error("{0:#}")]
    Retryable(anyhow::Error),
    /// Retrying cannot help (bad payload, missing record): dead at once.
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

impl From<anyhow::Error> for JobError {
    fn from(e: anyhow::Error) -> Self {
        JobError::Retryable(e)
    }
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        JobError::Retryable(e.into())
    }
}

/// What a running job can see and do.
#[derive(Clone)]
pub struct JobContext {
    pub id: i64,
    pub attempt: i32,
    pub payload: Value,
    pub pool: PgPool,
    pub clock: SharedClock,
    worker_id: String,
    lease: Duration,
    /// Cancelled when the worker shuts down: long jobs should stop at a safe point.
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl JobContext {
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_value(self.payload.clone())
            .map_err(|e| JobError::Permanent(anyhow::anyhow!("payload does not parse: {e}")))
    }

    /// Records progress (and extends the lease). Fails if this worker no longer holds the job.
    pub async fn progress(&self, done: i64, total: i64, message: Option<&str>) -> Result<(), JobError> {
        let now = self.clock.now();
        let lease_until = now + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(60));
        let n = sqlx::query(
            "update jobs set progress_done = $3, progress_total = $4, progress_message = coalesce($5, progress_message), \
             lease_expires_at = $6, updated_at = $7 where id = $1 and locked_by = $2 and status = 'running'",
        )
        .bind(self.id)
        .bind(&self.worker_id)
        .bind(done)
        .bind(total)
        .bind(message)
        .bind(lease_until)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(JobError::Permanent(anyhow::anyhow!(
                "lease lost: another worker owns job {}",
                self.id
            )));
        }
        sqlx::query("select pg_notify($1, $2)")
            .bind(PROGRESS_CHANNEL)
            .bind(self.id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Runs one kind of job. The returned value is stored as the job's result summary.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    fn kind(&self) -> &'static str;
    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError>;
}

/// Exponential backoff before attempt `attempt + 1`: 10 s, 20 s, 40 s, … capped at one hour.
pub fn backoff(attempt: i32) -> Duration {
    let exp = attempt.clamp(1, 20) as u32 - 1;
    let secs = 10u64.saturating_mul(1u64 << exp.min(16));
    Duration::from_secs(secs.min(3600))
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(super::backoff(1).as_secs(), 10);
        assert_eq!(super::backoff(2).as_secs(), 20);
        assert_eq!(super::backoff(4).as_secs(), 80);
        assert_eq!(super::backoff(30).as_secs(), 3600);
    }
}
