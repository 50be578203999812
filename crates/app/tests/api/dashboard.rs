//! The dashboard (`/` and `GET /api/v1/admin/reports/dashboard`) after a small real workload:
//! redemptions over USSD, payouts through the worker and the MoMo simulator (paid, refused for
//! a number without a wallet, failed for good), wrong codes typed. Its figures equal what the
//! lists they link to show, and each role sees only its part.

use fantoccini::Locator;
use serde_json::{json, Value};

use crate::browser::{sign_in_with_totp, staff_with_totp};
use crate::helpers::{TestApp, TestDb};
use crate::payouts::{instant, make_due, ready, redeem, start_momo, worker};

pub(crate) const API: &str = "/api/v1/admin/reports/dashboard";

pub(crate) async fn get_json(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    let res = app.get_as(key, path).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// Every row of an `/api/v1` list (following `next`).
pub(crate) async fn list_all(app: &TestApp, key: &str, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut url = format!("{path}{}limit=200", if path.contains('?') { "&" } else { "?" });
    loop {
        let (status, body) = get_json(app, key, &url).await;
        assert_eq!(status, 200, "{url}: {body}");
        out.extend(body["data"].as_array().unwrap().iter().cloned());
        match body["next"].as_str() {
            Some(next) if !next.is_empty() => url = next.trim_start_matches(&app.base).to_owned(),
            _ => break,
        }
    }
    out
}

/// The API list behind a page link (`/admin/x?…` → `/api/v1/admin/x?…`).
fn api_of(href: &str) -> String {
    let path = href.split('#').next().unwrap();
    let path = path.replace("/admin/codes", "/admin/promo-codes");
    format!("/api/v1{path}")
}

/// A figure's count equals the rows of the list it links to.
pub(crate) async fn agrees(app: &TestApp, key: &str, fig: &Value, what: &str) -> i64 {
    let href = fig["href"]
        .as_str()
        .unwrap_or_else(|| panic!("{what} links nowhere: {fig}"));
    let rows = list_all(app, key, &api_of(href)).await;
    let n = fig.get("value").or_else(|| fig.get("count")).unwrap().as_i64().unwrap();
    assert_eq!(n, rows.len() as i64, "{what}: {fig} against {href}");
    if let Some(amount) = fig.get("amount") {
        let sum: i64 = rows.iter().map(|r| r["amount"].as_i64().unwrap()).sum();
        assert_eq!(amount.as_i64().unwrap(), sum, "{what}: the amount against {href}");
    }
    n
}

/// 3 paid, 2 to numbers without a wallet, 1 failed for good, 3 wrong codes.
pub(crate) async fn workload(db: &TestDb) -> (TestApp, String) {
    let mut config = instant();
    config.inactive = vec!["250785*".into()];
    let momo = start_momo(config).await;
    let (app, key) = ready(db, &momo, json!({"maxRetryAttempts": 0})).await;
    redeem(&app, &key, 3, "paid").await; // +250784…
    redeem(&app, &key, 2, "nowal").await; // +250785…: no wallet
    let failing = redeem(&app, &key, 1, "failing").await;
    // the sandbox number whose transfers fail (INTERNAL_PROCESSING_ERROR)
    sqlx::query("update disbursements set msisdn = '46733123462', payee_checked_at = now() where id = $1")
        .bind(failing[0])
        .execute(&app.pool)
        .await
        .unwrap();
    let w = worker(&app, "dash-w");
    for _ in 0..4 {
        w.run_until_idle().await.unwrap();
        make_due(&app).await;
    }
    for (i, typed) in [
        "1*ZZZZ-ZZZZ-ZZZZ-ZZZZ",
        "1*ABCD-EFGH-JKLM-NPQR",
        "1*QQQQ-QQQQ-QQQQ-QQQQ",
    ]
    .iter()
    .enumerate()
    {
        let answer = app.hop(&format!("wrong-{i}"), &format!("+250788{i:06}"), typed).await;
        assert!(answer.starts_with("END") || answer.starts_with("CON"), "{answer}");
    }
    (app, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dashboard_figures_equal_the_lists_they_link_to() {
    let db = TestDb::new().await;
    let (app, admin) = workload(&db).await;
    let (status, d) = get_json(&app, &admin, &format!("{API}?view=detailed")).await;
    assert_eq!(status, 200, "{d}");

    let r = &d["redemptions"];
    assert_eq!(agrees(&app, &admin, &r["today"], "redemptions today").await, 6);
    assert_eq!(agrees(&app, &admin, &r["thisWeek"], "this week").await, 6);
    assert_eq!(agrees(&app, &admin, &r["all"], "in all").await, 6);
    assert_eq!(r["newCustomersToday"]["value"], 6, "six phones, each new: {r}");
    assert_eq!(r["returningToday"]["value"], 0);

    let m = &d["money"];
    assert_eq!(agrees(&app, &admin, &m["paidToday"], "paid today").await, 3);
    assert_eq!(m["paidToday"]["amount"], 3000);
    assert_eq!(agrees(&app, &admin, &m["paidAll"], "paid in all").await, 3);
    assert_eq!(agrees(&app, &admin, &m["payeeInvalid"], "no wallet").await, 2);
    assert_eq!(agrees(&app, &admin, &m["failed"], "failed").await, 1);
    assert_eq!(agrees(&app, &admin, &m["pending"], "pending").await, 0);
    assert_eq!(
        agrees(&app, &admin, &m["awaitingApproval"], "awaiting approval").await,
        0
    );
    assert_eq!(m["held"]["count"], 0);
    assert_eq!(m["finishedLastHour"], 6);
    assert_eq!(m["successRateLastHour"], 50.0);
    assert_eq!(m["paidLastHour"], 3);
    assert!(m["medianSecondsLastHour"].as_f64().unwrap() >= 0.0, "{m}");
    assert_eq!(m["balance"]["state"], "ok");
    // the worker's last reading of the float: read before it paid (three payouts of 1,000), so
    // between the simulator's starting balance and that less what was paid
    let start = instant().starting_balance as i64;
    let available = m["balance"]["available"]
        .as_i64()
        .unwrap_or_else(|| panic!("no reading: {m}"));
    assert!((start - 3000..=start).contains(&available), "{available} of {start}");
    assert!(m["balance"]["currency"].as_str().is_some_and(|c| !c.is_empty()), "{m}");
    assert!(m["balance"]["readAt"].is_string(), "{m}");

    let c = &d["campaign"];
    assert_eq!(agrees(&app, &admin, &c["unredeemedCodes"], "unredeemed codes").await, 0);
    agrees(&app, &admin, &c["activeBatches"], "active batches").await;

    // the charts: by state, the same as the money cards; today's hours hold the six
    let chart = |id: &str| {
        d["charts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no chart {id}: {d}"))
            .clone()
    };
    let total = |c: &Value| -> f64 {
        c["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["value"].as_f64().unwrap())
            .sum()
    };
    assert_eq!(total(&chart("redemptionsHourly")), 6.0);
    assert_eq!(total(&chart("redemptionsDaily")), 6.0);
    assert_eq!(total(&chart("wrongCodesHourly")), 3.0);
    assert_eq!(total(&chart("byNetwork")), 6.0);
    assert_eq!(total(&chart("byLanguage")), 6.0);
    let states = chart("payoutsByState");
    let state = |s: &str| {
        states["points"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["label"] == s)
            .unwrap()["value"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(
        (state("completed"), state("payee invalid"), state("failed")),
        (3.0, 2.0, 1.0)
    );
    for c in d["charts"].as_array().unwrap() {
        assert!(!c["drawing"]["shapes"].as_array().unwrap().is_empty(), "{c}");
        for p in c["points"].as_array().unwrap() {
            if let Some(href) = p["href"].as_str() {
                let res = app.get_as(&admin, href).await;
                assert_eq!(res.status(), 200, "{href}");
            }
        }
    }
    let top = chart("topBatches");
    assert_eq!(top["points"][0]["shown"], "100.0 %", "{top}");

    // the feed: the newest first, with the payouts paid
    let feed = d["feed"].as_array().unwrap();
    assert!(!feed.is_empty() && feed.len() <= 20);
    let times: Vec<&str> = feed.iter().map(|i| i["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    assert!(
        feed.iter()
            .any(|i| i["kind"] == "payout" && i["text"].as_str().unwrap().starts_with("Paid 1,000 RWF")),
        "{feed:?}"
    );
    assert!(feed.iter().any(|i| i["kind"] == "batch"), "{feed:?}");
    let actions: Vec<&str> = d["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create-batch", "add-user", "retry-failed", "reconcile"]);
    assert!(d["system"]["status"].is_string());

    // the page shows the same figures
    let html = app.get_as(&admin, "/?view=detailed").await.text().await.unwrap();
    assert!(
        html.contains(r#"data-fig="money.paidToday" data-fmt="money" id="fig-money-paidToday">3,000 RWF · 3<"#),
        "{html}"
    );
    assert!(html.contains(r#"data-chart="wrongCodesHourly""#));
    assert!(html.contains("Paid 1,000 RWF to +250784***"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_role_sees_only_its_part_of_the_dashboard() {
    let db = TestDb::new().await;
    let (app, _admin) = workload(&db).await;

    let viewer = app.api_key("Viewer").await;
    let (status, d) = get_json(&app, &viewer, &format!("{API}?view=detailed")).await;
    assert_eq!(status, 200, "{d}");
    assert!(d["money"].is_null(), "a Viewer sees no money: {d}");
    assert_eq!(d["redemptions"]["today"]["value"], 6);
    assert!(d["campaign"]["activeBatches"]["value"].is_i64(), "{d}");
    assert!(d["alerts"].is_null(), "a Viewer reads no alert audience");
    let ids: Vec<&str> = d["charts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&"payoutsByState"), "{ids:?}");
    assert!(ids.contains(&"redemptionsHourly") && ids.contains(&"topBatches"));
    let body = d.to_string();
    assert!(!body.contains("RWF"), "no amount anywhere: {body}");
    let kinds: Vec<&str> = d["feed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"redemption"), "{kinds:?}");
    assert!(!kinds.contains(&"payout") && !kinds.contains(&"signIn") && !kinds.contains(&"roleChange"));
    assert_eq!(d["actions"], json!([]));
    let html = app.get_as(&viewer, "/").await.text().await.unwrap();
    assert!(!html.contains("card-money") && !html.contains("RWF"), "{html}");

    let finance = app.api_key("Financial Administrator").await;
    let (_, d) = get_json(&app, &finance, &format!("{API}?view=detailed")).await;
    assert_eq!(d["money"]["paidAll"]["amount"], 3000);
    assert_eq!(d["money"]["failed"]["count"], 1);
    assert!(d["campaign"].is_null(), "no batches.read nor promo-codes.read");
    assert!(
        d["alerts"]["critical"]["value"].as_i64().unwrap() >= 1,
        "the payout that failed for good: {d}"
    );
    let actions: Vec<&str> = d["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["retry-failed", "reconcile"]);

    // every staff role reaches it, and the system card says nothing about customers or money
    for role in ["Batch Manager", "Support Agent"] {
        let key = app.api_key(role).await;
        let (status, d) = get_json(&app, &key, API).await;
        assert_eq!(status, 200, "{role}: {d}");
        assert!(d["money"].is_null(), "{role}");
        assert!(d["system"]["status"].is_string(), "{role}");
    }
    // and nobody else
    assert_eq!(app.client.get(app.url(API)).send().await.unwrap().status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_follows_the_analytics_settings_and_refuses_what_it_cannot_read() {
    let db = TestDb::new().await;
    let app = crate::helpers::spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let (_, d) = get_json(&app, &admin, API).await;
    assert_eq!(d["view"], "overview");
    assert_eq!(d["refreshSeconds"], 30);
    let ids: Vec<&str> = d["charts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["redemptionsHourly", "payoutsByState"],
        "the overview's main charts"
    );
    assert_eq!(d["charts"][0]["kind"], "line");
    assert_eq!(d["charts"][0]["points"].as_array().unwrap().len(), 24);

    app.set_settings(
        mbelyco::settings::Category::Analytics,
        json!({"defaultView": "detailed", "refreshIntervalSeconds": 10, "maxDataPoints": 10,
               "redemptionsChart": "pie", "disbursementsChart": "line", "batchesChart": "pie"}),
    )
    .await;
    let (_, d) = get_json(&app, &admin, API).await;
    assert_eq!(d["view"], "detailed");
    assert_eq!(d["refreshSeconds"], 10);
    let chart = |id: &str| {
        d["charts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(chart("redemptionsHourly")["kind"], "pie");
    assert_eq!(
        chart("redemptionsHourly")["points"].as_array().unwrap().len(),
        8,
        "24 hours in threes"
    );
    assert_eq!(
        chart("redemptionsDaily")["points"].as_array().unwrap().len(),
        10,
        "30 days in threes"
    );
    assert_eq!(chart("payoutsByState")["kind"], "line");
    assert_eq!(chart("topBatches")["kind"], "pie");
    let html = app.get_as(&admin, "/").await.text().await.unwrap();
    assert!(html.contains(r#"data-refresh="10""#) && html.contains(r#"data-view="detailed""#));

    // a custom view shows the parts asked for, as a list or as the page's form sends them
    for q in ["sections=system,feed", "sections=feed&sections=system"] {
        let (_, d) = get_json(&app, &admin, &format!("{API}?view=custom&{q}")).await;
        assert_eq!(d["sections"], json!(["system", "feed"]), "{q}");
        assert!(d["redemptions"].is_null() && d["charts"] == json!([]) && d["system"].is_object());
    }
    let html = app
        .get_as(&admin, "/?view=custom&sections=system&sections=feed")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"id="card-system""#) && !html.contains(r#"id="card-redemptions""#),
        "{html}"
    );
    assert!(html.contains(r#"value="feed" checked"#), "{html}");

    // what it cannot read: a 422 naming the parameter on the API, a message beside it on the page
    for (q, field) in [
        ("view=everything", "view"),
        ("view=custom&sections=money,secrets", "sections"),
    ] {
        let res = app.get_as(&admin, &format!("{API}?{q}")).await;
        assert_eq!(res.status(), 422, "{q}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(crate::helpers::error_fields(&body), [field], "{body}");
        let page = app.get_as(&admin, &format!("/?{q}")).await;
        assert_eq!(page.status(), 200, "{q}");
        let html = page.text().await.unwrap();
        assert!(html.contains(r#"id="dashboard-view-error""#), "{html}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_dashboard_fits_a_phone_and_refreshes_itself() {
    let db = TestDb::new().await;
    let (app, admin) = workload(&db).await;
    app.set_settings(
        mbelyco::settings::Category::Analytics,
        json!({"refreshIntervalSeconds": 5, "defaultView": "detailed"}),
    )
    .await;
    let pw = "dashboard phone password 1";
    let secret = staff_with_totp(&app, "phone@mbelyco.test", pw, "Super Administrator").await;
    let b = testkit::browser().await;
    let c = &b.client;
    c.set_window_size(390, 844).await.unwrap();
    sign_in_with_totp(c, &app, "phone@mbelyco.test", pw, &secret).await;
    c.goto(&app.url("/")).await.unwrap();
    crate::hardening_panel::assert_fits(c, &app, "/").await;
    let charts = c.find_all(Locator::Css("svg[data-chart]")).await.unwrap();
    assert_eq!(charts.len(), 7);
    // a new redemption reaches the page without a reload
    let before = crate::browser::text(c, "#fig-redemptions-today").await;
    assert_eq!(before, "6");
    redeem(&app, &admin, 1, "sixsix").await; // +250786…
    let mut seen = String::new();
    for _ in 0..60 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        seen = crate::browser::text(c, "#fig-redemptions-today").await;
        if seen == "7" {
            break;
        }
    }
    assert_eq!(seen, "7", "the figure follows the API");
    let live = crate::browser::text(c, "#dashboard-live").await;
    assert!(live.starts_with("Live: last checked"), "{live}");
    // still fits after the script redrew it
    let wide: bool = c
        .execute(
            "return document.documentElement.scrollWidth > window.innerWidth;",
            vec![],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap();
    assert!(!wide, "the page scrolls sideways after a refresh");
}
