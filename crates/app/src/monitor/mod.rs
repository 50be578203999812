//! Monitoring (issue #23 item 6, decision 0055): the health checks of the backup settings'
//! "Health limits", run by the `monitor.check` job once a minute (never on a page load).
//!
//! Owns `monitor_checks` (the latest reading of each check) and `monitor_web_latency` (each web
//! process's recent response times, [`latency`]). The checks ([`probe`]): the database (a round
//! trip), MTN MoMo (a token and the balance, through the payout client), Africa's Talking (the SMS
//! API answers at all), disk use of `DATA_DIR`'s file system, memory use, and the web processes'
//! response-time p95. A reading past its limit, or a check that fails, raises a system alert
//! (`monitor.<check>`, for `system.alerts.view`, deduplicated while open); back to normal, or
//! turned off, the alert is resolved ([`job`]). The readings are on the status page, in the
//! health report (a breached or failed check makes it `degraded`) and in `/api/metrics`.

pub mod job;
pub mod latency;
pub mod probe;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::web::metrics::{CheckLabels, Metrics};

/// One health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, sqlx::Type, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Check {
    Database,
    Momo,
    AfricasTalking,
    Disk,
    Memory,
    ResponseTime,
}

impl Check {
    pub const ALL: [Check; 6] = [
        Check::Database,
        Check::Momo,
        Check::AfricasTalking,
        Check::Disk,
        Check::Memory,
        Check::ResponseTime,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Check::Database => "database",
            Check::Momo => "momo",
            Check::AfricasTalking => "africas_talking",
            Check::Disk => "disk",
            Check::Memory => "memory",
            Check::ResponseTime => "response_time",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Check::Database => "Database",
            Check::Momo => "MTN MoMo",
            Check::AfricasTalking => "Africa's Talking",
            Check::Disk => "Disk use",
            Check::Memory => "Memory use",
            Check::ResponseTime => "Response time (p95)",
        }
    }

    /// The kind (and dedupe key) of the alert the check raises.
    pub fn alert_kind(self) -> &'static str {
        match self {
            Check::Database => "monitor.database",
            Check::Momo => "monitor.momo",
            Check::AfricasTalking => "monitor.africas_talking",
            Check::Disk => "monitor.disk",
            Check::Memory => "monitor.memory",
            Check::ResponseTime => "monitor.response_time",
        }
    }

    /// The unit of its value.
    pub fn unit(self) -> &'static str {
        match self {
            Check::Disk | Check::Memory => "%",
            _ => "ms",
        }
    }
}

/// What a check found (`monitor_checks_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Within its limit.
    Ok,
    /// Past its limit.
    Breached,
    /// Could not be read, or the service refused or did not answer.
    Failed,
    /// Turned off, or nothing to check (MoMo not configured, say).
    Off,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Breached => "breached",
            CheckStatus::Failed => "failed",
            CheckStatus::Off => "off",
        }
    }

    /// The status pill's colour class: `ok`, `degraded` (past a limit), `down` (failed), `off`.
    pub fn pill(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Breached => "degraded",
            CheckStatus::Failed => "down",
            CheckStatus::Off => "off",
        }
    }

    /// Whether it makes the system `degraded` and keeps its alert open.
    pub fn is_bad(self) -> bool {
        matches!(self, CheckStatus::Breached | CheckStatus::Failed)
    }
}

/// One check's result, as a probe returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub check: Check,
    pub status: CheckStatus,
    pub value: Option<f64>,
    pub limit: Option<f64>,
    pub detail: String,
}

impl Reading {
    pub fn off(check: Check, why: impl Into<String>) -> Self {
        Self {
            check,
            status: CheckStatus::Off,
            value: None,
            limit: None,
            detail: why.into(),
        }
    }

    pub fn failed(check: Check, why: impl Into<String>) -> Self {
        Self {
            check,
            status: CheckStatus::Failed,
            value: None,
            limit: None,
            detail: why.into(),
        }
    }

    /// `value` against `limit`: past it (strictly above), breached.
    pub fn measured(check: Check, value: f64, limit: Option<f64>, detail: impl Into<String>) -> Self {
        let breached = limit.is_some_and(|l| value > l);
        Self {
            check,
            status: if breached {
                CheckStatus::Breached
            } else {
                CheckStatus::Ok
            },
            value: Some(value),
            limit,
            detail: detail.into(),
        }
    }
}

/// A check's latest stored reading.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stored {
    pub check_name: Check,
    pub status: CheckStatus,
    pub value: Option<f64>,
    pub limit_value: Option<f64>,
    #[serde(skip)]
    pub detail: String,
    pub checked_at: DateTime<Utc>,
}

impl Stored {
    pub fn title(&self) -> &'static str {
        self.check_name.title()
    }

    /// `87.2 % (limit 85 %)`, `12 ms`, or `—`.
    pub fn shown(&self) -> String {
        let unit = self.check_name.unit();
        match (self.value, self.limit_value) {
            (Some(v), Some(l)) => format!("{v:.1} {unit} (limit {l:.0} {unit})"),
            (Some(v), None) => format!("{v:.1} {unit}"),
            _ => "—".to_owned(),
        }
    }
}

/// The latest reading of every check that has run, in [`Check::ALL`]'s order.
pub async fn latest(conn: &mut PgConnection) -> Result<Vec<Stored>, sqlx::Error> {
    let mut rows: Vec<Stored> =
        sqlx::query_as("select check_name, status, value, limit_value, detail, checked_at from monitor_checks")
            .fetch_all(conn)
            .await?;
    rows.sort_by_key(|r| Check::ALL.iter().position(|c| *c == r.check_name));
    Ok(rows)
}

/// Sets the monitor gauges of `/api/metrics` from the stored readings: `monitor_check_ok` (1 ok,
/// 0 breached or failed; absent while off), `monitor_check_value` and `monitor_check_limit`.
pub fn export(metrics: &Metrics, rows: &[Stored]) {
    for r in rows {
        let labels = CheckLabels {
            check: r.check_name.as_str().to_owned(),
        };
        if r.status == CheckStatus::Off {
            metrics.monitor_ok.remove(&labels);
        } else {
            metrics
                .monitor_ok
                .get_or_create(&labels)
                .set(i64::from(r.status == CheckStatus::Ok));
        }
        match r.value {
            Some(v) => {
                metrics.monitor_value.get_or_create(&labels).set(v);
            }
            None => {
                metrics.monitor_value.remove(&labels);
            }
        }
        match r.limit_value {
            Some(l) => {
                metrics.monitor_limit.get_or_create(&labels).set(l);
            }
            None => {
                metrics.monitor_limit.remove(&labels);
            }
        }
    }
}
