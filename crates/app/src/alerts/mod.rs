//! Alerts: open work for a person, raised by the system (PRD 2.7).
//!
//! Owns `alerts` and `alert_events`. [`raise`] runs in the caller's transaction, so an alert
//! exists exactly when the change that caused it committed; while an alert with the same
//! `dedupe_key` is not resolved, raising it again counts a repeat instead of adding a row.
//! [`lifecycle`] is the one owner of an alert's state (open → acknowledged → resolved, escalated
//! and snoozed by hand), each move audited and written to the alert's [`timeline`] (which also
//! takes delivery rows). [`console`] reads alerts for the console (`/admin/alerts`, its API and
//! CSV export); the fraud review queue of flagged phones is served here too ([`fraud_web`]; the
//! customers' state is `redemption::review`'s).
//!
//! [`sms`]: SMS to customers through Africa's Talking (the payout confirmation), as `sms.send` jobs.

pub mod api;
mod api_admin;
pub mod console;
pub mod delivery;
mod fraud_web;
pub mod lifecycle;
mod pages;
pub mod rules;
pub mod sms;
pub mod sms_delivery;
pub mod timeline;

pub use lifecycle::Status;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::access::Permission;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// An alert to raise.
#[derive(Debug, Clone)]
pub struct NewAlert {
    /// Machine-readable kind, e.g. `payout.failed`, `momo.low_balance`.
    pub kind: &'static str,
    pub severity: Severity,
    pub title: String,
    pub body: String,
    /// Who may see it.
    pub audience: Permission,
    pub subject: Option<(&'static str, String)>,
    pub dedupe_key: Option<String>,
}

impl NewAlert {
    pub fn new(kind: &'static str, severity: Severity, audience: Permission, title: impl Into<String>) -> Self {
        Self {
            kind,
            severity,
            title: title.into(),
            body: String::new(),
            audience,
            subject: None,
            dedupe_key: None,
        }
    }

    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    pub fn subject(mut self, entity_type: &'static str, id: impl ToString) -> Self {
        self.subject = Some((entity_type, id.to_string()));
        self
    }

    pub fn dedupe(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }
}

/// Raises `alert` (or counts a repeat of the unresolved one with its dedupe key: open,
/// acknowledged or snoozed, it only counts) and writes the `raised` row of a new alert's timeline,
/// its `alert.raised` webhooks and its e-mail and SMS deliveries ([`delivery::queue_raised`]).
/// True when a new alert row was written.
pub async fn raise(conn: &mut PgConnection, alert: &NewAlert, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let (subject_type, subject_id) = match &alert.subject {
        Some((t, id)) => (Some(*t), Some(id.as_str())),
        None => (None, None),
    };
    let (id, inserted): (Uuid, bool) = sqlx::query_as(
        r#"with a as (
             insert into alerts (kind, severity, title, body, audience, subject_type, subject_id, dedupe_key,
                                 created_at, last_seen_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
             on conflict (dedupe_key) where status <> 'resolved'
             do update set occurrences = alerts.occurrences + 1, last_seen_at = excluded.last_seen_at
             returning id, (xmax = 0) as inserted),
           e as (
             insert into alert_events (alert_id, kind, at, detail)
             select id, 'raised', $9, jsonb_build_object('severity', $2::text) from a where inserted)
           select id, inserted from a"#,
    )
    .bind(alert.kind)
    .bind(alert.severity.as_str())
    .bind(&alert.title)
    .bind(&alert.body)
    .bind(alert.audience.key())
    .bind(subject_type)
    .bind(subject_id)
    .bind(&alert.dedupe_key)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    if inserted {
        crate::webhooks::emit(conn, &crate::webhooks::Event::alert_raised(alert, now), now).await?;
        delivery::queue_raised(conn, id, alert, now).await?;
    }
    Ok(inserted)
}

/// Action keys that are also alert audiences: an alert about work only the holders of that key
/// can do goes to them (a payout whose payee has no wallet: to whoever can change the payee).
pub const ACTION_AUDIENCES: [Permission; 1] = [Permission::DisbursementsPayeeUpdate];

/// The audiences a person holding `permissions` reads alerts of: each `*.alerts.view` key and
/// each of [`ACTION_AUDIENCES`] they hold.
pub fn audiences<'a>(permissions: impl IntoIterator<Item = &'a Permission>) -> Vec<&'static str> {
    permissions
        .into_iter()
        .filter(|p| p.key().ends_with(".alerts.view") || ACTION_AUDIENCES.contains(p))
        .map(|p| p.key())
        .collect()
}

/// Resolves the unresolved alert with `dedupe_key` because the work it asked for is done (in the
/// caller's transaction, which audits that work; the alert's timeline says so). True when one
/// was unresolved.
pub async fn close(
    conn: &mut PgConnection,
    dedupe_key: &str,
    by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    lifecycle::close(conn, dedupe_key, by, now).await
}

/// An unresolved alert as the shell and the payouts page list it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub id: Uuid,
    pub kind: String,
    pub severity: String,
    pub title: String,
    pub body: String,
    pub audience: String,
    pub subject_type: Option<String>,
    pub subject_id: Option<String>,
    pub occurrences: i32,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub status: Status,
}

/// How many unresolved, unsnoozed alerts there are for any of the `audiences` (what the badge
/// counts), and how many of them are critical.
pub async fn open_counts(
    conn: &mut PgConnection,
    audiences: &[&str],
    now: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "select count(*), count(*) filter (where severity = 'critical') from alerts \
         where status <> 'resolved' and (snoozed_until is null or snoozed_until <= $2) and audience = any($1)",
    )
    .bind(audiences)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// The open (unacknowledged) alerts for any of the `audiences` (the permissions the reader
/// holds), newest first, snoozed or not.
pub async fn open(conn: &mut PgConnection, audiences: &[&str], limit: i64) -> Result<Vec<Alert>, sqlx::Error> {
    sqlx::query_as(
        r#"select id, kind, severity, title, body, audience, subject_type, subject_id, occurrences, created_at,
                  last_seen_at, status
           from alerts where status = 'open' and audience = any($1)
           order by created_at desc limit $2"#,
    )
    .bind(audiences)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// The unresolved alerts for any of the `audiences` that are not snoozed at `now`, newest first;
/// with `awaiting`, only those nobody has acknowledged yet.
pub async fn unresolved(
    conn: &mut PgConnection,
    audiences: &[&str],
    awaiting: bool,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Alert>, sqlx::Error> {
    sqlx::query_as(
        r#"select id, kind, severity, title, body, audience, subject_type, subject_id, occurrences, created_at,
                  last_seen_at, status
           from alerts
           where status <> 'resolved' and (not $3 or status = 'open') and audience = any($1)
             and (snoozed_until is null or snoozed_until <= $4)
           order by created_at desc limit $2"#,
    )
    .bind(audiences)
    .bind(limit)
    .bind(awaiting)
    .bind(now)
    .fetch_all(&mut *conn)
    .await
}

/// Acknowledges an open alert whose audience is one of `audiences` (the permissions the person
/// holds), audited in the caller's transaction. False when there is no such open alert.
pub async fn acknowledge(
    conn: &mut PgConnection,
    id: Uuid,
    audiences: &[&str],
    acting: &crate::unit::Acting,
) -> Result<bool, sqlx::Error> {
    match lifecycle::apply(conn, id, audiences, &lifecycle::Command::Acknowledge, acting).await {
        Ok(_) => Ok(true),
        Err(lifecycle::Refused::Db(e)) => Err(e),
        Err(_) => Ok(false),
    }
}
