//! The simulated MoMo account: API users, tokens, transfers, balance and faults behind one lock
//! that is never held across an await. Every change worth keeping goes to the ledger first.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use momo::{Status, TransferRequest};
use rand::Rng as _;
use uuid::Uuid;

use super::callbacks::{self, CallbackAttempt};
use super::clock;
use super::config::{Faults, SimConfig};
use super::ledger::{Event, Ledger, LedgerError};
use super::meter::{Meter, StatusQueryStats};
use super::sandbox::{transfer_outcome, TransferOutcome};
use super::state::{ApiUser, Grant, State};
use super::transfer::{Plan, TransferRecord};

/// The simulated MoMo; cheap to clone, clones share everything.
#[derive(Clone)]
pub struct MomoSim {
    inner: Arc<Inner>,
}

struct Inner {
    config: SimConfig,
    http: reqwest::Client,
    state: Mutex<State>,
    status_queries: Mutex<Meter>,
}

/// Why the simulator could not start or record something.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Why a transfer was not created.
pub(crate) enum CreateError {
    Duplicate,
    Ledger(LedgerError),
}

impl MomoSim {
    /// Opens the simulator, replaying the ledger in `config.data_dir` when there is one. Inside a
    /// tokio runtime, transfers still PENDING from before a restart are settled when due.
    pub fn new(config: SimConfig) -> Result<Self, SimError> {
        let mut state = State {
            balance: config.starting_balance,
            faults: config.faults.clone(),
            ..State::default()
        };
        for seed in &config.users {
            state.users.insert(
                seed.api_user.clone(),
                ApiUser {
                    callback_host: seed.callback_host.clone(),
                    keys: vec![seed.api_key.clone()],
                },
            );
        }
        if let Some(dir) = &config.data_dir {
            let (mut ledger, events) = Ledger::open(dir)?;
            if events.is_empty() {
                ledger.append(&Event::Opened {
                    balance: config.starting_balance,
                    at: clock::now(),
                })?;
            }
            for event in events {
                state.replay(event);
            }
            state.ledger = Some(ledger);
        }
        let http = reqwest::Client::builder().timeout(config.callback_timeout).build()?;
        let sim = Self {
            inner: Arc::new(Inner {
                config,
                http,
                state: Mutex::new(state),
                status_queries: Mutex::new(Meter::default()),
            }),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            let pending: Vec<(Uuid, DateTime<Utc>)> = sim
                .state()
                .transfers
                .values()
                .filter(|t| t.status == Status::Pending)
                .filter_map(|t| t.due_at.map(|due| (t.reference_id, due)))
                .collect();
            for (reference_id, due_at) in pending {
                sim.schedule(reference_id, due_at);
            }
        }
        Ok(sim)
    }

    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    // ---- inspection and control (tests, the control API) ----

    /// Every transfer, in acceptance order, after settling those that are due.
    pub fn transfers(&self) -> Vec<TransferRecord> {
        self.settle_due();
        let state = self.state();
        state
            .order
            .iter()
            .filter_map(|id| state.transfers.get(id).cloned())
            .collect()
    }

    /// One transfer, after settling it if it is due.
    pub fn transfer(&self, reference_id: Uuid) -> Option<TransferRecord> {
        self.settle(reference_id);
        self.state().transfers.get(&reference_id).cloned()
    }

    /// The disbursement account's available balance.
    pub fn balance(&self) -> u64 {
        self.state().balance
    }

    /// Adds `amount` to the balance; returns the new balance.
    pub fn top_up(&self, amount: u64) -> Result<u64, SimError> {
        let mut state = self.state();
        state.record(Event::TopUp {
            amount,
            at: clock::now(),
        })?;
        state.balance = state.balance.saturating_add(amount);
        Ok(state.balance)
    }

    pub fn faults(&self) -> Faults {
        self.state().faults.clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.state().faults = faults;
    }

    /// Invalidates every token, so the next call of each client gets 401.
    pub fn revoke_tokens(&self) {
        self.state().tokens.clear();
    }

    /// How many faults were injected since start (fault-injection suites report it).
    pub fn faults_injected(&self) -> u64 {
        self.state().faults_injected
    }

    pub(crate) fn count_fault(&self) {
        self.state().faults_injected += 1;
    }

    /// How many status queries arrived, and the most within any one second.
    pub fn status_queries(&self) -> StatusQueryStats {
        self.meter().stats()
    }

    /// Starts counting status queries afresh.
    pub fn reset_status_queries(&self) {
        self.meter().reset();
    }

    pub(crate) fn note_status_query(&self) {
        self.meter().note(Instant::now(), clock::now());
    }

    fn meter(&self) -> MutexGuard<'_, Meter> {
        self.inner
            .status_queries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many tokens have been issued since start.
    pub fn tokens_issued(&self) -> u64 {
        self.state().tokens_issued
    }

    /// Every callback attempt so far, oldest first.
    pub fn callback_attempts(&self) -> Vec<CallbackAttempt> {
        self.state().callbacks.clone()
    }

    pub(crate) fn record_callback(&self, attempt: CallbackAttempt) {
        self.state().callbacks.push(attempt);
    }

    // ---- API users and tokens (A3, A4) ----

    pub(crate) fn api_user(&self, api_user: &str) -> Option<ApiUser> {
        self.state().users.get(api_user).cloned()
    }

    /// Creates an API user; `false` if the id is taken (409).
    pub(crate) fn create_api_user(&self, api_user: &str, callback_host: &str) -> Result<bool, LedgerError> {
        let mut state = self.state();
        if state.users.contains_key(api_user) {
            return Ok(false);
        }
        let event = Event::ApiUser {
            api_user: api_user.to_owned(),
            callback_host: callback_host.to_owned(),
        };
        state.record(event.clone())?;
        state.replay(event);
        Ok(true)
    }

    /// Issues a new key for an existing user; `None` for an unknown user.
    pub(crate) fn issue_api_key(&self, api_user: &str) -> Result<Option<String>, LedgerError> {
        let mut state = self.state();
        if !state.users.contains_key(api_user) {
            return Ok(None);
        }
        let api_key = hex::encode(rand::thread_rng().gen::<[u8; 16]>());
        let event = Event::ApiKey {
            api_user: api_user.to_owned(),
            api_key: api_key.clone(),
        };
        state.record(event.clone())?;
        state.replay(event);
        Ok(Some(api_key))
    }

    /// A new bearer token if `api_key` is one of `api_user`'s keys.
    pub(crate) fn issue_token(&self, api_user: &str, api_key: &str) -> Option<String> {
        let mut state = self.state();
        let known = state
            .users
            .get(api_user)
            .is_some_and(|user| user.keys.iter().any(|k| k == api_key));
        if !known {
            return None;
        }
        let token = format!("momo-sim.{}", hex::encode(rand::thread_rng().gen::<[u8; 24]>()));
        state.tokens.insert(
            token.clone(),
            Grant {
                api_user: api_user.to_owned(),
                expires_at: Instant::now() + self.inner.config.token_ttl,
            },
        );
        state.tokens_issued += 1;
        Some(token)
    }

    /// The API user a live token belongs to.
    pub(crate) fn token_user(&self, token: &str) -> Option<String> {
        let state = self.state();
        let grant = state.tokens.get(token)?;
        (Instant::now() < grant.expires_at).then(|| grant.api_user.clone())
    }

    // ---- transfers (A5, A6, A12) ----

    /// Records an accepted transfer and schedules its settlement.
    pub(crate) fn create_transfer(
        &self,
        reference_id: Uuid,
        api_user: &str,
        request: TransferRequest,
        callback_url: Option<String>,
    ) -> Result<(), CreateError> {
        let config = &self.inner.config;
        let now = clock::now();
        let after = |wait: Duration| Some(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX));
        let msisdn = request.payee.party_id.as_str();
        let (plan, due_at) = match transfer_outcome(msisdn) {
            Some(TransferOutcome::Succeed) | None if config.is_inactive(msisdn) => (
                Plan::Fail {
                    reason: Some("PAYEE_NOT_ALLOWED_TO_RECEIVE".to_owned()),
                },
                after(config.settle_after),
            ),
            Some(TransferOutcome::Succeed) | None => (Plan::Succeed, after(config.settle_after)),
            Some(TransferOutcome::Delayed) => (Plan::Succeed, after(config.delayed_settle_after)),
            Some(TransferOutcome::Ongoing) => (Plan::Succeed, None),
            Some(TransferOutcome::Fail(reason)) => (
                Plan::Fail {
                    reason: reason.map(str::to_owned),
                },
                after(config.settle_after),
            ),
        };
        let record = TransferRecord {
            reference_id,
            api_user: api_user.to_owned(),
            request,
            callback_url,
            created_at: now,
            due_at,
            plan,
            status: Status::Pending,
            reason: None,
            financial_transaction_id: None,
            settled_at: None,
        };
        {
            let mut state = self.state();
            if state.transfers.contains_key(&reference_id) {
                return Err(CreateError::Duplicate);
            }
            let event = Event::Transfer(Box::new(record));
            state.record(event.clone()).map_err(CreateError::Ledger)?;
            state.replay(event);
        }
        if let Some(due_at) = due_at {
            self.schedule(reference_id, due_at);
        }
        Ok(())
    }

    /// Settles `reference_id` when it falls due, whoever asks first (this timer or a status query).
    fn schedule(&self, reference_id: Uuid, due_at: DateTime<Utc>) {
        let sim = self.clone();
        let wait = (due_at - clock::now()).to_std().unwrap_or(Duration::ZERO);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            sim.settle(reference_id);
        });
    }

    fn settle_due(&self) {
        let due: Vec<Uuid> = self.state().order.clone();
        for reference_id in due {
            self.settle(reference_id);
        }
    }

    /// Moves a due PENDING transfer to its final status, pays it from the balance, writes the
    /// ledger and starts its callback. Does nothing to a transfer that is not due or already final.
    pub(crate) fn settle(&self, reference_id: Uuid) {
        let now = clock::now();
        let settled = {
            let mut state = self.state();
            let Some(transfer) = state.transfers.get(&reference_id) else {
                return;
            };
            if transfer.status != Status::Pending || transfer.due_at.is_none_or(|due| due > now) {
                return;
            }
            let amount: u64 = transfer.request.amount.parse().unwrap_or(u64::MAX);
            let (status, reason, financial_transaction_id) = match &transfer.plan {
                Plan::Succeed if state.balance >= amount => (
                    Status::Successful,
                    None,
                    Some(
                        rand::thread_rng()
                            .gen_range(1_000_000_000_u64..10_000_000_000)
                            .to_string(),
                    ),
                ),
                Plan::Succeed => (Status::Failed, Some("NOT_ENOUGH_FUNDS".to_owned()), None),
                Plan::Fail { reason } => (Status::Failed, reason.clone(), None),
            };
            let event = Event::Settled {
                reference_id,
                at: now,
                status,
                reason,
                financial_transaction_id,
            };
            if let Err(error) = state.record(event.clone()) {
                tracing::error!(%error, %reference_id, "could not record a settlement; it stays PENDING");
                return;
            }
            state.replay(event);
            state.transfers.get(&reference_id).cloned()
        };
        if let Some(transfer) = settled {
            tracing::info!(%reference_id, status = %transfer.status, "transfer settled");
            callbacks::dispatch(self.clone(), transfer);
        }
    }
}
