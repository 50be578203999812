//! Custom alert rules (`alert_rules`): a metric from the catalogue ([`Metric`]) compared with a
//! threshold over a window, with a severity, channels and recipients (its alert is e-mailed and
//! sent by SMS to them on those channels: `alerts::delivery::routing::add_rule`). Created, changed and deleted in the caller's unit of work, each change audited
//! with before and after; evaluated by the `alerts.evaluate` job, raising one open alert per rule
//! (`custom:<id>`) that counts each minute the condition holds.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::access::Permission;
use crate::alerts::{raise, NewAlert, Severity};
use crate::audit::Action;
use crate::error::{AppError, FieldError};
use crate::unit::Acting;

macro_rules! catalogue {
    ($name:ident { $($v:ident => $key:literal, $label:literal, $audience:ident, $windowed:literal;)* }) => {
        /// A figure a custom rule can watch.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($v,)* }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v,)*];
            pub fn key(self) -> &'static str { match self { $($name::$v => $key,)* } }
            pub fn label(self) -> &'static str { match self { $($name::$v => $label,)* } }
            /// Who sees the alerts of a rule on this metric.
            pub fn audience(self) -> Permission { match self { $($name::$v => Permission::$audience,)* } }
            /// Whether the window applies (the others are a reading of now).
            pub fn windowed(self) -> bool { match self { $($name::$v => $windowed,)* } }
            pub fn parse(s: &str) -> Option<Self> { Self::ALL.iter().copied().find(|m| m.key() == s) }
        }
    };
}

catalogue!(Metric {
    Redemptions => "redemptions", "Redemptions in the window", FraudAlertsView, true;
    WrongCodes => "wrong_codes", "Wrong-code attempts in the window", FraudAlertsView, true;
    PayoutFailureRate => "payout_failure_rate", "Payout failure rate in the window (%)", FinancialAlertsView, true;
    PaidRwf => "paid_rwf", "RWF paid in the window", FinancialAlertsView, true;
    PaidTodayRwf => "paid_today_rwf", "RWF paid today (Kigali)", FinancialAlertsView, false;
    PayoutsPending => "payouts_pending", "Payouts not finished yet", FinancialAlertsView, false;
    QueueAgeSeconds => "queue_age_seconds", "Age of the oldest due job (s)", SystemAlertsView, false;
    DeadJobs => "dead_jobs", "Jobs gone dead in the window", SystemAlertsView, true;
});

/// How the figure is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Comparison {
    pub const ALL: [Comparison; 4] = [Comparison::Gt, Comparison::Ge, Comparison::Lt, Comparison::Le];
    pub fn key(self) -> &'static str {
        match self {
            Comparison::Gt => "gt",
            Comparison::Ge => "ge",
            Comparison::Lt => "lt",
            Comparison::Le => "le",
        }
    }
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Gt => ">",
            Comparison::Ge => "≥",
            Comparison::Lt => "<",
            Comparison::Le => "≤",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| {
            c.key() == s
                || c.symbol() == s
                || (s == ">=" && *c == Comparison::Ge)
                || (s == "<=" && *c == Comparison::Le)
        })
    }
    pub fn holds(self, value: i64, threshold: i64) -> bool {
        match self {
            Comparison::Gt => value > threshold,
            Comparison::Ge => value >= threshold,
            Comparison::Lt => value < threshold,
            Comparison::Le => value <= threshold,
        }
    }
}

pub const CHANNELS: [&str; 4] = ["in_app", "email", "sms", "webhook"];
pub const SEVERITIES: [&str; 3] = ["info", "warning", "critical"];
pub const MAX_RECIPIENTS: usize = 20;
/// A week.
pub const MAX_WINDOW_MINUTES: i64 = 10_080;

/// A rule as a client sends it (create, and update: every field given again).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = AlertRuleRequest)]
pub struct RuleInput {
    /// 1 to 100 characters, unique.
    pub name: Option<String>,
    /// A metric key of the catalogue: `redemptions`, `wrong_codes`, `payout_failure_rate`, `paid_rwf`,
    /// `paid_today_rwf`, `payouts_pending`, `queue_age_seconds`, `dead_jobs`.
    #[schema(examples("wrong_codes"))]
    pub metric: Option<String>,
    /// `gt`, `ge`, `lt`, `le` (or `>`, `>=`, `<`, `<=`).
    #[schema(examples("gt"))]
    pub comparison: Option<String>,
    /// A whole number (RWF, a count, seconds or a percentage, as the metric says).
    pub threshold: Option<i64>,
    /// 1 to 10,080 minutes.
    pub window_minutes: Option<i64>,
    /// `info`, `warning`, `critical`.
    pub severity: Option<String>,
    /// Any of `in_app`, `email`, `sms`, `webhook` (default `in_app`).
    pub channels: Option<Vec<String>>,
    /// E-mail addresses or phone numbers (+2507…), at most 20.
    pub recipients: Option<Vec<String>>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// A rule, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRule {
    pub name: String,
    pub metric: Metric,
    pub comparison: Comparison,
    pub threshold: i64,
    pub window_minutes: i32,
    pub severity: String,
    pub channels: Vec<String>,
    pub recipients: Vec<String>,
    pub enabled: bool,
}

fn is_phone(v: &str) -> bool {
    v.len() >= 10
        && v.len() <= 16
        && v.strip_prefix('+')
            .is_some_and(|d| d.chars().all(|c| c.is_ascii_digit()))
}

impl RuleInput {
    /// Checks every field; a 422 names each bad one.
    pub fn parse(&self) -> Result<NewRule, AppError> {
        let mut errors = Vec::new();
        let name = self.name.as_deref().map(str::trim).unwrap_or_default().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            errors.push(FieldError::new("name", "give a name of 1 to 100 characters"));
        }
        let metric = self.metric.as_deref().map(str::trim).and_then(Metric::parse);
        if metric.is_none() {
            let all: Vec<&str> = Metric::ALL.iter().map(|m| m.key()).collect();
            errors.push(FieldError::new("metric", format!("choose one of {}", all.join(", "))));
        }
        let comparison = self.comparison.as_deref().map(str::trim).and_then(Comparison::parse);
        if comparison.is_none() {
            errors.push(FieldError::new("comparison", "must be gt, ge, lt or le"));
        }
        let threshold = self.threshold;
        match threshold {
            None => errors.push(FieldError::new("threshold", "give a whole number")),
            Some(t) if !(0..=1_000_000_000_000).contains(&t) => {
                errors.push(FieldError::new("threshold", "must be from 0 to 1,000,000,000,000"))
            }
            Some(t) if metric == Some(Metric::PayoutFailureRate) && t > 100 => {
                errors.push(FieldError::new("threshold", "a percentage: from 0 to 100"))
            }
            _ => {}
        }
        let window = self.window_minutes.unwrap_or(60);
        if !(1..=MAX_WINDOW_MINUTES).contains(&window) {
            errors.push(FieldError::new(
                "windowMinutes",
                format!("must be from 1 to {MAX_WINDOW_MINUTES} minutes"),
            ));
        }
        let severity = self.severity.as_deref().map(str::trim).unwrap_or("warning").to_owned();
        if !SEVERITIES.contains(&severity.as_str()) {
            errors.push(FieldError::new("severity", "must be info, warning or critical"));
        }
        let mut channels: Vec<String> = Vec::new();
        for (i, c) in self.channels.iter().flatten().enumerate() {
            let c = c.trim();
            if !CHANNELS.contains(&c) {
                errors.push(FieldError::new(
                    format!("channels[{i}]"),
                    "must be in_app, email, sms or webhook",
                ));
            } else if !channels.iter().any(|x| x == c) {
                channels.push(c.to_owned());
            }
        }
        if channels.is_empty() {
            channels.push("in_app".to_owned());
        }
        let mut recipients: Vec<String> = Vec::new();
        for (i, r) in self.recipients.iter().flatten().enumerate() {
            let r = r.trim();
            if !(crate::reports::schedule_input::is_email(r) || is_phone(r)) {
                errors.push(FieldError::new(
                    format!("recipients[{i}]"),
                    "is not an e-mail address or a +250… phone number",
                ));
            } else if !recipients.iter().any(|x| x.eq_ignore_ascii_case(r)) {
                recipients.push(r.to_owned());
            }
        }
        if recipients.len() > MAX_RECIPIENTS {
            errors.push(FieldError::new("recipients", format!("at most {MAX_RECIPIENTS}")));
        }
        for (channel, needs) in [("email", "an e-mail address"), ("sms", "a phone number")] {
            let has = recipients.iter().any(|r| {
                if channel == "email" {
                    r.contains('@')
                } else {
                    is_phone(r)
                }
            });
            if channels.iter().any(|c| c == channel) && !has {
                errors.push(FieldError::new(
                    "recipients",
                    format!("the {channel} channel needs {needs} among the recipients"),
                ));
            }
        }
        match (metric, comparison, threshold, errors.is_empty()) {
            (Some(metric), Some(comparison), Some(threshold), true) => Ok(NewRule {
                name,
                metric,
                comparison,
                threshold,
                window_minutes: window as i32,
                severity,
                channels,
                recipients,
                enabled: self.enabled.unwrap_or(true),
            }),
            _ => Err(AppError::Validation(errors)),
        }
    }
}

/// A stored rule.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AlertRule)]
pub struct RuleView {
    pub id: Uuid,
    pub name: String,
    pub metric: String,
    pub comparison: String,
    pub threshold: i64,
    pub window_minutes: i32,
    pub severity: String,
    pub channels: Vec<String>,
    /// Shown to those who may change rules or configure delivery; others see them left out.
    pub recipients: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The figure the last evaluation read.
    pub last_value: Option<i64>,
    pub last_evaluated_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, name, metric, comparison, threshold, window_minutes, severity, channels, recipients, enabled, \
                       created_at, updated_at, last_value, last_evaluated_at";

fn snapshot(r: &RuleView) -> serde_json::Value {
    json!({"name": r.name, "metric": r.metric, "comparison": r.comparison, "threshold": r.threshold,
           "windowMinutes": r.window_minutes, "severity": r.severity, "channels": r.channels,
           "recipients": r.recipients, "enabled": r.enabled})
}

fn name_taken(e: sqlx::Error) -> AppError {
    crate::error::on_constraint(
        e,
        &[("alert_rules_name_key", || {
            AppError::conflict("name", "a rule with this name exists")
        })],
    )
}

pub async fn list(conn: &mut PgConnection) -> Result<Vec<RuleView>, sqlx::Error> {
    sqlx::query_as(&format!("select {COLUMNS} from alert_rules order by name limit 500"))
        .fetch_all(conn)
        .await
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<RuleView, AppError> {
    sqlx::query_as(&format!("select {COLUMNS} from alert_rules where id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("alert rule"))
}

pub async fn create(conn: &mut PgConnection, r: &NewRule, acting: &Acting) -> Result<RuleView, AppError> {
    let now = acting.now;
    let row: RuleView = sqlx::query_as(&format!(
        "insert into alert_rules (name, metric, comparison, threshold, window_minutes, severity, channels, recipients, \
                                  enabled, created_by_user_id, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) returning {COLUMNS}"
    ))
    .bind(&r.name)
    .bind(r.metric.key())
    .bind(r.comparison.key())
    .bind(r.threshold)
    .bind(r.window_minutes)
    .bind(&r.severity)
    .bind(&r.channels)
    .bind(&r.recipients)
    .bind(r.enabled)
    .bind(acting.user_id())
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(name_taken)?;
    crate::audit::record(
        conn,
        &acting
            .audit(Action::AlertRuleCreated, "alert_rule", row.id)
            .after(snapshot(&row)),
        now,
    )
    .await?;
    Ok(row)
}

pub async fn update(conn: &mut PgConnection, id: Uuid, r: &NewRule, acting: &Acting) -> Result<RuleView, AppError> {
    let now = acting.now;
    let before: Option<RuleView> =
        sqlx::query_as(&format!("select {COLUMNS} from alert_rules where id = $1 for update"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let before = before.ok_or(AppError::NotFound("alert rule"))?;
    let row: RuleView = sqlx::query_as(&format!(
        "update alert_rules set name = $2, metric = $3, comparison = $4, threshold = $5, window_minutes = $6, \
            severity = $7, channels = $8, recipients = $9, enabled = $10, updated_at = $11 \
         where id = $1 returning {COLUMNS}"
    ))
    .bind(id)
    .bind(&r.name)
    .bind(r.metric.key())
    .bind(r.comparison.key())
    .bind(r.threshold)
    .bind(r.window_minutes)
    .bind(&r.severity)
    .bind(&r.channels)
    .bind(&r.recipients)
    .bind(r.enabled)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(name_taken)?;
    crate::audit::record(
        conn,
        &acting
            .audit(Action::AlertRuleUpdated, "alert_rule", id)
            .before(snapshot(&before))
            .after(snapshot(&row)),
        now,
    )
    .await?;
    Ok(row)
}

/// Deletes a rule (its alerts stay, closed or not).
pub async fn delete(conn: &mut PgConnection, id: Uuid, acting: &Acting) -> Result<(), AppError> {
    let before: Option<RuleView> =
        sqlx::query_as(&format!("delete from alert_rules where id = $1 returning {COLUMNS}"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let before = before.ok_or(AppError::NotFound("alert rule"))?;
    crate::audit::record(
        conn,
        &acting
            .audit(Action::AlertRuleDeleted, "alert_rule", id)
            .before(snapshot(&before)),
        acting.now,
    )
    .await?;
    Ok(())
}

/// The figure `metric` reads over `window` ending at `now`.
pub async fn read(
    conn: &mut PgConnection,
    metric: Metric,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    use super::metrics as m;
    let since = now - window;
    Ok(match metric {
        Metric::Redemptions => m::redemptions(conn, since, now).await?,
        Metric::WrongCodes => m::wrong_codes(conn, since, now).await?,
        Metric::PayoutFailureRate => {
            let (failed, finished) = m::payout_outcomes(conn, since, now).await?;
            if finished == 0 {
                0
            } else {
                failed * 100 / finished
            }
        }
        Metric::PaidRwf => m::paid_amount(conn, since, now).await?,
        Metric::PaidTodayRwf => m::paid_amount(conn, crate::stats::kigali_today(now).0, now).await?,
        Metric::PayoutsPending => m::payouts_pending(conn).await?,
        Metric::QueueAgeSeconds => m::queue_age_seconds(conn, now).await?,
        Metric::DeadJobs => m::dead_jobs(conn, since).await?,
    })
}

/// Evaluates every enabled rule; returns how many were read. The kinds raised go to `raised`.
pub async fn evaluate_all(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    raised: &mut Vec<String>,
) -> Result<usize, sqlx::Error> {
    let rules: Vec<RuleView> = sqlx::query_as(&format!("select {COLUMNS} from alert_rules where enabled order by id"))
        .fetch_all(&mut *conn)
        .await?;
    for r in &rules {
        let (Some(metric), Some(cmp)) = (Metric::parse(&r.metric), Comparison::parse(&r.comparison)) else {
            continue;
        };
        let value = read(conn, metric, Duration::minutes(i64::from(r.window_minutes)), now).await?;
        sqlx::query("update alert_rules set last_value = $2, last_evaluated_at = $3 where id = $1")
            .bind(r.id)
            .bind(value)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        if !cmp.holds(value, r.threshold) {
            continue;
        }
        let severity = match r.severity.as_str() {
            "critical" => Severity::Critical,
            "info" => Severity::Info,
            _ => Severity::Warning,
        };
        let window = if metric.windowed() {
            format!(" over {} min", r.window_minutes)
        } else {
            String::new()
        };
        let alert = NewAlert::new(
            "custom.rule",
            severity,
            metric.audience(),
            format!("{}: {} is {value}{window}", r.name, metric.label()),
        )
        .body(format!(
            "The rule \"{}\" watches {} {} {}. Channels: {}.",
            r.name,
            metric.label(),
            cmp.symbol(),
            r.threshold,
            r.channels.join(", ")
        ))
        .subject("alert_rule", r.id)
        .dedupe(format!("custom:{}", r.id));
        raise(conn, &alert, now).await?;
        raised.push(alert.kind.to_owned());
    }
    Ok(rules.len())
}
