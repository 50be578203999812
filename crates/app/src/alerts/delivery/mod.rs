//! Alerts that reach people: e-mail and SMS through an outbox (`alert_deliveries`, decision 0050).
//!
//! Rows are written in the transaction that raised the alert ([`queue_raised`], called by
//! [`super::raise`] for a new alert only, never for a counted repeat), or that escalated it or
//! found a follow-up due ([`queue_to_tier`], from [`escalate`]). Who gets what is [`routing`]'s:
//! the notification settings as committed, read in that same transaction. The `alerts.deliver`
//! job ([`send`]) is woken by the commit (one job per writing transaction) and every minute; it
//! claims due rows with `SKIP LOCKED` and a lease, sends with no transaction open, and records
//! each attempt on the alert's timeline ([`super::timeline::record_delivery`]); a failure is
//! retried with backoff up to [`MAX_ATTEMPTS`], then the row is `failed`.

pub mod escalate;
pub mod routing;
pub mod send;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::NewAlert;
use crate::jobs;

/// The job kind that sends due deliveries.
pub const KIND: &str = "alerts.deliver";
/// Attempts before a delivery is `failed` (30 s, 2 min and 8 min apart: about 10 minutes).
pub const MAX_ATTEMPTS: i32 = 4;
/// Above bulk work and webhooks, beside customer SMS.
const PRIORITY: i16 = 4;

/// `alert_deliveries.channel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, Serialize)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Channel::Email, Channel::Sms].into_iter().find(|c| c.as_str() == s)
    }
}

/// `alert_deliveries.reason`: why the message goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, Serialize)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A new alert, to the people the routing names.
    Raised,
    /// A critical alert nobody acknowledged in time, to the next tier.
    Escalated,
    /// An escalated alert still unresolved, to the next tier again.
    FollowUp,
}

impl Reason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Raised => "raised",
            Reason::Escalated => "escalated",
            Reason::FollowUp => "follow_up",
        }
    }
}

/// `alert_deliveries.status` (`alert_deliveries_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, Serialize)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Sent,
    Failed,
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sent => "sent",
            Status::Failed => "failed",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What moves a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// The channel accepted it (the SMTP server, Africa's Talking).
    Accepted,
    /// It failed and attempts are left: tried again after the backoff.
    RetryLater,
    /// It failed for the last time, or for good (a refused number, the channel turned off).
    GiveUp,
}

/// Every move a delivery makes, all by [`send`]: `(from, to, what)`.
pub const TRANSITIONS: &[(Status, Status, Move)] = &[
    (Status::Queued, Status::Sent, Move::Accepted),
    (Status::Queued, Status::Queued, Move::RetryLater),
    (Status::Queued, Status::Failed, Move::GiveUp),
];

/// Where `m` takes a delivery that is `from`, if it may.
pub fn target(from: Status, m: Move) -> Option<Status> {
    TRANSITIONS
        .iter()
        .find(|&&(f, _, w)| f == from && w == m)
        .map(|&(_, t, _)| t)
}

/// The wait before attempt `attempt + 1` after `attempt` failed: 30 s, 2 min, 8 min, …
pub fn backoff(attempt: i32) -> chrono::Duration {
    let step = u32::try_from(attempt.clamp(1, 6) - 1).unwrap_or(0);
    chrono::Duration::seconds(30 * 4_i64.pow(step))
}

/// Queues the deliveries of a new alert, in the transaction that raised it: the channels the
/// routing gives its severity, to the settings' recipients; an alert of a custom rule also goes
/// to the rule's own recipients on the rule's own channels. Returns how many were queued.
pub async fn queue_raised(
    conn: &mut PgConnection,
    alert_id: Uuid,
    alert: &NewAlert,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let stored = routing::Stored::read(conn).await?;
    let mut to = routing::route(&stored, alert.kind, alert.severity);
    let rule = match &alert.subject {
        Some(("alert_rule", id)) => id.parse::<Uuid>().ok(),
        _ => None,
    };
    if let Some(rule) = rule {
        let own: Option<(Vec<String>, Vec<String>)> =
            sqlx::query_as("select channels, recipients from alert_rules where id = $1")
                .bind(rule)
                .fetch_optional(&mut *conn)
                .await?;
        if let Some((channels, recipients)) = own {
            routing::add_rule(&stored, &mut to, &channels, &recipients);
        }
    }
    insert(conn, alert_id, Reason::Raised, 0, &to, now).await
}

/// Queues deliveries of an escalation or a follow-up (`round`) to the next tier: every active
/// Super Administrator, by e-mail and by SMS to their number, on the channels the routing gives
/// critical alerts. Returns how many were queued.
pub async fn queue_to_tier(
    conn: &mut PgConnection,
    alert_id: Uuid,
    reason: Reason,
    round: i32,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let stored = routing::Stored::read(conn).await?;
    let admins: Vec<(String, Option<String>)> = sqlx::query_as(
        r#"select u.email::text, nullif(regexp_replace(coalesce(u.alert_phone, u.phone_number, ''), '[\s-]', '', 'g'), '')
           from users u
           join user_role_assignments a on a.user_id = u.id
           join roles r on r.id = a.role_id
           where r.name = $1 and u.kind = 'staff' and u.is_active and u.email is not null
           order by u.email"#,
    )
    .bind(crate::access::SUPER_ADMIN)
    .fetch_all(&mut *conn)
    .await?;
    let to = routing::tier(&stored, &admins);
    insert(conn, alert_id, reason, round, &to, now).await
}

/// Inserts one queued row per `(channel, recipient)` (none twice: the once key) and, when any
/// was new, wakes the sender after the commit.
async fn insert(
    conn: &mut PgConnection,
    alert_id: Uuid,
    reason: Reason,
    round: i32,
    to: &[(Channel, String)],
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    if to.is_empty() {
        return Ok(0);
    }
    let channels: Vec<&str> = to.iter().map(|(c, _)| c.as_str()).collect();
    let recipients: Vec<&str> = to.iter().map(|(_, r)| r.as_str()).collect();
    let queued: Option<(i64, String)> = sqlx::query_as(
        r#"with d as (
             insert into alert_deliveries (alert_id, channel, recipient, reason, round, next_attempt_at,
                                           created_at, updated_at)
             select $1, t.channel, t.recipient, $4, $5, $6, $6, $6
             from unnest($2::text[], $3::text[]) as t(channel, recipient)
             on conflict on constraint alert_deliveries_once_key do nothing
             returning 1),
           j as (
             insert into jobs (kind, payload, status, priority, max_attempts, run_at, created_at, updated_at)
             select $7, '{}'::jsonb, 'queued', $8, 3, $6, $6, $6 where exists (select 1 from d)
             returning 1)
           select count(*), pg_notify($9, $7)::text from d having count(*) > 0"#,
    )
    .bind(alert_id)
    .bind(&channels)
    .bind(&recipients)
    .bind(reason.as_str())
    .bind(round)
    .bind(now)
    .bind(KIND)
    .bind(PRIORITY)
    .bind(jobs::READY_CHANNEL)
    .fetch_optional(&mut *conn)
    .await?;
    let n = queued.map_or(0, |(n, _)| u64::try_from(n).unwrap_or(0));
    tracing::debug!(alert = %alert_id, reason = reason.as_str(), queued = n, "alert deliveries queued");
    Ok(n)
}

/// Wakes the sender at `at` (a retry's time), so a retry does not wait for the minute schedule.
pub(crate) async fn wake_at(conn: &mut PgConnection, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let job = jobs::NewJob {
        kind: KIND,
        payload: serde_json::json!({}),
        run_at: Some(at),
        priority: PRIORITY,
        max_attempts: 3,
        unique_key: Some(format!("retry:{}", at.format("%Y-%m-%dT%H:%M:%S"))),
        created_by: None,
    };
    jobs::enqueue(conn, &job, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_ends_sent_or_failed_and_stays_there() {
        assert_eq!(target(Status::Queued, Move::Accepted), Some(Status::Sent));
        assert_eq!(target(Status::Queued, Move::RetryLater), Some(Status::Queued));
        assert_eq!(target(Status::Queued, Move::GiveUp), Some(Status::Failed));
        for from in [Status::Sent, Status::Failed] {
            for m in [Move::Accepted, Move::RetryLater, Move::GiveUp] {
                assert_eq!(target(from, m), None, "{from} {m:?}");
            }
        }
    }

    #[test]
    fn retries_back_off_fourfold_from_thirty_seconds() {
        let secs: Vec<i64> = (1..=4).map(|a| backoff(a).num_seconds()).collect();
        assert_eq!(secs, vec![30, 120, 480, 1920]);
    }
}
