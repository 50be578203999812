//! The `stats.retention` job (hourly), under the analytics settings "Data kept":
//!
//! - `aggregatedDataDays`: rollup rows (`stats_hourly`) of hours older than that are deleted (the
//!   all-time totals stay: they hold no dates);
//! - `rawDataDays`, only when `autoCleanup` is on: the USSD interaction log and USSD sessions not
//!   seen for that long (so ended) are deleted. The attempts they counted stay in the rollups.
//!
//! Never money rows (redemptions, disbursements and their attempts, reversals) nor audit rows:
//! nothing here names those tables.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

use crate::jobs::{JobContext, JobError, JobHandler};
use crate::settings::model::AnalyticsSettings;
use crate::settings::SettingsStore;

pub const KIND: &str = "stats.retention";

/// Raw rows are deleted this many at a time, so no statement holds a long lock.
const CHUNK: i64 = 10_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub rollup_rows: u64,
    pub interactions: u64,
    pub sessions: u64,
}

/// Deletes what the analytics settings no longer keep at `now`.
pub async fn apply(pool: &PgPool, analytics: &AnalyticsSettings, now: DateTime<Utc>) -> Result<Deleted, sqlx::Error> {
    let mut out = Deleted::default();
    let aggregated_before = now - Duration::days(i64::from(analytics.aggregated_data_days));
    // folded hours only (a late delta of an old hour reaches the all-time tier first), and never
    // the all-time tier itself (hour -infinity: it holds no dates)
    out.rollup_rows = sqlx::query("delete from stats_hourly where hour < $1 and hour > '-infinity' and folded")
        .bind(aggregated_before)
        .execute(pool)
        .await?
        .rows_affected();
    if !analytics.auto_cleanup {
        return Ok(out);
    }
    let raw_before = now - Duration::days(i64::from(analytics.raw_data_days));
    (out.interactions, out.sessions) = delete_raw(pool, raw_before).await?;
    Ok(out)
}

/// Deletes the USSD interaction log rows written before `before` and the USSD sessions not seen
/// since (so ended), a chunk at a time; returns (interactions, sessions) deleted. Also the
/// maintenance window's "clean up logs" task (`crate::maintenance::job`).
pub async fn delete_raw(pool: &PgPool, before: DateTime<Utc>) -> Result<(u64, u64), sqlx::Error> {
    let interactions = chunked(
        pool,
        "delete from ussd_interactions where id in \
         (select id from ussd_interactions where created_at < $1 limit $2)",
        before,
    )
    .await?;
    let sessions = chunked(
        pool,
        "delete from ussd_sessions where session_id in \
         (select session_id from ussd_sessions where last_seen_at < $1 limit $2)",
        before,
    )
    .await?;
    Ok((interactions, sessions))
}

async fn chunked(pool: &PgPool, sql: &str, before: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let n = sqlx::query(sql)
            .bind(before)
            .bind(CHUNK)
            .execute(pool)
            .await?
            .rows_affected();
        total += n;
        if n < CHUNK as u64 {
            return Ok(total);
        }
    }
}

pub struct Retention {
    pub settings: Arc<SettingsStore>,
}

#[async_trait]
impl JobHandler for Retention {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let settings = self.settings.get();
        let deleted = apply(&ctx.pool, &settings.0.analytics, ctx.clock.now()).await?;
        Ok(Some(serde_json::to_value(deleted).map_err(anyhow::Error::from)?))
    }
}
