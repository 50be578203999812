//! Driving one payout to its next resting point: resolve an open attempt first, check the payee,
//! the guards, write the attempt (its reference committed before the POST), post, read the status.

use serde_json::{json, Value};
use uuid::Uuid;

use super::claim::Claim;
use super::{Outcome, Pacing, PayoutWorker};
use crate::audit::{self, Action};
use crate::disbursement::state::{AttemptStatus, HeldReason};
use crate::settings::model::PaymentSettings;
use crate::unit::Acting;

/// In MoMo's `sandbox`, MTN's test numbers go straight to the transfer: their account-holder
/// answers (A12) would stop most of them before their documented transfer outcome.
fn sandbox_test_number(pay: &PaymentSettings, msisdn: &str) -> bool {
    pay.momo_target_environment == "sandbox"
        && crate::redemption::Msisdn::parse(&format!("+{msisdn}")).is_ok_and(|m| m.is_sandbox_test_number())
}

impl PayoutWorker {
    // ---- one payout -------------------------------------------------------------------------

    pub(super) async fn drive(&self, pacing: &Pacing, c: Claim) -> Result<Outcome, anyhow::Error> {
        let client = pacing
            .client
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("MoMo is not configured"))?;
        if let Some(reference) = c.unresolved() {
            return self.resolve(pacing, client, &c, reference, true).await;
        }
        if crate::maintenance::current(&self.settings.get().0.backup, self.clock.now()).is_some() {
            // in maintenance no new transfer starts (decision 0054): the row waits as it is
            self.release_later(c.id, 60).await;
            return Ok(Outcome::Deferred);
        }
        if c.attempts >= c.max_attempts {
            return self.give_up(&c, "retry budget spent").await;
        }
        if !c.payee_checked && !sandbox_test_number(&pacing.payments, &c.msisdn) {
            pacing.calls.until_ready().await;
            match client.account_active(&c.msisdn).await {
                Ok(true) => self.infra_ok(),
                Ok(false) | Err(momo::MomoError::NotFound { .. }) => {
                    self.infra_ok();
                    return self.payee_invalid(&c, "no active MoMo wallet for this number").await;
                }
                Err(e) => return self.deferred(&c, &e, pacing).await,
            }
        }
        if !self
            .within_monthly_limit(&pacing.payments, c.amount, c.approved_over_limit)
            .await?
        {
            return self.await_approval(&c, HeldReason::MonthlyLimit).await;
        }
        if !self.within_daily_limit(&pacing.payments, c.amount).await? {
            self.unreserve_month(c.amount).await;
            return self.hold(&c, HeldReason::DailyLimit).await;
        }
        if let Some(reason) = self.balance_hold(pacing, client, c.amount).await {
            self.unreserve_month(c.amount).await;
            return self.hold(&c, reason).await;
        }
        let reference = Uuid::new_v4();
        let secret = crate::crypto::random_token(24);
        if !self.begin_attempt(&c, reference, &secret).await? {
            return Ok(Outcome::LostLease);
        }
        self.post(pacing, client, &c, reference, &secret).await
    }

    /// POSTs the transfer for `reference` (a new attempt, or one MoMo said it does not know).
    async fn post(
        &self,
        pacing: &Pacing,
        client: &momo::Client,
        c: &Claim,
        reference: Uuid,
        secret: &str,
    ) -> Result<Outcome, anyhow::Error> {
        let request = match momo::TransferRequest::new(
            c.amount.max(0) as u64,
            &c.currency,
            &c.redemption_id.to_string(),
            &c.msisdn,
            "MBELYCO promo prize",
            "MBELYCO promo prize",
        ) {
            Ok(r) => r,
            Err(e) => {
                return self
                    .settle_failed(c, reference, "VALIDATION_ERROR", &e.to_string(), None, pacing)
                    .await
            }
        };
        let callback = (!pacing.payments.callback_base_url.is_empty()).then(|| {
            format!(
                "{}/api/v1/webhooks/momo/disbursements/{reference}.{secret}",
                pacing.payments.callback_base_url.trim_end_matches('/')
            )
        });
        pacing.calls.until_ready().await;
        match client.transfer(reference, &request, callback.as_deref()).await {
            Ok(_) | Err(momo::MomoError::Duplicate { .. }) => {
                self.infra_ok();
                self.mark(reference, AttemptStatus::Sent, None).await?;
            }
            Err(e @ (momo::MomoError::Invalid(_) | momo::MomoError::Http { status: 400, .. })) => {
                // refused outright: nothing was created under this reference
                return self
                    .settle_failed(c, reference, "VALIDATION_ERROR", &e.to_string(), None, pacing)
                    .await;
            }
            Err(e) => {
                self.mark(reference, AttemptStatus::Unknown, Some(&e)).await?;
                if e.class() != momo::ErrorClass::Ambiguous {
                    return self.deferred(c, &e, pacing).await;
                }
                // timed out or 5xx after sending: the status query tells
            }
        }
        pacing.calls.until_ready().await;
        self.resolve(pacing, client, c, reference, false).await
    }

    /// Reads the status of `reference` and settles on it. `repost`: a 404 posts the same
    /// reference again (it never landed); otherwise a 404 right after a POST is deferred.
    async fn resolve(
        &self,
        pacing: &Pacing,
        client: &momo::Client,
        c: &Claim,
        reference: Uuid,
        repost: bool,
    ) -> Result<Outcome, anyhow::Error> {
        // every status query, the first after a transfer included, takes a slot of the budget
        // all processes share (MoMo's 10 a second); the slot is taken last, right before asking
        crate::disbursement::budget::acquire(&self.pool, pacing.payments.status_queries_per_second).await?;
        match client.transfer_status(reference).await {
            Ok(st) => {
                self.infra_ok();
                let body = serde_json::to_value(&st).unwrap_or(Value::Null);
                match st.status {
                    momo::Status::Successful => self.complete(c, reference, &st, body).await,
                    momo::Status::Failed => {
                        let code = st.reason.as_ref().map(|r| r.code.clone()).unwrap_or_default();
                        let message = st
                            .reason
                            .as_ref()
                            .and_then(|r| r.message.clone())
                            .unwrap_or_else(|| "MoMo reported the transfer FAILED".into());
                        self.settle_failed(c, reference, &code, &message, Some(body), pacing)
                            .await
                    }
                    _ => self.pending(c, reference, &st, body).await,
                }
            }
            Err(momo::MomoError::NotFound { .. }) if repost => {
                self.infra_ok();
                // the attempt never reached MoMo: the same reference is safe to post again
                let secret = crate::crypto::random_token(24);
                self.rearm(reference, &secret).await?;
                pacing.calls.until_ready().await;
                Box::pin(self.post(pacing, client, c, reference, &secret)).await
            }
            Err(e) => self.deferred(c, &e, pacing).await,
        }
    }

    // ---- bookkeeping ------------------------------------------------------------------------

    /// Writes the attempt row (and moves the disbursement's current reference to it) only while
    /// this worker holds the lease and the previous attempt, if any, is FAILED.
    async fn begin_attempt(&self, c: &Claim, reference: Uuid, secret: &str) -> Result<bool, sqlx::Error> {
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let no: Option<i32> = sqlx::query_scalar(
            r#"with d as (
                 update disbursements set attempts = attempts + 1, momo_reference = $3, last_attempt_at = $4,
                        payee_checked_at = coalesce(payee_checked_at, $4), held_reason = null, updated_at = $4
                 where id = $1 and lease_owner = $2 and status = 'processing'
                   and (momo_reference is null or exists (
                         select 1 from disbursement_attempts a where a.reference_id = disbursements.momo_reference
                            and a.status = 'failed'))
                 returning id)
               insert into disbursement_attempts (disbursement_id, attempt_no, reference_id, callback_secret_hash,
                                                  status, created_at)
               select d.id, coalesce((select max(attempt_no) from disbursement_attempts where disbursement_id = d.id), 0) + 1,
                      $3, $5, 'created', $4
               from d
               returning attempt_no"#,
        )
        .bind(c.id)
        .bind(&self.id)
        .bind(reference)
        .bind(now)
        .bind(crate::crypto::token_hash(secret))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(no) = no else {
            return Ok(false);
        };
        audit::record(
            &mut tx,
            &Acting::system(now)
                .audit(Action::DisbursementAttempted, "disbursement", c.id)
                .after(json!({
                    "attemptNo": no,
                    "referenceId": reference,
                    "amount": c.amount,
                    "currency": c.currency,
                    "msisdn": c.msisdn,
                })),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A fresh callback secret for an attempt whose reference is posted again.
    async fn rearm(&self, reference: Uuid, secret: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "update disbursement_attempts set callback_secret_hash = $2, status = 'created' where reference_id = $1",
        )
        .bind(reference)
        .bind(crate::crypto::token_hash(secret))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mark(
        &self,
        reference: Uuid,
        st: AttemptStatus,
        error: Option<&momo::MomoError>,
    ) -> Result<(), sqlx::Error> {
        let now = self.clock.now();
        sqlx::query(
            r#"update disbursement_attempts set status = $2, sent_at = coalesce(sent_at, $3),
                      http_status = coalesce($4, http_status), error_class = $5, error_code = $6, error_message = $7
               where reference_id = $1 and status not in ('successful', 'failed')"#,
        )
        .bind(reference)
        .bind(st.as_str())
        .bind(now)
        .bind(error.and_then(http_status))
        .bind(error.map(|e| class_name(e.class())))
        .bind(error.and_then(|e| e.reason_code().map(str::to_owned)))
        .bind(error.map(|e| e.to_string()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn http_status(e: &momo::MomoError) -> Option<i32> {
    match e {
        momo::MomoError::Http { status, .. } | momo::MomoError::Decode { status, .. } => Some(i32::from(*status)),
        momo::MomoError::NotFound { .. } => Some(404),
        momo::MomoError::Duplicate { .. } => Some(409),
        _ => None,
    }
}

fn class_name(c: momo::ErrorClass) -> &'static str {
    match c {
        momo::ErrorClass::Retryable => "retryable",
        momo::ErrorClass::Terminal => "terminal",
        momo::ErrorClass::Configuration => "configuration",
        momo::ErrorClass::Ambiguous => "ambiguous",
    }
}
