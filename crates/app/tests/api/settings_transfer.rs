//! Settings as documents: export (secrets left out, or sealed with the instance's key), import
//! and restore with a dry run, every bad field named at once, the change to several categories
//! all or nothing, `baseVersion` conflicts, and who may do what.

use std::sync::Arc;

use mbelyco::clock::SystemClock;
use mbelyco::settings::Category;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::helpers::{error_fields, now, spawn_app, test_config, TestApp, TestDb, ADMIN_EMAIL};

const MOMO_KEY: &str = "momo-api-key-0123456789-abcd";
const AT_KEY: &str = "at-api-key-9876543210-wxyz";

/// Rows in the settings tables and the settings audit rows.
async fn counts(pool: &PgPool) -> (i64, i64, i64) {
    sqlx::query_as(
        "select (select count(*) from system_settings), (select count(*) from setting_versions), \
                (select count(*) from audit_logs where action <> 'access.denied')",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

/// An app with a MoMo key, an AT key and a lower maximum payout.
async fn configured(db: &TestDb) -> (TestApp, String) {
    let app = spawn_app(db.pool.clone()).await;
    app.set_settings(
        Category::Payments,
        json!({"momoApiKey": MOMO_KEY, "maxAmount": 500_000}),
    )
    .await;
    app.set_settings(Category::Ussd, json!({"africasTalkingApiKey": AT_KEY}))
        .await;
    let key = app.api_key("Super Administrator").await;
    (app, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_has_every_setting_and_names_the_secrets_it_leaves_out() {
    let db = TestDb::new().await;
    let (app, key) = configured(&db).await;

    let res = app.get_as(&key, "/api/v1/admin/settings/export").await;
    assert_eq!(res.status(), 200);
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"mbelyco-settings-v2-") && disposition.ends_with(".json\""),
        "{disposition}"
    );
    let text = res.text().await.unwrap();
    assert!(
        !text.contains(MOMO_KEY) && !text.contains(AT_KEY),
        "a secret leaked: {text}"
    );
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format"], "mbelyco-settings");
    assert_eq!(doc["formatVersion"], 1);
    assert_eq!(doc["version"], 2);
    assert_eq!(doc["settings"]["payments"]["maxAmount"], 500_000);
    // defaults are in it too, every category
    assert_eq!(doc["settings"]["ussd"]["maxAttemptsPerMinute"], 5);
    assert_eq!(doc["settings"].as_object().unwrap().len(), 9);
    assert!(doc["settings"]["payments"].get("momoApiKey").is_none());
    assert!(doc["settings"]["ussd"].get("africasTalkingApiKey").is_none());
    assert_eq!(
        doc["secretsSet"],
        json!(["ussd.africasTalkingApiKey", "payments.momoApiKey"])
    );
    assert!(doc.get("sealedSecrets").is_none());
    // settings leave the system only on the record: who took which version, secrets or not
    let (entity, meta): (String, Value) = sqlx::query_as(
        "select entity_id, metadata from audit_logs where action = 'settings.exported' order by created_at desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(entity, "2");
    assert_eq!(meta["secrets"], "left out");
    let sealed = app.get_as(&key, "/api/v1/admin/settings/export?secrets=sealed").await;
    assert_eq!(sealed.status(), 200);
    let meta: Value = sqlx::query_scalar(
        "select metadata from audit_logs where action = 'settings.exported' order by created_at desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(meta["secrets"], "sealed");
    assert_eq!(
        meta["sealedSecrets"],
        json!(["payments.momoApiKey", "ussd.africasTalkingApiKey"])
    );

    // imported back unchanged, it changes nothing
    let before = counts(&app.pool).await;
    let mut body = doc.clone();
    body["reason"] = json!("same again");
    let res = app.post_json(&key, "/api/v1/admin/settings/import", &body).await;
    assert_eq!(res.status(), 200);
    let out = json_of(res).await;
    assert_eq!(out["differences"], json!([]));
    assert_eq!(out["version"], 2);
    assert_eq!(counts(&app.pool).await, before);
    assert_eq!(
        app.state.settings.get().0.payments.momo_api_key.expose(),
        Some(MOMO_KEY),
        "a secret left out of a document is kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_shows_the_difference_masks_secrets_and_changes_nothing() {
    let db = TestDb::new().await;
    let (app, key) = configured(&db).await;
    let before = counts(&app.pool).await;

    let body = json!({"settings": {
        "payments": {"maxAmount": 50_000, "momoApiKey": "a-new-momo-key-5678"},
        "security": {"rateLimiting": {"downloadsPerHour": 7}},
        "ussd": {"serviceName": "MBELYCO Promo"}
    }});
    let res = app
        .post_json(&key, "/api/v1/admin/settings/import?dryRun=true", &body)
        .await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(!text.contains("a-new-momo-key"), "{text}");
    let out: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(out["dryRun"], true);
    assert_eq!(out["version"], 2);
    assert_eq!(out["changed"], json!([]));
    let diffs = out["differences"].as_array().unwrap();
    let find = |cat: &str, key: &str| {
        diffs
            .iter()
            .find(|d| d["category"] == cat && d["key"] == key)
            .unwrap_or_else(|| panic!("{cat}.{key} not in {diffs:?}"))
            .clone()
    };
    let max = find("payments", "maxAmount");
    assert_eq!(
        (max["before"].clone(), max["after"].clone()),
        (json!(500_000), json!(50_000))
    );
    let secret = find("payments", "momoApiKey");
    assert!(secret["before"].as_str().unwrap().ends_with("abcd"), "{secret}");
    assert!(secret["after"].as_str().unwrap().ends_with("5678"), "{secret}");
    assert!(!secret["after"].as_str().unwrap().contains("new"), "{secret}");
    // a partial nested object changes only the key it names
    let downloads = find("security", "rateLimiting.downloadsPerHour");
    assert_eq!(downloads["after"], 7);
    assert_eq!(
        diffs.iter().filter(|d| d["category"] == "security").count(),
        1,
        "{diffs:?}"
    );
    // the service name was already so (default): not a difference
    assert_eq!(diffs.len(), 3, "{diffs:?}");

    assert_eq!(counts(&app.pool).await, before, "a dry run changes nothing");
    assert_eq!(app.state.settings.get().0.payments.max_amount, 500_000);

    // the same without dry run needs a reason, then applies it as one version
    let res = app.post_json(&key, "/api/v1/admin/settings/import", &body).await;
    assert_eq!(res.status(), 422);
    assert_eq!(error_fields(&json_of(res).await), vec!["reason"]);
    assert_eq!(counts(&app.pool).await, before);

    let mut with_reason = body.clone();
    with_reason["reason"] = json!("lower payouts for the pilot");
    let res = app.post_json(&key, "/api/v1/admin/settings/import", &with_reason).await;
    assert_eq!(res.status(), 200);
    let out = json_of(res).await;
    assert_eq!(out["version"], 3);
    assert_eq!(
        out["changed"],
        json!(["payments.maxAmount", "payments.momoApiKey", "security.rateLimiting"])
    );
    let s = app.state.settings.get();
    assert_eq!(s.0.payments.max_amount, 50_000);
    assert_eq!(s.0.payments.momo_api_key.expose(), Some("a-new-momo-key-5678"));
    assert_eq!(s.0.security.rate_limiting.downloads_per_hour, 7);
    let reason: Option<String> = sqlx::query_scalar("select reason from setting_versions where version = 3")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(reason.as_deref(), Some("lower payouts for the pilot"));
    let after = counts(&app.pool).await;
    assert_eq!(after.1, before.1 + 1, "one version");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_import_names_each_bad_field_and_changes_nothing() {
    let db = TestDb::new().await;
    let (app, key) = configured(&db).await;
    let before = counts(&app.pool).await;
    let import = |body: Value| {
        let app = &app;
        let key = &key;
        async move {
            let res = app.post_json(key, "/api/v1/admin/settings/import", &body).await;
            assert_eq!(res.status(), 422);
            assert_eq!(res.headers()["content-type"], "application/problem+json");
            let body = json_of(res).await;
            error_fields(&body).into_iter().map(str::to_owned).collect::<Vec<_>>()
        }
    };

    // unknown category, unknown key, wrong types, a category that is no object: all at once
    let fields = import(json!({"reason": "r", "settings": {
        "nosuch": {"a": 1},
        "payments": {"maxAmount": "lots", "noSuchKey": 1, "minAmount": 100, "momoApiKey": 5},
        "ussd": {"serviceCode": 651, "maxAttemptsPerMinute": -1},
        "branding": "blue",
        "security": {"rateLimiting": {"downloadsPerHour": "many"}}
    }}))
    .await;
    for f in [
        "nosuch",
        "payments.maxAmount",
        "payments.noSuchKey",
        "payments.momoApiKey",
        "ussd.serviceCode",
        "ussd.maxAttemptsPerMinute",
        "branding",
        "security.rateLimiting.downloadsPerHour",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} not named in {fields:?}");
    }
    assert!(!fields.iter().any(|x| x == "payments.minAmount"), "{fields:?}");

    // out of bounds and across fields, in several categories at once
    let fields = import(json!({"reason": "r", "settings": {
        "payments": {"maxRetryAttempts": 99},
        "ussd": {"maxAttemptsPerMinute": 0},
        "integrations": {"corsEnabled": true, "corsAllowedOrigins": ["http://partner.example.rw"]}
    }}))
    .await;
    for f in [
        "payments.maxRetryAttempts",
        "ussd.maxAttemptsPerMinute",
        "integrations.corsAllowedOrigins[0]",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} not named in {fields:?}");
    }

    // not our format
    let fields = import(json!({"format": "other", "formatVersion": 2, "settings": {}, "reason": "r"})).await;
    assert_eq!(fields, vec!["format", "formatVersion"]);

    assert_eq!(counts(&app.pool).await, before);
    assert_eq!(app.state.settings.get().0.payments.max_amount, 500_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_settings_change_is_all_or_nothing_in_one_version() {
    let db = TestDb::new().await;
    let (app, key) = configured(&db).await;
    let before = counts(&app.pool).await;

    let res = app
        .put_json(
            &key,
            "/api/v1/admin/settings",
            &json!({"settings": {"payments": {"maxAmount": 40_000}, "ussd": {"serviceCode": "123"}}, "reason": "r"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(error_fields(&json_of(res).await), vec!["ussd.serviceCode"]);
    assert_eq!(counts(&app.pool).await, before);
    let res = app.get_as(&key, "/api/v1/admin/settings/payments").await;
    assert_eq!(
        json_of(res).await["settings"]["maxAmount"],
        500_000,
        "the good category was not applied"
    );

    let res = app
        .put_json(
            &key,
            "/api/v1/admin/settings",
            &json!({"settings": {"payments": {"maxAmount": 40_000}, "ussd": {"serviceCode": "*651#"}},
                    "reason": "pilot", "baseVersion": 2}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let out = json_of(res).await;
    assert_eq!(out["version"], 3);
    assert_eq!(out["changed"], json!(["ussd.serviceCode", "payments.maxAmount"]));
    assert_eq!(out["settings"]["payments"]["maxAmount"], 40_000);
    assert!(out["settings"]["payments"]["momoApiKey"]
        .as_str()
        .unwrap()
        .ends_with("abcd"));
    assert_eq!(counts(&app.pool).await.1, before.1 + 1, "one version");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_from_an_old_version_is_refused_with_who_changed_what() {
    let db = TestDb::new().await;
    let (app, key) = configured(&db).await;
    // someone changes the USSD settings after the editor opened version 2
    let res = app
        .put_json(
            &key,
            "/api/v1/admin/settings/ussd",
            &json!({"settings": {"serviceName": "Promo"}, "reason": "rename", "baseVersion": 2}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let before = counts(&app.pool).await;

    for (method, path, body) in [
        (
            reqwest::Method::PUT,
            "/api/v1/admin/settings",
            json!({"settings": {"ussd": {"serviceName": "Mine"}}, "baseVersion": 2}),
        ),
        (
            reqwest::Method::PUT,
            "/api/v1/admin/settings/ussd",
            json!({"settings": {"serviceName": "Mine"}, "baseVersion": 2}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/admin/settings/import",
            json!({"settings": {"ussd": {"serviceName": "Mine"}}, "baseVersion": 2, "reason": "r"}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/admin/settings/import?dryRun=true",
            json!({"settings": {"ussd": {"serviceName": "Mine"}}, "baseVersion": 2}),
        ),
    ] {
        let res = app.send_json(&key, method, path, &body).await;
        assert_eq!(res.status(), 409, "{path}");
        let detail = json_of(res).await["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.contains("version 3") && detail.contains("ussd.serviceName"),
            "{detail}"
        );
    }
    assert_eq!(counts(&app.pool).await, before);
    assert_eq!(app.state.settings.get().0.ussd.service_name, "Promo");

    // a category nobody touched since is fine from the same version
    let res = app
        .put_json(
            &key,
            "/api/v1/admin/settings",
            &json!({"settings": {"branding": {"companyTagline": "Win"}}, "baseVersion": 2}),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_permissions_open_export_import_backup_and_restore() {
    let db = TestDb::new().await;
    let (app, key) = configured(&db).await;
    let finance = app.api_key("Financial Administrator").await;
    let viewer = app.api_key("Viewer").await;
    let before = counts(&app.pool).await;
    let doc = json!({"settings": {"payments": {"maxAmount": 60_000}}, "reason": "r"});
    for who in [&finance, &viewer] {
        assert_eq!(app.get_as(who, "/api/v1/admin/settings/export").await.status(), 403);
        assert_eq!(app.post_as(who, "/api/v1/admin/settings/backup").await.status(), 403);
        for path in ["/api/v1/admin/settings/import", "/api/v1/admin/settings/restore"] {
            assert_eq!(app.post_json(who, path, &doc).await.status(), 403, "{path}");
        }
    }
    // the viewer changes nothing; finance may change payments alone, not with another category
    let payments_and_ussd = json!({"settings": {"payments": {"maxAmount": 60_000}, "ussd": {"serviceName": "X"}}});
    assert_eq!(
        app.put_json(&viewer, "/api/v1/admin/settings", &doc).await.status(),
        403
    );
    assert_eq!(
        app.put_json(&finance, "/api/v1/admin/settings", &payments_and_ussd)
            .await
            .status(),
        403
    );
    assert_eq!(counts(&app.pool).await, before);
    let res = app.put_json(&finance, "/api/v1/admin/settings", &doc).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.state.settings.get().0.payments.max_amount, 60_000);

    // exporting does not open the secrets: sealing them needs the backup permission too
    let mut tx = app.pool.begin().await.unwrap();
    let viewer_role = mbelyco::access::role_id(&mut tx, "Viewer").await.unwrap().unwrap();
    mbelyco::access::roles::set_permissions(
        &mut tx,
        viewer_role,
        &["system.settings.export".to_owned()],
        &mbelyco::unit::Acting::system(now()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(app.get_as(&viewer, "/api/v1/admin/settings/export").await.status(), 200);
    let res = app
        .get_as(&viewer, "/api/v1/admin/settings/export?secrets=sealed")
        .await;
    assert_eq!(res.status(), 403);
    let body = json_of(res).await;
    assert!(
        body["detail"].as_str().unwrap().contains("system.settings.backup"),
        "{body}"
    );

    // the Super Administrator holds them all
    assert_eq!(app.get_as(&key, "/api/v1/admin/settings/export").await.status(), 200);
}

/// A second instance on its own database with another SECRET_KEY, and a Super Administrator's
/// API key on it.
async fn other_instance(db: &TestDb) -> (String, reqwest::Client, String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = test_config(&[
        ("PUBLIC_BASE_URL", &base),
        ("SECRET_KEY", "another-secret-key-of-another-instance-0123"),
    ]);
    let state = mbelyco::startup::build_state(db.pool.clone(), config, Arc::new(SystemClock))
        .await
        .unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(mbelyco::startup::serve(state, listener, shutdown.clone()));
    let mut tx = db.pool.begin().await.unwrap();
    let owner: uuid::Uuid = sqlx::query_scalar("select id from users where email = $1")
        .bind(ADMIN_EMAIL)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let role = mbelyco::access::role_id(&mut tx, "Super Administrator")
        .await
        .unwrap()
        .unwrap();
    let key = mbelyco::identity::api_keys::create(
        &mut tx,
        owner,
        "other",
        role,
        now() + chrono::Duration::days(1),
        &mbelyco::unit::Acting::system(now()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (base, reqwest::Client::new(), key.key, shutdown)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_secrets_restore_only_where_the_same_secret_key_is_configured() {
    let db = TestDb::new().await;
    let (app, key) = configured(&db).await;

    // sealing needs the backup permission on top of export; the backup route seals always
    let res = app.get_as(&key, "/api/v1/admin/settings/export?secrets=sealed").await;
    assert_eq!(res.status(), 200);
    let sealed: Value = json_of(res).await;
    let res = app.post_as(&key, "/api/v1/admin/settings/backup").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let text = res.text().await.unwrap();
    assert!(!text.contains(MOMO_KEY) && !text.contains(AT_KEY), "{text}");
    let backup: Value = serde_json::from_str(&text).unwrap();
    for doc in [&sealed, &backup] {
        let names: Vec<&String> = doc["sealedSecrets"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["payments.momoApiKey", "ussd.africasTalkingApiKey"]);
    }

    // the secrets are lost here, then restored from the backup on the same key
    app.set_settings(Category::Payments, json!({"momoApiKey": null, "maxAmount": 1000}))
        .await;
    app.set_settings(Category::Ussd, json!({"africasTalkingApiKey": null}))
        .await;
    let mut restore = backup.clone();
    restore["reason"] = json!("restore after the incident");
    let res = app
        .post_json(&key, "/api/v1/admin/settings/restore?dryRun=true", &restore)
        .await;
    assert_eq!(res.status(), 200);
    let dry = json_of(res).await;
    assert_eq!(dry["differences"].as_array().unwrap().len(), 3, "{dry}");
    let res = app.post_json(&key, "/api/v1/admin/settings/restore", &restore).await;
    assert_eq!(res.status(), 200);
    let s = app.state.settings.get();
    assert_eq!(s.0.payments.momo_api_key.expose(), Some(MOMO_KEY));
    assert_eq!(s.0.ussd.africas_talking_api_key.expose(), Some(AT_KEY));
    assert_eq!(s.0.payments.max_amount, 500_000);

    // another instance with another SECRET_KEY cannot open them: refused, each named
    let other_db = TestDb::new().await;
    let (base, client, other_key, stop) = other_instance(&other_db).await;
    let before = counts(&other_db.pool).await;
    let res = client
        .post(format!("{base}/api/v1/admin/settings/restore"))
        .bearer_auth(&other_key)
        .json(&restore)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = json_of(res).await;
    assert_eq!(
        error_fields(&body),
        vec!["payments.momoApiKey", "ussd.africasTalkingApiKey"]
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("another SECRET_KEY"),
        "{body}"
    );
    assert_eq!(counts(&other_db.pool).await, before, "nothing changed");

    // skipping them restores the rest and says which were skipped
    let res = client
        .post(format!("{base}/api/v1/admin/settings/restore?secrets=skip"))
        .bearer_auth(&other_key)
        .json(&restore)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let out = json_of(res).await;
    assert_eq!(
        out["secretsSkipped"],
        json!(["payments.momoApiKey", "ussd.africasTalkingApiKey"])
    );
    assert_eq!(out["changed"], json!(["payments.maxAmount"]));
    let secrets: i64 = sqlx::query_scalar("select count(*) from system_settings where is_secret")
        .fetch_one(&other_db.pool)
        .await
        .unwrap();
    assert_eq!(secrets, 0);
    stop.cancel();
}

/// `backup` is both a category and (with POST) the settings backup: the category's GET and PUT
/// answer at the same address as the backup's POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_category_reads_and_changes_beside_the_settings_backup() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let res = app.get_as(&admin, "/api/v1/admin/settings/backup").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["category"], "backup");
    assert_eq!(body["settings"]["databaseBackupRetentionDays"], 30);
    let res = app
        .put_json(
            &admin,
            "/api/v1/admin/settings/backup",
            &serde_json::json!({"settings": {"databaseBackupRetentionDays": 14}, "reason": "shorter"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let body: serde_json::Value = app
        .get_as(&admin, "/api/v1/admin/settings/backup")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["settings"]["databaseBackupRetentionDays"], 14);
    // and the POST is still the backup of every setting
    let res = app
        .post_json(&admin, "/api/v1/admin/settings/backup", &serde_json::json!({}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}
