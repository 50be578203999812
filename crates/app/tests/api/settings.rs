//! Settings: validation with field errors, versions, audit, secrets at rest, rollback, and a
//! change reaching another process.

use std::time::{Duration, Instant};

use mbelyco::error::AppError;
use mbelyco::settings::{self, Category, SettingsStore};
use serde_json::{json, Map, Value};
use sqlx::PgPool;

use crate::helpers::{build_state, now, TestDb};

fn patch(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

async fn counts(pool: &PgPool) -> (i64, i64, i64) {
    sqlx::query_as(
        "select (select count(*) from system_settings), (select count(*) from setting_versions), \
                (select count(*) from audit_logs where action like 'settings.%')",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_change_is_versioned_audited_and_applied() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let state = build_state(&pool).await;
    assert_eq!(state.settings.get().0.ussd.max_attempts_per_minute, 5, "PRD default");

    let mut tx = pool.begin().await.unwrap();
    let out = settings::update(
        &mut tx,
        state.settings.secrets(),
        Category::Ussd,
        patch(json!({"maxAttemptsPerMinute": 3, "serviceCode": "*651#"})),
        Some("night shift fraud wave".into()),
        &mbelyco::unit::Acting::system(now()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(out.version, 1);
    assert_eq!(out.changed_keys, vec!["ussd.maxAttemptsPerMinute", "ussd.serviceCode"]);

    assert!(state.settings.refresh().await.unwrap());
    let s = state.settings.get();
    assert_eq!(s.0.ussd.max_attempts_per_minute, 3);
    assert_eq!(s.0.ussd.service_code, "*651#");
    assert_eq!(s.1, 1);

    let (before, after): (Value, Value) =
        sqlx::query_as("select before, after from audit_logs where action = 'settings.updated'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(before["ussd"]["maxAttemptsPerMinute"], Value::Null, "was the default");
    assert_eq!(after["ussd"]["maxAttemptsPerMinute"], 3);
    let changes: Value = sqlx::query_scalar("select changes from setting_versions where version = 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(changes.as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_values_are_refused_with_their_fields_and_change_nothing() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let state = build_state(&pool).await;
    let before = counts(&pool).await;
    let cases = [
        (
            Category::Payments,
            json!({"minAmount": 5000, "maxAmount": 100}),
            "payments.maxAmount",
        ),
        (
            Category::Payments,
            json!({"maxRetryAttempts": 6}),
            "payments.maxRetryAttempts",
        ),
        (
            Category::Payments,
            json!({"maxRetryAttempts": "three"}),
            "payments.maxRetryAttempts",
        ),
        (Category::Ussd, json!({"serviceCode": "123"}), "ussd.serviceCode"),
        (Category::Ussd, json!({"noSuchKey": 1}), "ussd.noSuchKey"),
        (
            Category::Security,
            json!({"idleTimeoutMinutes": 2000, "sessionTimeoutMinutes": 60}),
            "security.idleTimeoutMinutes",
        ),
        (
            Category::Security,
            json!({"audit": {"retentionDays": 30}}),
            "security.audit.retentionDays",
        ),
        (
            Category::Notifications,
            json!({"emailEnabled": true}),
            "notifications.smtpHost",
        ),
        (
            Category::Branding,
            json!({"primaryColor": "blue"}),
            "branding.primaryColor",
        ),
    ];
    for (cat, body, field) in cases {
        let mut tx = pool.begin().await.unwrap();
        let err = settings::update(
            &mut tx,
            state.settings.secrets(),
            cat,
            patch(body.clone()),
            None,
            &mbelyco::unit::Acting::system(now()),
        )
        .await
        .expect_err(&format!("{body} must be refused"));
        tx.rollback().await.unwrap();
        match err {
            AppError::Validation(errors) => {
                assert!(errors.iter().any(|e| e.field == field), "{field} not in {errors:?}");
            }
            other => panic!("expected a validation error for {body}, got {other:?}"),
        }
    }
    assert_eq!(counts(&pool).await, before, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_encrypted_at_rest_and_never_returned_in_full() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let state = build_state(&pool).await;
    let secret = "momo-key-7f3a9c21d4e8";
    let mut tx = pool.begin().await.unwrap();
    settings::update(
        &mut tx,
        state.settings.secrets(),
        Category::Payments,
        patch(json!({"momoApiKey": secret, "momoTargetEnvironment": "mtnrwanda"})),
        None,
        &mbelyco::unit::Acting::system(now()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let stored: Value = sqlx::query_scalar("select value from system_settings where key = 'momoApiKey'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(stored.as_str().unwrap().starts_with("v1:"));
    let everywhere: String = sqlx::query_scalar(
        "select (select string_agg(value::text, ' ') from system_settings) || (select string_agg(changes::text || snapshot::text, ' ') from setting_versions) \
         || (select string_agg(coalesce(before::text, '') || coalesce(after::text, ''), ' ') from audit_logs)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(!everywhere.contains(secret), "the secret appears in clear");

    state.settings.refresh().await.unwrap();
    let s = state.settings.get();
    assert_eq!(
        s.0.payments.momo_api_key.expose(),
        Some(secret),
        "the client can use it"
    );
    let view = settings::view(&s.0, Category::Payments);
    assert_eq!(view["momoApiKey"], "••••••d4e8");
    assert_eq!(view["momoApiUser"], Value::Null);

    // sending back the masked value keeps the secret
    let mut tx = pool.begin().await.unwrap();
    let out = settings::update(
        &mut tx,
        state.settings.secrets(),
        Category::Payments,
        patch(json!({"momoApiKey": "••••••d4e8", "minAmount": 200})),
        None,
        &mbelyco::unit::Acting::system(now()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(out.changed_keys, vec!["payments.minAmount"]);
    state.settings.refresh().await.unwrap();
    assert_eq!(state.settings.get().0.payments.momo_api_key.expose(), Some(secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_restores_a_version_in_one_call() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let state = build_state(&pool).await;
    let secrets = state.settings.secrets();
    let change = |body: Value| {
        let pool = pool.clone();
        async move {
            let mut tx = pool.begin().await.unwrap();
            let out = settings::update(
                &mut tx,
                secrets,
                Category::Payments,
                patch(body),
                None,
                &mbelyco::unit::Acting::system(now()),
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            out.version
        }
    };
    let v1 = change(json!({"approvalThreshold": 50000, "momoApiKey": "first-secret-value"})).await;
    let _v2 =
        change(json!({"approvalThreshold": 75000, "momoApiKey": "second-secret-value", "maxRetryAttempts": 5})).await;

    let mut tx = pool.begin().await.unwrap();
    let out = settings::rollback(&mut tx, secrets, v1, false, &mbelyco::unit::Acting::system(now()))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(out.version, 3);
    state.settings.refresh().await.unwrap();
    let s = state.settings.get();
    assert_eq!(s.0.payments.approval_threshold, 50000);
    assert_eq!(
        s.0.payments.max_retry_attempts, 3,
        "a key set after v1 returns to its default"
    );
    assert_eq!(s.0.payments.momo_api_key.expose(), Some("first-secret-value"));
    let rollback_of: Option<i64> = sqlx::query_scalar("select rollback_of from setting_versions where version = 3")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rollback_of, Some(v1));
    let audited: i64 = sqlx::query_scalar("select count(*) from audit_logs where action = 'settings.rolled_back'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audited, 1);

    let mut tx = pool.begin().await.unwrap();
    let err = settings::rollback(&mut tx, secrets, 99, false, &mbelyco::unit::Acting::system(now()))
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_reaches_another_process_within_five_seconds() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let state = build_state(&pool).await;
    // a second process: its own store and watcher on the same database
    let other = SettingsStore::load(pool.clone(), state.settings.secrets().clone())
        .await
        .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let watcher = other.spawn_watcher(mbelyco::settings::ProcessRole::Worker, stop.clone());
    tokio::time::sleep(Duration::from_millis(200)).await; // let it LISTEN

    let started = Instant::now();
    let mut tx = pool.begin().await.unwrap();
    settings::update(
        &mut tx,
        state.settings.secrets(),
        Category::Business,
        patch(json!({"lockTimeoutSeconds": 10})),
        None,
        &mbelyco::unit::Acting::system(now()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    while other.get().0.business.lock_timeout_seconds != 10 {
        assert!(started.elapsed() < Duration::from_secs(5), "not propagated within 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    watcher.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_versions_page_newest_first_by_cursor() {
    let db = TestDb::new().await;
    let app = crate::helpers::spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    for n in 3..=5 {
        let res = app
            .put_json(
                &admin,
                "/api/v1/admin/settings/ussd",
                &json!({"settings": {"maxAttemptsPerMinute": n}, "reason": format!("step {n}")}),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    let mut versions = Vec::new();
    let mut path = "/api/v1/admin/settings/versions?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let res = app.get_as(&admin, &path).await;
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        let page = v["data"].as_array().unwrap();
        assert!(page.len() <= 2, "{v}");
        versions.extend(page.iter().map(|r| r["version"].as_i64().unwrap()));
        pages += 1;
        match v["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(
        (versions, pages),
        (vec![3, 2, 1], 2),
        "every version once, newest first"
    );
    let res = app
        .get_as(&admin, "/api/v1/admin/settings/versions?cursor=not-ours")
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(crate::helpers::error_fields(&body), ["cursor"]);
}

/// A group of settings changes only the members given, and a change started from an older
/// version that someone else has since changed is refused, naming who changed what.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_change_member_by_member_and_a_stale_edit_is_refused_naming_who_changed_what() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let state = build_state(&pool).await;
    let acting = mbelyco::unit::Acting::system(now());
    let mut tx = pool.begin().await.unwrap();
    settings::update(
        &mut tx,
        state.settings.secrets(),
        Category::Business,
        patch(json!({"expiration": {"maxExpirationDays": 400}})),
        None,
        &acting,
    )
    .await
    .unwrap();
    let second = settings::update(
        &mut tx,
        state.settings.secrets(),
        Category::Business,
        patch(json!({"expiration": {"defaultExpirationDays": 60}})),
        None,
        &acting,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    state.settings.refresh().await.unwrap();
    let e = state.settings.get().0.business.expiration.clone();
    assert_eq!(
        (e.max_expiration_days, e.default_expiration_days, e.min_expiration_days),
        (400, 60, 1)
    );

    // an editor who opened the page at version 1 saves over version 2's change: refused
    let before = counts(&pool).await;
    let mut tx = pool.begin().await.unwrap();
    let change = settings::Change::one(
        Category::Business,
        patch(json!({"lockTimeoutSeconds": 12})),
        Some("mine".into()),
    )
    .from_version(Some(second.version - 1));
    let err = settings::update_many(&mut tx, state.settings.secrets(), change, &acting)
        .await
        .unwrap_err();
    drop(tx);
    match err {
        AppError::Conflict { message, .. } => {
            assert!(message.contains(&format!("version {}", second.version)), "{message}");
            assert!(message.contains("business.expiration"), "{message}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(counts(&pool).await, before, "nothing changed");
    // a change of another category from the same old version is not in conflict
    let mut tx = pool.begin().await.unwrap();
    let other = settings::Change::one(Category::Ussd, patch(json!({"maxAttemptsPerMinute": 4})), None)
        .from_version(Some(second.version - 1));
    settings::update_many(&mut tx, state.settings.secrets(), other, &acting)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}
