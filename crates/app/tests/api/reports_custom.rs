//! Custom reports over the real rollups: after a small USSD workload paid through the MoMo
//! simulator, a custom report's figures agree with the payouts and redemptions lists; money is
//! refused without `disbursements.read`; saved reports are per person, shared on request, and
//! deleted only by their owner (audited); the page shows the builder, the result and the list;
//! a saved report renders through the reports' one view and exports (CSV, PDF) through their job.

use serde_json::{json, Value};

use crate::helpers::{error_fields, TestApp, TestDb};
use crate::payout_fixtures::{audits, person_with_key};
use crate::payouts::{instant, ready, redeem, start_momo, worker};

const CUSTOM: &str = "/api/v1/admin/reports/custom";

/// The rows of the report's one table, as (first cell, the other cells).
fn table(body: &Value) -> Vec<Vec<Value>> {
    let blocks = body["report"]["sections"][0]["blocks"].as_array().unwrap();
    let t = blocks.iter().find(|b| b["type"] == "table").expect("a table");
    t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().clone())
        .collect()
}

fn cell(v: &Value) -> Value {
    v["v"].clone()
}

async fn run(app: &TestApp, key: &str, body: Value) -> Value {
    let res = app.post_json(key, CUSTOM, &body).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

/// Every page of a list, followed by `next`.
async fn all(app: &TestApp, key: &str, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(path.to_owned());
    while let Some(p) = next {
        let body: Value = app.get_as(key, &p).await.json().await.unwrap();
        out.extend(body["data"].as_array().unwrap().iter().cloned());
        next = body["next"].as_str().map(str::to_owned);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_report_figures_agree_with_the_lists() {
    let db = TestDb::new().await;
    let momo = start_momo(instant()).await;
    let (app, key) = ready(&db, &momo, json!({})).await;
    redeem(&app, &key, 3, "cr").await;
    worker(&app, "w1").run_until_idle().await.unwrap();
    // a wrong code (a real one with its last character changed), counted as an attempt
    let spare = app.generated_batch(&key, "Spare", 1, "w-spare").await;
    let mut code = app.batch_codes(&spare).await.remove(0);
    let last = code.pop().unwrap();
    code.push(if last == 'A' { 'B' } else { 'A' });
    app.hop("cr-wrong", "+250788000999", &format!("1*{code}")).await;

    let payouts = all(&app, &key, "/api/v1/admin/disbursements?limit=200").await;
    let completed: Vec<&Value> = payouts.iter().filter(|p| p["status"] == "completed").collect();
    let paid: i64 = completed.iter().map(|p| p["amount"].as_i64().unwrap()).sum();
    assert_eq!(completed.len(), 3);

    let body = run(
        &app,
        &key,
        json!({"dataset": "payouts", "dimensions": ["state"], "measures": ["count", "amount"]}),
    )
    .await;
    let rows = table(&body);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(cell(&rows[0][0]), "completed");
    assert_eq!(cell(&rows[0][1]), json!(completed.len()));
    assert_eq!(cell(&rows[0][2]), json!(paid));

    let body = run(
        &app,
        &key,
        json!({"dataset": "paid", "measures": ["count", "amount", "averageTime"], "range": {"last": 30}}),
    )
    .await;
    let figures = &body["report"]["sections"][0]["blocks"][0]["figures"];
    assert_eq!(figures[0]["value"]["v"], json!(3));
    assert_eq!(figures[1]["value"]["v"], json!(paid));
    assert_eq!(figures[2]["value"]["t"], "millis");

    let redemptions = all(&app, &key, "/api/v1/admin/redemptions?limit=200").await;
    let body = run(
        &app,
        &key,
        json!({"dataset": "redemptions", "dimensions": ["day", "network"]}),
    )
    .await;
    let rows = table(&body);
    let counted: i64 = rows.iter().map(|r| cell(&r[2]).as_i64().unwrap()).sum();
    assert_eq!(counted, redemptions.len() as i64);
    assert!(rows.iter().all(|r| cell(&r[1]) == "MTN"), "{rows:?}");
    let chart = body["report"]["sections"][0]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "chart")
        .cloned()
        .expect("a chart");
    assert_eq!(chart["kind"], "line");

    // every code typed: three redeemed, one wrong
    let body = run(&app, &key, json!({"dataset": "attempts", "dimensions": ["state"]})).await;
    let rows = table(&body);
    let count = |state: &str| {
        rows.iter()
            .find(|r| cell(&r[0]) == state)
            .map_or(0, |r| cell(&r[1]).as_i64().unwrap())
    };
    assert_eq!(count("redeemed"), 3, "{rows:?}");
    let wrong: i64 = mbelyco::stats::WRONG_CODE.iter().map(|s| count(s)).sum();
    assert_eq!(wrong, 1, "{rows:?}");
    let body = run(
        &app,
        &key,
        json!({"dataset": "attempts", "filters": {"state": "redeemed"}}),
    )
    .await;
    assert_eq!(
        body["report"]["sections"][0]["blocks"][0]["figures"][0]["value"]["v"],
        json!(3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_needs_disbursements_read_and_bad_definitions_name_their_fields() {
    let db = TestDb::new().await;
    let app = crate::helpers::spawn_app(db.pool.clone()).await;
    let viewer = app.api_key("Viewer").await;
    let res = app.post_json(&viewer, CUSTOM, &json!({"dataset": "payouts"})).await;
    assert_eq!(res.status(), 403);
    let res = app
        .post_json(
            &viewer,
            CUSTOM,
            &json!({"dataset": "redemptions", "dimensions": ["day"]}),
        )
        .await;
    assert_eq!(res.status(), 200, "a Viewer reads redemptions");
    let res = app
        .post_json(
            &viewer,
            CUSTOM,
            &json!({"dataset": "attempts", "dimensions": ["day", "hour"], "measures": ["amount"], "range": {"from": "2026-13-01", "to": "2026-12-01"}}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_fields(&body), ["dimensions", "measures", "range.from"]);
    let res = app
        .post_json(
            &viewer,
            CUSTOM,
            &json!({"dataset": "redemptions", "save": true, "name": "Mine"}),
        )
        .await;
    assert_eq!(res.status(), 403, "saving needs reports.create");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_reports_are_per_person_shared_on_request_and_deleted_by_their_owner() {
    let db = TestDb::new().await;
    let app = crate::helpers::spawn_app(db.pool.clone()).await;
    let (_, ann) = person_with_key(&app, "ann@mbelyco.test", "Super Administrator").await;
    let (_, bob) = person_with_key(&app, "bob@mbelyco.test", "Super Administrator").await;
    let (_, viewer) = person_with_key(&app, "vic@mbelyco.test", "Viewer").await;
    let save = |name: &str, shared: bool, dataset: &str| json!({"dataset": dataset, "dimensions": ["day"], "save": true, "name": name, "shared": shared});
    let private = run(&app, &ann, save("Ann's own", false, "redemptions")).await;
    assert_eq!(private["saved"]["name"], "Ann's own");
    assert_eq!(private["report"]["title"], "Ann's own");
    let shared = run(&app, &ann, save("For everyone", true, "redemptions")).await;
    run(&app, &ann, save("Shared money", true, "paid")).await;
    assert_eq!(audits(&app.pool, "report.custom_saved").await, 3);

    let names = |list: Vec<Value>| {
        list.iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(all(&app, &ann, CUSTOM).await),
        ["Shared money", "For everyone", "Ann's own"]
    );
    assert_eq!(names(all(&app, &bob, CUSTOM).await), ["Shared money", "For everyone"]);
    assert_eq!(
        names(all(&app, &viewer, CUSTOM).await),
        ["For everyone"],
        "no money without disbursements.read"
    );
    // keyset paging
    let first: Value = app
        .get_as(&ann, &format!("{CUSTOM}?limit=2"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let rest: Value = app
        .get_as(&ann, first["next"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["data"][0]["name"], "Ann's own");

    let private_id = private["saved"]["id"].as_str().unwrap();
    let shared_id = shared["saved"]["id"].as_str().unwrap();
    assert_eq!(app.get_as(&bob, &format!("{CUSTOM}/{private_id}")).await.status(), 404);
    let got: Value = app
        .get_as(&bob, &format!("{CUSTOM}/{shared_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["saved"]["mine"], false);
    assert_eq!(got["report"]["title"], "For everyone");
    assert_eq!(
        app.delete_as(&bob, &format!("{CUSTOM}/{shared_id}")).await.status(),
        409
    );
    assert_eq!(
        app.delete_as(&ann, &format!("{CUSTOM}/{shared_id}")).await.status(),
        204
    );
    assert_eq!(app.get_as(&bob, &format!("{CUSTOM}/{shared_id}")).await.status(), 404);
    assert_eq!(audits(&app.pool, "report.custom_deleted").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_builds_runs_saves_and_lists() {
    let db = TestDb::new().await;
    let app = crate::helpers::spawn_app(db.pool.clone()).await;
    let client = crate::settings_pages::admin(&app).await;
    let html = app.page_html(&client, "/admin/reports/custom").await;
    assert!(
        html.contains(r#"id="custom-form""#) && html.contains("No saved report yet."),
        "{html}"
    );
    let html = app
        .page_html(
            &client,
            "/admin/reports/custom?dataset=redemptions&dim=day&measure=count&last=7",
        )
        .await;
    assert!(
        html.contains(r#"<svg class="chart" id="chart-1""#) && html.contains(r#"data-table="Redemptions""#),
        "{html}"
    );
    let res = client
        .get(app.url("/admin/reports/custom?dataset=redemptions&dim=day&dim=hour&last=9"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(r#"data-field="dimensions">choose day or hour, not both"#),
        "{html}"
    );
    assert!(html.contains(r#"data-field="range">must be 7 or 30"#), "{html}");
    let csrf = crate::helpers::csrf_from(&client, &app, "/admin/reports/custom").await;
    let res = client
        .post(app.url(&format!("/admin/reports/custom?_csrf={csrf}")))
        .form(&[
            ("dataset", "attempts"),
            ("dim", "state"),
            ("measure", "count"),
            ("last", "30"),
            ("name", "Wrong codes"),
            ("shared", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    let html = app.page_html(&client, &to).await;
    assert!(html.contains("Saved report <strong>Wrong codes</strong>"), "{html}");
    assert!(
        html.contains(r#"<a href="/admin/reports/custom/"#) && html.contains("shared</span>"),
        "{html}"
    );
}

/// The CSV's table named `name`: its header, then its rows (the totals row last).
fn csv_table(text: &str, name: &str) -> Vec<Vec<String>> {
    let rows = crate::reports::csv_records(text);
    let start = rows
        .iter()
        .position(|r| &r[0] == format!("## {name}").as_str())
        .unwrap_or_else(|| panic!("no table {name} in {text}"));
    rows[start + 1..]
        .iter()
        .take_while(|r| !r[0].is_empty())
        .map(|r| r.iter().filter(|c| !c.is_empty()).map(str::to_owned).collect())
        .collect()
}

/// Exports through the export job and downloads the file once the worker made it.
async fn exported(app: &TestApp, key: &str, file_id: &str) -> reqwest::Response {
    app.worker("w-export").drain().await.unwrap();
    let status: Value = app
        .get_as(key, &format!("/api/v1/admin/reports/export/{file_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["ready"], true, "{status}");
    let res = app.get_as(key, status["download"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
    res
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_custom_report_renders_like_the_others_and_exports_as_csv_and_pdf() {
    let db = TestDb::new().await;
    let (app, key, _, _momo) = crate::reports::workload(&db).await;
    let saved = run(
        &app,
        &key,
        json!({"dataset": "payouts", "dimensions": ["day"], "measures": ["count", "amount"],
               "range": {"last": 7}, "save": true, "name": "Payouts by day", "shared": true}),
    )
    .await;
    let id = saved["saved"]["id"].as_str().unwrap().to_owned();
    let api_rows: Vec<Vec<Value>> = table(&saved).iter().map(|r| r.iter().map(cell).collect()).collect();

    // the page draws it with the reports' one view: figures, the SVG chart, the table
    let client = crate::settings_pages::admin(&app).await;
    let html = app.page_html(&client, &format!("/admin/reports/custom/{id}")).await;
    assert!(html.contains(r#"<h2 id="report-title">Payouts by day</h2>"#), "{html}");
    assert!(
        html.contains(r#"<svg class="chart" id="chart-1""#) && html.contains(r#"<polyline class="series-0""#),
        "{html}"
    );
    assert!(
        html.contains(r#"data-table="Payouts""#) && html.contains(r#"id="export-form""#),
        "{html}"
    );

    // CSV through the export API: the numbers are the API's rows, and add up to the payouts list
    let res = app
        .post_json(
            &key,
            "/api/v1/admin/reports/export",
            &json!({"customReportId": id, "format": "csv"}),
        )
        .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["file"]["kind"], "custom", "{v}");
    let res = exported(&app, &key, v["file"]["id"].as_str().unwrap()).await;
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("custom_payouts-by-day_"));
    let text = res.text().await.unwrap();
    assert!(text.starts_with("report,Payouts by day"), "{text}");
    let rows = csv_table(&text, "Payouts");
    assert_eq!(rows[0], ["Day", "Count", "Amount (RWF)"]);
    let (body, totals) = (&rows[1..rows.len() - 1], &rows[rows.len() - 1]);
    assert_eq!(body.len(), api_rows.len(), "{text}");
    for (csv_row, api_row) in body.iter().zip(&api_rows) {
        let api_row: Vec<String> = api_row
            .iter()
            .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_owned))
            .collect();
        assert_eq!(csv_row, &api_row);
    }
    let from = api_rows[0][0].as_str().unwrap();
    let to = api_rows[api_rows.len() - 1][0].as_str().unwrap();
    let listed = crate::reports::list_sums(&app, &key, from, to).await;
    let (count, amount) = listed.values().fold((0, 0), |(n, a), (n2, a2)| (n + n2, a + a2));
    assert!(count > 0, "the workload made payouts");
    assert_eq!(totals, &["Total".to_owned(), count.to_string(), amount.to_string()]);

    // PDF through the page's export form, read back
    let csrf = crate::helpers::csrf_from(&client, &app, &format!("/admin/reports/custom/{id}")).await;
    let export_as = |format: &'static str| {
        client
            .post(app.url(&format!("/admin/reports/custom/{id}/export")))
            .form(&[("_csrf", csrf.clone()), ("format", format.to_owned())])
            .send()
    };
    let res = export_as("pdf").await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let to_page = res.headers()["location"].to_str().unwrap().to_owned();
    let file_id = to_page.strip_prefix("/admin/reports/export/").unwrap();
    let res = exported(&app, &key, file_id).await;
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let bytes = res.bytes().await.unwrap();
    let doc = lopdf::Document::load_mem(&bytes).expect("a valid PDF");
    let text = doc.extract_text(&[1]).unwrap();
    assert!(text.contains("Payouts by day") && text.contains("Total"), "{text}");

    // a bad format is said beside the export form; nothing is queued
    let res = export_as("xlsx").await.unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"data-field="format">must be csv or pdf"#), "{html}");
    let files: i64 = sqlx::query_scalar("select count(*) from report_files where kind = 'custom'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(files, 2);
}
