//! A fake USSD app on 127.0.0.1:0 that answers by `text`, records every request it gets, and
//! collects the notifications.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use africastalking::ussd::{SessionEvent, UssdRequest};
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, USER_AGENT};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use simulators::at::GatewayConfig;
use tokio::sync::mpsc;

/// One hop as the app received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub user_agent: String,
    pub content_type: String,
    pub body: String,
    pub request: UssdRequest,
}

#[derive(Clone)]
struct AppState {
    hops: Arc<Mutex<Vec<Received>>>,
    events: mpsc::UnboundedSender<(SessionEvent, String)>,
    event_failures_left: Arc<AtomicU32>,
    calls: Arc<AtomicU32>,
}

pub struct FakeApp {
    pub callback_url: String,
    pub events_url: String,
    hops: Arc<Mutex<Vec<Received>>>,
    events: mpsc::UnboundedReceiver<(SessionEvent, String)>,
}

impl FakeApp {
    /// Starts the app; its events endpoint answers 500 to the first `failing_events` notifications.
    pub async fn start(failing_events: u32) -> Self {
        let (sender, events) = mpsc::unbounded_channel();
        let hops = Arc::new(Mutex::new(Vec::new()));
        let state = AppState {
            hops: hops.clone(),
            events: sender,
            event_failures_left: Arc::new(AtomicU32::new(failing_events)),
            calls: Arc::new(AtomicU32::new(0)),
        };
        let app = Router::new()
            .route("/ussd", post(ussd))
            .route("/events", post(events_endpoint))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake app");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fake app serves") });
        Self {
            callback_url: format!("{base}/ussd?secret=s3cret"),
            events_url: format!("{base}/events"),
            hops,
            events,
        }
    }

    /// A gateway config aimed at this app, with quick retries.
    pub fn config(&self) -> GatewayConfig {
        let mut config = GatewayConfig::new(self.callback_url.clone()).with_events_url(self.events_url.clone());
        config.event_backoff = Duration::from_millis(10);
        config
    }

    pub fn hops(&self) -> Vec<Received> {
        self.hops.lock().expect("hops lock").clone()
    }

    /// The next notification that reached the app, with its raw body.
    pub async fn next_event(&mut self) -> (SessionEvent, String) {
        tokio::time::timeout(Duration::from_secs(5), self.events.recv())
            .await
            .expect("a notification within 5 s")
            .expect("the fake app is running")
    }
}

async fn ussd(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let header = |name| {
        headers
            .get(name)
            .map(|v: &axum::http::HeaderValue| v.to_str().expect("ascii").to_owned())
    };
    let request: UssdRequest = serde_urlencoded::from_str(&body).expect("AT's form decodes");
    state.hops.lock().expect("hops lock").push(Received {
        user_agent: header(USER_AGENT).unwrap_or_default(),
        content_type: header(CONTENT_TYPE).unwrap_or_default(),
        body: body.clone(),
        request: request.clone(),
    });
    let text = request.text.as_str();
    let plain = |body: String| ([(CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response();
    match text {
        "" => plain("CON Welcome to MBELYCO\n1. Redeem a code\n2. Help".into()),
        "1" => plain("CON Enter your code".into()),
        "2" => plain("END Call 0788000000".into()),
        "3" => plain("con lowercase".into()),
        "4" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        "5" => {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            plain("CON late".into())
        }
        "6" => plain(format!("CON {}", "a".repeat(183))),
        "7" => plain("CON Murakoze 📒\n1. Next".into()),
        "8" => ([(CONTENT_TYPE, "application/json")], "CON json").into_response(),
        "9" => plain(format!("CON call {}", state.calls.fetch_add(1, Ordering::SeqCst))),
        "10" => plain("CON <img src=x id=injected> & <b>bold</b>".into()),
        _ => match text.strip_prefix("1*") {
            Some(code) => plain(format!("END Code {code} redeemed")),
            None => plain("CON Unknown option".into()),
        },
    }
}

async fn events_endpoint(State(state): State<AppState>, body: String) -> StatusCode {
    let event: SessionEvent = serde_urlencoded::from_str(&body).expect("the notification decodes");
    state.events.send((event, body)).expect("the test is listening");
    let failing = state
        .event_failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1));
    if failing.is_ok() {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}
