//! Reversing a redemption whose payout failed for good (DESIGN.md §3): one person asks, with a
//! reason; a different person approves or rejects (the table's check refuses the same person,
//! and this module says so first, as a 409). Approval makes the redemption `reversed` and the
//! code `blocked` — a code has at most one redemption, so it can never pay again — with the
//! reason in the code's history; the disbursement stays `failed`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{check_reason, id_for_redemption, lock, Disbursement};
use crate::audit::{self, Action};
use crate::codes::lifecycle::{self as code_lifecycle, CodeStatus, ReversalBlock};
use crate::disbursement::state::{self, Change, Move, PayoutStatus, ReversalStatus};
use crate::error::{on_constraint, AppError};
use crate::redemption::lifecycle::{self as redemption_lifecycle, RedemptionStatus};
use crate::unit::Acting;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reversal {
    pub id: Uuid,
    pub redemption_id: Uuid,
    pub requested_by_user_id: Uuid,
    pub reason: String,
    pub status: ReversalStatus,
    pub decided_by_user_id: Option<Uuid>,
    pub decision_note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, redemption_id, requested_by_user_id, reason, status, decided_by_user_id, decision_note, \
     created_at, decided_at";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Reject,
}

fn second_person() -> AppError {
    AppError::conflict(
        "reversal",
        "a reversal needs a second person: you asked for this one, so someone else must approve or reject it",
    )
}

fn already_pending() -> AppError {
    AppError::conflict(
        "reversal",
        "a reversal of this redemption is already waiting for a decision",
    )
}

/// Whether the payout failed for good: `failed`, or `payee_invalid` (the customer has no other
/// MTN number to give).
fn failed_for_good(d: &Disbursement) -> bool {
    d.status.failed_for_good()
}

/// Locks the redemption's payout and the redemption (in that order, as every operation here
/// does) and returns the payout and the redemption's status and code.
async fn lock_both(
    conn: &mut PgConnection,
    redemption_id: Uuid,
) -> Result<(Disbursement, RedemptionStatus, Uuid), AppError> {
    let did = id_for_redemption(conn, redemption_id).await?;
    let d = lock(conn, did).await?;
    let (r_status, code_id): (RedemptionStatus, Uuid) =
        sqlx::query_as("select status, promo_code_id from redemptions where id = $1 for update")
            .bind(redemption_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok((d, r_status, code_id))
}

/// Asks for the reversal of a redemption whose payout failed for good.
pub async fn request_reversal(
    conn: &mut PgConnection,
    redemption_id: Uuid,
    reason: &str,
    acting: &Acting,
) -> Result<Reversal, AppError> {
    let now = acting.now;
    let reason = check_reason("reason", reason)?;
    let who = acting
        .user_id()
        .ok_or_else(|| AppError::conflict("actor", "a person must ask"))?;
    let (d, r_status, _) = lock_both(conn, redemption_id).await?;
    if r_status == RedemptionStatus::Reversed {
        return Err(AppError::conflict("status", "the redemption is already reversed"));
    }
    if !failed_for_good(&d) {
        return Err(AppError::conflict(
            "status",
            format!(
                "only a redemption whose payout failed for good can be reversed; this payout is {}",
                d.status
            ),
        ));
    }
    let pending: bool = sqlx::query_scalar(
        "select exists (select 1 from redemption_reversals where redemption_id = $1 and status = 'pending')",
    )
    .bind(redemption_id)
    .fetch_one(&mut *conn)
    .await?;
    if pending {
        return Err(already_pending());
    }
    let r: Reversal = sqlx::query_as(&format!(
        "insert into redemption_reversals (redemption_id, requested_by_user_id, reason, created_at) \
         values ($1, $2, $3, $4) returning {COLUMNS}"
    ))
    .bind(redemption_id)
    .bind(who)
    .bind(&reason)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| on_constraint(e, &[("redemption_reversals_pending_idx", already_pending)]))?;
    audit::record(
        conn,
        &acting
            .audit(Action::RedemptionReversalRequested, "redemption", redemption_id)
            .after(json!({"reversalId": r.id, "reversalStatus": ReversalStatus::Pending}))
            .metadata(
                json!({"reason": reason, "disbursementId": d.id, "disbursementStatus": d.status,
                "amount": d.amount}),
            ),
        now,
    )
    .await?;
    Ok(r)
}

/// Approves or rejects the pending reversal of a redemption, as a person other than the one who
/// asked. A rejection needs a note; an approval may carry one.
pub async fn decide_reversal(
    conn: &mut PgConnection,
    redemption_id: Uuid,
    decision: Decision,
    note: Option<&str>,
    acting: &Acting,
) -> Result<Reversal, AppError> {
    let now = acting.now;
    let note = match (decision, note.map(str::trim).filter(|n| !n.is_empty())) {
        (_, Some(n)) => Some(check_reason("note", n)?),
        (Decision::Reject, None) => return Err(AppError::field("note", "say why the reversal is rejected")),
        (Decision::Approve, None) => None,
    };
    let who = acting
        .user_id()
        .ok_or_else(|| AppError::conflict("actor", "a person must decide"))?;
    let (d, r_status, code_id) = lock_both(conn, redemption_id).await?;
    let pending: Option<Reversal> = sqlx::query_as(&format!(
        "select {COLUMNS} from redemption_reversals where redemption_id = $1 and status = 'pending' for update"
    ))
    .bind(redemption_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(pending) = pending else {
        return Err(AppError::conflict(
            "reversal",
            "no reversal of this redemption is waiting for a decision",
        ));
    };
    if pending.requested_by_user_id == who {
        return Err(second_person());
    }
    if decision == Decision::Approve {
        if !failed_for_good(&d) || r_status == RedemptionStatus::Reversed {
            return Err(AppError::conflict(
                "status",
                format!(
                    "the payout is {} now: only one that failed for good is reversed",
                    d.status
                ),
            ));
        }
        approve_reversal(
            conn,
            Approval {
                pending: &pending,
                d: &d,
                r_status,
                code_id,
                note: note.as_deref(),
            },
            acting,
        )
        .await?;
    }
    let decided: Reversal = sqlx::query_as(&format!(
        "update redemption_reversals set status = $2, decided_by_user_id = $3, decision_note = $4, decided_at = $5 \
         where id = $1 returning {COLUMNS}"
    ))
    .bind(pending.id)
    .bind(match decision {
        Decision::Approve => ReversalStatus::Approved.as_str(),
        Decision::Reject => ReversalStatus::Rejected.as_str(),
    })
    .bind(who)
    .bind(note.as_deref())
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| on_constraint(e, &[("redemption_reversals_two_people", second_person)]))?;
    if decision == Decision::Reject {
        audit::record(
            conn,
            &acting
                .audit(Action::RedemptionReversalRejected, "redemption", redemption_id)
                .before(json!({"reversalId": pending.id, "reversalStatus": ReversalStatus::Pending}))
                .after(json!({"reversalId": pending.id, "reversalStatus": ReversalStatus::Rejected}))
                .metadata(json!({"note": note, "reason": pending.reason,
                    "requestedBy": pending.requested_by_user_id})),
            now,
        )
        .await?;
    }
    Ok(decided)
}

/// An approved reversal: the pending request, the payout and the redemption (locked), its code.
struct Approval<'a> {
    pending: &'a Reversal,
    d: &'a Disbursement,
    r_status: RedemptionStatus,
    code_id: Uuid,
    note: Option<&'a str>,
}

/// The approved reversal's changes: redemption `reversed`, code `blocked` (with why, in its
/// metadata and history), a `payee_invalid` payout closed as `failed`; audited.
async fn approve_reversal(conn: &mut PgConnection, a: Approval<'_>, acting: &Acting) -> Result<(), AppError> {
    let Approval {
        pending,
        d,
        r_status,
        code_id,
        note,
    } = a;
    let now = acting.now;
    let code_status: CodeStatus = sqlx::query_scalar("select status from promo_codes where id = $1 for update")
        .bind(code_id)
        .fetch_one(&mut *conn)
        .await?;
    if code_status == CodeStatus::Redeemed {
        return Err(AppError::conflict(
            "status",
            "the code is redeemed: its payout succeeded, so the redemption stands",
        ));
    }
    redemption_lifecycle::reverse(conn, pending.redemption_id, Vec::new(), now).await?;
    if d.status == PayoutStatus::PayeeInvalid {
        state::transition(
            conn,
            Move {
                id: d.id,
                from: &[d.status],
                change: Change::Close,
                audit: Vec::new(),
                now,
            },
        )
        .await?;
    }
    let why = format!("Redemption reversed: {}", pending.reason);
    let mut events = vec![acting
        .audit(Action::RedemptionReversed, "redemption", pending.redemption_id)
        .before(json!({"status": r_status, "codeStatus": code_status, "disbursementStatus": d.status}))
        .after(json!({"status": RedemptionStatus::Reversed, "codeStatus": "blocked",
            "disbursementStatus": PayoutStatus::Failed, "reversalId": pending.id}))
        .metadata(
            json!({"reason": pending.reason, "note": note, "requestedBy": pending.requested_by_user_id,
            "disbursementId": d.id, "amount": d.amount}),
        )];
    code_lifecycle::block_reversed(
        conn,
        &ReversalBlock {
            code_id,
            from: code_status,
            reversal_id: pending.id,
            redemption_id: pending.redemption_id,
            reason: &why,
        },
        acting,
        &mut events,
    )
    .await?;
    audit::record_all(conn, &events, now).await?;
    Ok(())
}
