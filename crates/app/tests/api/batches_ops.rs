//! Managing batches after creation: edit, assign, delete, bulk operations, the status refresh
//! job, and the batch page's statistics and redemptions chart.

use std::sync::Arc;

use chrono::Duration;
use mbelyco::clock::{Clock, ManualClock};
use mbelyco::jobs::{Worker, WorkerOptions};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{build_state_with_clock, error_fields, now, spawn_app, TestApp, TestDb};

fn worker(pool: &PgPool, state: &mbelyco::web::AppState, clock: mbelyco::clock::SharedClock) -> Worker {
    let opts = WorkerOptions {
        worker_id: "ops-test".into(),
        ..WorkerOptions::default()
    };
    Worker::new(pool.clone(), mbelyco::startup::registry(state), clock, opts)
}

/// Creates a batch of `n` codes (1000 RWF each, expiring 2027-06-30) and generates them.
async fn batch(app: &TestApp, key: &str, name: &str, n: i64) -> String {
    app.generated_batch(key, name, n, "ops-test").await
}

async fn put(app: &TestApp, key: &str, id: &str, body: Value) -> reqwest::Response {
    app.put_json(key, &format!("/api/v1/admin/batches/{id}"), &body).await
}

async fn audits(pool: &PgPool, action: &str, id: &str) -> Vec<(Option<Value>, Option<Value>, Value, String)> {
    sqlx::query_as(
        "select before, after, metadata, actor_type from audit_logs where action = $1 and entity_id = $2 order by seq",
    )
    .bind(action)
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn mark(pool: &PgPool, id: &str, serials: &str, status: &str, at: chrono::DateTime<chrono::Utc>) {
    sqlx::query(&format!(
        "update promo_codes set status = $2, used_at = $3, redeemed_at = case when $2 = 'redeemed' then $3 end \
         where batch_id = $1::uuid and serial in ({serials})"
    ))
    .bind(id)
    .bind(status)
    .bind(at)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_a_batch_keeps_the_create_rules_and_moves_its_codes() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Batch Manager").await;
    let id = batch(&app, &key, "Kivu", 5).await;
    batch(&app, &key, "Taken", 1).await;

    let res = put(
        &app,
        &key,
        &id,
        json!({"name": "Kivu Blue", "description": "Tins", "expiresAt": "2027-03-31", "amountPerCode": 1500}),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["batch"]["name"], "Kivu Blue");
    assert_eq!(body["batch"]["amountPerCode"], 1500);
    let codes: Vec<(i64, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("select amount, expires_at from promo_codes where batch_id = $1::uuid")
            .bind(&id)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let expiry = mbelyco::batches::parse_expiry("2027-03-31").unwrap();
    assert_eq!(codes.len(), 5);
    assert!(
        codes.iter().all(|(a, e)| *a == 1500 && *e == expiry),
        "every code follows: {codes:?}"
    );
    let rows = audits(&db.pool, "batch.updated", &id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0.as_ref().unwrap()["name"], "Kivu");
    assert_eq!(rows[0].1.as_ref().unwrap()["name"], "Kivu Blue");
    assert_eq!(rows[0].1.as_ref().unwrap()["amountPerCode"], 1500);

    // the same rules as creation, naming the field; nothing changes
    let dup = put(&app, &key, &id, json!({"name": "Taken"})).await;
    assert_eq!(dup.status(), 409);
    let body: Value = dup.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "name");
    let bad = put(&app, &key, &id, json!({"expiresAt": "2020-01-01", "amountPerCode": 3})).await;
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.unwrap();
    let fields = error_fields(&body);
    assert_eq!(fields, ["amountPerCode", "expiresAt"]);
    assert_eq!(put(&app, &key, &id, json!({"totalCodes": 9})).await.status(), 422);

    // once a code is used, the amount is fixed; other edits still go through
    mark(&db.pool, &id, "1", "used", now()).await;
    let res = put(&app, &key, &id, json!({"amountPerCode": 2000})).await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "amountPerCode");
    let amounts: Vec<i64> = sqlx::query_scalar("select distinct amount from promo_codes where batch_id = $1::uuid")
        .bind(&id)
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(amounts, [1500], "the refused change left every code as it was");
    // moving the expiry moves only the codes still active
    let res = put(
        &app,
        &key,
        &id,
        json!({"expiresAt": "2027-05-01", "description": "Tins, 4L"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let moved: Vec<(String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("select status, expires_at from promo_codes where batch_id = $1::uuid order by serial")
            .bind(&id)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let new_expiry = mbelyco::batches::parse_expiry("2027-05-01").unwrap();
    assert_eq!(moved[0], ("used".to_owned(), expiry));
    assert!(moved[1..].iter().all(|(_, e)| *e == new_expiry));
    assert_eq!(audits(&db.pool, "batch.updated", &id).await.len(), 2);
    // a Viewer cannot edit
    let viewer = app.api_key("Viewer").await;
    assert_eq!(put(&app, &viewer, &id, json!({"name": "X"})).await.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_assigned_only_to_someone_who_may_manage_batches() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Batch Manager").await;
    let id = batch(&app, &key, "Assign me", 1).await;
    let mut tx = db.pool.begin().await.unwrap();
    let mut staff = Vec::new();
    for (email, role) in [
        ("viewer@mbelyco.test", "Viewer"),
        ("maker@mbelyco.test", "Batch Manager"),
    ] {
        let new = mbelyco::identity::NewStaff {
            email,
            full_name: "Test User",
            password: None,
            roles: &[role],
        };
        staff.push(
            mbelyco::identity::create_staff(&mut tx, &new, &mbelyco::unit::Acting::system(now()))
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    let assign = |user: Value| {
        let (app, key, id) = (&app, key.clone(), id.clone());
        async move {
            app.post_json(
                &key,
                &format!("/api/v1/admin/batches/{id}/assign"),
                &json!({"userId": user}),
            )
            .await
        }
    };
    let res = assign(json!(staff[0])).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "userId");
    assert_eq!(assign(json!(Uuid::new_v4())).await.status(), 422);
    let res = assign(json!(staff[1])).await;
    assert_eq!(res.status(), 200);
    let assigned: Option<Uuid> = sqlx::query_scalar("select assigned_user_id from batches where id = $1::uuid")
        .bind(&id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(assigned, Some(staff[1]));
    assert_eq!(assign(Value::Null).await.status(), 200);
    let rows = audits(&db.pool, "batch.assigned", &id).await;
    assert_eq!(rows.len(), 2, "assigned, then cleared");
    assert_eq!(rows[0].1.as_ref().unwrap()["assignedUserId"], json!(staff[1]));
    assert_eq!(rows[1].1.as_ref().unwrap()["assignedUserId"], Value::Null);
}

/// A customer and a redemption of the batch's first code, as the redemption flow will write them.
async fn redeem_first_code(pool: &PgPool, batch: &str) {
    let user: Uuid = sqlx::query_scalar(
        "insert into users (kind, phone_number, created_at, updated_at) values ('customer', '+250788000001', now(), now()) \
         returning id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let customer: Uuid = sqlx::query_scalar(
        "insert into customers (user_id, msisdn, first_seen_at, last_seen_at) values ($1, '+250788000001', now(), now()) \
         returning id",
    )
    .bind(user)
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into redemptions (user_id, customer_id, promo_code_id, batch_id, phone_number, amount, idempotency_key, created_at) \
         select $1, $2, id, batch_id, '+250788000001', amount, 'k1', now() from promo_codes where batch_id = $3::uuid and serial = 1",
    )
    .bind(user)
    .bind(customer)
    .bind(batch)
    .execute(pool)
    .await
    .unwrap();
    mark(pool, batch, "1", "used", now()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_batch_nobody_redeemed_from_can_be_deleted() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let spare = batch(&app, &key, "Spare", 30).await;
    let redeemed = batch(&app, &key, "Redeemed", 3).await;
    redeem_first_code(&db.pool, &redeemed).await;
    let res = app
        .get_as(
            &key,
            &format!("/api/v1/admin/promo-codes/export?format=csv&batchId={spare}"),
        )
        .await;
    assert_eq!(res.status(), 200);
    res.text().await.unwrap();
    let delete = |id: String, key: String| {
        let app = &app;
        async move { app.delete_as(&key, &format!("/api/v1/admin/batches/{id}")).await }
    };
    // a Batch Manager may not delete at all
    let manager = app.api_key("Batch Manager").await;
    assert_eq!(delete(spare.clone(), manager).await.status(), 403);

    let res = delete(redeemed.clone(), key.clone()).await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("has redemptions — block it instead"),
        "{body}"
    );
    let res = delete(spare.clone(), key.clone()).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["removed"]["codes"], 30);
    assert_eq!(body["removed"]["downloads"], 1);
    let left: (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from batches), (select count(*) from promo_codes), (select count(*) from code_downloads)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(left, (1, 3, 0), "only the redeemed batch and its codes remain");
    let rows = audits(&db.pool, "batch.deleted", &spare).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0.as_ref().unwrap()["name"], "Spare");
    assert_eq!(rows[0].2["codes"], 30);
    assert_eq!(delete(spare, key).await.status(), 404);

    // a batch whose generation is still queued is deleted with it (the job is cancelled)
    let res = app
        .post_json(
            app.api_key("Super Administrator").await,
            "/api/v1/admin/batches",
            &json!({"name": "Queued", "totalCodes": 10, "amountPerCode": 1000, "expiresAt": "2027-06-30"}),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    let queued = body["batch"]["id"].as_str().unwrap().to_owned();
    let job = body["generationJobId"].as_i64().unwrap();
    assert_eq!(
        delete(queued, app.api_key("Super Administrator").await).await.status(),
        200
    );
    let status: String = sqlx::query_scalar("select status from jobs where id = $1")
        .bind(job)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(status, "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_operations_report_each_batch() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let a = batch(&app, &key, "A", 2).await;
    let b = batch(&app, &key, "B", 2).await;
    mark(&db.pool, &b, "2", "redeemed", now()).await;
    let missing = Uuid::new_v4().to_string();
    let bulk = |key: String, body: Value| {
        let app = &app;
        async move { app.post_json(&key, "/api/v1/admin/batches/bulk", &body).await }
    };
    let manager = app.api_key("Batch Manager").await;
    let res = bulk(manager.clone(), json!({"ids": [a], "action": "delete"})).await;
    assert_eq!(res.status(), 403, "the action's own permission is checked");
    let res = bulk(key.clone(), json!({"ids": [], "action": "delete"})).await;
    assert_eq!(res.status(), 422);
    let res = bulk(key.clone(), json!({"ids": [a], "action": "status"})).await;
    assert_eq!(res.status(), 422, "status needs a status");
    assert_eq!(
        bulk(key.clone(), json!({"ids": [a], "action": "explode"}))
            .await
            .status(),
        422
    );

    let res = bulk(key.clone(), json!({"ids": [a, b, missing, a], "action": "delete"})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "repeated ids count once: {body}");
    assert_eq!(results[0]["id"], json!(a));
    assert_eq!(results[0]["outcome"], "ok");
    assert_eq!(results[1]["outcome"], "refused");
    assert!(results[1]["reason"].as_str().unwrap().contains("has redemptions"));
    assert_eq!(results[2]["outcome"], "refused");
    assert_eq!(results[2]["reason"], "no such batch");
    assert_eq!((body["done"].clone(), body["refused"].clone()), (json!(1), json!(2)));

    // a Batch Manager may block and unblock (status change), each audited
    let res = bulk(manager.clone(), json!({"ids": [b], "action": "block"})).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["results"][0]["status"], "blocked", "{body}");
    let res = bulk(manager.clone(), json!({"ids": [b], "action": "unblock"})).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["results"][0]["status"], "active", "{body}");
    let res = bulk(manager, json!({"ids": [b], "action": "unblock"})).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["results"][0]["outcome"], "refused", "not blocked: {body}");
    assert_eq!(audits(&db.pool, "batch.deleted", &a).await.len(), 1);
    assert_eq!(audits(&db.pool, "batch.status_changed", &b).await.len(), 2);
}

async fn insert_codes(pool: &PgPool, batch: Uuid, prefix: char, statuses: &[&str], at: chrono::DateTime<chrono::Utc>) {
    for (i, s) in statuses.iter().enumerate() {
        sqlx::query(
            "insert into promo_codes (code, batch_id, serial, amount, status, created_at, expires_at, redeemed_at) \
             select $1, id, $2, amount_per_code, $3, $4, expiration_date, case when $3 = 'redeemed' then $4 end \
             from batches where id = $5",
        )
        .bind(format!("{prefix}{i:03}-AAAA-BBBB-CCCC"))
        .bind(i as i32 + 1)
        .bind(*s)
        .bind(at)
        .bind(batch)
        .execute(pool)
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_status_follows_expiry_and_redemptions() {
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(now()));
    let state = build_state_with_clock(&db.pool, clock.clone()).await;
    let settings = state.settings.get();
    let t0 = clock.now();
    let mut ids = Vec::new();
    let mut tx = db.pool.begin().await.unwrap();
    for (name, days) in [("Soon", 10), ("Paid", 60), ("Lapsed", 60), ("Open", 20)] {
        let new = mbelyco::batches::NewBatch {
            name: name.into(),
            description: String::new(),
            total_codes: 3,
            amount_per_code: 1000,
            expires_at: (t0 + Duration::days(days)).to_rfc3339(),
            assigned_user_id: None,
            generate: false,
        };
        let (b, _) = mbelyco::batches::create(&mut tx, &settings.0, &new, &mbelyco::unit::Acting::system(t0))
            .await
            .unwrap();
        ids.push(b.id);
    }
    tx.commit().await.unwrap();
    insert_codes(&db.pool, ids[0], 'S', &["active", "active", "blocked"], t0).await;
    insert_codes(&db.pool, ids[1], 'P', &["redeemed", "redeemed", "expired"], t0).await;
    insert_codes(&db.pool, ids[2], 'L', &["expired", "expired"], t0).await;
    insert_codes(&db.pool, ids[3], 'O', &["redeemed", "active"], t0).await;
    let status = |id: Uuid| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("select status from batches where id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let run = || {
        let (pool, state, clock) = (db.pool.clone(), state.clone(), clock.clone());
        async move {
            let mut conn = pool.acquire().await.unwrap();
            let job = mbelyco::jobs::NewJob::new(mbelyco::batches::refresh::KIND, &json!({})).unwrap();
            mbelyco::jobs::enqueue(&mut conn, &job, clock.now()).await.unwrap();
            assert_eq!(worker(&pool, &state, clock).drain().await.unwrap(), 1);
        }
    };

    // the single-batch entry point the redemption flow calls
    let mut conn = db.pool.acquire().await.unwrap();
    let change = mbelyco::batches::refresh_status(&mut conn, ids[1], t0, &Default::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((change.from.as_str(), change.to.as_str()), ("active", "completed"));
    assert!(
        mbelyco::batches::refresh_status(&mut conn, ids[3], t0, &Default::default())
            .await
            .unwrap()
            .is_none()
    );
    drop(conn);

    run().await;
    assert_eq!(status(ids[0]).await, "active");
    assert_eq!(status(ids[1]).await, "completed", "every code redeemed or expired");
    assert_eq!(
        status(ids[2]).await,
        "expired",
        "all codes expired is expired, not completed"
    );
    assert_eq!(status(ids[3]).await, "active", "a code can still be redeemed");

    // past the expiry date: the batch and its active codes expire; blocked codes keep their status
    clock.advance(Duration::days(11));
    run().await;
    assert_eq!(status(ids[0]).await, "expired");
    let codes: Vec<String> = sqlx::query_scalar("select status from promo_codes where batch_id = $1 order by serial")
        .bind(ids[0])
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(codes, ["expired", "expired", "blocked"]);
    assert_eq!(status(ids[3]).await, "active");
    clock.advance(Duration::days(10));
    run().await;
    assert_eq!(status(ids[3]).await, "expired");

    // every automatic change is audited as the system's
    let rows: Vec<(String, String, Value)> = sqlx::query_as(
        "select entity_id, actor_type, metadata from audit_logs where action = 'batch.status_changed' order by seq",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let order: Vec<String> = [1, 2, 0, 3].iter().map(|i| ids[*i].to_string()).collect();
    assert_eq!(rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(), order);
    assert!(rows.iter().all(|r| r.1 == "system" && r.2["automatic"] == true));
    assert_eq!(rows[2].2["codesExpired"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_page_charts_redemptions_and_its_forms_use_the_server_rules() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let id = batch(&app, &key, "Charted", 10).await;
    sqlx::query("update batches set created_at = created_at - interval '5 days' where id = $1::uuid")
        .bind(&id)
        .execute(&db.pool)
        .await
        .unwrap();
    mark(&db.pool, &id, "1, 2, 3", "used", now()).await;
    mark(&db.pool, &id, "4, 5", "redeemed", now() - Duration::days(2)).await;

    let stats: Value = app
        .get_as(&key, &format!("/api/v1/admin/batches/{id}/stats"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["amountPaid"], 2000);
    assert_eq!(stats["amountPending"], 3000);
    let days = stats["redemptionsByDay"].as_array().unwrap();
    assert!(days.len() == 6 || days.len() == 7, "the batch's life: {stats}");
    assert_eq!(days.last().unwrap()["redemptions"], 3);
    assert_eq!(days.iter().map(|d| d["redemptions"].as_i64().unwrap()).sum::<i64>(), 5);

    let page = |key: String| {
        let (app, id) = (&app, id.clone());
        async move {
            app.get_as(&key, &format!("/admin/batches/{id}"))
                .await
                .text()
                .await
                .unwrap()
        }
    };
    let html = page(key.clone()).await;
    assert!(html.contains(r#"<svg class="chart" id="redemptions-chart""#), "{html}");
    assert_eq!(html.matches(r#"<rect class="bar""#).count(), days.len());
    assert!(html.contains("<title>") && html.contains(r#"id="redemptions-table""#));
    assert!(html.contains(r#"id="edit-batch""#) && html.contains(r#"id="assign-batch""#));
    assert!(html.contains(r#"id="delete-batch" data-confirm="#));
    let viewer = page(app.api_key("Viewer").await).await;
    assert!(viewer.contains("redemptions-chart"));
    assert!(!viewer.contains("edit-batch") && !viewer.contains("assign-batch") && !viewer.contains("delete-batch"));

    // the edit form: a refused value comes back in the page with its message, and nothing changes
    let form = |fields: Vec<(&'static str, &'static str)>| {
        let (app, key, id) = (&app, key.clone(), id.clone());
        async move { app.post_form(&key, &format!("/admin/batches/{id}/edit"), &fields).await }
    };
    let res = form(vec![
        ("name", "Charted"),
        ("description", ""),
        ("expires_at", "2001-01-01"),
        ("amount_per_code", "1000"),
    ])
    .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(r#"data-field="expiresAt">must be in the future"#),
        "{html}"
    );
    assert!(html.contains(r#"value="2001-01-01""#), "the typed value is kept");
    let res = form(vec![
        ("name", "Charted"),
        ("description", ""),
        ("expires_at", "2027-06-30"),
        ("amount_per_code", "5000"),
    ])
    .await;
    assert_eq!(res.status(), 409, "codes are used: the amount is fixed");
    assert!(res.text().await.unwrap().contains(r#"data-field="amountPerCode""#));
    let res = form(vec![
        ("name", "Charted 2"),
        ("description", "More"),
        ("expires_at", "2027-06-30"),
        ("amount_per_code", "1000"),
    ])
    .await;
    assert_eq!(res.status(), 303);
    let name: String = sqlx::query_scalar("select name from batches where id = $1::uuid")
        .bind(&id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(name, "Charted 2");
    // deleting from the page is refused with the reason shown
    let res = app.post_as(&key, &format!("/admin/batches/{id}/delete")).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("has redemptions — block it instead"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_sorts_pages_and_applies_bulk_actions() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let mut ids = Vec::new();
    for i in 0..27 {
        let res = app
            .post_json(
                &key,
                "/api/v1/admin/batches",
                &json!({"name": format!("Batch {i:02}"), "totalCodes": 1, "amountPerCode": 1000 + i,
                          "expiresAt": "2027-06-30", "generate": false}),
            )
            .await;
        let body: Value = res.json().await.unwrap();
        ids.push(body["batch"]["id"].as_str().unwrap().to_owned());
    }
    let get = |path: String| {
        let (app, key) = (&app, key.clone());
        async move { app.get_as(&key, &path).await.text().await.unwrap() }
    };
    let first = get("/admin/batches?sort=-amount".into()).await;
    assert!(first.contains("Page 1 of 2"), "{first}");
    assert!(
        first.find("Batch 26").unwrap() < first.find("Batch 25").unwrap(),
        "highest amount first"
    );
    assert!(!first.contains("Batch 01<"), "page 1 holds 25 rows");
    assert!(first.contains(r#"rel="next""#) && first.contains("page=2"));
    let second = get("/admin/batches?sort=-amount&page=2".into()).await;
    assert!(second.contains("Page 2 of 2") && second.contains("Batch 00") && second.contains("Batch 01"));
    assert!(first.contains(r#"name="ids""#) && first.contains(r#"id="bulk-batches""#));

    let res = app
        .post_form(
            &key,
            "/admin/batches/bulk",
            &[
                ("action", "block"),
                ("ids", ids[0].as_str()),
                ("ids", ids[1].as_str()),
                ("sort", "-amount"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Blocked 2 of 2 batch(es)."), "{html}");
    assert!(
        html.contains(r#"<option value="-amount" selected>"#),
        "the list as it was sorted"
    );
    let blocked: i64 = sqlx::query_scalar("select count(*) from batches where status = 'blocked'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(blocked, 2);
    sqlx::query("update batches set status = 'expired' where id = $1::uuid")
        .bind(&ids[2])
        .execute(&db.pool)
        .await
        .unwrap();
    let res = app
        .post_form(
            &key,
            "/admin/batches/bulk",
            &[("action", "block"), ("ids", ids[2].as_str())],
        )
        .await;
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Blocked 0 of 1") && html.contains("Batch 02: only an active batch"),
        "{html}"
    );
    // a Viewer sees no bulk bar and may not post one
    let viewer = app.api_key("Viewer").await;
    let html = app.get_as(&viewer, "/admin/batches").await.text().await.unwrap();
    assert!(!html.contains(r#"name="ids""#));
    let res = app
        .post_form(
            &viewer,
            "/admin/batches/bulk",
            &[("action", "block"), ("ids", ids[2].as_str())],
        )
        .await;
    assert_eq!(res.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_refresh_is_scheduled_once_a_minute() {
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(now()));
    let stop = tokio_util::sync::CancellationToken::new();
    let scheduler = tokio::spawn(mbelyco::batches::refresh::schedule(
        db.pool.clone(),
        clock.clone(),
        stop.clone(),
    ));
    let mut queued = 0i64;
    for _ in 0..200 {
        queued = sqlx::query_scalar("select count(*) from jobs where kind = 'batches.refresh_status'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        if queued > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.cancel();
    scheduler.await.unwrap();
    assert_eq!(queued, 1);
    // a second scheduler (another worker) in the same minute adds nothing
    let stop = tokio_util::sync::CancellationToken::new();
    stop.cancel();
    mbelyco::batches::refresh::schedule(db.pool.clone(), clock, stop).await;
    let n: i64 = sqlx::query_scalar("select count(*) from jobs where kind = 'batches.refresh_status'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}
