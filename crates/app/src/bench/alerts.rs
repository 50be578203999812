//! `mbelyco bench alerts`: the alert rules under load (issue #22), over real HTTP against a
//! scratch database.
//!
//! 1. The flood: `--attempts` wrong-code attempts (default 10,000) spread evenly over `--seconds`
//!    (default 60) from `--phones` phones (default 100) through `POST /api/v1/ussd/handle`: exactly
//!    one open `fraud.wrong_code_burst` alert per phone (PASS/MISS).
//! 2. The rules' cost: `bench ussd`'s redemption load with and without the rule evaluator running
//!    (`alerts.evaluate` every second — sixty times as often as the worker schedules it — with one
//!    custom rule per metric), alternating, side by side: PASS if within 5 %.
//! 3. The e-mail latency ([`super::alert_email`]): `--email-alerts` alerts (default 1,000) raised
//!    over `--email-seconds` (default 60), from each raise to its e-mail accepted by an in-process
//!    SMTP server: p50/p99, PASS/MISS against 5 s. `--email-only` runs this part alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use super::scratch;
use super::ussd::{codes_to_redeem, Load, Redeemer};
use crate::clock;
use crate::config::Config;

const SECRET: &str = "bench-alerts-endpoint-secret-0123456789";
/// The most the rules may cost: redemptions with the evaluator at least 95 % as fast as without.
const MAX_COST: f64 = 0.05;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// only the e-mail latency
    pub email_only: bool,
    pub email_alerts: usize,
    pub email_seconds: u64,
    pub phones: usize,
    pub attempts: usize,
    pub seconds: u64,
    /// connections of the redemption load
    pub connections: usize,
    /// seconds of each redemption run
    pub load_seconds: u64,
    /// pairs of redemption runs (with and without the evaluator)
    pub rounds: usize,
}

pub async fn run(config: &Config, o: Options) -> anyhow::Result<()> {
    let clock = clock::system();
    let s = scratch(config, "alerts", config.database_max_connections).await?;
    let pool = s.pool.clone();
    let state = crate::startup::build_state(pool.clone(), config.clone(), clock.clone()).await?;
    crate::devrun::apply_settings(
        &state,
        crate::settings::Category::Ussd,
        serde_json::json!({"endpointSecret": SECRET}),
        "bench",
    )
    .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(crate::startup::serve(state.clone(), listener, shutdown.clone()));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(o.connections.max(32))
        .build()
        .context("HTTP client")?;
    let url = format!("{base}/api/v1/ussd/handle?secret={SECRET}");
    if o.email_only {
        println!("== bench alerts (e-mail only) ==");
        super::alert_email::run(config, &state, o.email_alerts, o.email_seconds).await?;
        shutdown.cancel();
        let _ = server.await;
        drop(state);
        s.drop().await;
        return Ok(());
    }

    // ---- 1. the flood ----------------------------------------------------------------------
    let phones = o.phones.max(1);
    let threshold = state.settings.get().0.business.redemption.wrong_code_flag_threshold as usize;
    println!(
        "flood: {} wrong-code attempts over {} s from {phones} phones …",
        o.attempts, o.seconds
    );
    let flood = flood(&client, &url, phones, o.attempts, o.seconds).await;
    let (open, phones_alerted, occurrences): (i64, i64, i64) = sqlx::query_as(
        "select count(*), count(distinct dedupe_key), coalesce(sum(occurrences), 0)::bigint from alerts \
         where kind = 'fraud.wrong_code_burst' and status <> 'resolved'",
    )
    .fetch_one(&pool)
    .await?;
    let flood_pass = open == phones as i64 && phones_alerted == phones as i64 && flood.errors == 0;
    println!();
    println!("== bench alerts ==");
    println!("{}", flood.line("wrong-code attempts through POST /api/v1/ussd/handle"));
    println!(
        "  open wrong-code alerts: {open} for {phones} phones ({phones_alerted} distinct, {occurrences} wrong codes counted on them)"
    );
    println!(
        "  goal exactly one open alert per phone, 0 errors: {}",
        if flood_pass { "PASS" } else { "MISS" }
    );
    if o.attempts / phones < threshold {
        println!("  (each phone sent fewer than the {threshold} wrong codes that flag it: raise --attempts)");
    }

    // ---- 2. the rules' cost on the USSD path ------------------------------------------------
    let runs = 2 * o.rounds.max(1);
    let codes_needed = (2_500 * o.load_seconds as i64 * runs as i64).max(10_000);
    let codes = codes_to_redeem(&state, "bench alerts", codes_needed).await?;
    custom_rules(&pool).await?;
    sqlx::query("vacuum analyze").execute(&pool).await?;
    let redeemer = Redeemer {
        client: client.clone(),
        url: url.clone(),
        codes,
        connections: o.connections,
        seconds: o.load_seconds,
    };
    println!(
        "{} connections, {} rounds of two {} s runs (with and without the rule evaluator, alternating) …",
        o.connections, o.rounds, o.load_seconds
    );
    let (mut with, mut without): (Vec<Load>, Vec<Load>) = (Vec::new(), Vec::new());
    let mut evaluations = 0usize;
    let mut offset = 0;
    for round in 0..o.rounds.max(1) {
        let order = if round % 2 == 0 { [true, false] } else { [false, true] };
        for on in order {
            let stop = CancellationToken::new();
            let evaluator = on.then(|| tokio::spawn(evaluator(pool.clone(), state.clone(), stop.clone())));
            let l = redeemer.load(offset).await;
            stop.cancel();
            if let Some(e) = evaluator {
                evaluations += e.await.unwrap_or(0);
            }
            offset += l.done;
            let what = if on {
                "with the evaluator   "
            } else {
                "without the evaluator"
            };
            println!("  round {}: {}", round + 1, l.line(what));
            if on {
                with.push(l);
            } else {
                without.push(l);
            }
        }
    }
    let rate = |runs: &[Load]| {
        let done: usize = runs.iter().map(|l| l.done).sum();
        let secs: f64 = runs.iter().map(|l| l.seconds).sum();
        done as f64 / secs.max(f64::MIN_POSITIVE)
    };
    let errors: usize = with.iter().chain(&without).map(|l| l.errors).sum();
    let (on, off) = (rate(&with), rate(&without));
    let ratio = on / off.max(f64::MIN_POSITIVE);
    let cost_pass = 1.0 - ratio <= MAX_COST && errors == 0;
    println!();
    println!("redemptions with the rule evaluator:    {on:.0}/s ({evaluations} evaluations, one a second)");
    println!("redemptions without the rule evaluator: {off:.0}/s");
    println!(
        "  with/without = {ratio:.3}, cost {:.1} % (goal <= {:.0} %, 0 errors): {}  ({errors} errors)",
        (1.0 - ratio) * 100.0,
        MAX_COST * 100.0,
        if cost_pass { "PASS" } else { "MISS" }
    );

    // ---- 3. e-mail latency ------------------------------------------------------------------
    println!();
    super::alert_email::run(config, &state, o.email_alerts, o.email_seconds).await?;

    shutdown.cancel();
    let _ = server.await;
    drop(state);
    s.drop().await;
    Ok(())
}

/// `attempts` wrong codes, the k-th sent at `k × seconds / attempts` from phone `k mod phones`,
/// each in a session of its own; paced by 64 senders.
async fn flood(client: &reqwest::Client, url: &str, phones: usize, attempts: usize, seconds: u64) -> Load {
    let started = Instant::now();
    let interval = Duration::from_secs_f64(seconds as f64 / attempts.max(1) as f64);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let (client, url, next) = (client.clone(), url.to_owned(), next.clone());
        tasks.spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0usize);
            loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if k >= attempts {
                    break;
                }
                tokio::time::sleep_until((started + interval.mul_f64(k as f64)).into()).await;
                let phone = format!("+25078{:07}", 5_000_000 + k % phones);
                let session = format!("ATUid_flood{k:020}");
                let t = Instant::now();
                let res = client
                    .post(&url)
                    .form(&[
                        ("sessionId", session.as_str()),
                        ("serviceCode", "*789#"),
                        ("phoneNumber", phone.as_str()),
                        ("networkCode", "63510"),
                        ("text", "1*ABCD-EFGH-JKLM-NPQR"),
                    ])
                    .send()
                    .await;
                let ok = match res {
                    Ok(r) => r.status() == 200 && r.text().await.is_ok_and(|b| b.starts_with("END")),
                    Err(_) => false,
                };
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                if !ok {
                    errors += 1;
                }
            }
            (lat, errors)
        });
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    while let Some(r) = tasks.join_next().await {
        if let Ok((l, e)) = r {
            latencies.extend(l);
            errors += e;
        }
    }
    latencies.sort_by(f64::total_cmp);
    Load {
        done: latencies.len(),
        errors,
        seconds: started.elapsed().as_secs_f64(),
        latencies,
        slow: Vec::new(),
    }
}

/// One custom rule per metric of the catalogue, so the evaluator reads every one.
async fn custom_rules(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    for m in crate::alerts::rules::custom::Metric::ALL {
        sqlx::query(
            "insert into alert_rules (name, metric, comparison, threshold, window_minutes, severity, created_at, updated_at) \
             values ($1, $2, 'gt', 1000000000, 60, 'info', now(), now())",
        )
        .bind(format!("bench {}", m.key()))
        .bind(m.key())
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// Runs every rule once a second until `stop`; returns how many evaluations ran.
async fn evaluator(pool: sqlx::PgPool, state: crate::web::AppState, stop: CancellationToken) -> usize {
    let mut n = 0;
    loop {
        let settings = state.settings.get();
        match crate::alerts::rules::evaluate::evaluate(&pool, &settings.0, state.clock.now()).await {
            Ok(_) => n += 1,
            Err(e) => tracing::warn!(error = %e, "an evaluation failed"),
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    n
}
