//! Checking a backup by restoring it: the stored bytes are read back (their size and SHA-256
//! compared with the row's), decrypted chunk by chunk and piped into `pg_restore --no-owner`
//! into a fresh scratch database `<db>_verify_<short id>`; there the key tables are counted and
//! compared with the counts taken in the dump's snapshot and the audit chain is verified; the
//! scratch database is dropped and the result recorded (`backup.verified` audited; a failure
//! raises `backup.failed`, a pass resolves it). [`restore_into`] is the same read-and-restore
//! into a named database, for the CLI.

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::migrate::MigrateDatabase;
use sqlx::Postgres;
use tokio::io::{AsyncRead, AsyncReadExt};
use uuid::Uuid;

use super::create::pg_bin;
use super::{format, Backup, Env, Status, Storage, VerifyStatus};
use crate::audit::{self, Action, Actor, AuditEvent};
use crate::clock::SharedClock;
use crate::settings::model::BackupSettings;

/// The verification's outcome, as recorded in `verify_detail`.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub passed: bool,
    pub detail: Value,
}

/// Verifies backup `id` and records the result. `Err` only when the result could not be recorded.
pub async fn verify(env: &Env, settings: &BackupSettings, id: Uuid, clock: &SharedClock) -> anyhow::Result<Outcome> {
    let backup = {
        let mut conn = env.pool.acquire().await?;
        super::get(&mut conn, id).await.map_err(|e| anyhow::anyhow!("{e}"))?
    };
    let outcome = match check(env, settings, &backup).await {
        Ok(o) => o,
        Err(e) => Outcome {
            passed: false,
            detail: json!({"error": format!("{e:#}")}),
        },
    };
    let now = clock.now();
    let status = if outcome.passed {
        VerifyStatus::Passed
    } else {
        VerifyStatus::Failed
    };
    let mut tx = env.pool.begin().await?;
    sqlx::query("update backups set verify_status = $2, verified_at = $3, verify_detail = $4 where id = $1")
        .bind(id)
        .bind(status)
        .bind(now)
        .bind(&outcome.detail)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        &AuditEvent::new(Actor::System, Action::BackupVerified, "backup", id)
            .metadata(json!({"passed": outcome.passed, "detail": outcome.detail})),
        now,
    )
    .await?;
    if outcome.passed {
        super::resolve_failure(&mut tx, now).await?;
    } else {
        let why = outcome.detail["error"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| "the restored copy does not match".to_owned());
        super::raise_failure(&mut tx, id, "verification", &why, now).await?;
    }
    tx.commit().await?;
    Ok(outcome)
}

/// Restores into a scratch database, checks it, drops it.
async fn check(env: &Env, settings: &BackupSettings, b: &Backup) -> anyhow::Result<Outcome> {
    if b.status != Status::Succeeded {
        bail!("backup {} is {:?}, not a finished backup", b.id, b.status);
    }
    let (live, _) = env.live().await?;
    let scratch = format!("{live}_verify_{}", &b.id.simple().to_string()[..8]);
    let url = env.url_of(&scratch)?;
    let _ = Postgres::force_drop_database(&url).await;
    Postgres::create_database(&url)
        .await
        .with_context(|| format!("cannot create the scratch database {scratch}"))?;
    let result = restore_and_count(env, settings, b, &url).await;
    if let Err(e) = Postgres::force_drop_database(&url).await {
        tracing::warn!(error = %e, %scratch, "could not drop the scratch database");
    }
    let (restored_counts, chain) = result?;
    let mut mismatches = Vec::new();
    for (table, expected) in b.counts.as_object().into_iter().flatten() {
        let found = restored_counts.get(table).cloned().unwrap_or(Value::Null);
        if &found != expected {
            mismatches.push(json!({"table": table, "expected": expected, "found": found}));
        }
    }
    let chain_intact = chain.is_intact();
    let passed = mismatches.is_empty() && chain_intact;
    let mut detail = json!({
        "scratchDatabase": scratch,
        "expectedCounts": b.counts,
        "restoredCounts": restored_counts,
        "mismatches": mismatches,
        "auditChain": chain,
    });
    if !passed {
        detail["error"] = json!(if !chain_intact {
            "the audit chain of the restored copy is broken".to_owned()
        } else {
            format!("{} table(s) restored with other row counts", mismatches.len())
        });
    }
    Ok(Outcome { passed, detail })
}

async fn restore_and_count(
    env: &Env,
    settings: &BackupSettings,
    b: &Backup,
    url: &str,
) -> anyhow::Result<(serde_json::Map<String, Value>, crate::audit::chain::VerifyReport)> {
    restore_into(env, settings, b, url, false).await?;
    let pool = crate::db::connect_url(url, 2).await?;
    let counted = async {
        let mut conn = pool.acquire().await?;
        let counts = super::count_rows(&mut conn).await?;
        drop(conn);
        let chain = crate::audit::chain::verify(&pool).await?;
        Ok::<_, sqlx::Error>((counts, chain))
    }
    .await;
    pool.close().await;
    Ok(counted?)
}

/// Reads backup `b` from its storage, checks its bytes and restores it with pg_restore into the
/// database at `url` (which must exist). `clean`: drop what the dump recreates first.
pub async fn restore_into(
    env: &Env,
    settings: &BackupSettings,
    b: &Backup,
    url: &str,
    clean: bool,
) -> anyhow::Result<()> {
    let storage = Storage::open(b.storage, settings, &env.data_dir)?;
    let raw = storage.reader(&b.object_key).await?;
    let seen = Arc::new(Mutex::new((Sha256::new(), 0u64)));
    let input = Hashing {
        inner: raw,
        seen: Arc::clone(&seen),
    };
    let mut cmd = tokio::process::Command::new(pg_bin("pg_restore"));
    cmd.arg("--no-owner").arg("--exit-on-error").arg("--no-password");
    if clean {
        cmd.arg("--clean").arg("--if-exists");
    }
    let mut child = cmd
        .arg(format!("--dbname={url}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start pg_restore")?;
    let mut stdin = child.stdin.take().context("pg_restore has no stdin")?;
    let mut stderr = child.stderr.take().context("pg_restore has no stderr")?;
    let err_text = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    });
    let pumped: anyhow::Result<()> = async {
        let mut input = input;
        if b.encrypted {
            format::open_stream(&env.master, b.id, &mut input, &mut stdin).await?;
        } else {
            tokio::io::copy(&mut input, &mut stdin).await?;
        }
        Ok(())
    }
    .await;
    drop(stdin);
    let status = child.wait().await.context("waiting for pg_restore")?;
    let err_text = err_text.await.unwrap_or_default();
    let (hash, size) = {
        let g = seen.lock().unwrap_or_else(|p| p.into_inner());
        (hex::encode(g.0.clone().finalize()), g.1)
    };
    // the stored bytes first: a changed file explains whatever pg_restore then said
    if let Err(e) = pumped {
        let damaged = e
            .downcast_ref::<format::FormatError>()
            .is_some_and(|f| !matches!(f, format::FormatError::Io(_)));
        if damaged || status.success() {
            bail!("the stored backup is damaged: {e:#}");
        }
        bail!("pg_restore failed ({status}): {}", err_text.trim());
    }
    if Some(size as i64) != b.size_bytes || Some(&hash) != b.sha256.as_ref() {
        bail!(
            "the stored bytes differ from what was written (SHA-256 {hash}, {size} bytes; recorded {}, {} bytes)",
            b.sha256.as_deref().unwrap_or("none"),
            b.size_bytes.unwrap_or(0)
        );
    }
    if !status.success() {
        bail!("pg_restore failed ({status}): {}", err_text.trim());
    }
    Ok(())
}

/// Hashes and counts the bytes read through it.
struct Hashing<R> {
    inner: R,
    seen: Arc<Mutex<(Sha256, u64)>>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Hashing<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = &res {
            let new = &buf.filled()[before..];
            let mut g = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            g.0.update(new);
            g.1 += new.len() as u64;
        }
        res
    }
}
