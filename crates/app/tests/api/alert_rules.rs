//! The built-in alert rules (issue #22, part 2): each raises one open alert per subject and counts
//! repeats on it; the evaluator runs at times the test gives it (the injectable clock's reading).

use chrono::{DateTime, Duration, DurationRound, Utc};
use mbelyco::alerts::rules::evaluate::evaluate;
use mbelyco::settings::Category;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{now, password_step, spawn_app, TestApp, TestDb};

/// The open alerts of `kind`: (dedupe key, occurrences, audience).
async fn open(app: &TestApp, kind: &str) -> Vec<(String, i32, String)> {
    sqlx::query_as(
        "select dedupe_key, occurrences, audience from alerts where kind = $1 and status <> 'resolved' order by dedupe_key",
    )
    .bind(kind)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn run(app: &TestApp, at: DateTime<Utc>) {
    let settings = app.state.settings.get();
    evaluate(&app.pool, &settings.0, at).await.unwrap();
}

fn hour(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::hours(1)).unwrap()
}

/// Payout rollup rows of this hour, as the triggers write them.
async fn payouts(app: &TestApp, at: DateTime<Utc>, state: &str, n: i64) {
    sqlx::query("insert into stats_hourly (hour, fact, state, n, amount) values ($1, 'payout', $2, $3, $3 * 1000)")
        .bind(hour(at))
        .bind(state)
        .bind(n)
        .execute(&app.pool)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failure_rate_raises_once_counts_repeats_and_follows_its_setting() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let t = now();
    // 2 failed of 12: 16 % > the default 10 %
    payouts(&app, t, "completed", 10).await;
    payouts(&app, t, "failed", 2).await;
    run(&app, t).await;
    run(&app, t + Duration::minutes(1)).await;
    let alerts = open(&app, "financial.failure_rate").await;
    assert_eq!(
        alerts,
        vec![("financial.failure_rate".into(), 2, "financial.alerts.view".into())]
    );

    // above the threshold: quiet
    app.set_settings(
        Category::Notifications,
        json!({"highFailureRateAlert": {"enabled": true, "threshold": 20}}),
    )
    .await;
    run(&app, t + Duration::minutes(2)).await;
    assert_eq!(open(&app, "financial.failure_rate").await[0].1, 2);
    // switched off: quiet even above the threshold
    app.set_settings(
        Category::Notifications,
        json!({"highFailureRateAlert": {"enabled": false, "threshold": 5}}),
    )
    .await;
    run(&app, t + Duration::minutes(3)).await;
    assert_eq!(open(&app, "financial.failure_rate").await[0].1, 2);
    app.set_settings(
        Category::Notifications,
        json!({"highFailureRateAlert": {"enabled": true, "threshold": 5}}),
    )
    .await;
    run(&app, t + Duration::minutes(4)).await;
    assert_eq!(open(&app, "financial.failure_rate").await[0].1, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_few_payouts_are_not_a_failure_rate() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let t = now();
    payouts(&app, t, "completed", 1).await;
    payouts(&app, t, "failed", 3).await;
    run(&app, t).await;
    assert!(open(&app, "financial.failure_rate").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_heartbeat_raises_after_the_system_down_threshold() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let t = now();
    sqlx::query(
        "insert into worker_heartbeats (worker_id, hostname, pid, started_at, beat_at) values \
         ('w-gone', 'host-a', 1, $1, $2), ('w-alive', 'host-a', 2, $1, $1)",
    )
    .bind(t)
    .bind(t - Duration::minutes(3))
    .execute(&app.pool)
    .await
    .unwrap();
    // down for 3 minutes, the threshold 5: not yet
    app.set_settings(
        Category::Notifications,
        json!({"systemDownAlert": {"enabled": true, "threshold": 5}}),
    )
    .await;
    run(&app, t).await;
    assert!(open(&app, "system.worker_down").await.is_empty());
    // three minutes later it has been down for 6
    run(&app, t + Duration::minutes(3)).await;
    run(&app, t + Duration::minutes(4)).await;
    assert_eq!(
        open(&app, "system.worker_down").await,
        vec![("system.worker_down:w-gone".into(), 2, "system.alerts.view".into())]
    );
    // switched off: no alert for another stale worker
    app.set_settings(Category::Notifications, json!({"systemDownAlert": {"enabled": false}}))
        .await;
    sqlx::query("update worker_heartbeats set beat_at = $1 where worker_id = 'w-alive'")
        .bind(t - Duration::hours(1))
        .execute(&app.pool)
        .await
        .unwrap();
    run(&app, t + Duration::minutes(5)).await;
    assert_eq!(open(&app, "system.worker_down").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_waiting_for_approval_too_long_raises_one_alert() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    app.set_settings(
        Category::Payments,
        json!({"manualApprovalRequired": true, "approvalThreshold": 500}),
    )
    .await;
    let root = app.api_key("Super Administrator").await;
    let batch = app.generated_batch(&root, "Waiting", 2, "w-wait").await;
    for (i, code) in app.batch_codes(&batch).await.into_iter().enumerate() {
        app.hop(
            &format!("ATUid_wait{i}"),
            &format!("+25078800010{i}"),
            &format!("1*{code}"),
        )
        .await;
    }
    let t = now();
    run(&app, t + Duration::minutes(30)).await;
    assert!(
        open(&app, "financial.approval_waiting").await.is_empty(),
        "not long yet"
    );
    run(&app, t + Duration::minutes(61)).await;
    run(&app, t + Duration::minutes(62)).await;
    let alerts = open(&app, "financial.approval_waiting").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].1, 2);
    let title: String = sqlx::query_scalar("select title from alerts where kind = 'financial.approval_waiting'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(title.starts_with("2 payouts wait for approval"), "{title}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_jobs_and_failing_sms_raise_once_each_counting_jobs() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let t = now();
    for kind in ["sms.send", "sms.send", "reports.export"] {
        sqlx::query(
            "insert into jobs (kind, status, attempts, max_attempts, run_at, created_at, updated_at, last_error) \
             values ($1, 'dead', 5, 5, $2, $2, $2, 'refused')",
        )
        .bind(kind)
        .bind(t)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    run(&app, t + Duration::seconds(30)).await;
    run(&app, t + Duration::seconds(90)).await;
    assert_eq!(open(&app, "system.sms_failing").await[0].1, 2);
    assert_eq!(
        open(&app, "system.dead_jobs").await[0].1,
        1,
        "each dead job counted once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_super_administrators_role_changes_and_api_keys_raise_security_alerts() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let super_role: Uuid = sqlx::query_scalar("select id from roles where name = 'Super Administrator'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let res = app
        .post_json(
            &admin,
            "/api/v1/admin/users",
            &json!({"email": "second@mbelyco.test", "fullName": "Second"}),
        )
        .await;
    let body: serde_json::Value = res.json().await.unwrap();
    let second = body["id"].as_str().unwrap().to_owned();
    // the sole Super Administrator gives the role directly
    let res = app
        .post_json(
            &admin,
            &format!("/api/v1/admin/users/{second}/roles"),
            &json!({"roleId": super_role}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let t = now();
    run(&app, t + Duration::minutes(1)).await;
    let supers = open(&app, "security.new_super_admin").await;
    assert!(
        supers
            .iter()
            .any(|(k, n, a)| k == &format!("security.new_super_admin:{second}")
                && *n == 1
                && a == "security.alerts.view"),
        "{supers:?}"
    );
    let keys = open(&app, "security.api_key_created").await;
    assert_eq!(keys.len(), 1, "the test's own key: {keys:?}");
    // read once: the next run starts where the last one stopped
    run(&app, t + Duration::minutes(2)).await;
    assert_eq!(open(&app, "security.api_key_created").await[0].1, 1);
    // a key made after that (on the test's clock) is the next run's
    let mut tx = app.pool.begin().await.unwrap();
    let owner: Uuid = sqlx::query_scalar("select id from users where email = $1")
        .bind(crate::helpers::ADMIN_EMAIL)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let viewer = mbelyco::access::role_id(&mut tx, "Viewer").await.unwrap().unwrap();
    let at = t + Duration::minutes(2);
    mbelyco::identity::api_keys::create(
        &mut tx,
        owner,
        "later",
        viewer,
        at + Duration::days(30),
        &mbelyco::unit::Acting::system(at),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    run(&app, t + Duration::minutes(3)).await;
    assert_eq!(open(&app, "security.api_key_created").await.len(), 2);
}

/// `n` wrong codes from `phone` through the real USSD endpoint, each in its own session.
async fn wrong_codes(app: &TestApp, phone: &str, n: usize) {
    for i in 0..n {
        let body = app
            .hop(&format!("ATUid_wrong{phone}{i}"), phone, "1*ABCD-EFGH-JKLM-NPQR")
            .await;
        assert!(body.starts_with("END"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_code_bursts_make_one_alert_per_phone_counting_each_code() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    app.set_settings(
        Category::Ussd,
        json!({"maxAttemptsPerMinute": 100, "maxAttemptsPerHour": 500, "maxAttemptsPerDay": 1000}),
    )
    .await;
    // the threshold is 5 wrong codes a day: 12 from each phone → 8 counted on one alert each
    for phone in ["+250788000201", "+250788000202"] {
        wrong_codes(&app, phone, 12).await;
    }
    wrong_codes(&app, "+250788000203", 4).await;
    let alerts = open(&app, "fraud.wrong_code_burst").await;
    assert_eq!(
        alerts,
        vec![
            (
                "fraud.wrong_code_burst:+250788000201".into(),
                8,
                "fraud.alerts.view".into()
            ),
            (
                "fraud.wrong_code_burst:+250788000202".into(),
                8,
                "fraud.alerts.view".into()
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_wrong_codes_from_one_phone_are_one_alert() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let t = now();
    let mut tx = app.pool.begin().await.unwrap();
    for i in 0..10_000 {
        mbelyco::alerts::rules::fraud::wrong_code_burst(&mut tx, "+250788000300", 5 + i, t)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(
        open(&app, "fraud.wrong_code_burst").await,
        vec![(
            "fraud.wrong_code_burst:+250788000300".into(),
            10_000,
            "fraud.alerts.view".into()
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_code_tried_from_many_phones_raises_once() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let root = app.api_key("Super Administrator").await;
    let batch = app.generated_batch(&root, "Shared code", 1, "w-shared").await;
    let code = app.batch_codes(&batch).await.remove(0);
    let first = app.hop("ATUid_shared0", "+250788000400", &format!("1*{code}")).await;
    assert!(first.starts_with("END Murakoze"), "{first}");
    for i in 1..=2 {
        app.hop(
            &format!("ATUid_shared{i}"),
            &format!("+25078800040{i}"),
            &format!("1*{code}"),
        )
        .await;
    }
    assert!(
        open(&app, "fraud.code_many_phones").await.is_empty(),
        "two other phones: not yet"
    );
    for i in 3..=4 {
        app.hop(
            &format!("ATUid_shared{i}"),
            &format!("+25078800040{i}"),
            &format!("1*{code}"),
        )
        .await;
    }
    let alerts = open(&app, "fraud.code_many_phones").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].1, 2, "the third phone raised it, the fourth counted");
    assert_eq!(alerts[0].2, "fraud.alerts.view");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_sign_ins_raise_one_security_alert_while_real_time_alerts_are_on() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.set_settings(
        Category::Security,
        json!({"rateLimiting": {"loginAttemptsPerMinute": 2}}),
    )
    .await;
    let browser = app.browser();
    for i in 0..4 {
        password_step(&browser, &app, &format!("u{i}@mbelyco.test"), "wrong wrong wrong").await;
    }
    let alerts = open(&app, "security.throttle").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!((alerts[0].1, alerts[0].2.as_str()), (1, "security.alerts.view"));
    assert!(alerts[0].0.starts_with("security.throttle:"), "{alerts:?}");

    // off: the next throttled window raises nothing
    sqlx::query("delete from alert_events")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("delete from alerts").execute(&app.pool).await.unwrap();
    sqlx::query("delete from rate_limits").execute(&app.pool).await.unwrap();
    app.set_settings(Category::Security, json!({"audit": {"realTimeAlerts": false}}))
        .await;
    for i in 0..4 {
        password_step(&browser, &app, &format!("v{i}@mbelyco.test"), "wrong wrong wrong").await;
    }
    assert!(open(&app, "security.throttle").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_from_an_address_new_for_the_person_raises_an_alert() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let t = now();
    let mut conn = app.pool.acquire().await.unwrap();
    let user: Uuid = sqlx::query_scalar("select id from users where email = $1")
        .bind(crate::helpers::ADMIN_EMAIL)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let session = |ip: &str| {
        sqlx::query_scalar::<_, Uuid>(
            "insert into sessions (user_id, token_hash, stage, csrf_token, ip, created_at, updated_at, last_seen_at, expires_at) \
             values ($1, decode(md5(random()::text), 'hex'), 'full', 'x', $2::inet, now(), now(), now(), now() + interval '1 hour') \
             returning id",
        )
        .bind(user)
        .bind(ip.to_owned())
    };
    let at = |s: &str| Some(s.parse::<std::net::IpAddr>().unwrap());
    use mbelyco::alerts::rules::security::sign_in_address;
    let first = session("198.51.100.1").fetch_one(&mut *conn).await.unwrap();
    assert!(
        !sign_in_address(&mut conn, user, first, at("198.51.100.1"), t)
            .await
            .unwrap(),
        "a first sign-in ever"
    );
    let again = session("198.51.100.1").fetch_one(&mut *conn).await.unwrap();
    assert!(
        !sign_in_address(&mut conn, user, again, at("198.51.100.1"), t)
            .await
            .unwrap(),
        "seen before"
    );
    let elsewhere = session("198.51.100.2").fetch_one(&mut *conn).await.unwrap();
    assert!(
        sign_in_address(&mut conn, user, elsewhere, at("198.51.100.2"), t)
            .await
            .unwrap(),
        "new"
    );
    assert_eq!(open(&app, "security.new_address").await.len(), 1);
}
