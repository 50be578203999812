//! An alert's timeline (`alert_events`): one row per step — raised, acknowledged, escalated,
//! snoozed, resolved — and one per delivery attempt (channel, recipient, outcome), written by the
//! lifecycle and, later, by the delivery jobs through [`record_delivery`]. A repeat of the alert
//! writes no row: the alert keeps the count (`occurrences`, `last_seen_at`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// `alert_events.kind` (`alert_events_kind_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Raised,
    Acknowledged,
    Escalated,
    Snoozed,
    Resolved,
    Delivery,
}

impl EventKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Raised => "raised",
            EventKind::Acknowledged => "acknowledged",
            EventKind::Escalated => "escalated",
            EventKind::Snoozed => "snoozed",
            EventKind::Resolved => "resolved",
            EventKind::Delivery => "delivery",
        }
    }
}

/// Writes one step of the alert's timeline, in the caller's transaction.
pub async fn record(
    conn: &mut PgConnection,
    alert_id: Uuid,
    kind: EventKind,
    actor: Option<Uuid>,
    note: Option<&str>,
    detail: &Value,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into alert_events (alert_id, kind, at, actor_user_id, note, detail) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(alert_id)
    .bind(kind.as_str())
    .bind(now)
    .bind(actor)
    .bind(note)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// One delivery of an alert through a channel, as the delivery job saw it end.
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    /// `email`, `sms`, `webhook`, …
    pub channel: &'a str,
    /// Who or where (an address, a masked number, an endpoint's name).
    pub recipient: &'a str,
    /// `sent`, `delivered`, `failed`, `retrying`, …
    pub outcome: &'a str,
    /// What else the channel said (a provider's message id, an error).
    pub detail: Value,
}

/// Writes a delivery row on the alert's timeline (for the delivery jobs).
pub async fn record_delivery(
    conn: &mut PgConnection,
    alert_id: Uuid,
    d: &Delivery<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into alert_events (alert_id, kind, at, channel, recipient, outcome, detail) \
         values ($1, 'delivery', $2, $3, $4, $5, $6)",
    )
    .bind(alert_id)
    .bind(now)
    .bind(d.channel)
    .bind(d.recipient)
    .bind(d.outcome)
    .bind(&d.detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// One step of the timeline as the detail page and the API show it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertEvent {
    /// `raised`, `acknowledged`, `escalated`, `snoozed`, `resolved` or `delivery`.
    pub kind: String,
    pub at: DateTime<Utc>,
    /// Who did it (none: the system).
    pub actor: Option<String>,
    pub note: Option<String>,
    #[schema(value_type = Object)]
    pub detail: Value,
    /// Deliveries: the channel, the recipient and how it ended.
    pub channel: Option<String>,
    pub recipient: Option<String>,
    pub outcome: Option<String>,
}

/// The alert's timeline, oldest first.
pub async fn of(conn: &mut PgConnection, alert_id: Uuid) -> Result<Vec<AlertEvent>, sqlx::Error> {
    sqlx::query_as(
        r#"select e.kind, e.at, coalesce(nullif(u.full_name, ''), u.email::text) as actor, e.note, e.detail,
                  e.channel, e.recipient, e.outcome
           from alert_events e left join users u on u.id = e.actor_user_id
           where e.alert_id = $1 order by e.id"#,
    )
    .bind(alert_id)
    .fetch_all(conn)
    .await
}
