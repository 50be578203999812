//! What people do with payouts, and what they read about them (issue #6, PRD 2.6 and 4).
//!
//! Every operation runs in the caller's unit of work ([`crate::unit::Unit`]) and writes its audit
//! rows there, so the change and its record commit together; one that makes a payout due asks the
//! unit to wake the payout worker once it has committed. The moves themselves are
//! [`super::state`]'s.
//! Handlers check permissions; these functions check the state machine (DESIGN.md §3): a
//! transition not allowed from the current state is a 409 naming `status`, bad input a 422
//! naming the field, and nothing changes.
//!
//! - [`actions`]: approve or reject a held payout, retry a failed one (single or bulk), change
//!   the payee of a `payee_invalid` one.
//! - [`reversal`]: reverse a redemption whose payout failed for good, requested by one person
//!   and approved or rejected by another.
//! - [`query`], [`views`], [`stats`], [`redemptions`]: the read models behind the pages and the
//!   API (filters, search, pagination, detail with every attempt, statistics).
//! - [`export`]: the CSV and PDF exports of payouts and redemptions, streamed.

pub mod actions;
pub mod disclosure;
pub mod export;
pub mod query;
pub mod redemptions;
pub mod reversal;
pub mod stats;
pub mod views;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

pub use actions::{approve, bulk_retry, change_payee, reject, retry, BulkOutcome, BulkResult, NewPayee};
pub use reversal::{decide_reversal, request_reversal, Decision};

use crate::disbursement::state::PayoutStatus;
use crate::error::AppError;
use crate::web::extract::FormPairs;

/// A disbursement row as the operations and the detail view read it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Disbursement {
    pub id: Uuid,
    pub redemption_id: Uuid,
    /// MoMo's form, without `+` (`250788123456`).
    pub msisdn: String,
    pub amount: i64,
    pub currency: String,
    pub status: PayoutStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub momo_transaction_id: Option<String>,
    pub momo_reference: Option<Uuid>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub held_reason: Option<String>,
    pub payee_checked_at: Option<DateTime<Utc>>,
    pub approved_by_user_id: Option<Uuid>,
    pub approved_at: Option<DateTime<Utc>>,
    pub disbursed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) const COLUMNS: &str = "id, redemption_id, msisdn, amount, currency, status, attempts, max_attempts, \
     next_attempt_at, last_attempt_at, momo_transaction_id, momo_reference, error_code, error_message, held_reason, \
     payee_checked_at, approved_by_user_id, approved_at, disbursed_at, created_at, updated_at";

/// `error_code` of a payout an approver rejected: it is never paid, not even by a retry.
pub const REJECTED: &str = "rejected";

/// The disbursement, locked for the rest of the caller's transaction (the worker claims rows
/// with `SKIP LOCKED`, so it passes over a row a person is changing).
pub(crate) async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Disbursement, AppError> {
    sqlx::query_as(&format!("select {COLUMNS} from disbursements where id = $1 for update"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("disbursement"))
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Disbursement, AppError> {
    sqlx::query_as(&format!("select {COLUMNS} from disbursements where id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("disbursement"))
}

/// The disbursement of a redemption (exactly one per redemption).
pub async fn id_for_redemption(conn: &mut PgConnection, redemption_id: Uuid) -> Result<Uuid, AppError> {
    sqlx::query_scalar("select id from disbursements where redemption_id = $1")
        .bind(redemption_id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("redemption"))
}

/// A reason a person gives for an action: 3 to 500 characters after trimming.
pub fn check_reason(field: &'static str, reason: &str) -> Result<String, AppError> {
    let r = reason.trim();
    let n = r.chars().count();
    if !(3..=500).contains(&n) {
        return Err(AppError::field(field, "say why in 3 to 500 characters"));
    }
    if r.chars().any(|c| c.is_control() && c != '\n') {
        return Err(AppError::field(field, "must be plain text"));
    }
    Ok(r.to_owned())
}

/// `{reason}`: why a person acts (reject, retry, ask for a reversal), from the API's body or a
/// page's form.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReasonCmd {
    #[serde(default)]
    pub reason: String,
}

/// `{note?}`: what a person deciding on a reversal adds.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NoteCmd {
    pub note: Option<String>,
}

impl From<&FormPairs> for ReasonCmd {
    fn from(form: &FormPairs) -> Self {
        ReasonCmd {
            reason: form.get("reason").unwrap_or_default().to_owned(),
        }
    }
}

impl From<&FormPairs> for NoteCmd {
    fn from(form: &FormPairs) -> Self {
        NoteCmd {
            note: form.get("note").map(str::to_owned),
        }
    }
}

impl From<&FormPairs> for NewPayee {
    fn from(form: &FormPairs) -> Self {
        NewPayee {
            msisdn: form.get("msisdn").unwrap_or_default().to_owned(),
            reason: form.get("reason").unwrap_or_default().to_owned(),
        }
    }
}

/// A 409 for a transition the state machine does not allow from `status`.
pub(crate) fn not_from(status: PayoutStatus, what: &str) -> AppError {
    AppError::conflict("status", format!("a payout that is {status} cannot be {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_trimmed_and_bounded() {
        assert_eq!(check_reason("reason", "  MoMo was down  ").unwrap(), "MoMo was down");
        assert!(check_reason("reason", " ab ").is_err());
        assert!(check_reason("reason", &"x".repeat(501)).is_err());
        assert!(check_reason("reason", "bad\u{0}byte").is_err());
    }
}
