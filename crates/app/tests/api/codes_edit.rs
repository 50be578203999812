//! `PUT` and `DELETE /api/v1/admin/promo-codes/{id}` (issue 19): the amount and expiry of a code
//! nobody has used, with its history row and audit row; deleting such a code, with the batch's
//! counts one fewer; used codes refused (409), bad input 422, no key 403, no code 404.

use serde_json::{json, Value};

use crate::helpers::{error_fields, spawn_app, TestApp, TestDb};
use crate::payout_fixtures::{self, Spec};

/// (id, code) of the code with `serial` in the batch.
async fn code_at(app: &TestApp, batch: &str, serial: i32) -> (String, String) {
    let (id, code): (uuid::Uuid, String) =
        sqlx::query_as("select id, code from promo_codes where batch_id = $1::uuid and serial = $2")
            .bind(batch)
            .bind(serial)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    (id.to_string(), code)
}

fn path(id: &str) -> String {
    format!("/api/v1/admin/promo-codes/{id}")
}

async fn scalar(app: &TestApp, sql: &str, id: &str) -> i64 {
    sqlx::query_scalar(sql).bind(id).fetch_one(&app.pool).await.unwrap()
}

/// The code's amount, its expiry as text, and its number of history rows.
async fn state_of(app: &TestApp, id: &str) -> (i64, Option<chrono::DateTime<chrono::Utc>>, i64) {
    sqlx::query_as(
        "select amount, expires_at, (select count(*) from promo_code_events where promo_code_id = c.id) \
         from promo_codes c where id = $1::uuid",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unused_codes_amount_and_expiry_change_with_history_and_audit() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let batch = app.generated_batch(&key, "Edit me", 3, "edit-1").await;
    let (id, code) = code_at(&app, &batch, 2).await;

    let res = app
        .put_json(
            &key,
            &path(&id),
            &json!({"amount": 1500, "expiresAt": "2027-03-31", "reason": "price list changed"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["changed"], true, "{body}");
    assert_eq!(body["code"]["amount"], 1500);
    assert_eq!(body["change"]["amount"], json!({"before": 1000, "after": 1500}));

    // the detail shows the new values and the edit in the history, before and after
    let detail: Value = app.get_as(&key, &path(&id)).await.json().await.unwrap();
    assert_eq!(detail["amount"], 1500);
    assert_eq!(detail["status"], "active");
    assert!(
        detail["expiresAt"].as_str().unwrap().starts_with("2027-03-31"),
        "{detail}"
    );
    let history = detail["history"].as_array().unwrap();
    assert_eq!(history.len(), 1, "{detail}");
    let e = &history[0];
    assert_eq!(
        (e["fromStatus"].as_str(), e["toStatus"].as_str()),
        (Some("active"), Some("active"))
    );
    assert_eq!(e["reason"], "price list changed");
    assert_eq!(e["change"]["amount"], json!({"before": 1000, "after": 1500}));
    assert!(e["change"]["expiresAt"]["before"]
        .as_str()
        .unwrap()
        .starts_with("2027-06-30"));
    assert!(e["change"]["expiresAt"]["after"]
        .as_str()
        .unwrap()
        .starts_with("2027-03-31"));

    // the code page's history says what changed
    let html = app
        .get_as(&key, &format!("/admin/codes/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("amount 1,000 → 1,500 RWF"), "{html}");
    assert!(html.contains("price list changed"));

    // one audit row, with before and after, the code masked, the same operation
    let (before, after, metadata): (Value, Value, Value) = sqlx::query_as(
        "select before, after, metadata from audit_logs where action = 'code.updated' and entity_id = $1",
    )
    .bind(&id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (before["amount"].as_i64(), after["amount"].as_i64()),
        (Some(1000), Some(1500))
    );
    assert_eq!(metadata["operationId"], e["operationId"]);
    assert!(!metadata.to_string().contains(&code), "{metadata}");

    // the batch's money follows the code (the count tables)
    let stats: Value = app
        .get_as(&key, &format!("/api/v1/admin/promo-codes/stats?batchId={batch}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(stats.to_string().contains("3500"), "{stats}");

    // the same values again change nothing and write nothing
    let res = app
        .put_json(&key, &path(&id), &json!({"amount": 1500, "expiresAt": "2027-03-31"}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["changed"], false);
    assert_eq!(state_of(&app, &id).await.2, 1);

    // a blocked code nobody used may change too (its status stays)
    app.put_json(
        &key,
        &format!("{}/status", path(&id)),
        &json!({"status": "blocked", "reason": "held back"}),
    )
    .await;
    let res = app.put_json(&key, &path(&id), &json!({"amount": 2000})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["code"]["amount"].as_i64(), body["code"]["status"].as_str()),
        (Some(2000), Some("blocked"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_values_are_422_naming_the_field_and_change_nothing() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let batch = app.generated_batch(&key, "Bad edits", 2, "edit-2").await;
    let (id, _) = code_at(&app, &batch, 1).await;
    let untouched = state_of(&app, &id).await;

    for (body, field) in [
        (json!({"expiresAt": "2020-01-01"}), "expiresAt"),
        (json!({"expiresAt": "next week"}), "expiresAt"),
        // later than the batch, which expires its codes with it
        (json!({"expiresAt": "2027-09-30"}), "expiresAt"),
        (json!({"amount": 5}), "amount"),
        (json!({"amount": 99_000_000}), "amount"),
        (json!({"amount": "lots"}), "amount"),
        (json!({"amount": 1.5}), "amount"),
        (json!({}), "amount"),
        (json!({"amount": 1500, "colour": "red"}), "colour"),
    ] {
        let res = app.put_json(&key, &path(&id), &body).await;
        assert_eq!(res.status(), 422, "{body}");
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert_eq!(ct, "application/problem+json", "{body}");
        let problem: Value = res.json().await.unwrap();
        assert!(error_fields(&problem).contains(&field), "{body}: {problem}");
    }
    // JSON that does not parse, or is not JSON at all: a problem, never a server error
    let res = app
        .client
        .put(app.url(&path(&id)))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{\"amount\": ")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let res = app
        .client
        .put(app.url(&path(&id)))
        .bearer_auth(&key)
        .body("amount=1500")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(state_of(&app, &id).await, untouched);
    let audited = scalar(&app, "select count(*) from audit_logs where entity_id = $1", &id).await;
    assert_eq!(audited, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_code_is_409_and_stays_as_it_was() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let batch = app.generated_batch(&key, "Used ones", 1, "edit-3").await;
    let batch_id: uuid::Uuid = batch.parse().unwrap();
    let paying = payout_fixtures::payout(&app.pool, batch_id, Spec::new("+250788100001", 1000, "queued")).await;
    let paid = payout_fixtures::payout(&app.pool, batch_id, Spec::new("+250788100002", 1000, "completed")).await;
    // a reversed redemption: the code is blocked, but it was used
    let reversed = payout_fixtures::payout(&app.pool, batch_id, Spec::new("+250788100003", 1000, "failed")).await;
    sqlx::query("update promo_codes set status = 'blocked', blocked_at = now() where id = $1")
        .bind(reversed.code_id)
        .execute(&app.pool)
        .await
        .unwrap();

    for p in [paying, paid, reversed] {
        let id = p.code_id.to_string();
        let untouched = state_of(&app, &id).await;
        let res = app.put_json(&key, &path(&id), &json!({"amount": 5000})).await;
        assert_eq!(res.status(), 409);
        let problem: Value = res.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("redeemed"), "{problem}");
        let res = app.delete_as(&key, &path(&id)).await;
        assert_eq!(res.status(), 409);
        assert_eq!(state_of(&app, &id).await, untouched);
        assert_eq!(app.get_as(&key, &path(&id)).await.status(), 200);
    }
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_logs where action in ('code.updated', 'code.deleted')")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 0);

    // an expired code was never used: it may go, but not change
    let (expired, _) = code_at(&app, &batch, 1).await;
    sqlx::query("update promo_codes set status = 'expired' where id = $1::uuid")
        .bind(&expired)
        .execute(&app.pool)
        .await
        .unwrap();
    let res = app.put_json(&key, &path(&expired), &json!({"amount": 5000})).await;
    assert_eq!(res.status(), 409);
    assert_eq!(app.delete_as(&key, &path(&expired)).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_unused_code_leaves_the_batch_one_fewer_and_an_audit_row() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let batch = app.generated_batch(&key, "Delete one", 3, "edit-4").await;
    let (id, code) = code_at(&app, &batch, 2).await;
    let stats_path = format!("/api/v1/admin/batches/{batch}/stats");
    let stats: Value = app.get_as(&key, &stats_path).await.json().await.unwrap();
    assert_eq!((stats["codes"].as_i64(), stats["blocked"].as_i64()), (Some(3), Some(0)));
    // a history to keep in the audit row
    let res = app
        .put_json(
            &key,
            &format!("{}/status", path(&id)),
            &json!({"status": "blocked", "reason": "misprinted"}),
        )
        .await;
    assert_eq!(res.status(), 200);

    let res = app.delete_as(&key, &path(&id)).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["deleted"], id.as_str());
    assert_eq!(body["serial"], 2);
    assert!(!body.to_string().contains(&code), "{body}");

    // gone: the detail, the list, the batch's counts; the code no longer validates
    assert_eq!(app.get_as(&key, &path(&id)).await.status(), 404);
    let list: Value = app
        .get_as(&key, &format!("/api/v1/admin/promo-codes?batchId={batch}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    let stats: Value = app.get_as(&key, &stats_path).await.json().await.unwrap();
    assert_eq!((stats["codes"].as_i64(), stats["blocked"].as_i64()), (Some(2), Some(0)));
    let v: Value = app
        .post_json(&key, "/api/v1/admin/promo-codes/validate", &json!({"code": code}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["exists"], false);

    // the audit row keeps the last state, masked, with its history
    let (before, metadata): (Value, Value) =
        sqlx::query_as("select before, metadata from audit_logs where action = 'code.deleted' and entity_id = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(before["status"], "blocked");
    assert_eq!(before["amount"], 1000);
    assert_eq!(before["history"][0]["reason"], "misprinted");
    assert_eq!(metadata["serial"], 2);
    assert!(!before.to_string().contains(&code) && !metadata.to_string().contains(&code));

    // twice: there is nothing left to delete
    assert_eq!(app.delete_as(&key, &path(&id)).await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_deletions_need_their_keys_and_an_existing_code() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let manager = app.api_key("Batch Manager").await;
    let batch = app.generated_batch(&admin, "Keys", 1, "edit-5").await;
    let (id, _) = code_at(&app, &batch, 1).await;

    // ACCESS.md lists the Batch Manager's keys exactly: neither of these is among them
    let res = app.put_json(&manager, &path(&id), &json!({"amount": 1500})).await;
    assert_eq!(res.status(), 403);
    assert_eq!(app.delete_as(&manager, &path(&id)).await.status(), 403);
    assert_eq!(state_of(&app, &id).await.0, 1000);

    let nobody = uuid::Uuid::new_v4().to_string();
    let res = app.put_json(&admin, &path(&nobody), &json!({"amount": 1500})).await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.delete_as(&admin, &path(&nobody)).await.status(), 404);
    let res = app.put_json(&admin, &path("not-an-id"), &json!({"amount": 1500})).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    assert!(app
        .delete_as(&admin, &path("not-an-id"))
        .await
        .status()
        .is_client_error());
}
