//! Database backups (issue #23 item 4, decision 0053). Owns `backups`.
//!
//! A backup is `pg_dump --format=custom` read as a stream from the child's stdout, sealed in
//! chunks under a key derived from `SECRET_KEY` ([`format`]), and written to storage — a folder
//! under `DATA_DIR` or S3-compatible object storage ([`storage`]) — without holding the dump in
//! memory ([`create`]). The row counts of the key tables are taken inside pg_dump's snapshot.
//! Every backup is then verified ([`verify`]): read back, decrypted, its SHA-256 checked, restored
//! with `pg_restore --no-owner` into a scratch database whose row counts and audit chain are
//! checked, then dropped; the result is recorded, and a failure raises the `backup.failed`
//! system alert (resolved by the next success). The jobs ([`jobs`]) make backups on the
//! settings' schedule and delete those past the retention days; the panel and API ([`web`]) list
//! them, back up now and download; the CLI restores one into a database.

pub mod cli;
pub mod create;
pub mod format;
pub mod jobs;
pub mod storage;
pub mod verify;
pub mod web;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::access::Permission;
use crate::alerts::{self, NewAlert, Severity};
use crate::config::Config;
use crate::error::AppError;
pub use storage::{Storage, StorageKind};

/// The alert a failed backup or verification raises (and the next success resolves).
pub const ALERT: &str = "backup.failed";

/// The tables whose row counts a verification compares.
pub const KEY_TABLES: &[&str] = &[
    "users",
    "roles",
    "system_settings",
    "batches",
    "promo_codes",
    "customers",
    "redemptions",
    "disbursements",
    "audit_logs",
    "audit_chain",
];

/// A backup's state (`backups.status`); only this module moves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Succeeded,
    Failed,
    /// Past the retention days: the stored file is deleted.
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Expired => "expired",
        }
    }

    /// Every move of `backups.status`, each made by this module only, and who makes it.
    pub const TRANSITIONS: &'static [(Status, Status, &'static str)] = &[
        (
            Status::Running,
            Status::Succeeded,
            "the backup (`backup::create`), once pg_dump finished and the file is stored",
        ),
        (
            Status::Running,
            Status::Failed,
            "the backup on any error, or the schedule when its job is gone (alert `backup.failed`)",
        ),
        (
            Status::Succeeded,
            Status::Expired,
            "retention (`backup.schedule`) past the retention days, never the newest verified backup",
        ),
        (
            Status::Failed,
            Status::Expired,
            "retention (`backup.schedule`) past the retention days",
        ),
    ];
}

/// The result of a backup's verification (`backups.verify_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum VerifyStatus {
    Pending,
    Passed,
    Failed,
}

/// One backup as the list, the API and the CLI show it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    pub id: Uuid,
    pub job_id: Option<i64>,
    pub requested_by: Option<Uuid>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: Status,
    pub storage: StorageKind,
    pub object_key: String,
    /// Bytes stored (after compression and encryption).
    pub size_bytes: Option<i64>,
    /// SHA-256 (hex) of the stored bytes.
    pub sha256: Option<String>,
    pub compressed: bool,
    pub encrypted: bool,
    /// Row counts of the key tables, taken inside the dump's snapshot.
    #[schema(value_type = Object)]
    pub counts: Value,
    pub verify_status: VerifyStatus,
    pub verified_at: Option<DateTime<Utc>>,
    /// The verification: row counts found in the restored copy, the audit chain's result.
    #[schema(value_type = Object)]
    pub verify_detail: Value,
    pub error: Option<String>,
    pub expired_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, job_id, requested_by, started_at, finished_at, status, storage, object_key, size_bytes, \
     sha256, compressed, encrypted, counts, verify_status, verified_at, verify_detail, error, expired_at";

/// The newest backups first.
pub async fn list(conn: &mut PgConnection, limit: i64) -> Result<Vec<Backup>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from backups order by started_at desc, id limit $1"
    ))
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Backup, AppError> {
    sqlx::query_as(&format!("select {COLUMNS} from backups where id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("backup"))
}

/// What making, verifying and restoring a backup needs: the database (its pool and URL for
/// pg_dump / pg_restore), `DATA_DIR` and `SECRET_KEY`.
#[derive(Clone)]
pub struct Env {
    pub pool: PgPool,
    pub database_url: SecretString,
    pub data_dir: PathBuf,
    pub master: SecretString,
}

impl Env {
    pub fn new(pool: PgPool, config: &Config) -> Self {
        Self {
            pool,
            database_url: config.database_url.clone(),
            data_dir: config.data_dir.clone(),
            master: config.secret_key.clone(),
        }
    }

    fn url(&self) -> &str {
        self.database_url.expose_secret()
    }

    /// The database the pool is connected to (its name, and its URL for pg_dump): the server and
    /// user of `DATABASE_URL`, the database the pool actually uses.
    pub async fn live(&self) -> anyhow::Result<(String, String)> {
        let name: String = sqlx::query_scalar("select current_database()")
            .fetch_one(&self.pool)
            .await?;
        let url = self.url_of(&name)?;
        Ok((name, url))
    }

    /// The URL of database `name` on the same server.
    pub fn url_of(&self, name: &str) -> anyhow::Result<String> {
        crate::config::with_database(self.url(), name).ok_or_else(|| anyhow::anyhow!("DATABASE_URL names no database"))
    }
}

/// The shared handle the job handlers and handlers keep.
pub type SharedEnv = Arc<Env>;

/// Row counts of [`KEY_TABLES`] on `conn` (inside whatever snapshot it has).
pub async fn count_rows(conn: &mut PgConnection) -> Result<serde_json::Map<String, Value>, sqlx::Error> {
    let mut out = serde_json::Map::new();
    for t in KEY_TABLES {
        let n: i64 = sqlx::query_scalar(&format!("select count(*) from {t}"))
            .fetch_one(&mut *conn)
            .await?;
        out.insert((*t).to_owned(), n.into());
    }
    Ok(out)
}

/// Raises (or refreshes) the `backup.failed` alert.
pub async fn raise_failure(
    conn: &mut PgConnection,
    id: Uuid,
    what: &str,
    why: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let alert = NewAlert::new(
        ALERT,
        Severity::Critical,
        Permission::SystemAlertsView,
        format!("Database backup {what} failed"),
    )
    .body(format!(
        "Backup {id}: {why}. The backups page (/admin/backups) lists every backup and its verification."
    ))
    .subject("backup", id)
    .dedupe(ALERT);
    alerts::raise(conn, &alert, now).await?;
    Ok(())
}

/// Resolves the `backup.failed` alert after a backup made and verified.
pub async fn resolve_failure(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    alerts::close(conn, ALERT, None, now).await?;
    Ok(())
}
