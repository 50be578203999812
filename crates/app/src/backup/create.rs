//! Making a backup: a row `running`, a repeatable-read transaction that exports its snapshot
//! and counts the key tables in it, `pg_dump --format=custom --snapshot=…` (so the dump holds
//! exactly what was counted) streamed from its stdout through the sealer to storage, then the
//! row `succeeded` (size, SHA-256 of the stored bytes, counts) and `backup.created` audited in
//! one transaction — or `failed` with the error and the `backup.failed` alert.

use std::process::Stdio;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use uuid::Uuid;

use super::format::{self, Sealer, CHUNK};
use super::{Env, Storage, StorageKind};
use crate::audit::{self, Action, Actor, AuditEvent};
use crate::clock::SharedClock;
use crate::settings::model::BackupSettings;

/// Who asked and where the job is, for the row.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request {
    pub requested_by: Option<Uuid>,
    pub job_id: Option<i64>,
}

/// What a finished backup wrote.
#[derive(Debug, Clone)]
pub struct Made {
    pub id: Uuid,
    pub size: u64,
    pub sha256: String,
}

/// Makes one backup under `settings`. The row records the outcome either way; a failure also
/// raises the alert and is returned.
pub async fn create(
    env: &Env,
    settings: &BackupSettings,
    req: Request,
    clock: &SharedClock,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> anyhow::Result<Made> {
    let id = Uuid::new_v4();
    let kind = StorageKind::of(settings);
    let key = Storage::key_for(kind, settings, id);
    let started = clock.now();
    sqlx::query(
        "insert into backups (id, job_id, requested_by, started_at, status, storage, object_key, compressed, encrypted) \
         values ($1, $2, $3, $4, 'running', $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(req.job_id)
    .bind(req.requested_by)
    .bind(started)
    .bind(kind)
    .bind(&key)
    .bind(settings.database_backup_compression)
    .bind(settings.database_backup_encryption)
    .execute(&env.pool)
    .await?;
    match dump(env, settings, kind, &key, id, progress).await {
        Ok((size, sha256, counts)) => {
            let now = clock.now();
            let mut tx = env.pool.begin().await?;
            sqlx::query(
                "update backups set status = 'succeeded', finished_at = $2, size_bytes = $3, sha256 = $4, counts = $5 \
                 where id = $1 and status = 'running'",
            )
            .bind(id)
            .bind(now)
            .bind(size as i64)
            .bind(&sha256)
            .bind(serde_json::Value::Object(counts.clone()))
            .execute(&mut *tx)
            .await?;
            audit::record(
                &mut tx,
                &AuditEvent::new(actor(req), Action::BackupCreated, "backup", id).after(json!({
                    "storage": kind.as_str(), "objectKey": key, "sizeBytes": size, "sha256": sha256,
                    "compressed": settings.database_backup_compression,
                    "encrypted": settings.database_backup_encryption, "counts": counts,
                    "jobId": req.job_id,
                })),
                now,
            )
            .await?;
            tx.commit().await?;
            Ok(Made { id, size, sha256 })
        }
        Err(e) => {
            let why = format!("{e:#}");
            if let Ok(s) = Storage::open(kind, settings, &env.data_dir) {
                let _ = s.delete(&key).await;
            }
            let now = clock.now();
            let mut tx = env.pool.begin().await?;
            sqlx::query("update backups set status = 'failed', finished_at = $2, error = $3 where id = $1")
                .bind(id)
                .bind(now)
                .bind(&why)
                .execute(&mut *tx)
                .await?;
            super::raise_failure(&mut tx, id, "creation", &why, now).await?;
            tx.commit().await?;
            Err(e)
        }
    }
}

fn actor(req: Request) -> Actor {
    match req.requested_by {
        Some(user_id) => Actor::User {
            user_id,
            session_id: None,
        },
        None => Actor::System,
    }
}

type Counts = serde_json::Map<String, serde_json::Value>;

/// Counts inside an exported snapshot, dumps that snapshot, streams it to storage.
async fn dump(
    env: &Env,
    settings: &BackupSettings,
    kind: StorageKind,
    key: &str,
    id: Uuid,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> anyhow::Result<(u64, String, Counts)> {
    let storage = Storage::open(kind, settings, &env.data_dir)?;
    let (_, live_url) = env.live().await?;
    let mut snap = env.pool.begin().await?;
    sqlx::query("set transaction isolation level repeatable read, read only")
        .execute(&mut *snap)
        .await?;
    let snapshot: String = sqlx::query_scalar("select pg_export_snapshot()")
        .fetch_one(&mut *snap)
        .await?;
    let counts = super::count_rows(&mut snap).await?;

    let mut child = tokio::process::Command::new(pg_bin("pg_dump"))
        .arg("--format=custom")
        .arg(if settings.database_backup_compression {
            "-Z6"
        } else {
            "-Z0"
        })
        .arg(format!("--snapshot={snapshot}"))
        .arg("--no-password")
        .arg(format!("--dbname={live_url}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start pg_dump")?;
    let mut stdout = child.stdout.take().context("pg_dump has no stdout")?;
    let mut stderr = child.stderr.take().context("pg_dump has no stderr")?;
    let err_text = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    });

    let mut out = storage.writer(key).await?;
    let mut sealer = settings
        .database_backup_encryption
        .then(|| Sealer::new(&env.master, id));
    let mut tee = Tee::default();
    if let Some(s) = &sealer {
        tee.put(&s.header(), &mut out);
    }
    let mut buf = vec![0u8; CHUNK];
    let pumped: anyhow::Result<()> = async {
        loop {
            let n = format::fill(&mut stdout, &mut buf)
                .await
                .context("reading pg_dump's output")?;
            let last = n < CHUNK;
            match sealer.as_mut() {
                Some(s) => tee.put(&s.frame(&buf[..n], last), &mut out),
                None => tee.put(&buf[..n], &mut out),
            }
            out.wait_for_capacity(4).await.context("writing to storage")?;
            progress(tee.size);
            if last {
                return Ok(());
            }
        }
    }
    .await;
    let status = child.wait().await.context("waiting for pg_dump")?;
    let err_text = err_text.await.unwrap_or_default();
    snap.commit().await?;
    if let Err(e) = pumped {
        out.abort().await.ok();
        return Err(e);
    }
    if !status.success() {
        out.abort().await.ok();
        bail!("pg_dump failed ({status}): {}", err_text.trim());
    }
    out.finish().await.context("finishing the upload")?;
    Ok((tee.size, hex::encode(tee.hash.finalize()), counts))
}

/// Counts and hashes the stored bytes on their way out.
#[derive(Default)]
struct Tee {
    hash: Sha256,
    size: u64,
}

impl Tee {
    fn put(&mut self, bytes: &[u8], out: &mut object_store::WriteMultipart) {
        self.hash.update(bytes);
        self.size += bytes.len() as u64;
        out.write(bytes);
    }
}

/// A PostgreSQL client program: `PG_BIN_DIR/<name>` when that is set, else from the `PATH`.
pub fn pg_bin(name: &str) -> std::path::PathBuf {
    match std::env::var_os("PG_BIN_DIR") {
        Some(dir) => std::path::Path::new(&dir).join(name),
        None => name.into(),
    }
}

/// When `now` is due for a backup made at `last` under `frequency` (hourly, daily, weekly), with
/// five minutes of slack so a backup made a little late does not push the next one a whole period.
pub fn is_due(last: Option<DateTime<Utc>>, frequency: &str, now: DateTime<Utc>) -> bool {
    let period = match frequency {
        "hourly" => chrono::Duration::hours(1),
        "weekly" => chrono::Duration::weeks(1),
        _ => chrono::Duration::days(1),
    };
    match last {
        None => true,
        Some(t) => now >= t + period - chrono::Duration::minutes(5),
    }
}
