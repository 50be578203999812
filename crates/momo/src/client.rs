//! The Disbursement client: one bearer token cached per client and refreshed before it expires,
//! exactly one refresh-and-retry when MoMo answers 401, a timeout on every call, and every failure
//! turned into a classified [`MomoError`].

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use tokio::time::Instant;
use uuid::Uuid;

use crate::error::{MomoError, Operation};
use crate::types::{AccountHolderActive, Balance, ErrorBody, TokenResponse, TransferRequest, TransferStatus};
use crate::validate;

/// Header carrying the product's subscription key on every call (A2).
pub(crate) const SUBSCRIPTION_KEY: &str = "Ocp-Apim-Subscription-Key";

/// How long before expiry a token is replaced (sparkplug's 60 s, A4); at most half its lifetime.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Where and as whom the client calls MoMo. The simulator and the real MoMo differ only here.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://proxy.momoapi.mtn.co.rw`, `https://sandbox.momodeveloper.mtn.com`, or the simulator.
    pub base_url: String,
    /// The Disbursement product's `Ocp-Apim-Subscription-Key` (A2).
    pub subscription_key: SecretString,
    /// The API user id (a UUID) from provisioning or the partner portal (A3).
    pub api_user: String,
    pub api_key: SecretString,
    /// `sandbox`, `mtnrwanda`, … (A1).
    pub target_environment: String,
    /// The registered `providerCallbackHost`; when set, callback URLs on another host are refused
    /// here instead of by MoMo's 500 INVALID_CALLBACK_URL_HOST (A10).
    pub callback_host: Option<String>,
    /// The longest any one call may take, connecting included.
    pub timeout: Duration,
}

impl ClientConfig {
    /// A configuration with no callback host check and a 30 s timeout.
    pub fn new(
        base_url: impl Into<String>,
        subscription_key: impl Into<String>,
        api_user: impl Into<String>,
        api_key: impl Into<String>,
        target_environment: impl Into<String>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            subscription_key: SecretString::from(subscription_key.into()),
            api_user: api_user.into(),
            api_key: SecretString::from(api_key.into()),
            target_environment: target_environment.into(),
            callback_host: None,
            timeout: Duration::from_secs(30),
        }
    }
}

/// MoMo took the transfer (202): its outcome comes later, by status query or callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub reference_id: Uuid,
}

/// A Disbursement API client; cheap to clone, clones share the token.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base)
            .field("target_environment", &self.inner.config.target_environment)
            .finish_non_exhaustive()
    }
}

struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    base: String,
    token: Mutex<Option<CachedToken>>,
}

struct CachedToken {
    value: String,
    refresh_at: Instant,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, MomoError> {
        let base = config.base_url.trim_end_matches('/').to_owned();
        reqwest::Url::parse(&base).map_err(|e| MomoError::Configuration(format!("base URL {base:?}: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| MomoError::Configuration(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                base,
                token: Mutex::new(None),
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// `POST /disbursement/v1_0/transfer` with `reference_id` as `X-Reference-Id` (A5). Checked
    /// first (A13); a 401 is retried once with a fresh token under the same reference, which is
    /// safe: a reference that already landed answers 409 ([`MomoError::Duplicate`]), never a
    /// second payout (A11).
    pub async fn transfer(
        &self,
        reference_id: Uuid,
        request: &TransferRequest,
        callback_url: Option<&str>,
    ) -> Result<Accepted, MomoError> {
        validate::check_reference(reference_id)?;
        request.validate()?;
        if let Some(url) = callback_url {
            self.check_callback(url)?;
        }
        let op = Operation::Transfer;
        let (status, body) = self
            .authorized(op, |token| {
                let builder = self
                    .business(Method::POST, "/disbursement/v1_0/transfer", token)
                    .header("X-Reference-Id", reference_id.to_string())
                    .json(request);
                match callback_url {
                    Some(url) => builder.header("X-Callback-Url", url),
                    None => builder,
                }
            })
            .await?;
        match status {
            s if s.is_success() => Ok(Accepted { reference_id }),
            StatusCode::CONFLICT => Err(MomoError::Duplicate { reference_id }),
            _ => Err(http_error(op, status, &body)),
        }
    }

    /// `GET /disbursement/v1_0/transfer/{referenceId}` (A6): a FAILED transfer is an `Ok` too;
    /// an unknown reference is [`MomoError::NotFound`].
    pub async fn transfer_status(&self, reference_id: Uuid) -> Result<TransferStatus, MomoError> {
        let op = Operation::TransferStatus;
        let path = format!("/disbursement/v1_0/transfer/{reference_id}");
        let (status, body) = self
            .authorized(op, |token| self.business(Method::GET, &path, token))
            .await?;
        match status {
            StatusCode::OK => decode(op, status, &body),
            StatusCode::NOT_FOUND => Err(MomoError::NotFound { op }),
            _ => Err(http_error(op, status, &body)),
        }
    }

    /// `GET /disbursement/v1_0/account/balance` (A9): what is left to pay out.
    pub async fn balance(&self) -> Result<Balance, MomoError> {
        let op = Operation::Balance;
        let (status, body) = self
            .authorized(op, |token| {
                self.business(Method::GET, "/disbursement/v1_0/account/balance", token)
            })
            .await?;
        match status {
            StatusCode::OK => decode(op, status, &body),
            _ => Err(http_error(op, status, &body)),
        }
    }

    /// `GET /disbursement/v1_0/accountholder/msisdn/{msisdn}/active` (A9): whether MoMo can pay
    /// this number. MoMo says "false if not active or not found", and the sandbox answers some
    /// unknown numbers with a 404 RESOURCE_NOT_FOUND body (A12), which is read as `false` too.
    pub async fn account_active(&self, msisdn: &str) -> Result<bool, MomoError> {
        validate::check_msisdn(msisdn)?;
        let op = Operation::AccountActive;
        let path = format!("/disbursement/v1_0/accountholder/msisdn/{msisdn}/active");
        let (status, body) = self
            .authorized(op, |token| self.business(Method::GET, &path, token))
            .await?;
        match status {
            StatusCode::OK => decode::<AccountHolderActive>(op, status, &body).map(|active| active.result),
            StatusCode::NOT_FOUND if ErrorBody::parse(&body).code.is_some() => Ok(false),
            _ => Err(http_error(op, status, &body)),
        }
    }

    /// A10: an absolute http(s) URL, on the registered host when one is configured.
    fn check_callback(&self, url: &str) -> Result<(), MomoError> {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| MomoError::Configuration(format!("callback URL {url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(MomoError::Configuration(format!("callback URL {url:?} is not http(s)")));
        }
        match &self.inner.config.callback_host {
            Some(host) if parsed.host_str() != Some(host.as_str()) => Err(MomoError::Configuration(format!(
                "callback URL host {:?} is not the registered host {host:?}",
                parsed.host_str().unwrap_or("")
            ))),
            _ => Ok(()),
        }
    }

    /// A business call's common headers (A2).
    fn business(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        let config = &self.inner.config;
        self.inner
            .http
            .request(method, format!("{}{path}", self.inner.base))
            .bearer_auth(token)
            .header("X-Target-Environment", &config.target_environment)
            .header(SUBSCRIPTION_KEY, config.subscription_key.expose_secret())
    }

    /// Sends with the cached token; on 401, replaces that token once and sends again (A16.6).
    async fn authorized(
        &self,
        op: Operation,
        make: impl Fn(&str) -> RequestBuilder,
    ) -> Result<(StatusCode, bytes::Bytes), MomoError> {
        let token = self.access_token(None).await?;
        let (status, body) = execute(op, self.inner.config.timeout, make(&token)).await?;
        if status != StatusCode::UNAUTHORIZED {
            return Ok((status, body));
        }
        tracing::info!(%op, "MoMo answered 401; fetching a new token and retrying once");
        let token = self.access_token(Some(&token)).await?;
        execute(op, self.inner.config.timeout, make(&token)).await
    }

    /// The cached token, or a new one when it is near expiry or is `rejected` (answered 401).
    /// The lock is held while fetching, so concurrent callers share one token request.
    async fn access_token(&self, rejected: Option<&str>) -> Result<String, MomoError> {
        let mut slot = self.inner.token.lock().await;
        if let Some(cached) = slot.as_ref() {
            if Instant::now() < cached.refresh_at && rejected != Some(cached.value.as_str()) {
                return Ok(cached.value.clone());
            }
        }
        let fresh = self.fetch_token().await?;
        let lifetime = Duration::from_secs(fresh.expires_in);
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        *slot = Some(CachedToken {
            value: fresh.access_token.clone(),
            refresh_at: Instant::now() + lifetime - margin,
        });
        Ok(fresh.access_token)
    }

    /// `POST /disbursement/token/` with Basic auth and no body (A4).
    async fn fetch_token(&self) -> Result<TokenResponse, MomoError> {
        let config = &self.inner.config;
        let op = Operation::Token;
        let request = self
            .inner
            .http
            .post(format!("{}/disbursement/token/", self.inner.base))
            .basic_auth(&config.api_user, Some(config.api_key.expose_secret()))
            .header(SUBSCRIPTION_KEY, config.subscription_key.expose_secret());
        let (status, body) = execute(op, config.timeout, request).await?;
        match status {
            StatusCode::OK => decode(op, status, &body),
            _ => Err(http_error(op, status, &body)),
        }
    }
}

/// Sends and reads the whole answer, mapping transport failures by what they imply (A11).
pub(crate) async fn execute(
    op: Operation,
    timeout: Duration,
    request: RequestBuilder,
) -> Result<(StatusCode, bytes::Bytes), MomoError> {
    let response = request.send().await.map_err(|e| transport_error(op, timeout, e))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| transport_error(op, timeout, e))?;
    tracing::debug!(%op, status = status.as_u16(), "MoMo answered");
    Ok((status, body))
}

fn transport_error(op: Operation, timeout: Duration, error: reqwest::Error) -> MomoError {
    if error.is_builder() {
        MomoError::Configuration(error.to_string())
    } else if error.is_connect() {
        MomoError::Connect { op, source: error }
    } else if error.is_timeout() {
        MomoError::Timeout { op, timeout }
    } else {
        MomoError::Network { op, source: error }
    }
}

pub(crate) fn http_error(op: Operation, status: StatusCode, body: &[u8]) -> MomoError {
    MomoError::Http {
        op,
        status: status.as_u16(),
        body: ErrorBody::parse(body),
    }
}

pub(crate) fn decode<T: DeserializeOwned>(op: Operation, status: StatusCode, body: &[u8]) -> Result<T, MomoError> {
    serde_json::from_slice(body).map_err(|e| MomoError::Decode {
        op,
        status: status.as_u16(),
        message: e.to_string(),
    })
}
