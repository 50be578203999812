//! The `alerts.evaluate` job: once a minute (every worker's scheduler agrees on one run per
//! minute), the rules that need a window or a look at the whole system. Each reads the hourly
//! rollups (`stats_hourly` through its (fact, hour) index) or a few indexed rows, so the USSD path
//! never waits on it.
//!
//! Financial (`financial.alerts.view`): payout failure rate over the last hour above
//! `notifications.highFailureRateAlert.threshold`; today's or this month's payouts near the payment
//! settings' limits; payouts waiting for approval too long. System (`system.alerts.view`): a
//! worker's heartbeat missing and the oldest due job waiting too long (both after
//! `notifications.systemDownAlert.threshold` minutes, while `systemDownAlert.enabled`), jobs gone
//! dead and SMS failing. Then the security rules read from the audit log and the custom rules.

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration, Utc};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use crate::access::Permission;
use crate::alerts::{raise, NewAlert, Severity};
use crate::clock::SharedClock;
use crate::jobs::{JobContext, JobError, JobHandler};
use crate::settings::{Settings, SettingsStore};

pub const KIND: &str = "alerts.evaluate";

/// Finished payouts in the last hour below which the failure rate is not judged (one failure of
/// two is not a trend).
pub const MIN_FINISHED: i64 = 10;
/// Share of a payout limit (percent) at which the spend is "near" it.
pub const NEAR_LIMIT_PERCENT: i64 = 90;
/// A payout waiting for approval longer than this raises `financial.approval_waiting`.
pub const APPROVAL_WAIT: Duration = Duration::hours(1);
/// A due job waiting longer than this (plus the system-down threshold) raises `system.queue_stalled`.
pub const QUEUE_WAIT: Duration = Duration::minutes(5);
/// Workers beat every 5 s; a beat older than this (plus the system-down threshold) is missing.
pub const HEARTBEAT_STALE: Duration = Duration::seconds(30);

/// What one evaluation raised or counted, by rule (for the job's result and the tests).
#[derive(Debug, Default, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluated {
    pub raised: Vec<String>,
    pub custom_rules: usize,
}

impl Evaluated {
    async fn raise(&mut self, conn: &mut PgConnection, alert: NewAlert, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
        raise(conn, &alert, now).await?;
        self.raised.push(alert.kind.to_owned());
        Ok(())
    }
}

/// Runs every rule once at `now`. Each rule commits on its own (a failure of one is returned,
/// the alerts already raised stay).
pub async fn evaluate(pool: &PgPool, settings: &Settings, now: DateTime<Utc>) -> Result<Evaluated, sqlx::Error> {
    let mut out = Evaluated::default();
    let mut conn = pool.acquire().await?;
    financial(&mut conn, settings, now, &mut out).await?;
    system(&mut conn, settings, now, &mut out).await?;
    let from = super::cursor(&mut conn, "security.audit")
        .await?
        .unwrap_or(now - Duration::hours(1));
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let to = super::security::from_audit(&mut tx, from, now).await?;
    super::set_cursor(&mut tx, "security.audit", to).await?;
    tx.commit().await?;
    out.custom_rules = super::custom::evaluate_all(&mut conn, now, &mut out.raised).await?;
    sqlx::query("delete from fraud_code_tries where created_at < $1")
        .bind(now - Duration::days(1))
        .execute(&mut *conn)
        .await?;
    Ok(out)
}

async fn financial(
    conn: &mut PgConnection,
    settings: &Settings,
    now: DateTime<Utc>,
    out: &mut Evaluated,
) -> Result<(), sqlx::Error> {
    let rate = &settings.notifications.high_failure_rate_alert;
    if rate.enabled {
        let (failed, finished) = super::metrics::payout_outcomes(conn, now - Duration::hours(1), now).await?;
        if finished >= MIN_FINISHED && failed * 100 > rate.threshold * finished {
            let pct = failed * 100 / finished;
            let alert = NewAlert::new(
                "financial.failure_rate",
                Severity::Critical,
                Permission::FinancialAlertsView,
                format!("{pct} % of payouts failed in the last hour"),
            )
            .body(format!(
                "{failed} of {finished} finished payouts failed, above the {} % of the notification settings. \
                 Check MoMo's answers on the failed payouts.",
                rate.threshold
            ))
            .dedupe("financial.failure_rate");
            out.raise(conn, alert, now).await?;
        }
    }
    let pay = &settings.payments;
    let today = crate::stats::kigali_date(now);
    let (day_start, _) = crate::stats::kigali_day_bounds(today);
    let (month_start, _) = crate::stats::kigali_day_bounds(today.with_day(1).unwrap_or(today));
    for (limit, since, what, key) in [
        (
            pay.daily_transaction_limit,
            day_start,
            "today",
            today.format("%Y-%m-%d").to_string(),
        ),
        (
            pay.monthly_transaction_limit,
            month_start,
            "this month",
            today.format("%Y-%m").to_string(),
        ),
    ] {
        if limit <= 0 {
            continue;
        }
        let paid = super::metrics::paid_amount(conn, since, now).await?;
        if paid * 100 >= limit * NEAR_LIMIT_PERCENT {
            let alert = NewAlert::new(
                "financial.limit_near",
                Severity::Warning,
                Permission::FinancialAlertsView,
                format!("Payouts {what} are near the limit: {paid} of {limit} RWF"),
            )
            .body(format!(
                "At {NEAR_LIMIT_PERCENT} % of the payment settings' limit, payouts beyond it are held. Raise the limit \
                 if the campaign needs it."
            ))
            .dedupe(format!("financial.limit_near:{key}"));
            out.raise(conn, alert, now).await?;
        }
    }
    let (waiting, oldest): (i64, Option<DateTime<Utc>>) =
        sqlx::query_as("select count(*), min(created_at) from disbursements where status = 'awaiting_approval'")
            .fetch_one(&mut *conn)
            .await?;
    if let Some(oldest) = oldest.filter(|t| now - *t > APPROVAL_WAIT) {
        let alert = NewAlert::new(
            "financial.approval_waiting",
            Severity::Warning,
            Permission::FinancialAlertsView,
            format!(
                "{waiting} payouts wait for approval, the oldest for {}",
                human(now - oldest)
            ),
        )
        .body("Approve or reject them on the payouts page: the customers are waiting for their money.")
        .dedupe("financial.approval_waiting");
        out.raise(conn, alert, now).await?;
    }
    Ok(())
}

async fn system(
    conn: &mut PgConnection,
    settings: &Settings,
    now: DateTime<Utc>,
    out: &mut Evaluated,
) -> Result<(), sqlx::Error> {
    let down = &settings.notifications.system_down_alert;
    if down.enabled {
        let grace = Duration::minutes(down.threshold.max(0));
        let stale: Vec<(String, String, DateTime<Utc>)> = sqlx::query_as(
            "select worker_id, hostname, beat_at from worker_heartbeats where beat_at < $1 and beat_at > $2 \
             order by worker_id limit 50",
        )
        .bind(now - HEARTBEAT_STALE - grace)
        .bind(now - Duration::days(1))
        .fetch_all(&mut *conn)
        .await?;
        for (id, host, beat) in stale {
            let alert = NewAlert::new(
                "system.worker_down",
                Severity::Critical,
                Permission::SystemAlertsView,
                format!("Worker {id} on {host} stopped beating"),
            )
            .body(format!(
                "Its last heartbeat was {} ago. Jobs and payouts go on only if another worker runs.",
                human(now - beat)
            ))
            .subject("worker", &id)
            .dedupe(format!("system.worker_down:{id}"));
            out.raise(conn, alert, now).await?;
        }
        let age = super::metrics::queue_age_seconds(conn, now).await?;
        if age > (QUEUE_WAIT + grace).num_seconds() {
            let alert = NewAlert::new(
                "system.queue_stalled",
                Severity::Critical,
                Permission::SystemAlertsView,
                format!("The oldest due job has waited {}", human(Duration::seconds(age))),
            )
            .body("No worker is taking jobs fast enough: check that the workers run.")
            .dedupe("system.queue_stalled");
            out.raise(conn, alert, now).await?;
        }
    }
    let from = super::cursor(conn, "system.dead_jobs")
        .await?
        .unwrap_or(now - Duration::hours(1));
    let dead: Vec<(i64, String, Option<String>)> = sqlx::query_as(
        "select id, kind, last_error from jobs where status = 'dead' and updated_at > $1 and updated_at <= $2 \
         order by updated_at limit 100",
    )
    .bind(from)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    for (id, kind, error) in dead {
        let error = error.unwrap_or_default();
        let alert = if kind == crate::alerts::sms::KIND {
            NewAlert::new(
                "system.sms_failing",
                Severity::Warning,
                Permission::SystemAlertsView,
                "SMS are failing",
            )
            .body(format!(
                "An SMS could not be sent after every retry (job {id}): {error}"
            ))
            .dedupe("system.sms_failing")
        } else {
            NewAlert::new(
                "system.dead_jobs",
                Severity::Warning,
                Permission::SystemAlertsView,
                "Background jobs failed for good",
            )
            .body(format!(
                "The latest: {kind} (job {id}): {error}. Retry them once the cause is fixed."
            ))
            .dedupe("system.dead_jobs")
        };
        out.raise(conn, alert, now).await?;
    }
    super::set_cursor(conn, "system.dead_jobs", now).await?;
    Ok(())
}

/// `2 h 5 min`, `4 min`, `42 s`: a wait as people read it.
fn human(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        s if s >= 3600 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
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
        let settings = self.settings.get();
        let out = evaluate(&ctx.pool, &settings.0, ctx.clock.now()).await?;
        Ok(Some(json!(out)))
    }
}

/// Enqueues the evaluation once a minute; the unique key makes every worker's scheduler agree.
pub async fn schedule(pool: PgPool, clock: SharedClock, shutdown: CancellationToken) {
    crate::jobs::housekeeping::schedule_periodic(
        pool,
        clock,
        shutdown,
        "the alert rules",
        crate::jobs::housekeeping::every_minute(KIND, -3, 1),
    )
    .await
}
