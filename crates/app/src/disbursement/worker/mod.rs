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

//!
//! The worker's parts: [`claim`] (claiming, the lease, releasing a row), [`drive`] (driving one
//! payout: posting, resolving, the attempt rows), [`settle`] (the resting points, each a move of
//! [`super::state`]), [`guards`] (circuit breaker, balance, daily limit) and [`alerts`].

mod alerts;
mod claim;
mod drive;
mod guards;
mod settle;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::{Mutex, Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use self::guards::{BalanceView, Breaker, Gate, PeriodTotal};
use super::state::{HeldReason, PayoutStatus};
use super::WAKE_CHANNEL;
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

/// Where one drive of a payout ended (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Pending,
    RetryScheduled,
    Failed,
    PayeeInvalid,
    Held(HeldReason),
    /// An infrastructure failure; the same attempt is resolved later.
    Deferred,
    /// Another worker holds the row now.
    LostLease,
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
    day: Mutex<PeriodTotal>,
    month: Mutex<PeriodTotal>,
    unconfigured_alerted: std::sync::Mutex<Option<Instant>>,
    done: Notify,
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
            day: Mutex::new(PeriodTotal::default()),
            month: Mutex::new(PeriodTotal::default()),
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
            self.alert_once(alerts::not_configured(), now).await;
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
        // in maintenance no new transfer starts (decision 0054): only payouts in flight are
        // claimed, to be resolved
        let mut claims = if crate::maintenance::current(&self.settings.get().0.backup, now).is_some() {
            Vec::new()
        } else {
            self.claim(
                &[PayoutStatus::Queued, PayoutStatus::RetryScheduled],
                free,
                now,
                lease_until,
            )
            .await?
        };
        let rest = free - claims.len();
        if rest > 0 {
            // polls and recoveries: at most a few seconds' worth of the poll budget at a time
            let polls = rest.min(pacing.payments.status_queries_per_second.max(1) as usize * 4);
            claims.extend(self.claim(&[PayoutStatus::Processing], polls, now, lease_until).await?);
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
}
