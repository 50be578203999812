//! System endpoints: health, metrics and the status page. Public on purpose: they show no
//! business data (metrics can be closed with METRICS_TOKEN).

use std::time::Instant;

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrecy::ExposeSecret;
use serde::Serialize;

use super::metrics::{StateLabels, JOB_STATES};
use super::routes::{Access, RouteSpec};
use super::AppState;
use crate::error::AppError;
use crate::route;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/status", Access::Public, status_page),
        route!(GET "/api/health", Access::Public, health),
        route!(GET "/api/metrics", Access::Public, metrics),
        route!(GET "/static/{file}", Access::Public, super::pages::static_file),
    ]
}

/// Workers beat every 5 s; older than this, the worker is reported stale.
const HEARTBEAT_STALE_SECS: f64 = 30.0;

/// How well the system is, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Ok,
    Degraded,
    Down,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Ok => "ok",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Down => "down",
        }
    }
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub status: HealthStatus,
    pub version: &'static str,
    pub database: DatabaseHealth,
    pub migrations: Option<crate::db::MigrationStatus>,
    pub worker: WorkerHealth,
    pub settings_version: i64,
    /// The monitor's latest readings (`crate::monitor`); a breached or failed one makes the
    /// status `degraded`.
    pub checks: Vec<crate::monitor::Stored>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseHealth {
    pub reachable: bool,
    pub latency_ms: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerHealth {
    pub workers: i64,
    pub last_heartbeat_age_seconds: Option<f64>,
    pub stale: bool,
}

pub async fn health_report(state: &AppState) -> Health {
    let started = Instant::now();
    let reachable = sqlx::query("select 1").execute(&state.pool).await.is_ok();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let migrations = if reachable {
        crate::db::migration_status(&state.pool).await.ok()
    } else {
        None
    };
    let beat: Option<(i64, Option<f64>)> = if reachable {
        sqlx::query_as(
            "select count(*), extract(epoch from ($1 - max(beat_at)))::float8 from worker_heartbeats \
             where beat_at > $1 - interval '1 day'",
        )
        .bind(state.clock.now())
        .fetch_one(&state.pool)
        .await
        .ok()
    } else {
        None
    };
    let (workers, age) = beat.unwrap_or((0, None));
    let stale = age.is_none_or(|a| a > HEARTBEAT_STALE_SECS);
    let current = migrations.as_ref().is_some_and(|m| m.current);
    let checks = match reachable.then_some(&state.pool) {
        Some(pool) => async { crate::monitor::latest(&mut *pool.acquire().await?).await }
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let status = if !reachable || !current {
        HealthStatus::Down
    } else if stale || checks.iter().any(|c| c.status.is_bad()) {
        HealthStatus::Degraded
    } else {
        HealthStatus::Ok
    };
    Health {
        status,
        version: env!("CARGO_PKG_VERSION"),
        database: DatabaseHealth { reachable, latency_ms },
        migrations,
        worker: WorkerHealth {
            workers,
            last_heartbeat_age_seconds: age,
            stale,
        },
        settings_version: state.settings.version(),
        checks,
    }
}

/// 200 while the web process can serve (database reachable, schema current); 503 otherwise.
/// A missing worker is reported as `degraded`, still 200: the web process itself is fine.
pub async fn health(State(state): State<AppState>) -> Response {
    let h = health_report(&state).await;
    let code = if h.status == HealthStatus::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let mut res = (code, Json(h)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    if let Some(token) = &state.config.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.expose_secret()) {
            return Err(AppError::Unauthorized);
        }
    }
    let depth = crate::jobs::depth(&state.pool).await?;
    for s in JOB_STATES {
        let n = depth.iter().find(|(st, _)| st == s).map_or(0, |(_, n)| *n);
        state
            .metrics
            .jobs
            .get_or_create(&StateLabels { state: s.to_owned() })
            .set(n);
    }
    let unsealed: i64 = sqlx::query_scalar("select count(*) from audit_pending")
        .fetch_one(&state.pool)
        .await?;
    state.metrics.audit_unsealed.set(unsealed);
    let age: Option<f64> =
        sqlx::query_scalar("select extract(epoch from ($1 - max(beat_at)))::float8 from worker_heartbeats")
            .bind(state.clock.now())
            .fetch_one(&state.pool)
            .await?;
    state.metrics.worker_heartbeat_age.set(age.unwrap_or(-1.0));
    let checks = crate::monitor::latest(&mut *state.pool.acquire().await?).await?;
    crate::monitor::export(&state.metrics, &checks);
    let mut res = state.metrics.render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    Ok(res)
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage<'a> {
    company: &'a str,
    health: &'a Health,
    jobs: &'a [(String, i64)],
    /// "In maintenance until …", or when the next weekly window opens, or nothing.
    maintenance: Option<String>,
    /// The last runs of the maintenance window (`crate::maintenance::runs`).
    runs: Vec<crate::maintenance::runs::Run>,
}

/// The public status page: what the system is and whether it is well.
pub async fn status_page(State(state): State<AppState>) -> Result<Response, AppError> {
    let h = health_report(&state).await;
    let jobs = crate::jobs::depth(&state.pool).await.unwrap_or_default();
    let settings = state.settings.get();
    let now = state.clock.now();
    let b = &settings.0.backup;
    let maintenance = match crate::maintenance::current(b, now) {
        Some(w) => Some(format!("In maintenance ({}) {}.", w.reason.label(), w.until_text())),
        None => crate::maintenance::window::next_start(b, now).map(|t| {
            format!(
                "The next maintenance window opens {} (Kigali time).",
                crate::clock::local_display(t)
            )
        }),
    };
    let runs = crate::maintenance::runs::latest(&mut *state.pool.acquire().await?, 5).await?;
    let page = StatusPage {
        company: &settings.0.branding.company_name,
        health: &h,
        jobs: &jobs,
        maintenance,
        runs,
    };
    super::pages::html(StatusCode::OK, &page)
}

/// What Home says about the system: the health report's status, made worse by what the health
/// check cannot see: payouts paused (an open `momo.circuit_open` alert), payouts held, and other
/// open critical alerts. The reasons name no customer or amount, so every staff member sees them;
/// the alerts themselves are in the header for their audience.
#[derive(Debug)]
pub struct SystemStatus {
    pub status: HealthStatus,
    pub reasons: Vec<String>,
}

pub async fn system_status(conn: &mut sqlx::PgConnection, h: &Health) -> Result<SystemStatus, AppError> {
    let (circuit, critical): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where kind = 'momo.circuit_open'),                 count(*) filter (where kind <> 'momo.circuit_open')          from alerts where status <> 'resolved' and severity = 'critical'",
    )
    .fetch_one(&mut *conn)
    .await?;
    let held: Vec<(String, i64)> = sqlx::query_as(
        "select held_reason, count(*) from disbursements          where status = 'queued' and held_reason is not null group by held_reason order by held_reason",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut reasons = Vec::new();
    if circuit > 0 {
        reasons.push("Payouts are paused: MoMo is failing.".to_owned());
    }
    for (why, n) in &held {
        reasons.push(format!("{n} payout(s) held ({}).", why.replace('_', " ")));
    }
    if critical > 0 {
        reasons.push(format!("{critical} critical alert(s) open."));
    }
    let status = match h.status {
        HealthStatus::Ok if !reasons.is_empty() => HealthStatus::Degraded,
        s => s,
    };
    Ok(SystemStatus { status, reasons })
}
