//! The web phone for people, the JSON control API it drives, and AT's SMS API.
//!
//! `GET /` is a static handset page; `/phone.js` (hand-written) calls the API and writes every app
//! text with `textContent`, so nothing the app sends is ever parsed as HTML. A strict CSP with no
//! inline script is set on every response.

use std::time::Duration;

use africastalking::sms::{AUTH_INVALID, MESSAGING_PATH};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpListener;

use super::config::GatewayConfig;
use super::gateway::{DialOptions, Gateway, GatewayError};
use super::screen::Screen;
use super::session::{Session, SessionSnapshot};
use super::sms::{SmsAnswer, SmsFaults, SmsMessage};

/// The longest a `GET /sim/sms?waitSecs=` waits for a message.
const MAX_WAIT_SECS: u64 = 30;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The networks the page offers: MTN Rwanda, Airtel Rwanda, AT's sandbox.
const NETWORKS: [&str; 3] = ["63510", "63514", "99999"];

/// Serves the web phone and the control API on `listener` until the process stops.
pub async fn serve(config: GatewayConfig, listener: TcpListener) -> Result<(), GatewayError> {
    let gateway = Gateway::new(config)?;
    axum::serve(listener, router(gateway)).await.map_err(GatewayError::Io)
}

/// The web phone and control API over `gateway`, to mount in a test or a dev server:
///
/// - `GET /`, `/phone.js`, `/phone.css`: the page
/// - `GET /api/config`: the service code, default network and networks on offer
/// - `POST /api/sessions` `{phone, network?, duplicateDelivery?, extendedDial?, abandon?}`: dial
/// - `POST /api/sessions/{id}/input` `{input, abandon?}`: answer the screen
/// - `POST /api/sessions/{id}/cancel`: hang up
/// - `GET /api/sessions`: recent sessions, newest first, with hops and notifications
/// - `POST /version1/messaging`: AT's bulk SMS API (see [`super::SmsCenter`])
/// - `GET /sim/sms?number=+250…&after=N&waitSecs=S`: the messages recorded after sequence `N`,
///   oldest first, for one number if given; waits up to `S` seconds (at most 30) for one
/// - `GET /sim/sms/faults`, `PUT /sim/sms/faults`: the SMS API's fault switches
///
/// Dial and input answer `{screen, session}`; `abandon` hangs up as soon as the screen arrives.
pub fn router(gateway: Gateway) -> Router {
    Router::new()
        .route("/", get(|| async { Html(include_str!("static/phone.html")) }))
        .route(
            "/phone.js",
            get(|| async {
                (
                    [(CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    include_str!("static/phone.js"),
                )
            }),
        )
        .route(
            "/phone.css",
            get(|| async {
                (
                    [(CONTENT_TYPE, "text/css; charset=utf-8")],
                    include_str!("static/phone.css"),
                )
            }),
        )
        .route("/api/config", get(config))
        .route("/api/sessions", post(dial).get(sessions))
        .route("/api/sessions/{id}/input", post(input))
        .route("/api/sessions/{id}/cancel", post(cancel))
        .route(MESSAGING_PATH, post(messaging))
        .route("/sim/sms", get(sms_list))
        .route("/sim/sms/faults", get(sms_faults).put(set_sms_faults))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(gateway)
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An API failure as `{ "error": … }`.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<GatewayError> for ApiError {
    fn from(error: GatewayError) -> Self {
        let status = match error {
            GatewayError::InvalidPhone(_) | GatewayError::InvalidNetwork(_) | GatewayError::InvalidExtendedDial(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            GatewayError::SessionClosed(_) => StatusCode::CONFLICT,
            GatewayError::Client(_) | GatewayError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self(status, error.to_string())
    }
}

async fn config(State(gateway): State<Gateway>) -> Json<serde_json::Value> {
    let config = gateway.config();
    Json(json!({
        "serviceCode": config.service_code,
        "networkCode": config.network_code,
        "networks": NETWORKS,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DialBody {
    phone: String,
    network: Option<String>,
    duplicate_delivery: Option<bool>,
    extended_dial: Option<String>,
    #[serde(default)]
    abandon: bool,
}

#[derive(Deserialize)]
struct InputBody {
    input: String,
    #[serde(default)]
    abandon: bool,
}

#[derive(Serialize)]
struct Step {
    screen: Screen,
    session: SessionSnapshot,
}

fn step(session: &Session, screen: Screen, abandon: bool) -> Json<Step> {
    if abandon {
        session.cancel();
    }
    Json(Step {
        screen,
        session: session.snapshot(),
    })
}

async fn dial(State(gateway): State<Gateway>, Json(body): Json<DialBody>) -> Result<Json<Step>, ApiError> {
    let options = DialOptions {
        network_code: body.network,
        duplicate_delivery: body.duplicate_delivery,
        extended_dial: body.extended_dial,
    };
    let (session, screen) = gateway.dial_with(body.phone.trim(), options).await?;
    Ok(step(&session, screen, body.abandon))
}

fn find(gateway: &Gateway, id: &str) -> Result<Session, ApiError> {
    gateway
        .session(id)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no recent session {id}")))
}

async fn input(
    State(gateway): State<Gateway>,
    Path(id): Path<String>,
    Json(body): Json<InputBody>,
) -> Result<Json<Step>, ApiError> {
    let session = find(&gateway, &id)?;
    let screen = session.send(&body.input).await?;
    Ok(step(&session, screen, body.abandon))
}

async fn cancel(State(gateway): State<Gateway>, Path(id): Path<String>) -> Result<Json<SessionSnapshot>, ApiError> {
    let session = find(&gateway, &id)?;
    session.cancel();
    Ok(Json(session.snapshot()))
}

async fn sessions(State(gateway): State<Gateway>) -> Json<Vec<SessionSnapshot>> {
    Json(gateway.recent_sessions().iter().map(Session::snapshot).collect())
}

/// `POST /version1/messaging`, answered as AT does (see [`super::SmsCenter::submit`]).
async fn messaging(State(gateway): State<Gateway>, headers: HeaderMap, body: Bytes) -> Response {
    let sms = gateway.sms();
    let latency = sms.faults().latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let api_key = headers.get("apikey").and_then(|v| v.to_str().ok());
    let text = |status: StatusCode, body: String| {
        (status, [(CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
    };
    match sms.submit(api_key, &body) {
        SmsAnswer::Unauthorized => text(StatusCode::UNAUTHORIZED, AUTH_INVALID.to_owned()),
        SmsAnswer::MissingField(field) => text(
            StatusCode::BAD_REQUEST,
            format!("Request is missing required form field '{field}'"),
        ),
        SmsAnswer::Fault(status) => text(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "Simulated fault".to_owned(),
        ),
        SmsAnswer::Accepted(answer) => (StatusCode::CREATED, Json(answer)).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SmsQuery {
    number: Option<String>,
    #[serde(default)]
    after: u64,
    #[serde(default)]
    wait_secs: u64,
}

async fn sms_list(State(gateway): State<Gateway>, Query(query): Query<SmsQuery>) -> Json<Vec<SmsMessage>> {
    let number = query.number.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let wait = Duration::from_secs(query.wait_secs.min(MAX_WAIT_SECS));
    let sms = gateway.sms();
    Json(if wait.is_zero() {
        sms.messages(number, query.after)
    } else {
        sms.wait_for(number, query.after, wait).await
    })
}

async fn sms_faults(State(gateway): State<Gateway>) -> Json<SmsFaults> {
    Json(gateway.sms().faults())
}

async fn set_sms_faults(State(gateway): State<Gateway>, Json(faults): Json<SmsFaults>) -> Json<SmsFaults> {
    gateway.sms().set_faults(faults);
    Json(gateway.sms().faults())
}
