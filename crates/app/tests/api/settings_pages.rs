//! The settings console over HTTP (issue #20, item 1): who sees which category, a bad value back
//! beside its field, the preview and the reason, two editors at once. History and secrets:
//! `settings_pages_history`.

use mbelyco::identity::totp;
use mbelyco::settings::Category;
use reqwest::Client;
use serde_json::{json, Value};

use crate::browser::staff_with_totp;
use crate::helpers::{csrf_from, finish_enrolment, html_value, now, password_step, spawn_app, TestApp, TestDb};

const PW: &str = "correct pony staple battery";

/// A browser-like session of the bootstrap Super Administrator.
pub(crate) async fn admin(app: &TestApp) -> Client {
    let c = app.browser();
    let res = password_step(&c, app, crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 303);
    finish_enrolment(&c, app).await;
    c
}

/// A browser-like session of a new staff member with `role`.
pub(crate) async fn staff(app: &TestApp, email: &str, role: &str) -> Client {
    let secret = staff_with_totp(app, email, PW, role).await;
    let c = app.browser();
    assert_eq!(password_step(&c, app, email, PW).await.status(), 303);
    let csrf = csrf_from(&c, app, "/sign-in/verify").await;
    let code = totp::code_at(&secret, now().timestamp() as u64).unwrap();
    let res = c
        .post(app.url("/sign-in/verify"))
        .form(&[("_csrf", csrf.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    c
}

pub(crate) struct Answer {
    pub status: u16,
    pub location: String,
    pub html: String,
}

pub(crate) async fn get(c: &Client, app: &TestApp, path: &str) -> Answer {
    let res = c.get(app.url(path)).send().await.unwrap();
    Answer {
        status: res.status().as_u16(),
        location: location(&res),
        html: res.text().await.unwrap(),
    }
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Posts a form (the session's CSRF token added).
pub(crate) async fn post(c: &Client, app: &TestApp, path: &str, pairs: &[(&str, &str)]) -> Answer {
    let csrf = csrf_from(c, app, "/admin/settings").await;
    let mut form: Vec<(&str, &str)> = vec![("_csrf", csrf.as_str())];
    form.extend_from_slice(pairs);
    let res = c.post(app.url(path)).form(&form).send().await.unwrap();
    Answer {
        status: res.status().as_u16(),
        location: location(&res),
        html: res.text().await.unwrap(),
    }
}

/// The version a category's form was loaded at.
pub(crate) async fn loaded_at(c: &Client, app: &TestApp, category: &str) -> String {
    let page = get(c, app, &format!("/admin/settings/{category}")).await;
    assert_eq!(page.status, 200, "{}", page.html);
    html_value(&page.html, r#"name="base_version""#)
}

pub(crate) async fn versions(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from setting_versions")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

pub(crate) fn notifications(app: &TestApp) -> Value {
    mbelyco::settings::view(&app.state.settings.get().0, Category::Notifications)
}

/// Previews then confirms a change of `category` with `reason`; returns the confirm's answer.
pub(crate) async fn save(c: &Client, app: &TestApp, category: &str, fields: &[(&str, &str)], reason: &str) -> Answer {
    let base = loaded_at(c, app, category).await;
    let mut pairs = vec![("base_version", base.as_str())];
    pairs.extend_from_slice(fields);
    let preview = post(c, app, &format!("/admin/settings/{category}"), &pairs).await;
    assert_eq!(preview.status, 200, "{}", preview.html);
    let payload = html_value(&preview.html, r#"name="payload""#);
    post(
        c,
        app,
        &format!("/admin/settings/{category}/confirm"),
        &[("payload", payload.as_str()), ("reason", reason)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_index_lists_only_the_categories_the_role_may_see() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let boss = admin(&app).await;
    let index = get(&boss, &app, "/admin/settings").await;
    assert_eq!(index.status, 200);
    for c in Category::ALL {
        assert!(
            index.html.contains(&format!("href=\"/admin/settings/{}\"", c.as_str())),
            "{c:?}"
        );
    }
    assert!(index.html.contains(r#"<a href="/admin/settings""#), "in the navigation");
    // every process says which version it runs with; one gone quiet for 30 s is not listed
    app.set_settings(Category::Analytics, json!({"refreshIntervalSeconds": 60}))
        .await;
    sqlx::query(
        "insert into settings_applied (process_id, role, hostname, pid, version, seen_at) values \
         ('a', 'serve', 'web-1', 11, 1, clock_timestamp()), ('b', 'worker', 'jobs-1', 22, 0, clock_timestamp()), \
         ('c', 'worker', 'gone-1', 33, 0, clock_timestamp() - interval '31 seconds')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let index = get(&boss, &app, "/admin/settings").await;
    let processes = index.html.split(r#"id="processes""#).nth(1).unwrap();
    assert!(
        processes.contains(
            "<td>serve</td><td>web-1 (pid 11)</td><td>1 <span class=\"badge badge-completed\">current</span>"
        ),
        "{processes}"
    );
    assert!(processes
        .contains("<td>worker</td><td>jobs-1 (pid 22)</td><td>0 <span class=\"badge badge-warning\">behind</span>"));
    assert!(!processes.contains("gone-1"));
    assert!(
        index.html.contains("Version 1, changed by the system at"),
        "analytics' last change"
    );

    // a Financial Administrator (disbursements.configure) sees and may change payments only
    let finance = staff(&app, "finance@mbelyco.test", "Financial Administrator").await;
    let index = get(&finance, &app, "/admin/settings").await;
    assert_eq!(index.status, 200);
    assert!(index.html.contains("href=\"/admin/settings/payments\""));
    assert!(
        index
            .html
            .contains(r#"<a href="/admin/settings" aria-current="page">Settings</a>"#),
        "in the navigation"
    );
    for c in ["branding", "ussd", "security", "notifications", "backup"] {
        assert!(!index.html.contains(&format!("href=\"/admin/settings/{c}\"")), "{c}");
    }
    let payments = get(&finance, &app, "/admin/settings/payments").await;
    assert_eq!(payments.status, 200);
    assert!(payments.html.contains(r#"id="settings-save""#));
    assert_eq!(get(&finance, &app, "/admin/settings/ussd").await.status, 403);
    assert_eq!(get(&finance, &app, "/admin/settings/ussd/history").await.status, 403);

    // a Viewer has no settings at all, typed address or not
    let viewer = staff(&app, "viewer@mbelyco.test", "Viewer").await;
    assert_eq!(get(&viewer, &app, "/admin/settings").await.status, 403);
    assert_eq!(get(&viewer, &app, "/admin/settings/payments").await.status, 403);
    assert!(!get(&viewer, &app, "/").await.html.contains(r#"href="/admin/settings""#));

    // read without update: the values, read-only, and no save button
    sqlx::query(
        "with r as (insert into roles (name, created_at, updated_at) values ('Settings Reader', now(), now()) returning id) \
         insert into role_permissions (role_id, permission_id, created_at) \
         select r.id, p.id, now() from r, permissions p where p.key = 'system.settings.read'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let reader = staff(&app, "reader@mbelyco.test", "Settings Reader").await;
    let page = get(&reader, &app, "/admin/settings/notifications").await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains(r#"id="read-only""#));
    assert!(page.html.contains("<fieldset class=\"plain\" disabled>"));
    assert!(!page.html.contains(r#"id="settings-save""#));
    let base = html_value(&page.html, r#"name="base_version""#);
    let refused = post(
        &reader,
        &app,
        "/admin/settings/notifications",
        &[
            ("base_version", base.as_str()),
            ("notifications.webhookRetryAttempts", "5"),
        ],
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(versions(&app).await, 1, "nothing saved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_page_bad_values_come_back_beside_their_fields_and_change_nothing() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let boss = admin(&app).await;
    let page = get(&boss, &app, "/admin/settings/notifications").await;
    // the browser checks what the server checks
    assert!(page
        .html
        .contains(r#"name="notifications.webhookRetryAttempts" value="3" min="0" max="10""#));
    // every notification setting takes effect (issue #22), and the page says what "off" does
    assert!(!page.html.contains("Not applied yet"));
    assert!(page.html.contains("Off: alerts queue no e-mail at all."));
    let base = html_value(&page.html, r#"name="base_version""#);
    let answer = post(
        &boss,
        &app,
        "/admin/settings/notifications",
        &[
            ("base_version", base.as_str()),
            ("notifications.webhookRetryAttempts", "11"),
            ("notifications.smtpPort", "many"),
            (
                "notifications.lowBalanceAlert.recipients",
                "ops@mbelyco.rw\r\nnot an address",
            ),
            ("notifications.fromName", "Promo desk"),
        ],
    )
    .await;
    assert_eq!(answer.status, 422);
    let html = &answer.html;
    assert!(
        html.contains(r#"<p class="field-error" data-field="notifications.smtpPort">must be a whole number</p>"#),
        "{html}"
    );
    // what was typed is shown again, to be corrected
    assert!(html.contains(r#"value="many""#));
    assert!(html.contains("Promo desk"));

    let answer = post(
        &boss,
        &app,
        "/admin/settings/notifications",
        &[
            ("base_version", base.as_str()),
            ("notifications.webhookRetryAttempts", "11"),
            (
                "notifications.lowBalanceAlert.recipients",
                "ops@mbelyco.rw\r\nnot an address",
            ),
        ],
    )
    .await;
    assert_eq!(answer.status, 422);
    let html = &answer.html;
    assert!(
        html.contains(
            r#"<p class="field-error" data-field="notifications.webhookRetryAttempts">must be from 0 to 10</p>"#
        ),
        "{html}"
    );
    assert!(html.contains(
        r#"<p class="field-error" data-field="notifications.lowBalanceAlert.recipients">line 2: must be an email address</p>"#
    ));
    assert!(html.contains(r#"value="11""#), "the value typed is kept");
    assert_eq!(versions(&app).await, 0, "nothing saved");
    assert_eq!(notifications(&app)["webhookRetryAttempts"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_preview_shows_before_and_after_and_confirm_saves_with_the_reason() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let boss = admin(&app).await;
    let base = loaded_at(&boss, &app, "notifications").await;
    // a form sent back unchanged changes nothing
    let same = post(
        &boss,
        &app,
        "/admin/settings/notifications",
        &[
            ("base_version", base.as_str()),
            ("notifications.lowBalanceAlert.threshold", "500000"),
            ("notifications.smsEnabled", "false"),
            ("notifications.smsEnabled", "true"),
        ],
    )
    .await;
    assert_eq!(same.status, 200);
    assert!(same.html.contains("Nothing changed"), "{}", same.html);

    let preview = post(
        &boss,
        &app,
        "/admin/settings/notifications",
        &[
            ("base_version", base.as_str()),
            ("notifications.lowBalanceAlert.threshold", "250,000"),
            ("notifications.smsEnabled", "false"),
        ],
    )
    .await;
    assert_eq!(preview.status, 200, "{}", preview.html);
    let html = &preview.html;
    assert!(
        html.contains(
            "<code>notifications.lowBalanceAlert.threshold</code> (Low balance threshold): 500,000 RWF → 250,000 RWF"
        ),
        "{html}"
    );
    assert!(html.contains("<code>notifications.smsEnabled</code> (Send SMS): on → off"));
    assert_eq!(versions(&app).await, 0, "a preview saves nothing");

    // the reason is required
    let payload = html_value(html, r#"name="payload""#);
    let no_reason = post(
        &boss,
        &app,
        "/admin/settings/notifications/confirm",
        &[("payload", payload.as_str()), ("reason", "  ")],
    )
    .await;
    assert_eq!(no_reason.status, 422);
    assert!(no_reason.html.contains(r#"data-field="reason""#));
    assert_eq!(versions(&app).await, 0);
    // a payload not made by the page is refused
    let forged = post(
        &boss,
        &app,
        "/admin/settings/notifications/confirm",
        &[("payload", r#"{"patch":{"smsEnabled":false}}"#), ("reason", "sneaky")],
    )
    .await;
    assert_eq!(forged.status, 422);
    assert_eq!(versions(&app).await, 0);

    let done = post(
        &boss,
        &app,
        "/admin/settings/notifications/confirm",
        &[
            ("payload", payload.as_str()),
            ("reason", "Treasury tops up at 250k now"),
        ],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.html);
    let (version, reason): (i64, Option<String>) =
        sqlx::query_as("select version, reason from setting_versions order by version desc limit 1")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(reason.as_deref(), Some("Treasury tops up at 250k now"));
    assert_eq!(done.location, format!("/admin/settings/notifications?saved={version}"));
    let audit: Value = sqlx::query_scalar(
        "select metadata from audit_logs where action = 'settings.updated' order by seq desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audit["reason"], "Treasury tops up at 250k now");
    assert_eq!(audit["version"], version);
    let now = notifications(&app);
    assert_eq!(now["lowBalanceAlert"]["threshold"], 250_000);
    assert_eq!(now["lowBalanceAlert"]["enabled"], true, "the rest of the group is kept");
    assert_eq!(now["smsEnabled"], false);
    let page = get(&boss, &app, &done.location).await;
    assert!(page.html.contains(&format!("Saved as version {version}.")));
    assert!(page
        .html
        .contains(r#"name="notifications.lowBalanceAlert.threshold" value="250000""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_second_editor_is_refused_with_who_changed_what() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let first = admin(&app).await;
    let second = staff(&app, "second@mbelyco.test", "Super Administrator").await;
    let base_first = loaded_at(&first, &app, "notifications").await;
    let base_second = loaded_at(&second, &app, "notifications").await;
    // the second previews, then the first saves, then the second confirms
    let preview_second = post(
        &second,
        &app,
        "/admin/settings/notifications",
        &[
            ("base_version", base_second.as_str()),
            ("notifications.webhookRetryAttempts", "7"),
        ],
    )
    .await;
    assert_eq!(preview_second.status, 200);
    let first_pairs = [
        ("base_version", base_first.as_str()),
        ("notifications.webhookRetryAttempts", "5"),
    ];
    let preview_first = post(&first, &app, "/admin/settings/notifications", &first_pairs).await;
    let payload = html_value(&preview_first.html, r#"name="payload""#);
    let saved = post(
        &first,
        &app,
        "/admin/settings/notifications/confirm",
        &[("payload", payload.as_str()), ("reason", "fewer retries")],
    )
    .await;
    assert_eq!(saved.status, 303);
    let name: String = sqlx::query_scalar("select coalesce(nullif(full_name, ''), email) from users where email = $1")
        .bind(crate::helpers::ADMIN_EMAIL)
        .fetch_one(&app.pool)
        .await
        .unwrap();

    let payload = html_value(&preview_second.html, r#"name="payload""#);
    let refused = post(
        &second,
        &app,
        "/admin/settings/notifications/confirm",
        &[("payload", payload.as_str()), ("reason", "more retries")],
    )
    .await;
    assert_eq!(refused.status, 409);
    assert!(
        refused.html.contains(&format!("by {name} at"))
            && refused.html.contains("changed notifications.webhookRetryAttempts"),
        "{}",
        refused.html
    );
    // and the page now shows what is stored, at the new version
    assert!(refused
        .html
        .contains(r#"name="notifications.webhookRetryAttempts" value="5""#));
    // a form still at the old version is refused at the preview step too
    let again = post(
        &second,
        &app,
        "/admin/settings/notifications",
        &[
            ("base_version", base_second.as_str()),
            ("notifications.webhookRetryAttempts", "7"),
        ],
    )
    .await;
    assert_eq!(again.status, 409);
    assert_eq!(notifications(&app)["webhookRetryAttempts"], 5, "nothing overwritten");
    assert_eq!(versions(&app).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_page_asks_before_a_change_that_locks_the_editor_out() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let boss = admin(&app).await;
    let base = loaded_at(&boss, &app, "security").await;
    let preview = post(
        &boss,
        &app,
        "/admin/settings/security",
        &[("base_version", base.as_str()), ("security.ipAllowlist", "10.0.0.0/8")],
    )
    .await;
    assert_eq!(preview.status, 200, "{}", preview.html);
    let payload = html_value(&preview.html, r#"name="payload""#);
    let asked = post(
        &boss,
        &app,
        "/admin/settings/security/confirm",
        &[("payload", payload.as_str()), ("reason", "office only")],
    )
    .await;
    assert_eq!(asked.status, 409, "{}", asked.html);
    assert!(asked.html.contains(r#"id="lockout-warning""#) && asked.html.contains("security.ipAllowlist"));
    assert!(asked.html.contains(r#"name="confirm_lockout""#));
    assert!(asked.html.contains(">office only</textarea>"), "the reason is kept");
    assert_eq!(versions(&app).await, 0, "nothing saved without the tick");
    let payload = html_value(&asked.html, r#"name="payload""#);
    let done = post(
        &boss,
        &app,
        "/admin/settings/security/confirm",
        &[
            ("payload", payload.as_str()),
            ("reason", "office only"),
            ("confirm_lockout", "true"),
        ],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.html);
    assert_eq!(app.state.settings.get().0.security.ip_allowlist, ["10.0.0.0/8"]);
}
