//! Settling: where a drive of a payout comes to rest, each a move of the payout state machine
//! ([`crate::disbursement::state`]) with its audit row and, for a person's attention, its alert —
//! completed, pending (polled again), retry later, failed for good, payee invalid, held, or
//! deferred after an infrastructure failure.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::claim::{Claim, Leave};
use super::{alerts, Outcome, Pacing, PayoutWorker, HOLD_FOR, MAX_POLL_WAIT_SECS, TRANSIENT_RETRY};
use crate::audit::{self, Action};
use crate::disbursement::state::{self, Completion, HeldReason, MoveError, PayoutStatus};
use crate::redemption::lifecycle as redemption_lifecycle;
use crate::unit::Acting;

/// What MoMo's FAILED reason means for the payout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Retry,
    PayeeInvalid,
    Hold(HeldReason),
    Terminal,
}

/// How a FAILED attempt is recorded (`disbursement_attempts.error_class`): what the reason is,
/// not only whether it ends the payout — `NOT_ENOUGH_FUNDS` holds the payout until the account
/// is topped up, so it is not `terminal`.
pub(super) fn attempt_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Retry => "retryable",
        Verdict::PayeeInvalid => "payee_invalid",
        Verdict::Hold(HeldReason::InsufficientFunds) => "insufficient_funds",
        Verdict::Hold(_) => "configuration",
        Verdict::Terminal => "terminal",
    }
}

pub(super) fn verdict(reason: Option<&str>) -> Verdict {
    match reason.unwrap_or("") {
        "PAYEE_NOT_FOUND" | "PAYEE_NOT_ALLOWED_TO_RECEIVE" => Verdict::PayeeInvalid,
        "NOT_ENOUGH_FUNDS" => Verdict::Hold(HeldReason::InsufficientFunds),
        "NOT_ALLOWED_TARGET_ENVIRONMENT"
        | "INVALID_CALLBACK_URL_HOST"
        | "INVALID_CURRENCY"
        | "NOT_ALLOWED"
        | "SENDER_ACCOUNT_NOT_ACTIVE" => Verdict::Hold(HeldReason::MomoConfiguration),
        "VALIDATION_ERROR" | "PAYEE_LIMIT_REACHED" | "APPROVAL_REJECTED" | "PAYMENT_NOT_APPROVED" => Verdict::Terminal,
        // INTERNAL_PROCESSING_ERROR, SERVICE_UNAVAILABLE, PAYER_LIMIT_REACHED, EXPIRED,
        // COULD_NOT_PERFORM_TRANSACTION, TRANSACTION_CANCELED, no reason at all, …
        _ => Verdict::Retry,
    }
}

impl PayoutWorker {
    /// MoMo said SUCCESSFUL: the payout, its attempt, redemption and code in one statement, the
    /// audit row and the customer's SMS in the same transaction; the batch's status after.
    pub(super) async fn complete(
        &self,
        c: &Claim,
        reference: Uuid,
        st: &momo::TransferStatus,
        body: Value,
    ) -> Result<Outcome, anyhow::Error> {
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let completion = Completion {
            id: c.id,
            reference,
            financial_transaction_id: st.financial_transaction_id.as_deref(),
            response: &body,
            now,
        };
        let Some(done) = state::complete(&mut tx, completion).await? else {
            tx.rollback().await?;
            return Ok(Outcome::Completed); // already completed (a duplicate resolution)
        };
        audit::record(
            &mut tx,
            &Acting::system(now)
                .audit(Action::DisbursementCompleted, "disbursement", c.id)
                .before(json!({"status": PayoutStatus::Processing}))
                .after(json!({
                    "status": PayoutStatus::Completed,
                    "referenceId": reference,
                    "financialTransactionId": st.financial_transaction_id,
                    "amount": c.amount,
                    "currency": c.currency,
                    "redemptionId": done.redemption_id,
                    "promoCodeId": done.promo_code_id,
                    "codeStatus": "redeemed",
                })),
            now,
        )
        .await?;
        // the customer's confirmation SMS commits with the payout (queued only when SMS is set up)
        crate::alerts::sms::queue_payout_sms(&mut tx, &[done.redemption_id], now).await?;
        // and the integrators' webhooks, when they are on
        if crate::webhooks::emit::on(&self.settings.get().0) {
            let event = crate::webhooks::Event::disbursement_completed(
                &c.payout(),
                st.financial_transaction_id.as_deref(),
                now,
            );
            crate::webhooks::emit(&mut tx, &event, now).await?;
        }
        tx.commit().await?;
        // after the commit: payouts of one batch completing side by side each see the others'
        // codes as still `used` inside their own transactions; the last to commit sees them all
        let expiry = self.settings.get().0.business.expiration.clone();
        if crate::batches::refresh::may_change(&self.pool, done.batch_id, now, &expiry).await? {
            let mut tx = self.pool.begin().await?;
            crate::batches::refresh::refresh_status(&mut tx, done.batch_id, now, &expiry).await?;
            tx.commit().await?;
        }
        Ok(Outcome::Completed)
    }

    /// MoMo said PENDING: the attempt counts a poll; the row stays `processing`, released to be
    /// polled again after a backoff.
    pub(super) async fn pending(
        &self,
        c: &Claim,
        reference: Uuid,
        st: &momo::TransferStatus,
        body: Value,
    ) -> Result<Outcome, anyhow::Error> {
        let now = self.clock.now();
        let polls = c.polls.unwrap_or(0).clamp(0, 16);
        let wait = chrono::Duration::seconds((1_i64 << polls).min(MAX_POLL_WAIT_SECS));
        let next = now + wait;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            r#"update disbursement_attempts set status = 'pending', momo_status = $2, response = $3,
                      polls = polls + 1, last_polled_at = $4, sent_at = coalesce(sent_at, $4)
               where reference_id = $1 and status not in ('successful', 'failed')"#,
        )
        .bind(reference)
        .bind(st.status.as_str())
        .bind(&body)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let kept = sqlx::query(
            r#"update disbursements set lease_owner = null, lease_expires_at = $3, next_attempt_at = $3, updated_at = $4
               where id = $1 and lease_owner = $2 and status = 'processing'"#,
        )
        .bind(c.id)
        .bind(&self.id)
        .bind(next)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(if kept == 1 {
            Outcome::Pending
        } else {
            Outcome::LostLease
        })
    }

    /// MoMo said FAILED (or refused the request): the attempt is closed and the reason decides.
    pub(super) async fn settle_failed(
        &self,
        c: &Claim,
        reference: Uuid,
        code: &str,
        message: &str,
        body: Option<Value>,
        pacing: &Pacing,
    ) -> Result<Outcome, anyhow::Error> {
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let closed = sqlx::query(
            r#"update disbursement_attempts set status = 'failed', momo_status = 'FAILED', momo_reason = $2,
                      error_class = $3, error_code = $2, error_message = $4, response = $5, resolved_at = $6,
                      last_polled_at = $6
               where reference_id = $1 and status <> 'successful'"#,
        )
        .bind(reference)
        .bind(code)
        .bind(attempt_class(verdict(Some(code))))
        .bind(message)
        .bind(&body)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if closed == 0 {
            tx.rollback().await?;
            return Ok(Outcome::LostLease);
        }
        let outcome = match verdict(Some(code)) {
            Verdict::PayeeInvalid => self.to_payee_invalid(&mut tx, c, code, message, now).await?,
            Verdict::Hold(reason) => {
                // not the payout's fault: the attempt does not count against its retries
                self.to_held(&mut tx, c, reason, Some((code, message)), true, now)
                    .await?
            }
            Verdict::Retry => {
                let pay = &pacing.payments;
                // attempts counted so far, this one included (it counted when it was written)
                let spent: i32 = sqlx::query_scalar("select attempts from disbursements where id = $1")
                    .bind(c.id)
                    .fetch_one(&mut *tx)
                    .await?;
                let left = i64::from(c.max_attempts) - i64::from(spent);
                if pay.auto_retry_enabled && left > 0 {
                    let idx = (spent - 1).max(0) as usize;
                    let minutes = pay
                        .retry_delay_minutes
                        .get(idx)
                        .or(pay.retry_delay_minutes.last())
                        .copied()
                        .unwrap_or(1);
                    let at = now + chrono::Duration::minutes(i64::from(minutes));
                    self.to_retry(&mut tx, c, (code, message), at, now).await?
                } else {
                    self.to_failed(&mut tx, c, code, message, now).await?
                }
            }
            Verdict::Terminal => self.to_failed(&mut tx, c, code, message, now).await?,
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn to_retry(
        &self,
        tx: &mut PgConnection,
        c: &Claim,
        (code, message): (&str, &str),
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, MoveError> {
        let leave = Leave {
            to: PayoutStatus::RetryScheduled,
            next: at,
            error: Some((code, message)),
            held: None,
            uncount: false,
            audit: vec![Acting::system(now)
                .audit(Action::DisbursementRetryScheduled, "disbursement", c.id)
                .after(
                    json!({"status": PayoutStatus::RetryScheduled, "reason": code, "message": message,
                    "nextAttemptAt": at}),
                )],
        };
        if !self.release(tx, c, leave, now).await? {
            return Ok(Outcome::LostLease);
        }
        Ok(Outcome::RetryScheduled)
    }

    pub(super) async fn to_failed(
        &self,
        tx: &mut PgConnection,
        c: &Claim,
        code: &str,
        message: &str,
        now: DateTime<Utc>,
    ) -> Result<Outcome, MoveError> {
        let leave = Leave {
            to: PayoutStatus::Failed,
            next: now, // no next attempt; the due index ignores failed rows
            error: Some((code, message)),
            held: None,
            uncount: false,
            audit: Vec::new(),
        };
        if !self.release(tx, c, leave, now).await? {
            return Ok(Outcome::LostLease);
        }
        redemption_lifecycle::fail(tx, c.redemption_id, code, message, now)
            .await
            .map_err(|e| match e {
                redemption_lifecycle::MoveError::Db(e) => MoveError::Db(e),
                forbidden => MoveError::Db(sqlx::Error::Protocol(forbidden.to_string())),
            })?;
        audit::record(
            tx,
            &Acting::system(now)
                .audit(Action::DisbursementFailed, "disbursement", c.id)
                .after(json!({
                    "status": PayoutStatus::Failed,
                    "reason": code,
                    "message": message,
                    "attempts": c.attempts + 1,
                    "redemptionId": c.redemption_id,
                })),
            now,
        )
        .await?;
        crate::alerts::raise(tx, &alerts::failed(c, code, message), now).await?;
        if crate::webhooks::emit::on(&self.settings.get().0) {
            let event = crate::webhooks::Event::disbursement_failed(&c.payout(), code, now);
            crate::webhooks::emit(tx, &event, now).await?;
        }
        Ok(Outcome::Failed)
    }

    async fn to_payee_invalid(
        &self,
        tx: &mut PgConnection,
        c: &Claim,
        code: &str,
        message: &str,
        now: DateTime<Utc>,
    ) -> Result<Outcome, MoveError> {
        let leave = Leave {
            to: PayoutStatus::PayeeInvalid,
            next: now,
            error: Some((code, message)),
            held: None,
            uncount: false,
            audit: vec![Acting::system(now)
                .audit(Action::DisbursementPayeeInvalid, "disbursement", c.id)
                .after(json!({
                    "status": PayoutStatus::PayeeInvalid,
                    "msisdn": c.msisdn,
                    "reason": code,
                    "message": message,
                }))],
        };
        if !self.release(tx, c, leave, now).await? {
            return Ok(Outcome::LostLease);
        }
        // for the people who can give the payout another number (decision 0024)
        crate::alerts::raise(tx, &alerts::payee_invalid(c, code, message), now).await?;
        Ok(Outcome::PayeeInvalid)
    }

    async fn to_held(
        &self,
        tx: &mut PgConnection,
        c: &Claim,
        reason: HeldReason,
        error: Option<(&str, &str)>,
        uncount: bool,
        now: DateTime<Utc>,
    ) -> Result<Outcome, MoveError> {
        let leave = Leave {
            to: PayoutStatus::Queued,
            next: now + HOLD_FOR,
            error,
            held: Some(reason),
            uncount,
            audit: vec![Acting::system(now)
                .audit(Action::DisbursementHeld, "disbursement", c.id)
                .after(json!({
                    "status": PayoutStatus::Queued,
                    "heldReason": reason.as_str(),
                    "error": error.map(|(code, _)| code),
                }))],
        };
        if !self.release(tx, c, leave, now).await? {
            return Ok(Outcome::LostLease);
        }
        crate::alerts::raise(tx, &alerts::held(reason, error), now).await?;
        Ok(Outcome::Held(reason))
    }

    /// Past the monthly payout limit: the payout waits for a person (approve pays it anyway,
    /// reject fails it), and the people who watch the money are alerted.
    pub(super) async fn await_approval(&self, c: &Claim, reason: HeldReason) -> Result<Outcome, anyhow::Error> {
        let now = self.clock.now();
        let leave = Leave {
            to: PayoutStatus::AwaitingApproval,
            next: now,
            error: None,
            held: Some(reason),
            uncount: false,
            audit: vec![Acting::system(now)
                .audit(Action::DisbursementHeld, "disbursement", c.id)
                .after(json!({
                    "status": PayoutStatus::AwaitingApproval,
                    "heldReason": reason.as_str(),
                }))],
        };
        let mut tx = self.pool.begin().await?;
        if !self.release(&mut tx, c, leave, now).await? {
            return Ok(Outcome::LostLease);
        }
        crate::alerts::raise(&mut tx, &alerts::held(reason, None), now).await?;
        tx.commit().await?;
        Ok(Outcome::Held(reason))
    }

    pub(super) async fn payee_invalid(&self, c: &Claim, why: &str) -> Result<Outcome, anyhow::Error> {
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let out = self.to_payee_invalid(&mut tx, c, "PAYEE_NOT_ACTIVE", why, now).await?;
        tx.commit().await?;
        Ok(out)
    }

    pub(super) async fn hold(&self, c: &Claim, reason: HeldReason) -> Result<Outcome, anyhow::Error> {
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let out = self.to_held(&mut tx, c, reason, None, false, now).await?;
        tx.commit().await?;
        Ok(out)
    }

    pub(super) async fn give_up(&self, c: &Claim, why: &str) -> Result<Outcome, anyhow::Error> {
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let out = self.to_failed(&mut tx, c, "RETRIES_EXHAUSTED", why, now).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// An infrastructure failure (connection, timeout, 5xx, 429, auth): the attempt, if any,
    /// stays as it is and is resolved later; the breaker counts it; configuration faults hold.
    pub(super) async fn deferred(
        &self,
        c: &Claim,
        e: &momo::MomoError,
        pacing: &Pacing,
    ) -> Result<Outcome, anyhow::Error> {
        let now = self.clock.now();
        let pay = &pacing.payments;
        let opened = self
            .breaker
            .lock()
            .map(|mut b| {
                b.failure(
                    pay.circuit_breaker_failures,
                    Duration::from_secs(u64::from(pay.circuit_breaker_cooldown_seconds)),
                    Instant::now(),
                )
            })
            .unwrap_or(false);
        if opened {
            tracing::warn!(
                failures = pay.circuit_breaker_failures,
                probe_after_s = pay.circuit_breaker_cooldown_seconds,
                error = %e,
                "MoMo is failing: payouts are paused (circuit breaker open)"
            );
        }
        let mut tx = self.pool.begin().await?;
        if opened {
            crate::alerts::raise(&mut tx, &alerts::circuit_open(pay, e), now).await?;
        }
        let message = e.to_string();
        let code = e.reason_code().unwrap_or(match e.class() {
            momo::ErrorClass::Configuration => "MOMO_CONFIGURATION",
            _ => "MOMO_UNAVAILABLE",
        });
        let out = if e.class() == momo::ErrorClass::Configuration {
            let error = Some((code, message.as_str()));
            self.to_held(&mut tx, c, HeldReason::MomoConfiguration, error, false, now)
                .await?
        } else {
            let leave = Leave {
                to: if c.unresolved().is_some() || c.reference_id.is_some() {
                    PayoutStatus::RetryScheduled
                } else {
                    PayoutStatus::Queued
                },
                next: now + TRANSIENT_RETRY,
                error: Some((code, &message)),
                held: None,
                uncount: false,
                audit: Vec::new(),
            };
            if self.release(&mut tx, c, leave, now).await? {
                Outcome::Deferred
            } else {
                Outcome::LostLease
            }
        };
        tx.commit().await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_decide_the_next_step() {
        assert_eq!(verdict(Some("PAYEE_NOT_FOUND")), Verdict::PayeeInvalid);
        assert_eq!(verdict(Some("PAYEE_NOT_ALLOWED_TO_RECEIVE")), Verdict::PayeeInvalid);
        assert_eq!(
            verdict(Some("NOT_ENOUGH_FUNDS")),
            Verdict::Hold(HeldReason::InsufficientFunds)
        );
        assert_eq!(
            verdict(Some("INVALID_CURRENCY")),
            Verdict::Hold(HeldReason::MomoConfiguration)
        );
        assert_eq!(verdict(Some("INTERNAL_PROCESSING_ERROR")), Verdict::Retry);
        assert_eq!(verdict(Some("PAYER_LIMIT_REACHED")), Verdict::Retry);
        assert_eq!(verdict(None), Verdict::Retry);
        assert_eq!(verdict(Some("VALIDATION_ERROR")), Verdict::Terminal);
        assert_eq!(attempt_class(verdict(Some("NOT_ENOUGH_FUNDS"))), "insufficient_funds");
        assert_eq!(attempt_class(verdict(Some("PAYEE_NOT_FOUND"))), "payee_invalid");
        assert_eq!(attempt_class(verdict(Some("INVALID_CURRENCY"))), "configuration");
        assert_eq!(attempt_class(verdict(Some("APPROVAL_REJECTED"))), "terminal");
    }
}
