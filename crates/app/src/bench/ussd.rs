//! `mbelyco bench ussd`: sustained redemptions through `POST /api/v1/ussd/handle` over real HTTP
//! (the app served on a local port against a scratch database), each request a fresh valid code
//! from a phone seen for the first time; then the same load against `GET /api/health`.
//!
//! The rollups' cost (issue #21, decision 0039): `--without-rollups` runs the load with the
//! rollup triggers disabled in the scratch database (only those), and `--rollups-compare` runs
//! it with and without them alternately (with, without, without, with, …, so a drift as the
//! tables grow falls on both) and prints both rates, their ratio and PASS/MISS against a cost of
//! at most 5 %.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use super::{percentile, scratch};
use crate::clock;
use crate::codes::cli::{generate, Target};
use crate::config::Config;

const SECRET: &str = "bench-ussd-endpoint-secret-0123456789";
/// Customers registered before the run (a campaign under way).
const EARLIER_CUSTOMERS: i32 = 20_000;

/// Whether the rollup triggers run while redemptions are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollups {
    With,
    Without,
    /// `rounds` pairs of runs, with and without, alternating.
    Compare {
        rounds: usize,
    },
}

/// The most the rollups may cost: redemptions with them at least 95 % as fast as without.
const MAX_ROLLUP_COST: f64 = 0.05;

/// What one run of the load measured.
pub(super) struct Load {
    pub(super) done: usize,
    pub(super) errors: usize,
    pub(super) seconds: f64,
    /// milliseconds, sorted
    pub(super) latencies: Vec<f64>,
    /// (when the request started, in ms from the run's start; its latency in ms) for every
    /// request slower than [`SLOW_MS`]
    pub(super) slow: Vec<(f64, f64)>,
}

/// Requests slower than this are listed by when they started, to tell a stall (many requests at
/// once) from a spread-out tail.
const SLOW_MS: f64 = 100.0;

impl Load {
    pub(super) fn per_second(&self) -> f64 {
        self.done as f64 / self.seconds
    }

    pub(super) fn line(&self, what: &str) -> String {
        format!(
            "{what}: {} requests in {:.1} s = {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {} errors",
            self.done,
            self.seconds,
            self.per_second(),
            percentile(&self.latencies, 0.5),
            percentile(&self.latencies, 0.99),
            percentile(&self.latencies, 1.0),
            self.errors
        )
    }

    /// The slow requests grouped by the 100 ms window they started in: a stall shows as one
    /// window holding many of them.
    fn stalls(&self) -> String {
        let mut windows: std::collections::BTreeMap<u64, (usize, f64)> = Default::default();
        for &(at, ms) in &self.slow {
            let w = windows.entry((at / 100.0) as u64).or_default();
            w.0 += 1;
            w.1 = w.1.max(ms);
        }
        let list: Vec<String> = windows
            .iter()
            .map(|(w, (n, max))| format!("{:.1} s: {n} (max {max:.0} ms)", *w as f64 / 10.0))
            .collect();
        format!(
            "  {} requests over {SLOW_MS:.0} ms{}{}",
            self.slow.len(),
            if list.is_empty() { "" } else { ", by start: " },
            list.join(", ")
        )
    }
}

pub async fn run(config: &Config, connections: usize, seconds: u64, rollups: Rollups) -> anyhow::Result<()> {
    let clock = clock::system();
    let runs = match rollups {
        Rollups::Compare { rounds } => 2 * rounds.max(1),
        _ => 1,
    };
    // enough codes for 2,500 redemptions a second in every run, far above the goal
    let codes_needed = (2_500 * seconds as i64 * runs as i64).max(10_000);
    // the app's own pool size (DATABASE_MAX_CONNECTIONS), as a deployment runs it
    let s = scratch(config, "ussd", config.database_max_connections).await?;
    let pool = s.pool.clone();
    let state = crate::startup::build_state(pool.clone(), config.clone(), clock.clone()).await?;
    crate::devrun::apply_settings(
        &state,
        crate::settings::Category::Ussd,
        serde_json::json!({"endpointSecret": SECRET}),
        "bench",
    )
    .await?;
    let codes = codes_to_redeem(&state, "bench ussd", codes_needed).await?;
    // a campaign under way: customers who redeemed before (their phones are not the bench's),
    // and statistics that know it, as autovacuum keeps them. On tables analysed while nearly empty
    // PostgreSQL plans the foreign-key checks as sequential scans and keeps those plans.
    println!("registering {EARLIER_CUSTOMERS} earlier customers …");
    sqlx::query(
        r#"with u as (
             insert into users (kind, phone_number, is_verified, created_at, updated_at)
             select 'customer', '+25079' || lpad(g::text, 7, '0'), true, now(), now()
             from generate_series(1, $1) g
             returning id, phone_number),
           c as (
             insert into customers (user_id, msisdn, language, network_code, first_seen_at, last_seen_at)
             select id, phone_number, 'rw', '63510', now(), now() from u)
         insert into user_role_assignments (user_id, role_id, created_at)
         select u.id, r.id, now() from u, roles r where r.name = $2"#,
    )
    .bind(EARLIER_CUSTOMERS)
    .bind(crate::access::CUSTOMER)
    .execute(&pool)
    .await?;
    sqlx::query("vacuum analyze").execute(&pool).await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(crate::startup::serve(state.clone(), listener, shutdown.clone()));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .context("HTTP client")?;

    let redeemer = Redeemer {
        client: client.clone(),
        url: format!("{base}/api/v1/ussd/handle?secret={SECRET}"),
        codes,
        connections,
        seconds,
    };
    if let Rollups::Compare { rounds } = rollups {
        compare(&pool, &redeemer, rounds.max(1)).await?;
        shutdown.cancel();
        let _ = server.await;
        drop(state);
        s.drop().await;
        return Ok(());
    }
    set_rollups(&pool, rollups == Rollups::With).await?;
    println!("{connections} connections for {seconds} s, each request a fresh code from a new phone …");
    let redeem = redeemer.load(0).await;
    let health_url = format!("{base}/api/health");
    let health = load(connections, seconds, {
        let client = client.clone();
        move |_| {
            let (client, url) = (client.clone(), health_url.clone());
            async move { Ok(client.get(&url).send().await?.status().is_success()) }
        }
    })
    .await;
    shutdown.cancel();
    let _ = server.await;
    let (redemptions, used): (i64, i64) = sqlx::query_as(
        "select (select count(*) from redemptions), (select count(*) from promo_codes where status = 'used')",
    )
    .fetch_one(&pool)
    .await?;

    // the app's own view: from the hop's start (before it waits for a database connection) to its
    // closing statement, as the interaction log records it
    let (hop50, hop99): (f64, f64) = sqlx::query_as(
        "select percentile_cont(0.5) within group (order by latency_ms), \
                percentile_cont(0.99) within group (order by latency_ms) \
         from ussd_interactions where outcome = 'redeemed'",
    )
    .fetch_one(&pool)
    .await?;
    let p99 = percentile(&redeem.latencies, 0.99);
    let pass = redeem.per_second() >= 1000.0 && p99 <= 50.0 && redeem.errors == 0;
    println!();
    println!("== bench ussd ==");
    println!("{}", redeem.line("redemptions through POST /api/v1/ussd/handle"));
    println!(
        "  goal >= 1000/s, p99 <= 50 ms, 0 errors: {}  ({redemptions} redemptions stored, {used} codes used)",
        if pass { "PASS" } else { "MISS" }
    );
    println!("{}", redeem.stalls());
    println!(
        "  rollup triggers: {}",
        if rollups == Rollups::With {
            "on"
        } else {
            "off (--without-rollups)"
        }
    );
    println!(
        "  inside the app (interaction log, hop start to closing statement): p50 {hop50:.0} ms, p99 {hop99:.0} ms"
    );
    println!("{}", health.line("same load on GET /api/health"));
    println!(
        "  redemption throughput is {:.2} of health's; p99 {:.1}x health's",
        redeem.per_second() / health.per_second().max(f64::MIN_POSITIVE),
        p99 / percentile(&health.latencies, 0.99).max(f64::MIN_POSITIVE)
    );
    drop(state);
    s.drop().await;
    Ok(())
}

/// A new batch of `count` codes of 1,000 RWF for a bench to redeem, generated as staff would, and
/// its codes in serial order.
pub(super) async fn codes_to_redeem(
    state: &crate::web::AppState,
    name: &str,
    count: i64,
) -> anyhow::Result<Arc<Vec<String>>> {
    println!("generating {count} codes to redeem …");
    let expires = (state.clock.now() + chrono::Duration::days(90))
        .format("%Y-%m-%d")
        .to_string();
    let batch = generate(
        state,
        Target::New(crate::batches::NewBatch {
            name: name.into(),
            description: String::new(),
            total_codes: count,
            amount_per_code: 1000,
            expires_at: expires,
            assigned_user_id: None,
            generate: false,
        }),
        count,
    )
    .await?;
    Ok(Arc::new(
        sqlx::query_scalar("select code from promo_codes where batch_id = $1 order by serial")
            .bind(batch)
            .fetch_all(&state.pool)
            .await?,
    ))
}

/// The redemption load: each request a fresh code from a phone seen for the first time.
pub(super) struct Redeemer {
    pub(super) client: reqwest::Client,
    pub(super) url: String,
    pub(super) codes: Arc<Vec<String>>,
    pub(super) connections: usize,
    pub(super) seconds: u64,
}

impl Redeemer {
    /// One run, using the codes and phones from number `offset` on.
    pub(super) async fn load(&self, offset: usize) -> Load {
        let (client, codes, url) = (self.client.clone(), self.codes.clone(), self.url.clone());
        load(self.connections, self.seconds, move |i| {
            let (client, codes, url) = (client.clone(), codes.clone(), url.clone());
            let i = offset + i;
            async move {
                let code = codes.get(i).context("ran out of codes")?;
                let phone = format!("+25078{:07}", i);
                let session = format!("ATUid_bench{i:020}");
                let text = format!("1*{code}");
                let res = client
                    .post(&url)
                    .form(&[
                        ("sessionId", session.as_str()),
                        ("serviceCode", "*789#"),
                        ("phoneNumber", phone.as_str()),
                        ("networkCode", "63510"),
                        ("text", text.as_str()),
                    ])
                    .send()
                    .await?;
                let ok = res.status() == 200;
                let body = res.text().await?;
                Ok(ok && body.starts_with("END Murakoze!"))
            }
        })
        .await
    }
}

async fn set_rollups(pool: &sqlx::PgPool, on: bool) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    Ok(crate::stats::fold::set_triggers(&mut conn, on).await?)
}

/// Runs the load with and without the rollup triggers, alternating, and prints both rates.
async fn compare(pool: &sqlx::PgPool, r: &Redeemer, rounds: usize) -> anyhow::Result<()> {
    println!(
        "{} connections, {rounds} rounds of two {} s runs (with and without the rollup triggers, alternating) …",
        r.connections, r.seconds
    );
    let (mut with, mut without): (Vec<Load>, Vec<Load>) = (Vec::new(), Vec::new());
    let mut offset = 0;
    for round in 0..rounds {
        let order = if round % 2 == 0 { [true, false] } else { [false, true] };
        for on in order {
            set_rollups(pool, on).await?;
            let l = r.load(offset).await;
            offset += l.done;
            let what = if on { "with rollups   " } else { "without rollups" };
            println!("  round {}: {}", round + 1, l.line(what));
            if on {
                with.push(l);
            } else {
                without.push(l);
            }
        }
    }
    set_rollups(pool, true).await?;
    let rate = |runs: &[Load]| {
        let done: usize = runs.iter().map(|l| l.done).sum();
        let secs: f64 = runs.iter().map(|l| l.seconds).sum();
        done as f64 / secs.max(f64::MIN_POSITIVE)
    };
    let errors: usize = with.iter().chain(&without).map(|l| l.errors).sum();
    let (on, off) = (rate(&with), rate(&without));
    let ratio = on / off.max(f64::MIN_POSITIVE);
    let cost = 1.0 - ratio;
    let pass = cost <= MAX_ROLLUP_COST && errors == 0;
    let unfolded: i64 = sqlx::query_scalar("select count(*) from stats_hourly where not folded")
        .fetch_one(pool)
        .await?;
    println!();
    println!("== bench ussd: the rollups' cost ==");
    println!("redemptions with the rollup triggers:    {on:.0}/s");
    println!("redemptions without the rollup triggers: {off:.0}/s");
    println!(
        "  with/without = {ratio:.3}, cost {:.1} % (goal <= {:.0} %, 0 errors): {}  ({errors} errors; {unfolded} delta rows written, unfolded)",
        cost * 100.0,
        MAX_ROLLUP_COST * 100.0,
        if pass { "PASS" } else { "MISS" }
    );
    Ok(())
}

/// Runs `connections` loops issuing requests `make(i)` (i counts up across all loops) for
/// `seconds`; a request counts as an error if it fails or returns `false`.
pub(super) async fn load<F, Fut>(connections: usize, seconds: u64, make: F) -> Load
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<bool>> + Send,
{
    let make = Arc::new(make);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (make, next) = (make.clone(), next.clone());
        tasks.spawn(async move {
            let mut lat = Vec::new();
            let mut slow = Vec::new();
            let mut errors = 0usize;
            while Instant::now() < until {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let t = Instant::now();
                let ok = matches!(make(i).await, Ok(true));
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                lat.push(ms);
                if ms > SLOW_MS {
                    slow.push(((t - started).as_secs_f64() * 1000.0, ms));
                }
                if !ok {
                    errors += 1;
                }
            }
            (lat, slow, errors)
        });
    }
    let mut latencies = Vec::new();
    let mut slow = Vec::new();
    let mut errors = 0;
    while let Some(r) = tasks.join_next().await {
        if let Ok((l, s, e)) = r {
            latencies.extend(l);
            slow.extend(s);
            errors += e;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    Load {
        done: latencies.len(),
        errors,
        seconds,
        latencies,
        slow,
    }
}
