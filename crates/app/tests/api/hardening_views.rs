//! Issue 17, what staff see: money detail and phone numbers only for the roles that may see them
//! (item 4), formulas defused in every CSV the app writes (22), the system status and open
//! alerts in the shell (26), and live pages that follow payouts and counters (27).

use std::time::Duration;

use fantoccini::Locator;
use mbelyco::access::Permission;
use mbelyco::alerts::{self, NewAlert, Severity};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{now, spawn_app, TestApp, TestDb};
use crate::payout_fixtures::{batch, payout, Spec};

const PHONE: &str = "+250788100001";
const MASKED: &str = "+250788***001";

async fn get_json(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    let res = app.get_as(key, path).await;
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn get_text(app: &TestApp, key: &str, path: &str) -> (u16, String) {
    let res = app.get_as(key, path).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

/// What must not reach a reader without money detail or full phone numbers, in any answer.
fn assert_nothing_hidden_leaks(who: &str, text: &str) {
    for leak in [
        PHONE,
        "250788100001",
        "7,531",
        "\"amount\"",
        "disbursementStatus",
        "momoTransactionId",
        "55501234",
        "badge-completed",
        "MoMo transaction",
    ] {
        assert!(!text.contains(leak), "{who} sees {leak}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_and_batch_managers_see_no_money_or_full_phone_numbers_financial_admins_do() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let b = batch(&app.pool, "Money detail", 7531).await;
    let p = payout(&app.pool, b, Spec::new(PHONE, 7531, "completed").tx("55501234")).await;
    let r = p.redemption_id;
    let list = "/api/v1/admin/redemptions";
    let one = format!("/api/v1/admin/redemptions/{r}");
    let page = "/admin/redemptions";
    let detail_page = format!("/admin/redemptions/{r}");

    for role in ["Viewer", "Batch Manager"] {
        let key = app.api_key(role).await;
        let (status, v) = get_json(&app, &key, list).await;
        assert_eq!(status, 200, "{role}");
        assert_eq!(v["data"].as_array().unwrap().len(), 1);
        let row = &v["data"][0];
        assert_eq!(row["phoneNumber"], MASKED, "{role}: the phone is masked");
        assert_eq!(row["status"], "completed", "{role}: the redemption's own state stays");
        assert_nothing_hidden_leaks(role, &v.to_string());

        let (status, v) = get_json(&app, &key, &one).await;
        assert_eq!(status, 200);
        assert_eq!(v["data"]["customer"]["msisdn"], MASKED);
        assert!(v["data"].get("disbursement").is_none(), "{role}: {v}");
        assert_nothing_hidden_leaks(role, &v.to_string());

        for path in [page, detail_page.as_str()] {
            let (status, html) = get_text(&app, &key, path).await;
            assert_eq!(status, 200, "{role} {path}");
            assert!(html.contains(MASKED), "{role} {path}");
            assert_nothing_hidden_leaks(role, &html);
        }
        // filters that would reveal what is hidden are refused
        for (query, needs) in [
            ("amountMin=7000", "disbursements.read"),
            ("sort=-amount", "disbursements.read"),
            ("phone=0788100001", "users.read"),
        ] {
            let (status, v) = get_json(&app, &key, &format!("{list}?{query}")).await;
            assert_eq!(status, 403, "{role} {query}");
            assert!(v["detail"].as_str().unwrap().contains(needs), "{v}");
        }
        let (status, html) = get_text(&app, &key, &format!("{page}?amountMax=8000")).await;
        assert_eq!(status, 403);
        assert!(!html.contains("7,531"));
    }

    // the USSD monitor (redemptions.monitor: the Batch Manager's) follows the same rule
    let manager = app.api_key("Batch Manager").await;
    let (status, v) = get_json(&app, &manager, "/api/v1/ussd/redemptions").await;
    assert_eq!(status, 200);
    assert_eq!(v["data"][0]["phoneNumber"], MASKED);
    assert_nothing_hidden_leaks("Batch Manager (monitor)", &v.to_string());
    let (_, html) = get_text(&app, &manager, "/admin/ussd").await;
    assert_nothing_hidden_leaks("Batch Manager (monitor page)", &html);

    // a Support Agent handles customers: full phone numbers, still no money
    let support = app.api_key("Support Agent").await;
    let (_, v) = get_json(&app, &support, &one).await;
    assert_eq!(v["data"]["customer"]["msisdn"], PHONE);
    assert!(v["data"].get("disbursement").is_none());
    assert!(v["data"]["redemption"].get("amount").is_none());

    // the Financial Administrator sees everything
    let fa = app.api_key("Financial Administrator").await;
    let (_, v) = get_json(&app, &fa, list).await;
    let row = &v["data"][0];
    assert_eq!(row["phoneNumber"], PHONE);
    assert_eq!(row["amount"], 7531);
    assert_eq!(row["disbursementStatus"], "completed");
    assert_eq!(row["momoTransactionId"], "55501234");
    let (_, v) = get_json(&app, &fa, &one).await;
    assert_eq!(v["data"]["disbursement"]["status"], "completed");
    assert_eq!(v["data"]["redemption"]["amount"], 7531);
    assert_eq!(v["data"]["customer"]["msisdn"], PHONE);
    let (status, _) = get_json(
        &app,
        &fa,
        &format!("{list}?amountMin=7000&sort=-amount&phone=0788100001"),
    )
    .await;
    assert_eq!(status, 200);
    for path in [page, detail_page.as_str()] {
        let (_, html) = get_text(&app, &fa, path).await;
        assert!(html.contains("7,531 RWF") && html.contains(PHONE), "{path}");
        assert!(html.contains("badge-completed"), "{path}");
    }
    let res = app.get_as(&fa, "/api/v1/admin/redemptions/export?format=csv").await;
    let csv = res.text().await.unwrap();
    assert!(
        csv.contains("7531") && csv.contains(PHONE) && csv.contains("55501234"),
        "{csv}"
    );
}

/// The cells of a CSV answer.
async fn csv_cells(res: reqwest::Response) -> Vec<String> {
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    r.records()
        .flat_map(|rec| rec.unwrap().iter().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

fn assert_defused(what: &str, cells: &[String], value: &str) {
    assert!(
        cells.iter().any(|c| *c == format!("'{value}")),
        "{what}: {value} defused: {cells:?}"
    );
    assert!(!cells.iter().any(|c| c == value), "{what}: {value} as is: {cells:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_csv_the_app_writes_defuses_formulas() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let name = "=HYPERLINK(\"http://evil.example\",\"x\")";

    // payouts and redemptions: the batch name staff typed
    let b = batch(&app.pool, name, 1000).await;
    let p = payout(&app.pool, b, Spec::new(PHONE, 1000, "completed")).await;
    for path in [
        "/api/v1/admin/disbursements/export?format=csv",
        "/api/v1/admin/redemptions/export?format=csv",
    ] {
        let cells = csv_cells(app.get_as(&key, path).await).await;
        assert_defused(path, &cells, name);
        assert!(cells.iter().any(|c| c == PHONE), "phone numbers stay: {cells:?}");
    }

    // a batch's codes
    let generated = app.generated_batch(&key, "@SUM(1+1)", 3, "w-csv").await;
    let path = format!("/api/v1/admin/promo-codes/export?format=csv&batchId={generated}");
    let cells = csv_cells(app.get_as(&key, &path).await).await;
    assert_defused("code export", &cells, "@SUM(1+1)");

    // an import's error report: what the uploader typed
    let res = app
        .post_json(
            &key,
            "/api/v1/admin/batches",
            &json!({"name": "Imported", "totalCodes": 5, "amountPerCode": 1000, "expiresAt": "2027-06-30", "generate": false}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let empty = res.json::<Value>().await.unwrap()["batch"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .client
        .post(app.url(&format!(
            "/api/v1/admin/promo-codes/import?batchId={empty}&mode=valid_rows&fileName=x.csv"
        )))
        .bearer_auth(&key)
        .header("content-type", "text/csv")
        .body("code,amount\n=1+2,1000\n-cmd,1000\n")
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    let report = body["errorReport"].as_str().expect("an error report").to_owned();
    let cells = csv_cells(app.get_as(&key, &report).await).await;
    assert_defused("import errors", &cells, "=1+2");
    assert_defused("import errors", &cells, "-cmd");

    // a reconciliation run's items: the resolution staff typed
    let run: Uuid = sqlx::query_scalar(
        "insert into reconciliation_runs (source, status, period_from, period_to, created_at, finished_at) \
         values ('status_query', 'completed', now() - interval '1 day', now(), now(), now()) returning id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into reconciliation_items (run_id, disbursement_id, redemption_id, kind, msisdn, amount, \
           resolved_at, resolution, created_at) \
         values ($1, $2, $3, 'status_mismatch', '250788100001', 1000, now(), '+cmd|'' /C calc''!A0', now())",
    )
    .bind(run)
    .bind(p.id)
    .bind(p.redemption_id)
    .execute(&app.pool)
    .await
    .unwrap();
    let path = format!("/api/v1/admin/disbursements/reconcile/{run}/export.csv");
    let cells = csv_cells(app.get_as(&key, &path).await).await;
    assert_defused("reconciliation", &cells, "+cmd|' /C calc'!A0");
}

/// A worker that beat just now, so the health check alone says "ok".
async fn worker_alive(app: &TestApp) {
    sqlx::query(
        "insert into worker_heartbeats (worker_id, hostname, pid, started_at, beat_at) \
         values ('w-test', 'test', 1, now(), now())",
    )
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn raise(app: &TestApp, alert: NewAlert) {
    let mut conn = app.pool.acquire().await.unwrap();
    alerts::raise(&mut conn, &alert, now()).await.unwrap();
}

fn circuit_open() -> NewAlert {
    NewAlert::new(
        "momo.circuit_open",
        Severity::Critical,
        Permission::SystemAlertsView,
        "MoMo is failing: payouts are paused",
    )
    .dedupe("momo.circuit_open")
}

fn low_balance() -> NewAlert {
    NewAlert::new(
        "momo.low_balance",
        Severity::Warning,
        Permission::FinancialAlertsView,
        "The MoMo balance is low",
    )
    .dedupe("momo.low_balance")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_is_not_ok_while_payouts_are_paused_or_held() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    worker_alive(&app).await;
    let viewer = app.api_key("Viewer").await;
    let (status, html) = get_text(&app, &viewer, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"id="system-status">ok<"#), "{html}");

    raise(&app, circuit_open()).await;
    let (_, html) = get_text(&app, &viewer, "/").await;
    assert!(html.contains(r#"id="system-status">degraded<"#), "{html}");
    assert!(html.contains("Payouts are paused: MoMo is failing."), "{html}");

    // held payouts say so too, once the alert is acknowledged
    sqlx::query("update alerts set status = 'resolved', resolved_at = now()")
        .execute(&app.pool)
        .await
        .unwrap();
    let b = batch(&app.pool, "Held", 1000).await;
    let p = payout(&app.pool, b, Spec::new(PHONE, 1000, "queued")).await;
    sqlx::query("update disbursements set held_reason = 'insufficient_funds' where id = $1")
        .bind(p.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let (_, html) = get_text(&app, &viewer, "/").await;
    assert!(html.contains(r#"id="system-status">degraded<"#), "{html}");
    assert!(html.contains("1 payout(s) held (insufficient funds)."), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_alerts_reach_the_shell_of_the_people_they_concern() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    raise(&app, circuit_open()).await;
    raise(&app, low_balance()).await;
    let kinds = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    let path = "/api/v1/alerts/open";
    let support = app.api_key("Support Agent").await;
    let (status, v) = get_json(&app, &support, path).await;
    assert_eq!(status, 200);
    assert_eq!((v["count"].as_i64(), v["critical"].as_i64()), (Some(1), Some(1)));
    assert_eq!(kinds(&v), ["momo.circuit_open"]);
    let fa = app.api_key("Financial Administrator").await;
    let (_, v) = get_json(&app, &fa, path).await;
    assert_eq!(kinds(&v), ["momo.low_balance"]);
    assert_eq!(
        v["data"][0]["href"], "/admin/disbursements",
        "linked to where it is handled"
    );
    let admin = app.api_key("Super Administrator").await;
    let (_, v) = get_json(&app, &admin, path).await;
    assert_eq!(v["count"], 2);
    // a Viewer is the audience of no alert kind
    let viewer = app.api_key("Viewer").await;
    assert_eq!(app.get_as(&viewer, path).await.status(), 403);

    // every page of the shell carries the badge for those concerned, on any page
    for (key, shown) in [(&support, true), (&fa, true), (&viewer, false)] {
        let (_, html) = get_text(&app, key, "/admin/redemptions").await;
        assert_eq!(html.contains(r#"id="alerts-menu""#), shown, "{html}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_feeds_bring_the_current_state_of_the_rows_a_page_holds() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let b = batch(&app.pool, "Live", 1000).await;
    let p = payout(&app.pool, b, Spec::new(PHONE, 1000, "processing")).await;
    let r = p.redemption_id;

    let (_, v) = get_json(&app, &key, "/api/v1/ussd/redemptions").await;
    assert_eq!(v["data"][0]["open"], true);
    let since = v["cursor"].as_str().unwrap().to_owned();
    complete(&app, p.id, r).await;
    let (status, v) = get_json(&app, &key, &format!("/api/v1/ussd/redemptions?since={since}&ids={r}")).await;
    assert_eq!(status, 200, "{v}");
    let u = &v["updates"][0];
    assert_eq!(
        (u["status"].as_str(), u["disbursementStatus"].as_str()),
        (Some("completed"), Some("completed"))
    );
    assert_eq!(u["open"], false);
    let (status, v) = get_json(&app, &key, "/api/v1/ussd/redemptions?ids=nope").await;
    assert_eq!((status, v["errors"][0]["field"].as_str()), (422, Some("ids")));

    // the redemptions list's feed: new rows since the cursor, and the rows it names
    let (status, v) = get_json(&app, &key, "/api/v1/admin/redemptions/live").await;
    assert_eq!(status, 200, "{v}");
    let since = v["cursor"].as_str().unwrap().to_owned();
    let q = payout(&app.pool, b, Spec::new("+250788100002", 1000, "queued")).await;
    let (_, v) = get_json(
        &app,
        &key,
        &format!("/api/v1/admin/redemptions/live?since={since}&ids={r}"),
    )
    .await;
    let new: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert!(new.contains(&q.redemption_id.to_string().as_str()), "{v}");
    assert_eq!(v["updates"][0]["disbursementStatus"], "completed");
    // as the reader may see it
    let viewer = app.api_key("Viewer").await;
    let (_, v) = get_json(&app, &viewer, &format!("/api/v1/admin/redemptions/live?ids={r}")).await;
    assert_eq!(v["updates"][0]["phoneNumber"], MASKED);
    assert!(v["updates"][0].get("disbursementStatus").is_none());
    let (status, _) = get_json(&app, &viewer, "/api/v1/admin/redemptions/live?since=x").await;
    assert_eq!(status, 422);
}

/// MoMo paid: the payout and its redemption complete, as the worker leaves them.
async fn complete(app: &TestApp, payout: Uuid, redemption: Uuid) {
    sqlx::query(
        "update disbursements set status = 'completed', momo_transaction_id = '7700' || (select count(*) \
           from disbursements where momo_transaction_id is not null), disbursed_at = now(), updated_at = now() \
         where id = $1",
    )
    .bind(payout)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("update redemptions set status = 'completed', completed_at = now() where id = $1")
        .bind(redemption)
        .execute(&app.pool)
        .await
        .unwrap();
}

/// The text of the first element matching `css` once it satisfies `ok`, read in one script call;
/// what was last seen after `secs` seconds otherwise.
async fn wait_until(c: &fantoccini::Client, css: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
    let mut seen = String::new();
    for _ in 0..(secs * 10).max(1) {
        let v = c
            .execute(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
                vec![json!(css)],
            )
            .await
            .unwrap();
        seen = v.as_str().unwrap_or("").trim().to_owned();
        if ok(&seen) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_live_monitor_redemptions_list_and_alert_badge_follow_without_reload() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let pw = "correct pony staple battery";
    let secret = crate::browser::staff_with_totp(&app, "live@mbelyco.test", pw, "Super Administrator").await;
    let b = batch(&app.pool, "Live", 1000).await;
    let p = payout(&app.pool, b, Spec::new(PHONE, 1000, "processing")).await;

    let br = testkit::browser().await;
    let c = &br.client;
    crate::browser::sign_in_with_totp(c, &app, "live@mbelyco.test", pw, &secret).await;

    // the USSD monitor: the payout completes, a customer dials, while the page is open
    c.goto(&app.url("/admin/ussd")).await.unwrap();
    let page = c.find(Locator::Css("html")).await.unwrap();
    let row = format!("#redemptions tr[data-id='{}']", p.redemption_id);
    assert!(wait_until(c, &row, 0, |_| true).await.contains("processing"));
    assert_eq!(wait_until(c, "#count-hops", 0, |_| true).await, "0");
    complete(&app, p.id, p.redemption_id).await;
    app.hop("ATUid_count", "+250788999999", "").await;
    let seen = wait_until(c, &row, 10, |t| !t.contains("processing") && !t.contains("pending")).await;
    assert!(seen.contains("completed"), "the row follows its payout: {seen}");
    assert_eq!(
        wait_until(c, "#count-hops", 10, |t| t == "1").await,
        "1",
        "the counter follows"
    );
    let bars = c.find_all(Locator::Css("#outcomes-chart rect")).await.unwrap();
    assert_eq!(bars.len(), 1, "the chart follows");
    assert!(page.tag_name().await.is_ok(), "the same page: it was not reloaded");

    // the redemptions list: a new redemption appears, a status change shows in place
    c.goto(&app.url("/admin/redemptions")).await.unwrap();
    let page = c.find(Locator::Css("html")).await.unwrap();
    let q = payout(&app.pool, b, Spec::new("+250788100002", 1000, "queued").at(now())).await;
    let new_row = format!("#redemption-list tr[data-id='{}']", q.redemption_id);
    let seen = wait_until(c, &new_row, 10, |t| t.contains("queued")).await;
    assert!(seen.contains("+250788100002"), "the new redemption appears: {seen}");
    complete(&app, q.id, q.redemption_id).await;
    let seen = wait_until(c, &new_row, 10, |t| t.contains("7700")).await;
    assert!(seen.contains("completed") && seen.contains("7700"), "{seen}");
    assert!(page.tag_name().await.is_ok(), "the same page: it was not reloaded");

    // an alert raised while the page is open reaches the header's badge
    assert!(
        c.find(Locator::Css("#alerts-menu[hidden]")).await.is_ok(),
        "no open alert yet"
    );
    raise(&app, circuit_open()).await;
    assert_eq!(wait_until(c, "#alerts-count", 10, |t| t == "1").await, "1");
    assert!(c.find(Locator::Css("#alerts-menu:not([hidden])")).await.is_ok());
    let list = wait_until(c, "#alerts-list", 0, |_| true).await;
    assert!(list.contains("MoMo is failing: payouts are paused"), "{list}");
    assert!(page.tag_name().await.is_ok(), "still the same page");
}
