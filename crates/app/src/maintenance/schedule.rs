//! Once a minute every worker's scheduler looks at the clock: inside the weekly window it
//! enqueues the window's `maintenance.run`; within [`notify::LEAD_MINUTES`] of its opening, the
//! "before" e-mail. Each keyed by the window's opening, so every scheduler agrees on one of each
//! per window.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use super::{job, notify, window};
use crate::clock::SharedClock;
use crate::jobs::{enqueue, NewJob};
use crate::settings::model::BackupSettings;
use crate::settings::SettingsStore;

/// Enqueues what is due at `now` and not enqueued yet for its window; returns the kinds enqueued.
pub async fn due(
    conn: &mut PgConnection,
    b: &BackupSettings,
    now: DateTime<Utc>,
) -> Result<Vec<&'static str>, sqlx::Error> {
    let mut out = Vec::new();
    if let Some((start, _)) = window::scheduled(b, now) {
        let job = NewJob {
            kind: job::KIND,
            payload: json!({"windowStart": start}),
            run_at: None,
            priority: -5,
            max_attempts: 1,
            unique_key: Some(start.to_rfc3339()),
            created_by: None,
        };
        if once(conn, &job, now).await? {
            out.push(job::KIND);
        }
    }
    if let Some(next) = window::next_start(b, now) {
        if b.maintenance_notify.before && next - now <= Duration::minutes(notify::LEAD_MINUTES) {
            let job = NewJob {
                kind: notify::BEFORE_KIND,
                payload: json!({"windowStart": next}),
                run_at: None,
                priority: 0,
                max_attempts: 3,
                unique_key: Some(next.to_rfc3339()),
                created_by: None,
            };
            if once(conn, &job, now).await? {
                out.push(notify::BEFORE_KIND);
            }
        }
    }
    Ok(out)
}

/// Enqueues `job` unless one of its kind and key exists in any state.
async fn once(conn: &mut PgConnection, job: &NewJob, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("select exists (select 1 from jobs where kind = $1 and unique_key = $2)")
        .bind(job.kind)
        .bind(job.unique_key.as_deref())
        .fetch_one(&mut *conn)
        .await?;
    if exists {
        return Ok(false);
    }
    Ok(enqueue(conn, job, now).await?.is_some())
}

/// Looks once a minute until `shutdown`.
pub async fn schedule(pool: PgPool, clock: SharedClock, settings: Arc<SettingsStore>, shutdown: CancellationToken) {
    loop {
        let now = clock.now();
        let current = settings.get();
        let res = async {
            let mut conn = pool.acquire().await?;
            due(&mut conn, &current.0.backup, now).await
        }
        .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "scheduling maintenance failed");
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(StdDuration::from_secs(60)) => {}
        }
    }
}
