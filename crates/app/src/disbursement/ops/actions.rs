//! Approve, reject, retry and change the payee: the transitions people make on a payout
//! (DESIGN.md §3). Each locks the disbursement row, checks the state it is in, changes it and its
//! redemption, and audits — all in the caller's transaction. None creates an attempt row or
//! touches the MoMo reference: the worker makes a fresh reference only after MoMo has said FAILED
//! for the previous one, so putting a payout back in the queue can never pay it twice.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::{Acquire, PgConnection};
use uuid::Uuid;

use super::{check_reason, lock, not_from, Disbursement, COLUMNS, REJECTED};
use crate::audit::{self, Action, Actor, AuditEvent, RequestMeta};
use crate::disbursement::status;
use crate::error::{AppError, FieldError};
use crate::redemption::Msisdn;
use crate::settings::model::PaymentSettings;

/// How many attempts a payout put back in the queue gets: the first plus the retries the
/// settings allow (at most 5 retries).
pub fn attempt_budget(pay: &PaymentSettings) -> i32 {
    (pay.max_retry_attempts.min(5) + 1) as i32
}

fn person(actor: &Actor) -> Result<Uuid, AppError> {
    actor
        .user_id()
        .ok_or_else(|| AppError::conflict("actor", "a person must do this"))
}

/// `awaiting_approval → queued`, due now, with who approved it and when.
pub async fn approve(
    conn: &mut PgConnection,
    id: Uuid,
    actor: Actor,
    meta: RequestMeta,
    now: DateTime<Utc>,
) -> Result<Disbursement, AppError> {
    let approver = person(&actor)?;
    let d = lock(conn, id).await?;
    if d.status != status::AWAITING_APPROVAL {
        return Err(not_from(&d.status, "approved: only a payout awaiting approval can be"));
    }
    let after: Disbursement = sqlx::query_as(&format!(
        "update disbursements set status = 'queued', next_attempt_at = $2, approved_by_user_id = $3, \
           approved_at = $2, held_reason = null, updated_at = $2 \
         where id = $1 returning {COLUMNS}"
    ))
    .bind(id)
    .bind(now)
    .bind(approver)
    .fetch_one(&mut *conn)
    .await?;
    audit::record(
        conn,
        &AuditEvent::new(actor, Action::DisbursementApproved, "disbursement", id)
            .before(json!({"status": d.status}))
            .after(json!({"status": after.status, "approvedBy": approver}))
            .metadata(json!({"redemptionId": d.redemption_id, "amount": d.amount, "currency": d.currency}))
            .meta(meta),
        now,
    )
    .await?;
    Ok(after)
}

/// `awaiting_approval → failed` with `error_code = 'rejected'`; the redemption fails with it and
/// the code stays `used` (it is not paid, and it cannot be redeemed again).
pub async fn reject(
    conn: &mut PgConnection,
    id: Uuid,
    reason: &str,
    actor: Actor,
    meta: RequestMeta,
    now: DateTime<Utc>,
) -> Result<Disbursement, AppError> {
    let reason = check_reason("reason", reason)?;
    let d = lock(conn, id).await?;
    if d.status != status::AWAITING_APPROVAL {
        return Err(not_from(&d.status, "rejected: only a payout awaiting approval can be"));
    }
    let after: Disbursement = sqlx::query_as(&format!(
        "update disbursements set status = 'failed', error_code = $2, error_message = $3, held_reason = null, \
           updated_at = $4 where id = $1 returning {COLUMNS}"
    ))
    .bind(id)
    .bind(REJECTED)
    .bind(&reason)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("update redemptions set status = 'failed', error_code = $2, error_message = $3 where id = $1")
        .bind(d.redemption_id)
        .bind(REJECTED)
        .bind(&reason)
        .execute(&mut *conn)
        .await?;
    audit::record(
        conn,
        &AuditEvent::new(actor, Action::DisbursementRejected, "disbursement", id)
            .before(json!({"status": d.status}))
            .after(
                json!({"status": after.status, "errorCode": REJECTED, "redemptionStatus": "failed",
                "codeStatus": "used"}),
            )
            .metadata(json!({"reason": reason, "redemptionId": d.redemption_id, "amount": d.amount}))
            .meta(meta),
        now,
    )
    .await?;
    Ok(after)
}

/// Whether a person is deciding on a reversal of this redemption (retries and payee changes
/// wait for that decision).
async fn reversal_pending(conn: &mut PgConnection, redemption_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from redemption_reversals where redemption_id = $1 and status = 'pending')",
    )
    .bind(redemption_id)
    .fetch_one(conn)
    .await
}

/// Refusals shared by retry and payee change: a reversed redemption, or one being reversed.
async fn check_redemption_open(conn: &mut PgConnection, d: &Disbursement) -> Result<(), AppError> {
    let r_status: String = sqlx::query_scalar("select status from redemptions where id = $1 for update")
        .bind(d.redemption_id)
        .fetch_one(&mut *conn)
        .await?;
    if r_status == "reversed" {
        return Err(AppError::conflict(
            "status",
            "the redemption was reversed: its payout is never made",
        ));
    }
    if reversal_pending(conn, d.redemption_id).await? {
        return Err(AppError::conflict(
            "status",
            "a reversal of this redemption is waiting for a decision; reject it first",
        ));
    }
    Ok(())
}

/// `failed → queued`, due now, with a fresh retry budget and the error cleared; the redemption
/// goes back to `pending`. A payout an approver rejected is never retried.
pub async fn retry(
    conn: &mut PgConnection,
    id: Uuid,
    reason: &str,
    pay: &PaymentSettings,
    actor: Actor,
    meta: RequestMeta,
    now: DateTime<Utc>,
) -> Result<Disbursement, AppError> {
    let reason = check_reason("reason", reason)?;
    retry_checked(conn, id, &reason, attempt_budget(pay), None, actor, meta, now).await
}

#[expect(
    clippy::too_many_arguments,
    reason = "the retry, its reason, budget, bulk operation and audit context"
)]
async fn retry_checked(
    conn: &mut PgConnection,
    id: Uuid,
    reason: &str,
    budget: i32,
    operation: Option<Uuid>,
    actor: Actor,
    meta: RequestMeta,
    now: DateTime<Utc>,
) -> Result<Disbursement, AppError> {
    let d = lock(conn, id).await?;
    if d.status != status::FAILED {
        return Err(not_from(&d.status, "retried: only a failed payout can be"));
    }
    if d.error_code.as_deref() == Some(REJECTED) {
        return Err(AppError::conflict(
            "status",
            "an approver rejected this payout: it is never paid",
        ));
    }
    check_redemption_open(conn, &d).await?;
    let after: Disbursement = sqlx::query_as(&format!(
        "update disbursements set status = 'queued', attempts = 0, max_attempts = $2, next_attempt_at = $3, \
           error_code = null, error_message = null, held_reason = null, lease_owner = null, \
           lease_expires_at = null, updated_at = $3 \
         where id = $1 returning {COLUMNS}"
    ))
    .bind(id)
    .bind(budget)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("update redemptions set status = 'pending', error_code = null, error_message = null where id = $1")
        .bind(d.redemption_id)
        .execute(&mut *conn)
        .await?;
    let mut metadata = json!({"reason": reason, "redemptionId": d.redemption_id, "amount": d.amount});
    if let Some(op) = operation {
        metadata["operationId"] = json!(op);
    }
    audit::record(
        conn,
        &AuditEvent::new(actor, Action::DisbursementRetried, "disbursement", id)
            .before(
                json!({"status": d.status, "attempts": d.attempts, "maxAttempts": d.max_attempts,
                "errorCode": d.error_code, "errorMessage": d.error_message}),
            )
            .after(json!({"status": after.status, "attempts": 0, "maxAttempts": budget,
                "redemptionStatus": "pending"}))
            .metadata(metadata)
            .meta(meta),
        now,
    )
    .await?;
    Ok(after)
}

/// What happened to one payout of a bulk retry.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkOutcome {
    pub id: Uuid,
    /// `retried`, `refused` or `not_found`.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Most payouts one bulk retry takes.
pub const BULK_MAX: usize = 500;

/// Retries each payout in its own savepoint of the caller's transaction: a refused one (not
/// failed, rejected, reversed…) is skipped and reported, the others are retried. Every audit row
/// carries the same `operationId`.
pub async fn bulk_retry(
    conn: &mut PgConnection,
    ids: &[Uuid],
    reason: &str,
    pay: &PaymentSettings,
    actor: Actor,
    meta: RequestMeta,
    now: DateTime<Utc>,
) -> Result<Vec<BulkOutcome>, AppError> {
    let mut errors = Vec::new();
    let mut unique = ids.to_vec();
    unique.sort();
    unique.dedup();
    if ids.is_empty() || ids.len() > BULK_MAX {
        errors.push(FieldError::new("ids", format!("choose 1 to {BULK_MAX} payouts")));
    } else if unique.len() != ids.len() {
        errors.push(FieldError::new("ids", "names a payout more than once"));
    }
    let reason = match check_reason("reason", reason) {
        Ok(r) => Some(r),
        Err(AppError::Validation(mut e)) => {
            errors.append(&mut e);
            None
        }
        Err(e) => return Err(e),
    };
    let Some(reason) = reason.filter(|_| errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let operation = Uuid::new_v4();
    let budget = attempt_budget(pay);
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        let mut sp = Acquire::begin(&mut *conn).await?;
        match retry_checked(&mut sp, id, &reason, budget, Some(operation), actor, meta.clone(), now).await {
            Ok(_) => {
                sp.commit().await?;
                out.push(BulkOutcome {
                    id,
                    outcome: "retried",
                    reason: None,
                });
            }
            Err(e) => {
                sp.rollback().await?;
                let (outcome, reason) = match e {
                    AppError::NotFound(_) => ("not_found", "no such payout".to_owned()),
                    AppError::Conflict { message, .. } => ("refused", message),
                    other => return Err(other),
                };
                out.push(BulkOutcome {
                    id,
                    outcome,
                    reason: Some(reason),
                });
            }
        }
    }
    Ok(out)
}

/// The payee of a `payee_invalid` payout becomes another MTN Rwanda number the customer gave:
/// `payee_invalid → queued`, due now, the payee check to be made again, a fresh retry budget.
#[expect(
    clippy::too_many_arguments,
    reason = "the payout, the new number, why, and the audit context"
)]
pub async fn change_payee(
    conn: &mut PgConnection,
    id: Uuid,
    msisdn: &str,
    reason: &str,
    pay: &PaymentSettings,
    actor: Actor,
    meta: RequestMeta,
    now: DateTime<Utc>,
) -> Result<Disbursement, AppError> {
    let mut errors = Vec::new();
    let number = match Msisdn::parse(msisdn) {
        Ok(m) if m.payable_in(&pay.momo_target_environment) => Some(m),
        Ok(_) => {
            errors.push(FieldError::new(
                "msisdn",
                "must be an MTN Rwanda number (078 or 079): MoMo pays MTN wallets only",
            ));
            None
        }
        Err(_) => {
            errors.push(FieldError::new(
                "msisdn",
                "a phone number looks like 0788123456 or +250788123456",
            ));
            None
        }
    };
    let reason = match check_reason("reason", reason) {
        Ok(r) => r,
        Err(AppError::Validation(mut e)) => {
            errors.append(&mut e);
            String::new()
        }
        Err(e) => return Err(e),
    };
    let Some(number) = number.filter(|_| errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let d = lock(conn, id).await?;
    if d.status != status::PAYEE_INVALID {
        return Err(not_from(
            &d.status,
            "given another payee: only a payout whose payee has no MoMo wallet can be",
        ));
    }
    if number.momo() == d.msisdn {
        return Err(AppError::field(
            "msisdn",
            "is the number without a MoMo wallet; give the customer's other MTN number",
        ));
    }
    check_redemption_open(conn, &d).await?;
    let after: Disbursement = sqlx::query_as(&format!(
        "update disbursements set msisdn = $2, payee_checked_at = null, status = 'queued', next_attempt_at = $3, \
           attempts = 0, max_attempts = $4, error_code = null, error_message = null, held_reason = null, \
           lease_owner = null, lease_expires_at = null, updated_at = $3 \
         where id = $1 returning {COLUMNS}"
    ))
    .bind(id)
    .bind(number.momo())
    .bind(now)
    .bind(attempt_budget(pay))
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "update redemptions set status = 'pending', error_code = null, error_message = null \
         where id = $1 and status = 'failed'",
    )
    .bind(d.redemption_id)
    .execute(&mut *conn)
    .await?;
    // the alert that asked for another number has its answer
    let alert_closed = crate::alerts::close(conn, &format!("payout.payee_invalid:{id}"), actor.user_id(), now).await?;
    audit::record(
        conn,
        &AuditEvent::new(actor, Action::DisbursementPayeeChanged, "disbursement", id)
            .before(json!({"msisdn": d.msisdn, "status": d.status, "errorCode": d.error_code}))
            .after(json!({"msisdn": after.msisdn, "status": after.status}))
            .metadata(json!({"reason": reason, "redemptionId": d.redemption_id, "alertClosed": alert_closed}))
            .meta(meta),
        now,
    )
    .await?;
    Ok(after)
}
