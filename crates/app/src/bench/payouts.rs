//! `mbelyco bench payouts`: end to end, redemption committed → SUCCESSFUL recorded, through the
//! real payout worker and the MoMo simulator in its own process over HTTP.
//!
//! A producer commits redemptions at a steady rate (each the rows the redemption transaction
//! writes: the code `used`, the redemption, its queued disbursement; then the wake-up), and the
//! worker pays them. Two runs: the simulator answering at once, then with 200 ms on every MoMo
//! call and the default payment settings. Printed per run: payouts completed per second over the
//! window, the time from redemption to SUCCESSFUL recorded (p50, p99, max), and the most status
//! queries the simulator saw within any one second against `statusQueriesPerSecond` (every
//! status query takes a slot of that budget, so payouts complete at most that many a second).

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{percentile, scratch};
use crate::clock;
use crate::codes::cli::{generate, Target};
use crate::codes::lifecycle::TakeSql;
use crate::config::Config;
use crate::disbursement::worker::PayoutWorker;
use crate::settings::Category;
use crate::sql::{Binder, Params, Slot};

const SIM_USER: &str = "3f6c1b7e-2d4a-4e8b-9c1d-5a6b7c8d9e0f";
const SIM_KEY: &str = "bench-momo-api-key-0123456789abcd";
const SIM_SUBSCRIPTION: &str = "bench-momo-subscription-key";

struct Run {
    label: &'static str,
    /// payouts a second the issue asks for
    goal: f64,
    latency_ms: u64,
    rate: u32,
    /// settings beyond the defaults
    settings: serde_json::Value,
}

pub async fn run(config: &Config, seconds: u64, fast_rate: u32, slow_rate: u32) -> anyhow::Result<()> {
    let runs = [
        Run {
            label: "simulator answering at once",
            goal: 300.0,
            latency_ms: 0,
            rate: fast_rate,
            settings: json!({"requestsPerSecond": 2000, "workerConcurrency": 64}),
        },
        Run {
            label: "200 ms on every MoMo call, default payment settings",
            goal: 100.0,
            latency_ms: 200,
            rate: slow_rate,
            settings: json!({}),
        },
    ];
    let mut lines = Vec::new();
    for r in &runs {
        lines.push(one(config, r, seconds).await?);
    }
    println!();
    for l in lines {
        println!("{l}");
    }
    Ok(())
}

async fn one(config: &Config, r: &Run, seconds: u64) -> anyhow::Result<String> {
    let clock = clock::system();
    let s = scratch(config, "payouts", config.database_max_connections).await?;
    let pool = s.pool.clone();
    let state = crate::startup::build_state(pool.clone(), config.clone(), clock.clone()).await?;

    // the simulator, in its own process
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let exe = std::env::current_exe().context("finding the mbelyco binary")?;
    let mut sim = tokio::process::Command::new(exe)
        .args(["simulate", "momo", "--port", &port.to_string()])
        .env("MOMO_SIM_API_USER", SIM_USER)
        .env("MOMO_SIM_API_KEY", SIM_KEY)
        .env("MOMO_SIM_SUBSCRIPTION_KEY", SIM_SUBSCRIPTION)
        .env("MOMO_SIM_SETTLE_MS", "0")
        .env("MOMO_SIM_LATENCY_MS", r.latency_ms.to_string())
        .env("MOMO_SIM_CALLBACKS", "none")
        .env("MOMO_SIM_BALANCE", "100000000000")
        .env_remove("MOMO_SIM_DATA_DIR")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the MoMo simulator")?;
    let sim_base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    while http.get(format!("{sim_base}/sim/faults")).send().await.is_err() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(10),
            "the MoMo simulator did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut patch = json!({
        "momoBaseUrl": sim_base,
        "momoApiUser": SIM_USER,
        "momoApiKey": SIM_KEY,
        "momoSubscriptionKey": SIM_SUBSCRIPTION,
        "momoTargetEnvironment": "mtnrwanda",
        "lowBalanceThreshold": 0,
    });
    if let (Some(p), Some(extra)) = (patch.as_object_mut(), r.settings.as_object()) {
        p.extend(extra.clone());
    }
    crate::devrun::apply_settings(&state, Category::Payments, patch, "bench").await?;

    let needed = (i64::from(r.rate) * seconds as i64 * 5 / 4).max(1_000);
    println!("[{}] generating {needed} codes …", r.label);
    let expires = (clock.now() + chrono::Duration::days(90))
        .format("%Y-%m-%d")
        .to_string();
    let batch = generate(
        &state,
        Target::New(crate::batches::NewBatch {
            name: format!("bench payouts {}", r.latency_ms),
            description: String::new(),
            total_codes: needed,
            amount_per_code: 1000,
            expires_at: expires,
            assigned_user_id: None,
            generate: false,
        }),
        needed,
    )
    .await?;
    // one customer account behind every redemption; each payout goes to its own number
    let customer = {
        let mut tx = pool.begin().await?;
        let phone = crate::redemption::Msisdn::parse("+250780000000").context("bench phone")?;
        let mut audit = Vec::new();
        let dial = crate::redemption::customers::Dial {
            phone: &phone,
            network_code: Some("63510"),
            language: "en",
            now: clock.now(),
        };
        let c = crate::redemption::customers::find_or_register(&mut tx, &dial, &mut audit).await?;
        tx.commit().await?;
        c
    };
    sqlx::query("vacuum analyze").execute(&pool).await?;

    let worker = PayoutWorker::new(
        pool.clone(),
        Arc::clone(&state.settings),
        clock.clone(),
        "bench-payouts",
    );
    let shutdown = CancellationToken::new();
    let worker_task = tokio::spawn(Arc::clone(&worker).run(shutdown.clone(), Duration::from_secs(5)));

    println!(
        "[{}] committing {} redemptions a second for {seconds} s …",
        r.label, r.rate
    );
    let t0 = clock.now();
    let begin = Instant::now();
    let tick = Duration::from_millis(20);
    let per_tick = f64::from(r.rate) * tick.as_secs_f64();
    let mut owed = 0.0;
    let mut produced = 0i64;
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    while begin.elapsed() < Duration::from_secs(seconds) {
        interval.tick().await;
        owed += per_tick;
        let k = owed.floor() as i64;
        if k == 0 {
            continue;
        }
        owed -= k as f64;
        let now = clock.now();
        let (sql, take, own, params) = &*PRODUCE;
        let b = Binder::new(sqlx::query_scalar(sql.as_str()));
        let b = take.bind(b, now).at(*own, |b| {
            b.bind(batch).bind(now).bind(k).bind(customer.user_id).bind(customer.id)
        });
        let n: i64 = b.finish(*params).fetch_one(&pool).await?;
        produced += n;
        crate::redemption::wake_payouts(&pool);
    }
    let window_end = clock.now();
    // let the tail finish (bounded)
    let drain_until = Instant::now() + Duration::from_secs(30);
    loop {
        let open: i64 = sqlx::query_scalar("select count(*) from disbursements where status <> 'completed'")
            .fetch_one(&pool)
            .await?;
        if open == 0 || Instant::now() > drain_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    let _ = worker_task.await;
    // what MoMo saw: the busiest second of status queries
    let queries: serde_json::Value = http
        .get(format!("{sim_base}/sim/status-queries"))
        .send()
        .await
        .context("asking the simulator for its status-query count")?
        .json()
        .await
        .context("reading the simulator's status-query count")?;
    let _ = sim.kill().await;
    let max_per_second = queries["maxPerSecond"].as_u64().unwrap_or(0);
    let total_queries = queries["total"].as_u64().unwrap_or(0);
    let allowed = state.settings.get().0.payments.status_queries_per_second;

    let in_window: i64 = sqlx::query_scalar(
        "select count(*) from disbursements where status = 'completed' and disbursed_at between $1 and $2",
    )
    .bind(t0)
    .bind(window_end)
    .fetch_one(&pool)
    .await?;
    let (completed, other, transfers): (i64, i64, i64) = sqlx::query_as(
        "select count(*) filter (where status = 'completed'), count(*) filter (where status <> 'completed'), \
                (select count(*) from disbursement_attempts) from disbursements",
    )
    .fetch_one(&pool)
    .await?;
    let mut latencies: Vec<f64> = sqlx::query_scalar(
        "select extract(epoch from d.disbursed_at - r.created_at)::float8 * 1000 from disbursements d \
         join redemptions r on r.id = d.redemption_id where d.status = 'completed'",
    )
    .fetch_all(&pool)
    .await?;
    latencies.sort_by(|a, b| a.total_cmp(b));
    let window = (window_end - t0).num_milliseconds() as f64 / 1000.0;
    s.drop().await;
    let rate = in_window as f64 / window;
    Ok(format!(
        "payouts, {}: offered {}/s for {seconds} s ({produced} redemptions); completed within the window {in_window} \
         = {rate:.0}/s (goal >= {:.0}/s, every one completed) {}; all completed {completed}, not completed {other}, \
         attempts {transfers}; redemption → SUCCESSFUL p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; \
         status queries {total_queries}, at most {max_per_second} in any second (setting {allowed}) {}",
        r.label,
        r.rate,
        r.goal,
        if rate >= r.goal && other == 0 { "PASS" } else { "MISS" },
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        if max_per_second <= u64::from(allowed) {
            "PASS"
        } else {
            "MISS"
        },
    ))
}

/// The producer's statement: `k` codes of the batch taken for redemption (the code lifecycle's
/// move to `used`), each with its redemption and queued payout.
static PRODUCE: std::sync::LazyLock<(String, TakeSql, Slot, usize)> = std::sync::LazyLock::new(|| {
    let mut p = Params::new();
    let take = TakeSql::new(&mut p, "c");
    let (own, [batch, now, k, user, customer]) = p.take::<5>();
    let sql = format!(
        r#"with c as (
             update promo_codes c set {set}
             where c.id in (select id from promo_codes where batch_id = {batch} and status = 'active'
                            order by serial limit {k} for update skip locked)
               and {guard}
             returning id, batch_id, amount, currency, serial),
           r as (
             insert into redemptions (user_id, customer_id, promo_code_id, batch_id, phone_number, amount, currency,
                                      idempotency_key, created_at)
             select {user}, {customer}, c.id, c.batch_id, '+25078' || lpad(c.serial::text, 7, '0'), c.amount, c.currency,
                    'bench-' || c.id, {now} from c
             returning id, phone_number, amount, currency),
           d as (
             insert into disbursements (redemption_id, msisdn, amount, currency, status, max_attempts,
                                        next_attempt_at, created_at, updated_at)
             select r.id, substr(r.phone_number, 2), r.amount, r.currency, 'queued', 4, {now}, {now}, {now} from r
             returning id)
           select count(*) from d"#,
        set = take.set,
        guard = take.guard,
    );
    (sql, take, own, p.count())
});
