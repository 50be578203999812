//! The gateway: dials sessions and remembers the recent ones for the control API; holds the SMS
//! service beside them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use africastalking::ussd::USER_AGENT;

use super::config::{GatewayConfig, PrefillMode};
use super::screen::Screen;
use super::session::{Identity, Session};
use super::sms::SmsCenter;

/// How many finished and live sessions the control API lists.
const RECENT_SESSIONS: usize = 50;

/// Why the gateway refused to do something. App misbehaviour is never an error here: it shows up
/// as violations on the [`Screen`] and a `Failed` session.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("could not build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("phone number {0:?} must be E.164 with a leading +, e.g. +250788123456")]
    InvalidPhone(String),
    #[error("network code {0:?} must be an MCC+MNC of 5 or 6 digits, e.g. 63510")]
    InvalidNetwork(String),
    #[error("pre-filled inputs {0:?} must be digits separated by *, e.g. 1*2")]
    InvalidExtendedDial(String),
    #[error("session {0} is over")]
    SessionClosed(String),
    #[error("the web server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Per-dial choices that override the [`GatewayConfig`]; the web phone's switches.
#[derive(Debug, Clone, Default)]
pub struct DialOptions {
    /// `networkCode` for this session.
    pub network_code: Option<String>,
    /// Post every hop of this session twice.
    pub duplicate_delivery: Option<bool>,
    /// Pre-filled inputs for this dial, e.g. `1*2`; `Some("")` dials plainly.
    pub extended_dial: Option<String>,
}

/// The simulated AT USSD gateway. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub config: GatewayConfig,
    pub client: reqwest::Client,
    recent: Mutex<VecDeque<Session>>,
    sms: SmsCenter,
}

impl Gateway {
    pub fn new(config: GatewayConfig) -> Result<Self, GatewayError> {
        let client = reqwest::Client::builder().user_agent(USER_AGENT).build()?;
        let sms = SmsCenter::new(config.sms.clone());
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                client,
                recent: Mutex::new(VecDeque::new()),
                sms,
            }),
        })
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.shared.config
    }

    /// The SMS API: the messages it took, its fault switches.
    pub fn sms(&self) -> &SmsCenter {
        &self.shared.sms
    }

    /// Dials the service code from `phone` (E.164 with `+`) on `network` (or the configured one),
    /// and returns the session with its first screen.
    pub async fn dial(&self, phone: &str, network: Option<&str>) -> Result<(Session, Screen), GatewayError> {
        let options = DialOptions {
            network_code: network.map(str::to_owned),
            ..DialOptions::default()
        };
        self.dial_with(phone, options).await
    }

    /// [`Gateway::dial`] with per-session fault switches.
    pub async fn dial_with(&self, phone: &str, options: DialOptions) -> Result<(Session, Screen), GatewayError> {
        let config = &self.shared.config;
        if !is_e164(phone) {
            return Err(GatewayError::InvalidPhone(phone.to_owned()));
        }
        let network_code = options.network_code.unwrap_or_else(|| config.network_code.clone());
        if !(5..=6).contains(&network_code.len()) || !network_code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GatewayError::InvalidNetwork(network_code));
        }
        let prefill = options
            .extended_dial
            .or_else(|| config.extended_dial.clone())
            .unwrap_or_default();
        let prefilled: Vec<String> = if prefill.is_empty() {
            Vec::new()
        } else {
            prefill.split('*').map(str::to_owned).collect()
        };
        if prefilled
            .iter()
            .any(|input| input.is_empty() || !input.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(GatewayError::InvalidExtendedDial(prefill));
        }
        let (service_code, first_inputs) = match config.prefill_mode {
            _ if prefilled.is_empty() => (config.service_code.clone(), Vec::new()),
            PrefillMode::Text => (config.service_code.clone(), prefilled),
            PrefillMode::ServiceCode => {
                let base = config.service_code.strip_suffix('#').unwrap_or(&config.service_code);
                (format!("{base}*{prefill}#"), Vec::new())
            }
        };
        let identity = Identity {
            id: format!("ATUid_{}", hex::encode(rand::random::<[u8; 16]>())),
            phone_number: phone.to_owned(),
            service_code,
            network_code,
            duplicate_delivery: options.duplicate_delivery.unwrap_or(config.duplicate_delivery),
        };
        let text = first_inputs.join("*");
        let session = Session::start(self.shared.clone(), identity, first_inputs);
        {
            let mut recent = self.recent();
            recent.push_front(session.clone());
            recent.truncate(RECENT_SESSIONS);
        }
        let screen = session.run_hop(text).await;
        Ok((session, screen))
    }

    /// A recent session by its `sessionId`.
    pub fn session(&self, id: &str) -> Option<Session> {
        self.recent().iter().find(|session| session.id() == id).cloned()
    }

    /// The recent sessions, newest first.
    pub fn recent_sessions(&self) -> Vec<Session> {
        self.recent().iter().cloned().collect()
    }

    fn recent(&self) -> MutexGuard<'_, VecDeque<Session>> {
        self.shared.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `+` and 8 to 15 digits.
fn is_e164(phone: &str) -> bool {
    phone
        .strip_prefix('+')
        .is_some_and(|digits| (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
}
