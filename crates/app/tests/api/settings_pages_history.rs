//! The settings console's history over HTTP (issue #20, item 2): the versions of a category by
//! pages, the difference between two versions, rollback after a confirmation, and secrets that
//! never reach any page.

use mbelyco::settings::Category;
use serde_json::json;

use crate::helpers::{html_value, spawn_app, TestDb};
use crate::settings_pages::{admin, get, loaded_at, post, save, versions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_history_compares_versions_and_rolls_back_after_confirmation() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let boss = admin(&app).await;
    assert_eq!(
        save(
            &boss,
            &app,
            "backup",
            &[("backup.databaseBackupRetentionDays", "60")],
            "keep two months"
        )
        .await
        .status,
        303
    );
    assert_eq!(
        save(
            &boss,
            &app,
            "backup",
            &[
                ("backup.databaseBackupRetentionDays", "90"),
                ("backup.maintenanceTime", "03:30")
            ],
            "a quarter"
        )
        .await
        .status,
        303
    );
    // a change elsewhere is not in this history
    app.set_settings(Category::Analytics, json!({"refreshIntervalSeconds": 60}))
        .await;
    let history = get(&boss, &app, "/admin/settings/backup/history").await;
    assert_eq!(history.status, 200);
    let h = &history.html;
    let (at2, at1) = (
        h.find(r#"data-version="2""#).unwrap(),
        h.find(r#"data-version="1""#).unwrap(),
    );
    assert!(at2 < at1, "newest first");
    assert!(!h.contains(r#"data-version="3""#));
    assert!(h.contains("keep two months") && h.contains("a quarter"));
    assert!(h.contains("<code>backup.maintenanceTime</code>"));

    let compared = get(&boss, &app, "/admin/settings/backup/history?a=1&b=2").await;
    assert!(
        compared
            .html
            .contains("<code>backup.databaseBackupRetentionDays</code> (Keep backups for): 60 days → 90 days"),
        "{}",
        compared.html
    );
    assert!(compared
        .html
        .contains("<code>backup.maintenanceTime</code> (Time): “02:00” → “03:30”"));
    let from_defaults = get(&boss, &app, "/admin/settings/backup/history?a=0&b=1").await;
    assert!(from_defaults.html.contains("30 days → 60 days"));

    // rollback to 1: a confirmation listing every change, across categories
    let confirm = get(&boss, &app, "/admin/settings/backup/rollback/1").await;
    assert_eq!(confirm.status, 200);
    let c = &confirm.html;
    assert!(c.contains("restores the whole state of version 1"));
    assert!(c.contains("90 days → 60 days"));
    assert!(c.contains("<code>analytics.refreshIntervalSeconds</code>"), "{c}");
    assert_eq!(versions(&app).await, 3, "asking is not doing");
    let done = post(&boss, &app, "/admin/settings/backup/rollback/1", &[]).await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location, "/admin/settings/backup/history?rolled=4");
    let backup = mbelyco::settings::view(&app.state.settings.get().0, Category::Backup);
    assert_eq!(backup["databaseBackupRetentionDays"], 60);
    assert_eq!(backup["maintenanceTime"], "02:00");
    let audited: i64 = sqlx::query_scalar("select count(*) from audit_logs where action = 'settings.rolled_back'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(audited, 1);
    let history = get(&boss, &app, &done.location).await;
    assert!(history.html.contains("rollback to 1"));

    // paging: 20 a page, older ones behind a link
    for days in 100..120 {
        app.set_settings(Category::Backup, json!({"databaseBackupRetentionDays": days}))
            .await;
    }
    let first = get(&boss, &app, "/admin/settings/backup/history").await;
    assert_eq!(first.html.matches("<tr data-version=").count(), 20);
    let older = html_value(&first.html, r#"rel="next""#);
    assert_eq!(older, "Older versions");
    let next = first
        .html
        .split("history?before=")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let second = get(&boss, &app, &format!("/admin/settings/backup/history?before={next}")).await;
    assert_eq!(second.html.matches("<tr data-version=").count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_secrets_never_appear_in_any_page() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let old = "smtp-password-Old-1234567";
    let new = "smtp-password-New-7654321";
    app.set_settings(Category::Notifications, json!({"smtpPassword": old}))
        .await;
    app.set_settings(Category::Payments, json!({"momoApiKey": "momo-key-SECRET-000111"}))
        .await;
    let boss = admin(&app).await;
    let leaks = |html: &str| -> Vec<String> {
        [old, new, "momo-key-SECRET-000111"]
            .iter()
            .flat_map(|s| [s.to_string(), mbelyco::crypto::mask(s)])
            .filter(|s| html.contains(s.as_str()))
            .collect()
    };
    let mut pages = vec!["/admin/settings".to_owned()];
    for c in Category::ALL {
        pages.push(format!("/admin/settings/{}", c.as_str()));
        pages.push(format!("/admin/settings/{}/history", c.as_str()));
    }
    pages.push("/admin/settings/notifications/history?a=0&b=2".into());
    pages.push("/admin/settings/notifications/rollback/1".into());
    for p in &pages {
        let page = get(&boss, &app, p).await;
        assert_eq!(page.status, 200, "{p}");
        assert!(leaks(&page.html).is_empty(), "{p} shows {:?}", leaks(&page.html));
    }
    let form = get(&boss, &app, "/admin/settings/notifications").await;
    assert!(form
        .html
        .contains(r#"id="f-notifications-smtpPassword-state"><span class="badge badge-completed">set</span>"#));

    // replacing it: neither the preview nor anything after shows the new value
    let base = html_value(&form.html, r#"name="base_version""#);
    let preview = post(
        &boss,
        &app,
        "/admin/settings/notifications",
        &[
            ("base_version", base.as_str()),
            ("notifications.smtpPassword.replace", new),
        ],
    )
    .await;
    assert_eq!(preview.status, 200, "{}", preview.html);
    assert!(preview
        .html
        .contains("<code>notifications.smtpPassword</code> (SMTP password): set → replaced"));
    assert!(leaks(&preview.html).is_empty(), "{:?}", leaks(&preview.html));
    let payload = html_value(&preview.html, r#"name="payload""#);
    let done = post(
        &boss,
        &app,
        "/admin/settings/notifications/confirm",
        &[("payload", payload.as_str()), ("reason", "rotated")],
    )
    .await;
    assert_eq!(done.status, 303);
    assert_eq!(
        app.state.settings.get().0.notifications.smtp_password.expose(),
        Some(new)
    );
    for p in [
        "/admin/settings/notifications",
        "/admin/settings/notifications/history?a=2&b=3",
    ] {
        let page = get(&boss, &app, p).await;
        assert!(leaks(&page.html).is_empty(), "{p} shows {:?}", leaks(&page.html));
    }
    let compared = get(&boss, &app, "/admin/settings/notifications/history?a=2&b=3").await;
    assert!(
        compared.html.contains("(SMTP password): set → replaced"),
        "{}",
        compared.html
    );

    // and clearing it
    let base = loaded_at(&boss, &app, "notifications").await;
    let preview = post(
        &boss,
        &app,
        "/admin/settings/notifications",
        &[
            ("base_version", base.as_str()),
            ("notifications.smtpPassword.clear", "true"),
        ],
    )
    .await;
    assert!(
        preview.html.contains("(SMTP password): set → not set"),
        "{}",
        preview.html
    );
}
