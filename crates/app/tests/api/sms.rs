//! Payout confirmations by SMS: queued in the payout's completion transaction, sent by the job
//! queue through the Africa's Talking simulator over real HTTP, in the customer's language.

use std::sync::Arc;

use mbelyco::alerts::sms::{queue_payout_sms, MAX_ATTEMPTS};
use mbelyco::clock::{Clock, ManualClock};
use mbelyco::jobs::{self, Worker, WorkerOptions};
use mbelyco::settings::Category;
use serde_json::{json, Value};
use simulators::at::{router, Gateway, GatewayConfig, SmsConfig, SmsFaults};
use uuid::Uuid;

use crate::helpers::{now, spawn_app, TestApp, TestDb};

pub(crate) const KEY: &str = "at-sim-test-key";
pub(crate) const ENGLISH: &str = "+250788123456";
const KINYARWANDA: &str = "+250791000001";
const PENDING: &str = "+250788000222";

/// The AT simulator on a free port, accepting username `sandbox` and [`KEY`].
pub(crate) async fn at_simulator() -> (Gateway, String) {
    let config = GatewayConfig::new("http://127.0.0.1:9/ussd-unused").with_sms(SmsConfig::new("sandbox", KEY));
    let gateway = Gateway::new(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(gateway.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (gateway, base)
}

/// Points the app's AT settings at `base` with `key`, sending as `MBELYCO`.
pub(crate) async fn configure_sms(app: &TestApp, base: &str, key: &str) {
    app.set_settings(
        Category::Ussd,
        json!({"africasTalkingApiKey": key, "africasTalkingUsername": "sandbox", "africasTalkingBaseUrl": base}),
    )
    .await;
    app.set_settings(Category::Notifications, json!({"smsSenderId": "MBELYCO"}))
        .await;
}

/// Redeems `code` over USSD from `phone` (in English first when `english`), and returns the
/// redemption's id.
pub(crate) async fn redeem(app: &TestApp, phone: &str, code: &str, english: bool) -> Uuid {
    if english {
        let s = format!("lang-{phone}");
        app.hop(&s, phone, "").await;
        app.hop(&s, phone, "3").await;
        app.hop(&s, phone, "3*2").await;
    }
    let s = format!("win-{phone}");
    app.hop(&s, phone, "").await;
    app.hop(&s, phone, "1").await;
    let end = app.hop(&s, phone, &format!("1*{code}")).await;
    assert!(end.starts_with("END "), "{end}");
    sqlx::query_scalar("select r.id from redemptions r join customers c on c.id = r.customer_id where c.msisdn = $1")
        .bind(phone)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// What the payout worker does before it calls `queue_payout_sms`: the payout is completed with
/// MoMo's transaction id.
pub(crate) async fn complete_payout(app: &TestApp, redemption: Uuid, momo_id: &str) {
    sqlx::query(
        "update disbursements set status = 'completed', momo_transaction_id = $2, disbursed_at = $3, updated_at = $3 \
         where redemption_id = $1",
    )
    .bind(redemption)
    .bind(momo_id)
    .bind(now())
    .execute(&app.pool)
    .await
    .unwrap();
}

/// `queue_payout_sms` in its own transaction, as the worker's completion transaction would call it.
pub(crate) async fn queue(app: &TestApp, ids: &[Uuid]) -> u64 {
    let mut tx = app.pool.begin().await.unwrap();
    let n = queue_payout_sms(&mut tx, ids, now()).await.unwrap();
    tx.commit().await.unwrap();
    n
}

async fn sms_jobs(app: &TestApp) -> Vec<(String, i32, Option<String>, Value, Option<Value>)> {
    sqlx::query_as("select status, attempts, last_error, payload, result from jobs where kind = 'sms.send' order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// A worker with the app's job registry on a clock the test moves.
pub(crate) fn worker(app: &TestApp, clock: Arc<ManualClock>) -> Worker {
    Worker::new(
        app.pool.clone(),
        mbelyco::startup::registry(&app.state),
        clock,
        WorkerOptions {
            worker_id: "w-sms".into(),
            ..WorkerOptions::default()
        },
    )
}

#[tokio::test]
async fn a_completed_payout_gets_its_confirmation_in_the_customers_language() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let key = app.api_key("Super Administrator").await;
    let batch = app.generated_batch(&key, "Sms confirmations", 3, "w-codes").await;
    let codes = app.batch_codes(&batch).await;
    let en = redeem(&app, ENGLISH, &codes[0], true).await;
    let rw = redeem(&app, KINYARWANDA, &codes[1], false).await;
    let pending = redeem(&app, PENDING, &codes[2], false).await;
    complete_payout(&app, en, "1234567890").await;
    complete_payout(&app, rw, "2345678901").await;
    let (sim, base) = at_simulator().await;

    // no Africa's Talking key yet: nothing is queued
    assert_eq!(queue(&app, &[en, rw, pending]).await, 0);
    assert!(sms_jobs(&app).await.is_empty());

    configure_sms(&app, &base, KEY).await;
    // the payout still in progress gets nothing; a repeated call while queued adds nothing
    assert_eq!(queue(&app, &[en, rw, pending, en]).await, 2);
    assert_eq!(queue(&app, &[en]).await, 0);

    let clock = Arc::new(ManualClock::new(now()));
    assert_eq!(worker(&app, clock).drain().await.unwrap(), 2);

    let english = sim.sms().messages(Some(ENGLISH), 0);
    assert_eq!(english.len(), 1, "{english:?}");
    assert_eq!(
        english[0].message,
        "MBELYCO: you received 1,000 RWF on MoMo for your promo code. Ref 1234567890. Thank you!"
    );
    assert_eq!(english[0].from.as_deref(), Some("MBELYCO"));
    assert!(english[0].delivered && english[0].parts == 1);
    let kinyarwanda = sim.sms().messages(Some(KINYARWANDA), 0);
    assert_eq!(kinyarwanda.len(), 1, "{kinyarwanda:?}");
    assert_eq!(
        kinyarwanda[0].message,
        "MBELYCO: mwakiriye 1,000 RWF kuri MoMo kubera kode ya poromosiyo. Ref 2345678901. Murakoze!"
    );
    assert!(sim.sms().messages(Some(PENDING), 0).is_empty());
    assert_eq!(sim.sms().messages(None, 0).len(), 2);

    let jobs = sms_jobs(&app).await;
    assert!(jobs
        .iter()
        .all(|(status, attempts, ..)| status == "succeeded" && *attempts == 1));
    let ids: Vec<&str> = jobs
        .iter()
        .map(|(.., result)| result.as_ref().unwrap()["messageId"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&english[0].message_id.as_deref().unwrap()));
    let payloads: Vec<(&str, &str)> = jobs
        .iter()
        .map(|(.., payload, _)| {
            (
                payload["to"].as_str().unwrap(),
                payload["redemptionId"].as_str().unwrap(),
            )
        })
        .collect();
    let (en_id, rw_id) = (en.to_string(), rw.to_string());
    assert!(payloads.contains(&(ENGLISH, en_id.as_str())), "{payloads:?}");
    assert!(payloads.contains(&(KINYARWANDA, rw_id.as_str())), "{payloads:?}");

    // SMS turned off in the notification settings: nothing more is queued
    app.set_settings(Category::Notifications, json!({"smsEnabled": false}))
        .await;
    complete_payout(&app, pending, "3456789012").await;
    assert_eq!(queue(&app, &[pending]).await, 0);
}

#[tokio::test]
async fn a_refused_key_retries_with_backoff_until_dead_and_a_refused_number_dies_at_once() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let key = app.api_key("Super Administrator").await;
    let batch = app.generated_batch(&key, "Sms failures", 2, "w-codes").await;
    let codes = app.batch_codes(&batch).await;
    let first = redeem(&app, ENGLISH, &codes[0], true).await;
    complete_payout(&app, first, "1234567890").await;
    let (sim, base) = at_simulator().await;
    configure_sms(&app, &base, "not-the-key").await;

    assert_eq!(queue(&app, &[first]).await, 1);
    let clock = Arc::new(ManualClock::new(now()));
    let w = worker(&app, clock.clone());
    assert_eq!(w.drain().await.unwrap(), 1);
    let (status, attempts, error, ..) = sms_jobs(&app).await.remove(0);
    assert_eq!((status.as_str(), attempts), ("queued", 1), "waits for its backoff");
    let error = error.unwrap();
    assert!(
        error.contains("401") && error.contains("The supplied authentication is invalid"),
        "{error}"
    );
    assert_eq!(w.drain().await.unwrap(), 0, "not due before the backoff");
    let alerts: i64 = sqlx::query_scalar("select count(*) from alerts where kind = 'sms.configuration'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(alerts, 1, "the people who can fix the key are told");

    for _ in 1..MAX_ATTEMPTS {
        clock.advance(chrono::Duration::hours(1));
        assert_eq!(w.drain().await.unwrap(), 1);
    }
    let (status, attempts, error, ..) = sms_jobs(&app).await.remove(0);
    assert_eq!((status.as_str(), attempts), ("dead", MAX_ATTEMPTS));
    assert!(error.unwrap().contains("The supplied authentication is invalid"));
    assert!(sim.sms().messages(None, 0).is_empty(), "AT sent nothing");

    // the key is fixed and a person retries the dead job: the customer gets the SMS
    configure_sms(&app, &base, KEY).await;
    let id: i64 = sqlx::query_scalar("select id from jobs where kind = 'sms.send'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let mut tx = app.pool.begin().await.unwrap();
    jobs::retry(&mut tx, id, &mbelyco::unit::Acting::system(clock.now()))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(w.drain().await.unwrap(), 1);
    assert_eq!(sim.sms().messages(Some(ENGLISH), 0).len(), 1);

    // AT refuses the number for good (the customer opted out): dead at once, with AT's reason
    sim.sms().set_faults(SmsFaults {
        recipient_status: Some(406),
        ..SmsFaults::default()
    });
    let second = redeem(&app, KINYARWANDA, &codes[1], false).await;
    complete_payout(&app, second, "2345678901").await;
    assert_eq!(queue(&app, &[second]).await, 1);
    assert_eq!(w.drain().await.unwrap(), 1);
    let (status, attempts, error, ..) = sms_jobs(&app).await.remove(1);
    assert_eq!((status.as_str(), attempts), ("dead", 1));
    assert!(error.unwrap().contains("406 UserInBlacklist"));
}

#[tokio::test]
async fn the_development_run_shares_its_at_key_with_the_simulator_it_starts() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (app_url, events_url, codes) = mbelyco::devrun::prepare(&app.state, &app.base).await.unwrap();
    let ussd = app.state.settings.get().0.ussd.clone();
    let key = ussd.africas_talking_api_key.expose().unwrap().to_owned();
    assert_eq!(ussd.africas_talking_base_url, "http://127.0.0.1:8090");
    assert_eq!(ussd.africas_talking_username, "sandbox");
    // a second run keeps the key the simulator already knows
    mbelyco::devrun::prepare(&app.state, &app.base).await.unwrap();
    assert_eq!(
        app.state.settings.get().0.ussd.africas_talking_api_key.expose(),
        Some(key.as_str())
    );

    // the simulator as `spawn_at_sim` configures it, here on a free port instead of 8090
    let env = mbelyco::devrun::at_sim_env(&app.state, &app_url, &events_url, "*789#");
    let config = mbelyco::devrun::at_sim_config(|k| env.iter().find(|(name, _)| *name == k).map(|(_, v)| v.clone()));
    assert_eq!(config.sms.api_key, key);
    let gateway = Gateway::new(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let phone = router(gateway.clone());
    tokio::spawn(async move { axum::serve(listener, phone).await.unwrap() });
    app.set_settings(Category::Ussd, json!({"africasTalkingBaseUrl": base}))
        .await;

    // a customer redeems a demo code on the simulator's phone (in Kinyarwanda, the default) …
    let customer = "+250788555111";
    let (session, _) = gateway.dial(customer, None).await.unwrap();
    session.send("1").await.unwrap();
    let end = session.send(&codes[0]).await.unwrap();
    assert!(end.text.starts_with("Murakoze!"), "{}", end.text);
    let redemption: Uuid = sqlx::query_scalar("select id from redemptions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // … the payout completes, and the confirmation reaches the same phone's inbox
    complete_payout(&app, redemption, "4567890123").await;
    assert_eq!(queue(&app, &[redemption]).await, 1);
    worker(&app, Arc::new(ManualClock::new(now()))).drain().await.unwrap();
    let inbox = gateway.sms().messages(Some(customer), 0);
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(
        inbox[0].message,
        "MBELYCO: mwakiriye 1,000 RWF kuri MoMo kubera kode ya poromosiyo. Ref 4567890123. Murakoze!"
    );
}
