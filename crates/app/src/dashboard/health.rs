//! The system card: the health report (database, schema, workers' heartbeats) made worse by
//! what it cannot see (payouts paused or held, critical alerts), the oldest job waiting in the
//! queue, the MoMo circuit breaker and SMS as their alerts and settings tell, and uptime. Nothing
//! in it names a customer or an amount, so every staff member sees it.

use std::sync::OnceLock;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppError;
use crate::settings::Settings;
use crate::web::system::{health_report, system_status, HealthStatus};
use crate::web::AppState;

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Marks the moment this process began serving (the route table is built then).
pub fn mark_started() {
    STARTED.get_or_init(Instant::now);
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DashboardWorker)]
#[serde(rename_all = "camelCase")]
pub struct Worker {
    pub id: String,
    pub hostname: String,
    pub last_beat_seconds: f64,
    pub stale: bool,
    pub up_seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = DashboardBreaker)]
#[serde(rename_all = "lowercase")]
pub enum Breaker {
    /// Payouts flow.
    Closed,
    /// MoMo kept failing: the worker stopped sending (an open `momo.circuit_open` alert).
    Open,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = DashboardSms)]
#[serde(rename_all = "lowercase")]
pub enum Sms {
    /// Configured and not refused.
    Ok,
    /// Turned off in the notification settings.
    Off,
    /// No Africa's Talking API key: no payout SMS is queued.
    Unconfigured,
    /// Africa's Talking refused the key or sender ID (an open `sms.configuration` alert).
    Failing,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DashboardSystem)]
#[serde(rename_all = "camelCase")]
pub struct System {
    #[schema(value_type = String)]
    pub status: HealthStatus,
    pub reasons: Vec<String>,
    pub database_reachable: bool,
    pub database_latency_ms: f64,
    pub workers: Vec<Worker>,
    pub queued_jobs: i64,
    /// How long the oldest job that is due has waited.
    pub oldest_queued_job_seconds: Option<f64>,
    pub momo_breaker: Breaker,
    pub sms: Sms,
    /// How long this server process has been serving.
    pub uptime_seconds: f64,
    /// The public status page.
    pub href: &'static str,
}

/// Workers beat every 5 s; older than this, the worker is stale (the status page's rule).
const STALE_SECS: f64 = 30.0;

pub async fn system(state: &AppState, settings: &Settings) -> Result<System, AppError> {
    let now = state.clock.now();
    let h = health_report(state).await;
    let mut conn = state.pool.acquire().await?;
    let st = system_status(&mut conn, &h).await?;
    let beats: Vec<(String, String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "select worker_id, hostname, started_at, beat_at from worker_heartbeats \
         where beat_at > $1 - interval '1 day' order by worker_id limit 20",
    )
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let (queued, oldest): (i64, Option<DateTime<Utc>>) =
        sqlx::query_as("select count(*), min(run_at) from jobs where status = 'queued' and run_at <= $1")
            .bind(now)
            .fetch_one(&mut *conn)
            .await?;
    let (breaker, sms_refused): (bool, bool) = sqlx::query_as(
        "select coalesce(bool_or(dedupe_key = 'momo.circuit_open'), false), coalesce(bool_or(kind = 'sms.configuration'), false) \
         from alerts where status <> 'resolved' and (dedupe_key = 'momo.circuit_open' or kind = 'sms.configuration')",
    )
    .fetch_one(&mut *conn)
    .await?;
    let secs = |d: chrono::Duration| d.num_milliseconds() as f64 / 1000.0;
    Ok(System {
        status: st.status,
        reasons: st.reasons,
        database_reachable: h.database.reachable,
        database_latency_ms: (h.database.latency_ms * 10.0).round() / 10.0,
        workers: beats
            .into_iter()
            .map(|(id, hostname, started, beat)| Worker {
                id,
                hostname,
                last_beat_seconds: secs(now - beat),
                stale: secs(now - beat) > STALE_SECS,
                up_seconds: secs(now - started),
            })
            .collect(),
        queued_jobs: queued,
        oldest_queued_job_seconds: oldest.map(|t| secs(now - t).max(0.0)),
        momo_breaker: if breaker { Breaker::Open } else { Breaker::Closed },
        sms: if !settings.notifications.sms_enabled {
            Sms::Off
        } else if !settings.ussd.africas_talking_api_key.is_set() {
            Sms::Unconfigured
        } else if sms_refused {
            Sms::Failing
        } else {
            Sms::Ok
        },
        uptime_seconds: STARTED.get().map_or(0.0, |t| t.elapsed().as_secs_f64().round()),
        href: "/status",
    })
}

/// `3 d 4 h`, `2 h 5 min`, `42 s`: a duration as people read it.
pub fn human(secs: f64) -> String {
    let s = secs.max(0.0) as i64;
    match s {
        s if s >= 86_400 => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{s} s"),
    }
}
