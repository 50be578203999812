//! Reports (issue #21 item 3) over a real workload: redemptions over USSD, payouts through the
//! worker and the MoMo simulator. The financial report's totals equal the payouts list's sums,
//! the batch report's rates equal the batch statistics, money stays with readers of payouts, an
//! exported file is a CSV a reader parses until it expires, and bad ranges are refused by name.

use std::collections::HashMap;

use mbelyco::settings::Category;
use serde_json::{json, Value};

use crate::helpers::{error_fields, TestApp, TestDb};
use crate::payout_fixtures::person_with_key;
use crate::payouts::{instant, ready, redeem, start_momo, worker};

pub(crate) fn today() -> String {
    mbelyco::stats::kigali_date(crate::helpers::now()).to_string()
}

async fn get_json(app: &TestApp, key: &str, path: &str) -> Value {
    let res = app.get_as(key, path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

/// The table called `name` anywhere in the report.
fn table<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["blocks"].as_array().unwrap())
        .find(|b| b["type"] == "table" && b["name"] == name)
        .unwrap_or_else(|| panic!("no table {name} in {report}"))
}

/// A figure's raw number.
fn figure(report: &Value, label: &str) -> i64 {
    report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["blocks"].as_array().unwrap())
        .filter(|b| b["type"] == "figures")
        .flat_map(|b| b["figures"].as_array().unwrap())
        .find(|f| f["label"] == label)
        .and_then(|f| f["value"]["v"].as_i64())
        .unwrap_or_else(|| panic!("no figure {label} in {report}"))
}

/// Every record of a report's CSV, read strictly (a file of one width, as a spreadsheet reads it).
pub(crate) fn csv_records(text: &str) -> Vec<csv::StringRecord> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .collect::<Result<_, _>>()
        .expect("the CSV parses, every row one width")
}

/// Every payout of the days, through the payouts list's pages: (count, amount) per status.
pub(crate) async fn list_sums(app: &TestApp, key: &str, from: &str, to: &str) -> HashMap<String, (i64, i64)> {
    let mut sums: HashMap<String, (i64, i64)> = HashMap::new();
    let mut next = Some(format!("/api/v1/admin/disbursements?from={from}&to={to}&limit=2"));
    while let Some(path) = next {
        let page = get_json(app, key, &path).await;
        for row in page["data"].as_array().unwrap() {
            let e = sums.entry(row["status"].as_str().unwrap().to_owned()).or_default();
            e.0 += 1;
            e.1 += row["amount"].as_i64().unwrap();
        }
        next = page["next"]
            .as_str()
            .map(|n| n.strip_prefix(&app.base).unwrap_or(n).to_owned());
    }
    sums
}

/// Five redemptions over USSD: two paid, one to a number without a wallet (payee_invalid), two
/// that MoMo's balance cannot cover yet (pending); and a wrong code typed once.
pub(crate) async fn workload(db: &TestDb) -> (TestApp, String, String, crate::payouts::Momo) {
    let mut config = instant();
    config.starting_balance = 2_000;
    config.inactive = vec!["+250783000004".into(), "250783000004".into()];
    let momo = start_momo(config).await;
    let (app, key) = ready(db, &momo, json!({})).await;
    let ids = redeem(&app, &key, 5, "rep").await;
    assert_eq!(ids.len(), 5);
    worker(&app, "w1").run_until_idle().await.unwrap();
    let wrong = app.hop("rep-wrong", "+250783999999", "1*AAAA-BBBB-CCCC-DDDD").await;
    assert!(wrong.starts_with("CON ") || wrong.starts_with("END "), "{wrong}");
    let batch: String = sqlx::query_scalar("select batch_id::text from redemptions limit 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let states: Vec<String> = sqlx::query_scalar("select distinct status from disbursements order by 1")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(states.len() >= 2, "a mixed workload: {states:?}");
    (app, key, batch, momo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn financial_totals_equal_the_payouts_list_and_batch_rates_the_batch_statistics() {
    let db = TestDb::new().await;
    let (app, admin, batch, _momo) = workload(&db).await;
    let (_, fa) = person_with_key(&app, "fa@mbelyco.test", "Financial Administrator").await;
    let day = today();

    // financial: the state table and the headline figures are the payouts list's sums
    let report = get_json(
        &app,
        &fa,
        &format!("/api/v1/admin/reports/financial?from={day}&to={day}"),
    )
    .await;
    let listed = list_sums(&app, &fa, &day, &day).await;
    assert_eq!(listed.values().map(|s| s.0).sum::<i64>(), 5, "{listed:?}");
    let by_state = table(&report, "By state");
    for row in by_state["rows"].as_array().unwrap() {
        let status = row[0]["v"].as_str().unwrap();
        let want = listed.get(status).copied().unwrap_or((0, 0));
        assert_eq!(
            (row[2]["v"].as_i64().unwrap(), row[3]["v"].as_i64().unwrap()),
            want,
            "{status}"
        );
    }
    let sum = |states: &[&str]| -> i64 { states.iter().map(|s| listed.get(*s).map_or(0, |v| v.1)).sum() };
    assert_eq!(figure(&report, "Paid"), sum(&["completed"]));
    assert_eq!(
        figure(&report, "Pending"),
        sum(&["queued", "processing", "retry_scheduled"])
    );
    assert_eq!(figure(&report, "Held"), sum(&["awaiting_approval"]));
    assert_eq!(figure(&report, "Failed"), sum(&["failed", "payee_invalid"]));
    assert!(
        figure(&report, "Paid") > 0 && figure(&report, "Failed") > 0,
        "{listed:?}"
    );
    let totals = &table(&report, "By day")["totals"];
    assert_eq!(
        totals[2]["v"].as_i64(),
        Some(sum(&["completed"])),
        "the day table adds up"
    );
    let batch_totals = &table(&report, "By batch")["totals"];
    assert_eq!(batch_totals, &{
        let mut t = totals.as_array().unwrap().clone();
        t.insert(1, json!({"t": "empty"}));
        Value::Array(t)
    });

    // the same report as CSV: a reader parses it and finds the same totals
    let res = app
        .get_as(
            &fa,
            &format!("/api/v1/admin/reports/financial?from={day}&to={day}&format=csv"),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = res.text().await.unwrap();
    let rows = csv_records(&text);
    let at = rows
        .iter()
        .position(|r| &r[0] == "## By state")
        .expect("a By state section");
    let completed = rows[at + 2..]
        .iter()
        .find(|r| &r[0] == "completed")
        .expect("a completed row");
    assert_eq!(completed[3].parse::<i64>().unwrap(), sum(&["completed"]), "raw francs");

    // with analytics.reportIncludeRawData, every payout of the days follows, in one width
    app.set_settings(Category::Analytics, json!({"reportIncludeRawData": true}))
        .await;
    let text = app
        .get_as(
            &fa,
            &format!("/api/v1/admin/reports/financial?from={day}&to={day}&format=csv"),
        )
        .await
        .text()
        .await
        .unwrap();
    let rows = csv_records(&text);
    let at = rows
        .iter()
        .position(|r| &r[0] == "## Payouts")
        .expect("the payouts section");
    assert_eq!(&rows[at + 1][0], "payout_id");
    let paid: i64 = rows[at + 2..]
        .iter()
        .filter(|r| &r[7] == "completed")
        .map(|r| r[5].parse::<i64>().unwrap())
        .sum();
    assert_eq!(
        (rows.len() - at - 2, paid),
        (5, sum(&["completed"])),
        "every payout, raw"
    );

    // batch performance: codes, redeemed and rate as the batch's own statistics give them
    let stats = get_json(&app, &admin, &format!("/api/v1/admin/batches/{batch}/stats")).await;
    let report = get_json(
        &app,
        &fa,
        &format!("/api/v1/admin/reports/batches?from={day}&to={day}&batchId={batch}"),
    )
    .await;
    let row = &table(&report, "Batches")["rows"][0];
    assert_eq!(row[3]["v"], stats["codes"], "{row} {stats}");
    assert_eq!(
        row[4]["v"].as_i64(),
        Some(stats["used"].as_i64().unwrap() + stats["redeemed"].as_i64().unwrap())
    );
    let rate = row[5]["v"].as_f64().unwrap();
    assert!(
        (rate - stats["redemptionRate"].as_f64().unwrap()).abs() < 1e-9,
        "{rate} {stats}"
    );
    assert_eq!(row[7]["v"], stats["amountPaid"]);
    assert_eq!(row[8]["v"], stats["amountPending"]);
    let curve = table(&report, "Redemptions per day");
    assert_eq!(curve["totals"][1]["v"], 5, "five redemptions today: {curve}");

    // engagement: five new customers, the wrong code counted
    let report = get_json(
        &app,
        &fa,
        &format!("/api/v1/admin/reports/engagement?from={day}&to={day}"),
    )
    .await;
    assert_eq!(figure(&report, "New customers"), 5);
    assert_eq!(figure(&report, "Redemptions"), 5);
    assert!(figure(&report, "Wrong-code attempts") >= 1, "{report}");
    let heat = table(&report, "Hour of day by weekday");
    let heat_total: i64 = heat["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[25]["v"].as_i64().unwrap())
        .sum();
    assert_eq!(heat_total, 5, "every redemption in the heat map");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_stays_with_readers_of_payouts() {
    let db = TestDb::new().await;
    let app = crate::helpers::spawn_app(db.pool.clone()).await;
    let (_, viewer) = person_with_key(&app, "viewer@mbelyco.test", "Viewer").await;
    let day = today();
    let res = app
        .get_as(&viewer, &format!("/api/v1/admin/reports/financial?from={day}&to={day}"))
        .await;
    assert_eq!(res.status(), 403);
    let report = get_json(&app, &viewer, "/api/v1/admin/reports/batches").await;
    let cols: Vec<String> = table(&report, "Batches")["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !cols.iter().any(|c| c.contains("RWF")),
        "no money for a Viewer: {cols:?}"
    );
    assert_eq!(
        get_json(&app, &viewer, "/api/v1/admin/reports/engagement").await["kind"],
        "engagement"
    );
    // exporting needs reports.export
    let res = app
        .post_json(
            &viewer,
            "/api/v1/admin/reports/export",
            &json!({"kind": "batches", "format": "csv"}),
        )
        .await;
    assert_eq!(res.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ranges_are_refused_naming_the_field() {
    let db = TestDb::new().await;
    let app = crate::helpers::spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    for (query, field) in [
        ("from=yesterday", "from"),
        ("to=2026-02-30", "to"),
        ("from=2026-12-05&to=2026-12-01", "to"),
        ("from=2024-01-01&to=2026-01-01", "to"),
        ("batchId=nope", "batchId"),
        ("format=xml", "format"),
    ] {
        for kind in ["batches", "financial", "engagement"] {
            let res = app.get_as(&key, &format!("/api/v1/admin/reports/{kind}?{query}")).await;
            assert_eq!(res.status(), 422, "{kind}?{query}");
            let v: Value = res.json().await.unwrap();
            assert_eq!(error_fields(&v), [field], "{kind}?{query}: {v}");
        }
    }
    let res = app
        .post_json(
            &key,
            "/api/v1/admin/reports/export",
            &json!({"kind": "sales", "from": "2026-12-05", "to": "2026-12-01", "format": "xls"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let v: Value = res.json().await.unwrap();
    let mut fields = error_fields(&v);
    fields.sort_unstable();
    assert_eq!(fields, ["format", "kind", "to"], "{v}");
    // the page says it beside the form
    let res = app
        .get_as(&key, "/admin/reports?kind=engagement&from=2026-12-05&to=2026-12-01")
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("id=\"to-error\"") && html.contains("must not be before from"),
        "{html}"
    );
    // an export the page's form asks for, refused: said beside the format, the report still shown
    let res = app
        .post_form(
            &key,
            "/admin/reports/export",
            &[
                ("kind", "batches"),
                ("from", "2026-12-01"),
                ("to", "2026-12-01"),
                ("format", "xls"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("id=\"format-error\"") && html.contains("must be csv or pdf"),
        "{html}"
    );
    assert!(html.contains("id=\"report-title\""), "the report is still there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_report_is_a_csv_until_it_expires() {
    let db = TestDb::new().await;
    let (app, admin, _, _momo) = workload(&db).await;
    let day = today();
    let res = app
        .post_json(
            &admin,
            "/api/v1/admin/reports/export",
            &json!({"kind": "financial", "from": day, "to": day, "format": "csv"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["file"]["status"], "queued", "{v}");
    assert_eq!(v["ready"], false);
    let id = v["file"]["id"].as_str().unwrap().to_owned();
    let status_path = format!("/api/v1/admin/reports/export/{id}");
    let res = app.get_as(&admin, &format!("{status_path}/download")).await;
    assert_eq!(res.status(), 409, "not ready yet");

    app.worker("w-export").drain().await.unwrap();
    let v = get_json(&app, &admin, &status_path).await;
    assert_eq!(
        (v["ready"].as_bool(), v["percent"].as_f64()),
        (Some(true), Some(100.0)),
        "{v}"
    );
    assert_eq!(v["job"]["status"], "succeeded");
    let res = app.get_as(&admin, v["download"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(&format!("financial_{day}_{day}.csv")));
    let text = res.text().await.unwrap();
    let rows = csv_records(&text);
    assert!(rows.iter().any(|r| &r[0] == "## By state"), "{text}");
    assert_eq!(v["file"]["sizeBytes"].as_u64(), Some(text.len() as u64));
    let audited: Vec<String> = sqlx::query_scalar(
        "select action from audit_logs where entity_type = 'report_file' and entity_id = $1 order by created_at",
    )
    .bind(&id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, ["report.exported", "report.downloaded"]);

    // without a format, analytics.reportDefaultFormat: a PDF
    let res = app
        .post_json(
            &admin,
            "/api/v1/admin/reports/export",
            &json!({"kind": "engagement", "from": day, "to": day}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["file"]["format"], "pdf", "{v}");
    app.worker("w-export").drain().await.unwrap();
    let pdf_status = format!("/api/v1/admin/reports/export/{}", v["file"]["id"].as_str().unwrap());
    let v = get_json(&app, &admin, &pdf_status).await;
    assert_eq!(v["ready"], true, "{v}");
    let res = app.get_as(&admin, v["download"].as_str().unwrap()).await;
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "a PDF file");

    // a year and more later the retention job deletes it; the record stays
    let later = crate::helpers::now() + chrono::Duration::days(400);
    let gone = mbelyco::reports::export::job::expire(&app.pool, &app.state.config.data_dir, later)
        .await
        .unwrap();
    assert_eq!(gone, 2);
    let path = app.state.config.data_dir.join("reports").join(format!("{id}.csv"));
    assert!(!path.exists(), "the file is deleted");
    let v = get_json(&app, &admin, &status_path).await;
    assert_eq!(v["file"]["status"], "expired");
    let res = app.get_as(&admin, &format!("{status_path}/download")).await;
    assert_eq!(res.status(), 409);
}
