//! AT's bulk SMS API as the simulator answers it, and every message it took.
//!
//! `POST /version1/messaging` checks the `apiKey` header and the `username` against the
//! configuration (401 `The supplied authentication is invalid` otherwise), requires `to` and
//! `message` (400), refuses a `from` that is not a registered sender ID (`InvalidSenderId`, nothing
//! sent), and answers 201 with each number's status: 101 `Success` with a cost and an `ATXid_…`
//! for an E.164 number, 403 `InvalidPhoneNumber` with cost `0` and messageId `None` for anything
//! else. Every number's outcome is recorded; handsets (the web phone, tests) read their inbox from
//! the record and can wait for the next message. When a delivery-report URL is configured, each
//! sent message's report (`Success` unless configured or switched otherwise) is posted there
//! shortly after, as AT posts them.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use africastalking::gsm7::{self, Encoding};
use africastalking::sms::{is_e164, DeliveryReport, MessageData, Recipient, SendRequest, SendResponse, Status};
use africastalking::ussd::FORM_CONTENT_TYPE;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::clock;
use super::config::SmsConfig;

/// How many messages the record keeps (oldest dropped first).
const KEPT: usize = 5000;

/// One number's outcome of one send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsMessage {
    /// Increases with every recorded message; `after` in [`SmsCenter::wait_for`].
    pub seq: u64,
    /// `ATXid_…` when sent.
    pub message_id: Option<String>,
    /// The number as the sender wrote it.
    pub to: String,
    pub from: Option<String>,
    pub message: String,
    pub status_code: u16,
    pub status: String,
    pub cost: String,
    /// SMS parts the text takes (153 GSM-7 or 67 UCS-2 characters each beyond one part).
    pub parts: u32,
    pub encoding: Encoding,
    /// GSM-7 septets, or UTF-16 units in UCS-2.
    pub chars: usize,
    /// Whether it reached the handset (the status is a success).
    pub delivered: bool,
    /// RFC 3339, UTC.
    pub received_at: String,
}

/// Fault switches for the SMS API; absent fields are off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SmsFaults {
    /// Answer every send with this HTTP status (e.g. 500, 503) and send nothing.
    pub http_status: Option<u16>,
    /// Give every recipient this status code (e.g. 405 InsufficientBalance, 500) instead of 101.
    pub recipient_status: Option<u16>,
    /// Wait this long before answering.
    pub latency_ms: u64,
    /// Give every delivery report this status (e.g. `Failed`, `Rejected`, `Buffered`) instead of
    /// the configured one.
    pub delivery_status: Option<String>,
}

/// What a send gets, before HTTP framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsAnswer {
    /// 401 with [`africastalking::sms::AUTH_INVALID`].
    Unauthorized,
    /// 400: a required field is missing or empty.
    MissingField(&'static str),
    /// A fault switch: this HTTP status, nothing sent.
    Fault(u16),
    /// 201 with AT's JSON.
    Accepted(SendResponse),
}

/// The simulated SMS service: configuration, the record and its watchers.
pub struct SmsCenter {
    config: SmsConfig,
    client: reqwest::Client,
    state: Mutex<State>,
    latest: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    messages: VecDeque<SmsMessage>,
    faults: SmsFaults,
    next_seq: u64,
}

/// The form as posted, before the required fields are checked.
#[derive(Debug, Default, Deserialize)]
struct RawForm {
    username: Option<String>,
    to: Option<String>,
    message: Option<String>,
    from: Option<String>,
}

impl SmsCenter {
    pub fn new(config: SmsConfig) -> Self {
        Self {
            config,
            client: reqwest::Client::new(),
            state: Mutex::new(State::default()),
            latest: watch::channel(0).0,
        }
    }

    pub fn config(&self) -> &SmsConfig {
        &self.config
    }

    pub fn faults(&self) -> SmsFaults {
        self.state().faults.clone()
    }

    pub fn set_faults(&self, faults: SmsFaults) {
        self.state().faults = faults;
    }

    /// Handles one `POST /version1/messaging`: `api_key` from the header, `body` the form.
    pub fn submit(&self, api_key: Option<&str>, body: &[u8]) -> SmsAnswer {
        if let Some(status) = self.faults().http_status {
            return SmsAnswer::Fault(status);
        }
        let form: RawForm = serde_urlencoded::from_bytes(body).unwrap_or_default();
        let authentic = api_key == Some(self.config.api_key.as_str())
            && form.username.as_deref().map(str::trim) == Some(self.config.username.as_str());
        if !authentic {
            return SmsAnswer::Unauthorized;
        }
        let Some(to) = form.to.filter(|t| !t.trim().is_empty()) else {
            return SmsAnswer::MissingField("to");
        };
        let Some(message) = form.message.filter(|m| !m.is_empty()) else {
            return SmsAnswer::MissingField("message");
        };
        let from = form.from.filter(|f| !f.trim().is_empty());
        if let Some(sender) = &from {
            if !self.config.sender_ids.is_empty() && !self.config.sender_ids.contains(sender) {
                return SmsAnswer::Accepted(SendResponse {
                    data: MessageData {
                        message: Some(Status::InvalidSenderId.name().to_owned()),
                        recipients: Vec::new(),
                    },
                });
            }
        }
        let request = SendRequest {
            username: self.config.username.clone(),
            to,
            message,
            from,
        };
        SmsAnswer::Accepted(self.deliver(&request))
    }

    /// Records each number's outcome and builds AT's answer.
    fn deliver(&self, request: &SendRequest) -> SendResponse {
        let check = gsm7::screen_check(&request.message);
        let parts = parts(check.chars, check.encoding);
        let fault = self.faults().recipient_status;
        let now = clock::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut recipients = Vec::new();
        let mut reports = Vec::new();
        let mut sent = 0u64;
        let mut total_cost = 0u64;
        {
            let mut state = self.state();
            for number in request.recipients() {
                let status = match fault {
                    _ if !is_e164(number) => Status::InvalidPhoneNumber,
                    Some(code) => Status::from_code(code),
                    None => Status::Sent,
                };
                let delivered = status.is_success();
                let (message_id, cost) = if delivered {
                    let cost = u64::from(parts) * u64::from(self.config.price_per_part);
                    sent += 1;
                    total_cost += cost;
                    (
                        Some(format!("ATXid_{}", hex::encode(rand::random::<[u8; 16]>()))),
                        format!("{} {cost}.0000", self.config.currency),
                    )
                } else {
                    (None, "0".to_owned())
                };
                recipients.push(Recipient {
                    status_code: Some(status.code()),
                    number: Some(number.to_owned()),
                    status: Some(status.status_text().to_owned()),
                    cost: Some(cost.clone()),
                    message_id: Some(message_id.clone().unwrap_or_else(|| "None".to_owned())),
                    message_parts: Some(u16::try_from(parts).unwrap_or(u16::MAX)),
                });
                if let Some(id) = &message_id {
                    reports.push((id.clone(), number.to_owned()));
                }
                state.next_seq += 1;
                let seq = state.next_seq;
                state.messages.push_back(SmsMessage {
                    seq,
                    message_id,
                    to: number.to_owned(),
                    from: request.from.clone(),
                    message: request.message.clone(),
                    status_code: status.code(),
                    status: status.status_text().to_owned(),
                    cost,
                    parts,
                    encoding: check.encoding,
                    chars: check.chars,
                    delivered,
                    received_at: now.clone(),
                });
                while state.messages.len() > KEPT {
                    state.messages.pop_front();
                }
            }
            self.latest.send_replace(state.next_seq);
        }
        self.report_later(reports);
        let total = recipients.len();
        let summary = if sent == 0 {
            format!("Sent to 0/{total} Total Cost: 0")
        } else {
            format!(
                "Sent to {sent}/{total} Total Cost: {} {total_cost}.0000",
                self.config.currency
            )
        };
        SendResponse {
            data: MessageData {
                message: Some(summary),
                recipients,
            },
        }
    }

    /// Posts each sent message's delivery report to the configured URL after the configured
    /// delay, as AT does (form-encoded; a few attempts while the app does not answer 200).
    fn report_later(&self, sent: Vec<(String, String)>) {
        let Some(url) = self.config.delivery_reports_url.clone() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let status = self
            .faults()
            .delivery_status
            .unwrap_or_else(|| self.config.delivery_status.clone());
        let failure_reason = match status.as_str() {
            "Failed" => Some("UserIsInactive".to_owned()),
            "Rejected" => Some("DeliveryFailure".to_owned()),
            _ => None,
        };
        for (id, number) in sent {
            let report = DeliveryReport {
                id: Some(id),
                status: Some(status.clone()),
                phone_number: Some(number),
                network_code: Some("63510".to_owned()),
                failure_reason: failure_reason.clone(),
                retry_count: Some("0".to_owned()),
            };
            let (client, url, delay) = (self.client.clone(), url.clone(), self.config.delivery_delay);
            runtime.spawn(async move {
                tokio::time::sleep(delay).await;
                post_report(&client, &url, &report).await;
            });
        }
    }

    /// The recorded messages after `after` (0 for all), oldest first, for `number` only when
    /// given (with or without its `+`).
    pub fn messages(&self, number: Option<&str>, after: u64) -> Vec<SmsMessage> {
        let number = number.map(normalise);
        self.state()
            .messages
            .iter()
            .filter(|m| m.seq > after && number.as_deref().is_none_or(|n| normalise(&m.to) == n))
            .cloned()
            .collect()
    }

    /// Like [`SmsCenter::messages`], but when there are none yet, waits up to `wait` for one.
    pub async fn wait_for(&self, number: Option<&str>, after: u64, wait: Duration) -> Vec<SmsMessage> {
        let mut latest = self.latest.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // read the counter first, so a message recorded during the check still wakes us
            let seen = *latest.borrow_and_update();
            let found = self.messages(number, after);
            if !found.is_empty() {
                return found;
            }
            let newer = latest.wait_for(|seq| *seq > seen);
            if tokio::time::timeout_at(deadline, newer).await.is_err() {
                return Vec::new();
            }
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One delivery report, tried up to three times (250 ms, then 500 ms apart) until a 200.
async fn post_report(client: &reqwest::Client, url: &str, report: &DeliveryReport) {
    let body = report.to_form();
    let mut backoff = Duration::from_millis(250);
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        let sent = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, FORM_CONTENT_TYPE)
            .body(body.clone())
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().as_u16() == 200 => return,
            Ok(r) => tracing::warn!(
                attempt,
                status = r.status().as_u16(),
                "SMS delivery report not acknowledged"
            ),
            Err(e) => tracing::warn!(attempt, error = %e.without_url(), "SMS delivery report not delivered"),
        }
    }
}

/// `+250…`, `250…` and ` 250…` (a `+` decoded as a space) name the same handset.
fn normalise(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    format!("+{digits}")
}

/// SMS parts a text takes: one up to 160 GSM-7 / 70 UCS-2 characters, else 153 / 67 per part.
fn parts(chars: usize, encoding: Encoding) -> u32 {
    let (single, each) = match encoding {
        Encoding::Gsm7 => (160, 153),
        Encoding::Ucs2 => (70, 67),
    };
    let n = if chars <= single { 1 } else { chars.div_ceil(each) };
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_follow_the_concatenation_limits() {
        assert_eq!(parts(0, Encoding::Gsm7), 1);
        assert_eq!(parts(160, Encoding::Gsm7), 1);
        assert_eq!(parts(161, Encoding::Gsm7), 2);
        assert_eq!(parts(306, Encoding::Gsm7), 2);
        assert_eq!(parts(307, Encoding::Gsm7), 3);
        assert_eq!(parts(70, Encoding::Ucs2), 1);
        assert_eq!(parts(71, Encoding::Ucs2), 2);
    }

    #[test]
    fn numbers_match_with_or_without_the_plus() {
        assert_eq!(normalise("+250788123456"), "+250788123456");
        assert_eq!(normalise(" 250788123456"), "+250788123456");
        assert_eq!(normalise("250788123456"), "+250788123456");
    }
}
