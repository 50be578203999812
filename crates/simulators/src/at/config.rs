//! How the simulated gateway behaves: where it posts, its deadlines, the fault switches, and who
//! may send SMS through it.

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
    /// The SMS API's credentials and prices.
    pub sms: SmsConfig,
}

/// Who may send SMS through the simulator, and what an SMS costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsConfig {
    /// The only `username` accepted (AT's sandbox app is `sandbox`).
    pub username: String,
    /// The only `apiKey` header accepted.
    pub api_key: String,
    /// Sender IDs and short codes `from` may name; empty accepts any.
    pub sender_ids: Vec<String>,
    /// Currency of the reported cost.
    pub currency: String,
    /// Price of one SMS part, in whole units of `currency`.
    pub price_per_part: u32,
    /// Where delivery reports go (AT's dashboard: SMS → SMS Callback URLs → Delivery Reports);
    /// `None` sends none.
    pub delivery_reports_url: Option<String>,
    /// How long after a send its delivery report is posted.
    pub delivery_delay: Duration,
    /// The status every delivery report gives (AT's text: `Success`, `Failed`, `Rejected`, …);
    /// the `deliveryStatus` fault switch overrides it while set.
    pub delivery_status: String,
}

impl Default for SmsConfig {
    /// Username `sandbox`, API key [`SmsConfig::DEFAULT_API_KEY`], any sender, 20 RWF a part; no
    /// delivery reports until `delivery_reports_url` is set (then `Success` after 200 ms).
    fn default() -> Self {
        Self {
            username: "sandbox".to_owned(),
            api_key: Self::DEFAULT_API_KEY.to_owned(),
            sender_ids: Vec::new(),
            currency: "RWF".to_owned(),
            price_per_part: 20,
            delivery_reports_url: None,
            delivery_delay: Duration::from_millis(200),
            delivery_status: "Success".to_owned(),
        }
    }
}

impl SmsConfig {
    /// The API key a simulator accepts unless told otherwise.
    pub const DEFAULT_API_KEY: &'static str = "at-sim-api-key";

    /// The same settings with delivery reports posted to `url`.
    pub fn with_delivery_reports(mut self, url: impl Into<String>) -> Self {
        self.delivery_reports_url = Some(url.into());
        self
    }

    /// The defaults with these credentials.
    pub fn new(username: impl Into<String>, api_key: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            api_key: api_key.into(),
            ..Self::default()
        }
    }
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
            sms: SmsConfig::default(),
        }
    }

    /// The same settings with the SMS API accepting these credentials.
    pub fn with_sms(mut self, sms: SmsConfig) -> Self {
        self.sms = sms;
        self
    }

    /// The same settings with notifications posted to `events_url`.
    pub fn with_events_url(mut self, events_url: impl Into<String>) -> Self {
        self.events_url = Some(events_url.into());
        self
    }
}
