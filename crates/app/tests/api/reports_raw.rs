//! The financial CSV's raw payout rows (`analytics.reportIncludeRawData`): the same columns,
//! header and cells as the payouts export writes for a reader of payouts — formulas defused,
//! empty and missing values alike, quotes, commas and line breaks kept, Kigali times to the
//! second — newest first, only the report's days (and batch).

use chrono::{DateTime, Duration, Utc};
use mbelyco::settings::Category;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{now, spawn_app, TestApp, TestDb};
use crate::payout_fixtures::{batch, payout, person_with_key, Payout, Spec};

const HEADER: [&str; 17] = [
    "payout_id",
    "redemption_id",
    "created_at",
    "customer_phone",
    "payee_msisdn",
    "amount",
    "currency",
    "status",
    "attempts",
    "momo_transaction_id",
    "momo_reference",
    "error_code",
    "error_message",
    "disbursed_at",
    "batch_number",
    "batch_name",
    "code",
];

fn kigali(t: DateTime<Utc>) -> String {
    t.with_timezone(&mbelyco::clock::kigali())
        .format("%Y-%m-%dT%H:%M:%S+02:00")
        .to_string()
}

async fn set(app: &TestApp, p: &Payout, column: &str, value: Option<&str>) {
    sqlx::query(&format!("update disbursements set {column} = $2 where id = $1"))
        .bind(p.id)
        .bind(value)
        .execute(&app.pool)
        .await
        .unwrap();
}

async fn text(app: &TestApp, key: &str, path: &str) -> String {
    let res = app.get_as(key, path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.unwrap()
}

/// The raw section of a financial CSV: what follows the `## Payouts` line.
fn raw_section(csv_text: &str) -> &str {
    let at = csv_text.find("\n## Payouts").expect("the payouts section");
    let rest = &csv_text[at + 1..];
    &rest[rest.find('\n').unwrap() + 1..]
}

fn records(text: &str) -> Vec<csv::StringRecord> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .collect::<Result<_, _>>()
        .expect("a strict reader reads it")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_payout_rows_are_the_payouts_export_cell_for_cell() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (_, fa) = person_with_key(&app, "fa@mbelyco.test", "Financial Administrator").await;
    let today = mbelyco::stats::kigali_date(now());
    let yesterday = today - Duration::days(1);
    // a Kigali noon yesterday, so every payout below falls in the two days whatever the hour
    let noon = yesterday.and_hms_opt(10, 0, 0).unwrap().and_utc() + Duration::microseconds(123_456);

    let tins = batch(&app.pool, "=SUM(A1), \"big\" tins", 1000).await;
    let other = batch(&app.pool, "Other", 500).await;
    let paid = payout(
        &app.pool,
        tins,
        Spec::new("+250788100001", 1000, "completed").tx("555123").at(noon),
    )
    .await;
    let failed = payout(
        &app.pool,
        tins,
        Spec::new("+250788100002", 1000, "failed")
            .error("=HYPERLINK(1)")
            .at(noon + Duration::minutes(1)),
    )
    .await;
    set(
        &app,
        &failed,
        "error_message",
        Some("line one\nline \"two\", with a comma"),
    )
    .await;
    let invalid = payout(
        &app.pool,
        tins,
        Spec::new("+250788100003", 1000, "payee_invalid").at(noon + Duration::minutes(2)),
    )
    .await;
    set(&app, &invalid, "msisdn", Some("@250788100003")).await;
    set(&app, &invalid, "error_message", Some("")).await;
    set(&app, &invalid, "error_code", Some("@SUM(A1)")).await;
    // the same instant as the paid one: the id decides the order
    let queued = payout(&app.pool, tins, Spec::new("+250788100004", 1000, "queued").at(noon)).await;
    set(&app, &queued, "error_code", Some("-1+2")).await;
    set(&app, &queued, "error_message", Some("-5")).await;
    let reference = Uuid::new_v4();
    sqlx::query("update disbursements set momo_reference = $2 where id = $1")
        .bind(queued.id)
        .bind(reference)
        .execute(&app.pool)
        .await
        .unwrap();
    let retry = payout(
        &app.pool,
        tins,
        Spec::new("+250788100005", 1000, "retry_scheduled").at(noon + Duration::hours(3)),
    )
    .await;
    set(&app, &retry, "error_code", Some("\r=1")).await;
    set(&app, &retry, "error_message", Some("\t=1 Amafaranga ntahagije — é")).await;
    let elsewhere = payout(
        &app.pool,
        other,
        Spec::new("+250788100006", 500, "completed").at(noon - Duration::minutes(1)),
    )
    .await;
    // before the report's days: left out
    let old = payout(
        &app.pool,
        tins,
        Spec::new("+250788100007", 1000, "completed").at(noon - Duration::days(2)),
    )
    .await;

    app.set_settings(Category::Analytics, json!({"reportIncludeRawData": true}))
        .await;
    let days = format!("from={yesterday}&to={today}");
    let report = text(&app, &fa, &format!("/api/v1/admin/reports/financial?{days}&format=csv")).await;
    let raw = raw_section(&report);
    let export = text(
        &app,
        &fa,
        &format!("/api/v1/admin/disbursements/export?format=csv&{days}"),
    )
    .await;
    assert_eq!(raw, export, "the raw rows are the payouts export, byte for byte");
    let export_all = export.clone();

    let rows = records(raw);
    assert_eq!(rows[0].iter().collect::<Vec<_>>(), HEADER);
    let ids: Vec<&str> = rows[1..].iter().map(|r| &r[0]).collect();
    let mut same_instant = [paid.id, queued.id];
    same_instant.sort();
    let want: Vec<String> = [
        retry.id,
        invalid.id,
        failed.id,
        same_instant[1],
        same_instant[0],
        elsewhere.id,
    ]
    .iter()
    .map(Uuid::to_string)
    .collect();
    assert_eq!(ids, want, "newest first, then by id; nothing before the days");
    assert!(!ids.contains(&old.id.to_string().as_str()));
    let row = |p: &Payout| rows.iter().find(|r| r[0] == *p.id.to_string()).unwrap().clone();
    let col = |name: &str| HEADER.iter().position(|h| *h == name).unwrap();

    let r = row(&paid);
    assert_eq!(&r[col("redemption_id")], paid.redemption_id.to_string());
    assert_eq!(&r[col("created_at")], kigali(noon));
    assert_eq!(&r[col("disbursed_at")], kigali(noon + Duration::seconds(30)));
    assert_eq!(
        &r[col("customer_phone")],
        "+250788100001",
        "a phone number is no formula"
    );
    assert_eq!(&r[col("payee_msisdn")], "250788100001");
    assert_eq!(
        (
            &r[col("amount")],
            &r[col("currency")],
            &r[col("status")],
            &r[col("attempts")]
        ),
        ("1000", "RWF", "completed", "1")
    );
    assert_eq!(&r[col("momo_transaction_id")], "555123");
    assert_eq!(&r[col("batch_name")], "'=SUM(A1), \"big\" tins");
    assert_eq!(r[col("code")].len(), 19, "{r:?}");

    let r = row(&failed);
    assert_eq!(&r[col("error_code")], "'=HYPERLINK(1)", "a formula is defused");
    assert_eq!(&r[col("error_message")], "line one\nline \"two\", with a comma");
    assert_eq!(&r[col("disbursed_at")], "");

    let r = row(&invalid);
    assert_eq!(
        &r[col("payee_msisdn")],
        "'@250788100003",
        "`@` before digits is a formula to a spreadsheet (only a sign makes a number): defused"
    );
    assert_eq!(&r[col("error_message")], "");
    assert_eq!(&r[col("error_code")], "'@SUM(A1)");

    let r = row(&queued);
    assert_eq!(&r[col("error_code")], "'-1+2");
    assert_eq!(&r[col("error_message")], "-5", "a negative number stays a number");
    assert_eq!(&r[col("momo_reference")], reference.to_string());

    let r = row(&retry);
    assert_eq!(&r[col("error_code")], "'\r=1");
    assert_eq!(&r[col("error_message")], "'\t=1 Amafaranga ntahagije — é");

    // an empty value is an empty cell, not `""`
    assert!(!raw.contains(",\"\","), "{raw}");

    // one batch: only its payouts, still the export's
    let report = text(
        &app,
        &fa,
        &format!("/api/v1/admin/reports/financial?{days}&batchId={other}&format=csv"),
    )
    .await;
    let export = text(
        &app,
        &fa,
        &format!("/api/v1/admin/disbursements/export?format=csv&{days}&batchId={other}"),
    )
    .await;
    assert_eq!(raw_section(&report), export);
    let rows = records(raw_section(&report));
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[1][0], elsewhere.id.to_string());

    // the same report made as a file by the export job (POST /reports/export, which needs
    // reports.export): the raw rows too, for all batches and for one
    let fa = app.api_key("Super Administrator").await;
    for (batch_id, expected) in [(None, export_all.clone()), (Some(other), export)] {
        let mut body = json!({"kind": "financial", "from": yesterday, "to": today, "format": "csv"});
        if let Some(b) = batch_id {
            body["batchId"] = json!(b);
        }
        let res = app.post_json(&fa, "/api/v1/admin/reports/export", &body).await;
        assert_eq!(res.status(), 202);
        let v: serde_json::Value = res.json().await.unwrap();
        let status = format!("/api/v1/admin/reports/export/{}", v["file"]["id"].as_str().unwrap());
        app.worker("w-raw").drain().await.unwrap();
        let v: serde_json::Value = app.get_as(&fa, &status).await.json().await.unwrap();
        assert_eq!(v["ready"], true, "the file is made: {v}");
        let file = text(&app, &fa, v["download"].as_str().unwrap()).await;
        assert_eq!(
            raw_section(&file),
            expected,
            "the file's raw rows are the payouts export"
        );
    }
}
