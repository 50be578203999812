//! Maintenance (issue #23 item 5): switched on by hand or by the weekly window, USSD dials end
//! at once in both languages, the admin API's and panel's changes wait (503 + Retry-After) while
//! reads and the backup settings do not, the payout worker starts no transfer but resolves those
//! in flight, and the window's `maintenance.run` job does its tasks, records them and e-mails.

use std::sync::Arc;
use std::time::Duration;

use mbelyco::clock::ManualClock;
use mbelyco::settings::Category;
use serde_json::{json, Value};

use crate::helpers::{now, spawn_app, spawn_app_with_clock, TestApp, TestDb};
use crate::payouts::{instant, make_due, ready, redeem, start_momo, worker};

const EN: &str = "MBELYCO Promo is under maintenance. Please dial again later.";
const RW: &str = "MBELYCO Promo iri kuvugururwa.";

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

async fn switch(app: &TestApp, on: bool) {
    app.set_settings(Category::Backup, json!({"maintenanceMode": on})).await;
}

#[tokio::test]
async fn switched_on_ussd_dials_end_in_both_languages_and_nothing_is_kept() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let key = app.api_key("Super Administrator").await;
    let batch = app.generated_batch(&key, "Maintenance USSD", 1, "w-ussd").await;
    let code = app.batch_codes(&batch).await.remove(0);
    switch(&app, true).await;
    for text in ["", "1", &format!("1*{code}")] {
        let answer = app.hop("ATUid_m1", "+250788111222", text).await;
        assert!(answer.starts_with("END "), "{answer}");
        assert!(answer.contains(EN) && answer.contains(RW), "{answer}");
    }
    assert_eq!(count(&app, "select count(*) from ussd_sessions").await, 0);
    assert_eq!(count(&app, "select count(*) from ussd_interactions").await, 0);
    assert_eq!(count(&app, "select count(*) from redemptions").await, 0);
    assert_eq!(count(&app, "select count(*) from customers").await, 0);
    let status: String = sqlx::query_scalar("select status from promo_codes where code = $1")
        .bind(&code)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "active");
    // off again: the menu answers
    switch(&app, false).await;
    let answer = app.hop("ATUid_m2", "+250788111222", "").await;
    assert!(answer.starts_with("CON "), "{answer}");
}

#[tokio::test]
async fn switched_on_admin_changes_get_503_reads_work_and_the_backup_settings_switch_it_off() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let res = app
        .put_json(
            &key,
            "/api/v1/admin/settings/backup",
            &json!({"settings": {"maintenanceMode": true}, "reason": "upgrade"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // a change through the API: 503, Retry-After, problem+json, nothing created
    let res = app
        .post_json(
            &key,
            "/api/v1/admin/batches",
            &json!({"name": "During maintenance", "totalCodes": 1, "amountPerCode": 1000, "expiresAt": "2027-06-30"}),
        )
        .await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "300");
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/problem+json"));
    let body: Value = res.json().await.unwrap();
    assert!(body["type"].as_str().unwrap().ends_with("maintenance"), "{body}");
    assert!(body["detail"].as_str().unwrap().contains("maintenance"), "{body}");
    assert_eq!(count(&app, "select count(*) from batches").await, 0);
    // another category's settings wait too
    let res = app
        .put_json(
            &key,
            "/api/v1/admin/settings/ussd",
            &json!({"settings": {"welcomeMessage": {"en": "Hi", "rw": "Muraho"}}, "reason": "x"}),
        )
        .await;
    assert_eq!(res.status(), 503);
    // a panel form: the HTML page says so, with Retry-After
    let res = app
        .client
        .post(app.url("/admin/batches"))
        .bearer_auth(&key)
        .header("accept", "text/html")
        .form(&[("name", "Form batch")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "300");
    assert!(res.text().await.unwrap().contains("maintenance"));
    // reads work, and every page of the shell shows the banner
    assert_eq!(app.get_as(&key, "/api/v1/admin/batches").await.status(), 200);
    let res = app.get_as(&key, "/admin/batches").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"id="maintenance-banner""#), "{html}");
    assert!(html.contains("switched on by an administrator"));
    // the backup settings switch it off; then changes go through and the banner is gone
    let res = app
        .put_json(
            &key,
            "/api/v1/admin/settings/backup",
            &json!({"settings": {"maintenanceMode": false}, "reason": "done"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = app
        .post_json(
            &key,
            "/api/v1/admin/batches",
            &json!({"name": "After maintenance", "totalCodes": 1, "amountPerCode": 1000, "expiresAt": "2027-06-30"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let html = app.get_as(&key, "/admin/batches").await.text().await.unwrap();
    assert!(!html.contains(r#"id="maintenance-banner""#));
}

#[tokio::test]
async fn the_weekly_window_comes_from_the_clock() {
    let db = TestDb::new().await;
    // Sunday 2026-12-13 02:20 in Kigali (00:20 UTC), inside a window from 02:00 for 60 minutes
    let inside = chrono::DateTime::parse_from_rfc3339("2026-12-13T00:20:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = Arc::new(ManualClock::new(inside - chrono::Duration::hours(1)));
    let app = spawn_app_with_clock(db.pool.clone(), clock.clone()).await;
    app.open_ussd().await;
    app.set_settings(
        Category::Backup,
        json!({"maintenanceEnabled": true, "maintenanceDay": "sunday", "maintenanceTime": "02:00",
               "maintenanceDurationMinutes": 60}),
    )
    .await;
    let key = app.api_key("Super Administrator").await;
    let batch = json!({"name": "Window", "totalCodes": 1, "amountPerCode": 1000, "expiresAt": "2027-06-30"});
    // an hour before: open
    assert!(app.hop("ATUid_w0", "+250788333444", "").await.starts_with("CON "));
    // inside: closed until 03:00 Kigali, 40 minutes on
    clock.set(inside);
    let answer = app.hop("ATUid_w1", "+250788333444", "").await;
    assert!(answer.starts_with("END ") && answer.contains(EN), "{answer}");
    let res = app.post_json(&key, "/api/v1/admin/batches", &batch).await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "2400");
    let html = app.get_as(&key, "/admin/batches").await.text().await.unwrap();
    assert!(
        html.contains("the weekly maintenance window") && html.contains("2026-12-13 03:00"),
        "{html}"
    );
    // at 03:00 Kigali it is over
    clock.set(inside + chrono::Duration::minutes(40));
    assert!(app.hop("ATUid_w2", "+250788333444", "").await.starts_with("CON "));
    assert_eq!(app.post_json(&key, "/api/v1/admin/batches", &batch).await.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_worker_starts_no_transfer_in_maintenance_but_resolves_those_in_flight() {
    let db = TestDb::new().await;
    let mut config = instant();
    config.settle_after = Duration::from_millis(1500);
    let momo = start_momo(config).await;
    let (app, key) = ready(&db, &momo, json!({})).await;
    // one payout in flight (MoMo says PENDING for a while), one queued
    let in_flight = redeem(&app, &key, 1, "first").await.remove(0);
    let w = worker(&app, "w1");
    w.run_until_idle().await.unwrap();
    let queued = redeem(&app, &key, 1, "second").await.remove(0);
    let status = |id: uuid::Uuid| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("select status from disbursements where id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(status(in_flight).await, "processing");
    assert_eq!(status(queued).await, "queued");
    assert_eq!(momo.sim.transfers().len(), 1);
    switch(&app, true).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while status(in_flight).await != "completed" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the payout in flight was not resolved"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        make_due(&app).await;
        w.run_until_idle().await.unwrap();
    }
    // resolved; the queued one was not touched and MoMo saw no new transfer
    assert_eq!(status(queued).await, "queued");
    assert_eq!(momo.sim.transfers().len(), 1);
    let attempts: i64 = sqlx::query_scalar("select count(*) from disbursement_attempts where disbursement_id = $1")
        .bind(queued)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(attempts, 0);
    // off: it is paid
    switch(&app, false).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while status(queued).await != "completed" {
        assert!(tokio::time::Instant::now() < deadline, "the queued payout was not paid");
        make_due(&app).await;
        w.run_until_idle().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(momo.sim.transfers().len(), 2);
    crate::payouts::books_agree(&app, &momo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_runs_its_tasks_records_them_and_mails_before_and_after() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (port, sink) = crate::users::smtp_sink().await;
    app.set_settings(
        Category::Notifications,
        json!({"emailEnabled": true, "smtpHost": "127.0.0.1", "smtpPort": port, "smtpSecurity": "none",
               "fromEmail": "promo@mbelyco.test"}),
    )
    .await;
    app.set_settings(Category::Analytics, json!({"rawDataDays": 30})).await;
    // the window opens in 20 minutes (Kigali time), whatever the day the test runs
    let start = now() + chrono::Duration::minutes(20);
    let local = start.with_timezone(&mbelyco::clock::kigali());
    let day = local.format("%A").to_string().to_lowercase();
    let time = local.format("%H:%M").to_string();
    app.set_settings(
        Category::Backup,
        json!({"maintenanceEnabled": true, "maintenanceDay": day, "maintenanceTime": time,
               "maintenanceDurationMinutes": 30,
               "maintenanceNotify": {"before": true, "after": true, "onFailure": true,
                                     "recipients": ["ops@mbelyco.test"]}}),
    )
    .await;
    let old = now() - chrono::Duration::days(31);
    let fresh = now() - chrono::Duration::days(29);
    for (session, at) in [("old-1", old), ("old-2", old), ("new-1", fresh)] {
        sqlx::query(
            "insert into ussd_interactions (session_id, phone_number, service_code, input, response, outcome, \
             latency_ms, created_at) values ($1, '+250788000001', '*789#', '', 'END x', 'menu', 5, $2)",
        )
        .bind(session)
        .bind(at)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let backup = app.state.settings.get().0.backup.clone();
    let mut conn = app.pool.acquire().await.unwrap();
    // 40 minutes before: nothing yet; 20 minutes before: the "before" e-mail, once
    let due = mbelyco::maintenance::schedule::due(&mut conn, &backup, now() - chrono::Duration::minutes(20))
        .await
        .unwrap();
    assert!(due.is_empty(), "{due:?}");
    let due = mbelyco::maintenance::schedule::due(&mut conn, &backup, now())
        .await
        .unwrap();
    assert_eq!(due, vec!["maintenance.notify_before"]);
    assert!(mbelyco::maintenance::schedule::due(&mut conn, &backup, now())
        .await
        .unwrap()
        .is_empty());
    app.worker("w-before").drain().await.unwrap();
    let mail = tokio::time::timeout(Duration::from_secs(10), sink)
        .await
        .unwrap()
        .unwrap();
    assert!(
        mail.contains("ops@mbelyco.test") && mail.contains("goes into maintenance"),
        "{mail}"
    );

    // inside the window: the run, once
    let (port, sink) = crate::users::smtp_sink().await;
    app.set_settings(Category::Notifications, json!({"smtpPort": port}))
        .await;
    let inside = start + chrono::Duration::minutes(5);
    let due = mbelyco::maintenance::schedule::due(&mut conn, &backup, inside)
        .await
        .unwrap();
    assert_eq!(due, vec!["maintenance.run"]);
    assert!(
        mbelyco::maintenance::schedule::due(&mut conn, &backup, inside + chrono::Duration::minutes(1))
            .await
            .unwrap()
            .is_empty()
    );
    drop(conn);
    // the job is due at `inside`, 25 minutes from now: time passes
    sqlx::query("update jobs set run_at = now() where kind = 'maintenance.run'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.worker("w-run").drain().await.unwrap();
    let left: Vec<String> = sqlx::query_scalar("select session_id from ussd_interactions order by 1")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, vec!["new-1"]);
    let (status, tasks, finished): (String, Value, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("select status, tasks, finished_at from maintenance_runs")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(status, "succeeded", "{tasks}");
    assert!(finished.is_some());
    let names: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["outcome"], "succeeded", "{t}");
            t["task"].as_str().unwrap()
        })
        .collect();
    assert_eq!(names, vec!["cleanup_logs", "optimize_database", "update_statistics"]);
    assert!(
        tasks[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("2 interaction log rows"),
        "{tasks}"
    );
    let audited: Vec<String> =
        sqlx::query_scalar("select action from audit_logs where action like 'maintenance.%' order by seq")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, vec!["maintenance.started", "maintenance.finished"]);
    let mail = tokio::time::timeout(Duration::from_secs(10), sink)
        .await
        .unwrap()
        .unwrap();
    assert!(mail.contains("done") && mail.contains("cleanup_logs: done"), "{mail}");
    // the status page lists the run
    let html = app
        .client
        .get(app.url("/status"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"id="maintenance-runs""#) && html.contains("optimize_database succeeded"),
        "{html}"
    );
}
