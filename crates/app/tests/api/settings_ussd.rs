//! The USSD settings as a customer (and the staff watching the traffic) sees them: the service's
//! name, the languages on offer, the company's phone number, timeouts and the menu's depth.

use mbelyco::settings::Category;
use serde_json::{json, Value};

use crate::helpers::{error_fields, spawn_app, TestApp, TestDb};

async fn ready(db: &TestDb) -> (TestApp, String) {
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let key = app.api_key("Super Administrator").await;
    (app, key)
}

/// `PUT /api/v1/admin/settings/{category}` as `key`: the status and the body.
async fn put(app: &TestApp, key: &str, category: &str, settings: Value) -> (u16, Value) {
    let res = app
        .put_json(
            key,
            &format!("/api/v1/admin/settings/{category}"),
            &json!({"settings": settings, "reason": "test"}),
        )
        .await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn code_status(app: &TestApp, code: &str) -> String {
    sqlx::query_scalar("select status from promo_codes where code = $1")
        .bind(code)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_welcome_screen_greets_with_the_service_name_and_staff_read_its_description() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    let (status, _) = put(
        &app,
        &key,
        "ussd",
        json!({"serviceName": "Irangi Rewards", "serviceDescription": "Prizes for paint buyers, paid on MoMo"}),
    )
    .await;
    assert_eq!(status, 200);
    app.state.settings.refresh().await.unwrap();
    assert_eq!(
        app.hop("name-1", "+250788310001", "").await,
        "CON Murakaza neza kuri Irangi Rewards\n1. Injiza kode\n2. Reba kode\n3. Ururimi/Language\n4. Ubufasha"
    );
    let html = app.get_as(&key, "/admin/ussd").await.text().await.unwrap();
    assert!(html.contains("Irangi Rewards *789#"), "the heading names the service");
    assert!(
        html.contains("Prizes for paint buyers, paid on MoMo"),
        "and says what it is for"
    );

    // a name too long for the welcome screen, or empty, is refused and nothing changes
    for bad in ["A name far too long to greet anyone with on a phone", "  "] {
        let (status, body) = put(&app, &key, "ussd", json!({"serviceName": bad})).await;
        assert_eq!(status, 422, "{bad:?}");
        assert_eq!(error_fields(&body), ["ussd.serviceName"], "{body}");
    }
    // the environment is the base URL's and the username's to say (decision 0035)
    let (status, body) = put(&app, &key, "ussd", json!({"africasTalkingEnvironment": "production"})).await;
    assert_eq!(status, 422);
    assert_eq!(error_fields(&body), ["ussd.africasTalkingEnvironment"], "{body}");
    app.state.settings.refresh().await.unwrap();
    assert!(app
        .hop("name-2", "+250788310002", "")
        .await
        .starts_with("CON Murakaza neza kuri Irangi Rewards\n"));
}

#[tokio::test]
async fn the_menu_offers_only_the_supported_languages() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    let phone = "+250788320001";
    // the customer chose English while the choice was offered
    app.hop("lang-1", phone, "").await;
    app.hop("lang-1", phone, "3").await;
    assert!(app
        .hop("lang-1", phone, "3*2")
        .await
        .contains("\n3. Language/Ururimi\n4. Help"));

    // switching off: no language choice, the default language for everyone, help is 3
    app.set_settings(Category::Ussd, json!({"languageSwitchingEnabled": false}))
        .await;
    assert_eq!(
        app.hop("lang-2", phone, "").await,
        "CON Murakaza neza kuri MBELYCO Promo\n1. Injiza kode\n2. Reba kode\n3. Ubufasha"
    );
    let help = app.hop("lang-2", phone, "3").await;
    assert!(help.starts_with("CON Kode iri mu irangi rya MBELYCO."), "{help}");
    let unknown = app.hop("lang-3", phone, "4").await;
    assert!(unknown.starts_with("CON Ibyo wahisemo ntibibaho.\n"), "{unknown}");

    // switching on but English alone: English for everyone, still no choice
    app.set_settings(
        Category::Ussd,
        json!({"languageSwitchingEnabled": true, "supportedLanguages": ["en"], "defaultLanguage": "en"}),
    )
    .await;
    assert_eq!(
        app.hop("lang-4", "+250788320002", "").await,
        "CON Welcome to MBELYCO Promo\n1. Redeem a code\n2. Check a code\n3. Help"
    );

    // the default language must be one of the supported ones
    let (status, body) = put(
        &app,
        &key,
        "ussd",
        json!({"supportedLanguages": ["en"], "defaultLanguage": "rw"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(error_fields(&body), ["ussd.defaultLanguage"], "{body}");
}

#[tokio::test]
async fn the_help_and_blocked_code_screens_name_the_company_phone() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    let batch = app.generated_batch(&key, "Phone", 2, "w-phone").await;
    let codes = app.batch_codes(&batch).await;
    sqlx::query("update promo_codes set status = 'blocked' where code = $1")
        .bind(&codes[0])
        .execute(&app.pool)
        .await
        .unwrap();
    // no number set: no number written in
    let help = app.hop("help-1", "+250788330001", "4").await;
    assert!(!help.contains("Ubufasha:") && !help.contains("0788000000"), "{help}");

    app.set_settings(Category::Branding, json!({"companyPhone": "0788 123 456"}))
        .await;
    let help = app.hop("help-2", "+250788330001", "4").await;
    assert!(
        help.starts_with("CON Kode iri mu irangi rya MBELYCO.")
            && help.ends_with("MTN MoMo. Ubufasha: 0788 123 456\n0. Subira inyuma 00. Ahabanza"),
        "{help}"
    );
    app.hop("blocked", "+250788330002", "").await;
    app.hop("blocked", "+250788330002", "1").await;
    assert_eq!(
        app.hop("blocked", "+250788330002", &format!("1*{}", codes[0])).await,
        "END Iyi kode yahagaritswe. Hamagara 0788 123 456 ngo tugufashe."
    );

    // a number the screens cannot carry is refused, naming the field
    let (status, body) = put(&app, &key, "branding", json!({"companyPhone": "☎ 0788 123 456"})).await;
    assert_eq!(status, 422);
    assert!(error_fields(&body).contains(&"branding.companyPhone"), "{body}");
}

#[tokio::test]
async fn an_idle_session_ends_politely_and_a_later_hop_starts_over() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    let batch = app.generated_batch(&key, "Idle", 2, "w-idle").await;
    let codes = app.batch_codes(&batch).await;
    app.set_settings(
        Category::Ussd,
        json!({"inputTimeoutSeconds": 30, "sessionTimeoutSeconds": 120}),
    )
    .await;
    let phone = "+250788340001";
    app.hop("idle", phone, "").await;
    assert!(app.hop("idle", phone, "1").await.starts_with("CON Andika kode"));
    // the customer put the phone down for 31 seconds before typing the code
    sqlx::query(
        "update ussd_sessions set last_seen_at = last_seen_at - interval '31 seconds' where session_id = 'idle'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let text = format!("1*{}", codes[0]);
    assert_eq!(
        app.hop("idle", phone, &text).await,
        "END Igihe cyawe cyarangiye. Hamagara *789# wongere utangire."
    );
    assert_eq!(
        code_status(&app, &codes[0]).await,
        "active",
        "nothing typed late is used"
    );
    // whatever comes next on that session starts over at the welcome screen
    assert!(app
        .hop("idle", phone, &format!("{text}*1"))
        .await
        .starts_with("CON Murakaza neza kuri MBELYCO Promo\n1. Injiza kode"));

    // a session older than the session timeout ends too, even with quick answers
    app.hop("long", phone, "").await;
    sqlx::query("update ussd_sessions set started_at = started_at - interval '121 seconds' where session_id = 'long'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.hop("long", phone, "1").await,
        "END Igihe cyawe cyarangiye. Hamagara *789# wongere utangire."
    );
    let outcomes: Vec<String> =
        sqlx::query_scalar("select outcome from ussd_interactions where outcome = 'timed_out' order by id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(outcomes.len(), 2, "the traffic log tells a timeout");

    // within the timeouts the session carries on as before
    app.hop("quick", phone, "").await;
    app.hop("quick", phone, "1").await;
    assert!(app
        .hop("quick", phone, &format!("1*{}", codes[1]))
        .await
        .starts_with("END Murakoze!"));
}

#[tokio::test]
async fn a_session_deeper_than_the_menu_allows_ends_and_its_code_is_not_used() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    let batch = app.generated_batch(&key, "Deep", 2, "w-deep").await;
    let codes = app.batch_codes(&batch).await;
    app.set_settings(Category::Ussd, json!({"maxMenuDepth": 3})).await;
    let phone = "+250788350001";
    app.hop("deep", phone, "").await;
    app.hop("deep", phone, "3").await;
    app.hop("deep", phone, "3*2").await;
    assert!(app.hop("deep", phone, "3*2*1").await.starts_with("CON Enter the code"));
    assert_eq!(
        app.hop("deep", phone, &format!("3*2*1*{}", codes[0])).await,
        "END Too many steps in one session. Dial *789# to start again."
    );
    assert_eq!(code_status(&app, &codes[0]).await, "active");
    // the shortest way (1, then the code) fits
    app.hop("short", phone, "").await;
    app.hop("short", phone, "1").await;
    assert!(app
        .hop("short", phone, &format!("1*{}", codes[0]))
        .await
        .starts_with("END Congratulations!"));

    // the bounds: fewer inputs than redeeming takes are refused
    let (status, body) = put(&app, &key, "ussd", json!({"maxMenuDepth": 1})).await;
    assert_eq!(status, 422);
    assert_eq!(error_fields(&body), ["ussd.maxMenuDepth"], "{body}");
}
