//! Issue 17, USSD and codes: typed codes masked in every transcript (item 3), dialling limits per
//! phone (item 10), the check character decided per batch (item 12), custom texts checked on
//! every screen they appear on (item 13), and characters no code has (item 14).

use serde_json::{json, Value};

use crate::helpers::{error_fields, spawn_app, TestApp, TestDb, USSD_SECRET};

const PHONE: &str = "+250788123456";
const ALPHABET: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

async fn ready(db: &TestDb) -> (TestApp, String) {
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let key = app.api_key("Super Administrator").await;
    (app, key)
}

async fn english(app: &TestApp, phone: &str) {
    let s = format!("lang-{phone}");
    app.hop(&s, phone, "").await;
    app.hop(&s, phone, "3").await;
    let home = app.hop(&s, phone, "3*2").await;
    assert!(home.contains("\n1. Redeem a code\n"), "{home}");
}

/// Dials, chooses "redeem" and types the code.
async fn redeem(app: &TestApp, session: &str, phone: &str, code: &str) -> String {
    app.hop(session, phone, "").await;
    app.hop(session, phone, "1").await;
    app.hop(session, phone, &format!("1*{code}")).await
}

async fn put_settings(app: &TestApp, key: &str, category: &str, settings: Value) -> (u16, Value) {
    let res = app
        .put_json(
            key,
            &format!("/api/v1/admin/settings/{category}"),
            &json!({ "settings": settings }),
        )
        .await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Every way a code could be written out in full: as printed, without dashes, lower case, and
/// its two middle groups (the mask shows only the first and the last).
fn full_forms(code: &str) -> Vec<String> {
    let bare = code.replace('-', "");
    vec![
        code.to_owned(),
        bare.clone(),
        bare.to_lowercase(),
        code.to_lowercase(),
        code[5..14].to_owned(),
        bare[4..12].to_owned(),
    ]
}

fn assert_no_code(what: &str, text: &str, codes: &[String]) {
    for code in codes {
        for form in full_forms(code) {
            assert!(!text.contains(&form), "{what} shows {form} of {code}: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_codes_are_masked_in_the_session_the_interactions_and_the_monitor() {
    use simulators::at::{Gateway, GatewayConfig};
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    let batch = app.generated_batch(&key, "Masked transcripts", 3, "w-mask").await;
    let codes = app.batch_codes(&batch).await;

    // "check a code", typed on a keypad (lower case, no dashes)
    app.hop("s-check", PHONE, "").await;
    app.hop("s-check", PHONE, "2").await;
    let typed = codes[0].replace('-', "").to_lowercase();
    let body = app.hop("s-check", PHONE, &format!("2*{typed}")).await;
    assert!(body.starts_with("END Iyi kode ni nzima"), "{body}");
    // a slip, then the code, in one session; the gateway repeats the last hop
    app.hop("s-redeem", PHONE, "").await;
    app.hop("s-redeem", PHONE, "1").await;
    let slip = &codes[1][..12];
    app.hop("s-redeem", PHONE, &format!("1*{slip}")).await;
    let last = format!("1*{slip}*{}", codes[1]);
    let won = app.hop("s-redeem", PHONE, &last).await;
    assert!(won.starts_with("END Murakoze!"), "{won}");
    assert_eq!(
        app.hop("s-redeem", PHONE, &last).await,
        won,
        "a repeat gets the same answer"
    );
    // a whole session through the gateway, with its end-of-session notification
    let events = app.url(&format!("/api/v1/webhooks/ussd/status?secret={USSD_SECRET}"));
    let gateway = Gateway::new(GatewayConfig::new(app.ussd_url()).with_events_url(events)).unwrap();
    let (session, _) = gateway.dial("+250788123457", None).await.unwrap();
    session.send("1").await.unwrap();
    let screen = session.send(&codes[2]).await.unwrap();
    assert!(screen.text.starts_with("Murakoze!"), "{}", screen.text);
    assert!(session.event_delivery().await.unwrap().delivered);
    let gateway_session = session.id().to_owned();

    // a row stored before the mask: the migration masks it as the app does
    sqlx::query(
        "insert into ussd_interactions (session_id, phone_number, service_code, input, response, outcome, \
         latency_ms, created_at) values ('s-old', $1, '*789#', $2, 'END Iyi kode ni nzima', 'code_valid', 5, now())",
    )
    .bind(PHONE)
    .bind(format!("2*{}", codes[0]))
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into ussd_sessions (session_id, phone_number, service_code, started_at, last_seen_at, last_text, \
         final_input) values ('s-old', $1, '*789#', now(), now(), $2, $2)",
    )
    .bind(PHONE)
    .bind(format!("2*{typed}"))
    .execute(&app.pool)
    .await
    .unwrap();
    let migration = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/migrations/20261207000023_ussd_masked_inputs_and_batch_check_character.sql"
    ))
    .expect("the migration that masks stored inputs");
    let masking = &migration[migration.find("create function pg_temp").unwrap()..];
    let mut conn = app.pool.acquire().await.unwrap();
    sqlx::raw_sql(masking).execute(&mut *conn).await.unwrap();
    drop(conn);

    // nothing anyone reads outside the code views holds a whole code
    let mut seen = String::new();
    for id in ["s-check", "s-redeem", "s-old", gateway_session.as_str()] {
        let res = app.get_as(&key, &format!("/api/v1/ussd/session/{id}")).await;
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        assert_no_code(&format!("session {id}"), &text, &codes);
        seen.push_str(&text);
        let res = app.get_as(&key, &format!("/admin/ussd/sessions/{id}")).await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        assert_no_code(&format!("session page {id}"), &html, &codes);
    }
    let res = app.get_as(&key, "/api/v1/ussd/interactions").await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert_no_code("interactions", &text, &codes);
    let html = app.get_as(&key, "/admin/ussd").await.text().await.unwrap();
    assert_no_code("monitor", &html, &codes);
    // and nothing stored does either
    let stored: Vec<String> = sqlx::query_scalar(
        "select input from ussd_interactions union all select coalesce(last_text, '') from ussd_sessions \
         union all select coalesce(final_input, '') from ussd_sessions",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_no_code("stored transcripts", &stored.join("\n"), &codes);
    // what staff see still tells the codes apart
    for code in &codes {
        let masked = format!("{}-…-{}", &code[..4], &code[15..]);
        assert!(seen.contains(&masked) || text.contains(&masked), "{masked} not shown");
    }
    assert!(seen.contains("\"finalInput\":\"1*"), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_over_its_ussd_dialling_limit_gets_a_polite_end_in_its_language() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    let en = "+250788000011";
    english(&app, en).await; // three hops
    let (status, body) = put_settings(
        &app,
        &key,
        "security",
        json!({"rateLimiting": {"ussdRequestsPerMinute": 3, "ussdRequestsPerHour": 10}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["settings"]["rateLimiting"]["ussdRequestsPerMinute"], 3);

    // three sessions of one hop each are served, the fourth dial is turned away
    let rw = "+250788000012";
    for i in 0..3 {
        let menu = app.hop(&format!("rw-{i}"), rw, "").await;
        assert!(menu.starts_with("CON Murakaza neza"), "{menu}");
    }
    let over = app.hop("rw-3", rw, "").await;
    assert_eq!(
        over,
        "END Mwahamagaye kenshi cyane. Tegereza iminota mike wongere uhamagare."
    );
    // menus count too: the English caller's three menu hops used its minute
    let over = app.hop("en-1", en, "").await;
    assert_eq!(
        over,
        "END You have dialled too often. Please wait a few minutes and dial again."
    );
    // another phone is served
    let menu = app.hop("other", "+250788000013", "").await;
    assert!(menu.starts_with("CON Murakaza neza"), "{menu}");
    let refused: i64 = sqlx::query_scalar("select count(*) from ussd_interactions where outcome = 'too_many_requests'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(refused, 2);

    // the limits have bounds, and the hour holds at least the minute
    let (status, body) = put_settings(
        &app,
        &key,
        "security",
        json!({"rateLimiting": {"ussdRequestsPerMinute": 50, "ussdRequestsPerHour": 10}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        error_fields(&body).contains(&"security.rateLimiting.ussdRequestsPerHour"),
        "{body}"
    );
    let (status, body) = put_settings(
        &app,
        &key,
        "security",
        json!({"rateLimiting": {"ussdRequestsPerMinute": 0}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        error_fields(&body).contains(&"security.rateLimiting.ussdRequestsPerMinute"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_printed_before_the_check_character_was_switched_on_is_still_redeemed() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    let alphabet = mbelyco::codes::format::Alphabet::new(ALPHABET).unwrap();
    let batch = app.generated_batch(&key, "Printed before", 8, "w-before").await;
    // the printed sheet (CSV export)
    let res = app
        .get_as(
            &key,
            &format!("/api/v1/admin/promo-codes/export?format=csv&batchId={batch}"),
        )
        .await;
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    let printed: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().trim_matches('"').to_owned())
        .collect();
    assert_eq!(printed.len(), 8);
    // codes made without a check character almost never happen to carry a right one
    let wrong_check: Vec<&String> = printed
        .iter()
        .filter(|c| !mbelyco::codes::format::parse(c).unwrap().check_ok(&alphabet))
        .collect();
    assert!(wrong_check.len() >= 3, "{printed:?}");

    let (status, body) = put_settings(
        &app,
        &key,
        "business",
        json!({"codeGeneration": {"characterSet": ALPHABET, "includeChecksum": true}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let after = app.generated_batch(&key, "Made after", 2, "w-after").await;
    let new_codes = app.batch_codes(&after).await;

    // the printed codes: redeemed and checked as before the switch
    let body = redeem(&app, "s-old", PHONE, wrong_check[0]).await;
    assert_eq!(
        body,
        "END Murakoze! Mwatsindiye 1000 RWF. Muzayakira kuri MoMo mu kanya."
    );
    app.hop("s-old-check", "+250788000021", "").await;
    app.hop("s-old-check", "+250788000021", "2").await;
    let body = app
        .hop("s-old-check", "+250788000021", &format!("2*{}", wrong_check[1]))
        .await;
    assert!(body.starts_with("END Iyi kode ni nzima"), "{body}");
    // the batch made after the switch carries check characters: a typo of its code is told apart
    let code = &new_codes[0];
    assert!(mbelyco::codes::format::parse(code).unwrap().check_ok(&alphabet));
    let mut typo = code.clone().into_bytes();
    typo[0] = if typo[0] == b'A' { b'B' } else { b'A' };
    let typo = String::from_utf8(typo).unwrap();
    let en = "+250788000022";
    english(&app, en).await;
    assert_eq!(
        redeem(&app, "s-typo", en, &typo).await,
        "CON A character is mistyped. Check the code and type it again:\n0. Back 00. Home"
    );
    // and retyped right in the same session
    let body = app.hop("s-typo", en, &format!("1*{typo}*{code}")).await;
    assert!(body.starts_with("END Congratulations!"), "{body}");
    // the API's verdict follows the batch too
    let res = app
        .post_json(
            &key,
            "/api/v1/admin/promo-codes/validate",
            &json!({"code": wrong_check[2]}),
        )
        .await;
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        (v["verdict"].as_str(), v["checkCharacter"].as_str()),
        (Some("exists"), Some("off")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ussd_texts_are_checked_on_every_screen_they_appear_on_in_both_languages() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    // 120 characters were accepted, but the home screen adds the menu under the welcome text
    let (status, body) = put_settings(
        &app,
        &key,
        "ussd",
        json!({"welcomeMessage": {"en": "W".repeat(120), "rw": ""}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let e = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "ussd.welcomeMessage.en")
        .unwrap_or_else(|| panic!("{body}"));
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("English") && message.contains("181 GSM-7 septets"),
        "{message}"
    );

    // and in Kinyarwanda, whose menu is one character shorter
    let (status, body) = put_settings(
        &app,
        &key,
        "ussd",
        json!({"welcomeMessage": {"en": "", "rw": "H".repeat(110)}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let e = &body["errors"][0];
    assert_eq!(e["field"], "ussd.welcomeMessage.rw", "{body}");
    assert!(e["message"].as_str().unwrap().contains("Kinyarwanda"), "{body}");
    assert!(e["message"].as_str().unwrap().contains("170 GSM-7 septets"), "{body}");

    // a character GSM-7 cannot carry is refused
    let (status, body) = put_settings(
        &app,
        &key,
        "ussd",
        json!({"errorMessage": {"en": "Sorry 😔 try later", "rw": ""}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_fields(&body), ["ussd.errorMessage.en"], "{body}");

    // typographic quotes, dashes and the ellipsis become their GSM-7 forms
    let help = "Call \u{201C}0788111222\u{201D} \u{2014} any time\u{2026}";
    let (status, body) = put_settings(&app, &key, "ussd", json!({"helpMessage": {"en": help, "rw": help}})).await;
    assert_eq!(status, 200, "{body}");
    app.hop("s-help", PHONE, "").await;
    let screen = app.hop("s-help", PHONE, "4").await;
    assert_eq!(
        screen,
        "CON Call \"0788111222\" - any time...\n0. Subira inyuma 00. Ahabanza"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn characters_no_code_has_are_not_a_code_without_a_lookup_or_a_fraud_flag() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    app.set_settings(mbelyco::settings::Category::Business, json!({"lockTimeoutSeconds": 1}))
        .await;
    let batch = app.generated_batch(&key, "Not a code", 1, "w-nac").await;
    let code = app.batch_codes(&batch).await.remove(0);
    english(&app, PHONE).await;

    // nothing may look a code up while the table is held: a lookup would answer "busy"
    let mut holder = app.pool.begin().await.unwrap();
    sqlx::query("lock table promo_codes in access exclusive mode")
        .execute(&mut *holder)
        .await
        .unwrap();
    // O and I are not in the character set (0 and 1 only appear in dates)
    for (i, typed) in ["OOOO-OO26-OO11-OO25", "abcd ef26 gi11 jk25", "WXYZ-WX26-WX11-WO25"]
        .iter()
        .cycle()
        .take(7)
        .enumerate()
    {
        let letter = if i % 3 == 1 { 'I' } else { 'O' };
        assert_eq!(
            redeem(&app, &format!("nac-{i}"), PHONE, typed).await,
            format!(
                "CON That is not a code: no code has the letter {letter}. Check the code and type it again:\n0. Back 00. Home"
            ),
            "{typed}"
        );
    }
    // "check a code" too, in Kinyarwanda for a new caller
    let rw = "+250788000031";
    app.hop("nac-rw", rw, "").await;
    app.hop("nac-rw", rw, "2").await;
    assert_eq!(
        app.hop("nac-rw", rw, "2*OOOO-OO26-OO11-OO25").await,
        "CON Iyo si kode: nta kode igira inyuguti O. Reba kode neza wongere uyandike:\n0. Subira inyuma 00. Ahabanza"
    );
    holder.rollback().await.unwrap();

    // seven of them in a minute: no fraud flag, but the attempt limits hold
    let flagged: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select flagged_at from customers where msisdn = $1")
            .bind(PHONE)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(flagged, None);
    assert_eq!(
        redeem(&app, "nac-real", PHONE, &code).await,
        "END Too many attempts. Please wait a while and try again."
    );
    let active: String = sqlx::query_scalar("select status from promo_codes where code = $1")
        .bind(&code)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(active, "active");
}
