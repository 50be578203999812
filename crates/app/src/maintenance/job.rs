//! The `maintenance.run` job: the tasks of one weekly window, once (the window's opening is the
//! job's unique key and `maintenance_runs`' unique key). The run row and its audit commit first;
//! the tasks run outside any transaction (VACUUM cannot run inside one); the outcome and its
//! audit commit together; the e-mails go last, after the commit.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::notify;
use super::runs::{Outcome, RunStatus, TaskResult};
use crate::audit::{self, Action, Actor, AuditEvent};
use crate::jobs::{JobContext, JobError, JobHandler};
use crate::settings::model::Settings;
use crate::settings::SettingsStore;

pub const KIND: &str = "maintenance.run";

/// Which window the run is for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    pub window_start: DateTime<Utc>,
}

pub struct Handler {
    pub settings: Arc<SettingsStore>,
}

#[async_trait]
impl JobHandler for Handler {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let p: Payload = ctx.payload()?;
        let settings = self.settings.get();
        let s = &settings.0;
        let started = ctx.clock.now();
        let mut tx = ctx.pool.begin().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "insert into maintenance_runs (window_start, status, started_at) values ($1, $2, $3) \
             on conflict on constraint maintenance_runs_window_key do nothing returning id",
        )
        .bind(p.window_start)
        .bind(RunStatus::Running)
        .bind(started)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(Some(json!({"skipped": "this window has run already"})));
        };
        audit::record(
            &mut tx,
            &AuditEvent::new(Actor::System, Action::MaintenanceStarted, "maintenance_run", id)
                .metadata(json!({"windowStart": p.window_start})),
            started,
        )
        .await?;
        tx.commit().await?;

        let tasks = run_tasks(&ctx.pool, s, started).await;
        let status = if tasks.iter().any(|t| t.outcome == Outcome::Failed) {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        let finished = ctx.clock.now();
        let mut tx = ctx.pool.begin().await?;
        sqlx::query("update maintenance_runs set status = $2, tasks = $3, finished_at = $4 where id = $1")
            .bind(id)
            .bind(status)
            .bind(sqlx::types::Json(&tasks))
            .bind(finished)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            &AuditEvent::new(Actor::System, Action::MaintenanceFinished, "maintenance_run", id).after(json!({
                "status": status.as_str(),
                "windowStart": p.window_start,
                "tasks": &tasks,
            })),
            finished,
        )
        .await?;
        tx.commit().await?;

        let mailed = notify::after_run(s, p.window_start, status, &tasks).await;
        Ok(Some(json!({
            "runId": id,
            "status": status.as_str(),
            "tasks": tasks,
            "mailed": mailed,
        })))
    }
}

/// Each task of the settings, in turn, whatever the one before did.
pub async fn run_tasks(pool: &PgPool, s: &Settings, now: DateTime<Utc>) -> Vec<TaskResult> {
    let t = &s.backup.maintenance_tasks;
    let raw_days = s.analytics.raw_data_days;
    let mut out = Vec::new();
    out.push(
        task("cleanup_logs", t.cleanup_logs, async {
            let before = now - Duration::days(i64::from(raw_days));
            let (interactions, sessions) = crate::stats::retention::delete_raw(pool, before).await?;
            Ok(format!(
                "{interactions} interaction log rows and {sessions} ended sessions older than {raw_days} days deleted"
            ))
        })
        .await,
    );
    out.push(
        task("optimize_database", t.optimize_database, async {
            // the simple query protocol, outside any transaction (VACUUM refuses to run in one)
            sqlx::raw_sql("vacuum analyze").execute(pool).await?;
            Ok("VACUUM ANALYZE".to_owned())
        })
        .await,
    );
    out.push(
        task("update_statistics", t.update_statistics, async {
            sqlx::raw_sql("analyze").execute(pool).await?;
            Ok("ANALYZE".to_owned())
        })
        .await,
    );
    out
}

async fn task(
    name: &str,
    on: bool,
    work: impl std::future::Future<Output = Result<String, sqlx::Error>>,
) -> TaskResult {
    if !on {
        return TaskResult {
            task: name.to_owned(),
            outcome: Outcome::Skipped,
            duration_ms: 0,
            detail: "turned off in the backup settings".to_owned(),
        };
    }
    let started = Instant::now();
    let result = work.await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    match result {
        Ok(detail) => TaskResult {
            task: name.to_owned(),
            outcome: Outcome::Succeeded,
            duration_ms,
            detail,
        },
        Err(e) => {
            tracing::warn!(task = name, error = %e, "a maintenance task failed");
            TaskResult {
                task: name.to_owned(),
                outcome: Outcome::Failed,
                duration_ms,
                detail: e.to_string(),
            }
        }
    }
}
