//! The redemption state machine (DESIGN.md §3): the one owner of `redemptions.status` after a
//! redemption is created `pending` (the redemption transaction inserts it; that is creation, not
//! a move).
//!
//! A redemption follows its payout: [`TRANSITIONS`] lists every move, who makes it and which audit
//! row records it (a redemption has no history table: the audit row of the payout move that
//! carries it names the redemption's new status). [`transition`] refuses a move the table forbids
//! before writing anything and folds the check of the current state into the `UPDATE`'s `WHERE`;
//! the worker's completion, one statement for the payout, the redemption and the code, binds
//! [`sources`] the same way (`disbursement::state::complete`).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, AuditEvent};
use crate::error::AppError;

/// `redemptions.status` (`redemptions_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, Serialize, Deserialize, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RedemptionStatus {
    Pending,
    Completed,
    Failed,
    Reversed,
}

impl RedemptionStatus {
    pub const ALL: [RedemptionStatus; 4] = [
        RedemptionStatus::Pending,
        RedemptionStatus::Completed,
        RedemptionStatus::Failed,
        RedemptionStatus::Reversed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            RedemptionStatus::Pending => "pending",
            RedemptionStatus::Completed => "completed",
            RedemptionStatus::Failed => "failed",
            RedemptionStatus::Reversed => "reversed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for RedemptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for RedemptionStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Who moves a redemption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The worker read SUCCESSFUL for its payout.
    Paid,
    /// Its payout failed for good (the worker), or an approver rejected it (a person).
    PayoutFailed,
    /// A person put its payout back in the queue (retry, another payee).
    Requeued,
    /// A second person approved its reversal.
    Reversed,
}

use RedemptionStatus::{Completed, Failed, Pending, Reversed};

/// Every move a redemption makes: `(from, to, who)`. Anything else is refused.
pub const TRANSITIONS: &[(RedemptionStatus, RedemptionStatus, Trigger)] = &[
    (Pending, Completed, Trigger::Paid),
    // MoMo's SUCCESSFUL read late (after the payout had been given up): the money went out, so
    // the redemption is completed whatever we had concluded
    (Failed, Completed, Trigger::Paid),
    (Reversed, Completed, Trigger::Paid),
    (Pending, Failed, Trigger::PayoutFailed),
    (Failed, Pending, Trigger::Requeued),
    (Pending, Reversed, Trigger::Reversed),
    (Failed, Reversed, Trigger::Reversed),
];

pub fn allowed(from: RedemptionStatus, to: RedemptionStatus, by: Trigger) -> bool {
    TRANSITIONS.iter().any(|&(f, t, w)| f == from && t == to && w == by)
}

/// The states a redemption may become `to` from (whoever moves it).
pub fn sources(to: RedemptionStatus) -> Vec<RedemptionStatus> {
    let mut out: Vec<RedemptionStatus> = Vec::new();
    for &(f, t, _) in TRANSITIONS {
        if t == to && !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

/// The database names of `states`, to bind as `text[]`.
pub fn names(states: &[RedemptionStatus]) -> Vec<&'static str> {
    states.iter().map(|s| s.as_str()).collect()
}

/// Why a redemption was not moved.
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error("a redemption that is {from} cannot become {to}")]
    Forbidden {
        from: RedemptionStatus,
        to: RedemptionStatus,
    },
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

pub fn check(from: &[RedemptionStatus], to: RedemptionStatus, by: Trigger) -> Result<(), MoveError> {
    match from.iter().find(|&&f| !allowed(f, to, by)) {
        Some(&from) => Err(MoveError::Forbidden { from, to }),
        None if from.is_empty() => Err(MoveError::Forbidden { from: to, to }),
        None => Ok(()),
    }
}

/// One move of one redemption.
#[derive(Debug, Clone)]
pub struct Move<'a> {
    pub id: Uuid,
    pub from: &'a [RedemptionStatus],
    pub to: RedemptionStatus,
    pub by: Trigger,
    /// `error_code`, `error_message` of a failed redemption; cleared by every other move but
    /// a reversal (which keeps why the payout failed).
    pub error: Option<(&'a str, &'a str)>,
    /// The audit rows the move writes when it is made (most ride on the payout's own row).
    pub audit: Vec<AuditEvent>,
    pub now: DateTime<Utc>,
}

/// Makes `m` if the table allows it and the row is in one of `m.from`: `Ok(false)` when the row
/// was elsewhere (nothing written), [`MoveError::Forbidden`] when the table forbids it.
pub async fn transition(conn: &mut PgConnection, m: Move<'_>) -> Result<bool, MoveError> {
    check(m.from, m.to, m.by)?;
    let from = names(m.from);
    let moved = match m.to {
        Reversed => sqlx::query("update redemptions set status = $3 where id = $1 and status = any($2)")
            .bind(m.id)
            .bind(&from)
            .bind(m.to.as_str())
            .execute(&mut *conn)
            .await?
            .rows_affected(),
        Completed => sqlx::query(
            "update redemptions set status = $3, completed_at = $4, error_code = null, error_message = null \
             where id = $1 and status = any($2)",
        )
        .bind(m.id)
        .bind(&from)
        .bind(m.to.as_str())
        .bind(m.now)
        .execute(&mut *conn)
        .await?
        .rows_affected(),
        Pending | Failed => sqlx::query(
            "update redemptions set status = $3, error_code = $4, error_message = $5 where id = $1 and status = any($2)",
        )
        .bind(m.id)
        .bind(&from)
        .bind(m.to.as_str())
        .bind(m.error.map(|e| e.0))
        .bind(m.error.map(|e| e.1))
        .execute(&mut *conn)
        .await?
        .rows_affected(),
    } == 1;
    if moved && !m.audit.is_empty() {
        audit::record_all(conn, &m.audit, m.now).await?;
    }
    Ok(moved)
}

/// The redemption's payout failed for good (the worker) or was rejected (a person).
pub async fn fail(
    conn: &mut PgConnection,
    id: Uuid,
    code: &str,
    message: &str,
    now: DateTime<Utc>,
) -> Result<bool, MoveError> {
    transition(
        conn,
        Move {
            id,
            from: &[Pending],
            to: Failed,
            by: Trigger::PayoutFailed,
            error: Some((code, message)),
            audit: Vec::new(),
            now,
        },
    )
    .await
}

/// The redemption's payout is back in the queue: `failed → pending`, the error cleared.
pub async fn requeue(conn: &mut PgConnection, id: Uuid, now: DateTime<Utc>) -> Result<bool, MoveError> {
    transition(
        conn,
        Move {
            id,
            from: &[Failed],
            to: Pending,
            by: Trigger::Requeued,
            error: None,
            audit: Vec::new(),
            now,
        },
    )
    .await
}

/// The redemption is reversed (its code can never pay again); `audit` records it.
pub async fn reverse(
    conn: &mut PgConnection,
    id: Uuid,
    audit: Vec<AuditEvent>,
    now: DateTime<Utc>,
) -> Result<bool, MoveError> {
    transition(
        conn,
        Move {
            id,
            from: &sources(Reversed),
            to: Reversed,
            by: Trigger::Reversed,
            error: None,
            audit,
            now,
        },
    )
    .await
}
