//! The business settings as staff and customers see them: the batch form's default expiry,
//! expiry with its grace period (the refresh and redemption alike), open batches per person,
//! auto-assign, and the customer's redemption rules on USSD.

use chrono::{DateTime, Duration, Utc};
use mbelyco::settings::Category;
use serde_json::{json, Value};

use crate::helpers::{error_fields, now, spawn_app, TestApp, TestDb, ADMIN_EMAIL, ADMIN_PASSWORD};

async fn ready(db: &TestDb) -> (TestApp, String) {
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let key = app.api_key("Super Administrator").await;
    (app, key)
}

/// Dials, chooses "redeem" and types the code; the last screen.
async fn redeem(app: &TestApp, session: &str, phone: &str, code: &str) -> String {
    app.hop(session, phone, "").await;
    app.hop(session, phone, "1").await;
    app.hop(session, phone, &format!("1*{code}")).await
}

async fn create(app: &TestApp, key: &str, body: Value) -> (u16, Value) {
    let res = app.post_json(key, "/api/v1/admin/batches", &body).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn batch_status(app: &TestApp, id: &str) -> String {
    sqlx::query_scalar("select status from batches where id = $1::uuid")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Runs the scheduled batch status refresh once.
async fn refresh(app: &TestApp, worker: &str) {
    let mut conn = app.pool.acquire().await.unwrap();
    let job = mbelyco::jobs::NewJob::new(mbelyco::batches::refresh::KIND, &json!({})).unwrap();
    mbelyco::jobs::enqueue(&mut conn, &job, now()).await.unwrap();
    drop(conn);
    app.worker(worker).drain().await.unwrap();
}

async fn set_expiry(app: &TestApp, batch: &str, ago: Duration) {
    sqlx::query("update batches set expiration_date = $2 where id = $1::uuid")
        .bind(batch)
        .bind(now() - ago)
        .execute(&app.pool)
        .await
        .unwrap();
}

async fn admin_id(app: &TestApp) -> String {
    sqlx::query_scalar::<_, uuid::Uuid>("select id from users where email = $1")
        .bind(ADMIN_EMAIL)
        .fetch_one(&app.pool)
        .await
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_batch_form_starts_at_the_default_expiry_and_the_api_uses_it_when_none_is_given() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    app.set_settings(Category::Business, json!({"expiration": {"defaultExpirationDays": 45}}))
        .await;
    let day = (now().with_timezone(&mbelyco::clock::kigali()) + Duration::days(45))
        .format("%Y-%m-%d")
        .to_string();
    let html = app.get_as(&key, "/admin/batches").await.text().await.unwrap();
    assert!(
        html.contains(&format!(r#"name="expires_at" value="{day}""#)),
        "the form's expiry is 45 days ahead ({day})"
    );

    let (status, body) = create(
        &app,
        &key,
        json!({"name": "No expiry given", "totalCodes": 5, "amountPerCode": 1000, "generate": false}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let got: DateTime<Utc> = body["batch"]["expirationDate"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        Some(got),
        mbelyco::batches::parse_expiry(&day),
        "the end of that day in Kigali"
    );
    // a given expiry is still taken as given
    let (status, body) = create(
        &app,
        &key,
        json!({"name": "Expiry given", "totalCodes": 5, "amountPerCode": 1000, "expiresAt": "2027-06-30", "generate": false}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let got: DateTime<Utc> = body["batch"]["expirationDate"].as_str().unwrap().parse().unwrap();
    assert_eq!(Some(got), mbelyco::batches::parse_expiry("2027-06-30"));
}

#[tokio::test]
async fn batches_expire_after_the_grace_period_and_codes_are_redeemable_until_then() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    app.set_settings(Category::Business, json!({"expiration": {"gracePeriodHours": 48}}))
        .await;
    let batch = app.generated_batch(&key, "Grace", 3, "w-grace").await;
    let codes = app.batch_codes(&batch).await;

    // an hour past its date, inside the grace: still open, and its codes still pay
    set_expiry(&app, &batch, Duration::hours(1)).await;
    refresh(&app, "w-r1").await;
    assert_eq!(batch_status(&app, &batch).await, "active");
    assert!(redeem(&app, "g-1", "+250788410001", &codes[0])
        .await
        .starts_with("END Murakoze!"));

    // past the date and the grace: refused at once, and the refresh expires the batch
    set_expiry(&app, &batch, Duration::hours(49)).await;
    assert_eq!(
        redeem(&app, "g-2", "+250788410002", &codes[1]).await,
        "END Igihe cy'iyi kode cyararangiye."
    );
    refresh(&app, "w-r2").await;
    assert_eq!(batch_status(&app, &batch).await, "expired");
    let expired: i64 =
        sqlx::query_scalar("select count(*) from promo_codes where batch_id = $1::uuid and status = 'expired'")
            .bind(&batch)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(expired, 2, "its unused codes expire with it");
}

#[tokio::test]
async fn with_auto_expire_off_the_refresh_leaves_a_batch_past_its_date_to_staff() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    app.set_settings(Category::Business, json!({"expiration": {"autoExpireEnabled": false}}))
        .await;
    let batch = app.generated_batch(&key, "Manual expiry", 2, "w-manual").await;
    let codes = app.batch_codes(&batch).await;
    set_expiry(&app, &batch, Duration::hours(2)).await;
    refresh(&app, "w-m1").await;
    assert_eq!(batch_status(&app, &batch).await, "active", "nobody expired it");
    // the customer is still refused a code past its date
    assert_eq!(
        redeem(&app, "m-1", "+250788420001", &codes[0]).await,
        "END Igihe cy'iyi kode cyararangiye."
    );
    // on again: the next refresh expires it
    app.set_settings(Category::Business, json!({"expiration": {"autoExpireEnabled": true}}))
        .await;
    refresh(&app, "w-m2").await;
    assert_eq!(batch_status(&app, &batch).await, "expired");
}

/// A browser-like session of the bootstrap Super Administrator (password, TOTP enrolment).
async fn signed_in(app: &TestApp) -> reqwest::Client {
    let c = app.browser();
    let res = crate::helpers::password_step(&c, app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 303);
    crate::helpers::finish_enrolment(&c, app).await;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_person_may_have_only_so_many_open_batches_page_and_api_alike() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    app.set_settings(Category::Business, json!({"batchManagement": {"maxBatchesPerUser": 2}}))
        .await;
    let mut ids = Vec::new();
    for n in 1..=2 {
        let (status, body) = create(
            &app,
            &key,
            json!({"name": format!("Open {n}"), "totalCodes": 5, "amountPerCode": 1000, "expiresAt": "2027-06-30", "generate": false}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["batch"]["id"].as_str().unwrap().to_owned());
    }
    let third =
        json!({"name": "Open 3", "totalCodes": 5, "amountPerCode": 1000, "expiresAt": "2027-06-30", "generate": false});
    let (status, body) = create(&app, &key, third.clone()).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_fields(&body), ["business.batchManagement.maxBatchesPerUser"]);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2 open batches"),
        "{body}"
    );

    // the form says the same
    let c = signed_in(&app).await;
    let html = app.page_html(&c, "/admin/batches").await;
    let csrf = crate::helpers::html_value(&html, r#"name="_csrf""#);
    let res = c
        .post(app.url("/admin/batches"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("name", "Open 3 from the form"),
            ("description", ""),
            ("total_codes", "5"),
            ("amount_per_code", "1000"),
            ("expires_at", "2027-06-30"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("2 open batches"));
    let count: i64 = sqlx::query_scalar("select count(*) from batches")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 2, "nothing was created");

    // a finished batch frees its place; 0 lifts the limit
    sqlx::query("update batches set status = 'completed' where id = $1::uuid")
        .bind(&ids[0])
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(create(&app, &key, third).await.0, 201);
    app.set_settings(Category::Business, json!({"batchManagement": {"maxBatchesPerUser": 0}}))
        .await;
    let (status, _) = create(
        &app,
        &key,
        json!({"name": "Open 4", "totalCodes": 5, "amountPerCode": 1000, "expiresAt": "2027-06-30", "generate": false}),
    )
    .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn with_auto_assign_a_new_batch_goes_to_its_creator() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    let body = |name: &str| json!({"name": name, "totalCodes": 5, "amountPerCode": 1000, "expiresAt": "2027-06-30", "generate": false});
    let (_, off) = create(&app, &key, body("Unassigned")).await;
    assert_eq!(off["batch"]["assignedUserId"], Value::Null);
    app.set_settings(
        Category::Business,
        json!({"batchManagement": {"autoAssignEnabled": true}}),
    )
    .await;
    let (status, on) = create(&app, &key, body("Assigned")).await;
    assert_eq!(status, 201, "{on}");
    assert_eq!(on["batch"]["assignedUserId"], admin_id(&app).await.as_str());
    let html = app.get_as(&key, "/admin/batches").await.text().await.unwrap();
    assert!(html.contains("<option value=\"\">— me —</option>"), "the form says so");
}

#[tokio::test]
async fn one_prize_per_customer_when_multiple_redemptions_are_off() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    app.set_settings(
        Category::Business,
        json!({"redemption": {"allowMultipleRedemptions": false, "maxRedemptionsPerUser": 0}}),
    )
    .await;
    let batch = app.generated_batch(&key, "Once", 4, "w-once").await;
    let codes = app.batch_codes(&batch).await;
    let phone = "+250788430001";
    assert!(redeem(&app, "o-1", phone, &codes[0]).await.starts_with("END Murakoze!"));
    // not today, and not next week either
    sqlx::query("update redemptions set created_at = created_at - interval '7 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        redeem(&app, "o-2", phone, &codes[1]).await,
        "END Wageze ku mubare ntarengwa w'ibihembo. Ongera ugerageze ejo."
    );
    // another customer still may
    assert!(redeem(&app, "o-3", "+250788430002", &codes[1])
        .await
        .starts_with("END Murakoze!"));
    app.set_settings(
        Category::Business,
        json!({"redemption": {"allowMultipleRedemptions": true}}),
    )
    .await;
    assert!(redeem(&app, "o-4", phone, &codes[2]).await.starts_with("END Murakoze!"));
}

#[tokio::test]
async fn the_cool_down_makes_a_customer_wait_between_prizes() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    app.set_settings(
        Category::Business,
        json!({"redemption": {"cooldownPeriodMinutes": 60, "maxRedemptionsPerUser": 0}}),
    )
    .await;
    let batch = app.generated_batch(&key, "Cool down", 4, "w-cool").await;
    let codes = app.batch_codes(&batch).await;
    let phone = "+250788440001";
    assert!(redeem(&app, "c-1", phone, &codes[0]).await.starts_with("END Murakoze!"));
    assert_eq!(
        redeem(&app, "c-2", phone, &codes[1]).await,
        "END Mwatsindiye igihembo vuba aha. Hagati y'ibihembo bibiri hategerezwa iminota 60. Ongera ugerageze nyuma."
    );
    let status: String = sqlx::query_scalar("select status from promo_codes where code = $1")
        .bind(&codes[1])
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "active", "the refused code is untouched");
    // an hour later the next prize is accepted
    sqlx::query("update redemptions set created_at = created_at - interval '61 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert!(redeem(&app, "c-3", phone, &codes[1]).await.starts_with("END Murakoze!"));
}
