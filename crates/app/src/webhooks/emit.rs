//! Emitting events: [`emit`] queues one delivery per subscribed endpoint, in the caller's
//! transaction and in one statement (no round trip for endpoints first). It reads the master
//! switch (`webhooksEnabled`) from the stored settings in the same statement, so a change that
//! commits emits exactly what the committed settings and endpoints say; callers holding the
//! settings skip the statement altogether while webhooks are off ([`on`]).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::EventType;
use crate::alerts::NewAlert;
use crate::jobs;
use crate::settings::Settings;
use crate::telemetry::mask_phone;
use crate::ussd::views::mask_code;

/// The job kind that sends one delivery.
pub const KIND: &str = "webhook.deliver";
/// Below customer SMS, above bulk work.
const PRIORITY: i16 = 3;

/// Whether webhooks are on in the settings this process holds: callers skip [`emit`] when not.
pub fn on(settings: &Settings) -> bool {
    settings.notifications.webhooks_enabled
}

/// An event as integrators receive it: `{id, type, createdAt, data}`.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventType,
    /// The same for every emission of one event (a redemption's id, a payout's), so an endpoint
    /// gets it once.
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub data: Value,
}

/// A redemption or payout as an event tells it.
#[derive(Debug, Clone)]
pub struct Payout<'a> {
    pub redemption_id: Uuid,
    pub disbursement_id: Uuid,
    pub amount: i64,
    pub currency: &'a str,
    /// In full: the event carries it masked.
    pub phone: &'a str,
}

impl Event {
    pub fn redemption_completed(p: &Payout<'_>, code: &str, awaiting_approval: bool, at: DateTime<Utc>) -> Self {
        Self {
            kind: EventType::RedemptionCompleted,
            id: p.redemption_id,
            at,
            data: json!({
                "redemptionId": p.redemption_id,
                "disbursementId": p.disbursement_id,
                "amount": p.amount,
                "currency": p.currency,
                "phoneMasked": mask_phone(p.phone),
                "codeMasked": mask_code(code),
                "payoutStatus": if awaiting_approval { "awaiting_approval" } else { "queued" },
            }),
        }
    }

    pub fn disbursement_completed(p: &Payout<'_>, momo_transaction_id: Option<&str>, at: DateTime<Utc>) -> Self {
        Self {
            kind: EventType::DisbursementCompleted,
            id: p.disbursement_id,
            at,
            data: json!({
                "disbursementId": p.disbursement_id,
                "redemptionId": p.redemption_id,
                "amount": p.amount,
                "currency": p.currency,
                "phoneMasked": mask_phone(p.phone),
                "momoTransactionId": momo_transaction_id,
            }),
        }
    }

    pub fn disbursement_failed(p: &Payout<'_>, reason: &str, at: DateTime<Utc>) -> Self {
        Self {
            kind: EventType::DisbursementFailed,
            id: p.disbursement_id,
            at,
            data: json!({
                "disbursementId": p.disbursement_id,
                "redemptionId": p.redemption_id,
                "amount": p.amount,
                "currency": p.currency,
                "phoneMasked": mask_phone(p.phone),
                "reason": reason,
            }),
        }
    }

    /// A new alert: its kind, severity and title (the body may name people; it stays inside).
    pub fn alert_raised(alert: &NewAlert, at: DateTime<Utc>) -> Self {
        Self {
            kind: EventType::AlertRaised,
            id: Uuid::new_v4(),
            at,
            data: json!({
                "kind": alert.kind,
                "severity": alert.severity.as_str(),
                "title": alert.title,
                "subject": alert.subject.as_ref().map(|(t, id)| json!({"type": t, "id": id})),
            }),
        }
    }

    pub fn test(at: DateTime<Utc>) -> Self {
        Self {
            kind: EventType::Test,
            id: Uuid::new_v4(),
            at,
            data: json!({"message": "A test event from MBELYCO Promo: this endpoint receives webhooks."}),
        }
    }

    /// The JSON body posted, stored with the delivery.
    pub fn body(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.kind.as_str(),
            "createdAt": self.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": self.data,
        })
    }
}

/// Queues `event` to every enabled, unpaused endpoint subscribed to it, or, with `only`, to that
/// one endpoint whatever it subscribes to (the test event). Returns how many deliveries were
/// queued: none while webhooks are off in the stored settings, none for an endpoint that already
/// has this event.
pub async fn emit_to(
    conn: &mut PgConnection,
    event: &Event,
    only: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let queued: Option<(i64, String)> = sqlx::query_as(
        r#"with d as (
             insert into webhook_deliveries (endpoint_id, event_id, event_type, payload, max_attempts,
                                             next_attempt_at, created_at, updated_at)
             select e.id, $1, $2, $3, e.retry_attempts + 1, $4, $4, $4
             from webhook_endpoints e
             where e.enabled and e.paused_at is null
               and (($5::uuid is null and e.events @> array[$2]::text[]) or e.id = $5)
               and exists (select 1 from system_settings s
                           where s.category = 'notifications' and s.key = 'webhooksEnabled'
                             and s.value = 'true'::jsonb)
             on conflict (endpoint_id, event_type, event_id) do nothing
             returning id, max_attempts),
           j as (
             insert into jobs (kind, payload, status, priority, max_attempts, run_at, created_at, updated_at)
             select $6, jsonb_build_object('deliveryId', d.id), 'queued', $7, d.max_attempts, $4, $4, $4 from d
             returning 1)
           select count(*), pg_notify($8, $6)::text from j having count(*) > 0"#,
    )
    .bind(event.id)
    .bind(event.kind.as_str())
    .bind(event.body())
    .bind(now)
    .bind(only)
    .bind(KIND)
    .bind(PRIORITY)
    .bind(jobs::READY_CHANNEL)
    .fetch_optional(&mut *conn)
    .await?;
    let n = queued.map_or(0, |(n, _)| u64::try_from(n).unwrap_or(0));
    tracing::debug!(event = event.kind.as_str(), id = %event.id, queued = n, "webhook event emitted");
    Ok(n)
}

/// [`emit_to`] every subscribed endpoint.
pub async fn emit(conn: &mut PgConnection, event: &Event, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    emit_to(conn, event, None, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_masked_phones_and_codes() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let p = Payout {
            redemption_id: Uuid::nil(),
            disbursement_id: Uuid::nil(),
            amount: 1000,
            currency: "RWF",
            phone: "+250788123456",
        };
        let body = Event::redemption_completed(&p, "ABCD-EF26-GH11-JK25", false, at).body();
        let text = body.to_string();
        assert!(!text.contains("788123456") && !text.contains("EF26"), "{text}");
        assert_eq!(body["type"], "redemption.completed");
        assert_eq!(body["data"]["codeMasked"], "ABCD-…-JK25");
        assert_eq!(body["createdAt"], "2027-01-15T08:00:00.000Z");
    }
}
