//! Notification templates (issue 22, part 5): seeded with today's wording, edited over the API
//! with unknown variables refused, previewed with the SMS encoding and segments, and used — the
//! payout SMS the AT simulator receives after a real payout, and the USSD end screens.

use std::sync::Arc;

use mbelyco::clock::ManualClock;
use mbelyco::settings::Category;
use mbelyco::templates::catalogue::ENTRIES;
use mbelyco::ussd::messages::Lang;
use serde_json::{json, Value};
use simulators::at::{router, Gateway, GatewayConfig, SmsConfig};

use crate::helpers::{now, spawn_app, TestApp, TestDb};
use crate::payouts::{instant, ready, start_momo, worker as payout_worker};

const BASE: &str = "/api/v1/admin/notification-templates";
const AT_KEY: &str = "at-sim-templates-key";

async fn at_simulator() -> (Gateway, String) {
    let config = GatewayConfig::new("http://127.0.0.1:9/ussd-unused").with_sms(SmsConfig::new("sandbox", AT_KEY));
    let gateway = Gateway::new(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(gateway.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (gateway, base)
}

async fn put(app: &TestApp, key: &str, path: &str, body: Value) -> (u16, Value) {
    let res = app.put_json(key, &format!("{BASE}/{path}"), &body).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_seed_is_the_catalogue_and_the_list_shows_every_template() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let rows: Vec<(String, String, String, Option<String>, String)> =
        sqlx::query_as("select key, channel, locale, subject, body from notification_templates")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), ENTRIES.len() * 2);
    for e in ENTRIES {
        for lang in [Lang::En, Lang::Rw] {
            let (subject, body) = e.default(lang);
            let row = rows
                .iter()
                .find(|r| r.0 == e.key && r.1 == e.channel.as_str() && r.2 == lang.as_str())
                .unwrap_or_else(|| panic!("{} {:?} {lang:?} not seeded", e.key, e.channel));
            assert_eq!(
                (row.3.as_deref(), row.4.as_str()),
                (subject, body),
                "{} {:?} {lang:?}",
                e.key,
                e.channel
            );
        }
    }
    let key = app.api_key("Super Administrator").await;
    let list: Value = app.get_as(&key, BASE).await.json().await.unwrap();
    let list = list["data"].as_array().unwrap();
    assert_eq!(list.len(), ENTRIES.len() * 2);
    let payout = list
        .iter()
        .find(|t| t["key"] == "disbursement.succeeded" && t["channel"] == "sms" && t["locale"] == "rw")
        .unwrap();
    assert_eq!(payout["isDefault"], true);
    assert_eq!(payout["event"], "Disbursement success");
    let names: Vec<&str> = payout["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["amount", "currency", "ref"]);
    // a Viewer may not read them; nobody may name a template that does not exist
    let viewer = app.api_key("Viewer").await;
    assert_eq!(app.get_as(&viewer, BASE).await.status(), 403);
    assert_eq!(app.get_as(&key, &format!("{BASE}/nope/sms/en")).await.status(), 404);
    assert_eq!(
        app.get_as(&key, &format!("{BASE}/redemption.succeeded/ussd/fr"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn an_unknown_variable_is_refused_naming_the_field_and_nothing_changes() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let (status, problem) = put(
        &app,
        &key,
        "disbursement.succeeded/sms/en",
        json!({"body": "You got {amount} {currency} for {code}"}),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{problem}");
    assert_eq!(errors[0]["field"], "body");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.contains("{code}") && message.contains("{ref}"), "{message}");
    // an e-mail needs its subject, and its subject is checked for variables too
    let (status, problem) = put(
        &app,
        &key,
        "report.ready/email/en",
        json!({"subject": "Ready: {name}", "body": "{title}: {link}"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "subject", "{problem}");
    // a USSD screen stays one GSM-7 screen
    let (status, problem) = put(
        &app,
        &key,
        "redemption.failed.expired/ussd/en",
        json!({"body": "Expired 😔"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "body");
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("GSM-7"));
    let (status, _) = put(
        &app,
        &key,
        "redemption.failed.expired/ussd/en",
        json!({"body": "x".repeat(183)}),
    )
    .await;
    assert_eq!(status, 422);

    let changed: i64 = sqlx::query_scalar("select count(*) from notification_templates where version > 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(changed, 0, "nothing was saved");
    let audits: i64 = sqlx::query_scalar("select count(*) from audit_logs where action like 'notification_template.%'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(audits, 0);
}

#[tokio::test]
async fn the_preview_shows_the_encoding_and_segments() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let preview = |body: String, channel: &'static str, k: &'static str| {
        let app = &app;
        let key = key.clone();
        async move {
            let res = app
                .post_json(
                    &key,
                    &format!("{BASE}/preview"),
                    &json!({"key": k, "channel": channel, "locale": "en", "body": body}),
                )
                .await;
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };
    // the payout SMS as seeded: GSM-7, one message, with the sample values filled in
    let p = preview(
        "MBELYCO: you received {amount} {currency} on MoMo for your promo code.{ref} Thank you!".into(),
        "sms",
        "disbursement.succeeded",
    )
    .await;
    assert_eq!(
        p["body"],
        "MBELYCO: you received 1,000,000 RWF on MoMo for your promo code. Ref 12345678901. Thank you!"
    );
    assert_eq!(p["cost"]["encoding"], "GSM-7");
    assert_eq!(
        (p["cost"]["segments"].as_u64(), p["cost"]["perSegment"].as_u64()),
        (Some(1), Some(160))
    );
    assert!(p["problems"].as_array().unwrap().is_empty());
    // one typographic apostrophe makes it UCS-2: 70 a message, 67 each when it takes several
    let p = preview(
        format!("MBELYCO: you’ve received {{amount}} {{currency}}. {}", "a".repeat(40)),
        "sms",
        "disbursement.succeeded",
    )
    .await;
    assert_eq!(p["cost"]["encoding"], "UCS-2");
    assert_eq!(p["cost"]["nonGsm7"], json!(["’"]));
    assert_eq!(p["cost"]["characters"], 80);
    assert_eq!(
        (p["cost"]["segments"].as_u64(), p["cost"]["perSegment"].as_u64()),
        (Some(2), Some(67))
    );
    // an emoji too
    let p = preview("MBELYCO 🎉 {amount}".into(), "sms", "disbursement.succeeded").await;
    assert_eq!(p["cost"]["encoding"], "UCS-2");
    assert_eq!(p["cost"]["segments"], 1);
    // long GSM-7: 153 a part
    let p = preview("b".repeat(307), "sms", "disbursement.succeeded").await;
    assert_eq!(
        (p["cost"]["segments"].as_u64(), p["cost"]["perSegment"].as_u64()),
        (Some(3), Some(153))
    );
    // USSD: the screen's limit, and an unknown variable shown before any save
    let p = preview("{amount} {nope}".into(), "ussd", "redemption.succeeded").await;
    assert_eq!(p["cost"]["limit"], 182);
    assert_eq!(p["problems"][0]["field"], "body");
    assert!(p["problems"][0]["message"].as_str().unwrap().contains("{nope}"));
    // a template the body names wrongly is a field of that body: 422 naming it
    for (body, field) in [
        (
            json!({"key": "no.such", "channel": "sms", "locale": "en", "body": "x"}),
            "key",
        ),
        (
            json!({"key": "disbursement.succeeded", "channel": "fax", "locale": "en", "body": "x"}),
            "channel",
        ),
        (
            json!({"key": "disbursement.succeeded", "channel": "sms", "locale": "fr", "body": "x"}),
            "locale",
        ),
    ] {
        let res = app.post_json(&key, &format!("{BASE}/preview"), &body).await;
        assert_eq!(res.status(), 422, "{body}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
}

#[tokio::test]
async fn editing_the_kinyarwanda_payout_sms_changes_what_the_customer_receives() {
    let db = TestDb::new().await;
    let momo = start_momo(instant()).await;
    let (app, key) = ready(&db, &momo, json!({})).await;
    let (sim, at_base) = at_simulator().await;
    app.set_settings(
        Category::Ussd,
        json!({"africasTalkingApiKey": AT_KEY, "africasTalkingUsername": "sandbox", "africasTalkingBaseUrl": at_base}),
    )
    .await;
    let text = "MBELYCO: {amount} {currency} zageze kuri MoMo yanyu.{ref} Murakoze cyane!";
    let (status, saved) = put(&app, &key, "disbursement.succeeded/sms/rw", json!({"body": text})).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        (saved["version"].as_i64(), saved["isDefault"].as_bool()),
        (Some(2), Some(false))
    );
    // audited with the wording before and after
    let (before, after): (Value, Value) = sqlx::query_as(
        "select before, after from audit_logs where action = 'notification_template.updated' \
         and entity_id = 'disbursement.succeeded/sms/rw'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(before["body"].as_str().unwrap().starts_with("MBELYCO: mwakiriye"));
    assert_eq!(after["body"], text);

    // a customer (Kinyarwanda, the default language) redeems; the worker pays through MoMo
    let batch = app.generated_batch(&key, "Templates payout", 1, "w-tpl").await;
    let code = app.batch_codes(&batch).await.remove(0);
    let phone = "+250788555111";
    let end = app.hop("tpl-pay", phone, &format!("1*{code}")).await;
    assert!(end.starts_with("END Murakoze!"), "{end}");
    assert_eq!(payout_worker(&app, "w-tpl-pay").run_until_idle().await.unwrap(), 1);
    let momo_id: String = sqlx::query_scalar("select momo_transaction_id from disbursements")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(now()));
    assert_eq!(crate::sms::worker(&app, clock).drain().await.unwrap(), 1);
    let inbox = sim.sms().messages(Some(phone), 0);
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(
        inbox[0].message,
        format!("MBELYCO: 1,000 RWF zageze kuri MoMo yanyu. Ref {momo_id}. Murakoze cyane!")
    );

    // reset: the default wording is back (and audited)
    let res = app
        .post_as(&key, &format!("{BASE}/disbursement.succeeded/sms/rw/reset"))
        .await;
    assert_eq!(res.status(), 200);
    let back: Value = res.json().await.unwrap();
    assert_eq!(back["isDefault"], true);
    assert_eq!(back["version"], 3);
}

#[tokio::test]
async fn editing_a_ussd_end_screen_changes_what_the_ussd_endpoint_answers() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let key = app.api_key("Super Administrator").await;
    let batch = app.generated_batch(&key, "Templates screens", 2, "w-tpl").await;
    let codes = app.batch_codes(&batch).await;

    let won = "Byiza cyane! Mwatsindiye {amount} {currency}, biraza kuri MoMo.";
    let (status, body) = put(&app, &key, "redemption.succeeded/ussd/rw", json!({"body": won})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["overriddenBy"], "ussd.successMessage.rw");
    // typographic quotes become their GSM-7 forms on a USSD screen
    let (status, body) = put(
        &app,
        &key,
        "redemption.failed.already_redeemed/ussd/rw",
        json!({"body": "Iyi kode yarakoreshejwe – ntiyongera."}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["body"], "Iyi kode yarakoreshejwe - ntiyongera.");

    let end = app.hop("tpl-1", "+250788555001", &format!("1*{}", codes[0])).await;
    assert_eq!(end, "END Byiza cyane! Mwatsindiye 1000 RWF, biraza kuri MoMo.");
    let again = app.hop("tpl-2", "+250788555002", &format!("1*{}", codes[0])).await;
    assert_eq!(again, "END Iyi kode yarakoreshejwe - ntiyongera.");
    // English is untouched
    for text in ["", "3", "3*2"] {
        app.hop("tpl-lang", "+250788555003", text).await;
    }
    let en = app.hop("tpl-3", "+250788555003", &format!("1*{}", codes[0])).await;
    assert_eq!(en, "END This code has already been used.");

    // the USSD setting's own success text wins over the template while it is set
    app.set_settings(
        Category::Ussd,
        json!({"successMessage": {"en": "", "rw": "Yego! {amount} {currency}"}}),
    )
    .await;
    let end = app.hop("tpl-4", "+250788555004", &format!("1*{}", codes[1])).await;
    assert_eq!(end, "END Yego! 1000 RWF");
}
