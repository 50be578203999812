//! How the simulated gateway behaves: where it posts, its deadlines, and the fault switches.

use std::time::Duration;

/// Where a dial's pre-filled inputs (`*789*1*2#`) go; AT's exact behaviour is uncertain (B4), so
/// the app must cope with both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrefillMode {
    /// The first hop's `text` is the pre-filled inputs (`1*2`) and `serviceCode` the base code.
    #[default]
    Text,
    /// The first hop's `text` is empty and `serviceCode` carries the inputs (`*789*1*2#`).
    ServiceCode,
}

/// The gateway's settings; [`GatewayConfig::new`] gives AT's documented defaults.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The app's session callback, e.g. `http://127.0.0.1:8080/api/v1/ussd/handle?secret=…`.
    pub callback_url: String,
    /// The app's end-of-session notification URL; `None` sends no notifications.
    pub events_url: Option<String>,
    /// The code subscribers dial.
    pub service_code: String,
    /// `networkCode` when a dial does not choose one (63510 MTN Rwanda).
    pub network_code: String,
    /// How long the app has to answer one hop before AT ends the session as Failed.
    pub response_deadline: Duration,
    /// How long the subscriber may sit on a `CON` screen before the session ends as Incomplete.
    pub inactivity_timeout: Duration,
    /// The longest a whole session may last.
    pub session_limit: Duration,
    /// Extra attempts at the notification after a non-200 answer or a connection error.
    pub event_retries: u32,
    /// Wait before the first retry; doubles each time.
    pub event_backoff: Duration,
    /// Fault: post every hop twice with the same `sessionId` and `text`.
    pub duplicate_delivery: bool,
    /// Fault: dial with pre-filled inputs, e.g. `1*2` for `*789*1*2#`.
    pub extended_dial: Option<String>,
    /// Where the pre-filled inputs appear.
    pub prefill_mode: PrefillMode,
    /// The notification's `cost`.
    pub cost: String,
}

impl GatewayConfig {
    /// AT's defaults (B5): 10 s to answer, 60 s of inactivity, 180 s a session; code `*789#` on
    /// MTN Rwanda; no notifications until `events_url` is set.
    pub fn new(callback_url: impl Into<String>) -> Self {
        Self {
            callback_url: callback_url.into(),
            events_url: None,
            service_code: "*789#".to_owned(),
            network_code: "63510".to_owned(),
            response_deadline: Duration::from_secs(10),
            inactivity_timeout: Duration::from_secs(60),
            session_limit: Duration::from_secs(180),
            event_retries: 3,
            event_backoff: Duration::from_millis(250),
            duplicate_delivery: false,
            extended_dial: None,
            prefill_mode: PrefillMode::Text,
            cost: "RWF 0.00".to_owned(),
        }
    }

    /// The same settings with notifications posted to `events_url`.
    pub fn with_events_url(mut self, events_url: impl Into<String>) -> Self {
        self.events_url = Some(events_url.into());
        self
    }
}
