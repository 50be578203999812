//! The audit log viewer (issue #23 item 1): filters and full-text search return exactly the
//! matching rows, keyset pages, permissions, the streamed export verified offline by
//! `mbelyco audit verify --file` (and a changed byte named by its row), "verify now" as a job
//! with progress and a recorded, audited result, the row's page with its difference, and the
//! "History" links of entity pages.

use std::collections::BTreeSet;

use chrono::{Duration, TimeZone, Utc};
use mbelyco::audit::{self, chain, Action, Actor, AuditEvent, RequestMeta};
use mbelyco::settings::Category;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{error_fields, spawn_app, TestApp, TestDb, ADMIN_EMAIL};

const API: &str = "/api/v1/admin/audit";

async fn admin_id(app: &TestApp) -> Uuid {
    sqlx::query_scalar("select id from users where email = $1")
        .bind(ADMIN_EMAIL)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Writes `e` at `at` as the app does, returning the row's id.
async fn write(app: &TestApp, e: AuditEvent, at: chrono::DateTime<Utc>) -> Uuid {
    let mut conn = app.pool.acquire().await.unwrap();
    audit::record(&mut conn, &e, at).await.unwrap()
}

fn meta(ip: &str, request: &str) -> RequestMeta {
    RequestMeta {
        ip: Some(ip.parse().unwrap()),
        user_agent: Some("test-agent".into()),
        request_id: Some(request.into()),
    }
}

/// Six rows of entity type `probe` with distinct actors, actions, days, addresses and words.
struct Seeded {
    ids: Vec<Uuid>,
}

async fn seed(app: &TestApp) -> Seeded {
    let admin = admin_id(app).await;
    let user = Actor::User {
        user_id: admin,
        session_id: None,
    };
    // Kigali days: 2026-11-02 .. 2026-11-04 (UTC+2), at noon
    let day = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 10, 0, 0).unwrap();
    let rows = [
        AuditEvent::new(user, Action::BatchCreated, "probe", "p-1")
            .after(json!({"name": "Kibagabaga launch", "amount": 1000}))
            .meta(meta("10.1.0.5", "req-aaa")),
        AuditEvent::new(user, Action::BatchUpdated, "probe", "p-1")
            .before(json!({"name": "Kibagabaga launch", "status": "active"}))
            .after(json!({"name": "Kibagabaga launch", "status": "paused"}))
            .meta(meta("10.1.0.6", "req-bbb")),
        AuditEvent::new(Actor::System, Action::DisbursementFailed, "probe", "p-2")
            .metadata(json!({"error": "NOT_ENOUGH_FUNDS", "note": "Nyamirambo"})),
        AuditEvent::new(Actor::Anonymous, Action::AuthSignInFailed, "probe", "p-3")
            .metadata(json!({"email": "someone@example.rw"}))
            .meta(meta("192.168.7.9", "req-ccc")),
        AuditEvent::new(user, Action::SettingsUpdated, "probe", "p-4")
            .before(json!({"timeout": 30}))
            .after(json!({"timeout": 45}))
            .meta(meta("10.2.0.1", "req-ddd")),
        AuditEvent::new(Actor::System, Action::BatchStatusChanged, "probe", "p-1")
            .metadata(json!({"reason": "=HYPERLINK(\"x\") expired"})),
    ];
    let days = [2, 2, 3, 3, 4, 4];
    let mut ids = Vec::new();
    for (i, (e, d)) in rows.into_iter().zip(days).enumerate() {
        ids.push(write(app, e, day(d) + Duration::minutes(i as i64)).await);
    }
    Seeded { ids }
}

async fn ids(app: &TestApp, key: &str, query: &str) -> BTreeSet<Uuid> {
    let res = app
        .get_as(key, &format!("{API}?entityType=probe&limit=200&{query}"))
        .await;
    assert_eq!(res.status(), 200, "{query}: {}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn set(s: &Seeded, which: &[usize]) -> BTreeSet<Uuid> {
    which.iter().map(|i| s.ids[*i]).collect()
}

#[tokio::test]
async fn filters_and_search_return_exactly_the_matching_rows_and_page_by_keyset() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let s = seed(&app).await;

    assert_eq!(ids(&app, &key, "").await, set(&s, &[0, 1, 2, 3, 4, 5]));
    assert_eq!(
        ids(&app, &key, &format!("actor={ADMIN_EMAIL}")).await,
        set(&s, &[0, 1, 4])
    );
    let admin = admin_id(&app).await;
    assert_eq!(ids(&app, &key, &format!("actor={admin}")).await, set(&s, &[0, 1, 4]));
    assert_eq!(ids(&app, &key, "actor=system").await, set(&s, &[2, 5]));
    assert_eq!(ids(&app, &key, "action=batch.updated").await, set(&s, &[1]));
    assert_eq!(ids(&app, &key, "action=batch.").await, set(&s, &[0, 1, 5]));
    assert_eq!(ids(&app, &key, "entityId=p-1").await, set(&s, &[0, 1, 5]));
    assert_eq!(ids(&app, &key, "from=2026-11-03&to=2026-11-03").await, set(&s, &[2, 3]));
    assert_eq!(ids(&app, &key, "from=2026-11-04").await, set(&s, &[4, 5]));
    assert_eq!(ids(&app, &key, "ip=10.1.0.6").await, set(&s, &[1]));
    assert_eq!(ids(&app, &key, "ip=10.0.0.0/8").await, set(&s, &[0, 1, 4]));
    assert_eq!(ids(&app, &key, "requestId=req-ccc").await, set(&s, &[3]));
    assert_eq!(ids(&app, &key, "outcome=failure").await, set(&s, &[2, 3]));
    assert_eq!(ids(&app, &key, "outcome=success").await, set(&s, &[0, 1, 4, 5]));
    // full text over before, after and metadata
    assert_eq!(ids(&app, &key, "q=kibagabaga").await, set(&s, &[0, 1]));
    assert_eq!(ids(&app, &key, "q=Nyamirambo").await, set(&s, &[2]));
    assert_eq!(ids(&app, &key, "q=paused").await, set(&s, &[1]));
    assert_eq!(ids(&app, &key, "q=45").await, set(&s, &[4]));
    assert_eq!(ids(&app, &key, "q=kibagabaga&actor=system").await, BTreeSet::new());

    // keyset pages: newest first, no row twice, none left out
    let mut seen = Vec::new();
    let mut url = format!("{API}?entityType=probe&limit=4");
    loop {
        let body: Value = app.get_as(&key, &url).await.json().await.unwrap();
        for r in body["data"].as_array().unwrap() {
            seen.push(r["id"].as_str().unwrap().parse::<Uuid>().unwrap());
        }
        match body["next"].as_str() {
            Some(n) => url = n.trim_start_matches(&app.base).to_owned(),
            None => break,
        }
    }
    let newest_first: Vec<Uuid> = s.ids.iter().rev().copied().collect();
    assert_eq!(seen, newest_first);

    // bad filters: 422 naming each field, on the API and beside the field on the page
    let res = app
        .get_as(
            &key,
            &format!("{API}?actor=nobody&from=2026-13-01&ip=1.2.3&outcome=maybe"),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_fields(&body), ["actor", "from", "ip", "outcome"]);
    let res = app.get_as(&key, "/admin/audit?ip=not-an-address").await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"data-field="ip""#), "{html}");
}

#[tokio::test]
async fn the_viewer_needs_audit_logs_read_and_the_export_and_verify_their_own_permissions() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let viewer = app.api_key("Viewer").await;
    let finance = app.api_key("Financial Administrator").await;
    let s = seed(&app).await;
    for path in [
        API.to_owned(),
        format!("{API}/{}", s.ids[0]),
        format!("{API}/chain"),
        "/admin/audit".to_owned(),
    ] {
        assert_eq!(app.get_as(&viewer, &path).await.status(), 403, "{path}");
        assert_eq!(app.get_as(&finance, &path).await.status(), 200, "{path}");
    }
    // reading is not exporting, nor verifying
    assert_eq!(app.get_as(&finance, &format!("{API}/export")).await.status(), 403);
    assert_eq!(
        app.post_as(&finance, &format!("{API}/chain/verify")).await.status(),
        403
    );
    // the page offers neither
    let html = app.get_as(&finance, "/admin/audit").await.text().await.unwrap();
    assert!(!html.contains("audit-export") && !html.contains("verify-now"));
}

#[tokio::test]
async fn a_row_shows_its_difference_field_by_field_with_links_to_the_entity_and_its_history() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let batch = app.generated_batch(&key, "History probe", 3, "w-history").await;
    chain::seal_pending(&app.pool, crate::helpers::now(), 1000)
        .await
        .unwrap();
    let row: Uuid =
        sqlx::query_scalar("select id from audit_logs where entity_type = 'batch' and entity_id = $1 limit 1")
            .bind(&batch)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let body: Value = app.get_as(&key, &format!("{API}/{row}")).await.json().await.unwrap();
    assert_eq!(body["data"]["entityHref"], format!("/admin/batches/{batch}"));
    assert_eq!(body["data"]["hash"].as_str().unwrap().len(), 64, "{body}");

    let s = seed(&app).await;
    let body: Value = app
        .get_as(&key, &format!("{API}/{}", s.ids[1]))
        .await
        .json()
        .await
        .unwrap();
    let changes = body["data"]["changes"].as_array().unwrap();
    let changed: Vec<(&str, bool)> = changes
        .iter()
        .map(|c| (c["field"].as_str().unwrap(), c["changed"].as_bool().unwrap()))
        .collect();
    assert_eq!(changed, [("name", false), ("status", true)]);
    let html = app
        .get_as(&key, &format!("/admin/audit/{}", s.ids[1]))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<tr class="changed" data-field="status">"#), "{html}");
    assert!(html.contains("paused"));

    // the batch page links to the batch's history, which lists its rows
    let page = app
        .get_as(&key, &format!("/admin/batches/{batch}"))
        .await
        .text()
        .await
        .unwrap();
    let link = format!("/admin/audit?entityType=batch&#38;entityId={batch}");
    assert!(page.contains(&link), "no history link on the batch page");
    let history = app
        .get_as(&key, &format!("/admin/audit?entityType=batch&entityId={batch}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(history.contains("batch.created"), "{history}");
    // a reader without audit.logs.read is not offered the link
    let viewer = app.api_key("Viewer").await;
    let page = app
        .get_as(&viewer, &format!("/admin/batches/{batch}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("id=\"audit-history\""));
}

/// `mbelyco audit verify --file PATH` with no configuration: whether it passed, and what it said.
pub(crate) fn verify_file(path: &std::path::Path) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mbelyco"))
        .args(["audit", "verify", "--file"])
        .arg(path)
        .env_clear()
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[tokio::test]
async fn an_export_verifies_offline_and_one_changed_byte_fails_naming_the_row() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    seed(&app).await;
    chain::seal_pending(&app.pool, crate::helpers::now(), 1000)
        .await
        .unwrap();
    let sealed: i64 = sqlx::query_scalar("select count(*) from audit_chain")
        .fetch_one(&app.pool)
        .await
        .unwrap();

    let res = app.get_as(&key, &format!("{API}/export?format=jsonl")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let body = res.text().await.unwrap();
    assert_eq!(body.lines().count() as i64, sealed);
    let file = std::env::temp_dir().join(format!("audit-export-{}.jsonl", Uuid::new_v4()));
    std::fs::write(&file, &body).unwrap();
    let (ok, out) = verify_file(&file);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("OK: {sealed} rows, chain positions 1 to {sealed}")),
        "{out}"
    );
    let head: Value = app.get_as(&key, &format!("{API}/chain")).await.json().await.unwrap();
    assert!(
        out.contains(head["headHash"].as_str().unwrap()),
        "the last hash is the chain's head"
    );

    // one byte changed in the third row's content: fails, naming that row
    let mut lines: Vec<String> = body.lines().map(str::to_owned).collect();
    let third: Value = serde_json::from_str(&lines[2]).unwrap();
    let action = third["action"].as_str().unwrap();
    let mut forged = action.to_owned();
    let last = forged.pop().unwrap();
    forged.push(if last == 'x' { 'y' } else { 'x' });
    lines[2] = lines[2].replacen(&format!("\"{action}\""), &format!("\"{forged}\""), 1);
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let (ok, out) = verify_file(&file);
    assert!(!ok, "{out}");
    assert!(out.contains("line 3, chain position 3"), "{out}");
    assert!(out.contains(third["id"].as_str().unwrap()), "{out}");
    std::fs::remove_file(&file).unwrap();

    // a filtered CSV: the chain fields, formulas defused
    let res = app
        .get_as(&key, &format!("{API}/export?format=csv&entityType=probe&actor=system"))
        .await;
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    let mut rows = csv.lines();
    assert!(rows
        .next()
        .unwrap()
        .starts_with("chain_seq,prev_hash,hash,id,created_at"));
    assert_eq!(rows.count(), 2);

    // exports are audited, with their filters
    let audited: Vec<Value> =
        sqlx::query_scalar("select metadata from audit_logs where action = 'audit.exported' order by seq")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited.len(), 2);
    assert_eq!(audited[1]["format"], "csv");
    assert_eq!(audited[1]["filters"]["actor"], "system");

    // bad format: 422 naming it; and they count against the hourly download limit
    let res = app.get_as(&key, &format!("{API}/export?format=xlsx")).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_fields(&body), ["format"]);
    app.set_settings(Category::Security, json!({"rateLimiting": {"downloadsPerHour": 2}}))
        .await;
    assert_eq!(app.get_as(&key, &format!("{API}/export")).await.status(), 429);
}

#[tokio::test]
async fn verify_now_runs_as_a_job_with_progress_and_records_and_audits_its_result() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    seed(&app).await;
    chain::seal_pending(&app.pool, crate::helpers::now(), 1000)
        .await
        .unwrap();

    let res = app.post_as(&key, &format!("{API}/chain/verify")).await;
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["job"]["status"], "queued");
    assert!(body["lastVerification"].is_null());
    // asking again while it waits answers the same job
    let again: Value = app
        .post_as(&key, &format!("{API}/chain/verify"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["job"]["id"], body["job"]["id"]);
    // the page follows it
    let html = app.get_as(&key, "/admin/audit").await.text().await.unwrap();
    assert!(html.contains(r#"data-progress-url="/api/v1/admin/audit/chain""#));

    app.worker("w-verify").drain().await.unwrap();
    let chain_state: Value = app.get_as(&key, &format!("{API}/chain")).await.json().await.unwrap();
    let sealed = chain_state["sealedSeq"].as_i64().unwrap();
    assert_eq!(chain_state["job"]["status"], "succeeded");
    assert_eq!(chain_state["percent"], 100.0);
    assert_eq!(chain_state["job"]["progressTotal"], sealed);
    let last = &chain_state["lastVerification"];
    assert_eq!(last["intact"], true);
    assert_eq!(last["checked"], sealed);
    let audited: Vec<String> = sqlx::query_scalar(
        "select action from audit_logs where action in ('audit.verify_requested', 'audit.chain_verified') order by seq",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        audited,
        [
            "audit.verify_requested",
            "audit.verify_requested",
            "audit.chain_verified"
        ]
    );
    let html = app.get_as(&key, "/admin/audit").await.text().await.unwrap();
    assert!(html.contains("intact") && html.contains("verify-now"), "{html}");
}
