//! Issue 17, access: an API key acts with at most its owner's current rights and never on an
//! account; `next` after sign-in stays on this site; sign-in answers never tell which addresses
//! have accounts.

use mbelyco::identity::totp;
use reqwest::Client;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{csrf_from, html_value, now, spawn_app, TestApp, TestDb, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::payout_fixtures::person_with_key;

async fn role_id(app: &TestApp, name: &str) -> Uuid {
    let mut conn = app.pool.acquire().await.unwrap();
    mbelyco::access::role_id(&mut conn, name).await.unwrap().unwrap()
}

async fn mint(app: &TestApp, key: &str, role: &str) -> reqwest::Response {
    let body = json!({
        "name": format!("minted {role}"),
        "roleId": role_id(app, role).await,
        "expiresAt": now() + chrono::Duration::days(7),
    });
    app.client
        .post(app.url("/api/v1/admin/api-keys"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn my_permissions(app: &TestApp, key: &str) -> Vec<String> {
    let me: Value = app.get_as(key, "/api/v1/auth/me").await.json().await.unwrap();
    me["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_loses_what_its_owner_loses_and_dies_with_a_deactivated_owner() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (boss, key) = person_with_key(&app, "boss@mbelyco.test", "Super Administrator").await;
    assert_eq!(app.get_as(&key, "/api/v1/admin/settings").await.status(), 200);

    // the owner is demoted to Viewer; the key is still bound to Super Administrator
    sqlx::query("delete from user_role_assignments where user_id = $1")
        .bind(boss)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("insert into user_role_assignments (user_id, role_id, created_at) values ($1, $2, now())")
        .bind(boss)
        .bind(role_id(&app, "Viewer").await)
        .execute(&db.pool)
        .await
        .unwrap();

    let res = app.get_as(&key, "/api/v1/admin/settings").await;
    assert_eq!(res.status(), 403, "a demoted owner's key no longer reads settings");
    let res = mint(&app, &key, "Super Administrator").await;
    assert_eq!(res.status(), 403, "… nor mints Super Administrator keys");
    let minted: i64 = sqlx::query_scalar("select count(*) from api_keys")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(minted, 1);
    let mut viewer: Vec<String> = [
        "batches.read",
        "promo-codes.read",
        "redemptions.read",
        "reports.read",
        "alerts.read",
    ]
    .map(String::from)
    .to_vec();
    viewer.sort();
    assert_eq!(my_permissions(&app, &key).await, viewer, "the owner's rights, no more");
    assert_eq!(app.get_as(&key, "/api/v1/admin/batches").await.status(), 200);

    // a deactivated owner's key does nothing at all
    sqlx::query("update users set is_active = false where id = $1")
        .bind(boss)
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(app.get_as(&key, "/api/v1/auth/me").await.status(), 401);
    assert_eq!(app.get_as(&key, "/api/v1/admin/batches").await.status(), 401);
}

/// A role that may manage integrations (mint keys) and read batches, nothing else.
async fn integrator_role(app: &TestApp) {
    sqlx::query(
        "with r as (insert into roles (name, description, is_system, created_at, updated_at) \
           values ('Integrator', 'test', false, now(), now()) returning id) \
         insert into role_permissions (role_id, permission_id, created_at) \
         select r.id, p.id, now() from r, permissions p where p.key in ('system.integrations.manage', 'batches.read')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
}

const VIEWER_KEYS_AN_INTEGRATOR_LACKS: [&str; 4] =
    ["promo-codes.read", "redemptions.read", "reports.read", "alerts.read"];

fn names_a_missing_permission(text: &str) -> bool {
    VIEWER_KEYS_AN_INTEGRATOR_LACKS
        .iter()
        .any(|k| text.contains(&format!("`{k}`")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_minted_only_for_a_role_the_minter_fully_holds() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    integrator_role(&app).await;
    let (_, key) = person_with_key(&app, "integrator@mbelyco.test", "Integrator").await;

    for role in ["Viewer", "Super Administrator"] {
        let res = mint(&app, &key, role).await;
        assert_eq!(res.status(), 403, "minting a {role} key");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let body: Value = res.json().await.unwrap();
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains('`'), "names the permission: {body}");
        if role == "Viewer" {
            assert!(names_a_missing_permission(detail), "{body}");
        }
    }
    assert_eq!(
        mint(&app, &key, "Integrator").await.status(),
        201,
        "its own role is fine"
    );

    // the page refuses the same way, to a person signed in with the same role
    let mut tx = db.pool.begin().await.unwrap();
    let password = secrecy::SecretString::from("integrator long password 42".to_owned());
    let new = mbelyco::identity::NewStaff {
        email: "person@mbelyco.test",
        full_name: "Ina Tegrator",
        password: Some(&password),
        roles: &["Integrator"],
    };
    mbelyco::identity::create_staff(&mut tx, &new, &mbelyco::unit::Acting::system(now()))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let browser = app.browser();
    crate::helpers::password_step(&browser, &app, "person@mbelyco.test", "integrator long password 42").await;
    crate::helpers::finish_enrolment(&browser, &app).await;
    let csrf = csrf_from(&browser, &app, "/admin/api-keys").await;
    let viewer = role_id(&app, "Viewer").await.to_string();
    let res = browser
        .post(app.url("/admin/api-keys"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("name", "page key"),
            ("role_id", viewer.as_str()),
            ("days", "7"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let html = res.text().await.unwrap();
    assert!(names_a_missing_permission(&html), "{html}");

    let keys: i64 = sqlx::query_scalar("select count(*) from api_keys")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        keys, 2,
        "the key of the fixture and the Integrator key, nothing refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_never_acts_on_its_owners_account() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    assert_eq!(app.get_as(&key, "/account").await.status(), 403);
    let revoke = format!("/account/sessions/{}/revoke", Uuid::new_v4());
    let posts: [(&str, &[(&str, &str)]); 5] = [
        (
            "/account/password",
            &[
                ("current", ADMIN_PASSWORD),
                ("new_password", "a brand new password 99"),
                ("confirm", "a brand new password 99"),
            ],
        ),
        (&revoke, &[]),
        ("/account/mfa/re-enrol", &[("backup_code", "aaaa-bbbb")]),
        ("/sign-out", &[]),
        ("/api/v1/auth/logout", &[]),
    ];
    for (path, form) in posts {
        let res = app
            .client
            .post(app.url(path))
            .bearer_auth(&key)
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "POST {path} with an API key");
    }
    let changed: i64 = sqlx::query_scalar(
        "select count(*) from audit_logs where action in ('user.password_changed', 'auth.signed_out')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(changed, 0, "nothing happened to the account");
    // the key may still say who it acts for
    assert_eq!(app.get_as(&key, "/api/v1/auth/me").await.status(), 200);
}

/// Enrols the bootstrap admin's second factor; returns the TOTP secret and the backup codes.
async fn enrol_admin(app: &TestApp) -> (String, Vec<String>) {
    let client = app.browser();
    crate::helpers::password_step(&client, app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let html = app.page_html(&client, "/sign-in/enrol").await;
    let secret = html_value(&html, r#"id="totp-secret""#);
    let csrf = html_value(&html, r#"name="_csrf""#);
    let code = totp::code_at(&secret, now().timestamp() as u64).unwrap();
    let res = client
        .post(app.url("/sign-in/enrol"))
        .form(&[("_csrf", csrf.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    let codes = html
        .split("<li><code>")
        .skip(1)
        .map(|c| c[..c.find('<').unwrap()].to_owned())
        .collect();
    (secret, codes)
}

/// Signs in as a browser does, from `/sign-in?next=…` (the `next` the attacker's link carries,
/// raw in the query string): the page's hidden field, the password step, the verify page's hidden
/// field, the second factor. Also posts `hostile` itself at both steps, as a forged form would.
/// Returns where the browser is sent at the end.
async fn sign_in_from_link(app: &TestApp, query_next: &str, hostile: &str, second_factor: &str) -> String {
    let client: Client = app.browser();
    let res = client
        .get(format!("{}?next={query_next}", app.url("/sign-in")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let csrf = html_value(&html, r#"name="_csrf""#);
    let shown = html_value(&html, r#"name="next""#);
    let res = client
        .post(app.url("/sign-in"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
            ("next", hostile),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "password step with next {hostile:?}");
    let verify = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(verify.starts_with("/sign-in/verify"), "{verify}");
    let html = app.page_html(&client, &verify).await;
    let csrf = html_value(&html, r#"name="_csrf""#);
    let carried = html_value(&html, r#"name="next""#);
    assert_eq!(shown, carried, "the same next all along");
    let res = client
        .post(app.url("/sign-in/verify"))
        .form(&[("_csrf", csrf.as_str()), ("code", second_factor), ("next", hostile)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "second factor with next {hostile:?}");
    res.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_after_sign_in_is_only_ever_a_path_on_this_site() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.set_settings(
        mbelyco::settings::Category::Security,
        json!({"rateLimiting": {"loginAttemptsPerMinute": 100}}),
    )
    .await;
    let (secret, backup) = enrol_admin(&app).await;
    let mut backup = backup.into_iter();

    // the probe of issue 17: a tab after the slash, through password + TOTP
    let code = totp::code_at(&secret, now().timestamp() as u64 + 30).unwrap();
    let to = sign_in_from_link(&app, "/%09/evil.example", "/\t/evil.example", &code).await;
    assert_eq!(to, "/");

    // a newline is refused too, never a 500 after the session is made
    for (query, hostile) in [
        ("/%0A/evil.example", "/\n/evil.example"),
        ("/%0D%0ASet-Cookie:%20x=1", "/\r\nSet-Cookie: x=1"),
        ("//evil.example", "//evil.example"),
        ("/%5C/evil.example", "/\\/evil.example"),
        ("https://evil.example", "https://evil.example"),
        ("/%2509/evil.example", "/%09/evil.example"),
        ("/%252F/evil.example", "/%2F/evil.example"),
    ] {
        let to = sign_in_from_link(&app, query, hostile, &backup.next().unwrap()).await;
        assert_eq!(to, "/", "next {hostile:?}");
    }

    // a path on this site is followed, query and all
    let to = sign_in_from_link(
        &app,
        "/admin/batches%3Fpage%3D2",
        "/admin/batches?page=2",
        &backup.next().unwrap(),
    )
    .await;
    assert_eq!(to, "/admin/batches?page=2");
}

/// `(status, page with the address taken out)` of a failed sign-in.
async fn answer(client: &Client, app: &TestApp, email: &str, password: &str) -> (u16, String) {
    let res = crate::helpers::password_step(client, app, email, password).await;
    let status = res.status().as_u16();
    (status, res.text().await.unwrap().replace(email, "EMAIL"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_and_an_unknown_address_get_the_same_answers_through_lockout() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    // room for both series from one address (the per-address throttle is tested elsewhere)
    app.set_settings(
        mbelyco::settings::Category::Security,
        json!({"rateLimiting": {"loginAttemptsPerMinute": 100}}),
    )
    .await;
    let browser = app.browser();
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..6 {
        known.push(answer(&browser, &app, ADMIN_EMAIL, "not the password at all").await);
        unknown.push(answer(&browser, &app, "ghost@mbelyco.test", "not the password at all").await);
    }
    let statuses: Vec<u16> = known.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [401; 6]);
    for (i, (k, u)) in known.iter().zip(&unknown).enumerate() {
        assert_eq!(k, u, "attempt {}: a known and an unknown address answer alike", i + 1);
    }

    // the lock is as strong as before: the fifth failure locked the account, and even the right
    // password is refused until it ends (only then does the answer say so)
    let until: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select lockout_until from users where email = $1")
            .bind(ADMIN_EMAIL)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(until.is_some_and(|u| u > now()), "locked");
    let (status, html) = answer(&browser, &app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(status, 423);
    assert!(html.contains("locked until"));
    let sessions: i64 = sqlx::query_scalar("select count(*) from sessions")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
}
