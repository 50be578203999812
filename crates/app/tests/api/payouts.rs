//! The payout worker against the MoMo simulator over real HTTP: exactly one payout per
//! redemption, whatever MoMo answers.

use std::sync::Arc;
use std::time::Duration;

use mbelyco::disbursement::worker::PayoutWorker;
use mbelyco::settings::Category;
use serde_json::json;
use simulators::momo::{Faults, MomoSim, SimConfig};
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp, TestDb};

pub const SIM_USER: &str = "8c1f5d2a-6b7e-4c3d-9a10-1f2e3d4c5b6a";
pub const SIM_KEY: &str = "0f9e8d7c6b5a49382716a5b4c3d2e1f0";
pub const SIM_SUBSCRIPTION: &str = "momo-sim-subscription-key";

/// A MoMo simulator on a real port.
pub struct Momo {
    pub sim: MomoSim,
    pub base: String,
}

pub async fn start_momo(config: SimConfig) -> Momo {
    let sim = MomoSim::new(config.with_user(SIM_USER, SIM_KEY, "127.0.0.1")).expect("simulator opens");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(simulators::momo::serve_with(sim.clone(), listener));
    Momo { sim, base }
}

/// The simulator settling at once (the sandbox's "any other number succeeds").
pub fn instant() -> SimConfig {
    let mut c = SimConfig::rwanda();
    c.settle_after = Duration::ZERO;
    c.callbacks = simulators::momo::CallbackMode::None;
    c
}

/// An app whose payment settings point at `momo`, with USSD open and automatic approval.
pub async fn ready(db: &TestDb, momo: &Momo, extra: serde_json::Value) -> (TestApp, String) {
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let mut patch = json!({
        "momoBaseUrl": momo.base,
        "momoApiUser": SIM_USER,
        "momoApiKey": SIM_KEY,
        "momoSubscriptionKey": SIM_SUBSCRIPTION,
        "momoTargetEnvironment": "mtnrwanda",
        "requestTimeoutSeconds": 5,
        "lowBalanceThreshold": 0,
    });
    if let (Some(p), Some(e)) = (patch.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            p.insert(k.clone(), v.clone());
        }
    }
    app.set_settings(Category::Payments, patch).await;
    let key = app.api_key("Super Administrator").await;
    (app, key)
}

/// Redeems `n` fresh codes of 1,000 RWF over USSD from `n` phones; returns the disbursement ids.
pub async fn redeem(app: &TestApp, key: &str, n: usize, tag: &str) -> Vec<Uuid> {
    let batch = app
        .generated_batch(key, &format!("Payout {tag}"), n as i64, &format!("w-{tag}"))
        .await;
    let codes = app.batch_codes(&batch).await;
    for (i, code) in codes.iter().enumerate() {
        let answer = app
            .hop(
                &format!("{tag}-{i}"),
                &format!("+25078{}{i:06}", tag.len() % 10),
                &format!("1*{code}"),
            )
            .await;
        assert!(answer.starts_with("END ") && answer.contains("1000 RWF"), "{answer}");
    }
    sqlx::query_scalar(
        "select d.id from disbursements d join redemptions r on r.id = d.redemption_id \
         where r.batch_id = $1::uuid order by r.created_at",
    )
    .bind(&batch)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

pub fn worker(app: &TestApp, id: &str) -> Arc<PayoutWorker> {
    PayoutWorker::new(
        app.pool.clone(),
        Arc::clone(&app.state.settings),
        app.state.clock.clone(),
        id,
    )
}

/// Makes every waiting payout due now (time passing, for retries and holds).
pub async fn make_due(app: &TestApp) {
    sqlx::query(
        "update disbursements set next_attempt_at = now() - interval '1 second', \
         lease_expires_at = case when lease_owner is null then null else lease_expires_at end \
         where status in ('queued', 'retry_scheduled') or (status = 'processing' and lease_owner is null)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
}

type PollRow = (
    String,
    Option<String>,
    String,
    Option<i32>,
    chrono::DateTime<chrono::Utc>,
);

async fn statuses(app: &TestApp) -> Vec<(String, i64)> {
    sqlx::query_as("select status, count(*) from disbursements group by status order by status")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// Ours and the simulator's books agree: every completed payout has exactly one SUCCESSFUL
/// transfer at MoMo, under its own reference, for its amount and number; nothing else was paid.
pub async fn books_agree(app: &TestApp, momo: &Momo) {
    let ours: Vec<(Uuid, Uuid, String, i64, String, Option<String>)> = sqlx::query_as(
        "select d.id, d.redemption_id, d.msisdn, d.amount, d.status, d.momo_transaction_id from disbursements d",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let transfers = momo.sim.transfers();
    let paid: Vec<_> = transfers
        .iter()
        .filter(|t| t.status == momo::Status::Successful)
        .collect();
    let mut by_external = std::collections::HashMap::new();
    for t in &paid {
        *by_external.entry(t.request.external_id.clone()).or_insert(0) += 1;
    }
    assert!(
        by_external.values().all(|n| *n == 1),
        "a redemption was paid twice: {by_external:?}"
    );
    let mut total_ours = 0;
    for (id, redemption, msisdn, amount, status, ftid) in &ours {
        let theirs: Vec<_> = paid
            .iter()
            .filter(|t| t.request.external_id == redemption.to_string())
            .collect();
        if status == "completed" {
            assert_eq!(theirs.len(), 1, "completed {id} has {} payouts at MoMo", theirs.len());
            assert_eq!(theirs[0].request.amount, amount.to_string());
            assert_eq!(&theirs[0].request.payee.party_id, msisdn);
            assert_eq!(&theirs[0].financial_transaction_id, ftid);
            total_ours += amount;
        } else {
            assert!(theirs.is_empty(), "{id} is {status} here but was paid at MoMo");
        }
    }
    let total_theirs: i64 = paid.iter().map(|t| t.request.amount.parse::<i64>().unwrap()).sum();
    assert_eq!(total_ours, total_theirs, "the ledgers differ");
    // no reference was used for two payouts
    let refs: std::collections::HashSet<_> = transfers.iter().map(|t| t.reference_id).collect();
    assert_eq!(refs.len(), transfers.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redemptions_are_paid_once_and_every_record_follows() {
    let db = TestDb::new().await;
    let momo = start_momo(instant()).await;
    let (app, key) = ready(&db, &momo, json!({})).await;
    app.set_settings(
        Category::Ussd,
        json!({"africasTalkingApiKey": "at-key-0123456789", "africasTalkingUsername": "sandbox"}),
    )
    .await;
    let ids = redeem(&app, &key, 3, "once").await;
    let start_balance = momo.sim.balance();
    let w = worker(&app, "w1");
    assert_eq!(w.run_until_idle().await.unwrap(), 3);
    assert_eq!(statuses(&app).await, vec![("completed".to_owned(), 3)]);
    let (redeemed, completed, attempts): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from promo_codes where status = 'redeemed'), \
                (select count(*) from redemptions where status = 'completed' and completed_at is not null), \
                (select count(*) from disbursement_attempts where status = 'successful' \
                   and financial_transaction_id is not null and momo_status = 'SUCCESSFUL')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((redeemed, completed, attempts), (3, 3, 3));
    // each customer's confirmation SMS was queued with the payout
    let sms: i64 = sqlx::query_scalar("select count(*) from jobs where kind = 'sms.send'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sms, 3);
    assert_eq!(momo.sim.balance(), start_balance - 3000);
    let transfers = momo.sim.transfers();
    assert_eq!(transfers.len(), 3);
    assert!(transfers.iter().all(|t| t.request.payee.party_id.starts_with("25078")));
    // each step is audited
    let audited: Vec<(String, i64)> = sqlx::query_as(
        "select action, count(*) from audit_logs where entity_type = 'disbursement' group by action order by action",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        audited,
        vec![
            ("disbursement.attempted".into(), 3),
            ("disbursement.completed".into(), 3)
        ]
    );
    // the batch of three is now fully redeemed: completed
    let batch_status: String = sqlx::query_scalar(
        "select b.status from batches b join redemptions r on r.batch_id = b.id join disbursements d on d.redemption_id = r.id where d.id = $1",
    )
    .bind(ids[0])
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(batch_status, "completed");
    // nothing is due any more, and running again pays nobody again
    assert_eq!(w.run_until_idle().await.unwrap(), 0);
    make_due(&app).await;
    assert_eq!(worker(&app, "w2").run_until_idle().await.unwrap(), 0);
    assert_eq!(momo.sim.transfers().len(), 3);
    books_agree(&app, &momo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pending_transfers_are_polled_until_they_settle() {
    let db = TestDb::new().await;
    let mut config = instant();
    config.settle_after = Duration::from_millis(1500);
    let momo = start_momo(config).await;
    let (app, key) = ready(&db, &momo, json!({})).await;
    redeem(&app, &key, 2, "poll").await;
    let w = worker(&app, "w1");
    w.run_until_idle().await.unwrap();
    assert_eq!(
        statuses(&app).await,
        vec![("processing".to_owned(), 2)],
        "PENDING waits"
    );
    let pending: i64 =
        sqlx::query_scalar("select count(*) from disbursement_attempts where status = 'pending' and polls = 1")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(pending, 2);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while statuses(&app).await != vec![("completed".to_owned(), 2)] {
        let rows: Vec<PollRow> = sqlx::query_as(
            "select d.status, d.lease_owner, a.status, a.polls, d.next_attempt_at from disbursements d \
             left join disbursement_attempts a on a.reference_id = d.momo_reference",
        )
        .fetch_all(&app.pool)
        .await
        .unwrap();
        assert!(
            tokio::time::Instant::now() < deadline,
            "{rows:?} {:?}",
            momo.sim.transfers()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        w.run_until_idle().await.unwrap();
    }
    // one reference each, polled more than once, never re-posted
    assert_eq!(momo.sim.transfers().len(), 2);
    let polls: i64 = sqlx::query_scalar("select min(polls)::int8 from disbursement_attempts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(polls >= 2, "{polls}");
    books_agree(&app, &momo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_number_without_an_active_wallet_ends_in_payee_invalid_without_a_transfer() {
    let db = TestDb::new().await;
    let mut config = instant();
    config.inactive = vec!["25078*".into()];
    let momo = start_momo(config).await;
    let (app, key) = ready(&db, &momo, json!({})).await;
    let ids = redeem(&app, &key, 1, "dead").await;
    worker(&app, "w1").run_until_idle().await.unwrap();
    let (status, attempts, code): (String, i32, Option<String>) =
        sqlx::query_as("select status, attempts, error_code from disbursements where id = $1")
            .bind(ids[0])
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("payee_invalid", 0), "{code:?}");
    assert!(momo.sim.transfers().is_empty(), "no money was sent");
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_logs where action = 'disbursement.payee_invalid'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 1);
    // the payout is not retried by itself
    make_due(&app).await;
    assert_eq!(worker(&app, "w2").run_until_idle().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_transfers_retry_with_new_references_then_fail_for_good_with_an_alert() {
    let db = TestDb::new().await;
    let momo = start_momo(instant()).await;
    let (app, key) = ready(&db, &momo, json!({"maxRetryAttempts": 2})).await;
    let ids = redeem(&app, &key, 1, "fail").await;
    // the sandbox number whose transfers fail with INTERNAL_PROCESSING_ERROR (A12)
    sqlx::query("update disbursements set msisdn = '46733123462', payee_checked_at = now() where id = $1")
        .bind(ids[0])
        .execute(&app.pool)
        .await
        .unwrap();
    let w = worker(&app, "w1");
    let mut seen = Vec::new();
    for _ in 0..3 {
        w.run_until_idle().await.unwrap();
        let (status, next_in): (String, f64) = sqlx::query_as(
            "select status, extract(epoch from next_attempt_at - now())::float8 from disbursements where id = $1",
        )
        .bind(ids[0])
        .fetch_one(&app.pool)
        .await
        .unwrap();
        seen.push((status, (next_in / 60.0).round() as i64));
        make_due(&app).await;
    }
    // the settings' backoff: 1 minute, then 5; then the budget (1 + 2 retries) is spent
    assert_eq!(
        seen,
        vec![
            ("retry_scheduled".to_owned(), 1),
            ("retry_scheduled".to_owned(), 5),
            ("failed".to_owned(), 0)
        ]
    );
    let transfers = momo.sim.transfers();
    assert_eq!(transfers.len(), 3, "one reference per attempt");
    assert!(transfers.iter().all(|t| t.status == momo::Status::Failed));
    let (redemption, code, alerts): (String, String, i64) = sqlx::query_as(
        "select r.status, c.status, (select count(*) from alerts where kind = 'payout.failed' and status <> 'resolved') \
         from disbursements d join redemptions r on r.id = d.redemption_id join promo_codes c on c.id = r.promo_code_id \
         where d.id = $1",
    )
    .bind(ids[0])
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((redemption.as_str(), code.as_str(), alerts), ("failed", "used", 1));
    let reasons: Vec<String> = sqlx::query_scalar("select momo_reason from disbursement_attempts order by attempt_no")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(reasons, vec!["INTERNAL_PROCESSING_ERROR"; 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payouts_the_balance_cannot_cover_are_held_then_paid_after_a_top_up() {
    let db = TestDb::new().await;
    let mut config = instant();
    config.starting_balance = 1_500;
    let momo = start_momo(config).await;
    let (app, key) = ready(&db, &momo, json!({"lowBalanceThreshold": 2000})).await;
    redeem(&app, &key, 3, "hold").await;
    worker(&app, "w1").run_until_idle().await.unwrap();
    assert_eq!(
        statuses(&app).await,
        vec![("completed".to_owned(), 1), ("queued".to_owned(), 2)],
        "what the balance cannot cover stays queued"
    );
    let held: Vec<(Option<String>, i32)> =
        sqlx::query_as("select held_reason, attempts from disbursements where status = 'queued'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(held, vec![(Some("low_balance".into()), 0); 2]);
    let kinds: Vec<String> = sqlx::query_scalar("select kind from alerts order by kind")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(kinds, vec!["momo.low_balance", "payout.held"]);
    momo.sim.top_up(100_000).unwrap();
    make_due(&app).await;
    worker(&app, "w2").run_until_idle().await.unwrap();
    assert_eq!(statuses(&app).await, vec![("completed".to_owned(), 3)]);
    books_agree(&app, &momo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn not_enough_funds_at_momo_holds_without_spending_a_retry() {
    let db = TestDb::new().await;
    let momo = start_momo(instant()).await;
    let (app, key) = ready(&db, &momo, json!({})).await;
    let ids = redeem(&app, &key, 1, "funds").await;
    sqlx::query("update disbursements set msisdn = '46733123455', payee_checked_at = now() where id = $1")
        .bind(ids[0])
        .execute(&app.pool)
        .await
        .unwrap();
    worker(&app, "w1").run_until_idle().await.unwrap();
    let (status, held, attempts): (String, Option<String>, i32) =
        sqlx::query_as("select status, held_reason, attempts from disbursements where id = $1")
            .bind(ids[0])
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), held.as_deref(), attempts),
        ("queued", Some("insufficient_funds"), 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transfer_that_timed_out_after_landing_is_found_by_its_reference_not_paid_again() {
    let db = TestDb::new().await;
    let momo = start_momo(instant()).await;
    let (app, key) = ready(&db, &momo, json!({"requestTimeoutSeconds": 1})).await;
    redeem(&app, &key, 2, "hang").await;
    momo.sim.set_faults(Faults {
        timeout_after_create_rate: 1.0,
        hang_ms: 3_000,
        ..Faults::default()
    });
    worker(&app, "w1").run_until_idle().await.unwrap();
    assert_eq!(statuses(&app).await, vec![("completed".to_owned(), 2)]);
    assert_eq!(momo.sim.transfers().len(), 2, "resolved by status query, never re-sent");
    let ambiguous: i64 = sqlx::query_scalar("select count(*) from audit_logs where action = 'disbursement.attempted'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(ambiguous, 2, "one attempt each");
    books_agree(&app, &momo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callbacks_wake_a_status_query_and_are_never_trusted() {
    let db = TestDb::new().await;
    let mut config = instant();
    config.settle_after = Duration::from_millis(800);
    config.callbacks = simulators::momo::CallbackMode::Once;
    config.duplicate_callbacks = true;
    let momo = start_momo(config).await;
    let (app, key) = ready(&db, &momo, json!({})).await;
    app.set_settings(Category::Payments, json!({"callbackBaseUrl": app.base}))
        .await;
    let ids = redeem(&app, &key, 1, "cb").await;
    let w = worker(&app, "w1");
    w.run_until_idle().await.unwrap();
    assert_eq!(statuses(&app).await, vec![("processing".to_owned(), 1)]);
    let (reference, next_poll): (Uuid, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("select momo_reference, next_attempt_at from disbursements where id = $1")
            .bind(ids[0])
            .fetch_one(&app.pool)
            .await
            .unwrap();
    // a forged callback (right reference, wrong secret) is refused and changes nothing
    let forged = app
        .client
        .put(app.url(&format!(
            "/api/v1/webhooks/momo/disbursements/{reference}.not-the-secret"
        )))
        .json(&json!({"status": "SUCCESSFUL", "financialTransactionId": "999"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    // MoMo's own callback (twice) arrives once the transfer settles, and makes the payout due now
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let count: i32 = sqlx::query_scalar("select callback_count from disbursement_attempts where reference_id = $1")
            .bind(reference)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        if count >= 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no callback arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (due, knocked): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "select d.next_attempt_at, a.last_callback_at from disbursements d \
         join disbursement_attempts a on a.reference_id = d.momo_reference where d.id = $1",
    )
    .bind(ids[0])
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        due, knocked,
        "the callback made the status query due at once (the poll was due at {next_poll})"
    );
    w.run_until_idle().await.unwrap();
    assert_eq!(statuses(&app).await, vec![("completed".to_owned(), 1)]);
    let attempts = momo.sim.callback_attempts();
    assert!(attempts.len() >= 2);
    // a late callback after completion is counted and changes nothing
    let cb_url = momo.sim.transfers()[0].callback_url.clone().unwrap();
    let late = app
        .client
        .post(&cb_url)
        .json(&json!({"status": "FAILED"}))
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 200);
    assert_eq!(statuses(&app).await, vec![("completed".to_owned(), 1)]);
    books_agree(&app, &momo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_errors_and_rate_limits_never_pay_twice() {
    let db = TestDb::new().await;
    let momo = start_momo(instant()).await;
    let (app, key) = ready(&db, &momo, json!({"circuitBreakerFailures": 100})).await;
    redeem(&app, &key, 20, "flaky").await;
    momo.sim.set_faults(Faults {
        error_500_rate: 0.2,
        error_503_rate: 0.2,
        rate_429: 0.2,
        ..Faults::default()
    });
    let w = worker(&app, "w1");
    for _ in 0..60 {
        w.run_until_idle().await.unwrap();
        if statuses(&app).await == vec![("completed".to_owned(), 20)] {
            break;
        }
        make_due(&app).await;
    }
    assert_eq!(statuses(&app).await, vec![("completed".to_owned(), 20)]);
    books_agree(&app, &momo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_daily_payout_limit_holds_what_exceeds_it() {
    let db = TestDb::new().await;
    let momo = start_momo(instant()).await;
    let limits = json!({"perUserDailyLimit": 1000, "dailyTransactionLimit": 2500});
    let (app, key) = ready(&db, &momo, limits).await;
    redeem(&app, &key, 3, "limit").await;
    worker(&app, "w1").run_until_idle().await.unwrap();
    assert_eq!(
        statuses(&app).await,
        vec![("completed".to_owned(), 2), ("queued".to_owned(), 1)]
    );
    let held: Option<String> = sqlx::query_scalar("select held_reason from disbursements where status = 'queued'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(held.as_deref(), Some("daily_limit"));
    assert_eq!(momo.sim.transfers().len(), 2);
}
