//! Signing in with a password and TOTP (enrolment on first sign-in), backup codes, replay,
//! lockout, throttling, CSRF, sessions and sign-out — over HTTP, as a browser does it.

use mbelyco::identity::totp;
use reqwest::Client;
use serde_json::Value;

use crate::helpers::{
    csrf_from, html_value, now, password_step, spawn_app, TestApp, TestDb, ADMIN_EMAIL, ADMIN_PASSWORD,
};

/// First sign-in of the bootstrap admin: password, enrolment, backup codes. Returns the TOTP
/// secret and the backup codes.
async fn enrol(client: &Client, app: &TestApp) -> (String, Vec<String>, String) {
    let res = password_step(client, app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/sign-in/enrol");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // not signed in yet: the rest of the panel is closed
    let home = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.headers()["location"], "/sign-in/verify");

    let html = app.page_html(client, "/sign-in/enrol").await;
    assert!(html.contains("<svg"), "QR code rendered on the server");
    let secret = html_value(&html, r#"id="totp-secret""#);
    let csrf = html_value(&html, r#"name="_csrf""#);
    let wrong = client
        .post(app.url("/sign-in/enrol"))
        .form(&[("_csrf", csrf.as_str()), ("code", "000000")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let code = totp::code_at(&secret, now().timestamp() as u64).unwrap();
    let res = client
        .post(app.url("/sign-in/enrol"))
        .form(&[("_csrf", csrf.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let codes: Vec<String> = html
        .split("<li><code>")
        .skip(1)
        .map(|c| c[..c.find('<').unwrap()].to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "{html}");
    (secret, codes, code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sign_in_enrols_totp_then_totp_and_backup_codes_work_once() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let browser = app.browser();
    let (_, backup, used) = enrol(&browser, &app).await;
    let res = browser.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Welcome"));

    // sign out
    let csrf = csrf_from(&browser, &app, "/account").await;
    let res = browser
        .post(app.url("/sign-out"))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        browser.get(app.url("/")).send().await.unwrap().headers()["location"],
        "/sign-in?next=/"
    );

    // second sign-in: the code of the step used at enrolment cannot be replayed
    let res = password_step(&browser, &app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.headers()["location"], "/sign-in/verify?next=/account");
    let csrf = csrf_from(&browser, &app, "/sign-in/verify").await;
    let replay = browser
        .post(app.url("/sign-in/verify"))
        .form(&[("_csrf", csrf.as_str()), ("code", used.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401, "a used code is refused");
    // a backup code works once
    let res = browser
        .post(app.url("/sign-in/verify"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("code", backup[0].as_str()),
            ("next", "/account"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account");
    let account = app.page_html(&browser, "/account").await;
    assert!(account.contains("9 unused backup codes"), "{account}");

    let other = app.browser();
    password_step(&other, &app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let csrf = csrf_from(&other, &app, "/sign-in/verify").await;
    let again = other
        .post(app.url("/sign-in/verify"))
        .form(&[("_csrf", csrf.as_str()), ("code", backup[0].as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401, "a used backup code is refused");

    let actions: Vec<String> =
        sqlx::query_scalar("select action from audit_logs where action like 'auth.%' order by seq")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        actions,
        [
            "auth.mfa_enrolled",
            "auth.sign_in_succeeded",
            "auth.signed_out",
            "auth.sign_in_failed",
            "auth.sign_in_succeeded",
            "auth.sign_in_failed"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_passwords_lock_the_account_and_raise_a_security_event() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let browser = app.browser();
    for _ in 0..4 {
        let res = password_step(&browser, &app, ADMIN_EMAIL, "not the password at all").await;
        assert_eq!(res.status(), 401);
        assert!(res.text().await.unwrap().contains("email or password is not right"));
    }
    // the fifth locks the account, but without the right password it says no more than an
    // unknown address would (issue 17: no account enumeration)
    let res = password_step(&browser, &app, ADMIN_EMAIL, "not the password at all").await;
    assert_eq!(res.status(), 401);
    // even the right password is refused while locked
    let res = password_step(&browser, &app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 423);
    assert!(res.text().await.unwrap().contains("locked until"));
    let locked: i64 = sqlx::query_scalar("select count(*) from audit_logs where action = 'auth.locked_out'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(locked, 1);
    let events: i64 = sqlx::query_scalar("select count(*) from security_events where kind = 'account_locked'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(events, 1);
    // an unknown email answers exactly like a wrong password
    let res = password_step(&browser, &app, "nobody@mbelyco.test", "whatever whatever").await;
    assert_eq!(res.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_throttled_per_address() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let browser = app.browser();
    let mut statuses = Vec::new();
    for i in 0..11 {
        let res = password_step(&browser, &app, &format!("u{i}@mbelyco.test"), "wrong wrong wrong").await;
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10], 429);
    let events: i64 = sqlx::query_scalar("select count(*) from security_events where kind = 'ip_throttled'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(events, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_csrf_cross_origin_and_tampered_cookies_are_refused() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let browser = app.browser();
    // no token
    let res = browser
        .post(app.url("/sign-in"))
        .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    enrol(&browser, &app).await;
    let csrf = csrf_from(&browser, &app, "/account").await;
    // forged token: still signed in afterwards
    let res = browser
        .post(app.url("/sign-out"))
        .form(&[("_csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(browser.get(app.url("/account")).send().await.unwrap().status(), 200);
    // right token from another origin
    let res = browser
        .post(app.url("/sign-out"))
        .header("origin", "https://evil.example")
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // a tampered session cookie is nobody
    let res = app
        .client
        .get(app.url("/account"))
        .header("cookie", "mb_session=AAAAtampered")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", "mb_session=AAAAtampered")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_signs_out_other_sessions_and_sessions_can_be_revoked() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let a = app.browser();
    let (secret, _, _) = enrol(&a, &app).await;
    // a second session, signed in with the next TOTP step
    let b = app.browser();
    password_step(&b, &app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let csrf_b = csrf_from(&b, &app, "/sign-in/verify").await;
    let code = totp::code_at(&secret, now().timestamp() as u64 + 30).unwrap();
    let res = b
        .post(app.url("/sign-in/verify"))
        .form(&[("_csrf", csrf_b.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(b.get(app.url("/account")).send().await.unwrap().status(), 200);

    let csrf = csrf_from(&a, &app, "/account").await;
    let weak = a
        .post(app.url("/account/password"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("current", ADMIN_PASSWORD),
            ("new_password", "password1234"),
            ("confirm", "password1234"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), 422);
    assert!(weak.text().await.unwrap().contains("too weak"));
    let new = "granite sunrise lake umbrella";
    let res = a
        .post(app.url("/account/password"))
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
    assert_eq!(
        a.get(app.url("/account")).send().await.unwrap().status(),
        200,
        "this session stays"
    );
    assert_eq!(
        b.get(app.url("/account")).send().await.unwrap().status(),
        303,
        "the other one is signed out"
    );
    let res = password_step(&b, &app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 401, "the old password no longer works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_reports_the_callers_permissions() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Viewer").await;
    let me: Value = app.get_as(&key, "/api/v1/auth/me").await.json().await.unwrap();
    assert_eq!(me["via"], "api_key");
    assert_eq!(me["permissions"].as_array().unwrap().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_idle_sessions_are_refused() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let browser = app.browser();
    enrol(&browser, &app).await;
    assert_eq!(browser.get(app.url("/account")).send().await.unwrap().status(), 200);
    // idle longer than the idle timeout (30 minutes)
    sqlx::query("update sessions set last_seen_at = last_seen_at - interval '31 minutes'")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(browser.get(app.url("/account")).send().await.unwrap().status(), 303);
    let res = browser.get(app.url("/api/v1/auth/me")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    // past the absolute lifetime, however active
    let again = app.browser();
    enrol_again(&again, &app).await;
    sqlx::query("update sessions set expires_at = now() - interval '1 second' where revoked_at is null")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(again.get(app.url("/account")).send().await.unwrap().status(), 303);
}

/// Signs the (already enrolled) admin in again with a backup-free fresh TOTP step.
async fn enrol_again(client: &Client, app: &TestApp) {
    let secret: String = {
        let mut conn = app.pool.acquire().await.unwrap();
        let enc: String = sqlx::query_scalar("select secret_enc from user_mfa")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let user: uuid::Uuid = sqlx::query_scalar("select user_id from user_mfa")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        secrecy::ExposeSecret::expose_secret(&app.state.keys.totp.open(&enc, &format!("totp:{user}")).unwrap())
            .to_owned()
    };
    password_step(client, app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let csrf = csrf_from(client, app, "/sign-in/verify").await;
    let code = totp::code_at(&secret, now().timestamp() as u64 + 30).unwrap();
    let res = client
        .post(app.url("/sign-in/verify"))
        .form(&[("_csrf", csrf.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_logout_ends_the_session() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let browser = app.browser();
    let (_, _, _) = enrol(&browser, &app).await;
    let csrf = csrf_from(&browser, &app, "/account").await;
    let res = browser
        .post(app.url("/api/v1/auth/logout"))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        browser.get(app.url("/api/v1/auth/me")).send().await.unwrap().status(),
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_lists_and_revokes_their_own_sessions() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let a = app.browser();
    enrol(&a, &app).await;
    let b = app.browser();
    enrol_again(&b, &app).await;
    let html = app.page_html(&a, "/account").await;
    assert!(html.contains("this one"), "the current session is marked");
    let other: uuid::Uuid = sqlx::query_scalar(
        "select id from sessions where revoked_at is null and stage = 'full' order by created_at desc limit 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(
        html.contains(&format!("/account/sessions/{other}/revoke")),
        "the other session is listed with a sign-out button"
    );
    let csrf = html_value(&html, r#"name="_csrf""#);
    let res = a
        .post(app.url(&format!("/account/sessions/{other}/revoke")))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        b.get(app.url("/account")).send().await.unwrap().status(),
        303,
        "signed out"
    );
    assert_eq!(
        a.get(app.url("/account")).send().await.unwrap().status(),
        200,
        "this one stays"
    );
    // someone else's session id is not found, and nothing changes
    let res = a
        .post(app.url(&format!("/account/sessions/{}/revoke", uuid::Uuid::new_v4())))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}
