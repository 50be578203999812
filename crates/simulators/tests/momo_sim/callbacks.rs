//! Callbacks reach a tiny receiver: PUT, the status body without `referenceId`, retried, doubled,
//! dropped, and refused for a foreign host (A10).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::any;
use axum::{Json, Router};
use momo::{Client, ErrorClass, MomoError, Status};
use simulators::momo::{CallbackMode, Faults, SimConfig};
use uuid::Uuid;

use crate::helpers::{fast_config, payout, spawn, until_final};

#[derive(Clone, Debug)]
struct Received {
    method: Method,
    reference: String,
    body: serde_json::Value,
}

#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    /// How many requests to answer 500 before answering 200.
    failures: Arc<Mutex<u32>>,
}

impl Receiver {
    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits until `count` callbacks arrived (or 5 s passed).
    async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..100 {
            if self.received().len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.received()
    }
}

async fn receive(
    State(receiver): State<Receiver>,
    method: Method,
    Path(reference): Path<String>,
    Json(body): Json<serde_json::Value>,
) -> StatusCode {
    receiver.received.lock().expect("lock").push(Received {
        method,
        reference,
        body,
    });
    let mut failures = receiver.failures.lock().expect("lock");
    if *failures > 0 {
        *failures -= 1;
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// A receiver on `localhost:<port>`; returns it and the callback URL for `reference`.
async fn receiver(failures: u32) -> (Receiver, impl Fn(Uuid) -> String) {
    let receiver = Receiver {
        failures: Arc::new(Mutex::new(failures)),
        ..Receiver::default()
    };
    let app = Router::new()
        .route("/momo/cb/{reference}", any(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver") });
    (receiver, move |reference| {
        format!("http://localhost:{port}/momo/cb/{reference}")
    })
}

async fn send_with_callback(client: &Client, url: &dyn Fn(Uuid) -> String, msisdn: &str) -> Uuid {
    let reference = Uuid::new_v4();
    client
        .transfer(reference, &payout(50, msisdn), Some(&url(reference)))
        .await
        .expect("202");
    reference
}

#[tokio::test]
async fn a_final_status_is_put_to_the_callback_url_once() {
    let sim = spawn(fast_config()).await;
    let client = sim.client().await;
    let (receiver, url) = receiver(0).await;
    let reference = send_with_callback(&client, &url, "250788123456").await;
    let failed = send_with_callback(&client, &url, "46733123457").await;

    let received = receiver.wait_for(2).await;
    assert_eq!(received.len(), 2);
    let success = received
        .iter()
        .find(|r| r.reference == reference.to_string())
        .expect("callback for the success");
    assert_eq!(success.method, Method::PUT);
    assert_eq!(success.body["status"], "SUCCESSFUL");
    assert_eq!(success.body["amount"], "50");
    assert_eq!(success.body["externalId"], "redemption-1");
    assert!(success.body.get("referenceId").is_none(), "MoMo does not send it (A10)");
    let failure = received
        .iter()
        .find(|r| r.reference == failed.to_string())
        .expect("callback for the failure");
    assert_eq!(failure.body["status"], "FAILED");
    assert_eq!(failure.body["reason"]["code"], "PAYEE_NOT_FOUND");

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 2, "sent once, not repeated");
}

#[tokio::test]
async fn a_refused_callback_is_retried_on_the_schedule_and_can_arrive_twice() {
    let sim = spawn(SimConfig {
        callbacks: CallbackMode::Retry(vec![Duration::from_millis(50); 5]),
        duplicate_callbacks: true,
        ..fast_config()
    })
    .await;
    let client = sim.client().await;
    let (receiver, url) = receiver(2).await;
    let reference = send_with_callback(&client, &url, "250788123456").await;

    let received = receiver.wait_for(4).await;
    assert_eq!(received.len(), 4, "two refusals, the delivery, then its duplicate");
    assert!(received.iter().all(|r| r.body["status"] == "SUCCESSFUL"));
    let attempts = sim.sim.callback_attempts();
    let statuses: Vec<Option<u16>> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200), Some(200)]);
    assert!(attempts.iter().all(|a| a.reference_id == reference));
    assert_eq!(attempts.last().map(|a| a.delivery), Some(2));
}

#[tokio::test]
async fn a_late_callback_arrives_after_polling_saw_the_final_status() {
    let sim = spawn(SimConfig {
        callback_delay: Duration::from_millis(1500),
        callback_method: simulators::momo::CallbackMethod::Post,
        ..fast_config()
    })
    .await;
    let client = sim.client().await;
    let (receiver, url) = receiver(0).await;
    let reference = send_with_callback(&client, &url, "250788123456").await;
    assert_eq!(until_final(&client, reference).await.status, Status::Successful);
    assert!(receiver.received().is_empty(), "not yet");
    let received = receiver.wait_for(1).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, Method::POST);
}

#[tokio::test]
async fn dropped_or_disabled_callbacks_never_arrive_and_polling_still_works() {
    for (callbacks, drop) in [(CallbackMode::Once, true), (CallbackMode::None, false)] {
        let sim = spawn(SimConfig {
            callbacks,
            faults: Faults {
                drop_callbacks: drop,
                ..Faults::default()
            },
            ..fast_config()
        })
        .await;
        let client = sim.client().await;
        let (receiver, url) = receiver(0).await;
        let reference = send_with_callback(&client, &url, "250788123456").await;
        assert_eq!(until_final(&client, reference).await.status, Status::Successful);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(receiver.received().is_empty());
        assert!(sim.sim.callback_attempts().is_empty());
    }
}

#[tokio::test]
async fn a_callback_on_another_host_is_refused() {
    let sim = spawn(fast_config()).await;
    let mut config = sim.provisioned_config().await;
    let client = Client::new(config.clone()).expect("client");
    let error = client
        .transfer(
            Uuid::new_v4(),
            &payout(10, "250788123456"),
            Some("http://evil.example/cb"),
        )
        .await
        .expect_err("checked by the client against its callback host");
    assert!(matches!(error, MomoError::Configuration(_)));

    config.callback_host = None;
    let unchecked = Client::new(config).expect("client");
    let error = unchecked
        .transfer(
            Uuid::new_v4(),
            &payout(10, "250788123456"),
            Some("http://evil.example/cb"),
        )
        .await
        .expect_err("refused by MoMo");
    assert_eq!(error.reason_code(), Some("INVALID_CALLBACK_URL_HOST"));
    assert_eq!(error.class(), ErrorClass::Configuration);
    assert!(sim.sim.transfers().is_empty());
}
