//! The alerts console (issue #22, first part): the lifecycle through the API and the page, who
//! sees which alerts, dedupe while acknowledged, snooze against the clock, the CSV export, and
//! the fraud review queue with the USSD refusal of a blocked phone.

use std::sync::Arc;

use chrono::Duration;
use mbelyco::access::Permission;
use mbelyco::alerts::{self, NewAlert, Severity};
use mbelyco::clock::ManualClock;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{error_fields, now, spawn_app, spawn_app_with_clock, TestApp, TestDb};

const API: &str = "/api/v1/admin/alerts";

fn low_balance() -> NewAlert {
    NewAlert::new(
        "momo.low_balance",
        Severity::Critical,
        Permission::FinancialAlertsView,
        "The MoMo balance is low",
    )
    .body("12,000 RWF left")
    .dedupe("momo.low_balance")
}

fn worker_down() -> NewAlert {
    NewAlert::new(
        "system.worker_missing",
        Severity::Warning,
        Permission::SystemAlertsView,
        "=HYPERLINK(\"x\") no worker heartbeat",
    )
    .subject("user", Uuid::nil())
    .dedupe("system.worker_missing")
}

async fn raise(app: &TestApp, alert: &NewAlert, at: chrono::DateTime<chrono::Utc>) -> bool {
    let mut conn = app.pool.acquire().await.unwrap();
    alerts::raise(&mut conn, alert, at).await.unwrap()
}

async fn id_of(app: &TestApp, kind: &str) -> Uuid {
    sqlx::query_scalar("select id from alerts where kind = $1 order by created_at desc limit 1")
        .bind(kind)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn audits(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("select count(*) from audit_logs where action = $1")
        .bind(action)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn json_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn kinds(v: &Value) -> Vec<&str> {
    v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_is_acknowledged_escalated_and_resolved_each_step_checked_audited_and_on_its_timeline() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    assert!(raise(&app, &low_balance(), now()).await);
    let id = id_of(&app, "momo.low_balance").await;
    let fa = app.api_key("Financial Administrator").await;
    let boss = app.api_key("Super Administrator").await;
    let viewer = app.api_key("Viewer").await;

    let (status, list) = json_of(app.get_as(&fa, API).await).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"][0]["id"], id.to_string());
    assert_eq!(list["data"][0]["status"], "open");

    // a Viewer reads alerts but may not act on them
    let res = app.post_as(&viewer, &format!("{API}/{id}/acknowledge")).await;
    assert_eq!(res.status(), 403);

    let (status, v) = json_of(app.post_as(&fa, &format!("{API}/{id}/acknowledge")).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["status"], "acknowledged");
    let (status, v) = json_of(app.post_as(&fa, &format!("{API}/{id}/acknowledge")).await).await;
    assert_eq!(status, 409, "acknowledged twice: {v}");

    // repeats while acknowledged count on the same alert
    assert!(!raise(&app, &low_balance(), now()).await);
    assert!(!raise(&app, &low_balance(), now()).await);
    let rows: i64 = sqlx::query_scalar("select count(*) from alerts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);

    // resolving needs a note, and a refusal changes nothing
    let (status, v) = json_of(app.post_json(&fa, &format!("{API}/{id}/resolve"), &json!({})).await).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(error_fields(&v), ["note"]);
    let (status, v) = json_of(
        app.post_json(&fa, &format!("{API}/{id}/resolve"), &json!({"note": "   "}))
            .await,
    )
    .await;
    assert_eq!((status, error_fields(&v)), (422, vec!["note"]));

    // escalation by hand needs alerts.escalate
    let res = app.post_json(&fa, &format!("{API}/{id}/escalate"), &json!({})).await;
    assert_eq!(res.status(), 403);
    let (status, v) = json_of(
        app.post_json(
            &boss,
            &format!("{API}/{id}/escalate"),
            &json!({"note": "nobody topped up"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["escalationLevel"], 1);
    assert_eq!(v["data"]["status"], "acknowledged");

    let (status, v) = json_of(
        app.post_json(
            &fa,
            &format!("{API}/{id}/resolve"),
            &json!({"note": "Float topped up by 2M"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["status"], "resolved");
    assert_eq!(v["data"]["occurrences"], 3);
    assert_eq!(v["data"]["resolutionNote"], "Float topped up by 2M");
    assert_eq!(kinds(&v["data"]), ["raised", "acknowledged", "escalated", "resolved"]);
    assert_eq!(v["data"]["timeline"][3]["note"], "Float topped up by 2M");
    assert_eq!(v["data"]["timeline"][0]["actor"], Value::Null, "raised by the system");

    // resolved is final
    for action in ["resolve", "acknowledge", "snooze", "escalate"] {
        let (status, v) = json_of(
            app.post_json(
                &boss,
                &format!("{API}/{id}/{action}"),
                &json!({"note": "again", "hours": 1}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 409, "{action}: {v}");
    }
    for action in ["alert.acknowledged", "alert.escalated", "alert.resolved"] {
        assert_eq!(audits(&app, action).await, 1, "{action}");
    }
    // the same condition again is a new alert
    assert!(raise(&app, &low_balance(), now()).await);
    let (_, list) = json_of(app.get_as(&fa, &format!("{API}?state=open")).await).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_ne!(list["data"][0]["id"], id.to_string());
    // filters are checked, naming the field
    let (status, v) = json_of(app.get_as(&fa, &format!("{API}?state=gone&severity=loud")).await).await;
    assert_eq!((status, error_fields(&v)), (422, vec!["severity", "state"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_support_agent_sees_system_alerts_but_never_financial_ones() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    raise(&app, &low_balance(), now()).await;
    raise(&app, &worker_down(), now()).await;
    let financial = id_of(&app, "momo.low_balance").await;
    let system = id_of(&app, "system.worker_missing").await;
    let agent = app.api_key("Support Agent").await;

    let (status, list) = json_of(app.get_as(&agent, API).await).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [system.to_string()]);
    assert_eq!(app.get_as(&agent, &format!("{API}/{financial}")).await.status(), 404);
    assert_eq!(
        app.get_as(&agent, &format!("/admin/alerts/{financial}")).await.status(),
        404
    );
    assert_eq!(app.get_as(&agent, &format!("{API}/{system}")).await.status(), 200);
    let html = app.get_as(&agent, "/admin/alerts").await.text().await.unwrap();
    assert!(
        html.contains("no worker heartbeat") && !html.contains("MoMo balance"),
        "{html}"
    );
    // a Support Agent may not export either; an administrator's export of the same filter does
    // hold both
    assert_eq!(app.get_as(&agent, &format!("{API}/export")).await.status(), 403);
    let mut tx = app.pool.begin().await.unwrap();
    let role = mbelyco::access::role_id(&mut tx, "Support Agent")
        .await
        .unwrap()
        .unwrap();
    sqlx::query(
        "insert into role_permissions (role_id, permission_id, created_at) \
         select $1, id, now() from permissions where key = 'alerts.export'",
    )
    .bind(role)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let res = app.get_as(&agent, &format!("{API}/export")).await;
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    assert!(
        csv.contains(&system.to_string()) && !csv.contains(&financial.to_string()),
        "{csv}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snoozed_alert_leaves_the_badge_until_the_clock_passes_and_repeats_only_count() {
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(now()));
    let app = spawn_app_with_clock(db.pool.clone(), clock.clone()).await;
    raise(&app, &low_balance(), now()).await;
    let id = id_of(&app, "momo.low_balance").await;
    let fa = app.api_key("Financial Administrator").await;
    let badge = |v: &Value| (v["count"].as_i64().unwrap(), v["critical"].as_i64().unwrap());

    let (_, v) = json_of(app.get_as(&fa, "/api/v1/alerts/open").await).await;
    assert_eq!(badge(&v), (1, 1));
    let (status, v) = json_of(
        app.post_json(&fa, &format!("{API}/{id}/snooze"), &json!({"hours": 2}))
            .await,
    )
    .await;
    assert_eq!((status, error_fields(&v)), (422, vec!["hours"]));
    let (status, v) = json_of(
        app.post_json(&fa, &format!("{API}/{id}/snooze"), &json!({"hours": 1}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (_, v) = json_of(app.get_as(&fa, "/api/v1/alerts/open").await).await;
    assert_eq!(badge(&v), (0, 0), "{v}");
    // it repeats while snoozed: counted, still hidden
    clock.advance(Duration::minutes(30));
    assert!(!raise(&app, &low_balance(), now() + Duration::minutes(30)).await);
    let (_, v) = json_of(app.get_as(&fa, "/api/v1/alerts/open").await).await;
    assert_eq!(badge(&v), (0, 0));
    let (_, list) = json_of(app.get_as(&fa, &format!("{API}?state=snoozed")).await).await;
    assert_eq!(list["data"][0]["occurrences"], 2);
    let (_, list) = json_of(app.get_as(&fa, &format!("{API}?state=active")).await).await;
    assert!(list["data"].as_array().unwrap().is_empty());
    // the hour is over
    clock.advance(Duration::minutes(31));
    let (_, v) = json_of(app.get_as(&fa, "/api/v1/alerts/open").await).await;
    assert_eq!(badge(&v), (1, 1));
    let dashboard = app.get_as(&fa, "/").await.text().await.unwrap();
    assert!(
        dashboard.contains("/admin/alerts?state=active"),
        "the dashboard links the console"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_is_the_filtered_alerts_as_csv_with_formulas_defused_and_audited() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    raise(&app, &low_balance(), now() - Duration::days(3)).await;
    raise(&app, &worker_down(), now()).await;
    let boss = app.api_key("Super Administrator").await;
    let res = app.get_as(&boss, &format!("{API}/export")).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(&header[..6], ["id", "raised_at", "kind", "severity", "state", "title"]);
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][2], "system.worker_missing", "newest first");
    assert_eq!(&rows[0][5], "'=HYPERLINK(\"x\") no worker heartbeat", "formula defused");
    assert_eq!(&rows[1][4], "open");
    assert_eq!(&rows[1][6], "12,000 RWF left");
    // filtered: critical only, raised in the last day
    let since = (now() - Duration::days(1)).date_naive().to_string();
    let csv = app
        .get_as(&boss, &format!("{API}/export?severity=critical"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let csv = app
        .get_as(&boss, &format!("{API}/export?from={since}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains("system.worker_missing") && !csv.contains("momo.low_balance"),
        "{csv}"
    );
    let (status, v) = json_of(app.get_as(&boss, &format!("{API}/export?to=someday")).await).await;
    assert_eq!((status, error_fields(&v)), (422, vec!["to"]));
    assert_eq!(audits(&app, "alerts.exported").await, 3);
    // a search finds by subject, title or body
    let (_, v) = json_of(app.get_as(&boss, &format!("{API}?q=RWF%20left")).await).await;
    assert_eq!(v["data"][0]["kind"], "momo.low_balance");
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_refuses_a_resolution_without_a_note_beside_the_field_and_the_list_pages() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    for i in 0..3 {
        let a = NewAlert::new(
            "test.many",
            Severity::Info,
            Permission::SystemAlertsView,
            format!("Alert number {i}"),
        )
        .dedupe(format!("many-{i}"));
        raise(&app, &a, now() - Duration::minutes(10 - i)).await;
    }
    let id = id_of(&app, "test.many").await;
    let boss = app.api_key("Super Administrator").await;
    let res = app
        .post_form(&boss, &format!("/admin/alerts/{id}/resolve"), &[("note", "")])
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"id="note-error""#), "{html}");
    let status: String = sqlx::query_scalar("select status from alerts where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "open");
    let res = app
        .post_form(
            &boss,
            &format!("/admin/alerts/{id}/resolve"),
            &[("note", "Known test noise")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], format!("/admin/alerts/{id}"));
    // keyset pages of two
    let v: Value = app.get_as(&boss, &format!("{API}?limit=2")).await.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    let next = v["next"].as_str().unwrap().to_owned();
    let v: Value = app.get_as(&boss, &next).await.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert!(v["next"].is_null());
    let page = app.get_as(&boss, "/admin/alerts?limit=2").await.text().await.unwrap();
    assert!(page.contains(r#"id="next-page""#), "{page}");
}

/// Dials, chooses "redeem" and types `code`.
async fn redeem(app: &TestApp, session: &str, phone: &str, code: &str) -> String {
    app.hop(session, phone, "").await;
    app.hop(session, phone, "1").await;
    app.hop(session, phone, &format!("1*{code}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flagged_phone_is_blocked_refused_over_ussd_then_cleared_and_redeems() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    app.set_settings(
        mbelyco::settings::Category::Business,
        json!({"redemption": {"allowMultipleRedemptions": true, "maxRedemptionsPerUser": 10, "cooldownPeriodMinutes": 0,
                              "fraudDetectionEnabled": true, "wrongCodeFlagThreshold": 2}}),
    )
    .await;
    let boss = app.api_key("Super Administrator").await;
    let batch = app.generated_batch(&boss, "Fraud review", 2, "w-fraud").await;
    let codes = app.batch_codes(&batch).await;
    let phone = "+250788300001";
    for (i, guess) in ["WXYZ-WX26-WX11-WX25", "WXYZ-WX26-WX11-WX24"].iter().enumerate() {
        let answer = redeem(&app, &format!("g-{i}"), phone, guess).await;
        assert!(answer.starts_with("END "), "{answer}");
    }
    let fraud = "/api/v1/admin/alerts/fraud/phones";
    let (status, v) = json_of(app.get_as(&boss, fraud).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"][0]["msisdn"], phone, "{v}");
    let customer = v["data"][0]["id"].as_str().unwrap().to_owned();

    // a Batch Manager sees the queue but may not decide
    let manager = app.api_key("Batch Manager").await;
    assert_eq!(app.get_as(&manager, fraud).await.status(), 200);
    let page = app.get_as(&manager, "/admin/alerts/fraud").await.text().await.unwrap();
    assert!(page.contains(phone) && !page.contains("Block phone"), "{page}");
    let res = app
        .post_json(
            &manager,
            &format!("{fraud}/{customer}/block"),
            &json!({"reason": "guessing"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let agent = app.api_key("Support Agent").await;
    assert_eq!(app.get_as(&agent, fraud).await.status(), 403);

    let (status, v) = json_of(
        app.post_json(&boss, &format!("{fraud}/{customer}/block"), &json!({}))
            .await,
    )
    .await;
    assert_eq!((status, error_fields(&v)), (422, vec!["reason"]));
    let (status, v) = json_of(
        app.post_json(
            &boss,
            &format!("{fraud}/{customer}/block"),
            &json!({"reason": "guessed 2 codes"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let res = app
        .post_json(&boss, &format!("{fraud}/{customer}/block"), &json!({"reason": "again"}))
        .await;
    assert_eq!(res.status(), 409);
    let (_, v) = json_of(app.get_as(&boss, &format!("{fraud}?queue=blocked")).await).await;
    assert_eq!(v["data"][0]["blockedReason"], "guessed 2 codes");
    let (_, v) = json_of(app.get_as(&boss, fraud).await).await;
    assert!(v["data"].as_array().unwrap().is_empty(), "no longer waiting: {v}");
    assert_eq!(audits(&app, "customer.blocked").await, 1);

    // the blocked phone is refused politely and the code stays unused
    let answer = redeem(&app, "b-1", phone, &codes[0]).await;
    assert!(answer.starts_with("END Tubabarira"), "{answer}");
    let status: String = sqlx::query_scalar("select status from promo_codes where code = $1")
        .bind(&codes[0])
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "active");
    let outcome: String =
        sqlx::query_scalar("select outcome from ussd_interactions where phone_number = $1 order by id desc limit 1")
            .bind(phone)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(outcome, "phone_barred");
    // nor does it learn whether a code is good: checking one is refused the same way
    app.hop("c-1", phone, "").await;
    app.hop("c-1", phone, "2").await;
    let answer = app.hop("c-1", phone, &format!("2*{}", codes[1])).await;
    assert!(answer.starts_with("END Tubabarira"), "{answer}");
    assert!(!answer.contains("1000"), "no amount: {answer}");

    // cleared: it redeems again
    let (status, v) = json_of(
        app.post_json(
            &boss,
            &format!("{fraud}/{customer}/clear"),
            &json!({"reason": "the shop owner vouched"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(audits(&app, "customer.flag_cleared").await, 1);
    let answer = redeem(&app, "ok-1", phone, &codes[0]).await;
    assert!(answer.starts_with("END Murakoze!"), "{answer}");
    let (status, _) = json_of(
        app.post_json(&boss, &format!("{fraud}/{customer}/clear"), &json!({"reason": "again"}))
            .await,
    )
    .await;
    assert_eq!(status, 409, "neither flagged nor blocked");
}
