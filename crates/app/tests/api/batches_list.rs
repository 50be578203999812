//! The API list of batches pages by keyset (issue 19, item 4): following `next` gives every
//! batch exactly once, in the sort asked for (ties broken by id); a cursor of another sort, a
//! cursor we did not give out and the old page numbers are refused naming their parameter.

use std::collections::HashSet;

use chrono::DateTime;
use serde_json::{json, Value};

use crate::helpers::{error_fields, spawn_app, TestApp, TestDb};

/// An instant of the answer, comparable.
fn micros(v: &Value) -> i64 {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .timestamp_micros()
}

/// Every row of the list at `first`, following `next`; and how many pages it took.
async fn walk(app: &TestApp, key: &str, first: &str) -> (Vec<Value>, usize) {
    let (mut rows, mut pages, mut url) = (Vec::new(), 0, Some(first.to_owned()));
    while let Some(u) = url {
        let res = app.get_as(key, &u).await;
        assert_eq!(res.status(), 200, "{u}");
        let page: Value = res.json().await.unwrap();
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 4, "{u}: a page holds at most `limit` rows");
        assert_eq!(page["next"].is_string(), page["nextCursor"].is_string(), "{page}");
        rows.extend(data.iter().cloned());
        url = page["next"].as_str().map(str::to_owned);
        pages += 1;
        assert!(pages <= 10, "the walk ends");
    }
    (rows, pages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_list_follows_next_through_every_batch_once_in_the_chosen_sort() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    for i in 0..9 {
        // three batches per amount and one expiry for all: the sorts meet ties
        let body = json!({"name": format!("Batch {i}"), "totalCodes": 1, "amountPerCode": 1000 + (i % 3) * 100,
                          "expiresAt": "2027-06-30", "generate": false});
        let res = app.post_json(&key, "/api/v1/admin/batches", &body).await;
        assert_eq!(res.status(), 201);
    }

    for sort in ["-amount", "name", "-name", "created", "-created", "expires", "amount"] {
        let (rows, pages) = walk(&app, &key, &format!("/api/v1/admin/batches?sort={sort}&limit=4")).await;
        let ids: HashSet<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(
            (rows.len(), ids.len(), pages),
            (9, 9, 3),
            "{sort}: every batch exactly once"
        );
        let key_of = |r: &Value| match sort.trim_start_matches('-') {
            "amount" => json!(r["amountPerCode"]),
            "name" => json!(r["name"]),
            "created" => json!(micros(&r["createdAt"])),
            _ => json!(micros(&r["expirationDate"])),
        };
        for pair in rows.windows(2) {
            let (a, b) = (key_of(&pair[0]), key_of(&pair[1]));
            let in_order = match (a.as_i64(), b.as_i64()) {
                (Some(a), Some(b)) => a <= b,
                _ => a.as_str().unwrap() <= b.as_str().unwrap(),
            };
            let in_order = if sort.starts_with('-') {
                a == b || !in_order
            } else {
                in_order
            };
            assert!(in_order, "{sort}: {a} then {b}");
        }
    }
    let (newest, _) = walk(&app, &key, "/api/v1/admin/batches?limit=4").await;
    assert_eq!(newest.len(), 9, "newest first by default");

    // the filters hold on every page, and the next link keeps them
    let (rows, pages) = walk(
        &app,
        &key,
        "/api/v1/admin/batches?q=batch&status=active&limit=4&sort=-amount",
    )
    .await;
    assert_eq!((rows.len(), pages), (9, 3));
    let (rows, _) = walk(&app, &key, "/api/v1/admin/batches?q=Batch%207").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["name"], "Batch 7");
    let (rows, _) = walk(&app, &key, "/api/v1/admin/batches?status=blocked").await;
    assert!(rows.is_empty());

    // a cursor means its own sort only; the old page numbers are gone
    let first: Value = app
        .get_as(&key, "/api/v1/admin/batches?sort=-amount&limit=4")
        .await
        .json()
        .await
        .unwrap();
    let cursor = first["nextCursor"].as_str().unwrap();
    for (path, field) in [
        (format!("/api/v1/admin/batches?sort=name&cursor={cursor}"), "cursor"),
        ("/api/v1/admin/batches?cursor=bm90LW91cnM".to_owned(), "cursor"),
        ("/api/v1/admin/batches?page=2".to_owned(), "page"),
        ("/api/v1/admin/batches?perPage=10".to_owned(), "perPage"),
        ("/api/v1/admin/batches?limit=201".to_owned(), "limit"),
        ("/api/v1/admin/batches?sort=size".to_owned(), "sort"),
        (format!("/api/v1/admin/batches?q={}", "x".repeat(121)), "q"),
    ] {
        let res = app.get_as(&key, &path).await;
        assert_eq!(res.status(), 422, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(error_fields(&body), [field], "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_number_out_of_range_is_refused_naming_id() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    for path in ["/api/v1/admin/jobs/9223372036854775808", "/api/v1/admin/jobs/two"] {
        let res = app.get_as(&key, path).await;
        assert_eq!(res.status(), 422, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(error_fields(&body), ["id"], "{path}");
    }
    assert_eq!(app.get_as(&key, "/api/v1/admin/jobs/424242").await.status(), 404);
}
