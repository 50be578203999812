//! A local webhook receiver: an axum server on 127.0.0.1 that records every POST it gets and
//! checks its `X-Mbelyco-Signature` (HMAC-SHA256 over `"<timestamp>.<body>"`) with the secret the
//! test gave the endpoint. It answers with the status the test sets (200 by default).

use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub event: String,
    pub delivery: String,
    pub timestamp: String,
    pub signature: String,
    /// Whether the signature matched the secret.
    pub signed: bool,
    pub body: serde_json::Value,
    pub raw: String,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    status: u16,
}

/// The receiver; clones share it.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    secret: String,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    /// Starts a receiver checking signatures with `secret`; posts are accepted at `url`.
    pub async fn start(secret: &str) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            received: Vec::new(),
            status: 200,
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free local port");
        let url = format!("http://{}/hook", listener.local_addr().expect("a bound address"));
        let receiver = Self {
            url,
            secret: secret.to_owned(),
            inner,
        };
        let app = Router::new().route("/hook", post(receive)).with_state(receiver.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        receiver
    }

    /// What the next requests are answered with.
    pub fn answer(&self, status: u16) {
        self.lock().status = status;
    }

    /// Every request so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// The requests of one event type.
    pub fn of(&self, event: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.event == event).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, computed here independently of the app.
pub fn expected_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let timestamp = header("x-mbelyco-timestamp");
    let signature = header("x-mbelyco-signature");
    let signed = !timestamp.is_empty() && signature == expected_signature(&r.secret, &timestamp, &body);
    let received = Received {
        event: header("x-mbelyco-event"),
        delivery: header("x-mbelyco-delivery"),
        timestamp,
        signature,
        signed,
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        raw: String::from_utf8_lossy(&body).into_owned(),
    };
    let mut inner = r.lock();
    inner.received.push(received);
    StatusCode::from_u16(inner.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
