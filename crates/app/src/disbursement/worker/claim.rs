//! Claiming: due payouts move to `processing` under this worker's lease ([`state::claim`]); a
//! settled one leaves it ([`PayoutWorker::release`]); a failed step gives it back early.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::PayoutWorker;
use crate::audit::AuditEvent;
use crate::disbursement::ops::Disbursement;
use crate::disbursement::state::{
    self, AttemptStatus, Change, ClaimDue, ErrorPair, HeldReason, Move, MoveError, PayoutStatus, Release,
};

/// A claimed disbursement with its current attempt.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Claim {
    pub id: Uuid,
    pub redemption_id: Uuid,
    pub msisdn: String,
    pub amount: i64,
    pub currency: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub payee_checked: bool,
    pub reference_id: Option<Uuid>,
    pub attempt_status: Option<AttemptStatus>,
    pub polls: Option<i32>,
    /// A person approved it past the monthly payout limit.
    pub approved_over_limit: bool,
}

impl Claim {
    /// The payout as its webhook events tell it.
    pub fn payout(&self) -> crate::webhooks::emit::Payout<'_> {
        crate::webhooks::emit::Payout {
            redemption_id: self.redemption_id,
            disbursement_id: self.id,
            amount: self.amount,
            currency: &self.currency,
            phone: &self.msisdn,
        }
    }

    /// The reference of the current attempt while MoMo has not said how it ended.
    pub fn unresolved(&self) -> Option<Uuid> {
        match self.attempt_status {
            Some(s) if s.unresolved() => self.reference_id,
            _ => None,
        }
    }
}

/// How a settled payout leaves `processing` (see [`PayoutWorker::release`]).
pub(super) struct Leave<'a> {
    pub to: PayoutStatus,
    /// When it is due again.
    pub next: DateTime<Utc>,
    pub error: ErrorPair<'a>,
    pub held: Option<HeldReason>,
    /// The attempt was not the payout's fault: it does not count against its retries.
    pub uncount: bool,
    /// The audit rows the move writes.
    pub audit: Vec<AuditEvent>,
}

impl PayoutWorker {
    pub(super) async fn claim(
        &self,
        from: &[PayoutStatus],
        limit: usize,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Claim>, sqlx::Error> {
        let due = ClaimDue {
            from,
            lease_owner: &self.id,
            limit,
            now,
            lease_until,
        };
        state::claim(&self.pool, due).await.map_err(|e| match e {
            MoveError::Db(e) => e,
            forbidden => sqlx::Error::Protocol(forbidden.to_string()),
        })
    }

    /// After a failed step (a database error, mostly): the row stays `processing` with its
    /// attempt as it is, due again in a few seconds instead of when the lease would expire; the
    /// next claim resolves the attempt first. When even this fails, the lease brings it back.
    pub(super) async fn release_after_error(&self, id: Uuid) {
        self.release_later(id, 5).await
    }

    /// Leaves the claimed row `processing` with its attempt as it is, due again in `secs`
    /// seconds (after an error; in maintenance, a row with no transfer under way).
    pub(super) async fn release_later(&self, id: Uuid, secs: i64) {
        let again = self.clock.now() + chrono::Duration::seconds(secs);
        let released = sqlx::query(
            "update disbursements set lease_owner = null, lease_expires_at = $3, next_attempt_at = $3 \
             where id = $1 and lease_owner = $2 and status = 'processing'",
        )
        .bind(id)
        .bind(&self.id)
        .bind(again)
        .execute(&self.pool)
        .await;
        if let Err(e) = released {
            tracing::debug!(disbursement = %id, error = %e, "could not release the payout; its lease will");
        }
    }

    /// Moves the claimed row out of `processing`, fenced by the lease, through the state machine:
    /// `false` when another worker holds the row now (nothing written).
    pub(super) async fn release(
        &self,
        tx: &mut PgConnection,
        c: &Claim,
        leave: Leave<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, MoveError> {
        let moved: Option<Disbursement> = state::transition(
            tx,
            Move {
                id: c.id,
                from: &[PayoutStatus::Processing],
                change: Change::Release(Release {
                    to: leave.to,
                    lease_owner: &self.id,
                    next: leave.next,
                    error: leave.error,
                    held: leave.held,
                    uncount: leave.uncount,
                }),
                audit: leave.audit,
                now,
            },
        )
        .await?;
        Ok(moved.is_some())
    }
}
