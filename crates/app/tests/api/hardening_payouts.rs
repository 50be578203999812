//! Issue 17, payouts and reconciliation (items 16–21): one status-query budget for every
//! `GET /transfer/{ref}`, `payee_invalid` alerted and reconciled as unpaid, the daily
//! reconciliation that waits for MoMo and catches up, statements under MTN's and the simulator's
//! column names, `NOT_ENOUGH_FUNDS` recorded as what it is, and MTN's sandbox test numbers.

use std::time::Duration;

use mbelyco::settings::Category;
use serde_json::{json, Value};
use simulators::momo::CallbackMode;
use uuid::Uuid;

use crate::helpers::{now, TestDb};
use crate::payout_fixtures::{self as fx, Spec};
use crate::payouts::{instant, make_due, ready, redeem, start_momo, worker, SIM_KEY, SIM_SUBSCRIPTION, SIM_USER};

const RECONCILE: &str = "/api/v1/admin/disbursements/reconcile";

async fn one<T>(pool: &sqlx::PgPool, sql: &str) -> T
where
    T: Send + Unpin + for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

// ---- item 16 ------------------------------------------------------------------------------------

/// Many payouts, MoMo's callbacks waking status reads, two payout workers (two processes as far
/// as the budget knows): MoMo never sees more status queries in any second than the setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_status_query_of_every_worker_takes_a_slot_of_the_one_budget() {
    const RATE: u64 = 2;
    const PAYOUTS: usize = 10;
    let db = TestDb::new().await;
    let mut config = instant();
    config.settle_after = Duration::from_millis(300);
    config.callbacks = CallbackMode::Once;
    config.duplicate_callbacks = true;
    let momo = start_momo(config).await;
    let (app, key) = ready(&db, &momo, json!({"statusQueriesPerSecond": RATE})).await;
    app.set_settings(Category::Payments, json!({"callbackBaseUrl": app.base}))
        .await;
    redeem(&app, &key, PAYOUTS, "budget").await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let runs: Vec<_> = ["w-budget-1", "w-budget-2"]
        .into_iter()
        .map(|id| tokio::spawn(worker(&app, id).run(shutdown.clone(), Duration::from_secs(5))))
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let open: i64 = one(
            &app.pool,
            "select count(*) from disbursements where status <> 'completed'",
        )
        .await;
        if open == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{open} payouts still open");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shutdown.cancel();
    for r in runs {
        r.await.unwrap();
    }
    let seen = momo.sim.status_queries();
    assert!(
        seen.total >= PAYOUTS as u64,
        "each payout was read at least once: {seen:?}"
    );
    assert!(
        seen.max_per_second <= RATE,
        "MoMo saw {} status queries within one second (setting {RATE}): {seen:?}",
        seen.max_per_second
    );
    // the simulator's own control API says the same
    let over_http: Value = reqwest::get(format!("{}/sim/status-queries", momo.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http["maxPerSecond"], seen.max_per_second);
    crate::payouts::books_agree(&app, &momo).await;
}

// ---- item 17 ------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payee_without_a_wallet_alerts_who_can_change_it_and_reconciles_as_unpaid() {
    let db = TestDb::new().await;
    let mut config = instant();
    config.inactive = vec!["25078*".into()];
    let momo = start_momo(config).await;
    let (app, key) = ready(&db, &momo, json!({})).await;
    let ids = redeem(&app, &key, 1, "nowallet").await;
    worker(&app, "w1").run_until_idle().await.unwrap();
    assert_eq!(fx::status_of(&app.pool, ids[0]).await, "payee_invalid");

    // one open alert, for the holders of the payee key
    let alerts: Vec<(String, String, Option<String>, i32)> = sqlx::query_as(
        "select audience, title, subject_id, occurrences from alerts \
         where kind = 'payout.payee_invalid' and status <> 'resolved'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].0, "disbursements.payee.update");
    assert!(alerts[0].1.contains("no active MoMo wallet"), "{}", alerts[0].1);
    assert_eq!(alerts[0].2.as_deref(), Some(ids[0].to_string().as_str()));
    // the same payout found without a wallet again while the alert is open: counted, not repeated
    sqlx::query(
        "update disbursements set status = 'queued', payee_checked_at = null, next_attempt_at = now() where id = $1",
    )
    .bind(ids[0])
    .execute(&app.pool)
    .await
    .unwrap();
    worker(&app, "w2").run_until_idle().await.unwrap();
    let (open, occurrences): (i64, i32) = sqlx::query_as(
        "select count(*), max(occurrences) from alerts where kind = 'payout.payee_invalid' and status <> 'resolved'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((open, occurrences), (1, 2));

    // who sees it: the Support Agent and the Financial Administrator, not the Viewer
    let audience_of = |role: &str| {
        let seed = mbelyco::access::ROLES.iter().find(|r| r.name == role).unwrap();
        mbelyco::alerts::audiences((seed.permissions)().iter())
    };
    for role in ["Support Agent", "Financial Administrator"] {
        let mut conn = app.pool.acquire().await.unwrap();
        let seen = mbelyco::alerts::open(&mut conn, &audience_of(role), 10).await.unwrap();
        assert!(
            seen.iter().any(|a| a.kind == "payout.payee_invalid"),
            "{role} does not see it"
        );
    }
    let mut conn = app.pool.acquire().await.unwrap();
    let viewer = mbelyco::alerts::open(&mut conn, &audience_of("Viewer"), 10)
        .await
        .unwrap();
    assert!(viewer.iter().all(|a| a.kind != "payout.payee_invalid"));
    drop(conn);
    let fa = app.api_key("Financial Administrator").await;
    let html = app.get_as(&fa, "/admin/disbursements").await.text().await.unwrap();
    assert!(
        html.contains("no active MoMo wallet"),
        "the payouts page lists the alert"
    );

    // reconciliation: unpaid, its own kind, not a match
    let res = app
        .post_json(
            &fa,
            RECONCILE,
            &json!({
                "from": (now() - chrono::Duration::days(1)).to_rfc3339(),
                "to": (now() + chrono::Duration::minutes(10)).to_rfc3339(),
            }),
        )
        .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let run_id = res.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.worker("w-recon").drain().await.unwrap();
    let items: Value = app
        .get_as(&fa, &format!("{RECONCILE}/{run_id}/items?kind=all"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(items["data"].as_array().unwrap().len(), 1, "{items}");
    assert_eq!(items["data"][0]["kind"], "unpaid_payee_invalid", "{items}");
    let run: Value = app
        .get_as(&fa, &format!("{RECONCILE}/{run_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(run["data"]["discrepancyCount"], 1, "{run}");

    // giving the payout another number answers the alert
    let res = app
        .put_json(
            &fa,
            &format!("/api/v1/admin/disbursements/{}/payee", ids[0]),
            &json!({"msisdn": "+250791234567", "reason": "the customer gave another number"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let open: i64 = one(
        &app.pool,
        "select count(*) from alerts where kind = 'payout.payee_invalid' and status <> 'resolved'",
    )
    .await;
    assert_eq!(open, 0);
}

// ---- item 18 ------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_daily_reconciliation_waits_for_momo_catches_up_and_alerts_when_a_run_dies() {
    use mbelyco::disbursement::reconcile::{daily, run};
    let db = TestDb::new().await;
    let app = crate::helpers::spawn_app(db.pool.clone()).await;
    let batch = fx::batch(&app.pool, "Daily", 1000).await;
    fx::payout(
        &app.pool,
        batch,
        Spec::new("+250788000101", 1000, "queued").at(now() - chrono::Duration::days(2)),
    )
    .await;
    let kigali = |d: chrono::DateTime<chrono::Utc>| d.with_timezone(&mbelyco::clock::kigali()).date_naive();

    // the worker starts before MoMo is configured: yesterday's job (as the scheduler enqueues it)
    // starts no run and does not fail; nothing more is scheduled while MoMo is missing
    let mut daily_job = run::daily_job(now());
    daily_job.run_at = None;
    let mut conn = app.pool.acquire().await.unwrap();
    mbelyco::jobs::enqueue(&mut conn, &daily_job, now())
        .await
        .unwrap()
        .unwrap();
    drop(conn);
    app.worker("w-daily-1").drain().await.unwrap();
    let runs: i64 = one(&app.pool, "select count(*) from reconciliation_runs").await;
    assert_eq!(runs, 0, "no run while MoMo is not configured");
    let dead: i64 = one(&app.pool, "select count(*) from jobs where status = 'dead'").await;
    assert_eq!(dead, 0);
    let scheduled = daily::schedule_due(&app.pool, &app.state.settings, now())
        .await
        .unwrap();
    assert!(scheduled.is_empty(), "{scheduled:?}");

    // MoMo configured: the next pass schedules every day missed since the first payout
    let momo = start_momo(instant()).await;
    app.set_settings(
        Category::Payments,
        json!({
            "momoBaseUrl": momo.base,
            "momoApiUser": SIM_USER,
            "momoApiKey": SIM_KEY,
            "momoSubscriptionKey": SIM_SUBSCRIPTION,
            "momoTargetEnvironment": "mtnrwanda",
        }),
    )
    .await;
    let at = now();
    let scheduled = daily::schedule_due(&app.pool, &app.state.settings, at).await.unwrap();
    assert!(!scheduled.is_empty());
    assert_eq!(scheduled.first(), Some(&kigali(now() - chrono::Duration::days(2))));
    assert_eq!(scheduled, daily::due_days(at, Some(now() - chrono::Duration::days(2))));
    app.worker("w-daily-2").drain().await.unwrap();
    let completed: Vec<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "select period_from from reconciliation_runs where trigger = 'scheduled' and status = 'completed' \
         order by period_from",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(completed.len(), scheduled.len());
    assert_eq!(kigali(completed[0]), scheduled[0]);
    // done days are not scheduled again
    let again = daily::schedule_due(&app.pool, &app.state.settings, now())
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");

    // a run whose job died is failed and alerted at the next pass
    let job: i64 = sqlx::query_scalar(
        "insert into jobs (kind, payload, status, priority, max_attempts, run_at, created_at, updated_at) \
         values ('disbursements.reconcile', '{}', 'dead', 0, 3, now(), now(), now()) returning id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let stuck: Uuid = sqlx::query_scalar(
        "insert into reconciliation_runs (source, status, period_from, period_to, query_momo, trigger, job_id, created_at) \
         values ('status_query', 'running', now() - interval '1 day', now(), true, 'manual', $1, now()) returning id",
    )
    .bind(job)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    daily::schedule_due(&app.pool, &app.state.settings, now())
        .await
        .unwrap();
    let (status, alert): (String, Option<String>) = sqlx::query_as(
        "select r.status, (select a.title from alerts a where a.kind = 'reconciliation.failed' \
           and a.subject_id = r.id::text and a.audience = 'financial.alerts.view') \
         from reconciliation_runs r where r.id = $1",
    )
    .bind(stuck)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(status, "failed");
    assert!(
        alert.is_some_and(|t| t.contains("failed")),
        "a dead run raises an alert"
    );
}

// ---- item 19 ------------------------------------------------------------------------------------

async fn upload(app: &crate::helpers::TestApp, key: &str, csv: String) -> reqwest::Response {
    app.client
        .post(app.url(&format!("{RECONCILE}/statements?fileName=statement.csv")))
        .bearer_auth(key)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn statements_are_read_under_the_date_names_in_use_and_a_foreign_file_says_what_it_lacks() {
    let db = TestDb::new().await;
    let momo = start_momo(instant()).await;
    let (app, key) = ready(&db, &momo, json!({})).await;
    redeem(&app, &key, 2, "stmt").await;
    worker(&app, "w1").run_until_idle().await.unwrap();
    let fa = app.api_key("Financial Administrator").await;
    let csv = reqwest::get(format!("{}/sim/statement.csv", momo.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let (header, body) = csv.split_once('\n').unwrap();
    assert!(header.starts_with("date,"), "{header}");
    // the simulator's own file, then its date column under `created` and MTN's export names
    for date in ["date", "created", "Transaction Date", "Date Time"] {
        let file = format!("{}\n{body}", header.replacen("date", date, 1));
        let res = upload(&app, &fa, file).await;
        assert_eq!(res.status(), 201, "{date}: {}", res.text().await.unwrap());
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["data"]["lineCount"], 2, "{date}: {v}");
    }
    // a file that is not a statement: the columns it has and the ones it needs
    let res = upload(&app, &fa, "when,code,value\n2026-11-25,ABC,1000\n".to_owned()).await;
    assert_eq!(res.status(), 422);
    let text = res.text().await.unwrap();
    assert!(text.contains("Found columns: `when`, `code`, `value`"), "{text}");
    assert!(text.contains("Needed: a date"), "{text}");
    assert!(text.contains("`amount`") && text.contains("`status`"), "{text}");
}

// ---- item 20 ------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn not_enough_funds_is_recorded_as_insufficient_funds_not_terminal() {
    let db = TestDb::new().await;
    let momo = start_momo(instant()).await;
    let (app, key) = ready(&db, &momo, json!({})).await;
    let ids = redeem(&app, &key, 2, "class").await;
    // A12: 46733123455 fails NOT_ENOUGH_FUNDS, 46733123457 PAYEE_NOT_FOUND
    for (id, number) in ids.iter().zip(["46733123455", "46733123457"]) {
        sqlx::query("update disbursements set msisdn = $2, payee_checked_at = now() where id = $1")
            .bind(id)
            .bind(number)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    worker(&app, "w1").run_until_idle().await.unwrap();
    let classes: Vec<(String, String, Option<String>, String)> = sqlx::query_as(
        "select d.msisdn, d.status, a.error_class, a.error_code from disbursement_attempts a \
         join disbursements d on d.id = a.disbursement_id order by d.msisdn",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        classes,
        vec![
            (
                "46733123455".to_owned(),
                "queued".to_owned(),
                Some("insufficient_funds".to_owned()),
                "NOT_ENOUGH_FUNDS".to_owned()
            ),
            (
                "46733123457".to_owned(),
                "payee_invalid".to_owned(),
                Some("payee_invalid".to_owned()),
                "PAYEE_NOT_FOUND".to_owned()
            ),
        ]
    );
}

// ---- item 21 ------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mtns_sandbox_test_numbers_are_payees_in_the_sandbox_only() {
    let db = TestDb::new().await;
    let mut config = instant();
    config.target_environment = "sandbox".into();
    let momo = start_momo(config).await;
    let (app, key) = ready(&db, &momo, json!({"momoTargetEnvironment": "sandbox"})).await;
    let batch = app.generated_batch(&key, "Sandbox", 4, "w-sandbox").await;
    let codes = app.batch_codes(&batch).await;
    // each number's documented outcome, end to end: redeemed over USSD, paid through the simulator
    let cases = [
        ("46733123455", "queued"),          // NOT_ENOUGH_FUNDS: held
        ("46733123457", "payee_invalid"),   // PAYEE_NOT_FOUND
        ("46733123462", "retry_scheduled"), // INTERNAL_PROCESSING_ERROR
    ];
    for (i, (number, _)) in cases.iter().enumerate() {
        let answer = app
            .hop(&format!("sbx-{i}"), &format!("+{number}"), &format!("1*{}", codes[i]))
            .await;
        assert!(
            answer.starts_with("END ") && answer.contains("1000 RWF"),
            "{number}: {answer}"
        );
    }
    worker(&app, "w1").run_until_idle().await.unwrap();
    for (number, status) in cases {
        let got: String = sqlx::query_scalar("select status from disbursements where msisdn = $1")
            .bind(number)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(got, status, "{number}");
    }
    let reasons: Vec<String> =
        sqlx::query_scalar("select momo_reason from disbursement_attempts where momo_reason is not null order by 1")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        reasons,
        ["INTERNAL_PROCESSING_ERROR", "NOT_ENOUGH_FUNDS", "PAYEE_NOT_FOUND"]
    );
    // a payee change to another test number is accepted in the sandbox
    let invalid: Uuid = sqlx::query_scalar("select id from disbursements where msisdn = '46733123457'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let res = app
        .put_json(
            &key,
            &format!("/api/v1/admin/disbursements/{invalid}/payee"),
            &json!({"msisdn": "+46733123454", "reason": "the delayed-success test number"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    make_due(&app).await;

    // in production, MTN Rwanda numbers only, as before
    app.set_settings(Category::Payments, json!({"momoTargetEnvironment": "mtnrwanda"}))
        .await;
    let answer = app.hop("sbx-prod", "+46733123456", &format!("1*{}", codes[3])).await;
    assert!(answer.starts_with("END "), "{answer}");
    let outcome: String = sqlx::query_scalar("select outcome from ussd_interactions where session_id = 'sbx-prod'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(outcome, "not_mtn");
    let res = app
        .put_json(
            &key,
            &format!("/api/v1/admin/disbursements/{invalid}/payee"),
            &json!({"msisdn": "+46733123453", "reason": "a test number in production"}),
        )
        .await;
    assert_eq!(res.status(), 422, "{}", res.text().await.unwrap());
}
