//! `mbelyco backup create | list | verify ID | restore ID --into DB [--force]`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use sqlx::migrate::MigrateDatabase;
use sqlx::Postgres;
use uuid::Uuid;

use super::create::{self, Request};
use super::web::human_size;
use super::{verify, Env};
use crate::audit::{self, Action, Actor, AuditEvent};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::settings::SettingsStore;

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Back up the database now per the backup settings, then verify the backup by a restore.
    Create,
    /// The backups, newest first.
    List,
    /// Verify a backup: restore it into a scratch database and compare row counts and the audit chain.
    Verify { id: Uuid },
    /// Restore a backup into a database (created when missing). Restoring over the live
    /// database needs `--force` and replaces its tables.
    Restore {
        id: Uuid,
        /// The database to restore into (a name on the configured server).
        #[arg(long)]
        into: String,
        /// Allow restoring over the live database (the one DATABASE_URL names).
        #[arg(long)]
        force: bool,
    },
}

pub async fn run(config: &Config, clock: SharedClock, command: BackupCommand) -> anyhow::Result<ExitCode> {
    let pool = crate::db::connect(config).await?;
    let keys = crate::crypto::Keys::derive(&config.secret_key);
    let store = SettingsStore::load(pool.clone(), keys.settings.clone()).await?;
    let settings = store.get().0.backup.clone();
    let env = Arc::new(Env::new(pool.clone(), config));
    match command {
        BackupCommand::Create => {
            let started = std::time::Instant::now();
            let made = create::create(&env, &settings, Request::default(), &clock, &|_| {}).await?;
            let made_secs = started.elapsed().as_secs_f64();
            println!(
                "backup {} made in {made_secs:.1} s: {} ({}), SHA-256 {}",
                made.id,
                human_size(made.size as i64),
                settings.storage_type,
                made.sha256
            );
            let started = std::time::Instant::now();
            let outcome = verify::verify(&env, &settings, made.id, &clock).await?;
            print_outcome(&outcome, started.elapsed().as_secs_f64());
            Ok(if outcome.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        BackupCommand::List => {
            let mut conn = pool.acquire().await?;
            let rows = super::list(&mut conn, 1000).await?;
            println!(
                "{:<36}  {:<16}  {:<9}  {:>10}  {:<5}  verification",
                "id", "started (UTC)", "state", "size", "where"
            );
            for b in rows {
                println!(
                    "{:<36}  {:<16}  {:<9}  {:>10}  {:<5}  {:?}",
                    b.id,
                    b.started_at.format("%Y-%m-%d %H:%M"),
                    format!("{:?}", b.status).to_lowercase(),
                    b.size_bytes.map_or_else(|| "-".to_owned(), human_size),
                    b.storage.as_str(),
                    b.verify_status
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Verify { id } => {
            let started = std::time::Instant::now();
            let outcome = verify::verify(&env, &settings, id, &clock).await?;
            print_outcome(&outcome, started.elapsed().as_secs_f64());
            Ok(if outcome.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        BackupCommand::Restore { id, into, force } => restore(&env, &settings, &clock, id, &into, force).await,
    }
}

fn print_outcome(o: &verify::Outcome, secs: f64) {
    if o.passed {
        println!("verified in {secs:.1} s: restored copy matches (row counts, audit chain intact)");
    } else {
        println!(
            "VERIFICATION FAILED in {secs:.1} s: {}",
            o.detail["error"].as_str().unwrap_or("see the detail")
        );
    }
    println!("{}", serde_json::to_string_pretty(&o.detail).unwrap_or_default());
}

async fn restore(
    env: &Env,
    settings: &crate::settings::model::BackupSettings,
    clock: &SharedClock,
    id: Uuid,
    into: &str,
    force: bool,
) -> anyhow::Result<ExitCode> {
    if into.is_empty() || !into.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        eprintln!("mbelyco: --into must be a database name (letters, digits, _)");
        return Ok(ExitCode::from(2));
    }
    let b = {
        let mut conn = env.pool.acquire().await?;
        super::get(&mut conn, id).await.map_err(|e| anyhow::anyhow!("{e}"))?
    };
    let live = into == env.live().await?.0;
    if live {
        let tables = live_tables(&env.pool).await?;
        println!(
            "{} is the live database: restoring backup {id} (made {}) over it replaces these {} tables:",
            into,
            b.started_at.format("%Y-%m-%d %H:%M UTC"),
            tables.len()
        );
        for (t, n) in &tables {
            println!("  {t:<40} {n:>12} rows");
        }
        if !force {
            eprintln!("mbelyco: refusing to restore over the live database without --force");
            return Ok(ExitCode::from(2));
        }
    }
    let url = env.url_of(into)?;
    let existed = Postgres::database_exists(&url).await?;
    if !existed {
        Postgres::create_database(&url)
            .await
            .with_context(|| format!("cannot create the database {into}"))?;
    }
    let started = std::time::Instant::now();
    verify::restore_into(env, settings, &b, &url, existed).await?;
    println!(
        "restored backup {id} into {into} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let now = clock.now();
    let mut tx = env.pool.begin().await?;
    audit::record(
        &mut tx,
        &AuditEvent::new(Actor::System, Action::BackupRestored, "backup", id)
            .metadata(json!({"into": into, "liveDatabase": live, "forced": force, "by": "cli"})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ExitCode::SUCCESS)
}

/// The live database's tables with their row counts (estimates are not enough for a warning).
async fn live_tables(pool: &sqlx::PgPool) -> anyhow::Result<Vec<(String, i64)>> {
    let names: Vec<String> =
        sqlx::query_scalar("select tablename from pg_tables where schemaname = 'public' order by tablename")
            .fetch_all(pool)
            .await?;
    let mut out = Vec::with_capacity(names.len());
    for t in names {
        let n: i64 = sqlx::query_scalar(&format!("select count(*) from \"{}\"", t.replace('"', "\"\"")))
            .fetch_one(pool)
            .await?;
        out.push((t, n));
    }
    Ok(out)
}
