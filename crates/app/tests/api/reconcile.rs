//! Reconciliation against the MoMo simulator over real HTTP: payouts whose attempts exist at the
//! simulator in various states (and some that do not), MoMo's statement with a transaction we
//! never made; every kind detected exactly, the status queries paced, bad statements refused by
//! line, resolution audited, permissions.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use momo::{Client, ClientConfig, TransferRequest};
use serde_json::{json, Value};
use simulators::momo::{router, MomoSim, SimConfig};
use uuid::Uuid;

use crate::helpers::{now, spawn_app, TestApp, TestDb};

const API: &str = "/api/v1/admin/disbursements/reconcile";
const SIM_USER: &str = "5b3c0f5e-6a8b-4c43-9d2b-3f3b1e0f8a00";
const SIM_KEY: &str = "reconciliation-test-api-key";
/// The payee whose wallet MoMo refuses: its transfers end FAILED.
const REFUSED: &str = "250788000004";
/// Status queries per second in these tests.
const RATE: u32 = 5;

/// The simulator on a real port, with every status query's arrival time recorded.
pub(crate) struct Sim {
    sim: MomoSim,
    base_url: String,
    queries: Arc<Mutex<Vec<Instant>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub(crate) async fn simulator() -> Sim {
    let config = SimConfig {
        settle_after: Duration::from_millis(100),
        inactive: vec![REFUSED.to_owned()],
        ..SimConfig::rwanda().with_user(SIM_USER, SIM_KEY, "localhost")
    };
    let sim = MomoSim::new(config).unwrap();
    let queries: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = Arc::clone(&queries);
    let app = router(sim.clone()).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let seen = Arc::clone(&seen);
            async move {
                if req.method() == axum::http::Method::GET
                    && req.uri().path().starts_with("/disbursement/v1_0/transfer/")
                {
                    seen.lock().unwrap().push(Instant::now());
                }
                next.run(req).await
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Sim {
        sim,
        base_url,
        queries,
        server,
    }
}

impl Sim {
    fn client(&self) -> Client {
        let c = self.sim.config();
        Client::new(ClientConfig::new(
            &self.base_url,
            &c.subscription_key,
            SIM_USER,
            SIM_KEY,
            &c.target_environment,
        ))
        .unwrap()
    }

    /// Makes a transfer at MoMo and waits until it settles; returns its ledger id (if paid).
    async fn pay(&self, reference: Uuid, amount: u64, msisdn: &str, external: &str) -> Option<String> {
        let request = TransferRequest::new(amount, "RWF", external, msisdn, "MBELYCO promo", "Murakoze").unwrap();
        self.client().transfer(reference, &request, None).await.unwrap();
        for _ in 0..100 {
            let t = self.sim.transfer(reference).unwrap();
            if t.status.is_final() {
                return t.financial_transaction_id;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("transfer {reference} did not settle");
    }

    fn query_times(&self) -> Vec<Instant> {
        self.queries.lock().unwrap().clone()
    }
}

/// The app paying through the simulator, with one redemption (and queued disbursement) per phone.
pub(crate) async fn ready(db: &TestDb, sim: &Sim, phones: &[&str]) -> (TestApp, String, Vec<Uuid>) {
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let c = sim.sim.config();
    app.set_settings(
        mbelyco::settings::Category::Payments,
        json!({
            "momoBaseUrl": sim.base_url,
            "momoApiUser": SIM_USER,
            "momoApiKey": SIM_KEY,
            "momoSubscriptionKey": c.subscription_key,
            "momoTargetEnvironment": c.target_environment,
            "statusQueriesPerSecond": RATE,
        }),
    )
    .await;
    let key = app.api_key("Financial Administrator").await;
    let admin = app.api_key("Super Administrator").await;
    let mut disbursements = Vec::new();
    if phones.is_empty() {
        return (app, key, disbursements);
    }
    let batch = app
        .generated_batch(&admin, "Reconciliation", phones.len() as i64, "w-recon-codes")
        .await;
    let codes = app.batch_codes(&batch).await;
    for (i, phone) in phones.iter().enumerate() {
        let session = format!("ATUid_recon_{i}");
        let plus = format!("+{phone}");
        app.hop(&session, &plus, "").await;
        app.hop(&session, &plus, "1").await;
        let end = app.hop(&session, &plus, &format!("1*{}", codes[i])).await;
        assert!(end.starts_with("END "), "{end}");
        let id: Uuid = sqlx::query_scalar("select id from disbursements where msisdn = $1")
            .bind(phone)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        disbursements.push(id);
    }
    (app, key, disbursements)
}

/// An attempt as the payout worker writes it.
pub(crate) struct Attempt<'a> {
    pub no: i32,
    pub reference: Uuid,
    pub status: &'a str,
    pub http: Option<i32>,
    pub momo_status: Option<&'a str>,
    pub ftid: Option<&'a str>,
}

pub(crate) async fn attempt(app: &TestApp, disbursement: Uuid, a: Attempt<'_>) {
    let class = match a.http {
        Some(400) => Some("terminal"),
        Some(500) => Some("ambiguous"),
        _ => None,
    };
    sqlx::query(
        "insert into disbursement_attempts (disbursement_id, attempt_no, reference_id, status, http_status, error_class, \
           momo_status, financial_transaction_id, created_at, sent_at, resolved_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9)",
    )
    .bind(disbursement)
    .bind(a.no)
    .bind(a.reference)
    .bind(a.status)
    .bind(a.http)
    .bind(class)
    .bind(a.momo_status)
    .bind(a.ftid)
    .bind(now())
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("update disbursements set attempts = greatest(attempts, $2) where id = $1")
        .bind(disbursement)
        .bind(a.no)
        .execute(&app.pool)
        .await
        .unwrap();
}

/// The worker's completion: disbursement completed with its reference and ledger id, the
/// redemption completed.
pub(crate) async fn complete(app: &TestApp, disbursement: Uuid, reference: Uuid, ftid: &str) {
    sqlx::query(
        "update disbursements set status = 'completed', momo_reference = $2, momo_transaction_id = $3, disbursed_at = $4 \
         where id = $1",
    )
    .bind(disbursement)
    .bind(reference)
    .bind(ftid)
    .bind(now())
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "update redemptions set status = 'completed', completed_at = $2 \
         where id = (select redemption_id from disbursements where id = $1)",
    )
    .bind(disbursement)
    .bind(now())
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn set_status(app: &TestApp, disbursement: Uuid, status: &str) {
    sqlx::query("update disbursements set status = $2 where id = $1")
        .bind(disbursement)
        .bind(status)
        .execute(&app.pool)
        .await
        .unwrap();
}

pub(crate) const PHONES: [&str; 8] = [
    "250788000001", // matched
    "250788000002", // missing at MoMo
    "250788000003", // amount mismatch
    REFUSED,        // status mismatch
    "250788000005", // pending too long
    "250788000006", // successful at MoMo, not here
    "250788000007", // paid here, unknown to MoMo
    "250788000008", // refused before MoMo took it: a match
];

/// What each disbursement of [`PHONES`] is, and the reference MoMo has but we do not.
struct World {
    d: Vec<Uuid>,
    stranger: Uuid,
    /// Status queries a run makes (one per attempt).
    references: usize,
}

/// Puts each disbursement into its state, here and at the simulator.
async fn world(app: &TestApp, sim: &Sim, d: Vec<Uuid>) -> World {
    let r = || Uuid::new_v4();
    let mut references = 0;
    // 1 matched: paid at MoMo and completed here with the same ledger id
    let r1 = r();
    let f1 = sim.pay(r1, 1000, PHONES[0], &d[0].to_string()).await.unwrap();
    attempt(
        app,
        d[0],
        Attempt {
            no: 1,
            reference: r1,
            status: "successful",
            http: Some(202),
            momo_status: Some("SUCCESSFUL"),
            ftid: Some(&f1),
        },
    )
    .await;
    complete(app, d[0], r1, &f1).await;
    references += 1;
    // 2 missing at MoMo: a first attempt refused (400), the second accepted (202) and now unknown there
    attempt(
        app,
        d[1],
        Attempt {
            no: 1,
            reference: r(),
            status: "failed",
            http: Some(400),
            momo_status: None,
            ftid: None,
        },
    )
    .await;
    attempt(
        app,
        d[1],
        Attempt {
            no: 2,
            reference: r(),
            status: "pending",
            http: Some(202),
            momo_status: Some("PENDING"),
            ftid: None,
        },
    )
    .await;
    set_status(app, d[1], "processing").await;
    references += 2;
    // 3 amount mismatch: MoMo paid 1500 for our 1000
    let r3 = r();
    let f3 = sim.pay(r3, 1500, PHONES[2], &d[2].to_string()).await.unwrap();
    attempt(
        app,
        d[2],
        Attempt {
            no: 1,
            reference: r3,
            status: "successful",
            http: Some(202),
            momo_status: Some("SUCCESSFUL"),
            ftid: Some(&f3),
        },
    )
    .await;
    complete(app, d[2], r3, &f3).await;
    references += 1;
    // 4 status mismatch: completed here, FAILED at MoMo (the payee's wallet refused it)
    let r4 = r();
    assert_eq!(sim.pay(r4, 1000, REFUSED, &d[3].to_string()).await, None);
    attempt(
        app,
        d[3],
        Attempt {
            no: 1,
            reference: r4,
            status: "successful",
            http: Some(202),
            momo_status: None,
            ftid: Some("4040404040"),
        },
    )
    .await;
    complete(app, d[3], r4, "4040404040").await;
    references += 1;
    // 5 pending too long: still queued, three hours old, never tried
    sqlx::query("update disbursements set created_at = created_at - interval '3 hours' where id = $1")
        .bind(d[4])
        .execute(&app.pool)
        .await
        .unwrap();
    // 6 successful at MoMo, not here: the POST timed out (500 here), MoMo paid it; failed for good here
    let r6 = r();
    sim.pay(r6, 1000, PHONES[5], &d[5].to_string()).await.unwrap();
    attempt(
        app,
        d[5],
        Attempt {
            no: 1,
            reference: r6,
            status: "failed",
            http: Some(500),
            momo_status: None,
            ftid: None,
        },
    )
    .await;
    set_status(app, d[5], "failed").await;
    references += 1;
    // 7 paid here, unknown to MoMo
    let r7 = r();
    attempt(
        app,
        d[6],
        Attempt {
            no: 1,
            reference: r7,
            status: "successful",
            http: Some(202),
            momo_status: Some("SUCCESSFUL"),
            ftid: Some("7070707070"),
        },
    )
    .await;
    complete(app, d[6], r7, "7070707070").await;
    references += 1;
    // 8 refused before MoMo took it, five times: unknown at MoMo, as recorded
    for no in 1..=5 {
        attempt(
            app,
            d[7],
            Attempt {
                no,
                reference: r(),
                status: "failed",
                http: Some(400),
                momo_status: None,
                ftid: None,
            },
        )
        .await;
        references += 1;
    }
    set_status(app, d[7], "failed").await;
    // MoMo also paid someone we never paid
    let stranger = r();
    sim.pay(stranger, 700, "250788999999", "someone-else").await.unwrap();
    World {
        d,
        stranger,
        references,
    }
}

/// Starts a run, runs the job queue dry, and returns the run as the API shows it.
async fn run(app: &TestApp, key: &str, body: Value) -> Value {
    let res = app.post_json(key, API, &body).await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let started: Value = res.json().await.unwrap();
    let id = started["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(started["data"]["status"], "running");
    app.worker("w-recon").drain().await.unwrap();
    let res = app.get_as(key, &format!("{API}/{id}")).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Every item of a run as (disbursement id or reference, kind), read a few at a time by
/// following the `next` links (each item once, gravest kind first across pages).
async fn kinds(app: &TestApp, key: &str, run_id: &str) -> Vec<(String, String)> {
    let mut url = format!("{API}/{run_id}/items?kind=all&limit=3");
    let mut out: Vec<(String, String)> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    let mut ranks = Vec::new();
    loop {
        let res = app.get_as(key, &url).await;
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        let page = v["data"].as_array().unwrap();
        assert!(page.len() <= 3, "{v}");
        for i in page {
            assert!(ids.insert(i["id"].as_str().unwrap().to_owned()), "an item twice: {v}");
            let who = i["disbursementId"]
                .as_str()
                .or(i["referenceId"].as_str())
                .unwrap_or("?")
                .to_owned();
            let kind = i["kind"].as_str().unwrap().to_owned();
            ranks.push(KIND_ORDER.iter().position(|k| *k == kind).expect("a known kind"));
            out.push((who, kind));
        }
        match v["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "gravest first: {out:?}");
    out.sort();
    out
}

/// The kinds, gravest first.
const KIND_ORDER: [&str; 10] = [
    "successful_at_momo_not_here",
    "paid_here_unknown_to_momo",
    "missing_here",
    "amount_mismatch",
    "status_mismatch",
    "missing_at_momo",
    "unpaid_payee_invalid",
    "pending_too_long",
    "unchecked",
    "match",
];

fn expected(w: &World, with_statement: bool) -> Vec<(String, String)> {
    let kinds = [
        "match",
        "missing_at_momo",
        "amount_mismatch",
        "status_mismatch",
        "pending_too_long",
        "successful_at_momo_not_here",
        "paid_here_unknown_to_momo",
        "match",
    ];
    let mut out: Vec<(String, String)> =
        w.d.iter()
            .zip(kinds)
            .map(|(d, k)| (d.to_string(), k.to_owned()))
            .collect();
    if with_statement {
        out.push((w.stranger.to_string(), "missing_here".to_owned()));
    }
    out.sort();
    out
}

fn count(run: &Value, kind: &str) -> i64 {
    run["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind)
        .map(|c| c["count"].as_i64().unwrap())
        .unwrap()
}

async fn upload(app: &TestApp, key: &str, csv: impl Into<reqwest::Body>) -> reqwest::Response {
    app.client
        .post(app.url(&format!("{API}/statements?fileName=momo-statement.csv")))
        .bearer_auth(key)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap()
}

fn period() -> Value {
    json!({
        "from": (now() - chrono::Duration::days(1)).to_rfc3339(),
        "to": (now() + chrono::Duration::minutes(10)).to_rfc3339(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_is_found_by_status_query_and_statement_at_the_paced_rate() {
    let db = TestDb::new().await;
    let sim = simulator().await;
    let (app, key, d) = ready(&db, &sim, &PHONES).await;
    let w = world(&app, &sim, d).await;

    // 1. status queries only
    let before = sim.query_times().len();
    let started = Instant::now();
    let first = run(&app, &key, period()).await;
    let elapsed = started.elapsed();
    assert_eq!(first["data"]["status"], "completed", "{first}");
    let id = first["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(kinds(&app, &key, &id).await, expected(&w, false));
    assert_eq!(first["data"]["checkedCount"], 8);
    assert_eq!(first["data"]["discrepancyCount"], 6);
    assert_eq!(count(&first, "match"), 2);
    assert_eq!(
        count(&first, "missing_here"),
        0,
        "only a statement shows what we never made"
    );

    // every attempt's reference was asked exactly once, never more than RATE in any second
    let times: Vec<Instant> = sim.query_times()[before..].to_vec();
    assert_eq!(times.len(), w.references, "one status query per reference");
    assert_eq!(first["data"]["queriesMade"], w.references);
    for (i, t) in times.iter().enumerate() {
        let in_second = times[i..]
            .iter()
            .take_while(|u| u.duration_since(*t) < Duration::from_secs(1))
            .count();
        assert!(
            in_second <= RATE as usize,
            "{in_second} status queries within one second"
        );
    }
    let span = times.last().unwrap().duration_since(times[0]);
    let least = Duration::from_secs_f64((w.references - 1) as f64 / f64::from(RATE));
    assert!(
        span >= least,
        "{} queries in {span:?}: faster than {RATE}/s",
        times.len()
    );
    assert!(elapsed >= least);

    // filters: a phone number as staff type it, and open discrepancies only
    let v: Value = app
        .get_as(&key, &format!("{API}/{id}/items?q=%2B250788000003&state=open"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["data"].as_array().map(Vec::len), v["data"][0]["kind"].as_str()),
        (Some(1), Some("amount_mismatch"))
    );
    assert!(v["next"].is_null(), "one page: {v}");
    let res = app.get_as(&key, &format!("{API}/{id}/items?kind=nonsense")).await;
    assert_eq!(res.status(), 422);

    // the three-way view of the double-paid one
    let res = app
        .get_as(&key, &format!("{API}/{id}/items?kind=successful_at_momo_not_here"))
        .await;
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    assert!(v["next"].is_null(), "{v}");
    let item_id = v["data"][0]["id"].as_str().unwrap().to_owned();
    let item: Value = app
        .get_as(&key, &format!("{API}/items/{item_id}"))
        .await
        .json()
        .await
        .unwrap();
    let item = &item["data"];
    assert_eq!(item["ours"]["redemption"]["phoneNumber"], "+250788000006");
    assert_eq!(item["ours"]["disbursement"]["status"], "failed");
    assert_eq!(item["theirs"]["momo"]["status"], "SUCCESSFUL");
    assert_eq!(item["theirs"]["momo"]["source"], "status_query");
    assert!(item["theirs"]["momo"]["financialTransactionId"].is_string());
    assert!(item["findings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("MoMo paid reference"));

    // 2. with MoMo's statement: the same, plus the transfer we never made
    let csv = reqwest::get(format!("{}/sim/statement.csv", sim.base_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 6, "a header and five transfers: {csv}");
    let res = upload(&app, &key, csv).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let statement: Value = res.json().await.unwrap();
    assert_eq!(statement["data"]["lineCount"], 5);
    assert_eq!(statement["data"]["layout"], "simulator");
    let statement_id = statement["data"]["id"].as_str().unwrap().to_owned();
    let mut body = period();
    body["statementId"] = json!(statement_id);
    let second = run(&app, &key, body.clone()).await;
    let id2 = second["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(second["data"]["source"], "status_query_and_statement");
    assert_eq!(kinds(&app, &key, &id2).await, expected(&w, true));
    assert_eq!(second["data"]["discrepancyCount"], 7);
    // the amount mismatch is seen on both sides
    let v: Value = app
        .get_as(&key, &format!("{API}/{id2}/items?kind=amount_mismatch"))
        .await
        .json()
        .await
        .unwrap();
    let item: Value = app
        .get_as(&key, &format!("{API}/items/{}", v["data"][0]["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    let messages: Vec<&str> = item["data"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].starts_with("MoMo's status query has 1500 RWF"),
        "{messages:?}"
    );
    assert!(messages[1].starts_with("the statement (line "), "{messages:?}");

    // 3. the statement alone (no status query at all)
    let before = sim.query_times().len();
    body["queryMomo"] = json!(false);
    let third = run(&app, &key, body).await;
    let id3 = third["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        sim.query_times().len(),
        before,
        "a statement-only run asks MoMo nothing"
    );
    assert_eq!(kinds(&app, &key, &id3).await, expected(&w, true));

    // the runs page one at a time here, each once; the statement is listed
    let mut runs = Vec::new();
    let mut url = format!("{API}?limit=1");
    loop {
        let v: Value = app.get_as(&key, &url).await.json().await.unwrap();
        runs.extend(
            v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned()),
        );
        match v["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    // (newest first by creation time, then id: runs made in the same instant come in id order)
    runs.sort();
    let mut made = vec![id.clone(), id2.clone(), id3.clone()];
    made.sort();
    assert_eq!(runs, made, "every run once");
    let v: Value = app
        .get_as(&key, &format!("{API}/statements"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["data"][0]["id"].as_str(), v["next"].as_str()),
        (Some(statement_id.as_str()), None)
    );
    assert_eq!(
        app.get_as(&key, &format!("{API}/statements?cursor=x")).await.status(),
        422
    );

    // the results as CSV: a header and one line per item, gravest first
    let res = app.get_as(&key, &format!("{API}/{id2}/export.csv")).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 10, "{text}");
    assert!(lines[0].starts_with("kind,item_id,disbursement_id"));
    assert!(lines[1].starts_with("successful_at_momo_not_here,"));
    assert!(lines[9].starts_with("match,"));

    // the pages: counts per kind with the chart, and an item's three-way view
    let html = app
        .get_as(&key, &format!("/admin/disbursements/reconcile/{id2}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<svg class="chart kinds-chart""#), "{html}");
    assert!(html.contains(r#"<tr data-kind="missing_here"><td><a href="?kind=missing_here">Missing here</a></td><td class="count">1</td>"#), "{html}");
    let html = app
        .get_as(&key, &format!("/admin/disbursements/reconcile/items/{item_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"id="three-way""#) && html.contains("250788000006") && html.contains("SUCCESSFUL"),
        "{html}"
    );
    assert!(html.contains(r#"id="resolve-form""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_statement_is_refused_naming_its_lines_and_nothing_is_kept() {
    let db = TestDb::new().await;
    let sim = simulator().await;
    let (app, key, _) = ready(&db, &sim, &[]).await;
    let header = "date,reference,financialTransactionId,externalId,msisdn,amount,currency,status,reason\n";
    let good = "2026-11-25T08:00:00Z,6f1c1f5e-0a8b-4c43-9d2b-3f3b1e0f8a01,123,x,250788000001,1000,RWF,SUCCESSFUL,\n";
    let bad = format!(
        "{header}{good}2026-11-25T08:01:00Z,6f1c1f5e-0a8b-4c43-9d2b-3f3b1e0f8a02,124,x,250788000002,12.50,RWF,SUCCESSFUL,\n\
         \n2026-11-25T08:02:00Z,6f1c1f5e-0a8b-4c43-9d2b-3f3b1e0f8a03,125,x,250788000003,1000,RWF,LOST,\n"
    );
    let res = upload(&app, &key, bad).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["invalidLines"], 2);
    let lines: Vec<(i64, &str)> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_i64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(lines, [(3, "file"), (5, "file")]);
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("not whole units"));
    assert!(v["errors"][1]["message"].as_str().unwrap().contains("status `LOST`"));

    // a file that is not a statement at all: its header is line 1
    let res = upload(&app, &key, "code,amount\nABCD,1000\n").await;
    assert_eq!(res.status(), 422);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["errors"][0]["line"], 1);
    // an empty body, and a body that is not CSV
    assert_eq!(upload(&app, &key, "").await.status(), 422);
    let res = app
        .client
        .post(app.url(&format!("{API}/statements")))
        .bearer_auth(&key)
        .json(&json!({"rows": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let n: i64 = sqlx::query_scalar("select count(*) from reconciliation_statements")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0, "nothing was stored");

    // the same file fixed is taken, streamed in small pieces (multipart, as the page sends it)
    let good_file = format!("{header}{good}");
    let part = reqwest::multipart::Part::stream(good_file).file_name("statement-2026-11-25.csv");
    let res = app
        .client
        .post(app.url(&format!("{API}/statements")))
        .bearer_auth(&key)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["data"]["fileName"], "statement-2026-11-25.csv");
    assert_eq!(v["data"]["lineCount"], 1);
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_logs where action = 'reconciliation.statement_uploaded' and entity_id = $1",
    )
    .bind(v["data"]["id"].as_str().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    // the page's form takes the statement with the run and refuses a bad one naming the line
    let page_form = |file: String| {
        reqwest::multipart::Form::new()
            .text("from", "2026-11-20")
            .text("to", "2026-11-25")
            .part("file", reqwest::multipart::Part::text(file).file_name("portal.csv"))
    };
    let res = app
        .client
        .post(app.url("/admin/disbursements/reconcile"))
        .bearer_auth(&key)
        .multipart(page_form(format!("{header}{good}2026-11-25,,,,,,,,\n")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("line 3: date `2026-11-25` is not RFC 3339"), "{html}");
    let res = app
        .client
        .post(app.url("/admin/disbursements/reconcile"))
        .bearer_auth(&key)
        .multipart(page_form(format!("{header}{good}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let to_run = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(to_run.starts_with("/admin/disbursements/reconcile/"));
    app.worker("w-recon-page").drain().await.unwrap();
    let run_id = to_run.rsplit('/').next().unwrap();
    let v: Value = app.get_as(&key, &format!("{API}/{run_id}")).await.json().await.unwrap();
    assert_eq!(v["data"]["status"], "completed");
    assert_eq!(v["data"]["statementFileName"], "portal.csv");
    assert_eq!(
        count(&v, "missing_here"),
        1,
        "the statement's line matches nothing here"
    );
    let html = app
        .get_as(&key, "/admin/disbursements/reconcile")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!(r#"<a href="{to_run}">"#)), "{html}");

    // the daily run: the previous Kigali day, once
    let mut daily = mbelyco::disbursement::reconcile::run::daily_job(now());
    daily.run_at = None;
    let mut conn = app.pool.acquire().await.unwrap();
    mbelyco::jobs::enqueue(&mut conn, &daily, now()).await.unwrap().unwrap();
    app.worker("w-recon-daily").drain().await.unwrap();
    let (trigger, status, from, to): (
        String,
        String,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
    ) = sqlx::query_as(
        "select trigger, status, period_from, period_to from reconciliation_runs where trigger = 'scheduled'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((trigger.as_str(), status.as_str()), ("scheduled", "completed"));
    assert_eq!(to - from, chrono::Duration::days(1));
    let today = now().with_timezone(&mbelyco::clock::kigali()).date_naive();
    assert_eq!(to.with_timezone(&mbelyco::clock::kigali()).date_naive(), today);
    assert_eq!(
        to.with_timezone(&mbelyco::clock::kigali()).time(),
        chrono::NaiveTime::MIN
    );

    // a run's own fields are checked too
    let res = app
        .post_json(&key, API, &json!({"from": "2020-11-30", "to": "2020-11-01"}))
        .await;
    assert_eq!(res.status(), 422);
    let v: Value = res.json().await.unwrap();
    assert_eq!(crate::helpers::error_fields(&v), ["to"]);
    let res = app
        .post_json(&key, API, &json!({"from": "yesterday", "statementId": "nope"}))
        .await;
    let v: Value = res.json().await.unwrap();
    assert_eq!(crate::helpers::error_fields(&v), ["from", "to", "statementId"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolving_is_audited_and_reconciling_needs_its_permission() {
    let db = TestDb::new().await;
    let sim = simulator().await;
    let (app, key, d) = ready(&db, &sim, &PHONES[..2]).await;
    // one paid here but unknown to MoMo, one still queued and recent (a match)
    let r = Uuid::new_v4();
    attempt(
        &app,
        d[0],
        Attempt {
            no: 1,
            reference: r,
            status: "successful",
            http: Some(202),
            momo_status: Some("SUCCESSFUL"),
            ftid: Some("1"),
        },
    )
    .await;
    complete(&app, d[0], r, "1").await;

    // a reader may look but not start, upload or resolve
    let role: Uuid = sqlx::query_scalar(
        "insert into roles (name, description, created_at, updated_at) values ('Payout reader', '', $1, $1) returning id",
    )
    .bind(now())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into role_permissions (role_id, permission_id, created_at) \
         select $1, id, $2 from permissions where key = 'disbursements.read'",
    )
    .bind(role)
    .bind(now())
    .execute(&app.pool)
    .await
    .unwrap();
    let reader = app.api_key("Payout reader").await;
    let viewer = app.api_key("Viewer").await;
    assert_eq!(app.post_json(&reader, API, &period()).await.status(), 403);
    assert_eq!(upload(&app, &reader, "x").await.status(), 403);
    assert_eq!(app.get_as(&viewer, API).await.status(), 403);
    assert_eq!(
        app.get_as(&viewer, "/admin/disbursements/reconcile").await.status(),
        403
    );

    let done = run(&app, &key, period()).await;
    let id = done["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(count(&done, "paid_here_unknown_to_momo"), 1);
    assert_eq!(count(&done, "match"), 1);
    let started: i64 = sqlx::query_scalar(
        "select count(*) from audit_logs where action in ('reconciliation.started', 'reconciliation.completed') and entity_id = $1",
    )
    .bind(&id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(started, 2);
    let alert: String = sqlx::query_scalar("select severity from alerts where kind = 'reconciliation.discrepancies'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(alert, "critical");

    assert_eq!(app.get_as(&reader, &format!("{API}/{id}")).await.status(), 200);
    assert_eq!(
        app.get_as(&reader, &format!("{API}/{id}/export.csv")).await.status(),
        403,
        "the CSV is an export"
    );
    let v: Value = app
        .get_as(&reader, &format!("{API}/{id}/items?kind=all"))
        .await
        .json()
        .await
        .unwrap();
    let item = |kind: &str| {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == kind)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (orphan, matched) = (item("paid_here_unknown_to_momo"), item("match"));
    let resolve = |item: &str| format!("{API}/items/{item}/resolve");
    let note = json!({"note": "MTN support confirmed the transfer under another reference; ticket 4411"});
    assert_eq!(app.post_json(&reader, &resolve(&orphan), &note).await.status(), 403);
    let res = app.post_json(&key, &resolve(&orphan), &json!({"note": " "})).await;
    assert_eq!(res.status(), 422);
    assert_eq!(crate::helpers::error_fields(&res.json().await.unwrap()), ["note"]);
    assert_eq!(app.post_json(&key, &resolve(&matched), &note).await.status(), 409);
    let res = app.post_json(&key, &resolve(&orphan), &note).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let v: Value = res.json().await.unwrap();
    assert!(v["data"]["resolvedAt"].is_string());
    assert_eq!(v["data"]["resolution"], note["note"]);
    assert_eq!(
        app.post_json(&key, &resolve(&orphan), &note).await.status(),
        409,
        "once only"
    );
    let (by, after): (Option<Uuid>, Value) = sqlx::query_as(
        "select actor_user_id, after from audit_logs where action = 'reconciliation.item_resolved' and entity_id = $1",
    )
    .bind(&orphan)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(by.is_some());
    assert_eq!(after["resolution"], note["note"]);
    let open: Value = app
        .get_as(&key, &format!("{API}/{id}/items?state=open"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(open["data"].as_array().unwrap().len(), 0, "nothing left open");
    let html = app
        .get_as(&key, &format!("/admin/disbursements/reconcile/items/{orphan}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<p id="resolved">Resolved on "#), "{html}");
    assert!(!html.contains(r#"id="resolve-form""#));

    // one run at a time: a second start while one runs is refused
    let res = app.post_json(&key, API, &period()).await;
    assert_eq!(res.status(), 202);
    let res = app.post_json(&key, API, &period()).await;
    assert_eq!(res.status(), 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_queries_share_one_budget_across_processes() {
    let db = TestDb::new().await;
    // a second pool stands in for a second process (a web node's reconciliation, another worker)
    let other = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(&db.url)
        .await
        .unwrap();
    let per_second = 4;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..13 {
        let pool = if i % 2 == 0 { db.pool.clone() } else { other.clone() };
        tasks.spawn(async move {
            mbelyco::disbursement::budget::acquire(&pool, per_second).await.unwrap();
            Instant::now()
        });
    }
    let mut granted = Vec::new();
    while let Some(at) = tasks.join_next().await {
        granted.push(at.unwrap());
    }
    granted.sort();
    assert_eq!(granted.len(), 13);
    for (i, t) in granted.iter().enumerate() {
        let in_second = granted[i..]
            .iter()
            .take_while(|u| u.duration_since(*t) < Duration::from_secs(1))
            .count();
        assert!(
            in_second <= per_second as usize,
            "{in_second} status queries within one second"
        );
    }
    // thirteen slots of a quarter second (and 5 %) each, whichever process asked
    assert!(granted[12].duration_since(start) >= Duration::from_secs(3));
}
