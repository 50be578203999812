//! Africa's Talking's SMS delivery reports (`POST /api/v1/webhooks/ussd/delivery`, issue 19): the
//! payout confirmation's `messageId` is kept when it is sent, the simulator reports on it as AT
//! does, and the payout shows what became of it; wrong secrets, late and repeated reports and bad
//! bodies change nothing.

use std::sync::Arc;
use std::time::Duration;

use mbelyco::clock::ManualClock;
use serde_json::Value;
use simulators::at::{router, Gateway, GatewayConfig, SmsConfig};
use uuid::Uuid;

use crate::helpers::{now, spawn_app, TestApp, TestDb, USSD_SECRET};
use crate::sms::{complete_payout, configure_sms, queue, redeem, worker, ENGLISH};

const KEY: &str = "at-sim-delivery-key";

/// The AT simulator on a free port, reporting deliveries to `delivery_url` when given.
async fn simulator(delivery_url: Option<String>) -> (Gateway, String) {
    let mut sms = SmsConfig::new("sandbox", KEY);
    sms.delivery_reports_url = delivery_url;
    sms.delivery_delay = Duration::from_millis(100);
    let gateway = Gateway::new(GatewayConfig::new("http://127.0.0.1:9/ussd-unused").with_sms(sms)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(gateway.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (gateway, base)
}

fn delivery_url(app: &TestApp, secret: &str) -> String {
    app.url(&format!("/api/v1/webhooks/ussd/delivery?secret={secret}"))
}

/// A completed payout whose confirmation the simulator took; returns (sim, disbursement id,
/// admin key, the SMS's messageId).
async fn confirmed_payout(app: &TestApp, reports: bool) -> (Gateway, Uuid, String, String) {
    app.open_ussd().await;
    let key = app.api_key("Super Administrator").await;
    let batch = app.generated_batch(&key, "Delivery reports", 1, "w-dlr").await;
    let code = app.batch_codes(&batch).await.remove(0);
    let redemption = redeem(app, ENGLISH, &code, true).await;
    complete_payout(app, redemption, "1234567890").await;
    let (sim, base) = simulator(reports.then(|| delivery_url(app, USSD_SECRET))).await;
    configure_sms(app, &base, KEY).await;
    assert_eq!(queue(app, &[redemption]).await, 1);
    assert_eq!(worker(app, Arc::new(ManualClock::new(now()))).drain().await.unwrap(), 1);
    let sent = sim.sms().messages(Some(ENGLISH), 0);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let message_id = sent[0].message_id.clone().unwrap();
    let payout: Uuid = sqlx::query_scalar("select id from disbursements where redemption_id = $1")
        .bind(redemption)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    (sim, payout, key, message_id)
}

/// The payout detail's `confirmationSms`.
async fn payout_sms(app: &TestApp, key: &str, payout: Uuid) -> Value {
    let res = app.get_as(key, &format!("/api/v1/admin/disbursements/{payout}")).await;
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["data"]["confirmationSms"].clone()
}

async fn report(app: &TestApp, secret: &str, form: &str) -> reqwest::Response {
    app.client
        .post(delivery_url(app, secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_simulators_delivery_report_shows_on_the_payout() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (_sim, payout, key, message_id) = confirmed_payout(&app, true).await;

    // the simulator posts its report shortly after the send, as AT does
    let mut sms = Value::Null;
    for _ in 0..50 {
        sms = payout_sms(&app, &key, payout).await;
        if sms["status"] == "Success" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sms["status"], "Success", "{sms}");
    assert_eq!(sms["messageId"], message_id.as_str());
    assert_eq!(sms["isFinal"], true);
    assert!(!sms["phoneNumber"].as_str().unwrap().contains("788123456"), "{sms}");

    let html = app
        .get_as(&key, &format!("/admin/disbursements/{payout}"))
        .await
        .text()
        .await
        .unwrap();
    let row = html.split("id=\"payout-sms\">").nth(1).unwrap_or_default();
    assert!(row.starts_with("Success at "), "{html}");
}

#[tokio::test]
async fn reports_move_forward_only_and_need_the_gateway_secret() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (_sim, payout, key, id) = confirmed_payout(&app, false).await;
    let sms = payout_sms(&app, &key, payout).await;
    assert_eq!(
        (sms["status"].as_str(), sms["isFinal"].as_bool()),
        (Some("Sent"), Some(false))
    );

    // not the gateway: 403, nothing changes
    let buffered = format!("id={id}&status=Buffered&phoneNumber=%2B250788123456&networkCode=63510&retryCount=0");
    for secret in ["nope", ""] {
        let res = report(&app, secret, &buffered).await;
        assert_eq!(res.status(), 403);
    }
    assert_eq!(payout_sms(&app, &key, payout).await["status"], "Sent");

    // forward: Buffered, then a late Sent changes nothing
    assert_eq!(report(&app, USSD_SECRET, &buffered).await.status(), 200);
    assert_eq!(payout_sms(&app, &key, payout).await["status"], "Buffered");
    let late = format!("id={id}&status=Sent&phoneNumber=%2B250788123456");
    assert_eq!(report(&app, USSD_SECRET, &late).await.status(), 200);
    assert_eq!(payout_sms(&app, &key, payout).await["status"], "Buffered");

    // Success is final: a late Sent, a repeat, even a Failed keep it
    let success = format!("id={id}&status=Success&phoneNumber=%2B250788123456&networkCode=63510");
    assert_eq!(report(&app, USSD_SECRET, &success).await.status(), 200);
    let done = payout_sms(&app, &key, payout).await;
    assert_eq!(done["status"], "Success");
    for form in [
        late.clone(),
        success.clone(),
        format!("id={id}&status=Failed&failureReason=UserIsInactive"),
    ] {
        assert_eq!(report(&app, USSD_SECRET, &form).await.status(), 200, "{form}");
    }
    assert_eq!(payout_sms(&app, &key, payout).await, done);
    let reports: i32 = sqlx::query_scalar("select reports from sms_messages where message_id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(reports, 6);

    // a message we never sent: acknowledged (AT would retry otherwise), nothing stored
    let res = report(&app, USSD_SECRET, "id=ATXid_unknown&status=Success").await;
    assert_eq!(res.status(), 200);
    let rows: i64 = sqlx::query_scalar("select count(*) from sms_messages")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn a_report_that_cannot_be_read_is_a_problem_never_a_server_error() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    for (form, field) in [
        ("status=Success", Some("id")),
        ("id=ATXid_1&status=Delivered", Some("status")),
        ("id=&status=", Some("id")),
        ("id=ATXid_1&status=Success&retryCount=lots", None),
        ("%%%", None),
        ("{\"id\": \"ATXid_1\"}", None),
    ] {
        let res = report(&app, USSD_SECRET, form).await;
        let status = res.status();
        assert!(status.as_u16() < 500, "{form}: {status}");
        if let Some(field) = field {
            assert_eq!(status, 422, "{form}");
            assert_eq!(res.headers()["content-type"], "application/problem+json");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["errors"][0]["field"], field, "{form}: {body}");
        }
    }
    let res = app
        .client
        .post(delivery_url(&app, USSD_SECRET))
        .body(vec![0u8, 159, 146, 150])
        .send()
        .await
        .unwrap();
    assert!(res.status().as_u16() < 500);
}
