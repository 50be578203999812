//! The security settings take effect (issue #20): staff address lists (and the confirmation a
//! change that locks out its author needs), password age, the default role and the registration
//! e-mail, failed sign-ins of unknown e-mails in the audit trail, lock-out alerts.

use mbelyco::settings::Category;
use serde_json::{json, Value};

use crate::helpers::{
    finish_enrolment, html_value, password_step, spawn_app, TestApp, TestDb, ADMIN_EMAIL, ADMIN_PASSWORD,
};
use crate::users::smtp_sink;

async fn security_list(app: &TestApp, key: &str, list: &str) -> Value {
    let v: Value = app
        .get_as(key, "/api/v1/admin/settings/security")
        .await
        .json()
        .await
        .unwrap();
    v["settings"][list].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_from_outside_the_allow_list_or_inside_the_block_list_get_403_while_the_ussd_callback_still_works() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let admin = app.api_key("Super Administrator").await;
    let path = "/api/v1/admin/settings/security";

    // this caller comes from 127.0.0.1: allowing only 10.0.0.0/8 would lock them out
    let change = json!({"settings": {"ipAllowlist": ["10.0.0.0/8"]}, "reason": "office only"});
    let res = app.put_json(&admin, path, &change).await;
    assert_eq!(res.status(), 409);
    let problem: Value = res.json().await.unwrap();
    assert!(problem.to_string().contains("security.ipAllowlist"), "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("confirmLockout"),
        "{problem}"
    );
    assert_eq!(
        security_list(&app, &admin, "ipAllowlist").await,
        json!([]),
        "refused: nothing changed"
    );

    let confirmed =
        json!({"settings": {"ipAllowlist": ["10.0.0.0/8"]}, "reason": "office only", "confirmLockout": true});
    let res = app.put_json(&admin, path, &confirmed).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    // the staff API and the panel (sign-in included) refuse this address now
    let res = app.get_as(&admin, "/api/v1/admin/settings").await;
    assert_eq!(res.status(), 403);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["type"], "urn:mbelyco:problem:address-refused", "{problem}");
    let page = app.browser().get(app.url("/sign-in")).send().await.unwrap();
    assert_eq!(page.status(), 403);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("not on the list"));
    // the gateway's callback and the health probe are not staff routes
    let answer = app.hop("ip-1", "+250788200001", "").await;
    assert!(answer.starts_with("CON "), "{answer}");
    assert_eq!(
        app.client.get(app.url("/api/health")).send().await.unwrap().status(),
        200
    );

    // the block list: this address blocked, then another one
    app.set_settings(
        Category::Security,
        json!({"ipAllowlist": [], "ipBlocklist": ["127.0.0.0/8"]}),
    )
    .await;
    assert_eq!(app.get_as(&admin, "/api/v1/admin/settings").await.status(), 403);
    app.set_settings(Category::Security, json!({"ipBlocklist": ["10.9.9.9"]}))
        .await;
    assert_eq!(app.get_as(&admin, "/api/v1/admin/settings").await.status(), 200);
    // blocking one's own address needs the confirmation too, naming the block list
    let res = app
        .put_json(&admin, path, &json!({"settings": {"ipBlocklist": ["127.0.0.1"]}}))
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("security.ipBlocklist"));
    // and so does a change of several categories at once
    let all = json!({"settings": {"security": {"ipAllowlist": ["10.0.0.0/8"]}}, "reason": "office only"});
    let res = app.put_json(&admin, "/api/v1/admin/settings", &all).await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        app.get_as(&admin, "/api/v1/admin/settings").await.status(),
        200,
        "nothing changed"
    );
    // going back to the version that blocked this address is a change like any other
    let blocked: i64 = sqlx::query_scalar(
        r#"select version from setting_versions where changes @> '[{"key": "ipBlocklist", "after": ["127.0.0.0/8"]}]'"#,
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let back = format!("/api/v1/admin/settings/versions/{blocked}/rollback");
    let res = app.post_json(&admin, &back, &json!({})).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("security.ipBlocklist"));
    assert_eq!(
        app.get_as(&admin, "/api/v1/admin/settings").await.status(),
        200,
        "not rolled back"
    );
    let res = app
        .post_json(&admin, &format!("{back}?confirmLockout=true"), &json!({}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(
        app.get_as(&admin, "/api/v1/admin/settings").await.status(),
        403,
        "rolled back"
    );
    app.set_settings(Category::Security, json!({"ipBlocklist": []})).await;
    let mut all = all;
    all["confirmLockout"] = json!(true);
    let res = app.put_json(&admin, "/api/v1/admin/settings", &all).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(app.get_as(&admin, "/api/v1/admin/settings").await.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_older_than_the_maximum_age_must_be_changed_before_anything_else() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.set_settings(Category::Security, json!({"passwordMaxAgeDays": 90}))
        .await;
    sqlx::query("update users set password_changed_at = now() - interval '100 days' where email = $1")
        .bind(ADMIN_EMAIL)
        .execute(&db.pool)
        .await
        .unwrap();
    let b = app.browser();
    let res = password_step(&b, &app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.headers()["location"], "/sign-in/enrol");
    finish_enrolment(&b, &app).await;

    // signed in with both factors, yet nothing opens but the password change
    let home = b.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.headers()["location"], "/sign-in/verify");
    let verify = b.get(app.url("/sign-in/verify")).send().await.unwrap();
    assert_eq!(verify.headers()["location"], "/sign-in/password");
    assert_ne!(b.get(app.url("/account")).send().await.unwrap().status(), 200);
    let html = app.page_html(&b, "/sign-in/password").await;
    assert!(html.contains("older than 90 days"), "{html}");
    let csrf = html_value(&html, r#"name="_csrf""#);

    // the old password again is refused next to the field
    let same = b
        .post(app.url("/sign-in/password"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("current", ADMIN_PASSWORD),
            ("new_password", ADMIN_PASSWORD),
            ("confirm", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 422);
    assert!(same.text().await.unwrap().contains(r#"data-field="new_password""#));
    // too short for the policy
    let short = b
        .post(app.url("/sign-in/password"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("current", ADMIN_PASSWORD),
            ("new_password", "short"),
            ("confirm", "short"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(short.status(), 422);
    assert!(short.text().await.unwrap().contains(r#"data-field="new_password""#));

    let new = "violet harbour pencil meadow";
    let res = b
        .post(app.url("/sign-in/password"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("current", ADMIN_PASSWORD),
            ("new_password", new),
            ("confirm", new),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/");
    assert_eq!(b.get(app.url("/account")).send().await.unwrap().status(), 200);
    let (changed, recent): (i64, bool) = sqlx::query_as(
        "select (select count(*) from audit_logs where action = 'user.password_changed'), \
                (select password_changed_at > now() - interval '1 minute' from users where email = $1)",
    )
    .bind(ADMIN_EMAIL)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((changed, recent), (1, true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_is_emailed_to_the_reviewers_and_approved_with_the_default_role() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let (port, sink) = smtp_sink().await;
    app.set_settings(
        Category::Notifications,
        json!({"emailEnabled": true, "smtpHost": "127.0.0.1", "smtpPort": port, "smtpSecurity": "none", "fromEmail": "promo@mbelyco.test"}),
    )
    .await;
    app.set_settings(
        Category::Security,
        json!({"registration": {"adminRegistrationEnabled": true, "defaultRole": "Support Agent",
                                "approvalNotificationEmail": "reviews@mbelyco.test"}}),
    )
    .await;
    // two-factor sign-in and the approval of registrations are not settings (decision 0037)
    for (change, field) in [
        (json!({"twoFactorRequired": false}), "security.twoFactorRequired"),
        (json!({"registration": {"requireApproval": false}}), "requireApproval"),
    ] {
        let res = app
            .put_json(&admin, "/api/v1/admin/settings/security", &json!({"settings": change}))
            .await;
        assert_eq!(res.status(), 422);
        let problem = res.text().await.unwrap();
        assert!(problem.contains(field), "{problem}");
    }
    // a default that names no role, or one a registration may not get, is refused on the field
    for role in ["Nobody In Particular", "Customer"] {
        let change = json!({"settings": {"registration": {"adminRegistrationEnabled": true, "defaultRole": role}}});
        let res = app.put_json(&admin, "/api/v1/admin/settings/security", &change).await;
        assert_eq!(res.status(), 422, "{role}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(
            problem["errors"][0]["field"], "security.registration.defaultRole",
            "{problem}"
        );
    }
    let person = json!({"email": "new.agent@mbelyco.test", "fullName": "New Agent", "phone": "+250788123456"});
    let res = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&person)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let mail = tokio::time::timeout(std::time::Duration::from_secs(10), sink)
        .await
        .expect("the reviewers are e-mailed")
        .unwrap();
    assert!(
        mail.contains("reviews@mbelyco.test")
            && mail.contains("new.agent@mbelyco.test")
            && mail.contains("/admin/registrations"),
        "{mail}"
    );

    let id: uuid::Uuid = sqlx::query_scalar("select id from users where email = 'new.agent@mbelyco.test'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    // the registrations page ticks the default role
    let agent: uuid::Uuid = sqlx::query_scalar("select id from roles where name = 'Support Agent'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let html = app.get_as(&admin, "/admin/registrations").await.text().await.unwrap();
    assert!(html.contains(&format!(r#"value="{agent}" checked"#)), "{html}");
    assert_eq!(html.matches(" checked>").count(), 1, "only the default role is ticked");
    // no role chosen: the default one
    let res = app
        .post_json(&admin, &format!("/api/v1/admin/users/{id}/approve"), &json!({}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let roles: Vec<String> = sqlx::query_scalar(
        "select r.name from user_role_assignments a join roles r on r.id = a.role_id where a.user_id = $1",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(roles, vec!["Support Agent".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_of_unknown_emails_are_audited_only_when_asked_and_lockouts_alert_when_asked() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    // a dozen attempts from this address in a minute: not throttled here
    app.set_settings(
        Category::Security,
        json!({"rateLimiting": {"loginAttemptsPerMinute": 100}}),
    )
    .await;
    let b = app.browser();
    let unknown_failures = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from audit_logs where action = 'auth.sign_in_failed' and entity_id = 'unknown'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    assert_eq!(
        password_step(&b, &app, "nobody@mbelyco.test", "whatever whatever")
            .await
            .status(),
        401
    );
    assert_eq!(unknown_failures().await, 1, "on by default");
    app.set_settings(
        Category::Security,
        json!({"audit": {"logFailedAttempts": false, "retentionDays": 2557, "realTimeAlerts": false}}),
    )
    .await;
    assert_eq!(
        password_step(&b, &app, "nobody@mbelyco.test", "whatever whatever")
            .await
            .status(),
        401
    );
    assert_eq!(unknown_failures().await, 1, "off: not recorded");

    let alerts = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from alerts where kind = 'security.account_locked' and audience = 'security.alerts.view'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    let lock_out = || async {
        for _ in 0..5 {
            password_step(&b, &app, ADMIN_EMAIL, "not the password at all").await;
        }
        sqlx::query("update users set lockout_until = null, failed_login_attempts = 0 where email = $1")
            .bind(ADMIN_EMAIL)
            .execute(&db.pool)
            .await
            .unwrap();
    };
    lock_out().await;
    assert_eq!(alerts().await, 0, "real-time alerts off");
    app.set_settings(
        Category::Security,
        json!({"audit": {"logFailedAttempts": true, "retentionDays": 2557, "realTimeAlerts": true}}),
    )
    .await;
    lock_out().await;
    assert_eq!(alerts().await, 1, "the lockout raised an alert");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_api_gives_no_session_for_an_expired_password() {
    use mbelyco::identity::{self, mfa, totp};
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (email, password) = ("old.script@mbelyco.test", "correct pony staple battery");
    let mut tx = db.pool.begin().await.unwrap();
    let pw = password.to_owned().into();
    let new = identity::NewStaff {
        email,
        full_name: "Old Script",
        password: Some(&pw),
        roles: &["Viewer"],
    };
    let now = crate::helpers::now();
    let id = identity::create_staff(&mut tx, &new, &mbelyco::unit::Acting::system(now))
        .await
        .unwrap();
    let secret = mfa::pending_secret(&mut tx, &app.state.keys, id, now).await.unwrap();
    mfa::confirm(&mut tx, &app.state.keys, id, now).await.unwrap();
    sqlx::query("update users set password_changed_at = now() - interval '31 days' where id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    app.set_settings(Category::Security, json!({"passwordMaxAgeDays": 30}))
        .await;

    let post = |path: &'static str, body: Value| {
        let app = &app;
        async move { app.client.post(app.url(path)).json(&body).send().await.unwrap() }
    };
    let login: Value = post("/api/v1/auth/login", json!({"email": email, "password": password}))
        .await
        .json()
        .await
        .unwrap();
    let challenge = login["challenge"].as_str().unwrap().to_owned();
    let code = totp::code_at(&secret, now.timestamp() as u64).unwrap();
    let res = post(
        "/api/v1/auth/login/verify",
        json!({"challenge": challenge, "code": code}),
    )
    .await;
    assert_eq!(res.status(), 403);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["type"], "urn:mbelyco:problem:password-expired", "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("/sign-in/password"),
        "{problem}"
    );
}
