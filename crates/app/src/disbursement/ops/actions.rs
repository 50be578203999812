//! Approve, reject, retry and change the payee: the transitions people make on a payout
//! (DESIGN.md §3). Each locks the disbursement row, checks the state it is in, changes it and its
//! redemption, and audits — all in the caller's transaction. None creates an attempt row or
//! touches the MoMo reference: the worker makes a fresh reference only after MoMo has said FAILED
//! for the previous one, so putting a payout back in the queue can never pay it twice.

use serde::Serialize;
use serde_json::json;
use sqlx::{Acquire, PgConnection};
use uuid::Uuid;

use super::{check_reason, lock, not_from, Disbursement, REJECTED};
use crate::audit::{Action, Actor};
use crate::disbursement::state::{self, Change, Move, PayoutStatus};
use crate::error::{AppError, FieldError};
use crate::redemption::lifecycle::{self as redemption_lifecycle, RedemptionStatus};
use crate::redemption::Msisdn;
use crate::settings::model::PaymentSettings;
use crate::unit::{Acting, Unit, Wake};

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

/// `awaiting_approval → queued`, due now, with who approved it and when; wakes the worker.
pub async fn approve(unit: &mut Unit, id: Uuid, acting: &Acting) -> Result<Disbursement, AppError> {
    let conn: &mut PgConnection = unit;
    let approver = person(&acting.actor)?;
    let d = lock(conn, id).await?;
    if d.status != PayoutStatus::AwaitingApproval {
        return Err(not_from(d.status, "approved: only a payout awaiting approval can be"));
    }
    let audit = acting
        .audit(Action::DisbursementApproved, "disbursement", id)
        .before(json!({"status": d.status}))
        .after(json!({"status": PayoutStatus::Queued, "approvedBy": approver}))
        .metadata(json!({"redemptionId": d.redemption_id, "amount": d.amount, "currency": d.currency}));
    let after = moved(
        state::transition(
            conn,
            Move {
                id,
                from: &[d.status],
                change: Change::Approve { approver },
                audit: vec![audit],
                now: acting.now,
            },
        )
        .await?,
    )?;
    unit.wake(Wake::Payouts);
    Ok(after)
}

/// The row was locked and checked: a move that finds it elsewhere is a bug, said as a conflict.
fn moved(after: Option<Disbursement>) -> Result<Disbursement, AppError> {
    after.ok_or_else(|| AppError::conflict("status", "the payout changed meanwhile; look at it again"))
}

/// `awaiting_approval → failed` with `error_code = 'rejected'`; the redemption fails with it and
/// the code stays `used` (it is not paid, and it cannot be redeemed again). Integrators hear of it
/// as `disbursement.failed` (reason `rejected`) when webhooks are on.
pub async fn reject(
    conn: &mut PgConnection,
    id: Uuid,
    reason: &str,
    settings: &crate::settings::Settings,
    acting: &Acting,
) -> Result<Disbursement, AppError> {
    let reason = check_reason("reason", reason)?;
    let d = lock(conn, id).await?;
    if d.status != PayoutStatus::AwaitingApproval {
        return Err(not_from(d.status, "rejected: only a payout awaiting approval can be"));
    }
    let audit = acting
        .audit(Action::DisbursementRejected, "disbursement", id)
        .before(json!({"status": d.status}))
        .after(
            json!({"status": PayoutStatus::Failed, "errorCode": REJECTED, "redemptionStatus": RedemptionStatus::Failed,
            "codeStatus": "used"}),
        )
        .metadata(json!({"reason": reason, "redemptionId": d.redemption_id, "amount": d.amount}));
    let after = moved(
        state::transition(
            conn,
            Move {
                id,
                from: &[d.status],
                change: Change::Reject {
                    code: REJECTED,
                    message: &reason,
                },
                audit: Vec::new(),
                now: acting.now,
            },
        )
        .await?,
    )?;
    redemption_lifecycle::fail(conn, d.redemption_id, REJECTED, &reason, acting.now).await?;
    crate::audit::record(conn, &audit, acting.now).await?;
    if crate::webhooks::emit::on(settings) {
        let payout = crate::webhooks::emit::Payout {
            redemption_id: d.redemption_id,
            disbursement_id: id,
            amount: d.amount,
            currency: &d.currency,
            phone: &d.msisdn,
        };
        let event = crate::webhooks::Event::disbursement_failed(&payout, REJECTED, acting.now);
        crate::webhooks::emit(conn, &event, acting.now).await?;
    }
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
    let r_status: RedemptionStatus = sqlx::query_scalar("select status from redemptions where id = $1 for update")
        .bind(d.redemption_id)
        .fetch_one(&mut *conn)
        .await?;
    if r_status == RedemptionStatus::Reversed {
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
/// goes back to `pending`; wakes the worker. A payout an approver rejected is never retried.
pub async fn retry(
    unit: &mut Unit,
    id: Uuid,
    reason: &str,
    pay: &PaymentSettings,
    acting: &Acting,
) -> Result<Disbursement, AppError> {
    let reason = check_reason("reason", reason)?;
    let after = retry_checked(
        unit,
        Retry {
            id,
            reason: &reason,
            budget: attempt_budget(pay),
            operation: None,
        },
        acting,
    )
    .await?;
    unit.wake(Wake::Payouts);
    Ok(after)
}

/// One retry, its reason checked: the payout, why, its attempt budget and the bulk operation it
/// belongs to.
struct Retry<'a> {
    id: Uuid,
    reason: &'a str,
    budget: i32,
    operation: Option<Uuid>,
}

async fn retry_checked(conn: &mut PgConnection, r: Retry<'_>, acting: &Acting) -> Result<Disbursement, AppError> {
    let Retry {
        id,
        reason,
        budget,
        operation,
    } = r;
    let d = lock(conn, id).await?;
    if d.status != PayoutStatus::Failed {
        return Err(not_from(d.status, "retried: only a failed payout can be"));
    }
    if d.error_code.as_deref() == Some(REJECTED) {
        return Err(AppError::conflict(
            "status",
            "an approver rejected this payout: it is never paid",
        ));
    }
    check_redemption_open(conn, &d).await?;
    let after = moved(
        state::transition(
            conn,
            Move {
                id,
                from: &[d.status],
                change: Change::Requeue { max_attempts: budget },
                audit: Vec::new(),
                now: acting.now,
            },
        )
        .await?,
    )?;
    redemption_lifecycle::requeue(conn, d.redemption_id, acting.now).await?;
    let mut metadata = json!({"reason": reason, "redemptionId": d.redemption_id, "amount": d.amount});
    if let Some(op) = operation {
        metadata["operationId"] = json!(op);
    }
    crate::audit::record(
        conn,
        &acting
            .audit(Action::DisbursementRetried, "disbursement", id)
            .before(
                json!({"status": d.status, "attempts": d.attempts, "maxAttempts": d.max_attempts,
                "errorCode": d.error_code, "errorMessage": d.error_message}),
            )
            .after(json!({"status": after.status, "attempts": 0, "maxAttempts": budget,
                "redemptionStatus": RedemptionStatus::Pending}))
            .metadata(metadata),
        acting.now,
    )
    .await?;
    Ok(after)
}

/// What happened to one payout of a bulk retry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkOutcome {
    pub id: Uuid,
    pub outcome: BulkResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What a bulk retry did with one payout (`retried`, `refused` or `not_found` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkResult {
    Retried,
    Refused,
    NotFound,
}

/// Most payouts one bulk retry takes.
pub const BULK_MAX: usize = 500;

/// Retries each payout in its own savepoint of the caller's transaction: a refused one (not
/// failed, rejected, reversed…) is skipped and reported, the others are retried. Every audit row
/// carries the same `operationId`.
pub async fn bulk_retry(
    unit: &mut Unit,
    ids: &[Uuid],
    reason: &str,
    pay: &PaymentSettings,
    acting: &Acting,
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
    let conn: &mut PgConnection = unit;
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        let mut sp = Acquire::begin(&mut *conn).await?;
        let one = Retry {
            id,
            reason: &reason,
            budget,
            operation: Some(operation),
        };
        match retry_checked(&mut sp, one, acting).await {
            Ok(_) => {
                sp.commit().await?;
                out.push(BulkOutcome {
                    id,
                    outcome: BulkResult::Retried,
                    reason: None,
                });
            }
            Err(e) => {
                sp.rollback().await?;
                let (outcome, reason) = match e {
                    AppError::NotFound(_) => (BulkResult::NotFound, "no such payout".to_owned()),
                    AppError::Conflict { message, .. } => (BulkResult::Refused, message),
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
    if out.iter().any(|o| o.outcome == BulkResult::Retried) {
        unit.wake(Wake::Payouts);
    }
    Ok(out)
}

/// The payee of a `payee_invalid` payout becomes another MTN Rwanda number the customer gave:
/// `payee_invalid → queued`, due now, the payee check to be made again, a fresh retry budget;
/// wakes the worker.
pub async fn change_payee(
    unit: &mut Unit,
    id: Uuid,
    payee: &NewPayee,
    pay: &PaymentSettings,
    acting: &Acting,
) -> Result<Disbursement, AppError> {
    let (msisdn, reason) = (payee.msisdn.as_str(), payee.reason.as_str());
    let now = acting.now;
    let conn: &mut PgConnection = unit;
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
    if d.status != PayoutStatus::PayeeInvalid {
        return Err(not_from(
            d.status,
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
    let momo = number.momo();
    let after = moved(
        state::transition(
            conn,
            Move {
                id,
                from: &[d.status],
                change: Change::NewPayee {
                    msisdn: momo,
                    max_attempts: attempt_budget(pay),
                },
                audit: Vec::new(),
                now,
            },
        )
        .await?,
    )?;
    redemption_lifecycle::requeue(conn, d.redemption_id, now).await?;
    // the alert that asked for another number has its answer
    let alert_closed = crate::alerts::close(conn, &format!("payout.payee_invalid:{id}"), acting.user_id(), now).await?;
    crate::audit::record(
        conn,
        &acting
            .audit(Action::DisbursementPayeeChanged, "disbursement", id)
            .before(json!({"msisdn": d.msisdn, "status": d.status, "errorCode": d.error_code}))
            .after(json!({"msisdn": after.msisdn, "status": after.status}))
            .metadata(json!({"reason": reason, "redemptionId": d.redemption_id, "alertClosed": alert_closed})),
        now,
    )
    .await?;
    unit.wake(Wake::Payouts);
    Ok(after)
}

/// Another number for a `payee_invalid` payout, and why: the API's body (`{msisdn, reason}`,
/// nothing else) and the page's form, parsed at the edge.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPayee {
    #[serde(default)]
    pub msisdn: String,
    #[serde(default)]
    pub reason: String,
}
