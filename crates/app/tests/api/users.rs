//! Users administration: create with a set-up link, roles through a second Super Administrator,
//! deactivation and role edits acting on the next request, delete vs deactivate, 2FA reset,
//! registration open/closed, approval and rate limits.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{finish_enrolment, html_value, now, password_step, spawn_app, TestApp, TestDb};

async fn role_id(app: &TestApp, name: &str) -> Uuid {
    let mut conn = app.pool.acquire().await.unwrap();
    mbelyco::access::role_id(&mut conn, name).await.unwrap().unwrap()
}

async fn post(app: &TestApp, key: &str, path: &str, body: Value) -> reqwest::Response {
    app.post_json(key, path, &body).await
}

/// Follows a set-up link in a browser-like client: choose a password, then sign in and enrol.
async fn set_up_and_sign_in(app: &TestApp, link: &str, email: &str, password: &str) -> reqwest::Client {
    let b = app.browser();
    let path = &link[link.find("/setup/").unwrap()..];
    let html = app.page_html(&b, path).await;
    assert!(html.contains(email), "{html}");
    let csrf = html_value(&html, r#"name="_csrf""#);
    let res = b
        .post(app.url(path))
        .form(&[("_csrf", csrf.as_str()), ("password", password), ("confirm", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    // the link works once
    assert_eq!(b.get(app.url(path)).send().await.unwrap().status(), 404);
    let res = password_step(&b, app, email, password).await;
    assert_eq!(res.headers()["location"], "/sign-in/enrol");
    finish_enrolment(&b, app).await;
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_sets_a_password_through_the_link_and_enrols() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let viewer = role_id(&app, "Viewer").await;
    let res = post(
        &app,
        &admin,
        "/api/v1/admin/users",
        json!({"email": "Aline@MBELYCO.test", "fullName": "Aline Mukamana", "roleIds": [viewer]}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    // the only Super Administrator's role choice applies directly (and says so in the audit log)
    assert_eq!(body["roleRequests"][0]["outcome"], "applied");
    let direct: Value = sqlx::query_scalar(
        "select metadata from audit_logs where action = 'user.role_assigned' order by seq desc limit 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(direct["direct"], true);
    let link = body["setupLink"].as_str().unwrap();
    let b = set_up_and_sign_in(&app, link, "aline@mbelyco.test", "river mango sandal kettle").await;
    let me: Value = b
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["permissions"].as_array().unwrap().len(), 5, "a Viewer");

    let dup = post(
        &app,
        &admin,
        "/api/v1/admin/users",
        json!({"email": "aline@mbelyco.test", "fullName": "Again"}),
    )
    .await;
    assert_eq!(dup.status(), 409);
    let bad = post(
        &app,
        &admin,
        "/api/v1/admin/users",
        json!({"email": "nope", "fullName": ""}),
    )
    .await;
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "email");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_changes_need_a_second_super_administrator() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let super_role = role_id(&app, "Super Administrator").await;
    let viewer = role_id(&app, "Viewer").await;
    let create = |email: &'static str| {
        let (app, admin) = (&app, admin.clone());
        async move {
            let res = post(
                app,
                &admin,
                "/api/v1/admin/users",
                json!({"email": email, "fullName": email}),
            )
            .await;
            let body: Value = res.json().await.unwrap();
            (
                Uuid::parse_str(body["id"].as_str().unwrap()).unwrap(),
                body["setupLink"].as_str().unwrap().to_owned(),
            )
        }
    };
    let (second, second_link) = create("second@mbelyco.test").await;
    // sole Super Admin: applies directly
    let res = post(
        &app,
        &admin,
        &format!("/api/v1/admin/users/{second}/roles"),
        json!({"roleId": super_role}),
    )
    .await;
    assert_eq!(res.status(), 200);
    // from now on a second person is needed
    let (clerk, _) = create("clerk@mbelyco.test").await;
    let res = post(
        &app,
        &admin,
        &format!("/api/v1/admin/users/{clerk}/roles"),
        json!({"roleId": viewer}),
    )
    .await;
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["outcome"], "pending");
    let request_id = body["requestId"].as_str().unwrap().to_owned();
    let waiting: Value = app
        .get_as(&admin, "/api/v1/admin/role-requests")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(waiting["data"][0]["id"], request_id.as_str(), "{waiting}");
    assert_eq!(waiting["data"][0]["userEmail"], "clerk@mbelyco.test");
    let perms: Value = app
        .get_as(&admin, &format!("/api/v1/admin/users/{clerk}/permissions"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(perms["permissions"].as_array().unwrap().len(), 0, "not before approval");
    // the requester cannot approve their own request
    let own = post(
        &app,
        &admin,
        &format!("/api/v1/admin/role-requests/{request_id}/approve"),
        json!({}),
    )
    .await;
    assert_eq!(own.status(), 403);
    // the second Super Administrator approves, from their own browser session
    let b = set_up_and_sign_in(&app, &second_link, "second@mbelyco.test", "orbit walnut chimney lagoon").await;
    let html = app.page_html(&b, "/admin/role-requests").await;
    assert!(html.contains("clerk@mbelyco.test"));
    let csrf = html_value(&html, r#"name="_csrf""#);
    let res = b
        .post(app.url(&format!("/admin/role-requests/{request_id}/approve")))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let perms: Value = app
        .get_as(&admin, &format!("/api/v1/admin/users/{clerk}/permissions"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(perms["roles"], json!(["Viewer"]));
    let actions: Vec<String> =
        sqlx::query_scalar("select action from audit_logs where action like 'role_change.%' order by seq")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(actions, ["role_change.requested", "role_change.approved"]);
    // and the last Super Administrator cannot be removed (first: one of two asks, pending)
    let res = post(
        &app,
        &admin,
        &format!("/api/v1/admin/users/{second}/roles"),
        json!({"roleId": viewer}),
    )
    .await;
    assert_eq!(res.status(), 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_and_role_edits_act_on_the_next_request() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let viewer_key = app.api_key("Viewer").await;
    let viewer_role = role_id(&app, "Viewer").await;
    assert_eq!(app.get_as(&viewer_key, "/api/v1/admin/users").await.status(), 403);
    let res = app.put_json(&admin, &format!("/api/v1/admin/settings/roles/{viewer_role}/permissions"), &json!({"permissions": ["batches.read", "promo-codes.read", "redemptions.read", "reports.read", "alerts.read", "users.read"]})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get_as(&viewer_key, "/api/v1/admin/users").await.status(),
        200,
        "the next request sees it"
    );
    let audit: Value = sqlx::query_scalar("select metadata from audit_logs where action = 'role.permissions_changed'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(audit["added"], json!(["users.read"]));
    let bad = app
        .put_json(
            &admin,
            &format!("/api/v1/admin/settings/roles/{viewer_role}/permissions"),
            &json!({"permissions": ["users.read", "no.such.key"]}),
        )
        .await;
    assert_eq!(bad.status(), 422);

    // a signed-in user is deactivated: their next request is anonymous
    let res = post(
        &app,
        &admin,
        "/api/v1/admin/users",
        json!({"email": "temp@mbelyco.test", "fullName": "Temp", "roleIds": [viewer_role]}),
    )
    .await;
    let body: Value = res.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_owned();
    let b = set_up_and_sign_in(
        &app,
        body["setupLink"].as_str().unwrap(),
        "temp@mbelyco.test",
        "copper meadow violin pebble",
    )
    .await;
    assert_eq!(b.get(app.url("/account")).send().await.unwrap().status(), 200);
    let res = app
        .put_json(
            &admin,
            &format!("/api/v1/admin/users/{id}"),
            &json!({"isActive": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(b.get(app.url("/account")).send().await.unwrap().status(), 303);
    // it has history (it signed in), so delete deactivates rather than deletes
    let res: Value = app
        .delete_as(&admin, &format!("/api/v1/admin/users/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["deleted"], false);
    // a user who never did anything is deleted
    let res = post(
        &app,
        &admin,
        "/api/v1/admin/users",
        json!({"email": "typo@mbelyco.test", "fullName": "Typo"}),
    )
    .await;
    let typo = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let res: Value = app
        .delete_as(&admin, &format!("/api/v1/admin/users/{typo}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["deleted"], true);
    // search and filters
    let list: Value = app
        .get_as(&admin, "/api/v1/admin/users?q=TEMP&status=deactivated")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    let bad = app.get_as(&admin, "/api/v1/admin/users?status=sleepy").await;
    assert_eq!(bad.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_resets_two_factor() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let res = post(
        &app,
        &admin,
        "/api/v1/admin/users",
        json!({"email": "lost@mbelyco.test", "fullName": "Lost Phone"}),
    )
    .await;
    let body: Value = res.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_owned();
    let b = set_up_and_sign_in(
        &app,
        body["setupLink"].as_str().unwrap(),
        "lost@mbelyco.test",
        "saddle quartz ferry orchid",
    )
    .await;
    let res = post(&app, &admin, &format!("/api/v1/admin/users/{id}/reset-2fa"), json!({})).await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        b.get(app.url("/account")).send().await.unwrap().status(),
        303,
        "signed out"
    );
    let mfa: bool = sqlx::query_scalar("select mfa_enabled from users where email = 'lost@mbelyco.test'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(!mfa);
    let audited: i64 = sqlx::query_scalar("select count(*) from audit_logs where action = 'auth.mfa_reset'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(audited, 1);
}

async fn set_registration(app: &TestApp, key: &str, open: bool) {
    let res = app.put_json(key, "/api/v1/admin/settings/security", &json!({"settings": {"registration": {"adminRegistrationEnabled": open, "defaultRole": "Viewer", "maxRegistrationsPerHour": 3, "maxRegistrationsPerDay": 20}}})).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_a_switch_and_needs_approval() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let b = app.browser();
    let html = app.page_html(&b, "/sign-in").await;
    assert!(!html.contains("/register"), "no link while closed");
    assert_eq!(b.get(app.url("/register")).send().await.unwrap().status(), 403);

    set_registration(&app, &admin, true).await;
    let html = app.page_html(&b, "/sign-in").await;
    assert!(html.contains("href=\"/register\""));
    let html = app.page_html(&b, "/register").await;
    let csrf = html_value(&html, r#"name="_csrf""#);
    let res = b
        .post(app.url("/register"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("full_name", "Eric Habimana"),
            ("email", "eric@mbelyco.test"),
            ("phone", "+250788123456"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let pending: Value = app
        .get_as(&admin, "/api/v1/admin/users/pending")
        .await
        .json()
        .await
        .unwrap();
    let id = pending["data"][0]["id"].as_str().unwrap().to_owned();
    // a pending account cannot sign in
    let viewer = role_id(&app, "Viewer").await;
    // (no role chosen gives the settings' default role: tests/api/settings_security.rs)
    let root_role = role_id(&app, "Super Administrator").await;
    let res = post(
        &app,
        &admin,
        &format!("/api/v1/admin/users/{id}/approve"),
        json!({"roleIds": [root_role]}),
    )
    .await;
    assert_eq!(res.status(), 422, "not as Super Administrator");
    let res = post(
        &app,
        &admin,
        &format!("/api/v1/admin/users/{id}/approve"),
        json!({"roleIds": [viewer]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["emailed"], false, "no SMTP configured: the link is shown");
    set_up_and_sign_in(
        &app,
        body["setupLink"].as_str().unwrap(),
        "eric@mbelyco.test",
        "banana lantern glacier tulip",
    )
    .await;

    // rate limited per address: 3 an hour here
    let mut statuses = Vec::new();
    for i in 0..3 {
        let res = b
            .post(app.url("/register"))
            .form(&[
                ("_csrf", csrf.as_str()),
                ("full_name", "Spam"),
                ("email", &format!("spam{i}@mbelyco.test")),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [201, 201, 429]);
    let audited: i64 = sqlx::query_scalar("select count(*) from audit_logs where action = 'registration.submitted'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(audited, 3);
}

/// A minimal SMTP server that accepts one message and hands back what it received.
pub(crate) async fn smtp_sink() -> (u16, tokio::task::JoinHandle<String>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let (r, mut w) = sock.into_split();
        let mut lines = BufReader::new(r).lines();
        let mut data = String::new();
        w.write_all(b"220 sink ESMTP\r\n").await.unwrap();
        let mut in_data = false;
        while let Ok(Some(line)) = lines.next_line().await {
            if in_data {
                if line == "." {
                    in_data = false;
                    w.write_all(b"250 queued\r\n").await.unwrap();
                } else {
                    data.push_str(&line);
                    data.push('\n');
                }
                continue;
            }
            let cmd = line.to_ascii_uppercase();
            if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                w.write_all(b"250-sink\r\n250 8BITMIME\r\n").await.unwrap();
            } else if cmd.starts_with("DATA") {
                in_data = true;
                w.write_all(b"354 go ahead\r\n").await.unwrap();
            } else if cmd.starts_with("QUIT") {
                w.write_all(b"221 bye\r\n").await.unwrap();
                break;
            } else {
                w.write_all(b"250 ok\r\n").await.unwrap();
            }
        }
        data
    });
    (port, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_smtp_configured_the_approved_user_gets_an_email() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let (port, sink) = smtp_sink().await;
    let res = app.put_json(&admin, "/api/v1/admin/settings/notifications", &json!({"settings": {"emailEnabled": true, "smtpHost": "127.0.0.1", "smtpPort": port, "smtpSecurity": "none", "fromEmail": "promo@mbelyco.test"}})).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    set_registration(&app, &admin, true).await;
    let mut tx = db.pool.begin().await.unwrap();
    let id = mbelyco::identity::users::register(
        &mut tx,
        &mbelyco::identity::users::Registration {
            email: "mail@mbelyco.test",
            full_name: "Mail Me",
            phone: None,
            company: None,
            department: None,
        },
        &mbelyco::unit::Acting::new(mbelyco::audit::Actor::Anonymous, Default::default(), now()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let viewer = role_id(&app, "Viewer").await;
    let res = post(
        &app,
        &admin,
        &format!("/api/v1/admin/users/{id}/approve"),
        json!({"roleIds": [viewer]}),
    )
    .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["emailed"], true);
    assert_eq!(body["setupLink"], Value::Null, "not shown when it was emailed");
    let mail = sink.await.unwrap();
    assert!(mail.contains("mail@mbelyco.test") && mail.contains("/setup/"), "{mail}");
}
