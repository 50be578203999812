//! Custom alert rules: CRUD over the API and the page, every change audited with before and
//! after, bad input named by field with nothing changed, and the evaluator raising an alert once
//! the threshold is crossed and not before.

use chrono::{Duration, DurationRound};
use mbelyco::alerts::rules::evaluate::evaluate;
use serde_json::{json, Value};

use crate::helpers::{error_fields, now, spawn_app, TestApp, TestDb};

const RULES: &str = "/api/v1/admin/alert-rules";

fn wrong_codes_rule() -> Value {
    json!({
        "name": "Guessing storm",
        "metric": "wrong_codes",
        "comparison": "ge",
        "threshold": 50,
        "windowMinutes": 60,
        "severity": "critical",
        "channels": ["in_app", "email"],
        "recipients": ["fraud@mbelyco.rw"]
    })
}

async fn audits(app: &TestApp, action: &str) -> Vec<(Option<Value>, Option<Value>)> {
    sqlx::query_as("select before, after from audit_logs where action = $1 order by seq")
        .bind(action)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// Wrong-code attempts in this hour's rollup, as the interaction log's trigger writes them.
async fn wrong_attempts(app: &TestApp, n: i64) {
    sqlx::query("insert into stats_hourly (hour, fact, state, n) values ($1, 'attempt', 'unknown_code', $2)")
        .bind(now().duration_trunc(Duration::hours(1)).unwrap())
        .bind(n)
        .execute(&app.pool)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_rules_are_created_changed_switched_and_deleted_with_audit() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let viewer = app.api_key("Viewer").await;

    assert_eq!(app.post_json(&viewer, RULES, &wrong_codes_rule()).await.status(), 403);
    let res = app.post_json(&admin, RULES, &wrong_codes_rule()).await;
    assert_eq!(res.status(), 201);
    let rule: Value = res.json().await.unwrap();
    let id = rule["id"].as_str().unwrap().to_owned();
    assert_eq!(rule["metric"], "wrong_codes");
    assert_eq!(rule["enabled"], true);
    let created = audits(&app, "alert_rule.created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].1.as_ref().unwrap()["threshold"], 50);

    // the same name again: 409 naming it
    let res = app.post_json(&admin, RULES, &wrong_codes_rule()).await;
    assert_eq!(res.status(), 409);

    // a Viewer reads the rules without their recipients
    let list: Value = app.get_as(&viewer, RULES).await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["recipients"], json!([]));
    let list: Value = app.get_as(&admin, RULES).await.json().await.unwrap();
    assert_eq!(list["data"][0]["recipients"], json!(["fraud@mbelyco.rw"]));

    let mut changed = wrong_codes_rule();
    changed["threshold"] = json!(80);
    changed["enabled"] = json!(false);
    let res = app.put_json(&admin, &format!("{RULES}/{id}"), &changed).await;
    assert_eq!(res.status(), 200);
    let updated = audits(&app, "alert_rule.updated").await;
    assert_eq!(updated.len(), 1);
    let (before, after) = (updated[0].0.as_ref().unwrap(), updated[0].1.as_ref().unwrap());
    assert_eq!(
        (before["threshold"].clone(), after["threshold"].clone()),
        (json!(50), json!(80))
    );
    assert_eq!(
        (before["enabled"].clone(), after["enabled"].clone()),
        (json!(true), json!(false))
    );

    assert_eq!(app.delete_as(&viewer, &format!("{RULES}/{id}")).await.status(), 403);
    assert_eq!(app.delete_as(&admin, &format!("{RULES}/{id}")).await.status(), 204);
    assert_eq!(app.get_as(&admin, &format!("{RULES}/{id}")).await.status(), 404);
    let deleted = audits(&app, "alert_rule.deleted").await;
    assert_eq!(deleted[0].0.as_ref().unwrap()["threshold"], 80);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rules_are_refused_naming_each_field_and_nothing_is_stored() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let res = app
        .post_json(
            &admin,
            RULES,
            &json!({
                "name": "",
                "metric": "moon_phase",
                "comparison": "about",
                "threshold": -1,
                "windowMinutes": 0,
                "severity": "loud",
                "channels": ["pigeon"],
                "recipients": ["not an address"]
            }),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/problem+json"));
    let body: Value = res.json().await.unwrap();
    let fields = error_fields(&body);
    for f in [
        "name",
        "metric",
        "comparison",
        "threshold",
        "windowMinutes",
        "severity",
        "channels[0]",
        "recipients[0]",
    ] {
        assert!(fields.contains(&f), "{f} not in {fields:?}");
    }
    // an SMS channel needs a phone among the recipients
    let mut sms = wrong_codes_rule();
    sms["channels"] = json!(["sms"]);
    let body: Value = app.post_json(&admin, RULES, &sms).await.json().await.unwrap();
    assert_eq!(error_fields(&body), ["recipients"]);
    let n: i64 = sqlx::query_scalar("select count(*) from alert_rules")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);

    // the page shows the message beside the field, and keeps what was typed
    let res = app
        .post_form(
            &admin,
            "/admin/alerts/rules",
            &[
                ("name", "Page rule"),
                ("metric", "wrong_codes"),
                ("comparison", "gt"),
                ("threshold", "lots"),
                ("windowMinutes", "60"),
                ("severity", "warning"),
                ("channels", "in_app"),
                ("enabled", "true"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"data-field="threshold""#), "{html}");
    assert!(html.contains(r#"value="Page rule""#));
    let n: i64 = sqlx::query_scalar("select count(*) from alert_rules")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // and makes it when it is right
    let res = app
        .post_form(
            &admin,
            "/admin/alerts/rules",
            &[
                ("name", "Page rule"),
                ("metric", "payouts_pending"),
                ("comparison", "gt"),
                ("threshold", "100"),
                ("windowMinutes", "60"),
                ("severity", "warning"),
                ("channels", "in_app"),
                ("enabled", "true"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let html = app
        .client
        .get(app.url("/admin/alerts/rules"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Page rule") && html.contains("Payouts not finished yet &#62; 100"),
        "{html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_rule_raises_once_its_threshold_is_crossed_and_not_before() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let rule: Value = app
        .post_json(&admin, RULES, &wrong_codes_rule())
        .await
        .json()
        .await
        .unwrap();
    let id = rule["id"].as_str().unwrap().to_owned();
    let settings = app.state.settings.get();
    let open = || async {
        sqlx::query_as::<_, (i32, String, String)>(
            "select occurrences, audience, severity from alerts where dedupe_key = $1 and status <> 'resolved'",
        )
        .bind(format!("custom:{id}"))
        .fetch_optional(&app.pool)
        .await
        .unwrap()
    };
    let t = now();
    wrong_attempts(&app, 49).await;
    evaluate(&app.pool, &settings.0, t).await.unwrap();
    assert_eq!(open().await, None, "49 < 50");
    let read: Value = app.get_as(&admin, &format!("{RULES}/{id}")).await.json().await.unwrap();
    assert_eq!(read["lastValue"], 49);

    wrong_attempts(&app, 1).await;
    evaluate(&app.pool, &settings.0, t + Duration::seconds(30))
        .await
        .unwrap();
    evaluate(&app.pool, &settings.0, t + Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(open().await, Some((2, "fraud.alerts.view".into(), "critical".into())));

    // switched off: no longer read
    let mut off = wrong_codes_rule();
    off["enabled"] = json!(false);
    assert_eq!(app.put_json(&admin, &format!("{RULES}/{id}"), &off).await.status(), 200);
    evaluate(&app.pool, &settings.0, t + Duration::seconds(90))
        .await
        .unwrap();
    assert_eq!(open().await.unwrap().0, 2);
}
