//! The `monitor.check` job: once a minute (every worker's scheduler agrees on one run per
//! minute), the probes run — outside any transaction, the external ones concurrently — and then
//! one transaction stores the readings and raises or resolves the alerts.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use super::{probe, Check, CheckStatus, Reading};
use crate::access::Permission;
use crate::alerts::{self, NewAlert, Severity};
use crate::clock::SharedClock;
use crate::jobs::{JobContext, JobError, JobHandler};
use crate::settings::model::Settings;
use crate::settings::SettingsStore;

pub const KIND: &str = "monitor.check";

/// The job, under the backup settings' health limits of the moment it runs.
pub struct Handler {
    pub settings: Arc<SettingsStore>,
    /// `DATA_DIR`: the disk check measures its file system.
    pub data_dir: PathBuf,
}

#[async_trait]
impl JobHandler for Handler {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let settings = self.settings.get();
        let now = ctx.clock.now();
        let readings = read_all(&ctx.pool, &settings.0, &self.data_dir, now).await;
        let mut tx = ctx.pool.begin().await?;
        let (raised, resolved) = store(&mut tx, &readings, now).await?;
        tx.commit().await?;
        let summary: serde_json::Map<String, Value> = readings
            .iter()
            .map(|r| (r.check.as_str().to_owned(), json!(r.status.as_str())))
            .collect();
        Ok(Some(
            json!({"checks": summary, "alertsRaised": raised, "alertsResolved": resolved}),
        ))
    }
}

/// Every check's reading now; all `off` while `monitoringEnabled` is off.
pub async fn read_all(
    pool: &PgPool,
    settings: &Settings,
    data_dir: &std::path::Path,
    now: DateTime<Utc>,
) -> Vec<Reading> {
    let b = &settings.backup;
    if !b.monitoring_enabled {
        return Check::ALL
            .iter()
            .map(|c| Reading::off(*c, "monitoring is turned off (backup settings)"))
            .collect();
    }
    let (database, momo, africas_talking, response) = tokio::join!(
        probe::database(pool),
        probe::momo(settings),
        probe::africas_talking(settings),
        probe::response_time(pool, now, f64::from(b.response_time_ms)),
    );
    vec![
        database,
        momo,
        africas_talking,
        probe::disk(data_dir, f64::from(b.disk_space_percent)),
        probe::memory(f64::from(b.memory_usage_percent)),
        response,
    ]
}

/// Stores the readings (latest per check) and raises the alert of each bad one (deduplicated
/// while open) and resolves the others'. Returns (alerts raised anew, alerts resolved).
pub async fn store(
    conn: &mut PgConnection,
    readings: &[Reading],
    now: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    let (mut raised, mut resolved) = (0, 0);
    for r in readings {
        sqlx::query(
            "insert into monitor_checks (check_name, status, value, limit_value, detail, checked_at) \
             values ($1, $2, $3, $4, $5, $6) \
             on conflict (check_name) do update set status = excluded.status, value = excluded.value, \
               limit_value = excluded.limit_value, detail = excluded.detail, checked_at = excluded.checked_at",
        )
        .bind(r.check)
        .bind(r.status)
        .bind(r.value)
        .bind(r.limit)
        .bind(&r.detail)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        let kind = r.check.alert_kind();
        if r.status.is_bad() {
            if alerts::raise(&mut *conn, &alert(r), now).await? {
                raised += 1;
            }
        } else if alerts::close(&mut *conn, kind, None, now).await? {
            resolved += 1;
        }
    }
    Ok((raised, resolved))
}

fn alert(r: &Reading) -> NewAlert {
    let c = r.check;
    let title = match (r.status, r.value, r.limit) {
        (CheckStatus::Breached, Some(v), Some(l)) => {
            format!(
                "{} {v:.0} {} is above the {l:.0} {} limit",
                c.title(),
                c.unit(),
                c.unit()
            )
        }
        _ => format!("{} check failed", c.title()),
    };
    let severity = match c {
        Check::Database | Check::Disk => Severity::Critical,
        _ => Severity::Warning,
    };
    NewAlert::new(c.alert_kind(), severity, Permission::SystemAlertsView, title)
        .body(format!(
            "{} Checked once a minute; the limits are in the backup settings (Health limits).",
            r.detail
        ))
        .dedupe(c.alert_kind())
}

/// Enqueues the checks once a minute.
pub async fn schedule(pool: PgPool, clock: SharedClock, shutdown: CancellationToken) {
    crate::jobs::housekeeping::schedule_periodic(
        pool,
        clock,
        shutdown,
        "the health checks",
        crate::jobs::housekeeping::every_minute(KIND, -5, 1),
    )
    .await
}
