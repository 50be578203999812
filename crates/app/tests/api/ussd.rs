//! USSD through HTTP as Africa's Talking speaks it: every screen and failure in both languages,
//! repeats, limits, the session notification and the staff's read endpoints.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp, TestDb, USSD_SECRET};

const PHONE: &str = "+250788123456";

async fn ready(db: &TestDb) -> (TestApp, String) {
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let key = app.api_key("Super Administrator").await;
    (app, key)
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

/// Dials, chooses `lang` (1 = rw, 2 = en) unless rw is wanted, then "redeem" and the code.
async fn redeem(app: &TestApp, session: &str, phone: &str, code: &str) -> String {
    app.hop(session, phone, "").await;
    app.hop(session, phone, "1").await;
    app.hop(session, phone, &format!("1*{code}")).await
}

async fn english(app: &TestApp, phone: &str) {
    let s = format!("lang-{phone}");
    app.hop(&s, phone, "").await;
    app.hop(&s, phone, "3").await;
    let home = app.hop(&s, phone, "3*2").await;
    assert!(home.contains("\n1. Redeem a code\n"), "{home}");
}

#[tokio::test]
async fn a_wrong_secret_gets_403_and_nothing_happens() {
    let db = TestDb::new().await;
    let (app, _) = ready(&db).await;
    for url in [
        app.url("/api/v1/ussd/handle?secret=nope"),
        app.url("/api/v1/ussd/handle"),
        app.url("/api/v1/webhooks/ussd/status?secret=nope"),
    ] {
        let res = app
            .client
            .post(url)
            .form(&[
                ("sessionId", "ATUid_x"),
                ("serviceCode", "*789#"),
                ("phoneNumber", PHONE),
                ("text", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
    }
    assert_eq!(count(&app, "select count(*) from ussd_interactions").await, 0);
    assert_eq!(count(&app, "select count(*) from ussd_sessions").await, 0);
    assert_eq!(count(&app, "select count(*) from customers").await, 0);
}

#[tokio::test]
async fn first_dial_registers_the_customer_and_shows_the_menu_in_kinyarwanda() {
    let db = TestDb::new().await;
    let (app, _) = ready(&db).await;
    let body = app.hop("ATUid_1", PHONE, "").await;
    assert_eq!(
        body,
        "CON Murakaza neza kuri MBELYCO Promo\n1. Injiza kode\n2. Reba kode\n3. Ururimi/Language\n4. Ubufasha"
    );
    let (kind, role, staff_perms): (String, String, i64) = sqlx::query_as(
        "select u.kind, r.name, (select count(*) from role_permissions rp where rp.role_id = r.id) \
         from customers c join users u on u.id = c.user_id \
         join user_role_assignments a on a.user_id = u.id join roles r on r.id = a.role_id where c.msisdn = $1",
    )
    .bind(PHONE)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((kind.as_str(), role.as_str(), staff_perms), ("customer", "Customer", 0));
    assert_eq!(
        count(
            &app,
            "select count(*) from audit_logs where action = 'customer.registered'"
        )
        .await,
        1
    );
    // a second session from the same phone does not register it again
    app.hop("ATUid_2", PHONE, "").await;
    assert_eq!(count(&app, "select count(*) from customers").await, 1);
    let (outcome, input): (String, String) =
        sqlx::query_as("select outcome, input from ussd_interactions where session_id = 'ATUid_1'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((outcome.as_str(), input.as_str()), ("menu", ""));
}

#[tokio::test]
async fn the_language_choice_sticks_to_the_phone_number() {
    let db = TestDb::new().await;
    let (app, _) = ready(&db).await;
    english(&app, PHONE).await;
    let body = app.hop("ATUid_later", PHONE, "").await;
    assert!(
        body.starts_with("CON Welcome to MBELYCO Promo\n1. Redeem a code"),
        "{body}"
    );
    // and back to Kinyarwanda
    app.hop("ATUid_later", PHONE, "3").await;
    let body = app.hop("ATUid_later", PHONE, "3*1").await;
    assert!(body.starts_with("CON Murakaza neza"), "{body}");
}

#[tokio::test]
async fn menus_go_back_and_home_and_help_and_exit() {
    let db = TestDb::new().await;
    let (app, _) = ready(&db).await;
    english(&app, PHONE).await;
    let s = "ATUid_nav";
    app.hop(s, PHONE, "").await;
    let enter = app.hop(s, PHONE, "1").await;
    assert_eq!(
        enter,
        "CON Enter the code from your paint tin (e.g. ABCD-EF26-GH11-JK25):\n0. Back 00. Home"
    );
    let home = app.hop(s, PHONE, "1*0").await;
    assert!(home.starts_with("CON Welcome"), "{home}");
    let help = app.hop(s, PHONE, "1*0*4").await;
    assert!(
        help.starts_with("CON Find the code in your MBELYCO paint tin"),
        "{help}"
    );
    assert!(help.ends_with("0. Back 00. Home"), "{help}");
    let home = app.hop(s, PHONE, "1*0*4*00").await;
    assert!(home.starts_with("CON Welcome"), "{home}");
    let unknown = app.hop(s, PHONE, "1*0*4*00*9").await;
    assert!(
        unknown.starts_with("CON Unknown choice.\n1. Redeem a code"),
        "{unknown}"
    );
    let bye = app.hop(s, PHONE, "1*0*4*00*9*0").await;
    assert_eq!(bye, "END Thank you!");
}

#[tokio::test]
async fn a_code_is_redeemed_once_with_its_payout_queued_and_audited() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    let batch = app.generated_batch(&key, "Ussd happy path", 3, "w-ussd").await;
    let code = app.batch_codes(&batch).await.remove(0);
    english(&app, PHONE).await;
    // typed on a keypad: lower case, no dashes
    let typed = code.replace('-', "").to_lowercase();
    let body = redeem(&app, "ATUid_win", PHONE, &typed).await;
    assert_eq!(
        body,
        "END Congratulations! You won 1000 RWF. You will receive it on MoMo shortly."
    );
    let (status, used_at): (String, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("select status, used_at from promo_codes where code = $1")
            .bind(&code)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(status, "used");
    assert!(used_at.is_some());
    let (r_status, amount, d_status, msisdn, session): (String, i64, String, String, Option<String>) = sqlx::query_as(
        "select r.status, r.amount, d.status, d.msisdn, r.ussd_session_id from redemptions r \
         join disbursements d on d.redemption_id = r.id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (
            r_status.as_str(),
            amount,
            d_status.as_str(),
            msisdn.as_str(),
            session.as_deref()
        ),
        ("pending", 1000, "queued", "250788123456", Some("ATUid_win"))
    );
    assert_eq!(
        count(
            &app,
            "select count(*) from audit_logs where action = 'redemption.created'"
        )
        .await,
        1
    );

    // the gateway delivers the last hop again: same answer, nothing new
    let again = app.hop("ATUid_win", PHONE, &format!("1*{typed}")).await;
    assert_eq!(again, body);
    assert_eq!(count(&app, "select count(*) from redemptions").await, 1);
    assert_eq!(
        count(&app, "select count(*) from ussd_interactions where outcome = 'repeat'").await,
        1
    );

    // anyone else (or the same customer later) is told it is used
    let other = "+250791000001";
    let body = redeem(&app, "ATUid_late", other, &code).await;
    assert_eq!(body, "END Iyi kode yamaze gukoreshwa.");
    assert_eq!(count(&app, "select count(*) from redemptions").await, 1);

    // the staff see the session with every hop
    let res = app.get_as(&key, "/api/v1/ussd/session/ATUid_win").await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    let outcomes: Vec<&str> = v["data"]["interactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["menu", "menu", "redeemed", "repeat"]);
    assert!(v["data"]["redemptionId"].is_string());
    let res = app.get_as(&key, "/api/v1/ussd/status").await;
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["data"]["configured"], true);
    assert!(v["data"]["lastHour"]["hops"].as_i64().unwrap() >= 8);
}

#[tokio::test]
async fn every_failure_has_its_own_message_in_both_languages_and_changes_no_code() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    // the number a customer with a blocked code is told to call (settings)
    app.set_settings(
        mbelyco::settings::Category::Branding,
        json!({"companyPhone": "0788000000"}),
    )
    .await;
    let batch = app.generated_batch(&key, "Ussd failures", 4, "w-fail").await;
    let codes = app.batch_codes(&batch).await;
    sqlx::query("update promo_codes set status = 'blocked' where code = $1")
        .bind(&codes[0])
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("update promo_codes set expires_at = now() - interval '1 day' where code = $1")
        .bind(&codes[1])
        .execute(&app.pool)
        .await
        .unwrap();
    let en = "+250788000002";
    english(&app, en).await;
    let cases: [(&str, &str, &str); 5] = [
        (
            "abcd",
            "CON Iyo si kode. Kode igira inyuguti n'imibare 16, nka ABCD-EF26-GH11-JK25. Ongera:\n0. Subira inyuma 00. Ahabanza",
            "CON That is not a code. A code has 16 letters and digits, like ABCD-EF26-GH11-JK25. Try again:\n0. Back 00. Home",
        ),
        (
            "ABCD*EF26GH11JK25",
            "CON Kode ntigira *. Andika inyuguti n'imibare gusa, wongere:\n0. Subira inyuma 00. Ahabanza",
            "CON A code has no *. Type only its letters and digits, try again:\n0. Back 00. Home",
        ),
        (
            "ZZZZ-ZZ26-ZZ11-ZZ25",
            "END Iyi kode ntibaho. Reba neza kode iri ku irangi wongere uhamagare.",
            "END This code does not exist. Check the code on your tin and dial again.",
        ),
        (
            &codes[0],
            "END Iyi kode yahagaritswe. Hamagara 0788000000 ngo tugufashe.",
            "END This code is blocked. Call 0788000000 for help.",
        ),
        (
            &codes[1],
            "END Igihe cy'iyi kode cyararangiye.",
            "END This code has expired.",
        ),
    ];
    let before: Vec<(String, String)> = sqlx::query_as("select code, status from promo_codes order by code")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    for (i, (typed, rw, en_text)) in cases.iter().enumerate() {
        let rw_phone = format!("+25078800010{i}");
        assert_eq!(
            redeem(&app, &format!("rw-{i}"), &rw_phone, typed).await,
            *rw,
            "rw {typed}"
        );
        assert_eq!(
            redeem(&app, &format!("en-{i}"), en, typed).await,
            *en_text,
            "en {typed}"
        );
    }
    let after: Vec<(String, String)> = sqlx::query_as("select code, status from promo_codes order by code")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(before, after);
    assert_eq!(count(&app, "select count(*) from redemptions").await, 0);

    // a retyped code after a slip is taken in the same session
    let s = "ATUid_retry";
    app.hop(s, en, "").await;
    app.hop(s, en, "1").await;
    app.hop(s, en, "1*abc").await;
    let body = app.hop(s, en, &format!("1*abc*{}", codes[2])).await;
    assert!(body.starts_with("END Congratulations! You won 1000 RWF"), "{body}");

    // "check a code" tells what it is worth without using it
    app.hop("ATUid_check", en, "").await;
    app.hop("ATUid_check", en, "2").await;
    let body = app.hop("ATUid_check", en, &format!("2*{}", codes[3])).await;
    assert!(
        body.starts_with("END This code is valid: 1000 RWF, until 30/06/2027"),
        "{body}"
    );
    let status: String = sqlx::query_scalar("select status from promo_codes where code = $1")
        .bind(&codes[3])
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "active");
}

#[tokio::test]
async fn numbers_that_momo_cannot_pay_are_told_before_anything_happens() {
    let db = TestDb::new().await;
    let (app, _) = ready(&db).await;
    for phone in ["+250722123456", "+250731234567", "+254712345678"] {
        let body = app.hop(&format!("s{phone}"), phone, "").await;
        assert_eq!(
            body,
            "END Ibihembo byishyurwa kuri MTN MoMo gusa. Hamagara ukoresheje nimero ya MTN (078 cyangwa 079)."
        );
    }
    assert_eq!(count(&app, "select count(*) from customers").await, 0);
    assert_eq!(
        count(&app, "select count(*) from ussd_interactions where outcome = 'not_mtn'").await,
        3
    );
}

#[tokio::test]
async fn too_many_attempts_block_the_phone_and_wrong_codes_flag_it() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    let batch = app.generated_batch(&key, "Ussd limits", 1, "w-lim").await;
    let code = app.batch_codes(&batch).await.remove(0);
    english(&app, PHONE).await;
    for i in 0..5 {
        let body = redeem(&app, &format!("guess-{i}"), PHONE, &format!("ZZZZ-ZZ26-ZZ11-ZZ2{i}")).await;
        assert!(body.starts_with("END This code does not exist"), "{body}");
    }
    let flagged: Option<String> = sqlx::query_scalar("select flag_reason from customers where msisdn = $1")
        .bind(PHONE)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(flagged.as_deref(), Some("5 unknown codes within a day"));
    // the sixth attempt in a minute is refused, even with a good code, and the code stays active
    let body = redeem(&app, "guess-6", PHONE, &code).await;
    assert_eq!(body, "END Too many attempts. Please wait a while and try again.");
    let body = redeem(&app, "guess-7", PHONE, &code).await;
    assert_eq!(body, "END Too many attempts. Please wait a while and try again.");
    let outcomes: Vec<String> =
        sqlx::query_scalar("select outcome from ussd_interactions where session_id in ('guess-6', 'guess-7') and input <> '' and input <> '1' order by id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(outcomes, ["rate_limited", "phone_blocked"]);
    assert_eq!(
        count(&app, "select count(*) from promo_codes where status = 'active'").await,
        1
    );
    // another phone is not affected
    let body = redeem(&app, "other", "+250788999999", &code).await;
    assert!(body.starts_with("END Murakoze! Mwatsindiye 1000 RWF"), "{body}");
}

#[tokio::test]
async fn a_code_locked_elsewhere_answers_busy_within_the_lock_timeout() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    app.set_settings(mbelyco::settings::Category::Business, json!({"lockTimeoutSeconds": 1}))
        .await;
    let batch = app.generated_batch(&key, "Ussd busy", 1, "w-busy").await;
    let code = app.batch_codes(&batch).await.remove(0);
    let mut holder = app.pool.begin().await.unwrap();
    sqlx::query("select 1 from promo_codes where code = $1 for update")
        .bind(&code)
        .execute(&mut *holder)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let body = redeem(&app, "ATUid_busy", PHONE, &code).await;
    assert_eq!(body, "END Serivisi ihuze. Ongera ugerageze mu kanya.");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    holder.rollback().await.unwrap();
    assert_eq!(count(&app, "select count(*) from redemptions").await, 0);
    assert_eq!(
        count(&app, "select count(*) from promo_codes where status = 'active'").await,
        1
    );
    assert_eq!(
        count(&app, "select count(*) from ussd_interactions where outcome = 'busy'").await,
        1
    );
    // once free, the customer can try again
    let body = redeem(&app, "ATUid_busy2", PHONE, &code).await;
    assert!(body.starts_with("END Murakoze!"), "{body}");
}

#[tokio::test]
async fn the_end_of_session_notification_is_stored_and_always_acknowledged() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    app.hop("ATUid_ev", PHONE, "").await;
    let url = app.url(&format!("/api/v1/webhooks/ussd/status?secret={USSD_SECRET}"));
    let res = app
        .client
        .post(&url)
        .form(&[
            ("date", "2026-11-25 10:00:05"),
            ("sessionId", "ATUid_ev"),
            ("serviceCode", "*789#"),
            ("networkCode", "63510"),
            ("phoneNumber", PHONE),
            ("status", "Incomplete"),
            ("cost", "RWF 0.00"),
            ("durationInMillis", "30512"),
            ("hopsCount", "1"),
            ("input", ""),
            ("lastAppResponse", "CON Murakaza neza"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for junk in [&b"\xff\xfe"[..], b"sessionId=&hopsCount=lots", b"{\"json\": true}", b""] {
        let res = app.client.post(&url).body(junk.to_vec()).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    let v: Value = app
        .get_as(&key, "/api/v1/ussd/session/ATUid_ev")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"]["finalStatus"], "Incomplete");
    assert_eq!(v["data"]["durationMs"], 30512);
    assert_eq!(v["data"]["hops"], 1);
    let res = app.get_as(&key, "/api/v1/ussd/session/ATUid_none").await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn staff_endpoints_need_their_permission() {
    let db = TestDb::new().await;
    let (app, _) = ready(&db).await;
    for path in ["/api/v1/ussd/status", "/api/v1/ussd/session/x"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 401, "{path}");
    }
    // a Viewer reads redemptions but does not monitor the service
    let viewer = app.api_key("Viewer").await;
    assert_eq!(app.get_as(&viewer, "/api/v1/ussd/status").await.status(), 403);
    assert_eq!(app.get_as(&viewer, "/api/v1/ussd/session/x").await.status(), 404);
}

#[tokio::test]
async fn a_whole_session_through_the_gateway_simulator() {
    use simulators::at::{Gateway, GatewayConfig, ScreenKind};
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    let batch = app.generated_batch(&key, "Ussd simulator", 1, "w-sim").await;
    let code = app.batch_codes(&batch).await.remove(0);
    let events = app.url(&format!("/api/v1/webhooks/ussd/status?secret={USSD_SECRET}"));
    let gateway = Gateway::new(GatewayConfig::new(app.ussd_url()).with_events_url(events)).unwrap();

    let (session, screen) = gateway.dial(PHONE, None).await.unwrap();
    assert_eq!(screen.kind, ScreenKind::Con);
    assert!(screen.violations.is_empty(), "{:?}", screen.violations);
    assert!(session.id().starts_with("ATUid_"));
    let screen = session.send("3").await.unwrap();
    assert!(
        screen.text.starts_with("Hitamo ururimi / Choose language"),
        "{}",
        screen.text
    );
    let screen = session.send("2").await.unwrap();
    assert!(screen.text.starts_with("Welcome to MBELYCO Promo"), "{}", screen.text);
    session.send("1").await.unwrap();
    // typed on a keypad: spaces and lower case
    let typed = code.replace('-', " ").to_lowercase();
    let screen = session.send(&typed).await.unwrap();
    assert_eq!(screen.kind, ScreenKind::End);
    assert_eq!(
        screen.text,
        "Congratulations! You won 1000 RWF. You will receive it on MoMo shortly."
    );
    assert!(screen.violations.is_empty(), "{:?}", screen.violations);

    let delivery = session.event_delivery().await.unwrap();
    assert!(delivery.delivered);
    let v: Value = app
        .get_as(&key, &format!("/api/v1/ussd/session/{}", session.id()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"]["finalStatus"], "Success");
    assert_eq!(v["data"]["hops"], 5);
    assert_eq!(v["data"]["lastOutcome"], "redeemed");
    assert_eq!(count(&app, "select count(*) from redemptions").await, 1);
}

#[tokio::test]
async fn a_hop_delivered_twice_by_the_gateway_pays_once() {
    use simulators::at::{DialOptions, Gateway, GatewayConfig};
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    let batch = app.generated_batch(&key, "Ussd duplicate", 1, "w-dup").await;
    let code = app.batch_codes(&batch).await.remove(0);
    let gateway = Gateway::new(GatewayConfig::new(app.ussd_url())).unwrap();
    let (session, _) = gateway
        .dial_with(
            PHONE,
            DialOptions {
                duplicate_delivery: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    session.send("1").await.unwrap();
    let screen = session.send(&code).await.unwrap();
    assert!(screen.text.starts_with("Murakoze!"), "{}", screen.text);
    let dup = screen.duplicate.expect("the hop was delivered twice");
    assert!(dup.identical, "the repeat got {:?}", dup.second_answer);
    assert_eq!(count(&app, "select count(*) from redemptions").await, 1);
    assert_eq!(
        count(&app, "select count(*) from ussd_interactions where outcome = 'repeat'").await,
        3
    );
}

#[tokio::test]
async fn a_staff_members_own_phone_becomes_a_customer_without_the_customer_role() {
    let db = TestDb::new().await;
    let (app, _) = ready(&db).await;
    sqlx::query("update users set phone_number = $1 where email = $2")
        .bind(PHONE)
        .bind(crate::helpers::ADMIN_EMAIL)
        .execute(&app.pool)
        .await
        .unwrap();
    let body = app.hop("ATUid_staff", PHONE, "").await;
    assert!(body.starts_with("CON Murakaza neza"), "{body}");
    let (kind, customer_roles): (String, i64) = sqlx::query_as(
        "select u.kind, (select count(*) from user_role_assignments a join roles r on r.id = a.role_id \
                         where a.user_id = u.id and r.name = 'Customer') \
         from customers c join users u on u.id = c.user_id where c.msisdn = $1",
    )
    .bind(PHONE)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((kind.as_str(), customer_roles), ("staff", 0));
}

#[tokio::test]
async fn the_remaining_refusals_in_both_languages() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    // a check character, so a typo is told from a guess
    app.set_settings(
        mbelyco::settings::Category::Business,
        json!({"codeGeneration": {"characterSet": "ABCDEFGHJKLMNPQRSTUVWXYZ23456789", "includeChecksum": true},
               "redemption": {"allowMultipleRedemptions": true, "maxRedemptionsPerUser": 1, "cooldownPeriodMinutes": 0,
                              "fraudDetectionEnabled": true, "wrongCodeFlagThreshold": 5}}),
    )
    .await;
    let batch = app.generated_batch(&key, "Ussd refusals", 6, "w-ref").await;
    let codes = app.batch_codes(&batch).await;
    let closed = app.generated_batch(&key, "Ussd closed", 2, "w-closed").await;
    let closed_codes = app.batch_codes(&closed).await;
    sqlx::query("update batches set status = 'blocked' where id = $1::uuid")
        .bind(&closed)
        .execute(&app.pool)
        .await
        .unwrap();
    let (rw, en) = ("+250788200001", "+250788200002");
    english(&app, en).await;

    // a typo: one character changed breaks the check character
    let mut typo = codes[0].clone().into_bytes();
    typo[0] = if typo[0] == b'A' { b'B' } else { b'A' };
    let typo = String::from_utf8(typo).unwrap();
    assert_eq!(
        redeem(&app, "t-rw", rw, &typo).await,
        "CON Hari inyuguti yanditse nabi. Reba kode neza wongere uyandike:\n0. Subira inyuma 00. Ahabanza"
    );
    assert_eq!(
        redeem(&app, "t-en", en, &typo).await,
        "CON A character is mistyped. Check the code and type it again:\n0. Back 00. Home"
    );
    // the promotion of a blocked batch is over
    assert_eq!(
        redeem(&app, "c-rw", rw, &closed_codes[0]).await,
        "END Iyi poromosiyo ntikiri gukora."
    );
    assert_eq!(
        redeem(&app, "c-en", en, &closed_codes[1]).await,
        "END This promotion is no longer running."
    );
    // one prize per customer per day (settings): the second is refused and the code stays active
    assert!(redeem(&app, "w-rw", rw, &codes[1]).await.starts_with("END Murakoze!"));
    assert!(redeem(&app, "w-en", en, &codes[2])
        .await
        .starts_with("END Congratulations!"));
    assert_eq!(
        redeem(&app, "l-rw", rw, &codes[3]).await,
        "END Wageze ku mubare ntarengwa w'ibihembo. Ongera ugerageze ejo."
    );
    assert_eq!(
        redeem(&app, "l-en", en, &codes[4]).await,
        "END You have reached the prize limit for now. Try again tomorrow."
    );
    // already used, in English
    assert_eq!(
        redeem(&app, "u-en", "+250788200003", &codes[1]).await,
        "END Iyi kode yamaze gukoreshwa."
    );
    english(&app, "+250788200004").await;
    assert_eq!(
        redeem(&app, "u-en2", "+250788200004", &codes[1]).await,
        "END This code has already been used."
    );
    let active: i64 = count(&app, "select count(*) from promo_codes where status = 'active'").await;
    assert_eq!(active, 6, "codes 0, 3, 4, 5 and the closed batch's two stay active");
    // too many attempts, in Kinyarwanda: guesses with a valid check character reach the database
    // and count (a typo is caught before, and does not)
    let guesser = "+250788200005";
    let alphabet = mbelyco::codes::format::Alphabet::new("ABCDEFGHJKLMNPQRSTUVWXYZ23456789").unwrap();
    let mut guesses = mbelyco::codes::format::Generator::new(alphabet, true, crate::helpers::now(), rand::rngs::OsRng);
    for i in 0..5 {
        let body = redeem(&app, &format!("g{i}"), guesser, guesses.next_code().as_str()).await;
        assert!(body.starts_with("END Iyi kode ntibaho."), "{body}");
    }
    assert_eq!(
        redeem(&app, "g5", guesser, &codes[5]).await,
        "END Wagerageje inshuro nyinshi. Tegereza gato wongere ugerageze."
    );
}

#[tokio::test]
async fn welcome_help_and_success_texts_come_from_settings() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    app.set_settings(
        mbelyco::settings::Category::Ussd,
        json!({
            "welcomeMessage": {"en": "Hello from MBELYCO Paints", "rw": "Muraho, MBELYCO Paints"},
            "helpMessage": {"en": "Call 0788111222 for help.", "rw": "Hamagara 0788111222."},
            "successMessage": {"en": "Well done: {amount} {currency} on its way.", "rw": "Byagenze neza: {amount} {currency}."}
        }),
    )
    .await;
    let batch = app.generated_batch(&key, "Ussd texts", 1, "w-texts").await;
    let code = app.batch_codes(&batch).await.remove(0);
    let home = app.hop("s1", PHONE, "").await;
    assert!(home.starts_with("CON Muraho, MBELYCO Paints\n1. Injiza kode"), "{home}");
    let help = app.hop("s1", PHONE, "4").await;
    assert_eq!(help, "CON Hamagara 0788111222.\n0. Subira inyuma 00. Ahabanza");
    english(&app, PHONE).await;
    let body = redeem(&app, "s2", PHONE, &code).await;
    assert_eq!(body, "END Well done: 1000 RWF on its way.");
}
