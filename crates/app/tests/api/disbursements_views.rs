//! What staff read about payouts and redemptions, through the API: filters, free-text search,
//! sorting and pages; what changed since a cursor (the live page); one payout with every attempt
//! and MoMo's answer; statistics on known data; CSV and PDF exports read back and audited.

use chrono::{Duration, TimeZone, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{error_fields, now, spawn_app, TestApp, TestDb};
use crate::payout_fixtures::{attempt, audits, batch, payout, person_with_key, Payout, Spec};

async fn get(app: &TestApp, key: &str, path: &str) -> Value {
    let res = app.get_as(key, path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

fn ids(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn id_set(ps: &[&Payout]) -> Vec<String> {
    let mut v: Vec<String> = ps.iter().map(|p| p.id.to_string()).collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payouts_are_filtered_searched_sorted_and_paged() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (_, fa) = person_with_key(&app, "fa@mbelyco.test", "Financial Administrator").await;
    let b1 = batch(&app.pool, "Kivu", 1000).await;
    let b2 = batch(&app.pool, "Virunga", 5000).await;
    let day = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).single().unwrap();
    let a = payout(
        &app.pool,
        b1,
        Spec::new("+250788100001", 1000, "completed")
            .at(day(20, 8))
            .tx("777000111"),
    )
    .await;
    let b = payout(&app.pool, b1, Spec::new("+250788100002", 1000, "failed").at(day(21, 8))).await;
    let c = payout(&app.pool, b2, Spec::new("+250791200003", 5000, "queued").at(day(22, 8))).await;
    let d = payout(
        &app.pool,
        b2,
        Spec::new("+250791200004", 5000, "payee_invalid").at(day(23, 8)),
    )
    .await;
    let e = payout(
        &app.pool,
        b2,
        Spec::new("+250788100005", 150_000, "awaiting_approval").at(day(24, 8)),
    )
    .await;
    let base = "/api/v1/admin/disbursements";

    let all = get(&app, &fa, base).await;
    assert_eq!(ids(&all).len(), 5);
    assert!(all["next"].is_null() && all["nextCursor"].is_null(), "one page: {all}");
    assert_eq!(ids(&all), [e, d, c, b, a].map(|p| p.id.to_string()), "newest first");
    assert!(
        all["data"][0]["code"].as_str().unwrap().contains('…'),
        "codes are masked in lists"
    );
    let cases: Vec<(String, Vec<&Payout>)> = vec![
        ("status=failed,payee_invalid".into(), vec![&b, &d]),
        ("amountMin=5000&amountMax=5000".into(), vec![&c, &d]),
        ("phone=0791".into(), vec![&c, &d]),
        (format!("batchId={b1}"), vec![&a, &b]),
        ("from=2026-11-21&to=2026-11-22".into(), vec![&b, &c]),
        ("q=777000111".into(), vec![&a]),
        ("q=%2B250788100005".into(), vec![&e]),
        (format!("q={}", c.redemption_id), vec![&c]),
    ];
    for (query, want) in cases {
        let v = get(&app, &fa, &format!("{base}?{query}")).await;
        assert_eq!(sorted(ids(&v)), id_set(&want), "{query}");
        assert_eq!(ids(&v).len(), want.len(), "{query}");
    }
    // a whole code (as typed on a keypad) and part of one
    let code: String = sqlx::query_scalar("select c.code from promo_codes c where c.id = $1")
        .bind(d.code_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let typed = code.replace('-', " ").to_lowercase();
    let v = get(&app, &fa, &format!("{base}?q={}", urlencode(&typed))).await;
    assert_eq!(ids(&v), [d.id.to_string()]);
    let v = get(&app, &fa, &format!("{base}?q={}", &code[5..12])).await;
    assert!(ids(&v).contains(&d.id.to_string()), "partial code {}", &code[5..12]);
    // an attempt's MoMo reference finds its payout
    let reference = attempt(&app.pool, b.id, 1, "failed", Some("NOT_ENOUGH_FUNDS"), json!({})).await;
    let v = get(&app, &fa, &format!("{base}?q={reference}")).await;
    assert_eq!(ids(&v), [b.id.to_string()]);

    // sorted by amount, two a page, following the `next` links
    let pages = walk(&app, &fa, &format!("{base}?sort=-amount&limit=2")).await;
    assert_eq!(pages.len(), 3);
    assert_eq!(ids(&pages[0])[0], e.id.to_string());
    let mut seen: Vec<String> = pages.iter().flat_map(ids).collect();
    assert_eq!(seen.len(), 5);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "pages never overlap");
    let amounts: Vec<i64> = pages
        .iter()
        .flat_map(|p| {
            p["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["amount"].as_i64().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(amounts.windows(2).all(|w| w[0] >= w[1]), "{amounts:?}");
    // every order pages by cursor: the pages of two, one after the other, are the whole list
    for sort in ["-createdAt", "createdAt", "-amount", "amount", "-updatedAt", "status"] {
        let whole = ids(&get(&app, &fa, &format!("{base}?sort={sort}&limit=200")).await);
        let walked: Vec<String> = walk(&app, &fa, &format!("{base}?sort={sort}&limit=2"))
            .await
            .iter()
            .flat_map(ids)
            .collect();
        assert_eq!(walked, whole, "{sort}");
    }
    // a cursor serves only its own order; page numbers are not this list's
    let cursor = pages[0]["nextCursor"].as_str().unwrap().to_owned();
    for (query, field) in [
        (format!("sort=amount&cursor={cursor}"), "cursor"),
        ("cursor=bm90LW91cnM".to_owned(), "cursor"),
        ("page=2".to_owned(), "page"),
        ("limit=0".to_owned(), "limit"),
    ] {
        let res = app.get_as(&fa, &format!("{base}?{query}")).await;
        assert_eq!(res.status(), 422, "{query}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(error_fields(&v), [field], "{query}");
    }

    // bad input: 422 naming every field
    let res = app
        .get_as(
            &fa,
            &format!("{base}?status=paid&amountMin=x&from=soon&sort=name&limit=999&q=ab"),
        )
        .await;
    assert_eq!(res.status(), 422);
    let v: Value = res.json().await.unwrap();
    assert_eq!(error_fields(&v), ["from", "status", "amountMin", "q", "sort", "limit"]);
    // the list needs disbursements.read
    let viewer = app.api_key("Viewer").await;
    assert_eq!(app.get_as(&viewer, base).await.status(), 403);
}

/// Every page of a list, from `first` along the `next` links.
async fn walk(app: &TestApp, key: &str, first: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut path = first.to_owned();
    loop {
        let page = get(app, key, &path).await;
        let next = page["next"].as_str().map(str::to_owned);
        pages.push(page);
        match next {
            Some(next) => path = next,
            None => return pages,
        }
        assert!(pages.len() < 50, "the pages never end");
    }
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_since_a_cursor_bring_new_payouts_and_status_changes() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (_, fa) = person_with_key(&app, "fa@mbelyco.test", "Financial Administrator").await;
    let b = batch(&app.pool, "Live", 1000).await;
    let old = payout(
        &app.pool,
        b,
        Spec::new("+250788100001", 1000, "queued").at(now() - Duration::hours(2)),
    )
    .await;
    let cursor = now();
    let v = get(
        &app,
        &fa,
        &format!(
            "/api/v1/admin/disbursements/changes?since={}",
            urlencode(&cursor.to_rfc3339())
        ),
    )
    .await;
    assert!(ids(&v).is_empty(), "nothing changed since the cursor: {v}");
    // the old payout completes and a new one arrives
    sqlx::query("update disbursements set status = 'completed', updated_at = $2 where id = $1")
        .bind(old.id)
        .bind(now())
        .execute(&app.pool)
        .await
        .unwrap();
    let fresh = payout(&app.pool, b, Spec::new("+250788100002", 1000, "queued").at(now())).await;
    let v = get(
        &app,
        &fa,
        &format!(
            "/api/v1/admin/disbursements/changes?since={}",
            urlencode(&cursor.to_rfc3339())
        ),
    )
    .await;
    assert_eq!(sorted(ids(&v)), id_set(&[&old, &fresh]));
    let changed = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == old.id.to_string())
        .unwrap();
    assert_eq!(changed["status"], "completed");
    let next = v["cursor"].as_str().unwrap().to_owned();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&next).unwrap() >= cursor,
        "the cursor moves forward"
    );
    // filters apply to changes too
    let v = get(
        &app,
        &fa,
        &format!(
            "/api/v1/admin/disbursements/changes?status=queued&since={}",
            urlencode(&cursor.to_rfc3339())
        ),
    )
    .await;
    assert_eq!(ids(&v), [fresh.id.to_string()]);
    let res = app
        .get_as(&fa, "/api/v1/admin/disbursements/changes?since=yesterday")
        .await;
    assert_eq!(res.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payouts_detail_has_every_attempt_with_momos_answer_and_its_history() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (_, fa) = person_with_key(&app, "fa@mbelyco.test", "Financial Administrator").await;
    let b = batch(&app.pool, "Detail", 1000).await;
    let p = payout(&app.pool, b, Spec::new("+250788100001", 1000, "failed")).await;
    attempt(
        &app.pool,
        p.id,
        1,
        "failed",
        Some("INTERNAL_PROCESSING_ERROR"),
        json!({"status": "FAILED", "reason": "INTERNAL_PROCESSING_ERROR"}),
    )
    .await;
    attempt(
        &app.pool,
        p.id,
        2,
        "failed",
        Some("NOT_ENOUGH_FUNDS"),
        json!({"status": "FAILED", "reason": {"code": "NOT_ENOUGH_FUNDS"}}),
    )
    .await;
    let res = app
        .post_json(
            &fa,
            &format!("/api/v1/admin/disbursements/{}/retry", p.id),
            &json!({"reason": "Account topped up"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let v = get(&app, &fa, &format!("/api/v1/admin/disbursements/{}", p.id)).await;
    let attempts = v["data"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1]["attemptNo"], 2);
    assert_eq!(attempts[1]["momoReason"], "NOT_ENOUGH_FUNDS");
    assert_eq!(attempts[1]["response"]["reason"]["code"], "NOT_ENOUGH_FUNDS");
    assert_eq!(attempts[0]["polls"], 2);
    assert!(!v.to_string().contains("callback_secret") && !v.to_string().contains("callbackSecret"));
    assert_eq!(v["data"]["redemption"]["id"], p.redemption_id.to_string());
    assert!(v["data"]["redemption"]["code"].as_str().unwrap().contains('…'));
    let actions: Vec<&str> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["disbursement.retried"]);
    // the page shows the same timeline, and the retry form is gone now it is queued
    let html = app
        .get_as(&fa, &format!("/admin/disbursements/{}", p.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Attempt 2") && html.contains("NOT_ENOUGH_FUNDS"),
        "{html}"
    );
    assert!(!html.contains("id=\"retry-form\""));
    assert!(html.contains("Account topped up"), "history shows the reason");
    assert_eq!(
        app.get_as(&fa, &format!("/api/v1/admin/disbursements/{}", Uuid::new_v4()))
            .await
            .status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_on_known_data() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (_, fa) = person_with_key(&app, "fa@mbelyco.test", "Financial Administrator").await;
    let b = batch(&app.pool, "Stats", 1000).await;
    // 10:00 Kigali on the 20th and 21st
    let d20 = Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).single().unwrap();
    let d21 = d20 + Duration::days(1);
    for (t, secs) in [(d20, 10), (d20, 20), (d20, 60), (d21, 30)] {
        payout(
            &app.pool,
            b,
            Spec::new("+250788100001", 1000, "completed").at(t).paid_after(secs),
        )
        .await;
    }
    payout(
        &app.pool,
        b,
        Spec::new("+250788100002", 2000, "failed")
            .at(d20)
            .error("NOT_ENOUGH_FUNDS"),
    )
    .await;
    payout(
        &app.pool,
        b,
        Spec::new("+250788100003", 3000, "failed")
            .at(d21)
            .error("PAYEE_NOT_FOUND"),
    )
    .await;
    payout(&app.pool, b, Spec::new("+250788100004", 4000, "queued").at(d21)).await;
    // outside the period
    payout(
        &app.pool,
        b,
        Spec::new("+250788100005", 9000, "completed").at(d20 - Duration::days(5)),
    )
    .await;

    let v = get(
        &app,
        &fa,
        "/api/v1/admin/disbursements/stats?from=2026-11-20&to=2026-11-21",
    )
    .await;
    let s = &v["data"];
    assert_eq!(s["total"], 7);
    assert_eq!((s["completed"].as_i64(), s["failed"].as_i64()), (Some(4), Some(2)));
    assert!((s["successRate"].as_f64().unwrap() - 4.0 / 6.0).abs() < 1e-9);
    assert!(
        (s["medianSecondsToPayout"].as_f64().unwrap() - 25.0).abs() < 1e-6,
        "{s}"
    );
    // percentile_cont: 30 + 0.85 × (60 − 30)
    assert!((s["p95SecondsToPayout"].as_f64().unwrap() - 55.5).abs() < 1e-6, "{s}");
    assert_eq!(s["amountPaid"], 4000);
    assert_eq!(s["amountFailed"], 5000);
    assert_eq!(s["amountPending"], 4000);
    assert_eq!(
        s["failuresByReason"],
        json!([{"reason": "NOT_ENOUGH_FUNDS", "count": 1}, {"reason": "PAYEE_NOT_FOUND", "count": 1}])
    );
    assert_eq!(
        s["perDay"],
        json!([
            {"day": "2026-11-20", "completed": 3, "failed": 1, "pending": 0, "paidAmount": 3000},
            {"day": "2026-11-21", "completed": 1, "failed": 1, "pending": 1, "paidAmount": 1000},
        ])
    );
    let buckets: Vec<i64> = s["timeToPayout"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_i64().unwrap())
        .collect();
    assert_eq!(buckets, [0, 2, 1, 1, 0, 0, 0], "10 s, 20 s | 30 s | 60 s");
    // the page draws it
    let html = app
        .get_as(&fa, "/admin/disbursements/stats?from=2026-11-20&to=2026-11-21")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"stat-success\">66.7 %"), "{html}");
    assert!(html.contains("id=\"per-day-chart\"") && html.contains("class=\"bar-failed\""));
    assert!(html.contains("PAYEE_NOT_FOUND"));
    let res = app
        .get_as(&fa, "/api/v1/admin/disbursements/stats?from=2025-01-01&to=2026-11-21")
        .await;
    assert_eq!(res.status(), 422, "a period covers at most a year");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_read_back_and_are_audited() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (_, fa) = person_with_key(&app, "fa@mbelyco.test", "Financial Administrator").await;
    let b = batch(&app.pool, "Export", 1000).await;
    let failed = payout(
        &app.pool,
        b,
        Spec::new("+250788100001", 1000, "failed").error("=HYPERLINK(1)"),
    )
    .await;
    payout(&app.pool, b, Spec::new("+250788100002", 2000, "completed").tx("555123")).await;
    let res = app
        .get_as(&fa, "/api/v1/admin/disbursements/export?format=csv&status=failed")
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("payouts_"));
    let text = res.text().await.unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(&header[..3], ["payout_id", "redemption_id", "created_at"]);
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("payout_id")], failed.id.to_string());
    assert_eq!(&rows[0][col("customer_phone")], "+250788100001");
    assert_eq!(&rows[0][col("amount")], "1000");
    assert_eq!(&rows[0][col("error_code")], "'=HYPERLINK(1)", "a formula is defused");
    let (meta, actor_type): (Value, String) =
        sqlx::query_as("select metadata, actor_type from audit_logs where action = 'disbursements.exported'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((meta["format"].as_str(), meta["rows"].as_i64()), (Some("csv"), Some(1)));
    assert_eq!(meta["filters"]["statuses"], json!(["failed"]));
    assert_eq!(actor_type, "api_key");

    let res = app.get_as(&fa, "/api/v1/admin/disbursements/export?format=pdf").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let bytes = res.bytes().await.unwrap();
    let doc = lopdf::Document::load_mem(&bytes).expect("a valid PDF");
    let text = doc.extract_text(&[1]).unwrap();
    assert!(text.contains("Payouts") && text.contains("555123"), "{text}");

    let res = app
        .get_as(&fa, "/api/v1/admin/disbursements/export?format=xlsx&status=nope")
        .await;
    assert_eq!(res.status(), 422);
    let v: Value = res.json().await.unwrap();
    assert_eq!(error_fields(&v), ["format", "status"]);
    assert_eq!(audits(&app.pool, "disbursements.exported").await, 2);
    let support = app.api_key("Support Agent").await;
    assert_eq!(
        app.get_as(&support, "/api/v1/admin/disbursements/export")
            .await
            .status(),
        403
    );

    // redemptions: CSV with each payout's state
    let res = app
        .get_as(&fa, "/api/v1/admin/redemptions/export?format=csv&sort=amount")
        .await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let states: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (&r[col("status")], &r[col("payout_status")]))
        .collect();
    assert_eq!(states, [("failed", "failed"), ("completed", "completed")]);
    assert_eq!(audits(&app.pool, "redemptions.exported").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redemptions_are_listed_searched_by_those_who_may_and_counted() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let b = batch(&app.pool, "Redemptions", 1000).await;
    let a = payout(&app.pool, b, Spec::new("+250788100001", 1000, "completed")).await;
    let f = payout(&app.pool, b, Spec::new("+250788100002", 1000, "failed")).await;
    let viewer = app.api_key("Viewer").await;
    let support = app.api_key("Support Agent").await;
    let money = app.api_key("Financial Administrator").await;
    let v = get(&app, &viewer, "/api/v1/admin/redemptions").await;
    assert_eq!(ids(&v).len(), 2);
    // two redemptions, one a page, by the `next` link
    let pages = walk(&app, &viewer, "/api/v1/admin/redemptions?limit=1&sort=status").await;
    let walked: Vec<String> = pages.iter().flat_map(ids).collect();
    assert_eq!(pages.len(), 2);
    let want = sorted(vec![a.redemption_id.to_string(), f.redemption_id.to_string()]);
    assert_eq!(sorted(walked), want, "each redemption exactly once");
    // payout states only with disbursements.read (decision 0025)
    assert!(v["data"][0].get("disbursementStatus").is_none(), "{v}");
    let v = get(&app, &money, "/api/v1/admin/redemptions").await;
    assert_eq!(v["data"][0]["disbursementStatus"], "failed");
    let v = get(&app, &viewer, "/api/v1/admin/redemptions?status=completed").await;
    assert_eq!(ids(&v), [a.redemption_id.to_string()]);
    // free text needs redemptions.search
    assert_eq!(
        app.get_as(&viewer, "/api/v1/admin/redemptions?q=0788100002")
            .await
            .status(),
        403
    );
    assert_eq!(
        app.get_as(&viewer, "/api/v1/admin/redemptions/search?q=0788100002")
            .await
            .status(),
        403
    );
    let v = get(&app, &support, "/api/v1/admin/redemptions/search?q=0788100002").await;
    assert_eq!(ids(&v), [f.redemption_id.to_string()]);
    let res = app.get_as(&support, "/api/v1/admin/redemptions/search").await;
    assert_eq!(res.status(), 422);
    // one redemption with its customer and payout
    let v = get(&app, &viewer, &format!("/api/v1/admin/redemptions/{}", f.redemption_id)).await;
    assert_eq!(v["data"]["customer"]["msisdn"], "+250788***002", "masked for a Viewer");
    let v = get(
        &app,
        &support,
        &format!("/api/v1/admin/redemptions/{}", f.redemption_id),
    )
    .await;
    assert_eq!(v["data"]["customer"]["msisdn"], "+250788100002");
    let v = get(&app, &money, &format!("/api/v1/admin/redemptions/{}", f.redemption_id)).await;
    assert_eq!(v["data"]["disbursement"]["id"], f.id.to_string());
    assert_eq!(v["data"]["disbursement"]["status"], "failed");
    // counts for everyone who reads redemptions; money only with disbursements.read
    let v = get(&app, &viewer, "/api/v1/admin/redemptions/stats").await;
    assert_eq!(v["data"]["total"], 2);
    assert!(v["data"]["byStatus"][0].get("amount").is_none(), "{v}");
    let (_, fa) = person_with_key(&app, "fa@mbelyco.test", "Financial Administrator").await;
    let v = get(&app, &fa, "/api/v1/admin/redemptions/stats").await;
    assert_eq!(v["data"]["byStatus"][0]["amount"], 1000);
    // the pages
    let html = app.get_as(&viewer, "/admin/redemptions").await.text().await.unwrap();
    assert!(
        html.contains("+250788***001") && !html.contains("name=\"q\""),
        "no search box without the permission"
    );
    let html = app
        .get_as(&viewer, &format!("/admin/redemptions/{}", f.redemption_id))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("+250788***002"));
    assert!(
        !html.contains("payout-link"),
        "a Viewer is not sent to the payout page they cannot open"
    );
}
