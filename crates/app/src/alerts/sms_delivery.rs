//! What became of each customer SMS: the `messageId` Africa's Talking gave it when the `sms.send`
//! job sent it ([`record_sent`]), and the delivery reports AT posts since
//! (`POST /api/v1/webhooks/ussd/delivery`, [`apply_report`]). Owns `sms_messages`.
//!
//! A report moves a message forward only ([`DeliveryStatus::moves_to`]): reports may arrive late,
//! twice or out of order, and a final status (Rejected, Success, Failed) stays. A report for a
//! message we do not know is answered 200 all the same (AT would retry it otherwise) and logged.
//! Nothing is audited: an SMS changes no money or code.

use africastalking::sms::{DeliveryReport, DeliveryStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{AppError, FieldError};
use crate::telemetry::mask_phone;

/// A delivery report, parsed at the edge: the message and its new status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub message_id: String,
    pub status: DeliveryStatus,
    pub failure_reason: Option<String>,
    pub network_code: Option<String>,
    pub retry_count: Option<i32>,
}

impl TryFrom<DeliveryReport> for Report {
    type Error = AppError;

    /// `id` and a known `status` are required; the rest is kept when present.
    fn try_from(r: DeliveryReport) -> Result<Self, AppError> {
        let short = |s: Option<String>| {
            s.map(|v| v.trim().chars().take(200).collect::<String>())
                .filter(|v| !v.is_empty())
        };
        let mut errors = Vec::new();
        let message_id = short(r.id.clone()).filter(|id| !id.contains('\0'));
        if message_id.is_none() {
            errors.push(FieldError::new("id", "the messageId of the SMS is required"));
        }
        let status = r.delivery_status();
        if status.is_none() {
            errors.push(FieldError::new(
                "status",
                "must be Sent, Submitted, Buffered, Rejected, Success or Failed",
            ));
        }
        let retry_count = r.retries().and_then(|n| i32::try_from(n).ok());
        match (message_id, status) {
            (Some(message_id), Some(status)) => Ok(Report {
                message_id,
                status,
                failure_reason: short(r.failure_reason).filter(|s| !s.contains('\0')),
                network_code: short(r.network_code).filter(|s| !s.contains('\0')),
                retry_count,
            }),
            _ => Err(AppError::Validation(errors)),
        }
    }
}

fn status_of(text: &str) -> Result<DeliveryStatus, AppError> {
    DeliveryStatus::parse(text)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("sms_messages holds an unknown status {text:?}")))
}

/// Records a message AT accepted (status Sent), once per `messageId`.
pub async fn record_sent(
    conn: &mut PgConnection,
    message_id: &str,
    redemption_id: Option<Uuid>,
    phone_number: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into sms_messages (message_id, redemption_id, phone_number, delivery_status, status_at, sent_at) \
         values ($1, $2, $3, $4, $5, $5) on conflict (message_id) do nothing",
    )
    .bind(message_id)
    .bind(redemption_id)
    .bind(phone_number)
    .bind(DeliveryStatus::Sent.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// What a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// No message with that id.
    Unknown,
    /// The message moved to the report's status.
    Moved { from: DeliveryStatus },
    /// Late, repeated, or after a final status: kept as it was.
    Kept { status: DeliveryStatus },
}

/// Applies one report in the caller's transaction (the message row locked).
pub async fn apply_report(conn: &mut PgConnection, r: &Report, now: DateTime<Utc>) -> Result<Applied, AppError> {
    let row: Option<(Uuid, String)> =
        sqlx::query_as("select id, delivery_status from sms_messages where message_id = $1 for update")
            .bind(&r.message_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((id, current)) = row else {
        tracing::warn!(message_id = %r.message_id, status = %r.status, "delivery report for an SMS we did not send; acknowledged");
        return Ok(Applied::Unknown);
    };
    let current = status_of(&current)?;
    sqlx::query("update sms_messages set reports = reports + 1 where id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if !current.moves_to(r.status) {
        tracing::info!(message_id = %r.message_id, kept = %current, reported = %r.status, "SMS delivery report changes nothing");
        return Ok(Applied::Kept { status: current });
    }
    sqlx::query(
        "update sms_messages set delivery_status = $2, status_at = $3, failure_reason = coalesce($4, failure_reason), \
           network_code = coalesce($5, network_code), retry_count = coalesce($6, retry_count) where id = $1",
    )
    .bind(id)
    .bind(r.status.as_str())
    .bind(now)
    .bind(&r.failure_reason)
    .bind(&r.network_code)
    .bind(r.retry_count)
    .execute(&mut *conn)
    .await?;
    tracing::info!(message_id = %r.message_id, from = %current, to = %r.status, "SMS delivery status");
    Ok(Applied::Moved { from: current })
}

/// A payout confirmation SMS as the payout's detail shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SmsView {
    pub message_id: String,
    /// Masked.
    pub phone_number: String,
    /// `Sent`, `Submitted`, `Buffered`, `Rejected`, `Success` or `Failed`.
    pub status: String,
    pub is_final: bool,
    pub status_at: DateTime<Utc>,
    pub failure_reason: Option<String>,
    pub sent_at: DateTime<Utc>,
}

/// The latest confirmation SMS of a redemption's payout, if one was sent.
pub async fn for_redemption(conn: &mut PgConnection, redemption_id: Uuid) -> Result<Option<SmsView>, AppError> {
    type Row = (String, String, String, DateTime<Utc>, Option<String>, DateTime<Utc>);
    let row: Option<Row> = sqlx::query_as(
        "select message_id, phone_number, delivery_status, status_at, failure_reason, sent_at from sms_messages \
         where redemption_id = $1 order by sent_at desc limit 1",
    )
    .bind(redemption_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(message_id, phone, status, status_at, failure_reason, sent_at)| {
        let s = status_of(&status)?;
        Ok(SmsView {
            message_id,
            phone_number: mask_phone(&phone),
            status: s.as_str().to_owned(),
            is_final: s.is_final(),
            status_at,
            failure_reason,
            sent_at,
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: Option<&str>, status: Option<&str>) -> DeliveryReport {
        DeliveryReport {
            id: id.map(Into::into),
            status: status.map(Into::into),
            retry_count: Some("2".into()),
            ..DeliveryReport::default()
        }
    }

    #[test]
    fn a_report_needs_an_id_and_a_known_status() {
        let r = Report::try_from(report(Some("ATXid_1"), Some("Success"))).unwrap();
        assert_eq!((r.status, r.retry_count), (DeliveryStatus::Success, Some(2)));
        let Err(AppError::Validation(e)) = Report::try_from(report(None, Some("Nope"))) else {
            panic!("refused")
        };
        let fields: Vec<&str> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["id", "status"]);
        assert!(Report::try_from(report(Some("  "), Some("Sent"))).is_err());
    }
}
