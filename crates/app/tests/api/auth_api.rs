//! The sign-in API (issue 19): login → TOTP challenge → verify → a session as a bearer token and
//! a cookie; backup codes, lockout, throttling and audit shared with the form; refresh within the
//! absolute lifetime; self-registration; bad bodies.

use mbelyco::identity::{self, mfa, totp};
use serde_json::{json, Value};

use crate::helpers::{error_fields, now, password_step, spawn_app, TestApp, TestDb};

const EMAIL: &str = "script@mbelyco.test";
const PASSWORD: &str = "correct pony staple battery";

/// A Super Administrator with TOTP already set up: its secret and backup codes.
async fn enrolled(app: &TestApp) -> (String, Vec<String>) {
    let mut tx = app.pool.begin().await.unwrap();
    let pw = PASSWORD.to_owned().into();
    let new = identity::NewStaff {
        email: EMAIL,
        full_name: "Script User",
        password: Some(&pw),
        roles: &["Super Administrator"],
    };
    let id = identity::create_staff(&mut tx, &new, &mbelyco::unit::Acting::system(now()))
        .await
        .unwrap();
    let secret = mfa::pending_secret(&mut tx, &app.state.keys, id, now()).await.unwrap();
    let codes = mfa::confirm(&mut tx, &app.state.keys, id, now()).await.unwrap();
    tx.commit().await.unwrap();
    (secret, codes)
}

/// `POST path` with a JSON body, as a script does it (no cookie, no Origin).
async fn post(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client.post(app.url(path)).json(body).send().await.unwrap()
}

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    post(
        app,
        "/api/v1/auth/login",
        &json!({"email": email, "password": password}),
    )
    .await
}

/// The challenge of a right password on an enrolled account.
async fn challenge(app: &TestApp) -> String {
    let res = login(app, EMAIL, PASSWORD).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "totp_required");
    body["challenge"].as_str().unwrap().to_owned()
}

fn code(secret: &str, step_offset: u64) -> String {
    totp::code_at(secret, now().timestamp() as u64 + step_offset).unwrap()
}

/// Asserts a problem+json answer with `status` and returns it.
async fn problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    res.json().await.unwrap()
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("select action from audit_logs where action like 'auth.%' order by seq")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// The `mb_session` value a response sets, with the cookie line.
fn session_cookie(res: &reqwest::Response) -> (String, String) {
    let line = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("mb_session="))
        .expect("a session cookie");
    let value = line["mb_session=".len()..line.find(';').unwrap()].to_owned();
    (value, line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_then_verify_gives_a_bearer_token_and_the_cookie_and_is_audited() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (secret, _) = enrolled(&app).await;

    // a wrong password first: 401, audited as the form's
    let wrong = problem(login(&app, EMAIL, "not the password").await, 401).await;
    assert_eq!(wrong["detail"], "The email or password is not right.");

    let challenge = challenge(&app).await;
    assert!(challenge.starts_with("mbc_"), "{challenge}");
    // the challenge is no session
    let me = app.get_as(&challenge, "/api/v1/auth/me").await;
    assert_eq!(me.status(), 401);
    let wrong_code = post(
        &app,
        "/api/v1/auth/login/verify",
        &json!({"challenge": challenge, "code": "000000"}),
    )
    .await;
    let body = problem(wrong_code, 401).await;
    assert_eq!(body["detail"], "That code is not right, or it was already used.");

    let res = post(
        &app,
        "/api/v1/auth/login/verify",
        &json!({"challenge": challenge, "code": code(&secret, 0)}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let (cookie, line) = session_cookie(&res);
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Strict") && line.contains("Path=/"),
        "the form's cookie flags: {line}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "signed_in");
    assert_eq!(body["tokenType"], "Bearer");
    let token = body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("mbs_"), "{token}");
    assert_eq!(token, format!("mbs_{cookie}"), "one session, two ways to carry it");
    let expires: chrono::DateTime<chrono::Utc> = body["expiresAt"].as_str().unwrap().parse().unwrap();
    assert!(expires > now() + chrono::Duration::minutes(29) && expires <= now() + chrono::Duration::minutes(30));

    // a script with the bearer token
    let me: Value = app.get_as(&token, "/api/v1/auth/me").await.json().await.unwrap();
    assert_eq!(me["email"], EMAIL);
    assert_eq!(me["via"], "session_token");
    assert!(me["permissions"].as_array().unwrap().len() > 5);
    // a browser with the cookie
    let res = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", format!("mb_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["via"], "session");
    // the challenge is spent: neither verify again nor a cookie
    let again = post(
        &app,
        "/api/v1/auth/login/verify",
        &json!({"challenge": challenge, "code": code(&secret, 30)}),
    )
    .await;
    problem(again, 401).await;
    let res = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", format!("mb_session={}", &challenge[4..]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // a made-up bearer token is refused, not anonymous
    assert_eq!(app.get_as("mbs_made-up", "/api/v1/auth/me").await.status(), 401);

    assert_eq!(
        audit_actions(&app).await,
        ["auth.sign_in_failed", "auth.sign_in_failed", "auth.sign_in_succeeded"],
        "the wrong password, the wrong code, the sign-in"
    );
    let method: String =
        sqlx::query_scalar("select metadata->>'method' from audit_logs where action = 'auth.sign_in_succeeded'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(method, "totp");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_code_signs_in_once() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (_, backup) = enrolled(&app).await;
    let first = challenge(&app).await;
    let res = post(
        &app,
        "/api/v1/auth/login/verify",
        &json!({"challenge": first, "backupCode": backup[0]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["viaBackupCode"], true);
    assert_eq!(body["backupCodesLeft"], 9);
    let second = challenge(&app).await;
    let res = post(
        &app,
        "/api/v1/auth/login/verify",
        &json!({"challenge": second, "code": backup[0]}),
    )
    .await;
    problem(res, 401).await;
    let full: i64 = sqlx::query_scalar("select count(*) from sessions where stage = 'full'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(full, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_from_the_api_and_the_form_lock_the_account_together() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    enrolled(&app).await;
    let browser = app.browser();
    for _ in 0..2 {
        let res = password_step(&browser, &app, EMAIL, "not the password at all").await;
        assert_eq!(res.status(), 401);
    }
    // an unknown address answers exactly like a wrong password
    let unknown = problem(login(&app, "nobody@mbelyco.test", PASSWORD).await, 401).await;
    for _ in 0..3 {
        let wrong = problem(login(&app, EMAIL, "not the password at all").await, 401).await;
        assert_eq!(wrong["detail"], unknown["detail"]);
        assert_eq!(wrong["type"], unknown["type"]);
    }
    // five failures: locked, and now even the right password is refused (said only to whoever
    // knows it)
    let locked = problem(login(&app, EMAIL, PASSWORD).await, 423).await;
    assert!(locked["detail"].as_str().unwrap().contains("locked until"), "{locked}");
    let res = password_step(&browser, &app, EMAIL, PASSWORD).await;
    assert_eq!(res.status(), 423, "the form sees the same lock");
    let n: i64 = sqlx::query_scalar("select count(*) from audit_logs where action = 'auth.locked_out'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let sessions: i64 = sqlx::query_scalar("select count(*) from sessions")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0, "no session, not even a challenge");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_throttled_per_address_across_the_form_and_the_api() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let browser = app.browser();
    for i in 0..5 {
        let res = password_step(&browser, &app, &format!("f{i}@mbelyco.test"), "wrong wrong wrong").await;
        assert_eq!(res.status(), 401);
    }
    for i in 0..5 {
        let res = login(&app, &format!("a{i}@mbelyco.test"), "wrong wrong wrong").await;
        assert_eq!(res.status(), 401);
    }
    let res = login(&app, "a9@mbelyco.test", "wrong wrong wrong").await;
    assert!(res.headers().contains_key("retry-after"));
    problem(res, 429).await;
    let events: i64 = sqlx::query_scalar("select count(*) from security_events where kind = 'ip_throttled'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(events, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_two_factor_is_told_to_enrol_and_gets_no_session() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    // the bootstrap administrator has not set up TOTP
    let res = login(&app, crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 200);
    let (cookie, _) = session_cookie(&res);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "enrolment_required");
    assert_eq!(body["enrolUrl"], "/sign-in/enrol");
    assert!(body.get("challenge").is_none() && body.get("token").is_none(), "{body}");
    // the cookie only opens the enrolment page, as the form's
    let me = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", format!("mb_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    let page = app
        .client
        .get(app.url("/sign-in/enrol"))
        .header("cookie", format!("mb_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        app.get_as(format!("mbs_{cookie}"), "/api/v1/auth/me").await.status(),
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_extends_a_session_but_never_past_its_absolute_lifetime() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (secret, _) = enrolled(&app).await;
    let challenge = challenge(&app).await;
    let res = post(
        &app,
        "/api/v1/auth/login/verify",
        &json!({"challenge": challenge, "code": code(&secret, 0)}),
    )
    .await;
    let (cookie, _) = session_cookie(&res);
    let body: Value = res.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    let csrf = body["csrfToken"].as_str().unwrap().to_owned();
    let at = |v: &Value, k: &str| v[k].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();

    // idle for 20 of its 30 minutes: a refresh gives it 30 more
    sqlx::query("update sessions set last_seen_at = now() - interval '20 minutes'")
        .execute(&db.pool)
        .await
        .unwrap();
    let res = app.post_as(&token, "/api/v1/auth/refresh").await;
    assert_eq!(res.status(), 200);
    let r: Value = res.json().await.unwrap();
    assert!(at(&r, "expiresAt") > now() + chrono::Duration::minutes(29), "{r}");
    assert_eq!(at(&r, "absoluteExpiresAt"), at(&body, "absoluteExpiresAt"));

    // five minutes of absolute lifetime left: no further than that
    sqlx::query("update sessions set expires_at = now() + interval '5 minutes'")
        .execute(&db.pool)
        .await
        .unwrap();
    // the cookie works too, with the session's CSRF token as any cookie call
    let cookie_call = |csrf: Option<&str>| {
        let mut r = app
            .client
            .post(app.url("/api/v1/auth/refresh"))
            .header("cookie", format!("mb_session={cookie}"))
            .header("origin", app.base.clone());
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        r.send()
    };
    assert_eq!(
        cookie_call(None).await.unwrap().status(),
        403,
        "CSRF unchanged for cookies"
    );
    let res = cookie_call(Some(&csrf)).await.unwrap();
    assert_eq!(res.status(), 200);
    let r: Value = res.json().await.unwrap();
    assert_eq!(at(&r, "expiresAt"), at(&r, "absoluteExpiresAt"));
    assert!(at(&r, "expiresAt") <= now() + chrono::Duration::minutes(5), "{r}");

    // an API key has no session to refresh
    let key = app.api_key("Super Administrator").await;
    assert_eq!(app.post_as(&key, "/api/v1/auth/refresh").await.status(), 403);

    // past the absolute lifetime: over, refresh or not
    sqlx::query("update sessions set expires_at = now() - interval '1 second'")
        .execute(&db.pool)
        .await
        .unwrap();
    problem(app.post_as(&token, "/api/v1/auth/refresh").await, 401).await;
    assert_eq!(app.get_as(&token, "/api/v1/auth/me").await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_through_the_api_only_while_open_with_the_pages_rules_limits_and_audit() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let person = json!({"email": "new.person@mbelyco.test", "fullName": "New Person", "phone": "+250788123456"});
    let closed = problem(post(&app, "/api/v1/auth/register", &person).await, 403).await;
    assert!(
        closed["detail"].as_str().unwrap().contains("Registration is closed"),
        "{closed}"
    );
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(users, 1, "only the bootstrap administrator");

    app.set_settings(
        mbelyco::settings::Category::Security,
        json!({"registration": {"adminRegistrationEnabled": true}}),
    )
    .await;
    let res = post(&app, "/api/v1/auth/register", &person).await;
    assert_eq!(res.status(), 201);
    let (status, active): (String, bool) =
        sqlx::query_as("select approval_status, is_active from users where email = 'new.person@mbelyco.test'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), active), ("pending", false));
    let (actor, email): (String, String) =
        sqlx::query_as("select actor_type, after->>'email' from audit_logs where action = 'registration.submitted'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        (actor.as_str(), email.as_str()),
        ("anonymous", "new.person@mbelyco.test")
    );

    // the page's rules: a taken address, a bad phone number
    let taken = problem(post(&app, "/api/v1/auth/register", &person).await, 409).await;
    assert_eq!(error_fields(&taken), ["email"]);
    let bad = json!({"email": "other@mbelyco.test", "fullName": "Other", "phone": "call me"});
    let bad = problem(post(&app, "/api/v1/auth/register", &bad).await, 422).await;
    assert_eq!(error_fields(&bad), ["phone"]);
    // and the page's limit per address: set it to what this address has used, then one more
    let used: i32 = sqlx::query_scalar("select count from rate_limits where key like 'register:ip:%'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    app.set_settings(
        mbelyco::settings::Category::Security,
        json!({"registration": {"adminRegistrationEnabled": true, "maxRegistrationsPerHour": used}}),
    )
    .await;
    let fourth = json!({"email": "fourth@mbelyco.test", "fullName": "Fourth"});
    let res = post(&app, "/api/v1/auth/register", &fourth).await;
    assert!(res.headers().contains_key("retry-after"));
    problem(res, 429).await;
    let pending: i64 = sqlx::query_scalar("select count(*) from users where approval_status = 'pending'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(pending, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_name_the_field_and_change_nothing() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.set_settings(
        mbelyco::settings::Category::Security,
        json!({"registration": {"adminRegistrationEnabled": true}}),
    )
    .await;
    let count = |sql: &'static str| {
        let pool = db.pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
    };
    let audit_before = count("select count(*) from audit_logs").await;
    let limits_before = count("select coalesce(sum(count), 0)::bigint from rate_limits").await;

    let cases: &[(&str, Value, &[&str])] = &[
        ("/api/v1/auth/login", json!({}), &["email", "password"]),
        (
            "/api/v1/auth/login",
            json!({"email": "a@b.rw", "password": ""}),
            &["password"],
        ),
        ("/api/v1/auth/login", json!({"email": 5, "password": "x"}), &["email"]),
        ("/api/v1/auth/login/verify", json!({"code": "123456"}), &["challenge"]),
        ("/api/v1/auth/login/verify", json!({}), &["challenge", "code"]),
        ("/api/v1/auth/register", json!({"email": "x@y.rw"}), &["fullName"]),
        ("/api/v1/auth/register", json!({"fullName": ["x"]}), &["fullName"]),
    ];
    for (path, body, fields) in cases {
        let p = problem(post(&app, path, body).await, 422).await;
        assert_eq!(error_fields(&p), *fields, "{path} {body}");
    }
    // not JSON at all, or a form: refused before anything runs
    let raw = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    problem(raw, 400).await;
    let form = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .form(&[
            ("email", crate::helpers::ADMIN_EMAIL),
            ("password", crate::helpers::ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    problem(form, 415).await;
    // a page of another site
    let cross = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("origin", "https://evil.example")
        .json(&json!({"email": crate::helpers::ADMIN_EMAIL, "password": crate::helpers::ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    problem(cross, 403).await;

    assert_eq!(count("select count(*) from audit_logs").await, audit_before);
    assert_eq!(
        count("select coalesce(sum(count), 0)::bigint from rate_limits").await,
        limits_before
    );
    assert_eq!(count("select count(*) from sessions").await, 0);
    assert_eq!(count("select count(*) from users").await, 1);
}
