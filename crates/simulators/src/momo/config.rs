//! How the simulated MoMo behaves: its environment, timing, callbacks, balance and fault switches.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How `reason` is written in status bodies and callbacks; MoMo has used all three (A6, A15.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReasonMode {
    /// `{"code":"NOT_ENOUGH_FUNDS","message":"…"}`, as in the swagger examples.
    #[default]
    Object,
    /// `"NOT_ENOUGH_FUNDS"`, as in MTN's 2023+ posts.
    String,
    /// No `reason` at all.
    Omitted,
}

/// Whether and how often a final status is pushed to `X-Callback-Url` (A10: the two MTN pages disagree).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CallbackMode {
    /// Never: the client must poll.
    None,
    /// One attempt, no retry (the older MTN page).
    #[default]
    Once,
    /// One attempt, then one more after each listed wait until a 2xx (the newer page).
    Retry(Vec<Duration>),
}

impl CallbackMode {
    /// The newer MTN page's schedule: 20 retries 1 s apart, 30 two minutes apart, then hourly
    /// (here for a day).
    pub fn mtn_schedule() -> Self {
        let mut waits = vec![Duration::from_secs(1); 20];
        waits.extend([Duration::from_secs(120); 30]);
        waits.extend([Duration::from_secs(3600); 24]);
        Self::Retry(waits)
    }
}

/// The HTTP method of a callback: PUT for v2 endpoints, POST for v1 (A10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallbackMethod {
    #[default]
    Put,
    Post,
}

/// Faults that can be switched at start (flags) and at runtime (`PUT /sim/faults`). Rates are
/// fractions of business calls (transfer, status, balance, account holder), from 0 to 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    /// Added before every business answer.
    pub latency_ms: u64,
    /// Answered 500 INTERNAL_PROCESSING_ERROR without doing anything.
    pub error_500_rate: f64,
    /// Answered 503 SERVICE_UNAVAILABLE without doing anything.
    pub error_503_rate: f64,
    /// Answered 429 by the "gateway" without doing anything.
    pub rate_429: f64,
    /// Transfers accepted and recorded, then the answer held for `hang_ms` (past the client's
    /// timeout): the A11 case of a POST that timed out although the transfer exists.
    pub timeout_after_create_rate: f64,
    /// How long such an answer is held.
    pub hang_ms: u64,
    /// Transfers accepted and recorded, then the connection closed with no answer at all (needs
    /// [`serve`](super::serve) or [`serve_with`](super::serve_with); under a plain `router` it
    /// holds the answer like `timeout_after_create_rate`).
    pub drop_after_create_rate: f64,
    /// Callbacks are never sent.
    pub drop_callbacks: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            error_500_rate: 0.0,
            error_503_rate: 0.0,
            rate_429: 0.0,
            timeout_after_create_rate: 0.0,
            hang_ms: 60_000,
            drop_after_create_rate: 0.0,
            drop_callbacks: false,
        }
    }
}

/// An API user known from the start, as the partner portal hands them out in production.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiUserSeed {
    pub api_user: String,
    pub api_key: String,
    pub callback_host: String,
}

/// The simulator's settings; [`SimConfig::default`] is the MTN sandbox (EUR, 1 h tokens).
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The only `Ocp-Apim-Subscription-Key` accepted; any other (e.g. a Collection key) gets 401 (A2).
    pub subscription_key: String,
    /// The accepted `X-Target-Environment`.
    pub target_environment: String,
    /// The currency transfers must use (500 INVALID_CURRENCY otherwise).
    pub currency: String,
    /// API users that exist without provisioning.
    pub users: Vec<ApiUserSeed>,
    /// Token lifetime (`expires_in`).
    pub token_ttl: Duration,
    /// How long an ordinary transfer stays PENDING.
    pub settle_after: Duration,
    /// How long 46733123454 ("delayed") stays PENDING.
    pub delayed_settle_after: Duration,
    /// The disbursement account's balance when the ledger is new.
    pub starting_balance: u64,
    pub reason_mode: ReasonMode,
    pub callbacks: CallbackMode,
    pub callback_method: CallbackMethod,
    /// Wait before the first callback attempt, to deliver it after the client's polls.
    pub callback_delay: Duration,
    /// Deliver every callback twice.
    pub duplicate_callbacks: bool,
    /// How long the receiver has to answer one attempt (2 s per the newer MTN page).
    pub callback_timeout: Duration,
    /// Numbers whose account-holder check says inactive and whose transfers fail
    /// PAYEE_NOT_ALLOWED_TO_RECEIVE: exact MSISDNs, or prefixes ending in `*` (`25072*`).
    pub inactive: Vec<String>,
    /// The longest note accepted (MTN's pages say 128 and 160; A13).
    pub note_max: usize,
    /// Where the ledger lives; `None` keeps it in memory only.
    pub data_dir: Option<PathBuf>,
    pub faults: Faults,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            subscription_key: "momo-sim-subscription-key".to_owned(),
            target_environment: "sandbox".to_owned(),
            currency: "EUR".to_owned(),
            users: Vec::new(),
            token_ttl: Duration::from_secs(3600),
            settle_after: Duration::from_secs(2),
            delayed_settle_after: Duration::from_secs(30),
            starting_balance: 10_000_000,
            reason_mode: ReasonMode::Object,
            callbacks: CallbackMode::Once,
            callback_method: CallbackMethod::Put,
            callback_delay: Duration::ZERO,
            duplicate_callbacks: false,
            callback_timeout: Duration::from_secs(2),
            inactive: Vec::new(),
            note_max: momo::validate::NOTE_MAX,
            data_dir: None,
            faults: Faults::default(),
        }
    }
}

impl SimConfig {
    /// Rwanda production as the app uses it: `mtnrwanda`, RWF.
    pub fn rwanda() -> Self {
        Self {
            target_environment: "mtnrwanda".to_owned(),
            currency: "RWF".to_owned(),
            ..Self::default()
        }
    }

    /// The same settings with an API user that exists from the start.
    pub fn with_user(mut self, api_user: &str, api_key: &str, callback_host: &str) -> Self {
        self.users.push(ApiUserSeed {
            api_user: api_user.to_owned(),
            api_key: api_key.to_owned(),
            callback_host: callback_host.to_owned(),
        });
        self
    }

    /// Whether `msisdn` is on the inactive list.
    pub fn is_inactive(&self, msisdn: &str) -> bool {
        self.inactive.iter().any(|rule| match rule.strip_suffix('*') {
            Some(prefix) => msisdn.starts_with(prefix),
            None => msisdn == rule,
        })
    }
}
