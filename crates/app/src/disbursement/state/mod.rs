//! The payout state machine (DESIGN.md §3): the one owner of `disbursements.status`.
//!
//! [`TRANSITIONS`] is the table of every move a payout makes, who makes it and what it records.
//! Every writer of the status goes through this module: the worker's claim ([`claim`]) and
//! completion ([`complete`]), and every other move through [`transition`], which refuses a move
//! the table forbids before it writes anything ([`MoveError::Forbidden`]) and folds the check of
//! the row's current state into the `UPDATE`'s `WHERE` (`status = any($from)`), so a move costs
//! the round trips it always did. A row that is no longer in one of the expected states (a lost
//! lease, a person who changed it first) is left alone: the move returns `None`.
//!
//! A disbursement has no history table of its own: its history is its attempt rows (written by
//! the worker, one per MoMo reference) and the audit rows each move writes here, in the caller's
//! transaction.

mod status;

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use super::ops::{Disbursement, COLUMNS};
use crate::audit::{self, AuditEvent};
use crate::codes::lifecycle::PaidSql;
use crate::error::AppError;
use crate::redemption::lifecycle::{self as redemption_lifecycle, RedemptionStatus};
use crate::sql::{Binder, Params, Slot};

pub use status::{AttemptStatus, HeldReason, PayoutStatus, ReversalStatus};

/// Who makes a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The worker claims a due payout (or re-claims one in flight to poll or recover it).
    Claim,
    /// The worker read SUCCESSFUL for the payout's reference.
    Success,
    /// The worker leaves `processing`: retry later, held, failed for good, payee invalid, or an
    /// infrastructure failure deferred.
    Settle,
    /// A person approves a payout above the approval threshold.
    Approve,
    /// A person rejects a payout above the approval threshold.
    Reject,
    /// A person retries a failed payout (single or bulk).
    Retry,
    /// A person gives a `payee_invalid` payout another number.
    ChangePayee,
    /// A second person approves the reversal of the redemption.
    Reverse,
}

use PayoutStatus::{AwaitingApproval, Completed, Failed, PayeeInvalid, Processing, Queued, RetryScheduled};

/// Every move a payout makes: `(from, to, who)`. Anything else is refused.
pub const TRANSITIONS: &[(PayoutStatus, PayoutStatus, Trigger)] = &[
    // the worker
    (Queued, Processing, Trigger::Claim),
    (RetryScheduled, Processing, Trigger::Claim),
    (Processing, Processing, Trigger::Claim),
    (Processing, Completed, Trigger::Success),
    // a SUCCESSFUL read by a worker whose lease ran out while another moved the row on: MoMo
    // paid, so the payment is recorded whatever we had concluded meanwhile
    (Queued, Completed, Trigger::Success),
    (RetryScheduled, Completed, Trigger::Success),
    (Failed, Completed, Trigger::Success),
    (PayeeInvalid, Completed, Trigger::Success),
    (Processing, RetryScheduled, Trigger::Settle),
    (Processing, Queued, Trigger::Settle),
    (Processing, Failed, Trigger::Settle),
    (Processing, PayeeInvalid, Trigger::Settle),
    // past the monthly payout limit, a person decides
    (Processing, AwaitingApproval, Trigger::Settle),
    // people
    (AwaitingApproval, Queued, Trigger::Approve),
    (AwaitingApproval, Failed, Trigger::Reject),
    (Failed, Queued, Trigger::Retry),
    (PayeeInvalid, Queued, Trigger::ChangePayee),
    (PayeeInvalid, Failed, Trigger::Reverse),
];

/// Whether the table allows `from → to` by `by`.
pub fn allowed(from: PayoutStatus, to: PayoutStatus, by: Trigger) -> bool {
    TRANSITIONS.iter().any(|&(f, t, w)| f == from && t == to && w == by)
}

/// The states `by` may move a payout from into `to`.
pub fn sources(to: PayoutStatus, by: Trigger) -> Vec<PayoutStatus> {
    TRANSITIONS
        .iter()
        .filter(|&&(_, t, w)| t == to && w == by)
        .map(|&(f, _, _)| f)
        .collect()
}

/// Why a move was not made.
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error("a payout that is {from} cannot become {to}")]
    Forbidden { from: PayoutStatus, to: PayoutStatus },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<MoveError> for AppError {
    fn from(e: MoveError) -> Self {
        match e {
            MoveError::Forbidden { .. } => AppError::conflict("status", e.to_string()),
            MoveError::Db(e) => e.into(),
        }
    }
}

/// Refuses (before anything is written) unless the table allows every `from → to` by `by`.
pub fn check(from: &[PayoutStatus], to: PayoutStatus, by: Trigger) -> Result<(), MoveError> {
    match from.iter().find(|&&f| !allowed(f, to, by)) {
        Some(&from) => Err(MoveError::Forbidden { from, to }),
        None if from.is_empty() => Err(MoveError::Forbidden { from: to, to }),
        None => Ok(()),
    }
}

fn names(states: &[PayoutStatus]) -> Vec<&'static str> {
    states.iter().map(|s| s.as_str()).collect()
}

/// An error MoMo gave (`error_code`, `error_message`).
pub type ErrorPair<'a> = Option<(&'a str, &'a str)>;

/// What a move changes besides the status; each is one statement.
#[derive(Debug, Clone)]
pub enum Change<'a> {
    /// The worker moves its claimed row out of `processing`, fenced by its lease.
    Release(Release<'a>),
    /// `awaiting_approval → queued`, due now.
    Approve { approver: Uuid },
    /// `awaiting_approval → failed` with the approver's reason.
    Reject { code: &'a str, message: &'a str },
    /// `failed → queued`, due now, with a fresh retry budget and the error cleared.
    Requeue { max_attempts: i32 },
    /// `payee_invalid → queued` to another number, checked again, with a fresh retry budget.
    NewPayee { msisdn: &'a str, max_attempts: i32 },
    /// `payee_invalid → failed` (its redemption was reversed).
    Close,
}

/// How the worker leaves `processing`.
#[derive(Debug, Clone)]
pub struct Release<'a> {
    pub to: PayoutStatus,
    /// The worker that holds the lease.
    pub lease_owner: &'a str,
    /// When the row is due again.
    pub next: DateTime<Utc>,
    pub error: ErrorPair<'a>,
    pub held: Option<HeldReason>,
    /// The attempt was not the payout's fault: it does not count against its retries.
    pub uncount: bool,
}

impl Change<'_> {
    pub fn to(&self) -> PayoutStatus {
        match self {
            Change::Release(r) => r.to,
            Change::Approve { .. } | Change::Requeue { .. } | Change::NewPayee { .. } => Queued,
            Change::Reject { .. } | Change::Close => Failed,
        }
    }

    pub fn trigger(&self) -> Trigger {
        match self {
            Change::Release(_) => Trigger::Settle,
            Change::Approve { .. } => Trigger::Approve,
            Change::Reject { .. } => Trigger::Reject,
            Change::Requeue { .. } => Trigger::Retry,
            Change::NewPayee { .. } => Trigger::ChangePayee,
            Change::Close => Trigger::Reverse,
        }
    }
}

/// One move of one payout.
#[derive(Debug, Clone)]
pub struct Move<'a> {
    pub id: Uuid,
    /// The states the caller expects the row to be in (each must be allowed to move).
    pub from: &'a [PayoutStatus],
    pub change: Change<'a>,
    /// The audit rows the move writes when it is made.
    pub audit: Vec<AuditEvent>,
    pub now: DateTime<Utc>,
}

/// Makes `m` if the table allows it and the row is in one of `m.from`; writes its audit rows in
/// the caller's transaction. `Ok(None)`: the row was not in an expected state (or another worker
/// holds it), nothing was written. [`MoveError::Forbidden`]: the table forbids the move, nothing
/// was written.
pub async fn transition(conn: &mut PgConnection, m: Move<'_>) -> Result<Option<Disbursement>, MoveError> {
    let to = m.change.to();
    check(m.from, to, m.change.trigger())?;
    let from = names(m.from);
    let after: Option<Disbursement> = match &m.change {
        Change::Release(r) => {
            sqlx::query_as(&format!(
                "update disbursements set status = $3, next_attempt_at = $5, lease_owner = null, \
                   lease_expires_at = null, error_code = $6, error_message = $7, held_reason = $8, updated_at = $9, \
                   attempts = case when $10 then greatest(attempts - 1, 0) else attempts end \
                 where id = $1 and status = any($2) and lease_owner = $4 returning {COLUMNS}"
            ))
            .bind(m.id)
            .bind(&from)
            .bind(to.as_str())
            .bind(r.lease_owner)
            .bind(r.next)
            .bind(r.error.map(|e| e.0))
            .bind(r.error.map(|e| e.1))
            .bind(r.held.map(HeldReason::as_str))
            .bind(m.now)
            .bind(r.uncount)
            .fetch_optional(&mut *conn)
            .await?
        }
        Change::Approve { approver } => {
            sqlx::query_as(&format!(
                "update disbursements set status = $3, next_attempt_at = $4, approved_by_user_id = $5, \
                   approved_at = $4, held_reason = null, updated_at = $4, \
                   approved_over_limit = approved_over_limit or coalesce(held_reason = 'monthly_limit', false) \
                 where id = $1 and status = any($2) returning {COLUMNS}"
            ))
            .bind(m.id)
            .bind(&from)
            .bind(to.as_str())
            .bind(m.now)
            .bind(approver)
            .fetch_optional(&mut *conn)
            .await?
        }
        Change::Reject { code, message } => {
            sqlx::query_as(&format!(
                "update disbursements set status = $3, error_code = $4, error_message = $5, held_reason = null, \
                   updated_at = $6 where id = $1 and status = any($2) returning {COLUMNS}"
            ))
            .bind(m.id)
            .bind(&from)
            .bind(to.as_str())
            .bind(code)
            .bind(message)
            .bind(m.now)
            .fetch_optional(&mut *conn)
            .await?
        }
        Change::Requeue { max_attempts } => {
            sqlx::query_as(&format!(
                "update disbursements set status = $3, attempts = 0, max_attempts = $4, next_attempt_at = $5, \
                   error_code = null, error_message = null, held_reason = null, lease_owner = null, \
                   lease_expires_at = null, updated_at = $5 \
                 where id = $1 and status = any($2) returning {COLUMNS}"
            ))
            .bind(m.id)
            .bind(&from)
            .bind(to.as_str())
            .bind(max_attempts)
            .bind(m.now)
            .fetch_optional(&mut *conn)
            .await?
        }
        Change::NewPayee { msisdn, max_attempts } => {
            sqlx::query_as(&format!(
                "update disbursements set msisdn = $4, payee_checked_at = null, status = $3, next_attempt_at = $5, \
                   attempts = 0, max_attempts = $6, error_code = null, error_message = null, held_reason = null, \
                   lease_owner = null, lease_expires_at = null, updated_at = $5 \
                 where id = $1 and status = any($2) returning {COLUMNS}"
            ))
            .bind(m.id)
            .bind(&from)
            .bind(to.as_str())
            .bind(msisdn)
            .bind(m.now)
            .bind(max_attempts)
            .fetch_optional(&mut *conn)
            .await?
        }
        Change::Close => {
            sqlx::query_as(&format!(
                "update disbursements set status = $3, updated_at = $4 \
                 where id = $1 and status = any($2) returning {COLUMNS}"
            ))
            .bind(m.id)
            .bind(&from)
            .bind(to.as_str())
            .bind(m.now)
            .fetch_optional(&mut *conn)
            .await?
        }
    };
    if after.is_some() && !m.audit.is_empty() {
        audit::record_all(conn, &m.audit, m.now).await?;
    }
    Ok(after)
}

/// The worker's claim: up to `limit` due payouts in `from` move to `processing` under a lease.
#[derive(Debug, Clone)]
pub struct ClaimDue<'a> {
    pub from: &'a [PayoutStatus],
    pub lease_owner: &'a str,
    pub limit: usize,
    pub now: DateTime<Utc>,
    pub lease_until: DateTime<Utc>,
}

/// Claims due payouts (`FOR UPDATE SKIP LOCKED`, one statement) and returns each with its
/// current attempt: `id, redemption_id, msisdn, amount, currency, attempts, max_attempts,
/// payee_checked, reference_id, attempt_status, polls, approved_over_limit`.
pub async fn claim<T>(pool: &PgPool, c: ClaimDue<'_>) -> Result<Vec<T>, MoveError>
where
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    check(c.from, Processing, Trigger::Claim)?;
    Ok(sqlx::query_as(
        r#"with c as (
             select id from disbursements
             where status = any($3) and next_attempt_at <= $2
             order by next_attempt_at
             limit $4
             for update skip locked),
           u as (
             update disbursements d
             set status = 'processing', lease_owner = $1, lease_expires_at = $5, next_attempt_at = $5, updated_at = $2
             from c where d.id = c.id
             returning d.id, d.redemption_id, d.msisdn, d.amount, d.currency, d.attempts, d.max_attempts,
                       d.payee_checked_at is not null as payee_checked, d.momo_reference, d.approved_over_limit)
           select u.id, u.redemption_id, u.msisdn, u.amount, u.currency, u.attempts, u.max_attempts,
                  u.payee_checked, a.reference_id, a.status as attempt_status, a.polls, u.approved_over_limit
           from u left join disbursement_attempts a on a.reference_id = u.momo_reference"#,
    )
    .bind(c.lease_owner)
    .bind(c.now)
    .bind(names(c.from))
    .bind(c.limit as i64)
    .bind(c.lease_until)
    .fetch_all(pool)
    .await?)
}

/// MoMo said SUCCESSFUL for `reference`.
#[derive(Debug, Clone)]
pub struct Completion<'a> {
    pub id: Uuid,
    pub reference: Uuid,
    pub financial_transaction_id: Option<&'a str>,
    pub response: &'a Value,
    pub now: DateTime<Utc>,
}

/// What a completion changed: the redemption, its code and its batch.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Paid {
    pub redemption_id: Uuid,
    pub promo_code_id: Uuid,
    pub batch_id: Uuid,
}

/// The completion statement (built once): its own parameters `$1`–`$7`, then the code's move to
/// `redeemed`, whose fragment and binding belong to the code lifecycle ([`PaidSql`]).
struct CompleteSql {
    sql: String,
    own: Slot,
    paid: PaidSql,
    params: usize,
}

static COMPLETE: LazyLock<CompleteSql> = LazyLock::new(|| {
    let mut p = Params::new();
    let (own, [id, now, tx_id, response, reference, from, redemption_from]) = p.take::<7>();
    let paid = PaidSql::new(&mut p, "code", "r");
    let sql = format!(
        r#"with d as (
             update disbursements set status = 'completed', momo_transaction_id = {tx_id}, momo_reference = {reference},
                    disbursed_at = {now}, updated_at = {now}, lease_owner = null, lease_expires_at = null,
                    error_code = null, error_message = null, held_reason = null
             where id = {id} and status = any({from})
             returning redemption_id),
           a as (
             update disbursement_attempts set status = 'successful', momo_status = 'SUCCESSFUL',
                    financial_transaction_id = {tx_id}, resolved_at = {now}, response = {response}, last_polled_at = {now},
                    polls = polls + 1
             from d where reference_id = {reference}),
           r as (
             update redemptions set status = 'completed', completed_at = {now}, error_code = null, error_message = null
             from d where redemptions.id = d.redemption_id and redemptions.status = any({redemption_from})
             returning redemptions.id, redemptions.promo_code_id, redemptions.batch_id),
           {code}
           select x.id as redemption_id, x.promo_code_id, x.batch_id
           from d join redemptions x on x.id = d.redemption_id"#,
        code = paid.item,
    );
    CompleteSql {
        sql,
        own,
        paid,
        params: p.count(),
    }
});

/// The completion in one statement: the attempt `successful`, the payout `completed` (from any
/// state the table allows, see [`TRANSITIONS`]), its redemption `completed` (through
/// [`redemption_lifecycle`]) and the code `redeemed` (the code lifecycle's [`PaidSql`]).
/// MoMo paid, so the payout's completion never waits on its redemption: a redemption in a state
/// its table does not move to `completed` is left as it is (and so is its code). `None`: the
/// payout was completed already (a duplicate resolution), nothing was written. The caller
/// writes the audit row (it needs what this returns).
pub async fn complete(conn: &mut PgConnection, c: Completion<'_>) -> Result<Option<Paid>, MoveError> {
    let from = sources(Completed, Trigger::Success);
    let redemption_from = redemption_lifecycle::sources(RedemptionStatus::Completed);
    let CompleteSql { sql, own, paid, params } = &*COMPLETE;
    let b = Binder::new(sqlx::query_as(sql.as_str())).at(*own, |b| {
        b.bind(c.id)
            .bind(c.now)
            .bind(c.financial_transaction_id)
            .bind(c.response)
            .bind(c.reference)
            .bind(names(&from))
            .bind(redemption_lifecycle::names(&redemption_from))
    });
    Ok(paid.bind(b, c.now).finish(*params).fetch_optional(&mut *conn).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_refuses_what_it_does_not_list() {
        assert!(allowed(Queued, Processing, Trigger::Claim));
        assert!(!allowed(Completed, Queued, Trigger::Retry));
        assert!(check(&[Failed], Queued, Trigger::Retry).is_ok());
        assert!(matches!(
            check(&[Completed], Queued, Trigger::Retry),
            Err(MoveError::Forbidden {
                from: Completed,
                to: Queued
            })
        ));
        assert!(check(&[], Queued, Trigger::Retry).is_err());
        assert!(!sources(Completed, Trigger::Success).contains(&Completed));
    }

    #[test]
    fn names_are_the_wire_names() {
        for s in PayoutStatus::ALL {
            assert_eq!(PayoutStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), Value::String(s.as_str().into()));
        }
    }
}
