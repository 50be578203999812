//! MoMo's answers in its three error shapes (A8), and the checks every call goes through (A2):
//! subscription key, credentials, target environment, faults.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use momo::ErrorBody;
use rand::Rng as _;
use serde_json::json;

use super::sandbox::reason_message;
use super::sim::MomoSim;

const SUBSCRIPTION_KEY: &str = "ocp-apim-subscription-key";

/// A MoMo answer that is not the happy path.
pub(crate) enum Reply {
    /// Status with an empty body (201, 202, many 400s).
    Empty(StatusCode),
    /// Business `{"code","message"}`.
    Business(StatusCode, &'static str),
    /// Business `{"code":"VALIDATION_ERROR","message":…}` for a 400 we can explain.
    Invalid(String),
    /// Gateway `{"statusCode","message"}` (subscription key, bearer, rate limit).
    Gateway(StatusCode, &'static str),
    /// Token endpoint `{"error"}`.
    TokenError(&'static str),
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Self::Empty(status) => status.into_response(),
            Self::Business(status, code) => {
                (status, Json(ErrorBody::business(code, reason_message(code)))).into_response()
            }
            Self::Invalid(message) => (
                StatusCode::BAD_REQUEST,
                Json(ErrorBody::business("VALIDATION_ERROR", &message)),
            )
                .into_response(),
            Self::Gateway(status, message) => {
                let mut response =
                    (status, Json(json!({"statusCode": status.as_u16(), "message": message}))).into_response();
                if status == StatusCode::TOO_MANY_REQUESTS {
                    response
                        .headers_mut()
                        .insert("retry-after", HeaderValue::from_static("1"));
                }
                response
            }
            Self::TokenError(code) => (StatusCode::UNAUTHORIZED, Json(json!({"error": code}))).into_response(),
        }
    }
}

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// A2: the product's subscription key, or the gateway's 401 (laravel-mtn-momo#77).
pub(crate) fn subscription(sim: &MomoSim, headers: &HeaderMap) -> Result<(), Reply> {
    if header(headers, SUBSCRIPTION_KEY) == Some(sim.config().subscription_key.as_str()) {
        Ok(())
    } else {
        Err(Reply::Gateway(
            StatusCode::UNAUTHORIZED,
            "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.",
        ))
    }
}

/// A4: `Authorization: Basic base64(apiUser:apiKey)` → `(apiUser, apiKey)`.
pub(crate) fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = header(headers, "authorization")?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, key) = text.split_once(':')?;
    Some((user.to_owned(), key.to_owned()))
}

/// The checks before any business call (A2, A15.2–4): subscription key, a live bearer token, the
/// target environment; then the latency and error faults. Returns the token's API user.
pub(crate) async fn business(sim: &MomoSim, headers: &HeaderMap) -> Result<String, Reply> {
    let faults = sim.faults();
    if faults.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(faults.latency_ms)).await;
    }
    subscription(sim, headers)?;
    let token = header(headers, "authorization").and_then(|value| value.strip_prefix("Bearer "));
    let Some(api_user) = token.and_then(|token| sim.token_user(token.trim())) else {
        return Err(Reply::Gateway(
            StatusCode::UNAUTHORIZED,
            "Access denied due to invalid or expired access token.",
        ));
    };
    match header(headers, "x-target-environment") {
        None => return Err(Reply::Empty(StatusCode::BAD_REQUEST)),
        Some(env) if env != sim.config().target_environment => {
            return Err(Reply::Business(
                StatusCode::INTERNAL_SERVER_ERROR,
                "NOT_ALLOWED_TARGET_ENVIRONMENT",
            ))
        }
        Some(_) => {}
    }
    let roll = |rate: f64| rate > 0.0 && rand::thread_rng().gen::<f64>() < rate;
    if roll(faults.rate_429) {
        sim.count_fault();
        return Err(Reply::Gateway(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit is exceeded. Try again in 1 seconds.",
        ));
    }
    if roll(faults.error_503_rate) {
        sim.count_fault();
        return Err(Reply::Business(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"));
    }
    if roll(faults.error_500_rate) {
        sim.count_fault();
        return Err(Reply::Business(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_PROCESSING_ERROR",
        ));
    }
    Ok(api_user)
}

/// What happens to the answer of a transfer that was just created (faults).
pub(crate) enum AfterCreate {
    Answer,
    Hold(std::time::Duration),
    Drop,
}

pub(crate) fn roll_after_create(sim: &MomoSim) -> AfterCreate {
    let faults = sim.faults();
    let mut rng = rand::thread_rng();
    let mut roll = |rate: f64| rate > 0.0 && rng.gen::<f64>() < rate;
    if roll(faults.drop_after_create_rate) {
        sim.count_fault();
        AfterCreate::Drop
    } else if roll(faults.timeout_after_create_rate) {
        sim.count_fault();
        AfterCreate::Hold(std::time::Duration::from_millis(faults.hang_ms))
    } else {
        AfterCreate::Answer
    }
}
