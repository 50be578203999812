//! The worker loop: claim, run with a lease, finish or retry, and shut down cleanly.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{backoff, JobContext, JobError, JobHandler, READY_CHANNEL};
use crate::clock::SharedClock;

/// The handlers a worker can run, by kind.
#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(mut self, handler: impl JobHandler) -> Self {
        self.handlers.insert(handler.kind(), Arc::new(handler));
        self
    }

    pub fn kinds(&self) -> Vec<String> {
        self.handlers.keys().map(|k| (*k).to_owned()).collect()
    }
}

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub worker_id: String,
    pub concurrency: usize,
    pub lease: Duration,
    pub poll_interval: Duration,
    pub shutdown_grace: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            worker_id: format!("{}-{}", hostname(), std::process::id()),
            concurrency: 4,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

struct Claimed {
    id: i64,
    kind: String,
    payload: Value,
    attempts: i32,
    max_attempts: i32,
}

pub struct Worker {
    pool: PgPool,
    registry: Registry,
    clock: SharedClock,
    opts: WorkerOptions,
}

impl Worker {
    pub fn new(pool: PgPool, registry: Registry, clock: SharedClock, opts: WorkerOptions) -> Self {
        Self {
            pool,
            registry,
            clock,
            opts,
        }
    }

    fn lease_until(&self) -> chrono::DateTime<Utc> {
        self.clock.now() + chrono::Duration::from_std(self.opts.lease).unwrap_or(chrono::Duration::seconds(60))
    }

    /// Re-queues jobs whose worker stopped renewing its lease (or marks them dead when their
    /// attempts are spent).
    pub async fn reap_expired(&self) -> Result<u64, sqlx::Error> {
        let now = self.clock.now();
        let r = sqlx::query(
            "update jobs set \
               status = case when attempts >= max_attempts then 'dead' else 'queued' end, \
               finished_at = case when attempts >= max_attempts then $1 else null end, \
               last_error = 'lease expired: the worker running it stopped (' || coalesce(locked_by, '?') || ')', \
               locked_by = null, lease_expires_at = null, run_at = $1, updated_at = $1 \
             where status = 'running' and lease_expires_at < $1",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() > 0 {
            tracing::warn!(jobs = r.rows_affected(), "re-queued jobs whose lease expired");
        }
        Ok(r.rows_affected())
    }

    async fn claim(&self) -> Result<Option<Claimed>, sqlx::Error> {
        let now = self.clock.now();
        let row: Option<(i64, String, Value, i32, i32)> = sqlx::query_as(
            "update jobs set status = 'running', attempts = attempts + 1, locked_by = $1, lease_expires_at = $2, \
               started_at = coalesce(started_at, $3), updated_at = $3 \
             where id = ( \
               select id from jobs where status = 'queued' and run_at <= $3 and kind = any($4) \
               order by priority desc, run_at, id limit 1 for update skip locked) \
             returning id, kind, payload, attempts, max_attempts",
        )
        .bind(&self.opts.worker_id)
        .bind(self.lease_until())
        .bind(now)
        .bind(self.registry.kinds())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id, kind, payload, attempts, max_attempts)| Claimed {
            id,
            kind,
            payload,
            attempts,
            max_attempts,
        }))
    }

    /// Claims and runs one due job to the end. Returns its id, or `None` when nothing is due.
    /// Tests use this (and [`Worker::drain`]) to run the worker synchronously.
    pub async fn run_once(&self) -> Result<Option<i64>, sqlx::Error> {
        let Some(job) = self.claim().await? else {
            return Ok(None);
        };
        let id = job.id;
        self.execute(job, CancellationToken::new()).await?;
        Ok(Some(id))
    }

    /// Runs due jobs until none is left.
    pub async fn drain(&self) -> Result<usize, sqlx::Error> {
        let mut n = 0;
        while self.run_once().await?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    async fn execute(&self, job: Claimed, shutdown: CancellationToken) -> Result<(), sqlx::Error> {
        let Some(handler) = self.registry.handlers.get(job.kind.as_str()).cloned() else {
            return self
                .finish_err(
                    &job,
                    &JobError::Permanent(anyhow::anyhow!("no handler for kind {}", job.kind)),
                )
                .await;
        };
        let ctx = JobContext {
            id: job.id,
            attempt: job.attempts,
            payload: job.payload.clone(),
            pool: self.pool.clone(),
            clock: self.clock.clone(),
            worker_id: self.opts.worker_id.clone(),
            lease: self.opts.lease,
            shutdown,
        };
        let span = tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempts);
        // extend the lease while the handler runs
        let keepalive = {
            let pool = self.pool.clone();
            let worker_id = self.opts.worker_id.clone();
            let clock = self.clock.clone();
            let lease = self.opts.lease;
            let id = job.id;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(lease / 3).await;
                    let until =
                        clock.now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
                    let r = sqlx::query(
                        "update jobs set lease_expires_at = $3 where id = $1 and locked_by = $2 and status = 'running'",
                    )
                    .bind(id)
                    .bind(&worker_id)
                    .bind(until)
                    .execute(&pool)
                    .await;
                    if matches!(r, Ok(ref done) if done.rows_affected() == 0) {
                        break;
                    }
                }
            })
        };
        let outcome = tracing::Instrument::instrument(handler.run(ctx), span).await;
        keepalive.abort();
        match outcome {
            Ok(result) => {
                let now = self.clock.now();
                sqlx::query(
                    "update jobs set status = 'succeeded', result = $3, finished_at = $4, updated_at = $4, \
                       locked_by = null, lease_expires_at = null, last_error = null, \
                       progress_done = coalesce(progress_total, progress_done) \
                     where id = $1 and locked_by = $2",
                )
                .bind(job.id)
                .bind(&self.opts.worker_id)
                .bind(result)
                .bind(now)
                .execute(&self.pool)
                .await?;
                tracing::info!(id = job.id, kind = %job.kind, "job succeeded");
                Ok(())
            }
            Err(e) => self.finish_err(&job, &e).await,
        }
    }

    async fn finish_err(&self, job: &Claimed, err: &JobError) -> Result<(), sqlx::Error> {
        let now = self.clock.now();
        let dead = matches!(err, JobError::Permanent(_)) || job.attempts >= job.max_attempts;
        let message = err.to_string();
        if dead {
            tracing::error!(id = job.id, kind = %job.kind, attempts = job.attempts, error = %message, "job dead");
            sqlx::query(
                "update jobs set status = 'dead', last_error = $3, finished_at = $4, updated_at = $4, \
                   locked_by = null, lease_expires_at = null where id = $1 and locked_by = $2",
            )
            .bind(job.id)
            .bind(&self.opts.worker_id)
            .bind(&message)
            .bind(now)
            .execute(&self.pool)
            .await?;
        } else {
            let delay = backoff(job.attempts);
            tracing::warn!(id = job.id, kind = %job.kind, attempts = job.attempts, retry_in_secs = delay.as_secs(), error = %message, "job failed; will retry");
            let run_at = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(10));
            sqlx::query(
                "update jobs set status = 'queued', last_error = $3, run_at = $4, updated_at = $5, \
                   locked_by = null, lease_expires_at = null where id = $1 and locked_by = $2",
            )
            .bind(job.id)
            .bind(&self.opts.worker_id)
            .bind(&message)
            .bind(run_at)
            .bind(now)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Puts back what this worker still holds (used at shutdown once the grace period is over);
    /// the interrupted attempt does not count.
    pub async fn release_held(&self) -> Result<u64, sqlx::Error> {
        let now = self.clock.now();
        let r = sqlx::query(
            "update jobs set status = 'queued', attempts = greatest(attempts - 1, 0), locked_by = null, \
               lease_expires_at = null, run_at = $2, updated_at = $2, last_error = 'interrupted by worker shutdown' \
             where locked_by = $1 and status = 'running'",
        )
        .bind(&self.opts.worker_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// Runs until `shutdown`; then stops claiming, lets running jobs finish within the grace
    /// period, and releases whatever is still held.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut listener = match PgListener::connect_with(&self.pool).await {
            Ok(mut l) => l.listen(READY_CHANNEL).await.ok().map(|_| l),
            Err(_) => None,
        };
        let permits = Arc::new(Semaphore::new(self.opts.concurrency.max(1)));
        let job_shutdown = CancellationToken::new();
        let mut running: JoinSet<()> = JoinSet::new();
        let mut last_reap = std::time::Instant::now() - Duration::from_secs(3600);
        tracing::info!(worker = %self.opts.worker_id, kinds = ?self.registry.kinds(), "job worker started");
        'outer: loop {
            if last_reap.elapsed() >= Duration::from_secs(5) {
                if let Err(e) = self.reap_expired().await {
                    tracing::warn!(error = %e, "lease reaper failed");
                }
                last_reap = std::time::Instant::now();
            }
            // claim as long as there are free slots and due jobs
            loop {
                while running.try_join_next().is_some() {}
                let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                    break;
                };
                if shutdown.is_cancelled() {
                    break 'outer;
                }
                match self.claim().await {
                    Ok(Some(job)) => {
                        let me = Arc::clone(&self);
                        let token = job_shutdown.clone();
                        running.spawn(async move {
                            if let Err(e) = me.execute(job, token).await {
                                tracing::error!(error = %e, "recording a job's outcome failed");
                            }
                            drop(permit);
                        });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming a job failed");
                        break;
                    }
                }
            }
            let notified = async {
                match listener.as_mut() {
                    Some(l) => {
                        let _ = l.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = notified => {},
                _ = tokio::time::sleep(self.opts.poll_interval) => {},
                Some(_) = running.join_next(), if !running.is_empty() => {},
            }
        }
        tracing::info!(running = running.len(), "job worker stopping; waiting for running jobs");
        let grace = tokio::time::sleep(self.opts.shutdown_grace);
        tokio::pin!(grace);
        loop {
            if running.is_empty() {
                break;
            }
            tokio::select! {
                _ = &mut grace => {
                    job_shutdown.cancel();
                    running.abort_all();
                    while running.join_next().await.is_some() {}
                    break;
                }
                _ = running.join_next() => {},
            }
        }
        match self.release_held().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(jobs = n, "released unfinished jobs back to the queue"),
            Err(e) => {
                tracing::error!(error = %e, "releasing held jobs failed; their leases will expire")
            }
        }
        tracing::info!("job worker stopped");
    }
}
