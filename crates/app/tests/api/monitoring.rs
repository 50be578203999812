//! Monitoring (issue #23 item 6): the `monitor.check` job reads the health checks under the
//! backup settings' limits, stores them, raises and resolves system alerts, and the readings
//! reach the status page, the health report and `/api/metrics`.

use mbelyco::jobs::NewJob;
use mbelyco::settings::Category;
use serde_json::json;

use crate::helpers::*;

/// Runs the checks once, as the scheduler would.
async fn run_checks(app: &TestApp) {
    let mut conn = app.pool.acquire().await.unwrap();
    let job = NewJob {
        kind: mbelyco::monitor::job::KIND,
        payload: json!({}),
        run_at: None,
        priority: 0,
        max_attempts: 1,
        unique_key: None,
        created_by: None,
    };
    mbelyco::jobs::enqueue(&mut conn, &job, now()).await.unwrap();
    app.worker("monitor-test").drain().await.unwrap();
    let dead: i64 =
        sqlx::query_scalar("select count(*) from jobs where kind = 'monitor.check' and status <> 'succeeded'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(dead, 0, "the checks ran");
}

async fn check(app: &TestApp, name: &str) -> (String, Option<f64>, Option<f64>) {
    sqlx::query_as("select status, value, limit_value from monitor_checks where check_name = $1")
        .bind(name)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// The status of the alert of `kind` (the latest), if any.
async fn alert(app: &TestApp, kind: &str) -> Option<(String, String, i32)> {
    sqlx::query_as("select status, audience, occurrences from alerts where kind = $1 order by created_at desc limit 1")
        .bind(kind)
        .fetch_optional(&app.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_below_the_disk_use_raises_an_alert_and_raising_it_resolves_it() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    run_checks(&app).await;
    let (status, used, limit) = check(&app, "disk").await;
    assert_eq!(
        (status.as_str(), limit),
        ("ok", Some(85.0)),
        "the default limit, {used:?} % used"
    );
    let used = used.unwrap();
    assert!(used > 0.0 && used < 85.0, "{used}");
    assert_eq!(check(&app, "database").await.0, "ok");
    assert_eq!(check(&app, "memory").await.0, "ok");
    assert_eq!(check(&app, "momo").await.0, "off", "MoMo is not configured");
    assert_eq!(check(&app, "africas_talking").await.0, "off", "no AT key");
    assert!(alert(&app, "monitor.disk").await.is_none());

    // the limit set below what is used: breached, one alert for the system-alert readers
    app.set_settings(Category::Backup, json!({"diskSpacePercent": 1})).await;
    run_checks(&app).await;
    assert_eq!(check(&app, "disk").await.0, "breached");
    assert_eq!(
        alert(&app, "monitor.disk").await,
        Some(("open".to_owned(), "system.alerts.view".to_owned(), 1))
    );
    // still past it a minute later: the same alert, seen again
    run_checks(&app).await;
    assert_eq!(
        alert(&app, "monitor.disk").await.unwrap().2,
        2,
        "deduplicated while open"
    );
    let open: i64 = sqlx::query_scalar("select count(*) from alerts where kind = 'monitor.disk'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(open, 1);
    let health: serde_json::Value = app
        .client
        .get(app.url("/api/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "degraded");
    let disk = health["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["checkName"] == "disk")
        .unwrap();
    assert_eq!(disk["status"], "breached");

    // raised back above the use: resolved
    app.set_settings(Category::Backup, json!({"diskSpacePercent": 99}))
        .await;
    run_checks(&app).await;
    assert_eq!(check(&app, "disk").await.0, "ok");
    assert_eq!(alert(&app, "monitor.disk").await.unwrap().0, "resolved");

    // memory the same way
    app.set_settings(Category::Backup, json!({"memoryUsagePercent": 1}))
        .await;
    run_checks(&app).await;
    assert_eq!(check(&app, "memory").await.0, "breached");
    assert_eq!(alert(&app, "monitor.memory").await.unwrap().0, "open");

    // monitoring turned off: every check off, its alerts resolved
    app.set_settings(Category::Backup, json!({"monitoringEnabled": false}))
        .await;
    run_checks(&app).await;
    let off: i64 = sqlx::query_scalar("select count(*) from monitor_checks where status = 'off'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(off, 6);
    assert_eq!(alert(&app, "monitor.memory").await.unwrap().0, "resolved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_sms_api_fails_its_check_and_raises_an_alert() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    // a port nothing listens on
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    app.set_settings(
        Category::Ussd,
        json!({"africasTalkingApiKey": "at-key-0123456789", "africasTalkingBaseUrl": url}),
    )
    .await;
    run_checks(&app).await;
    assert_eq!(check(&app, "africas_talking").await.0, "failed");
    assert_eq!(alert(&app, "monitor.africas_talking").await.unwrap().0, "open");
    // pointed at something that answers (this app): reachable, the alert resolved
    app.set_settings(Category::Ussd, json!({"africasTalkingBaseUrl": app.base}))
        .await;
    run_checks(&app).await;
    assert_eq!(check(&app, "africas_talking").await.0, "ok");
    assert_eq!(alert(&app, "monitor.africas_talking").await.unwrap().0, "resolved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checks_and_the_response_time_p95_are_on_the_metrics_and_the_status_page() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let status = app
        .client
        .get(app.url("/status"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(status.contains("No check has run yet"), "{status}");
    for _ in 0..20 {
        app.client.get(app.url("/api/health")).send().await.unwrap();
    }
    // this web process reports its response times (every 30 s; now, for the test)
    mbelyco::monitor::latency::report_once(&app.pool, "test-web", &app.state.metrics.recent, now())
        .await
        .unwrap();
    app.set_settings(Category::Backup, json!({"diskSpacePercent": 1})).await;
    run_checks(&app).await;
    let (status, p95, limit) = check(&app, "response_time").await;
    assert_eq!(status, "ok");
    assert_eq!(limit, Some(2000.0), "the default limit");
    let p95 = p95.expect("a p95 from the 20 requests");
    assert!(p95 > 0.0 && p95 < 2000.0, "{p95}");

    let metrics = app
        .client
        .get(app.url("/api/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "mbelyco_monitor_check_ok{check=\"disk\"} 0",
        "mbelyco_monitor_check_ok{check=\"database\"} 1",
        "mbelyco_monitor_check_ok{check=\"response_time\"} 1",
        "mbelyco_monitor_check_limit{check=\"disk\"} 1.0",
        "mbelyco_monitor_check_limit{check=\"response_time\"} 2000.0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} missing:\n{metrics}");
    }
    assert!(metrics.contains("mbelyco_monitor_check_value{check=\"response_time\"}"));
    assert!(
        !metrics.contains("mbelyco_monitor_check_ok{check=\"momo\"}"),
        "off: absent"
    );

    let page = app
        .client
        .get(app.url("/status"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"health-checks\""), "{page}");
    for words in ["Disk use", "breached", "Response time (p95)", "MTN MoMo", "Talking"] {
        assert!(page.contains(words), "{words} missing:\n{page}");
    }
    assert!(page.contains("degraded"));
}
