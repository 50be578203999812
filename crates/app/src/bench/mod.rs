//! `mbelyco bench …`: benchmarks that print their figures. Each runs in a scratch database on
//! the configured server and drops it afterwards.
//!
//! One file per subject: [`audit_log`] (the audit chain's writers and verifier), [`codes`]
//! (generation, PDF layout, CSV import), [`search`] (partial-code search), [`ussd`] (the USSD
//! redemption path), [`payouts`] (the payout worker against the MoMo simulator), [`settings`]
//! (a saved setting reaching separate serve and worker processes) and [`alerts`] (a wrong-code
//! flood and the alert rules' cost on the USSD path).

mod alert_email;
pub mod alerts;
mod audit_log;
mod audit_viewer;
pub mod backup;
pub mod campaign;
mod codes;
pub mod dashboard;
pub mod payouts;
pub mod reports;
mod search;
pub mod settings;
pub mod smtp_sink;
pub mod ussd;

pub use audit_log::audit;
pub use codes::{codes, import, pdf};
pub use search::search;

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::migrate::MigrateDatabase;
use sqlx::{PgPool, Postgres};

use crate::config::{database_name, Config};

struct Scratch {
    url: String,
    pool: PgPool,
}

async fn scratch(config: &Config, tag: &str, connections: u32) -> anyhow::Result<Scratch> {
    let base = config.database_url.expose_secret();
    let name = database_name(base).context("DATABASE_URL names no database")?;
    let scratch_name = format!("{name}_bench_{tag}_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let url = crate::config::with_database(base, &scratch_name).context("DATABASE_URL names no database")?;
    Postgres::create_database(&url)
        .await
        .context("cannot create the scratch database")?;
    let pool = crate::db::connect_url(&url, connections).await?;
    crate::db::migrate(&pool).await?;
    println!("scratch database {scratch_name} created and migrated");
    Ok(Scratch { url, pool })
}

/// A database an earlier run kept (`--keep`), reopened without migrating or filling it.
async fn reopen(config: &Config, name: &str, connections: u32) -> anyhow::Result<Scratch> {
    let base = config.database_url.expose_secret();
    let url = crate::config::with_database(base, name).context("DATABASE_URL names no database")?;
    let pool = crate::db::connect_url(&url, connections)
        .await
        .with_context(|| format!("cannot open the kept database {name}"))?;
    crate::db::migrate(&pool).await?;
    Ok(Scratch { url, pool })
}

impl Scratch {
    /// Leaves the database in place and says where it is.
    async fn keep(self) {
        self.pool.close().await;
        let name = self.url.rsplit('/').next().unwrap_or_default().to_owned();
        println!("scratch database kept: reuse it with --reuse {name}");
    }

    async fn drop(self) {
        self.pool.close().await;
        // forced: autovacuum may still be analysing the rows just written
        match Postgres::force_drop_database(&self.url).await {
            Ok(()) => println!("scratch database dropped"),
            Err(e) => println!("could not drop the scratch database: {e}"),
        }
    }
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}
