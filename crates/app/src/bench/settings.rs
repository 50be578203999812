//! `mbelyco bench settings`: how long a saved setting takes to reach every running process.
//! Starts `serve` and `worker` as separate processes of this binary on a scratch database,
//! saves `changes` settings one after another, and times each until both processes say (in
//! `settings_applied`) that they run with the new version. Goal (issue #20): within 2 s.

use std::time::{Duration, Instant};

use anyhow::Context;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::config::Config;
use crate::settings::{self, Category};

const GOAL: Duration = Duration::from_secs(2);

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(command: &str, config: &Config, url: &str) -> anyhow::Result<Child> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = std::process::Command::new(std::env::current_exe()?)
        .arg(command)
        .env("DATABASE_URL", url)
        .env("SECRET_KEY", config.secret_key.expose_secret())
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("SIMULATORS", "off")
        .env("RUST_LOG", "warn")
        .env(
            "DATA_DIR",
            std::env::temp_dir().join(format!("mbelyco-bench-settings-{}", uuid::Uuid::new_v4())),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start `{command}`"))?;
    Ok(Child(child))
}

async fn versions(pool: &sqlx::PgPool) -> anyhow::Result<Vec<(String, i64)>> {
    Ok(
        sqlx::query_as("select role, version from settings_applied order by role")
            .fetch_all(pool)
            .await?,
    )
}

pub async fn run(config: &Config, changes: usize) -> anyhow::Result<bool> {
    let scratch = super::scratch(config, "settings", 4).await?;
    let pool = scratch.pool.clone();
    let secrets = crate::crypto::Keys::derive(&config.secret_key).settings;
    let serve = start("serve", config, &scratch.url)?;
    let worker = start("worker", config, &scratch.url)?;
    let started = Instant::now();
    while versions(&pool).await?.len() < 2 {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "serve and worker did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("serve and worker running as separate processes; {changes} changes, one at a time");
    let mut took = Vec::with_capacity(changes);
    for i in 0..changes {
        let saved = Instant::now();
        let mut tx = pool.begin().await?;
        let out = settings::update(
            &mut tx,
            &secrets,
            Category::Business,
            json!({"lockTimeoutSeconds": 10 + (i % 20)})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            Some(format!("bench change {i}")),
            &crate::unit::Acting::system(crate::clock::Clock::now(&crate::clock::SystemClock)),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        tx.commit().await?;
        loop {
            let all = versions(&pool).await?;
            if all.len() >= 2 && all.iter().all(|(_, v)| *v == out.version) {
                break;
            }
            anyhow::ensure!(
                saved.elapsed() < Duration::from_secs(30),
                "a change did not arrive: {all:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        took.push(saved.elapsed());
        // changes a person makes are seconds apart; keep them apart so each is timed alone
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop((serve, worker));
    took.sort();
    let p = |q: f64| took[((took.len() as f64 - 1.0) * q).round() as usize];
    let (p50, p95, max) = (p(0.5), p(0.95), took[took.len() - 1]);
    let pass = max <= GOAL;
    println!(
        "settings change → every process (serve + worker): p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms; goal ≤ {} ms: {}",
        p50.as_secs_f64() * 1000.0,
        p95.as_secs_f64() * 1000.0,
        max.as_secs_f64() * 1000.0,
        GOAL.as_millis(),
        if pass { "PASS" } else { "MISS" }
    );
    scratch.drop().await;
    Ok(pass)
}
