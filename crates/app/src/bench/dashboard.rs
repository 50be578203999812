//! `mbelyco bench dashboard`: the dashboard's data endpoint and page over a campaign of
//! 10,000,000 codes, 1,000,000 redemptions and 1,000,000 payouts ([`super::campaign::seed`]),
//! asked for by a signed-in Super Administrator (who sees every card) over HTTP.

use std::time::Instant;

use anyhow::Context;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use super::campaign::{self, Sizes};
use super::{percentile, reopen, scratch};
use crate::clock;
use crate::config::Config;

/// The goals: the data endpoint's p95, and the page's.
const API_GOAL_MS: f64 = 100.0;
const PAGE_GOAL_MS: f64 = 200.0;

/// `scale` divides the full campaign (1 = the figure); `keep` leaves the database for a
/// later `reuse`.
pub async fn run(config: &Config, scale: i64, requests: usize, keep: bool, reuse: Option<&str>) -> anyhow::Result<()> {
    let clock = clock::system();
    let s = match reuse {
        Some(name) => reopen(config, name, 8).await?,
        None => scratch(config, "dashboard", 8).await?,
    };
    let pool = s.pool.clone();
    if reuse.is_none() {
        campaign::seed(&pool, &Sizes::scaled(scale), clock.now()).await?;
    }
    let counts: (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from promo_codes), (select count(*) from redemptions), (select count(*) from disbursements)",
    )
    .fetch_one(&pool)
    .await?;
    println!(
        "stored: {} codes, {} redemptions, {} payouts",
        counts.0, counts.1, counts.2
    );

    let state = crate::startup::build_state(pool.clone(), config.clone(), clock.clone()).await?;
    // one session per timed series: the per-session request quota (600 a minute by default)
    // stays on, as in production, and three series of 200 in under a minute would meet it
    let tokens = [
        staff_session(&state).await?,
        staff_session(&state).await?,
        staff_session(&state).await?,
    ];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(crate::startup::serve(state.clone(), listener, shutdown.clone()));
    let client = reqwest::Client::builder().build().context("HTTP client")?;
    let time = |path: &'static str, accept: &'static str, token: &str| {
        let cookie = format!("{}={token}", crate::identity::session::COOKIE);
        let (client, base) = (client.clone(), base.clone());
        async move {
            // a few to warm the caches a running server would have warm
            for _ in 0..5 {
                get(&client, &base, path, accept, &cookie).await?;
            }
            let mut times = Vec::with_capacity(requests);
            for _ in 0..requests.max(1) {
                let t = Instant::now();
                get(&client, &base, path, accept, &cookie).await?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(f64::total_cmp);
            anyhow::Ok(times)
        }
    };
    let api = time("/api/v1/admin/reports/dashboard", "application/json", &tokens[0]).await?;
    let detailed = time(
        "/api/v1/admin/reports/dashboard?view=detailed",
        "application/json",
        &tokens[1],
    )
    .await?;
    let page = time("/", "text/html", &tokens[2]).await?;
    shutdown.cancel();
    let _ = server.await;

    let line = |what: &str, t: &[f64], goal: f64| {
        let p95 = percentile(t, 0.95);
        println!(
            "{what}: {} requests, p50 {:.1} ms, p95 {p95:.1} ms, max {:.1} ms — {} (goal p95 ≤ {goal:.0} ms)",
            t.len(),
            percentile(t, 0.5),
            t.last().copied().unwrap_or_default(),
            if p95 <= goal { "PASS" } else { "MISS" }
        );
    };
    line("data endpoint GET /api/v1/admin/reports/dashboard", &api, API_GOAL_MS);
    line(
        "data endpoint, detailed view (every chart, 20 feed items)",
        &detailed,
        API_GOAL_MS,
    );
    line("page GET /", &page, PAGE_GOAL_MS);
    if keep || reuse.is_some() {
        s.keep().await;
    } else {
        s.drop().await;
    }
    Ok(())
}

async fn get(client: &reqwest::Client, base: &str, path: &str, accept: &str, cookie: &str) -> anyhow::Result<()> {
    let res = client
        .get(format!("{base}{path}"))
        .header("accept", accept)
        .header("cookie", cookie)
        .send()
        .await?;
    anyhow::ensure!(res.status().is_success(), "{path} answered {}", res.status());
    res.bytes().await?;
    Ok(())
}

/// A Super Administrator (every card) signed in for the run: the session's cookie value.
async fn staff_session(state: &crate::web::AppState) -> anyhow::Result<String> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let email = format!("bench-{}@mbelyco.test", uuid::Uuid::new_v4().simple());
    let password = SecretString::from("bench dashboard password 1");
    let user = crate::identity::create_staff(
        &mut tx,
        &crate::identity::NewStaff {
            email: &email,
            full_name: "Bench Administrator",
            password: Some(&password),
            roles: &[crate::access::SUPER_ADMIN],
        },
        &crate::unit::Acting::system(now),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let session = crate::identity::session::create(
        &mut tx,
        user,
        crate::identity::session::Stage::Full,
        None,
        Some("bench"),
        chrono::Duration::hours(1),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(session.token)
}
