//! The daily reconciliation (decision 0024): one scheduled run per Kigali day, due at 01:00 the
//! day after.
//!
//! - **It waits for MoMo.** While MoMo is not configured in the payment settings, no daily run
//!   is started (the payout worker's `momo.not_configured` alert says why); once it is, the
//!   next scheduler pass starts the runs that are due.
//! - **Missed days are caught up.** Each pass looks back [`CATCH_UP_DAYS`] days (never before
//!   the first payout) and enqueues every due day that has no scheduled run yet, whatever
//!   happened to its job (a worker that was down, a job that died before its run began).
//! - **A run that dies raises an alert** (`reconciliation.failed`) for the financial
//!   administrators: its job gave up, or it stopped and was found abandoned. Its day counts as
//!   done; a person starts a run over that period again.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::run::{daily_job_for, guarded, DailyJob, DAILY_KIND};
use super::service::{self, RunStatus};
use crate::access::Permission;
use crate::alerts::{self, NewAlert, Severity};
use crate::clock::{kigali, SharedClock};
use crate::jobs::{JobContext, JobError, JobHandler};
use crate::settings::SettingsStore;
use crate::unit::Acting;

/// How many days back a scheduler pass looks for days without their daily run.
pub const CATCH_UP_DAYS: u64 = 31;

/// Runs the `disbursements.reconcile_daily` job: creates the run over its Kigali day (once) and
/// does it; while MoMo is not configured it starts nothing (the scheduler enqueues the day again
/// once MoMo is).
pub struct DailyHandler {
    pub settings: Arc<SettingsStore>,
}

#[async_trait]
impl JobHandler for DailyHandler {
    fn kind(&self) -> &'static str {
        DAILY_KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let job: DailyJob = ctx.payload()?;
        if crate::disbursement::momo_client(&self.settings.get().0.payments).is_none() {
            return Ok(Some(json!({
                "day": job.day,
                "waiting": "MoMo is not configured; the day's run starts once it is",
            })));
        }
        let (from, to) = service::kigali_day(job.day);
        let now = ctx.clock.now();
        let existing: Option<(Uuid, RunStatus)> = sqlx::query_as(
            "select id, status from reconciliation_runs where trigger = 'scheduled' and period_from = $1",
        )
        .bind(from)
        .fetch_optional(&ctx.pool)
        .await?;
        let run_id = match existing {
            Some((id, RunStatus::Running)) => id,
            Some((id, status)) => return Ok(Some(json!({"runId": id, "skipped": status.as_str()}))),
            None => {
                let mut tx = ctx.pool.begin().await?;
                abandon_stale(&mut tx, now).await?;
                let created = service::insert_run(
                    &mut tx,
                    &service::NewRun {
                        from,
                        to,
                        statement_id: None,
                        query_momo: true,
                        scheduled: true,
                        job_id: Some(ctx.id),
                    },
                    &Acting::system(now),
                )
                .await;
                match created {
                    Ok(id) => {
                        tx.commit().await?;
                        id
                    }
                    Err(service::InsertRunError::Busy) => {
                        return Err(JobError::Retryable(anyhow::anyhow!(
                            "another reconciliation run is in progress; the daily run waits for it"
                        )))
                    }
                    Err(service::InsertRunError::Db(e)) => return Err(e.into()),
                }
            }
        };
        guarded(&ctx, &self.settings, run_id).await
    }
}

/// [`service::abandon_stale`], with an alert for each run it finds dead.
pub async fn abandon_stale(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let ids = service::abandon_stale(conn, now).await?;
    for id in &ids {
        alert_died(conn, *id, service::ABANDONED, now).await?;
    }
    Ok(ids.len() as u64)
}

/// Raises `reconciliation.failed` for a run that died (in the caller's transaction).
pub async fn alert_died(
    conn: &mut PgConnection,
    run_id: Uuid,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let period: Option<(DateTime<Utc>, DateTime<Utc>, String)> =
        sqlx::query_as("select period_from, period_to, trigger from reconciliation_runs where id = $1")
            .bind(run_id)
            .fetch_optional(&mut *conn)
            .await?;
    let what = match &period {
        Some((from, to, trigger)) => format!(
            "The {} reconciliation of {} – {} (Kigali)",
            if trigger == "scheduled" { "daily" } else { "requested" },
            from.with_timezone(&kigali()).format("%Y-%m-%d %H:%M"),
            to.with_timezone(&kigali()).format("%Y-%m-%d %H:%M"),
        ),
        None => "A reconciliation run".to_owned(),
    };
    alerts::raise(
        conn,
        &NewAlert::new(
            "reconciliation.failed",
            Severity::Critical,
            Permission::FinancialAlertsView,
            format!("{what} failed"),
        )
        .body(format!(
            "{error}. Start a run over the same period again once the cause is fixed."
        ))
        .subject("reconciliation_run", run_id)
        .dedupe(format!("reconciliation.failed:{run_id}")),
        now,
    )
    .await?;
    Ok(())
}

/// The Kigali days whose daily run is due at `now`: up to yesterday once it is 01:00 in Kigali,
/// else up to the day before; from [`CATCH_UP_DAYS`] back, but not before `first_payout`'s day
/// (the last due day always, so an idle service still shows its daily run).
pub fn due_days(now: DateTime<Utc>, first_payout: Option<DateTime<Utc>>) -> Vec<NaiveDate> {
    let today = now.with_timezone(&kigali()).date_naive();
    let (today_start, _) = service::kigali_day(today);
    let back = if now >= today_start + chrono::Duration::hours(1) {
        1
    } else {
        2
    };
    let Some(last) = today.checked_sub_days(chrono::Days::new(back)) else {
        return Vec::new();
    };
    let window = last
        .checked_sub_days(chrono::Days::new(CATCH_UP_DAYS - 1))
        .unwrap_or(last);
    // nothing to catch up before the first payout (none yet: the last due day only)
    let first = first_payout
        .map_or(last, |p| window.max(p.with_timezone(&kigali()).date_naive()))
        .min(last);
    first.iter_days().take_while(|d| *d <= last).collect()
}

/// One scheduler pass: fails runs whose job is gone (with the alert), then, when MoMo is
/// configured, enqueues the daily job of every due day without a scheduled run. Returns the
/// days enqueued (a day whose job is already queued or running is left to it).
pub async fn schedule_due(
    pool: &PgPool,
    settings: &SettingsStore,
    now: DateTime<Utc>,
) -> Result<Vec<NaiveDate>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    abandon_stale(&mut tx, now).await?;
    tx.commit().await?;
    if crate::disbursement::momo_client(&settings.get().0.payments).is_none() {
        return Ok(Vec::new()); // waits for the configuration
    }
    let first_payout: Option<DateTime<Utc>> = sqlx::query_scalar("select min(created_at) from disbursements")
        .fetch_one(pool)
        .await?;
    let days = due_days(now, first_payout);
    let Some(first) = days.first() else {
        return Ok(Vec::new());
    };
    let done: Vec<DateTime<Utc>> = sqlx::query_scalar(
        "select period_from from reconciliation_runs where trigger = 'scheduled' and period_from >= $1",
    )
    .bind(service::kigali_day(*first).0)
    .fetch_all(pool)
    .await?;
    let mut enqueued = Vec::new();
    let mut conn = pool.acquire().await?;
    for day in days {
        if done.contains(&service::kigali_day(day).0) {
            continue;
        }
        if crate::jobs::enqueue(&mut conn, &daily_job_for(day), now)
            .await?
            .is_some()
        {
            enqueued.push(day);
        }
    }
    Ok(enqueued)
}

/// Runs [`schedule_due`] every minute until `shutdown` (every worker's scheduler agrees through
/// the jobs' unique keys and the runs' one-per-day index).
pub async fn schedule(pool: PgPool, clock: SharedClock, settings: Arc<SettingsStore>, shutdown: CancellationToken) {
    loop {
        match schedule_due(&pool, &settings, clock.now()).await {
            Ok(days) if !days.is_empty() => tracing::info!(?days, "daily reconciliation runs scheduled"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduling the daily reconciliation failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn due_days_reach_back_to_the_first_payout_and_wait_for_one_oclock() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // 00:30 in Kigali on the 26th: the 25th is not due yet
        assert_eq!(due_days(at("2026-11-25T22:30:00Z"), None), [d("2026-11-24")]);
        // 01:30 in Kigali on the 26th
        assert_eq!(due_days(at("2026-11-25T23:30:00Z"), None), [d("2026-11-25")]);
        assert_eq!(
            due_days(at("2026-11-25T23:30:00Z"), Some(at("2026-11-22T12:00:00Z"))),
            [d("2026-11-22"), d("2026-11-23"), d("2026-11-24"), d("2026-11-25")]
        );
        let long_ago = due_days(at("2026-11-25T23:30:00Z"), Some(at("2025-01-01T00:00:00Z")));
        assert_eq!(long_ago.len() as u64, CATCH_UP_DAYS);
        assert_eq!(long_ago.last(), Some(&d("2026-11-25")));
    }
}
