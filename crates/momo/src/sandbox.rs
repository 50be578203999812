//! Sandbox provisioning (A3): create an API user bound to a callback host, then issue it a key.
//! Production users and keys come from MTN's partner portal instead.

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::client::{decode, execute, http_error, ClientConfig, SUBSCRIPTION_KEY};
use crate::error::{MomoError, Operation};
use crate::types::{ApiKeyResponse, ApiUserRequest};

/// Creates a sandbox API user bound to `callback_host` on `config`'s base URL with its
/// subscription key: `POST /v1_0/apiuser` (201), then `POST /v1_0/apiuser/{id}/apikey`
/// (201 `{"apiKey"}`). Returns `config` with the new user, key and callback host filled in.
pub async fn provision(config: &ClientConfig, callback_host: &str) -> Result<ClientConfig, MomoError> {
    let op = Operation::Provision;
    let timeout = config.timeout;
    let subscription_key = &config.subscription_key;
    let base = config.base_url.trim_end_matches('/');
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| MomoError::Configuration(e.to_string()))?;
    let api_user = Uuid::new_v4();
    let create = http
        .post(format!("{base}/v1_0/apiuser"))
        .header("X-Reference-Id", api_user.to_string())
        .header(SUBSCRIPTION_KEY, subscription_key.expose_secret())
        .json(&ApiUserRequest {
            provider_callback_host: callback_host.to_owned(),
        });
    let (status, body) = execute(op, timeout, create).await?;
    if status != StatusCode::CREATED {
        return Err(http_error(op, status, &body));
    }
    let issue = http
        .post(format!("{base}/v1_0/apiuser/{api_user}/apikey"))
        .header(SUBSCRIPTION_KEY, subscription_key.expose_secret());
    let (status, body) = execute(op, timeout, issue).await?;
    if status != StatusCode::CREATED {
        return Err(http_error(op, status, &body));
    }
    let key: ApiKeyResponse = decode(op, status, &body)?;
    Ok(ClientConfig {
        api_user: api_user.to_string(),
        api_key: SecretString::from(key.api_key),
        callback_host: Some(callback_host.to_owned()),
        ..config.clone()
    })
}
