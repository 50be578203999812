//! Health, metrics, errors, request ids, security headers, and the binary's exit codes.

use serde_json::Value;

use crate::helpers::{now, spawn_app, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_database_migrations_and_worker() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let app = spawn_app(pool).await;
    let res = app.client.get(app.url("/api/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let h: Value = res.json().await.unwrap();
    assert_eq!(h["database"]["reachable"], true);
    assert_eq!(h["migrations"]["current"], true);
    // no worker has ever beaten: the web process is fine, the system is degraded
    assert_eq!(h["status"], "degraded");
    assert_eq!(h["worker"]["stale"], true);

    sqlx::query(
        "insert into worker_heartbeats (worker_id, hostname, pid, started_at, beat_at) values ('w1', 'h', 1, $1, $1)",
    )
    .bind(now())
    .execute(&app.pool)
    .await
    .unwrap();
    let h: Value = app
        .client
        .get(app.url("/api/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["worker"]["workers"], 1);
    assert!(h["worker"]["lastHeartbeatAgeSeconds"].as_f64().unwrap() < 5.0);
    assert_eq!(h["settingsVersion"], app.state.settings.version());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_and_jobs_by_state() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let app = spawn_app(pool).await;
    for _ in 0..3 {
        app.client.get(app.url("/api/health")).send().await.unwrap();
    }
    app.client.get(app.url("/no/such/route")).send().await.unwrap();
    let res = app.client.get(app.url("/api/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        text.contains(r#"mbelyco_http_requests_total{method="GET",route="/api/health",status="200"} 3"#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(text.contains("mbelyco_http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains(r#"mbelyco_jobs{state="queued"} 0"#), "{text}");
    assert!(text.contains("mbelyco_audit_unsealed_rows"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_differ_from_missing_records_and_pages_get_html() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let app = spawn_app(pool).await;
    let res = app.client.get(app.url("/api/v1/nothing-here")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "urn:mbelyco:problem:route-not-found");
    assert_eq!(body["status"], 404);
    assert_eq!(body["requestId"], request_id.as_str());

    let res = app
        .client
        .get(app.url("/nothing-here"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = res.text().await.unwrap();
    assert!(html.contains("No such page"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_request_id_and_security_headers() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let app = spawn_app(pool).await;
    let res = app.client.get(app.url("/status")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers();
    assert!(!h["x-request-id"].is_empty());
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'") && !csp.contains("unsafe-inline")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin");
    let html = res.text().await.unwrap();
    assert!(html.contains("System status"));
    assert!(!html.contains("<script>"), "no inline script");

    // a request id the client sends is kept
    let res = app
        .client
        .get(app.url("/api/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
}

fn binary() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mbelyco"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATA_DIR",
            std::env::temp_dir().join(format!("mbelyco-bin-{}", uuid::Uuid::new_v4())),
        );
    cmd
}

#[test]
fn invalid_configuration_exits_2_naming_the_variable() {
    let out = binary()
        .args(["migrate"])
        .env("WORKER_CONCURRENCY", "lots")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WORKER_CONCURRENCY"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    let out = binary().args(["serve"]).env("APP_ENV", "production").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SECRET_KEY"));
}

#[test]
fn unreachable_database_is_one_clear_line() {
    let out = binary()
        .args(["migrate"])
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/mbelyco")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach PostgreSQL"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_subcommand_is_idempotent_on_a_migrated_database() {
    let db = TestDb::new().await;
    let out = binary()
        .args(["migrate"])
        .env("DATABASE_URL", db.url.clone())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let n = mbelyco::db::MIGRATOR.iter().count();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("migrations: {n} of {n} applied")));
}
