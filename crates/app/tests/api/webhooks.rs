//! Webhooks for integrators: events emitted in the transaction of the change, delivered signed by
//! the job queue to a local receiver that checks the signature, retried, failed, paused with an
//! alert, resumed; the endpoints managed through the API and the page, their secrets never shown.

use std::sync::Arc;

use mbelyco::clock::ManualClock;
use mbelyco::jobs::{Worker, WorkerOptions};
use mbelyco::settings::Category;
use serde_json::{json, Value};
use testkit::webhooks::Receiver;

use crate::helpers::{error_fields, now, spawn_app, TestApp, TestDb};
use crate::payouts::{instant, ready, redeem, start_momo, worker as payout_worker};

const SECRET: &str = "whsec-0123456789-abcdef";
const OTHER_SECRET: &str = "another-secret-9876543210";
/// An alert still open, whether alerts carry a `status` (the alerts console) or only
/// `acknowledged_at` (before it).
const OPEN: &str = "case when to_jsonb(a) ? 'status' then to_jsonb(a) ->> 'status' <> 'resolved' \
                    else to_jsonb(a) ->> 'acknowledged_at' is null end";

/// Registers an endpoint through the API; returns its id.
async fn endpoint(app: &TestApp, key: &str, url: &str, events: &[&str], secret: &str, retries: i64) -> String {
    let res = app
        .post_json(
            key,
            "/api/v1/admin/webhooks",
            &json!({"url": url, "events": events, "secret": secret, "retryAttempts": retries}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

async fn webhooks_on(app: &TestApp) {
    app.set_settings(Category::Notifications, json!({"webhooksEnabled": true}))
        .await;
}

/// A job worker with the app's registry on a clock the test moves.
fn jobs(app: &TestApp, clock: Arc<ManualClock>) -> Worker {
    Worker::new(
        app.pool.clone(),
        mbelyco::startup::registry(&app.state),
        clock,
        WorkerOptions {
            worker_id: "w-hooks".into(),
            ..WorkerOptions::default()
        },
    )
}

async fn deliveries(app: &TestApp, key: &str, id: &str) -> Vec<Value> {
    let res = app
        .get_as(key, &format!("/api/v1/admin/webhooks/{id}/deliveries"))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["data"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redemption_and_its_payout_arrive_signed_and_only_where_subscribed() {
    let db = TestDb::new().await;
    let momo = start_momo(instant()).await;
    let (app, key) = ready(&db, &momo, json!({})).await;
    let integrator = Receiver::start(SECRET).await;
    let alerts_only = Receiver::start(OTHER_SECRET).await;
    let id = endpoint(
        &app,
        &key,
        &integrator.url,
        &["redemption.completed", "disbursement.completed"],
        SECRET,
        3,
    )
    .await;
    endpoint(&app, &key, &alerts_only.url, &["alert.raised"], OTHER_SECRET, 3).await;

    // webhooks off (the default): a redemption queues nothing
    redeem(&app, &key, 1, "off").await;
    let queued: i64 = sqlx::query_scalar("select count(*) from webhook_deliveries")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(queued, 0);
    payout_worker(&app, "p0").run_until_idle().await.unwrap();

    webhooks_on(&app).await;
    let ids = redeem(&app, &key, 1, "on").await;
    let phone: String = sqlx::query_scalar("select msisdn from disbursements where id = $1")
        .bind(ids[0])
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // the redemption's event committed with it, before any payout
    assert_eq!(deliveries(&app, &key, &id).await.len(), 1);
    assert_eq!(payout_worker(&app, "p1").run_until_idle().await.unwrap(), 1);
    let clock = Arc::new(ManualClock::new(now()));
    jobs(&app, clock).drain().await.unwrap();

    let redeemed = integrator.of("redemption.completed");
    assert_eq!(redeemed.len(), 1, "{:?}", integrator.received());
    let r = &redeemed[0];
    assert!(r.signed, "the signature checks with the endpoint's secret: {r:?}");
    assert_eq!(r.body["type"], "redemption.completed");
    assert_eq!(r.body["data"]["amount"], 1000);
    assert_eq!(r.body["data"]["currency"], "RWF");
    assert_eq!(r.body["data"]["disbursementId"], ids[0].to_string());
    let masked = r.body["data"]["phoneMasked"].as_str().unwrap();
    assert!(
        masked.contains("***") && !r.raw.contains(&phone[phone.len() - 6..]),
        "{}",
        r.raw
    );
    assert!(r.body["data"]["codeMasked"].as_str().unwrap().contains('…'));
    let code: String = sqlx::query_scalar(
        "select c.code from promo_codes c join redemptions r on r.promo_code_id = c.id \
         join disbursements d on d.redemption_id = r.id where d.id = $1",
    )
    .bind(ids[0])
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(!r.raw.contains(&code), "the code travels masked");

    let paid = integrator.of("disbursement.completed");
    assert_eq!(paid.len(), 1, "{:?}", integrator.received());
    assert!(paid[0].signed);
    assert_eq!(paid[0].body["data"]["disbursementId"], ids[0].to_string());
    let momo_id: String = sqlx::query_scalar("select momo_transaction_id from disbursements where id = $1")
        .bind(ids[0])
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(paid[0].body["data"]["momoTransactionId"], momo_id);
    assert_eq!(paid[0].delivery.len(), 36, "the delivery's id");
    let ts: i64 = paid[0].timestamp.parse().unwrap();
    assert!((ts - now().timestamp()).abs() < 120);

    // not subscribed: nothing at all
    assert!(alerts_only.received().is_empty(), "{:?}", alerts_only.received());
    assert_eq!(integrator.received().len(), 2);

    // the log shows both, delivered once, with the answer's code and duration
    let log = deliveries(&app, &key, &id).await;
    assert_eq!(log.len(), 2);
    for d in &log {
        assert_eq!(d["status"], "delivered", "{d}");
        assert_eq!(
            (d["attempts"].as_i64(), d["lastStatusCode"].as_i64()),
            (Some(1), Some(200))
        );
        assert!(d["lastDurationMs"].is_number());
    }
}

#[tokio::test]
async fn a_failing_receiver_gets_its_retries_then_five_failures_pause_the_endpoint_with_an_alert() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let receiver = Receiver::start(SECRET).await;
    receiver.answer(500);
    let id = endpoint(&app, &key, &receiver.url, &["test"], SECRET, 2).await;

    // webhooks off: the test event is refused, nothing queued
    let res = app.post_as(&key, &format!("/api/v1/admin/webhooks/{id}/test")).await;
    assert_eq!(res.status(), 409);
    webhooks_on(&app).await;

    let res = app.post_as(&key, &format!("/api/v1/admin/webhooks/{id}/test")).await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let clock = Arc::new(ManualClock::new(now()));
    let w = jobs(&app, clock.clone());
    assert_eq!(w.drain().await.unwrap(), 1);
    let log = deliveries(&app, &key, &id).await;
    assert_eq!(
        (
            log[0]["status"].as_str(),
            log[0]["attempts"].as_i64(),
            log[0]["lastStatusCode"].as_i64()
        ),
        (Some("pending"), Some(1), Some(500))
    );
    assert!(log[0]["nextAttemptAt"].is_string());
    assert_eq!(w.drain().await.unwrap(), 0, "not due before its backoff");
    for _ in 0..2 {
        clock.advance(chrono::Duration::hours(1));
        assert_eq!(w.drain().await.unwrap(), 1);
    }
    let log = deliveries(&app, &key, &id).await;
    assert_eq!(
        (log[0]["status"].as_str(), log[0]["attempts"].as_i64()),
        (Some("failed"), Some(3)),
        "the first try and its 2 retries: {}",
        log[0]
    );
    assert_eq!(receiver.received().len(), 3);
    assert!(receiver.received().iter().all(|r| r.signed && r.event == "test"));
    clock.advance(chrono::Duration::hours(2));
    assert_eq!(w.drain().await.unwrap(), 0, "no more tries");

    // four more failed deliveries (no retries now): the fifth in a row pauses the endpoint
    let res = app
        .put_json(
            &key,
            &format!("/api/v1/admin/webhooks/{id}"),
            &json!({"url": receiver.url, "events": ["test"], "retryAttempts": 0}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    for i in 0..4 {
        let res = app.post_as(&key, &format!("/api/v1/admin/webhooks/{id}/test")).await;
        assert_eq!(res.status(), 202, "test {i}");
        assert_eq!(w.drain().await.unwrap(), 1);
    }
    let ep: Value = app
        .get_as(&key, &format!("/api/v1/admin/webhooks/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(ep["pausedAt"].is_string(), "{ep}");
    assert_eq!(ep["consecutiveFailures"], 5);
    let alerts: Vec<(String, String, i32)> = sqlx::query_as(&format!(
        "select kind, audience, occurrences from alerts a where subject_id = $1 and {OPEN}"
    ))
    .bind(&id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        alerts,
        vec![("webhook.endpoint_paused".into(), "system.alerts.view".into(), 1)]
    );
    let paused_audit: i64 = sqlx::query_scalar(
        "select count(*) from audit_logs where action = 'webhook.endpoint_paused' and entity_id = $1",
    )
    .bind(&id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(paused_audit, 1);

    // paused: no test until resumed; resuming closes the alert
    let res = app.post_as(&key, &format!("/api/v1/admin/webhooks/{id}/test")).await;
    assert_eq!(res.status(), 409);
    receiver.answer(204);
    let res = app.post_as(&key, &format!("/api/v1/admin/webhooks/{id}/resume")).await;
    assert_eq!(res.status(), 200);
    let open: i64 = sqlx::query_scalar(&format!(
        "select count(*) from alerts a where subject_id = $1 and {OPEN}"
    ))
    .bind(&id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(open, 0);
    let res = app.post_as(&key, &format!("/api/v1/admin/webhooks/{id}/test")).await;
    assert_eq!(res.status(), 202);
    assert_eq!(w.drain().await.unwrap(), 1);
    let log = deliveries(&app, &key, &id).await;
    assert_eq!(
        (log[0]["status"].as_str(), log[0]["lastStatusCode"].as_i64()),
        (Some("delivered"), Some(204))
    );
    assert_eq!(log.len(), 6);
}

#[tokio::test]
async fn endpoints_refuse_bad_input_by_field_and_never_show_their_secret() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;

    let res = app
        .post_json(
            &key,
            "/api/v1/admin/webhooks",
            &json!({"url": "ftp://integrator.example.rw/hook", "events": ["redemption.completed", "payout.done"],
                    "secret": SECRET, "retryAttempts": 11}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_fields(&body), ["url", "events[1]", "retryAttempts"]);
    let none: i64 = sqlx::query_scalar("select count(*) from webhook_endpoints")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(none, 0, "nothing changes");

    // the page: the message beside the field, nothing registered
    let form = [
        ("url", "javascript:alert(1)"),
        ("events", "test"),
        ("secret", SECRET),
        ("retryAttempts", "3"),
    ];
    let res = app.post_form(&key, "/admin/settings/webhooks", &form).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"data-field="url""#), "{html}");

    // a test event sent through the API arrives, signed
    webhooks_on(&app).await;
    let receiver = Receiver::start(SECRET).await;
    let id = endpoint(&app, &key, &receiver.url, &["redemption.completed"], SECRET, 1).await;
    let res = app.post_as(&key, &format!("/api/v1/admin/webhooks/{id}/test")).await;
    assert_eq!(res.status(), 202);
    let event_id = res.json::<Value>().await.unwrap()["eventId"]
        .as_str()
        .unwrap()
        .to_owned();
    jobs(&app, Arc::new(ManualClock::new(now()))).drain().await.unwrap();
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].signed && got[0].event == "test");
    assert_eq!(got[0].body["id"], event_id);

    // the secret appears in no answer, page, audit row or the stored row in clear
    let mut seen = Vec::new();
    for path in [
        "/api/v1/admin/webhooks".to_owned(),
        format!("/api/v1/admin/webhooks/{id}"),
        format!("/api/v1/admin/webhooks/{id}/deliveries"),
        "/admin/settings/webhooks".to_owned(),
        format!("/admin/settings/webhooks/{id}"),
        "/api/v1/admin/settings/notifications".to_owned(),
    ] {
        let res = app.get_as(&key, &path).await;
        assert_eq!(res.status(), 200, "{path}");
        seen.push((path, res.text().await.unwrap()));
    }
    let res = app
        .put_json(
            &key,
            &format!("/api/v1/admin/webhooks/{id}"),
            &json!({"url": receiver.url, "events": ["test"], "secret": OTHER_SECRET}),
        )
        .await;
    seen.push(("PUT".into(), res.text().await.unwrap()));
    let audit: Vec<String> =
        sqlx::query_scalar("select coalesce(before::text, '') || coalesce(after::text, '') from audit_logs")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    seen.push(("audit".into(), audit.join("\n")));
    let stored: String = sqlx::query_scalar("select secret from webhook_endpoints")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    seen.push(("stored".into(), stored));
    for (what, text) in &seen {
        assert!(
            !text.contains(SECRET) && !text.contains(OTHER_SECRET),
            "{what} shows the secret"
        );
    }
    // the new secret signs from now on
    let other = Receiver::start(OTHER_SECRET).await;
    app.put_json(
        &key,
        &format!("/api/v1/admin/webhooks/{id}"),
        &json!({"url": other.url, "events": ["test"]}),
    )
    .await;
    app.post_as(&key, &format!("/api/v1/admin/webhooks/{id}/test")).await;
    jobs(&app, Arc::new(ManualClock::new(now()))).drain().await.unwrap();
    assert!(other.received()[0].signed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_an_approver_rejects_reaches_integrators_as_disbursement_failed() {
    use crate::payout_fixtures::{batch, payout, person_with_key, Spec};
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let (_, fa) = person_with_key(&app, "fa@mbelyco.test", "Financial Administrator").await;
    let integrator = Receiver::start(SECRET).await;
    endpoint(&app, &admin, &integrator.url, &["disbursement.failed"], SECRET, 3).await;
    webhooks_on(&app).await;
    let b = batch(&app.pool, "Held", 150_000).await;
    let p = payout(&app.pool, b, Spec::new("+250788555001", 150_000, "awaiting_approval")).await;

    let res = app
        .post_json(
            &fa,
            &format!("/api/v1/admin/disbursements/{}/reject", p.id),
            &json!({"reason": "Customer is a staff member"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    jobs(&app, Arc::new(ManualClock::new(now()))).drain().await.unwrap();

    let failed = integrator.of("disbursement.failed");
    assert_eq!(failed.len(), 1, "{:?}", integrator.received());
    assert!(failed[0].signed);
    assert_eq!(failed[0].body["data"]["disbursementId"], p.id.to_string());
    assert_eq!(failed[0].body["data"]["reason"], "rejected");
    assert_eq!(failed[0].body["data"]["amount"], 150_000);
    assert!(
        !failed[0].raw.contains("555001"),
        "the phone travels masked: {}",
        failed[0].raw
    );
}
