//! The backup jobs: `backup.create` (make a backup, then verify it in the same job, with
//! progress) and `backup.schedule` (once a minute: is a backup due per `databaseBackupFrequency`?
//! then retention: backups older than `databaseBackupRetentionDays` lose their stored file and
//! become `expired`, never the newest verified one).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::create::{self, Request};
use super::{verify, SharedEnv, Storage, StorageKind};
use crate::audit::{self, Action, Actor, AuditEvent};
use crate::clock::SharedClock;
use crate::jobs::{self, JobContext, JobError, JobHandler, NewJob};
use crate::settings::SettingsStore;

pub const CREATE: &str = "backup.create";
pub const SCHEDULE: &str = "backup.schedule";
/// One backup job at a time, whoever asked.
const UNIQUE: &str = "backup";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    pub requested_by: Option<Uuid>,
}

/// Queues a backup (answering the one already queued or running, if any). Returns the job id.
pub async fn enqueue(
    conn: &mut PgConnection,
    requested_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let job = NewJob::new(CREATE, &Payload { requested_by })
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))?
        .unique(UNIQUE)
        .max_attempts(1)
        .created_by(requested_by);
    jobs::enqueue_or_join(conn, &job, now).await
}

/// Makes and verifies one backup.
pub struct Create {
    pub env: SharedEnv,
    pub settings: Arc<SettingsStore>,
}

#[async_trait]
impl JobHandler for Create {
    fn kind(&self) -> &'static str {
        CREATE
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let payload: Payload = ctx.payload()?;
        let settings = self.settings.get().0.backup.clone();
        let written = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&written);
        let req = Request {
            requested_by: payload.requested_by,
            job_id: Some(ctx.id),
        };
        ctx.progress(0, 2, Some("dumping the database")).await?;
        let made = beating(
            &ctx,
            0,
            || format!("dumping: {} MB written", written.load(Ordering::Relaxed) / 1_000_000),
            create::create(&self.env, &settings, req, &ctx.clock, &move |n| {
                seen.store(n, Ordering::Relaxed)
            }),
        )
        .await?
        .map_err(|e| JobError::Permanent(e.context("the backup failed (recorded, alert raised)")))?;
        ctx.progress(1, 2, Some("verifying: restoring into a scratch database"))
            .await?;
        let outcome = beating(
            &ctx,
            1,
            || "verifying: restoring into a scratch database".to_owned(),
            verify::verify(&self.env, &settings, made.id, &ctx.clock),
        )
        .await?
        .map_err(JobError::Retryable)?;
        ctx.progress(
            2,
            2,
            Some(if outcome.passed {
                "verified"
            } else {
                "verification failed"
            }),
        )
        .await?;
        Ok(Some(json!({
            "backupId": made.id, "sizeBytes": made.size, "sha256": made.sha256,
            "verified": outcome.passed,
        })))
    }
}

/// Runs `work` while renewing the job's lease every 5 s with a progress message.
async fn beating<T>(
    ctx: &JobContext,
    step: i64,
    message: impl Fn() -> String,
    work: impl std::future::Future<Output = T>,
) -> Result<T, JobError> {
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    loop {
        tokio::select! {
            out = &mut work => return Ok(out),
            _ = tick.tick() => ctx.progress(step, 2, Some(&message())).await?,
        }
    }
}

/// Once a minute: a backup when one is due, then retention.
pub struct Schedule {
    pub env: SharedEnv,
    pub settings: Arc<SettingsStore>,
}

#[async_trait]
impl JobHandler for Schedule {
    fn kind(&self) -> &'static str {
        SCHEDULE
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let settings = self.settings.get().0.backup.clone();
        let now = ctx.clock.now();
        let abandoned = fail_abandoned(&ctx.pool, now).await?;
        if !settings.database_backup_enabled {
            return Ok(Some(json!({"enabled": false, "abandoned": abandoned})));
        }
        let mut conn = ctx.pool.acquire().await?;
        let last: Option<DateTime<Utc>> =
            sqlx::query_scalar("select max(started_at) from backups where status in ('running', 'succeeded')")
                .fetch_one(&mut *conn)
                .await?;
        let queued = if create::is_due(last, &settings.database_backup_frequency, now) {
            Some(enqueue(&mut conn, None, now).await?)
        } else {
            None
        };
        drop(conn);
        let expired = expire(&ctx.pool, &self.env, &settings, now).await?;
        Ok(Some(
            json!({"queued": queued, "expired": expired, "abandoned": abandoned}),
        ))
    }
}

/// Backups left `running` by a job that is no longer queued or running (a worker killed
/// mid-dump), or by a command-line run older than a day, become `failed` with the alert, so a
/// dead backup never holds the schedule back.
pub async fn fail_abandoned(pool: &sqlx::PgPool, now: DateTime<Utc>) -> Result<i64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "update backups b set status = 'failed', finished_at = $1, \
           error = 'the backup stopped before it finished (its worker ended)' \
         where b.status = 'running' and ( \
           (b.job_id is not null and not exists \
              (select 1 from jobs j where j.id = b.job_id and j.status in ('queued', 'running'))) \
           or (b.job_id is null and b.started_at < $1 - interval '1 day')) \
         returning b.id",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    for id in &ids {
        super::raise_failure(&mut tx, *id, "creation", "the backup stopped before it finished", now).await?;
    }
    tx.commit().await?;
    Ok(ids.len() as i64)
}

/// Deletes the stored files of backups older than the retention days and marks them `expired`
/// (audited), keeping the newest verified backup whatever its age.
pub async fn expire(
    pool: &sqlx::PgPool,
    env: &super::Env,
    settings: &crate::settings::model::BackupSettings,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    let cutoff = now - chrono::Duration::days(i64::from(settings.database_backup_retention_days));
    let old: Vec<(Uuid, StorageKind, String)> = sqlx::query_as(
        "select id, storage, object_key from backups where status in ('succeeded', 'failed') and started_at < $1 \
         and id is distinct from (select id from backups where verify_status = 'passed' and status = 'succeeded' \
                                  order by started_at desc limit 1) \
         order by started_at",
    )
    .bind(cutoff)
    .fetch_all(pool)
    .await?;
    let mut n = 0;
    for (id, kind, key) in old {
        Storage::open(kind, settings, &env.data_dir)?.delete(&key).await?;
        let mut tx = pool.begin().await?;
        let changed = sqlx::query(
            "update backups set status = 'expired', expired_at = $2 where id = $1 and status in ('succeeded', 'failed')",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 1 {
            audit::record(
                &mut tx,
                &AuditEvent::new(Actor::System, Action::BackupExpired, "backup", id).metadata(json!({
                    "objectKey": key, "retentionDays": settings.database_backup_retention_days,
                })),
                now,
            )
            .await?;
            n += 1;
        }
        tx.commit().await?;
    }
    Ok(n)
}

/// Enqueues the schedule check once a minute.
pub async fn schedule(pool: sqlx::PgPool, clock: SharedClock, shutdown: CancellationToken) {
    crate::jobs::housekeeping::schedule_periodic(
        pool,
        clock,
        shutdown,
        "the backup schedule",
        crate::jobs::housekeeping::every_minute(SCHEDULE, -5, 1),
    )
    .await
}
