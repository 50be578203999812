//! The database: connecting, creating the database when it is missing, and the embedded
//! migrations (applied at start-up; `mbelyco migrate` applies them alone).

use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{PgPool, Postgres};

use crate::config::Config;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Creates the configured database if the server does not have it yet.
pub async fn ensure_database(config: &Config) -> anyhow::Result<bool> {
    let url = config.database_url.expose_secret();
    let exists = Postgres::database_exists(url)
        .await
        .with_context(|| format!("cannot reach PostgreSQL at {}", redact_url(url)))?;
    if exists {
        return Ok(false);
    }
    Postgres::create_database(url)
        .await
        .with_context(|| format!("cannot create the database {}", redact_url(url)))?;
    Ok(true)
}

pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    connect_url(config.database_url.expose_secret(), config.database_max_connections).await
}

/// A pool on `url` (the configured database, or a bench's scratch one).
pub async fn connect_url(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    pool_options(max_connections)
        .connect_with(connect_options(url)?)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {}", redact_url(url)))
}

/// The connection options `url` asks for. A server on this machine's loopback is reached without
/// TLS unless the URL (or `PGSSLMODE`) asks for it: encryption between two processes on one host
/// protects nothing, and cost about 8 % of PostgreSQL's CPU on the redemption path (decision
/// 0017). Any other host keeps the driver's default, TLS when the server offers it; a hosted
/// database's URL usually says `sslmode=require`.
pub fn connect_options(url: &str) -> anyhow::Result<PgConnectOptions> {
    let options: PgConnectOptions = url
        .parse()
        .with_context(|| format!("DATABASE_URL is not a valid URL: {}", redact_url(url)))?;
    let options = options.application_name("mbelyco");
    let asked = url.contains("sslmode=") || std::env::var_os("PGSSLMODE").is_some();
    Ok(if !asked && is_loopback(options.get_host()) {
        options.ssl_mode(PgSslMode::Disable)
    } else {
        options
    })
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.starts_with('/')
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The pool every process uses (the benches too). No ping before each acquire: it is a round
/// trip on every request, and a connection that died (a database restart) fails its next query
/// and is dropped by the pool, so the request after it gets a fresh one.
pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
}

pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("a database migration failed")
}

/// Applied vs embedded migrations, for the health check.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationStatus {
    pub embedded: usize,
    pub applied: usize,
    pub current: bool,
    pub latest_version: Option<i64>,
}

pub async fn migration_status(pool: &PgPool) -> Result<MigrationStatus, sqlx::Error> {
    let applied: Vec<i64> = sqlx::query_scalar("select version from _sqlx_migrations where success order by version")
        .fetch_all(pool)
        .await?;
    let embedded: Vec<i64> = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .collect();
    let current = embedded.iter().all(|v| applied.contains(v));
    Ok(MigrationStatus {
        embedded: embedded.len(),
        applied: applied.len(),
        current,
        latest_version: applied.last().copied(),
    })
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s + 3 => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://u:pw@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn loopback_goes_without_tls_unless_the_url_asks() {
        use sqlx::postgres::PgSslMode;
        let mode = |url: &str| format!("{:?}", super::connect_options(url).unwrap().get_ssl_mode());
        let disabled = format!("{:?}", PgSslMode::Disable);
        if std::env::var_os("PGSSLMODE").is_none() {
            assert_eq!(mode("postgres://postgres@127.0.0.1:5432/m"), disabled);
            assert_eq!(mode("postgres://postgres@localhost/m"), disabled);
            assert_eq!(mode("postgres://postgres@[::1]:5432/m"), disabled);
            assert_ne!(mode("postgres://u@db.example.neon.tech/m"), disabled);
        }
        assert_eq!(
            mode("postgres://postgres@127.0.0.1/m?sslmode=require"),
            format!("{:?}", PgSslMode::Require)
        );
    }
}
