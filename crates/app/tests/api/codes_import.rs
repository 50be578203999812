//! CSV import of codes into a batch: serials, every kind of bad line with its line number and
//! reason, the two modes, the error report, BOM/CRLF/quotes, field errors, permissions, audit,
//! and the page.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp, TestDb};

const IMPORT: &str = "/api/v1/admin/promo-codes/import";

async fn empty_batch(app: &TestApp, key: &str, name: &str) -> Uuid {
    let res = app.post_json(key, "/api/v1/admin/batches", &json!({"name": name, "totalCodes": 5, "amountPerCode": 1000, "expiresAt": "2027-06-30", "generate": false})).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    body["batch"]["id"].as_str().unwrap().parse().unwrap()
}

/// Stores a code directly, as generation would have.
async fn store(app: &TestApp, batch: Uuid, code: &str, serial: i32) {
    sqlx::query(
        "insert into promo_codes (code, batch_id, serial, amount, created_at) values ($1, $2, $3, 1000, now())",
    )
    .bind(code)
    .bind(batch)
    .bind(serial)
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn upload_raw(app: &TestApp, key: &str, query: &str, csv: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("{IMPORT}?{query}")))
        .bearer_auth(key)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap()
}

async fn upload_multipart(app: &TestApp, key: &str, batch: Uuid, mode: &str, csv: &str) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("batchId", batch.to_string())
        .text("mode", mode.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(csv.as_bytes().to_vec())
                .file_name("codes.csv")
                .mime_str("text/csv")
                .unwrap(),
        );
    app.client
        .post(app.url(IMPORT))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn codes_of(app: &TestApp, batch: Uuid) -> Vec<(String, i32, i64, String)> {
    sqlx::query_as("select code, serial, amount, status from promo_codes where batch_id = $1 order by serial")
        .bind(batch)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_file_with_bom_crlf_and_quotes_is_imported_with_consecutive_serials_and_audited() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Batch Manager").await;
    let batch = empty_batch(&app, &key, "Imported tins").await;
    store(&app, batch, "AAAA-AAAA-AAAA-AAAA", 1).await;

    let csv = "\u{feff}\"Code\",\"amount\"\r\n\"bcde fg26 hj11 kl25\",\"2500\"\r\nBCDEFG26HJ11KL26,\r\n\"BCDE-FG26-HJ11-KL27\",1000\r\n";
    let res = upload_raw(
        &app,
        &key,
        &format!("batchId={batch}&mode=valid_rows&fileName=tins.csv"),
        csv,
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    let summary = &body["import"];
    assert_eq!(summary["status"], "imported");
    assert_eq!(
        (&summary["totalRows"], &summary["accepted"], &summary["rejected"]),
        (&json!(3), &json!(3), &json!(0))
    );
    assert_eq!((&summary["serialFrom"], &summary["serialTo"]), (&json!(2), &json!(4)));
    assert!(body["errorReport"].is_null());

    let rows = codes_of(&app, batch).await;
    let got: Vec<(&str, i32, i64, &str)> = rows.iter().map(|r| (r.0.as_str(), r.1, r.2, r.3.as_str())).collect();
    assert_eq!(
        got,
        [
            ("AAAA-AAAA-AAAA-AAAA", 1, 1000, "active"),
            ("BCDE-FG26-HJ11-KL25", 2, 2500, "active"),
            ("BCDE-FG26-HJ11-KL26", 3, 1000, "active"),
            ("BCDE-FG26-HJ11-KL27", 4, 1000, "active"),
        ],
        "canonical codes, file order, consecutive serials after the batch's last, the batch's amount when blank"
    );
    let expiry_matches: bool = sqlx::query_scalar(
        "select bool_and(c.expires_at = b.expiration_date) from promo_codes c join batches b on b.id = c.batch_id \
         where c.batch_id = $1 and c.serial > 1",
    )
    .bind(batch)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(expiry_matches, "imported codes take the batch's expiry");

    let audit: Vec<Value> =
        sqlx::query_scalar("select after from audit_logs where action = 'codes.imported' and entity_id = $1")
            .bind(batch.to_string())
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(audit.len(), 1, "one audit row per import");
    assert_eq!(audit[0]["fileName"], "tins.csv");
    assert_eq!(audit[0]["mode"], "valid_rows");
    assert_eq!((&audit[0]["accepted"], &audit[0]["rejected"]), (&json!(3), &json!(0)));

    let id = summary["id"].as_str().unwrap();
    let again: Value = app
        .get_as(&key, &format!("/api/v1/admin/promo-codes/imports/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["import"]["accepted"], 3);
    assert_eq!(again["import"]["fileName"], "tins.csv");

    // the same file again: every line is now already stored, so nothing is imported
    let res = upload_raw(&app, &key, &format!("batchId={batch}&mode=valid_rows"), csv).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["import"]["rejected"], 3);
    assert_eq!(body["rejectedLines"][0]["reason"], "already exists (batch 1)");
    assert_eq!(codes_of(&app, batch).await.len(), 4);
}

fn bad_file(taken: &str) -> String {
    [
        "code,amount",
        "CDEF-GH26-JK11-LM25,1000", // 2 good
        "CDEF-GH26*JK11,1000",      // 3 star
        "CDEF-GH26-JK11,1000",      // 4 too short
        "",                         // 5 blank: skipped
        "cdef gh26 jk11 lm25,1000", // 6 repeats line 2
        taken,                      // 7 already stored
        "CDEF-GH26-JK11-LM26,12.5", // 8 not whole francs
        "CDEF-GH26-JK11-LM27,50",   // 9 below the minimum
        ",1000",                    // 10 no code
        "CDEF-GH26-JK11-LM28,",     // 11 good (the batch's amount)
    ]
    .join("\n")
        + "\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_line_is_reported_with_its_line_and_reason_and_valid_rows_imports_the_rest() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Batch Manager").await;
    let other = empty_batch(&app, &key, "Older batch").await;
    store(&app, other, "ZZZZ-ZZ26-ZZ11-ZZ25", 1).await;
    let batch = empty_batch(&app, &key, "Mixed file").await;

    let res = upload_multipart(&app, &key, batch, "valid_rows", &bad_file("zzzz-zz26-zz11-zz25,1000")).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["import"]["status"], "partial");
    assert_eq!(body["import"]["fileName"], "codes.csv");
    assert_eq!(
        (
            &body["import"]["totalRows"],
            &body["import"]["accepted"],
            &body["import"]["rejected"]
        ),
        (&json!(9), &json!(2), &json!(7)),
        "the blank line is not counted"
    );
    let lines: Vec<(i64, String, String)> = body["rejectedLines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["line"].as_i64().unwrap(),
                l["value"].as_str().unwrap().to_owned(),
                l["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = [
        (3, "CDEF-GH26*JK11", "bad format"),
        (4, "CDEF-GH26-JK11", "bad format"),
        (6, "cdef gh26 jk11 lm25", "duplicate: the same code is on line 2"),
        (7, "zzzz-zz26-zz11-zz25", "already exists (batch 1)"),
        (8, "12.5", "bad amount"),
        (9, "50", "bad amount"),
        (10, "", "the code is empty"),
    ];
    assert_eq!(lines.len(), 7, "{lines:?}");
    for (got, want) in lines.iter().zip(expect.iter()) {
        assert_eq!((got.0, got.1.as_str()), (want.0, want.1), "{lines:?}");
        assert!(got.2.starts_with(want.2), "line {}: {}", got.0, got.2);
    }
    let rows = codes_of(&app, batch).await;
    assert_eq!(
        rows.iter().map(|r| (r.0.as_str(), r.1)).collect::<Vec<_>>(),
        [("CDEF-GH26-JK11-LM25", 1), ("CDEF-GH26-JK11-LM28", 2)]
    );

    // the error report: every rejected line, as CSV
    let report = body["errorReport"].as_str().unwrap();
    let res = app.get_as(&key, report).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    let mut out = csv.lines();
    assert_eq!(out.next(), Some("line,value,reason"));
    let first: Vec<&str> = out.map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(first, ["3", "4", "6", "7", "8", "9", "10"]);
    assert!(csv.contains("7,zzzz-zz26-zz11-zz25,already exists (batch 1)"), "{csv}");
    assert!(
        csv.contains("6,cdef gh26 jk11 lm25,duplicate: the same code is on line 2"),
        "{csv}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_larger_than_the_usual_body_limit_is_taken() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Batch Manager").await;
    let batch = empty_batch(&app, &key, "Big file").await;
    // 3 MB (past the 2 MB limit of other requests), mostly blank lines
    let csv = format!(
        "code\n{}GHJK-LM26-NP11-QR25\nGHJK-LM26-NP11\n",
        "\n".repeat(3 * 1024 * 1024)
    );
    let res = upload_multipart(&app, &key, batch, "valid_rows", &csv).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["import"]["accepted"], 1);
    assert_eq!(body["rejectedLines"][0]["line"], 3 * 1024 * 1024 + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_or_nothing_imports_nothing_when_one_line_is_bad() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Batch Manager").await;
    let batch = empty_batch(&app, &key, "Strict").await;
    let csv = "code\nDEFG-HJ26-KL11-MN25\nDEFG-HJ26-KL11-MN26\nnot a code\n";
    let res = upload_multipart(&app, &key, batch, "all_or_nothing", csv).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "file");
    assert!(
        body["errors"][0]["message"].as_str().unwrap().contains("1 of 3"),
        "{body}"
    );
    assert_eq!(body["import"]["status"], "rejected");
    assert_eq!(
        (&body["import"]["accepted"], &body["import"]["rejected"]),
        (&json!(0), &json!(1))
    );
    assert!(codes_of(&app, batch).await.is_empty(), "nothing inserted");
    let report = body["errorReport"].as_str().unwrap();
    let csv = app.get_as(&key, report).await.text().await.unwrap();
    assert_eq!(
        csv.lines().collect::<Vec<_>>(),
        [
            "line,value,reason",
            "4,not a code,\"bad format: a code has 16 letters and digits, like ABCD-EF26-GH11-JK25\""
        ]
    );
    // the refused import is still recorded and audited
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_logs where action = 'codes.imported' and entity_id = $1")
            .bind(batch.to_string())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 1);

    // the fixed file goes in whole
    let res = upload_multipart(
        &app,
        &key,
        batch,
        "all_or_nothing",
        "code\nDEFG-HJ26-KL11-MN25\nDEFG-HJ26-KL11-MN26\n",
    )
    .await;
    assert_eq!(res.status(), 201);
    assert_eq!(codes_of(&app, batch).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_check_character_is_told_apart_when_the_setting_is_on_and_the_batch_maximum_holds() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let batch = empty_batch(&app, &admin, "Checked").await;
    let res = app.put_json(&admin, "/api/v1/admin/settings/business", &json!({"settings": {"codeGeneration": {"characterSet": "ABCDEFGHJKLMNPQRSTUVWXYZ23456789", "includeChecksum": true}, "batchManagement": {"maxCodesPerBatch": 2}}})).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    while !app.state.settings.get().0.business.code_generation.include_checksum {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let alphabet = mbelyco::codes::Alphabet::new("ABCDEFGHJKLMNPQRSTUVWXYZ23456789").unwrap();
    let mut g = mbelyco::codes::format::Generator::new(
        alphabet.clone(),
        true,
        crate::helpers::now(),
        <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3),
    );
    let good = g.next_code().to_string();
    // change the check character (position 16) to another letter
    let mut bad = good.clone().into_bytes();
    bad[16] = if bad[16] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    let res = upload_raw(
        &app,
        &admin,
        &format!("batchId={batch}&mode=valid_rows"),
        &format!("code\n{good}\n{bad}\n"),
    )
    .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["import"]["accepted"], 1);
    assert_eq!(body["rejectedLines"][0]["line"], 3);
    assert_eq!(body["rejectedLines"][0]["reason"], "wrong check character (a typo?)");

    // the batch holds 1 of at most 2: two more codes are refused whole, and nothing is recorded
    let (a, b) = (g.next_code().to_string(), g.next_code().to_string());
    let res = upload_raw(&app, &admin, &format!("batchId={batch}"), &format!("code\n{a}\n{b}\n")).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "file");
    assert!(
        body["errors"][0]["message"].as_str().unwrap().contains("maximum of 2"),
        "{body}"
    );
    assert_eq!(codes_of(&app, batch).await.len(), 1);
    let imports: i64 = sqlx::query_scalar("select count(*) from code_imports")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(imports, 1);
    // one more fits
    let res = upload_raw(&app, &admin, &format!("batchId={batch}"), &format!("code\n{a}\n")).await;
    assert_eq!(res.status(), 201);
    assert_eq!(codes_of(&app, batch).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_name_the_field_and_roles_without_the_permission_are_refused() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Batch Manager").await;
    let fields = |body: &Value| -> Vec<String> {
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect()
    };
    let res = upload_raw(
        &app,
        &key,
        &format!("batchId={}", Uuid::new_v4()),
        "code\nEFGH-JK26-LM11-NP25\n",
    )
    .await;
    assert_eq!(res.status(), 422);
    assert_eq!(fields(&res.json().await.unwrap()), ["batchId"]);
    let res = upload_raw(&app, &key, "mode=sometimes", "").await;
    assert_eq!(res.status(), 422);
    assert_eq!(fields(&res.json().await.unwrap()), ["batchId", "mode", "file"]);
    let batch = empty_batch(&app, &key, "Fields").await;
    // a NUL in a query value is refused at the edge, naming it (issue 17, item 6)
    let res = upload_raw(
        &app,
        &key,
        &format!("batchId={batch}&fileName=odd%00name.csv"),
        "code\nEFGH-JK26-LM11-NP25\n",
    )
    .await;
    assert_eq!(res.status(), 422);
    assert_eq!(fields(&res.json().await.unwrap()), ["fileName"]);
    // control characters in the file and its name (PostgreSQL text cannot hold NUL) are shown
    // as `?`, never a 500
    let res = upload_raw(
        &app,
        &key,
        &format!("batchId={batch}&fileName=odd%01name.csv"),
        "code\nAB\u{0}CD\n",
    )
    .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["rejectedLines"][0]["value"], "AB?CD");
    assert_eq!(body["import"]["fileName"], "odd?name.csv");
    sqlx::query("delete from code_import_errors")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("delete from code_imports")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = upload_raw(&app, &key, &format!("batchId={batch}"), "serial,amount\n1,1000\n").await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(fields(&body), ["file"]);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("`code`"));
    let res = app
        .post_json(&key, "/api/v1/admin/batches/import", &json!({"batchId": batch}))
        .await;
    assert_eq!(res.status(), 422, "JSON is not a CSV upload");
    // a blocked batch takes no codes
    sqlx::query("update batches set status = 'blocked' where id = $1")
        .bind(batch)
        .execute(&app.pool)
        .await
        .unwrap();
    let res = upload_raw(&app, &key, &format!("batchId={batch}"), "code\nEFGH-JK26-LM11-NP25\n").await;
    assert_eq!(res.status(), 409);
    let imports: i64 = sqlx::query_scalar("select count(*) from code_imports")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(imports, 0, "refused requests record nothing");

    for role in ["Support Agent", "Viewer", "Financial Administrator"] {
        let other = app.api_key(role).await;
        let res = upload_raw(&app, &other, &format!("batchId={batch}"), "code\nEFGH-JK26-LM11-NP25\n").await;
        assert_eq!(res.status(), 403, "{role}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_imports_a_form_upload_and_shows_the_summary() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Batch Manager").await;
    let batch = empty_batch(&app, &key, "Page batch").await;

    let page = app
        .get_as(&key, &format!("/admin/batches/{batch}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("/admin/codes/import?batchId={batch}")),
        "Import codes link"
    );
    let viewer = app.api_key("Viewer").await;
    let page = app
        .get_as(&viewer, &format!("/admin/batches/{batch}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("Import codes"));

    let form_page = app.get_as(&key, &format!("/admin/codes/import?batchId={batch}")).await;
    assert_eq!(form_page.status(), 200);
    let html = form_page.text().await.unwrap();
    assert!(
        html.contains(&format!("<option value=\"{batch}\" selected>")),
        "the batch is chosen"
    );
    assert!(html.contains("<progress"));

    let form = reqwest::multipart::Form::new()
        .text("batchId", batch.to_string())
        .text("mode", "valid_rows")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"code\nFGHJ-KL26-MN11-PQ25\nnope\n".to_vec()).file_name("shop.csv"),
        );
    let res = app
        .client
        .post(app.url("/admin/codes/import"))
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/admin/codes/import?import="));
    let html = app.get_as(&key, &to).await.text().await.unwrap();
    assert!(html.contains("shop.csv"));
    assert!(html.contains(r#"<td id="import-accepted">1</td>"#), "{html}");
    assert!(html.contains(r#"<td id="import-rejected">1</td>"#));
    assert!(html.contains("/errors.csv"));

    // a form without a file comes back with the reason
    let form = reqwest::multipart::Form::new().text("batchId", batch.to_string());
    let res = app
        .client
        .post(app.url("/admin/codes/import"))
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("file: choose a CSV file"));
}
