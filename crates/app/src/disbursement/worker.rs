//! The payout worker (DESIGN.md §5): every redemption's disbursement paid exactly once.
//!
//! The disbursements table is the queue. [`PayoutWorker::tick`] claims due rows with
//! `FOR UPDATE SKIP LOCKED` and a lease, then drives each one on its own task to its next resting
//! point:
//!
//! 1. **Resolve first.** A row whose current attempt is unresolved (created, sent, pending,
//!    unknown — a crash, a timeout, a lost lease, a PENDING poll or a callback) is resolved by
//!    `GET /transfer/{ref}` for that same reference. Found: its status is adopted. 404: the
//!    transfer never landed and the same reference is posted again (a 409 proves it had landed).
//!    A new reference is made only after MoMo said FAILED for the previous one, so at most one
//!    reference per disbursement can ever be live: no double payout.
//! 2. **Before the first transfer** the payee's wallet is checked (account holder active); a
//!    number without one ends in `payee_invalid` for a person to fix, not in burnt retries.
//! 3. **Balance.** The disbursement account's balance is watched; below the threshold an alert is
//!    raised, and a payout it cannot cover is held (`queued`, `held_reason`) instead of failed.
//! 4. **Attempt.** The attempt row with a fresh UUID v4 reference commits (fenced by the lease)
//!    before the POST; then the status is read at once.
//! 5. **Settle.** SUCCESSFUL completes in one transaction (disbursement, attempt, redemption, code
//!    `redeemed`, audit, the customer's SMS job; the batch status right after). FAILED decides by reason: retry later
//!    (settings' backoff), payee invalid, hold (funds, MoMo configuration), or failed for good
//!    (alert). PENDING releases the row with a poll time (backoff); the lease machinery that
//!    recovers a crashed worker's rows also runs the polls.
//!
//! Rates: MoMo calls go through a limiter (`requestsPerSecond`); every status query (the first
//! read after a transfer, reads a callback woke, crash recoveries, polls of PENDING transfers)
//! also takes a slot of the status-query budget every process and reconciliation share under
//! MoMo's 10 per second (`statusQueriesPerSecond`, [`super::budget`], decisions 0014, 0016,
//! 0024), so payouts complete at most that many a second. A circuit breaker stops claiming after
//! `circuitBreakerFailures` consecutive infrastructure failures and lets one probe through after
//! the cool-down.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::{json, Value};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::{Mutex, Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{status, WAKE_CHANNEL};
use crate::access::Permission;
use crate::alerts::{self, NewAlert, Severity};
use crate::audit::{self, Action, Actor, AuditEvent};
use crate::clock::SharedClock;
use crate::settings::model::PaymentSettings;
use crate::settings::SettingsStore;

/// How often the worker looks for due payouts when nothing woke it.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How long a held payout (low balance, MoMo configuration) waits before it is looked at again.
const HOLD_FOR: chrono::Duration = chrono::Duration::seconds(60);
/// How long after an infrastructure failure (connection, 5xx, 429) a payout is tried again.
const TRANSIENT_RETRY: chrono::Duration = chrono::Duration::seconds(10);
/// Longest wait between two polls of a PENDING transfer.
const MAX_POLL_WAIT_SECS: i64 = 300;
/// How long a balance reading is trusted.
const BALANCE_TTL: Duration = Duration::from_secs(30);
/// Most rows claimed by one statement.
const CLAIM_BATCH: usize = 200;

/// What the settings decide about pacing, rebuilt when the settings change.
struct Pacing {
    version: i64,
    client: Option<momo::Client>,
    calls: Arc<DefaultDirectRateLimiter>,
    payments: Arc<PaymentSettings>,
}

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

enum Gate {
    Open,
    Probe,
    Shut,
}

impl Breaker {
    fn gate(&mut self, now: Instant) -> Gate {
        match self.open_until {
            None => Gate::Open,
            Some(_) if self.probing => Gate::Shut,
            Some(until) if now >= until => {
                self.probing = true;
                Gate::Probe
            }
            Some(_) => Gate::Shut,
        }
    }

    fn success(&mut self) -> bool {
        let was_open = self.open_until.is_some();
        *self = Self::default();
        was_open
    }

    /// Counts a failure; true when this one opened the breaker.
    fn failure(&mut self, threshold: u32, cooldown: Duration, now: Instant) -> bool {
        self.failures += 1;
        let reopen = self.probing;
        self.probing = false;
        if reopen || (self.open_until.is_none() && self.failures >= threshold.max(1)) {
            let opened = self.open_until.is_none();
            self.open_until = Some(now + cooldown);
            return opened;
        }
        false
    }
}

#[derive(Debug, Default)]
struct BalanceView {
    known: Option<i64>,
    read_at: Option<Instant>,
    /// Reserved for payouts since the reading.
    spent: i64,
}

/// A claimed disbursement with its current attempt.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Claim {
    id: Uuid,
    redemption_id: Uuid,
    msisdn: String,
    amount: i64,
    currency: String,
    attempts: i32,
    max_attempts: i32,
    payee_checked: bool,
    reference_id: Option<Uuid>,
    attempt_status: Option<String>,
    polls: Option<i32>,
}

impl Claim {
    fn unresolved(&self) -> Option<Uuid> {
        match self.attempt_status.as_deref() {
            Some("created" | "sent" | "pending" | "unknown") => self.reference_id,
            _ => None,
        }
    }
}

/// Where one drive of a payout ended (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Pending,
    RetryScheduled,
    Failed,
    PayeeInvalid,
    Held(&'static str),
    /// An infrastructure failure; the same attempt is resolved later.
    Deferred,
    /// Another worker holds the row now.
    LostLease,
}

/// What MoMo's FAILED reason means for the payout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Retry,
    PayeeInvalid,
    Hold(&'static str),
    Terminal,
}

/// How a FAILED attempt is recorded (`disbursement_attempts.error_class`): what the reason is,
/// not only whether it ends the payout — `NOT_ENOUGH_FUNDS` holds the payout until the account
/// is topped up, so it is not `terminal`.
fn attempt_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Retry => "retryable",
        Verdict::PayeeInvalid => "payee_invalid",
        Verdict::Hold("insufficient_funds") => "insufficient_funds",
        Verdict::Hold(_) => "configuration",
        Verdict::Terminal => "terminal",
    }
}

/// In MoMo's `sandbox`, MTN's test numbers go straight to the transfer: their account-holder
/// answers (A12) would stop most of them before their documented transfer outcome.
fn sandbox_test_number(pay: &PaymentSettings, msisdn: &str) -> bool {
    pay.momo_target_environment == "sandbox"
        && crate::redemption::Msisdn::parse(&format!("+{msisdn}")).is_ok_and(|m| m.is_sandbox_test_number())
}

fn verdict(reason: Option<&str>) -> Verdict {
    match reason.unwrap_or("") {
        "PAYEE_NOT_FOUND" | "PAYEE_NOT_ALLOWED_TO_RECEIVE" => Verdict::PayeeInvalid,
        "NOT_ENOUGH_FUNDS" => Verdict::Hold("insufficient_funds"),
        "NOT_ALLOWED_TARGET_ENVIRONMENT"
        | "INVALID_CALLBACK_URL_HOST"
        | "INVALID_CURRENCY"
        | "NOT_ALLOWED"
        | "SENDER_ACCOUNT_NOT_ACTIVE" => Verdict::Hold("momo_configuration"),
        "VALIDATION_ERROR" | "PAYEE_LIMIT_REACHED" | "APPROVAL_REJECTED" | "PAYMENT_NOT_APPROVED" => Verdict::Terminal,
        // INTERNAL_PROCESSING_ERROR, SERVICE_UNAVAILABLE, PAYER_LIMIT_REACHED, EXPIRED,
        // COULD_NOT_PERFORM_TRANSACTION, TRANSACTION_CANCELED, no reason at all, …
        _ => Verdict::Retry,
    }
}

pub struct PayoutWorker {
    pool: PgPool,
    settings: Arc<SettingsStore>,
    clock: SharedClock,
    id: String,
    slots: Arc<Semaphore>,
    capacity: usize,
    pacing: Mutex<Option<Arc<Pacing>>>,
    breaker: std::sync::Mutex<Breaker>,
    balance: Mutex<BalanceView>,
    day: Mutex<DayTotal>,
    unconfigured_alerted: std::sync::Mutex<Option<Instant>>,
    done: Notify,
}

/// What was paid out today (Kigali), from the database at most every few seconds plus what this
/// worker reserved since: the payment settings' daily limit.
#[derive(Debug, Default)]
struct DayTotal {
    day: Option<chrono::NaiveDate>,
    total: i64,
    read_at: Option<Instant>,
}

impl PayoutWorker {
    /// A worker with as many payouts in flight as the settings say (read once, at start).
    pub fn new(pool: PgPool, settings: Arc<SettingsStore>, clock: SharedClock, id: impl Into<String>) -> Arc<Self> {
        let capacity = settings.get().0.payments.worker_concurrency.max(1) as usize;
        Arc::new(Self {
            pool,
            settings,
            clock,
            id: id.into(),
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
            pacing: Mutex::new(None),
            breaker: std::sync::Mutex::new(Breaker::default()),
            balance: Mutex::new(BalanceView::default()),
            day: Mutex::new(DayTotal::default()),
            unconfigured_alerted: std::sync::Mutex::new(None),
            done: Notify::new(),
        })
    }

    async fn pacing(&self) -> Arc<Pacing> {
        let current = self.settings.get();
        let mut slot = self.pacing.lock().await;
        if let Some(p) = slot.as_ref().filter(|p| p.version == current.1) {
            return Arc::clone(p);
        }
        let pay = &current.0.payments;
        let per_second = |n: u32| Quota::per_second(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        let p = Arc::new(Pacing {
            version: current.1,
            client: super::momo_client(pay),
            calls: Arc::new(RateLimiter::direct(per_second(pay.requests_per_second))),
            payments: Arc::new(pay.clone()),
        });
        *slot = Some(Arc::clone(&p));
        p
    }

    fn lease_for(&self, pay: &PaymentSettings) -> chrono::Duration {
        // a call may take the timeout; the payee check, the transfer and its status are three;
        // the status query may wait behind every payout in flight for its slot of the budget
        let budget_wait = (self.capacity as f64 * 1.05 / f64::from(pay.status_queries_per_second.max(1))).ceil() as i64;
        chrono::Duration::seconds(i64::from(pay.request_timeout_seconds.max(1)) * 3 + 30 + budget_wait)
    }

    /// Claims what is due and starts a task for each; returns how many were claimed.
    pub async fn tick(self: &Arc<Self>) -> Result<usize, sqlx::Error> {
        let pacing = self.pacing().await;
        let now = self.clock.now();
        if pacing.client.is_none() {
            let due = self
                .unconfigured_alerted
                .lock()
                .map(|mut last| {
                    let due = last.is_none_or(|t| t.elapsed() > Duration::from_secs(300));
                    if due {
                        *last = Some(Instant::now());
                    }
                    due
                })
                .unwrap_or(false);
            if !due {
                return Ok(0);
            }
            self.alert_once(
                NewAlert::new(
                    "momo.not_configured",
                    Severity::Critical,
                    Permission::FinancialAlertsView,
                    "Payouts are waiting: MoMo is not configured",
                )
                .body("Set the MoMo API user, API key and subscription key in the payment settings.")
                .dedupe("momo.not_configured"),
                now,
            )
            .await;
            return Ok(0);
        }
        let mut free = self.slots.available_permits().min(CLAIM_BATCH);
        if free == 0 {
            return Ok(0);
        }
        match self.breaker.lock().map(|mut b| b.gate(Instant::now())) {
            Ok(Gate::Open) => {}
            Ok(Gate::Probe) => free = 1,
            Ok(Gate::Shut) | Err(_) => return Ok(0),
        }
        let lease_until = now + self.lease_for(&pacing.payments);
        let mut claims = self
            .claim(&[status::QUEUED, status::RETRY_SCHEDULED], free, now, lease_until)
            .await?;
        let rest = free - claims.len();
        if rest > 0 {
            // polls and recoveries: at most a few seconds' worth of the poll budget at a time
            let polls = rest.min(pacing.payments.status_queries_per_second.max(1) as usize * 4);
            claims.extend(self.claim(&[status::PROCESSING], polls, now, lease_until).await?);
        }
        let n = claims.len();
        for c in claims {
            let permit = match Arc::clone(&self.slots).acquire_owned().await {
                Ok(p) => p,
                Err(_) => break,
            };
            let me = Arc::clone(self);
            let pacing = Arc::clone(&pacing);
            tokio::spawn(async move {
                let id = c.id;
                match me.drive(&pacing, c).await {
                    Ok(outcome) => tracing::debug!(disbursement = %id, ?outcome, "payout step"),
                    Err(e) => {
                        tracing::warn!(disbursement = %id, error = %e, "payout step failed; it is looked at again shortly");
                        me.release_after_error(id).await;
                    }
                }
                drop(permit);
                me.done.notify_waiters();
            });
        }
        Ok(n)
    }

    async fn claim(
        &self,
        statuses: &[&str],
        limit: usize,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Claim>, sqlx::Error> {
        sqlx::query_as(
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
                           d.payee_checked_at is not null as payee_checked, d.momo_reference)
               select u.id, u.redemption_id, u.msisdn, u.amount, u.currency, u.attempts, u.max_attempts,
                      u.payee_checked, a.reference_id, a.status as attempt_status, a.polls
               from u left join disbursement_attempts a on a.reference_id = u.momo_reference"#,
        )
        .bind(&self.id)
        .bind(now)
        .bind(statuses)
        .bind(limit as i64)
        .bind(lease_until)
        .fetch_all(&self.pool)
        .await
    }

    /// After a failed step (a database error, mostly): the row stays `processing` with its
    /// attempt as it is, due again in a few seconds instead of when the lease would expire; the
    /// next claim resolves the attempt first. When even this fails, the lease brings it back.
    async fn release_after_error(&self, id: Uuid) {
        let again = self.clock.now() + chrono::Duration::seconds(5);
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

    /// Ticks until nothing is due and nothing is in flight (tests, benches, drain on demand).
    pub async fn run_until_idle(self: &Arc<Self>) -> Result<usize, sqlx::Error> {
        let mut total = 0;
        loop {
            let n = self.tick().await?;
            total += n;
            self.wait_in_flight().await;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    async fn wait_in_flight(&self) {
        if let Ok(all) = self.slots.acquire_many(self.capacity as u32).await {
            drop(all);
        }
    }

    /// Runs until `shutdown`: wakes on `NOTIFY disbursements`, on a finished payout and every
    /// [`POLL_INTERVAL`]. On shutdown it stops claiming and waits up to `grace` for payouts in
    /// flight; any left behind are resolved by status query when their lease expires.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken, grace: Duration) {
        let mut listener = match PgListener::connect_with(&self.pool).await {
            Ok(mut l) => match l.listen(WAKE_CHANNEL).await {
                Ok(()) => Some(l),
                Err(e) => {
                    tracing::warn!(error = %e, "payout worker cannot LISTEN; polling only");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "payout worker cannot LISTEN; polling only");
                None
            }
        };
        tracing::info!(worker = %self.id, slots = self.capacity, "payout worker started");
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let claimed = match self.tick().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming payouts failed; retrying");
                    0
                }
            };
            if claimed > 0 && self.slots.available_permits() > 0 {
                continue; // there may be more due
            }
            let done = self.done.notified();
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = done, if claimed > 0 => {}
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                n = async {
                    match listener.as_mut() {
                        Some(l) => l.recv().await.map(|_| ()),
                        None => std::future::pending().await,
                    }
                } => {
                    if n.is_err() {
                        listener = None;
                    }
                }
            }
        }
        let _ = tokio::time::timeout(grace, self.wait_in_flight()).await;
        tracing::info!(worker = %self.id, "payout worker stopped");
    }

    // ---- one payout -------------------------------------------------------------------------

    async fn drive(&self, pacing: &Pacing, c: Claim) -> Result<Outcome, anyhow::Error> {
        let client = pacing
            .client
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("MoMo is not configured"))?;
        if let Some(reference) = c.unresolved() {
            return self.resolve(pacing, client, &c, reference, true).await;
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
        if !self.within_daily_limit(&pacing.payments, c.amount).await? {
            return self.hold(&c, "daily_limit").await;
        }
        if let Some(reason) = self.balance_hold(pacing, client, c.amount).await {
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
                self.mark(reference, "sent", None).await?;
            }
            Err(e @ (momo::MomoError::Invalid(_) | momo::MomoError::Http { status: 400, .. })) => {
                // refused outright: nothing was created under this reference
                return self
                    .settle_failed(c, reference, "VALIDATION_ERROR", &e.to_string(), None, pacing)
                    .await;
            }
            Err(e) => {
                self.mark(reference, "unknown", Some(&e)).await?;
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
        super::budget::acquire(&self.pool, pacing.payments.status_queries_per_second).await?;
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
            &AuditEvent::new(Actor::System, Action::DisbursementAttempted, "disbursement", c.id).after(json!({
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

    async fn mark(&self, reference: Uuid, st: &str, error: Option<&momo::MomoError>) -> Result<(), sqlx::Error> {
        let now = self.clock.now();
        sqlx::query(
            r#"update disbursement_attempts set status = $2, sent_at = coalesce(sent_at, $3),
                      http_status = coalesce($4, http_status), error_class = $5, error_code = $6, error_message = $7
               where reference_id = $1 and status not in ('successful', 'failed')"#,
        )
        .bind(reference)
        .bind(st)
        .bind(now)
        .bind(error.and_then(http_status))
        .bind(error.map(|e| class_name(e.class())))
        .bind(error.and_then(|e| e.reason_code().map(str::to_owned)))
        .bind(error.map(|e| e.to_string()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn complete(
        &self,
        c: &Claim,
        reference: Uuid,
        st: &momo::TransferStatus,
        body: Value,
    ) -> Result<Outcome, anyhow::Error> {
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let done: Option<(Uuid, Uuid, Uuid)> = sqlx::query_as(
            r#"with a as (
                 update disbursement_attempts set status = 'successful', momo_status = 'SUCCESSFUL',
                        financial_transaction_id = $3, resolved_at = $2, response = $4, last_polled_at = $2,
                        polls = polls + 1
                 where reference_id = $5),
               d as (
                 update disbursements set status = 'completed', momo_transaction_id = $3, momo_reference = $5,
                        disbursed_at = $2, updated_at = $2, lease_owner = null, lease_expires_at = null,
                        error_code = null, error_message = null, held_reason = null
                 where id = $1 and status <> 'completed'
                 returning redemption_id),
               r as (
                 update redemptions set status = 'completed', completed_at = $2, error_code = null, error_message = null
                 from d where redemptions.id = d.redemption_id
                 returning redemptions.id, redemptions.promo_code_id, redemptions.batch_id),
               code as (
                 update promo_codes set status = 'redeemed', redeemed_at = $2
                 from r where promo_codes.id = r.promo_code_id and promo_codes.status = 'used')
               select r.id, r.promo_code_id, r.batch_id from r"#,
        )
        .bind(c.id)
        .bind(now)
        .bind(&st.financial_transaction_id)
        .bind(&body)
        .bind(reference)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((redemption_id, code_id, batch_id)) = done else {
            tx.rollback().await?;
            return Ok(Outcome::Completed); // already completed (a duplicate resolution)
        };
        audit::record(
            &mut tx,
            &AuditEvent::new(Actor::System, Action::DisbursementCompleted, "disbursement", c.id)
                .before(json!({"status": "processing"}))
                .after(json!({
                    "status": "completed",
                    "referenceId": reference,
                    "financialTransactionId": st.financial_transaction_id,
                    "amount": c.amount,
                    "currency": c.currency,
                    "redemptionId": redemption_id,
                    "promoCodeId": code_id,
                    "codeStatus": "redeemed",
                })),
            now,
        )
        .await?;
        // the customer's confirmation SMS commits with the payout (queued only when SMS is set up)
        crate::alerts::sms::queue_payout_sms(&mut tx, &[redemption_id], now).await?;
        tx.commit().await?;
        // after the commit: payouts of one batch completing side by side each see the others'
        // codes as still `used` inside their own transactions; the last to commit sees them all
        if crate::batches::refresh::may_change(&self.pool, batch_id, now).await? {
            let mut tx = self.pool.begin().await?;
            crate::batches::refresh::refresh_status(&mut tx, batch_id, now).await?;
            tx.commit().await?;
        }
        Ok(Outcome::Completed)
    }

    async fn pending(
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
    async fn settle_failed(
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
                    self.to_retry(&mut tx, c, code, message, at, now).await?
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
        code: &str,
        message: &str,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, sqlx::Error> {
        if !self
            .release(
                tx,
                c,
                status::RETRY_SCHEDULED,
                at,
                Some((code, message)),
                None,
                false,
                now,
            )
            .await?
        {
            return Ok(Outcome::LostLease);
        }
        audit::record(
            tx,
            &AuditEvent::new(Actor::System, Action::DisbursementRetryScheduled, "disbursement", c.id)
                .after(json!({"status": "retry_scheduled", "reason": code, "message": message, "nextAttemptAt": at})),
            now,
        )
        .await?;
        Ok(Outcome::RetryScheduled)
    }

    async fn to_failed(
        &self,
        tx: &mut PgConnection,
        c: &Claim,
        code: &str,
        message: &str,
        now: DateTime<Utc>,
    ) -> Result<Outcome, sqlx::Error> {
        let far = now; // no next attempt; the due index ignores failed rows
        if !self
            .release(tx, c, status::FAILED, far, Some((code, message)), None, false, now)
            .await?
        {
            return Ok(Outcome::LostLease);
        }
        sqlx::query("update redemptions set status = 'failed', error_code = $2, error_message = $3 where id = $1")
            .bind(c.redemption_id)
            .bind(code)
            .bind(message)
            .execute(&mut *tx)
            .await?;
        audit::record(
            tx,
            &AuditEvent::new(Actor::System, Action::DisbursementFailed, "disbursement", c.id).after(json!({
                "status": "failed",
                "reason": code,
                "message": message,
                "attempts": c.attempts + 1,
                "redemptionId": c.redemption_id,
            })),
            now,
        )
        .await?;
        alerts::raise(
            tx,
            &NewAlert::new(
                "payout.failed",
                Severity::Critical,
                Permission::FinancialAlertsView,
                format!("Payout of {} {} to +{} failed for good", c.amount, c.currency, c.msisdn),
            )
            .body(format!("{code}: {message}. Retry it or reverse the redemption."))
            .subject("disbursement", c.id)
            .dedupe(format!("payout.failed:{}", c.id)),
            now,
        )
        .await?;
        Ok(Outcome::Failed)
    }

    async fn to_payee_invalid(
        &self,
        tx: &mut PgConnection,
        c: &Claim,
        code: &str,
        message: &str,
        now: DateTime<Utc>,
    ) -> Result<Outcome, sqlx::Error> {
        if !self
            .release(
                tx,
                c,
                status::PAYEE_INVALID,
                now,
                Some((code, message)),
                None,
                false,
                now,
            )
            .await?
        {
            return Ok(Outcome::LostLease);
        }
        audit::record(
            tx,
            &AuditEvent::new(Actor::System, Action::DisbursementPayeeInvalid, "disbursement", c.id).after(json!({
                "status": "payee_invalid",
                "msisdn": c.msisdn,
                "reason": code,
                "message": message,
            })),
            now,
        )
        .await?;
        // for the people who can give the payout another number (decision 0024)
        alerts::raise(
            tx,
            &NewAlert::new(
                "payout.payee_invalid",
                Severity::Warning,
                Permission::DisbursementsPayeeUpdate,
                format!(
                    "Payout of {} {} is unpaid: +{} has no active MoMo wallet",
                    c.amount, c.currency, c.msisdn
                ),
            )
            .body(format!(
                "{code}: {message}. Ask the customer for another MTN number and change the payee on the redemption."
            ))
            .subject("disbursement", c.id)
            .dedupe(format!("payout.payee_invalid:{}", c.id)),
            now,
        )
        .await?;
        Ok(Outcome::PayeeInvalid)
    }

    async fn to_held(
        &self,
        tx: &mut PgConnection,
        c: &Claim,
        reason: &'static str,
        error: Option<(&str, &str)>,
        uncount: bool,
        now: DateTime<Utc>,
    ) -> Result<Outcome, sqlx::Error> {
        if !self
            .release(tx, c, status::QUEUED, now + HOLD_FOR, error, Some(reason), uncount, now)
            .await?
        {
            return Ok(Outcome::LostLease);
        }
        audit::record(
            tx,
            &AuditEvent::new(Actor::System, Action::DisbursementHeld, "disbursement", c.id).after(json!({
                "status": "queued",
                "heldReason": reason,
                "error": error.map(|(code, _)| code),
            })),
            now,
        )
        .await?;
        let (title, audience) = match reason {
            "insufficient_funds" | "low_balance" => (
                "Payouts are held: the MoMo disbursement account cannot cover them",
                Permission::FinancialAlertsView,
            ),
            "daily_limit" => (
                "Payouts are held: today's payout limit is reached",
                Permission::FinancialAlertsView,
            ),
            _ => (
                "Payouts are held: MoMo refuses our configuration",
                Permission::SystemAlertsView,
            ),
        };
        alerts::raise(
            tx,
            &NewAlert::new("payout.held", Severity::Critical, audience, title)
                .body(match error {
                    Some((code, message)) => format!("{code}: {message}"),
                    None => "Top up the disbursement account; held payouts resume by themselves.".into(),
                })
                .dedupe(format!("payout.held:{reason}")),
            now,
        )
        .await?;
        Ok(Outcome::Held(reason))
    }

    /// Moves the claimed row out of `processing`, fenced by the lease.
    #[allow(clippy::too_many_arguments)]
    async fn release(
        &self,
        tx: &mut PgConnection,
        c: &Claim,
        to: &str,
        next: DateTime<Utc>,
        error: Option<(&str, &str)>,
        held: Option<&str>,
        uncount: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        Ok(sqlx::query(
            r#"update disbursements set status = $3, next_attempt_at = $4, lease_owner = null, lease_expires_at = null,
                      error_code = $5, error_message = $6, held_reason = $7, updated_at = $8,
                      attempts = case when $9 then greatest(attempts - 1, 0) else attempts end
               where id = $1 and lease_owner = $2 and status = 'processing'"#,
        )
        .bind(c.id)
        .bind(&self.id)
        .bind(to)
        .bind(next)
        .bind(error.map(|e| e.0))
        .bind(error.map(|e| e.1))
        .bind(held)
        .bind(now)
        .bind(uncount)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1)
    }

    async fn payee_invalid(&self, c: &Claim, why: &str) -> Result<Outcome, anyhow::Error> {
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let out = self.to_payee_invalid(&mut tx, c, "PAYEE_NOT_ACTIVE", why, now).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn hold(&self, c: &Claim, reason: &'static str) -> Result<Outcome, anyhow::Error> {
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let out = self.to_held(&mut tx, c, reason, None, false, now).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn give_up(&self, c: &Claim, why: &str) -> Result<Outcome, anyhow::Error> {
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let out = self.to_failed(&mut tx, c, "RETRIES_EXHAUSTED", why, now).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// An infrastructure failure (connection, timeout, 5xx, 429, auth): the attempt, if any,
    /// stays as it is and is resolved later; the breaker counts it; configuration faults hold.
    async fn deferred(&self, c: &Claim, e: &momo::MomoError, pacing: &Pacing) -> Result<Outcome, anyhow::Error> {
        let now = self.clock.now();
        let opened = self
            .breaker
            .lock()
            .map(|mut b| {
                b.failure(
                    pacing.payments.circuit_breaker_failures,
                    Duration::from_secs(u64::from(pacing.payments.circuit_breaker_cooldown_seconds)),
                    Instant::now(),
                )
            })
            .unwrap_or(false);
        if opened {
            tracing::warn!(
                failures = pacing.payments.circuit_breaker_failures,
                probe_after_s = pacing.payments.circuit_breaker_cooldown_seconds,
                error = %e,
                "MoMo is failing: payouts are paused (circuit breaker open)"
            );
        }
        let mut tx = self.pool.begin().await?;
        if opened {
            alerts::raise(
                &mut tx,
                &NewAlert::new(
                    "momo.circuit_open",
                    Severity::Critical,
                    Permission::SystemAlertsView,
                    "MoMo is failing: payouts are paused",
                )
                .body(format!(
                    "{} failures in a row, the last: {e}. A probe is sent after {} s.",
                    pacing.payments.circuit_breaker_failures, pacing.payments.circuit_breaker_cooldown_seconds
                ))
                .dedupe("momo.circuit_open"),
                now,
            )
            .await?;
        }
        let message = e.to_string();
        let code = e.reason_code().unwrap_or(match e.class() {
            momo::ErrorClass::Configuration => "MOMO_CONFIGURATION",
            _ => "MOMO_UNAVAILABLE",
        });
        let out = if e.class() == momo::ErrorClass::Configuration {
            self.to_held(&mut tx, c, "momo_configuration", Some((code, &message)), false, now)
                .await?
        } else {
            let status_to = if c.unresolved().is_some() || c.reference_id.is_some() {
                status::RETRY_SCHEDULED
            } else {
                status::QUEUED
            };
            if self
                .release(
                    &mut tx,
                    c,
                    status_to,
                    now + TRANSIENT_RETRY,
                    Some((code, &message)),
                    None,
                    false,
                    now,
                )
                .await?
            {
                Outcome::Deferred
            } else {
                Outcome::LostLease
            }
        };
        tx.commit().await?;
        Ok(out)
    }

    fn infra_ok(&self) {
        let closed = self.breaker.lock().map(|mut b| b.success()).unwrap_or(false);
        if closed {
            tracing::info!("MoMo answered again: payouts resume");
        }
    }

    // ---- balance ----------------------------------------------------------------------------

    /// `Some(reason)` when the payout must wait for money; raises the low-balance alert.
    async fn balance_hold(&self, pacing: &Pacing, client: &momo::Client, amount: i64) -> Option<&'static str> {
        let mut view = self.balance.lock().await;
        let stale = view.read_at.is_none_or(|t| t.elapsed() > BALANCE_TTL);
        let short = view.known.is_some_and(|k| k - view.spent < amount);
        if stale || short {
            // a short estimate is re-read at most every 5 s
            if stale || view.read_at.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
                pacing.calls.until_ready().await;
                match client.balance().await {
                    Ok(b) => {
                        let known = b
                            .available_balance
                            .split('.')
                            .next()
                            .and_then(|s| s.trim().parse::<i64>().ok());
                        *view = BalanceView {
                            known,
                            read_at: Some(Instant::now()),
                            spent: 0,
                        };
                        if let Some(k) = known {
                            if k < pacing.payments.low_balance_threshold {
                                self.alert_once(
                                    NewAlert::new(
                                        "momo.low_balance",
                                        Severity::Warning,
                                        Permission::FinancialAlertsView,
                                        format!("MoMo disbursement balance is low: {k} {}", b.currency),
                                    )
                                    .body(format!(
                                        "Below the threshold of {} set in the payment settings. Top up the account.",
                                        pacing.payments.low_balance_threshold
                                    ))
                                    .dedupe("momo.low_balance"),
                                    self.clock.now(),
                                )
                                .await;
                            }
                        }
                    }
                    Err(e) => {
                        // the balance is a guard, not a gate: MoMo still refuses what it cannot pay
                        tracing::warn!(error = %e, "could not read the MoMo balance");
                        view.read_at = Some(Instant::now());
                        view.known = None;
                    }
                }
            }
        }
        match view.known {
            Some(k) if k - view.spent < amount => Some("low_balance"),
            _ => {
                // reserved now, so payouts checked at the same moment do not all count the same money
                view.spent += amount;
                None
            }
        }
    }

    /// Whether paying `amount` stays within the daily limit (Kigali day); reserves it if so.
    async fn within_daily_limit(&self, pay: &PaymentSettings, amount: i64) -> Result<bool, sqlx::Error> {
        let now = self.clock.now();
        let today = now.with_timezone(&crate::clock::kigali()).date_naive();
        let mut d = self.day.lock().await;
        if d.day != Some(today) || d.read_at.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
            let start = today
                .and_hms_opt(0, 0, 0)
                .and_then(|t| t.and_local_timezone(crate::clock::kigali()).single())
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(now);
            // paid today; what is on its way counts through the reservations below
            let total: i64 = sqlx::query_scalar(
                "select coalesce(sum(amount), 0)::int8 from disbursements where status = 'completed' and disbursed_at >= $1",
            )
            .bind(start)
            .fetch_one(&self.pool)
            .await?;
            *d = DayTotal {
                day: Some(today),
                total,
                read_at: Some(Instant::now()),
            };
        }
        if d.total + amount > pay.daily_transaction_limit {
            return Ok(false);
        }
        d.total += amount;
        Ok(true)
    }

    async fn alert_once(&self, alert: NewAlert, now: DateTime<Utc>) {
        let result = async {
            let mut conn = self.pool.acquire().await?;
            alerts::raise(&mut conn, &alert, now).await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, kind = alert.kind, "could not raise an alert");
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_decide_the_next_step() {
        assert_eq!(verdict(Some("PAYEE_NOT_FOUND")), Verdict::PayeeInvalid);
        assert_eq!(verdict(Some("PAYEE_NOT_ALLOWED_TO_RECEIVE")), Verdict::PayeeInvalid);
        assert_eq!(verdict(Some("NOT_ENOUGH_FUNDS")), Verdict::Hold("insufficient_funds"));
        assert_eq!(verdict(Some("INVALID_CURRENCY")), Verdict::Hold("momo_configuration"));
        assert_eq!(verdict(Some("INTERNAL_PROCESSING_ERROR")), Verdict::Retry);
        assert_eq!(verdict(Some("PAYER_LIMIT_REACHED")), Verdict::Retry);
        assert_eq!(verdict(None), Verdict::Retry);
        assert_eq!(verdict(Some("VALIDATION_ERROR")), Verdict::Terminal);
        assert_eq!(attempt_class(verdict(Some("NOT_ENOUGH_FUNDS"))), "insufficient_funds");
        assert_eq!(attempt_class(verdict(Some("PAYEE_NOT_FOUND"))), "payee_invalid");
        assert_eq!(attempt_class(verdict(Some("INVALID_CURRENCY"))), "configuration");
        assert_eq!(attempt_class(verdict(Some("APPROVAL_REJECTED"))), "terminal");
    }

    #[test]
    fn the_breaker_opens_after_the_threshold_and_lets_one_probe_through() {
        let mut b = Breaker::default();
        let t0 = Instant::now();
        let cool = Duration::from_secs(10);
        assert!(!b.failure(3, cool, t0));
        assert!(!b.failure(3, cool, t0));
        assert!(b.failure(3, cool, t0), "third failure opens it");
        assert!(matches!(b.gate(t0), Gate::Shut));
        assert!(matches!(b.gate(t0 + cool), Gate::Probe));
        assert!(matches!(b.gate(t0 + cool), Gate::Shut), "one probe at a time");
        assert!(
            !b.failure(3, cool, t0 + cool),
            "a failed probe reopens without a new alert"
        );
        assert!(matches!(b.gate(t0 + cool), Gate::Shut));
        assert!(matches!(b.gate(t0 + cool * 2), Gate::Probe));
        assert!(b.success(), "a good probe closes it");
        assert!(matches!(b.gate(t0 + cool * 2), Gate::Open));
    }
}
