//! Batches and code generation: validation, the generation job (progress, uniqueness, serials,
//! audit), concurrent generation, top-ups, status rules, and the streamed CSV export.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::helpers::{error_fields, spawn_app, TestApp, TestDb};

async fn create(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.post_json(key, "/api/v1/admin/batches", &body).await
}

fn batch_body(name: &str, n: i64) -> Value {
    json!({"name": name, "description": "Rainy season tins", "totalCodes": n, "amountPerCode": 1000, "expiresAt": "2027-06-30"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_generates_unique_serial_numbered_codes_with_progress() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Batch Manager").await;
    let res = create(&app, &key, batch_body("Rainy season 2026", 1234)).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    let job_id = body["generationJobId"].as_i64().unwrap();
    let batch_id = body["batch"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["batch"]["status"], "active");

    // the generation job, then the search-index job it queued for the codes it added
    assert_eq!(app.worker("w1").drain().await.unwrap(), 2);
    let job: Value = app
        .get_as(&key, &format!("/api/v1/admin/jobs/{job_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(job["job"]["status"], "succeeded", "{job}");
    assert_eq!(job["percent"], 100.0);
    assert_eq!(job["job"]["result"]["generated"], 1234);

    let rows: Vec<(String, i32, i64, String)> = sqlx::query_as(
        "select code, serial, amount, status from promo_codes where batch_id = $1::uuid order by serial",
    )
    .bind(&batch_id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1234);
    assert!(
        rows.iter().enumerate().all(|(i, r)| r.1 == i as i32 + 1),
        "serials 1..N"
    );
    assert!(rows.iter().all(|r| r.2 == 1000 && r.3 == "active"));
    let unique: HashSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(unique.len(), 1234);
    assert!(rows.iter().all(|r| mbelyco::codes::parse(&r.0).is_ok()));
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_logs where action = 'codes.generated' and entity_id = $1")
            .bind(&batch_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(audited, 1, "one round of up to 50,000");
    let stats: Value = app
        .get_as(&key, &format!("/api/v1/admin/batches/{batch_id}/stats"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["codes"], 1234);
    assert_eq!(stats["active"], 1234);

    // top-up within the limit continues the serials
    let res = app
        .post_json(
            &key,
            "/api/v1/admin/batches/generate",
            &json!({"batchId": batch_id, "count": 6}),
        )
        .await;
    assert_eq!(res.status(), 202);
    app.worker("w1").drain().await.unwrap();
    let max: i32 = sqlx::query_scalar("select max(serial) from promo_codes where batch_id = $1::uuid")
        .bind(&batch_id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(max, 1240);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_batches_are_refused_with_their_fields_and_create_nothing() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Batch Manager").await;
    let res = create(
        &app,
        &key,
        json!({"name": "", "totalCodes": 0, "amountPerCode": 5, "expiresAt": "2020-01-01"}),
    )
    .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    let fields = error_fields(&body);
    assert_eq!(fields, ["name", "totalCodes", "amountPerCode", "expiresAt"]);
    let res = create(
        &app,
        &key,
        json!({"name": "X", "totalCodes": 2000000, "amountPerCode": 1000, "expiresAt": "not a date"}),
    )
    .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "totalCodes");
    assert_eq!(body["errors"][1]["field"], "expiresAt");
    assert_eq!(create(&app, &key, batch_body("Dup", 1)).await.status(), 201);
    let dup = create(&app, &key, batch_body("Dup", 1)).await;
    assert_eq!(dup.status(), 409);
    let body: Value = dup.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "name");
    let n: i64 = sqlx::query_scalar("select count(*) from batches")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    // a Viewer may read but not create
    let viewer = app.api_key("Viewer").await;
    assert_eq!(create(&app, &viewer, batch_body("Nope", 1)).await.status(), 403);
}

/// A code that already exists anywhere is left out of a round (and made again by the caller),
/// and the new ones still get consecutive serials: the collision path of generation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_colliding_code_is_made_again_and_serials_stay_consecutive() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Batch Manager").await;
    let first = create(&app, &key, batch_body("First run", 5)).await;
    let first: Value = first.json().await.unwrap();
    let second = create(
        &app,
        &key,
        json!({"name": "Second run", "totalCodes": 4, "amountPerCode": 1000,
        "expiresAt": "2027-06-30", "generate": false}),
    )
    .await;
    assert_eq!(second.status(), 201);
    let second: Value = second.json().await.unwrap();
    app.worker("w1").drain().await.unwrap();
    let taken: Vec<String> =
        sqlx::query_scalar("select code from promo_codes where batch_id = $1::uuid order by serial limit 2")
            .bind(first["batch"]["id"].as_str().unwrap())
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(taken.len(), 2);
    // a round in which two codes are already stored (in another batch)
    let round = vec![
        "AAAA-AA26-AA11-AA25".to_owned(),
        taken[0].clone(),
        "BBBB-BB26-BB11-BB25".to_owned(),
        taken[1].clone(),
    ];
    let batch: uuid::Uuid = second["batch"]["id"].as_str().unwrap().parse().unwrap();
    let alphabet = mbelyco::codes::format::Alphabet::new("ABCDEFGHJKLMNPQRSTUVWXYZ23456789").unwrap();
    let summary = mbelyco::codes::generate::add_round(
        &app.pool,
        mbelyco::codes::generate::Spec {
            batch_id: batch,
            actor: mbelyco::audit::Actor::System,
            alphabet,
            checksum: false,
            now: crate::helpers::now(),
        },
        round,
    )
    .await
    .unwrap();
    assert_eq!(
        (
            summary.generated,
            summary.first_serial,
            summary.last_serial,
            summary.collisions_regenerated
        ),
        (4, 1, 4, 2),
        "the round keeps its four serials; the two stored codes were made again"
    );
    let stored: Vec<(String, i32)> =
        sqlx::query_as("select code, serial from promo_codes where batch_id = $1 order by serial")
            .bind(batch)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored.len(), 4);
    assert_eq!(stored[0], ("AAAA-AA26-AA11-AA25".to_owned(), 1));
    assert_eq!(stored[1], ("BBBB-BB26-BB11-BB25".to_owned(), 2));
    assert_eq!((stored[2].1, stored[3].1), (3, 4));
    for (code, _) in &stored[2..] {
        assert!(!taken.contains(code), "a fresh code, not the stored one");
        assert!(mbelyco::codes::parse(code).is_ok(), "{code}");
    }
    let owners: i64 = sqlx::query_scalar("select count(*) from promo_codes where code = any($1)")
        .bind(&taken)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(owners, 2, "the taken codes still belong to the first batch only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_generation_job_makes_only_the_missing_codes() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Batch Manager").await;
    let res = create(
        &app,
        &key,
        json!({"name": "Interrupted run", "totalCodes": 900, "amountPerCode": 1000,
        "expiresAt": "2027-06-30", "generate": false}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let batch: uuid::Uuid = body["batch"]["id"].as_str().unwrap().parse().unwrap();
    // the rounds a crashed first attempt had committed: 300 of 900
    let alphabet = || mbelyco::codes::format::Alphabet::new("ABCDEFGHJKLMNPQRSTUVWXYZ23456789").unwrap();
    mbelyco::codes::generate::run(
        &app.pool,
        mbelyco::codes::generate::Spec {
            batch_id: batch,
            actor: mbelyco::audit::Actor::System,
            alphabet: alphabet(),
            checksum: false,
            now: crate::helpers::now(),
        },
        300,
        |_, _| async { Ok::<(), sqlx::Error>(()) },
    )
    .await
    .unwrap();
    // the job runs again with its original payload
    let job = mbelyco::codes::generate::GenerateJob {
        batch_id: batch,
        count: 900,
        requested_by: None,
        until_count: Some(900),
    };
    let queued = mbelyco::jobs::NewJob::new(mbelyco::codes::generate::KIND, &job).unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    mbelyco::jobs::enqueue(&mut conn, &queued, crate::helpers::now())
        .await
        .unwrap();
    drop(conn);
    app.worker("w1").drain().await.unwrap();
    let (count, max): (i64, i32) = sqlx::query_as("select count(*), max(serial) from promo_codes where batch_id = $1")
        .bind(batch)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        (count, max),
        (900, 900),
        "the batch holds what was asked for, not 1,200"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_generation_keeps_every_code_unique() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    for i in 0..4 {
        assert_eq!(
            create(&app, &key, batch_body(&format!("Parallel {i}"), 3000))
                .await
                .status(),
            201
        );
    }
    let mut set = tokio::task::JoinSet::new();
    for w in 0..4 {
        let wk = app.worker(&format!("w{w}"));
        set.spawn(async move { wk.drain().await.unwrap() });
    }
    while set.join_next().await.is_some() {}
    let (total, distinct): (i64, i64) = sqlx::query_as("select count(*), count(distinct code) from promo_codes")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!((total, distinct), (12_000, 12_000));
    let gaps: i64 = sqlx::query_scalar(
        "select count(*) from (select batch_id, max(serial) - count(*) as gap from promo_codes group by batch_id) g where gap <> 0",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(gaps, 0, "every batch numbered 1..N without gaps");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_rules_follow_the_facts() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Batch Manager").await;
    let body: Value = create(&app, &key, batch_body("Status", 10)).await.json().await.unwrap();
    let id = body["batch"]["id"].as_str().unwrap().to_owned();
    app.worker("w").drain().await.unwrap();
    let put = |status: &'static str| {
        let (app, key, id) = (&app, key.clone(), id.clone());
        async move {
            app.put_json(
                &key,
                &format!("/api/v1/admin/batches/{id}/status"),
                &json!({"status": status}),
            )
            .await
        }
    };
    assert_eq!(put("completed").await.status(), 409, "codes are still open");
    assert_eq!(put("blocked").await.status(), 200);
    assert_eq!(put("active").await.status(), 200);
    assert_eq!(put("paused").await.status(), 422);
    // the expiry passes: expiring takes the codes with it, and it cannot be undone by hand
    sqlx::query("update batches set expiration_date = now() - interval '1 minute' where id = $1::uuid")
        .bind(&id)
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(put("expired").await.status(), 200);
    let active: i64 =
        sqlx::query_scalar("select count(*) from promo_codes where batch_id = $1::uuid and status = 'active'")
            .bind(&id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(active, 0);
    assert_eq!(put("active").await.status(), 409);
    assert_eq!(put("completed").await.status(), 200, "nothing left to redeem");
    let changes: i64 = sqlx::query_scalar("select count(*) from audit_logs where action = 'batch.status_changed'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(changes, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_export_streams_every_code_in_serial_order_and_is_recorded() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Batch Manager").await;
    let body: Value = create(&app, &key, batch_body("Kivu \"Blue\", 2026", 250))
        .await
        .json()
        .await
        .unwrap();
    let id = body["batch"]["id"].as_str().unwrap().to_owned();
    app.worker("w").drain().await.unwrap();
    let res = app
        .get_as(
            &key,
            &format!("/api/v1/admin/promo-codes/export?format=csv&batchId={id}"),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(
        disposition.contains("attachment") && disposition.contains(".csv"),
        "{disposition}"
    );
    let text = res.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "code,serial,batch_number,batch_name,amount,currency,status,created,expires"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 250);
    assert!(rows[0].contains(",1,") && rows[249].contains(",250,"));
    assert!(
        rows[0].contains("\"Kivu \"\"Blue\"\", 2026\""),
        "quotes and commas escaped: {}",
        rows[0]
    );
    assert!(rows[0].ends_with("+02:00"), "Kigali time: {}", rows[0]);

    // a sheet range: serials 13..24 (page 2)
    let part = app
        .get_as(
            &key,
            &format!("/api/v1/admin/promo-codes/download?format=csv&batchId={id}&serialFrom=13&serialTo=24"),
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(part.lines().count(), 13);
    let custody: Vec<(i32, Option<i32>, Option<i32>)> =
        sqlx::query_as("select code_count, serial_from, serial_to from code_downloads order by created_at")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(custody, [(250, None, None), (12, Some(13), Some(24))]);
    let audited: i64 = sqlx::query_scalar("select count(*) from audit_logs where action = 'codes.downloaded'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(audited, 2);

    // every row's times are its own code's, in Kigali time to the second: a code whose expiry
    // differs from the rest (the export formats the common value once) shows its own
    sqlx::query("update promo_codes set expires_at = expires_at + interval '1 day 1 hour' where serial = 7")
        .execute(&db.pool)
        .await
        .unwrap();
    let text = app
        .get_as(
            &key,
            &format!("/api/v1/admin/promo-codes/export?format=csv&batchId={id}"),
        )
        .await
        .text()
        .await
        .unwrap();
    let times: Vec<(DateTime<Utc>, DateTime<Utc>)> =
        sqlx::query_as("select created_at, expires_at from promo_codes order by serial")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let kigali = |t: &DateTime<Utc>| {
        t.with_timezone(&mbelyco::clock::kigali())
            .format("%Y-%m-%dT%H:%M:%S+02:00")
            .to_string()
    };
    for (line, (created, expires)) in text.lines().skip(1).zip(&times) {
        let fields: Vec<&str> = line.rsplitn(3, ',').collect();
        assert_eq!(fields[0], kigali(expires), "{line}");
        assert_eq!(fields[1], kigali(created), "{line}");
    }
    assert_ne!(times[6].1, times[0].1);
    let bad = app.get_as(&key, "/api/v1/admin/promo-codes/export?format=xls").await;
    assert_eq!(bad.status(), 422);
    let viewer = app.api_key("Viewer").await;
    let res = app
        .get_as(&viewer, &format!("/api/v1/admin/promo-codes/export?batchId={id}"))
        .await;
    assert_eq!(res.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pdf_export_is_twelve_codes_a_page_with_header_and_footer() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Batch Manager").await;
    let body: Value = create(&app, &key, batch_body("Kivu Blue", 25))
        .await
        .json()
        .await
        .unwrap();
    let id = body["batch"]["id"].as_str().unwrap().to_owned();
    let number = body["batch"]["batchNumber"].as_i64().unwrap();
    app.worker("w").drain().await.unwrap();
    let res = app
        .get_as(
            &key,
            &format!("/api/v1/admin/promo-codes/export?format=pdf&batchId={id}"),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains(".pdf"));
    let bytes = res.bytes().await.unwrap();
    let doc = lopdf::Document::load_mem(&bytes).expect("a valid PDF");
    assert_eq!(doc.get_pages().len(), 3, "⌈25 ÷ 12⌉ pages");
    let first = doc.extract_text(&[1]).unwrap();
    assert!(
        first.contains(&format!("Batch {number} - Kivu Blue")) && first.contains("MBELYCO Paints"),
        "{first}"
    );
    assert!(first.contains("Page 1 of 3") && first.contains("1,000 RWF"), "{first}");
    let codes: Vec<String> =
        sqlx::query_scalar("select code from promo_codes where batch_id = $1::uuid order by serial")
            .bind(&id)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let on_page_1 = codes.iter().filter(|c| first.contains(c.as_str())).count();
    assert_eq!(on_page_1, 12, "twelve codes on a full page, in serial order");
    assert!(
        first.contains(codes[0].as_str()) && first.contains(codes[11].as_str()) && !first.contains(codes[12].as_str())
    );
    let last = doc.extract_text(&[3]).unwrap();
    assert!(last.contains("Page 3 of 3") && last.contains(codes[24].as_str()));
    let format: String = sqlx::query_scalar("select format from code_downloads")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(format, "pdf");
}

/// Batch statistics come from per-statement count deltas: they must equal a real count through
/// generation, a bulk status change, single updates, a top-up, code deletion and compaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_statistics_stay_exact_through_every_kind_of_change() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let batch = app.generated_batch(&key, "Counted", 40, "w-counts").await;
    let other = app.generated_batch(&key, "Neighbour", 7, "w-counts").await;
    let res = app
        .post_json(
            &key,
            "/api/v1/admin/promo-codes/bulk",
            &json!({"filter": {"batchId": batch, "pageFrom": 1, "pageTo": 1}, "action": "block",
                "reason": "Sheet 1 lost"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    for (serial, status) in [(20, "used"), (21, "redeemed"), (22, "redeemed"), (23, "reported")] {
        sqlx::query(
            "update promo_codes set status = $3, amount = amount + 500 where batch_id = $1::uuid and serial = $2",
        )
        .bind(&batch)
        .bind(serial)
        .bind(status)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    sqlx::query("delete from promo_codes where batch_id = $1::uuid and serial > 38")
        .bind(&batch)
        .execute(&app.pool)
        .await
        .unwrap();
    let truth = || async {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "select status, count(*), sum(amount)::int8 from promo_codes where batch_id = $1::uuid group by status",
        )
        .bind(&batch)
        .fetch_all(&app.pool)
        .await
        .unwrap();
        rows
    };
    let check = |stats: Value, truth: Vec<(String, i64, i64)>| {
        let n = |s: &str| truth.iter().find(|r| r.0 == s).map_or(0, |r| r.1);
        let amount = |s: &str| truth.iter().find(|r| r.0 == s).map_or(0, |r| r.2);
        assert_eq!(stats["codes"], truth.iter().map(|r| r.1).sum::<i64>(), "{stats}");
        for s in ["active", "used", "redeemed", "blocked", "reported", "expired"] {
            assert_eq!(stats[s], n(s), "{s}: {stats}");
        }
        assert_eq!(stats["amountPaid"], amount("redeemed"), "{stats}");
        assert_eq!(stats["amountPending"], amount("used"), "{stats}");
    };
    let stats = || async {
        let v: Value = app
            .get_as(&key, &format!("/api/v1/admin/batches/{batch}/stats"))
            .await
            .json()
            .await
            .unwrap();
        v.get("stats").cloned().unwrap_or(v)
    };
    let before = stats().await;
    assert_eq!(before["codes"], 38);
    assert_eq!(before["blocked"], 12);
    assert_eq!(before["amountPaid"], 3000);
    check(before, truth().await);
    let mut conn = app.pool.acquire().await.unwrap();
    mbelyco::batches::compact_counts(&mut conn, 1).await.unwrap();
    let rows: i64 = sqlx::query_scalar("select count(*) from batch_code_counts where batch_id = $1::uuid")
        .bind(&batch)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(rows <= 6, "compacted to one row per status, got {rows}");
    check(stats().await, truth().await);
    let neighbour: Value = app
        .get_as(&key, &format!("/api/v1/admin/batches/{other}/stats"))
        .await
        .json()
        .await
        .unwrap();
    let neighbour = neighbour.get("stats").cloned().unwrap_or(neighbour);
    assert_eq!(
        (neighbour["codes"].clone(), neighbour["active"].clone()),
        (json!(7), json!(7))
    );
}

/// The PRD names the top-up `POST /promo-codes/generate` as well as `/batches/generate`, and the
/// download `GET /batches/download` as well as `/promo-codes/download|export`: the same operations
/// (the same rules, job, audit row and chain-of-custody record), not copies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prd_names_of_top_up_and_download_are_the_same_operations() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Batch Manager").await;
    let body: Value = create(&app, &key, batch_body("Both trees", 24))
        .await
        .json()
        .await
        .unwrap();
    let id = body["batch"]["id"].as_str().unwrap().to_owned();
    app.worker("w").drain().await.unwrap();

    let res = app
        .post_json(
            &key,
            "/api/v1/admin/promo-codes/generate",
            &json!({"batchId": id, "count": 6}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let job = res.json::<Value>().await.unwrap()["jobId"].to_string();
    app.worker("w").drain().await.unwrap();
    let (max, n): (i32, i64) =
        sqlx::query_as("select max(serial), count(*) from promo_codes where batch_id = $1::uuid")
            .bind(&id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((max, n), (30, 30), "the top-up continued the serials");
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_logs where action = 'batch.topped_up' and entity_id = $1")
            .bind(&id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(audited, 1, "audited like the batches route (job {job})");
    // the same rules: beyond the batch maximum or a bad count is refused naming the field
    let res = app
        .post_json(
            &key,
            "/api/v1/admin/promo-codes/generate",
            &json!({"batchId": id, "count": 0}),
        )
        .await;
    assert_eq!(res.status(), 422);

    let one = app
        .get_as(
            &key,
            &format!("/api/v1/admin/promo-codes/export?format=csv&batchId={id}"),
        )
        .await;
    assert_eq!(one.status(), 200);
    let one = one.text().await.unwrap();
    let other = app
        .get_as(&key, &format!("/api/v1/admin/batches/download?format=csv&batchId={id}"))
        .await;
    assert_eq!(other.status(), 200);
    assert_eq!(other.headers()["content-type"], "text/csv; charset=utf-8");
    let other = other.text().await.unwrap();
    assert_eq!(one.lines().count(), 31, "a header and 30 codes");
    assert_eq!(one, other, "the same file");
    let recorded: i64 = sqlx::query_scalar("select count(*) from code_downloads where batch_id = $1::uuid")
        .bind(&id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(recorded, 2, "each download is in the batch's chain of custody");

    // and the same key: a Viewer (no promo-codes.download / .generate) gets neither
    let viewer = app.api_key("Viewer").await;
    let res = app
        .get_as(
            &viewer,
            &format!("/api/v1/admin/batches/download?format=csv&batchId={id}"),
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .post_json(
            &viewer,
            "/api/v1/admin/promo-codes/generate",
            &json!({"batchId": id, "count": 1}),
        )
        .await;
    assert_eq!(res.status(), 403);
}
