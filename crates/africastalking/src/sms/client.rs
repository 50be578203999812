//! The SMS client: one `POST {base}/version1/messaging` per send, a timeout on every call, and
//! every failure turned into a classified [`SmsError`].

use std::time::Duration;

use reqwest::header::ACCEPT;
use secrecy::{ExposeSecret, SecretString};

use super::error::SmsError;
use super::types::{Recipient, SendRequest, SendResponse};
use super::{is_e164, API_KEY_HEADER, MESSAGING_PATH};

/// Where and as whom the client calls AT. The simulator and the real AT differ only here.
#[derive(Clone)]
pub struct ClientConfig {
    /// [`super::SANDBOX_BASE_URL`], [`super::LIVE_BASE_URL`] or the simulator.
    pub base_url: String,
    /// `sandbox`, or the live app's username.
    pub username: String,
    pub api_key: SecretString,
    /// The longest one call may take, connecting included.
    pub timeout: Duration,
}

impl ClientConfig {
    /// A configuration with a 15 s timeout.
    pub fn new(base_url: impl Into<String>, username: impl Into<String>, api_key: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            username: username.into(),
            api_key: SecretString::from(api_key.into()),
            timeout: Duration::from_secs(15),
        }
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("username", &self.username)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// An AT SMS client; cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    config: ClientConfig,
    endpoint: String,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, SmsError> {
        let base = config.base_url.trim_end_matches('/');
        let endpoint = format!("{base}{MESSAGING_PATH}");
        reqwest::Url::parse(&endpoint).map_err(|e| SmsError::Configuration(format!("base URL {base:?}: {e}")))?;
        if config.api_key.expose_secret().is_empty() || config.username.trim().is_empty() {
            return Err(SmsError::Configuration("the API key and username must be set".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| SmsError::Configuration(e.to_string()))?;
        Ok(Self { http, config, endpoint })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Sends `message` to one number and returns what AT said about it; a number AT refused is
    /// [`SmsError::Rejected`].
    pub async fn send_one(&self, to: &str, message: &str, from: Option<&str>) -> Result<Recipient, SmsError> {
        let request = SendRequest::new(&self.config.username, &[to], message).from_sender(from.map(str::to_owned));
        let response = self.send(&request).await?;
        let recipient = response
            .data
            .recipients
            .into_iter()
            .find(|r| r.number.as_deref().is_none_or(|n| n == to))
            .ok_or_else(|| SmsError::NotSent {
                message: "the answer lists no recipient".into(),
            })?;
        let status = recipient.outcome();
        if status.is_success() {
            Ok(recipient)
        } else {
            Err(SmsError::Rejected {
                number: to.to_owned(),
                status,
            })
        }
    }

    /// `POST /version1/messaging`. Checked first: every number E.164 with `+`, a text. The answer
    /// lists each number with its own status; when it lists none, AT sent nothing
    /// ([`SmsError::NotSent`], with AT's reason).
    pub async fn send(&self, request: &SendRequest) -> Result<SendResponse, SmsError> {
        let recipients = request.recipients();
        if recipients.is_empty() {
            return Err(SmsError::Invalid("no recipient".into()));
        }
        if let Some(bad) = recipients.iter().find(|n| !is_e164(n)) {
            return Err(SmsError::Invalid(format!(
                "{bad:?} is not an E.164 number with a leading +"
            )));
        }
        if request.message.trim().is_empty() {
            return Err(SmsError::Invalid("the message is empty".into()));
        }
        let response = self
            .http
            .post(&self.endpoint)
            .header(API_KEY_HEADER, self.config.api_key.expose_secret())
            .header(ACCEPT, "application/json")
            .form(request)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.transport_error(e))?;
        tracing::debug!(status = status.as_u16(), "Africa's Talking SMS answered");
        if !status.is_success() {
            return Err(SmsError::Http {
                status: status.as_u16(),
                body: excerpt(&body),
            });
        }
        let parsed: SendResponse = serde_json::from_slice(&body).map_err(|e| SmsError::Decode {
            status: status.as_u16(),
            message: e.to_string(),
        })?;
        if parsed.data.recipients.is_empty() {
            return Err(SmsError::NotSent {
                message: parsed
                    .data
                    .message
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or_else(|| "no reason given".into()),
            });
        }
        Ok(parsed)
    }

    fn transport_error(&self, error: reqwest::Error) -> SmsError {
        if error.is_builder() {
            SmsError::Configuration(error.to_string())
        } else if error.is_connect() {
            SmsError::Connect(error)
        } else if error.is_timeout() {
            SmsError::Timeout(self.config.timeout)
        } else {
            SmsError::Network(error)
        }
    }
}

/// The start of an error body, as text, for the error message.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
