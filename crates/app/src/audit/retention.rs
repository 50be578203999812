//! Audit retention (decision 0056). `audit_logs` is partitioned by Kigali month; the hourly
//! `audit.retention` job keeps the partitions of this month and the next three in place, and
//! archives every month that ended more than `security.audit.retentionDays` ago:
//!
//! 1. its rows, with their chain fields, are written as the audit export's JSON lines (gzip) to
//!    the backup folder (`DATA_DIR/<backup storagePath>/audit-archive/`), and the file is checked
//!    offline (`verify_export`) before anything is dropped, and copied to the S3-compatible
//!    backup storage when the backup settings choose it ([`Offsite`]);
//! 2. in one transaction: a `retention` chain head at the month's last chain position, the
//!    `audit_archives` row (file, size, SHA-256, rows, chain positions), the `audit.archived`
//!    audit row, and the partition detached and dropped.
//!
//! The chain (`audit_chain`) keeps every position, so `audit verify` still checks every link, and
//! the archive file verifies on its own with `mbelyco audit verify --file`. A month with rows not
//! yet sealed waits for the next run. The default partition (rows of a month that had no
//! partition) is never dropped.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use flate2::{read::GzDecoder, write::GzEncoder, Compression};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{export, query::Filter, Action, Actor, AuditEvent};
use crate::backup::storage::{Storage, StorageKind};
use crate::clock::{kigali, SharedClock};
use crate::jobs::{JobContext, JobError, JobHandler};
use crate::settings::model::BackupSettings;
use crate::settings::SettingsStore;

pub const KIND: &str = "audit.retention";
/// Months of partitions made ahead of the current one.
const MONTHS_AHEAD: u32 = 3;

/// One month's partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Month {
    pub first_day: NaiveDate,
}

impl Month {
    pub fn of(t: DateTime<Utc>) -> Self {
        let d = t.with_timezone(&kigali()).date_naive();
        Month {
            first_day: d.with_day(1).unwrap_or(d),
        }
    }

    fn parse(partition: &str) -> Option<Self> {
        let rest = partition.strip_prefix("audit_logs_p")?;
        let (y, m) = rest.split_once('_')?;
        let first_day = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)?;
        Some(Month { first_day })
    }

    pub fn name(&self) -> String {
        format!("audit_logs_p{}", self.first_day.format("%Y_%m"))
    }

    pub fn next(&self) -> Self {
        Month {
            first_day: self
                .first_day
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(self.first_day),
        }
    }

    fn start(&self) -> DateTime<Utc> {
        let local = self.first_day.and_hms_opt(0, 0, 0).unwrap_or_default();
        kigali()
            .from_local_datetime(&local)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn end(&self) -> DateTime<Utc> {
        self.next().start()
    }
}

/// Makes the partitions of `now`'s month and the next three where missing. Returns the months
/// that keep using the default partition because rows of theirs are already there.
pub async fn ensure_partitions(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<String>, sqlx::Error> {
    let mut month = Month::of(now);
    let mut fallback = Vec::new();
    for _ in 0..=MONTHS_AHEAD {
        let made: bool = sqlx::query_scalar("select audit_logs_ensure_partition($1)")
            .bind(month.first_day)
            .fetch_one(pool)
            .await?;
        if !made {
            fallback.push(month.name());
        }
        month = month.next();
    }
    Ok(fallback)
}

/// The month partitions that exist, oldest first.
pub async fn partitions(pool: &PgPool) -> Result<Vec<Month>, sqlx::Error> {
    let names: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_inherits i join pg_class c on c.oid = i.inhrelid \
         where i.inhparent = 'audit_logs'::regclass order by 1",
    )
    .fetch_all(pool)
    .await?;
    Ok(names.iter().filter_map(|n| Month::parse(n)).collect())
}

/// What one archived month left behind.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Archived {
    pub partition: String,
    pub rows: i64,
    pub first_chain_seq: Option<i64>,
    pub last_chain_seq: Option<i64>,
    pub file: String,
    pub size_bytes: i64,
    pub sha256: String,
}

/// Archives and drops every month that ended before `now - retention_days`; the months done.
pub async fn run(
    pool: &PgPool,
    folder: &Path,
    offsite: Option<&Offsite>,
    retention_days: u32,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Archived>> {
    let cutoff = now - Duration::days(i64::from(retention_days));
    let mut done = Vec::new();
    for month in partitions(pool).await? {
        if month.end() > cutoff {
            break;
        }
        if let Some(a) = archive(pool, folder, offsite, &month, now).await? {
            done.push(a);
        }
    }
    Ok(done)
}

/// Archives one month; `None` when it has rows waiting to be sealed (tried again next run).
async fn archive(
    pool: &PgPool,
    folder: &Path,
    offsite: Option<&Offsite>,
    month: &Month,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Archived>> {
    let (from, to) = (month.start(), month.end());
    let waiting: bool =
        sqlx::query_scalar("select exists (select 1 from audit_pending where created_at >= $1 and created_at < $2)")
            .bind(from)
            .bind(to)
            .fetch_one(pool)
            .await?;
    if waiting {
        tracing::info!(partition = %month.name(), "audit month not archived yet: rows wait to be sealed");
        return Ok(None);
    }
    let (rows, first, last): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
        "select count(*), min(c.chain_seq), max(c.chain_seq) from audit_logs a \
         join audit_chain c on c.audit_id = a.id where a.created_at >= $1 and a.created_at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await?;
    let all: i64 = sqlx::query_scalar("select count(*) from audit_logs where created_at >= $1 and created_at < $2")
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await?;
    // a row outside the chain is for `audit verify` to name, not for retention to drop
    anyhow::ensure!(
        all == rows,
        "{}: {} rows are neither sealed nor waiting to be sealed; not archived",
        month.name(),
        all - rows
    );
    let path = folder.join(format!("{}.jsonl.gz", month.name()));
    let (size, sha256) = if rows > 0 {
        write_archive(pool, &path, from, to, rows).await?
    } else {
        (0, String::new())
    };

    let mut tx = pool.begin().await?;
    // one retention at a time, and the sealer's lock keeps the head from moving under us
    sqlx::query("select pg_advisory_xact_lock(hashtext('audit_logs_partitions'))")
        .execute(&mut *tx)
        .await?;
    if let Some(last) = last {
        sqlx::query(
            "insert into audit_chain_heads (chain_seq, head_hash, kind, created_at) \
             select chain_seq, integrity_hash, 'retention', $2 from audit_chain where chain_seq = $1",
        )
        .bind(last)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    let id = Uuid::now_v7();
    let file = match (rows > 0, offsite) {
        (false, _) => String::new(),
        (true, None) => path.display().to_string(),
        (true, Some(o)) => o.upload(&path, &month.name()).await?,
    };
    sqlx::query(
        "insert into audit_archives (id, partition_name, range_from, range_to, row_count, first_chain_seq, \
         last_chain_seq, file_path, size_bytes, sha256, archived_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(month.name())
    .bind(from)
    .bind(to)
    .bind(rows)
    .bind(first)
    .bind(last)
    .bind(&file)
    .bind(size)
    .bind(&sha256)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let archived = Archived {
        partition: month.name(),
        rows,
        first_chain_seq: first,
        last_chain_seq: last,
        file,
        size_bytes: size,
        sha256,
    };
    super::record(
        &mut tx,
        &AuditEvent::new(Actor::System, Action::AuditArchived, "audit_archive", id)
            .after(serde_json::to_value(&archived)?),
        now,
    )
    .await?;
    // the name comes from pg_class and matches audit_logs_pYYYY_MM: safe to splice
    let detach = format!("alter table audit_logs detach partition {}", month.name());
    let drop = format!("drop table {}", month.name());
    sqlx::query(&detach).execute(&mut *tx).await?;
    sqlx::query(&drop).execute(&mut *tx).await?;
    tx.commit().await?;
    tracing::info!(partition = %archived.partition, rows, "audit month archived and dropped");
    Ok(Some(archived))
}

/// Writes the month's sealed rows as gzip'd JSON lines, checks the file offline, and returns its
/// size and SHA-256 (hex). Written to a temporary name and renamed once it verifies, so a file at
/// `path` is whole.
async fn write_archive(
    pool: &PgPool,
    path: &Path,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    rows: i64,
) -> anyhow::Result<(i64, String)> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let tmp: PathBuf = path.with_extension("gz.part");
    let filter = Filter {
        from: Some(from),
        to: Some(to),
        ..Filter::default()
    };
    let mut chunks = export::stream(pool.clone(), filter, export::Format::Jsonl);
    let mut gz = GzEncoder::new(BufWriter::new(File::create(&tmp)?), Compression::default());
    let mut lines = 0i64;
    while let Some(chunk) = chunks.recv().await {
        let chunk = chunk?;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as i64;
        gz.write_all(&chunk)?;
    }
    gz.finish()?.flush()?;
    let check = tmp.clone();
    let checked = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut hasher = Sha256::new();
        let size = std::io::copy(&mut File::open(&check)?, &mut hasher)?;
        let verdict = export::verify_export(BufReader::new(GzDecoder::new(File::open(&check)?)))?;
        Ok((size as i64, hex::encode(hasher.finalize()), verdict))
    })
    .await?;
    let fail = |why: String| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::anyhow!(why)
    };
    let (size, sha256, verdict) = checked.map_err(|e| fail(e.to_string()))?;
    if lines != rows {
        return Err(fail(format!(
            "the archive holds {lines} rows where the month has {rows} sealed rows"
        )));
    }
    if let Err(b) = verdict {
        return Err(fail(format!("the archive does not verify: {b}")));
    }
    tokio::fs::rename(&tmp, path).await?;
    Ok((size, sha256))
}

/// The backup storage when it is S3-compatible: each archive is copied there, under
/// `<s3Prefix>/audit-archive/`, before its month is dropped (the local copy stays in the backup
/// folder).
pub struct Offsite {
    pub storage: Storage,
    pub bucket: String,
    pub prefix: String,
}

impl Offsite {
    /// The S3 storage of the backup settings; `None` when backups are kept locally.
    pub fn of(settings: &BackupSettings, data_dir: &Path) -> anyhow::Result<Option<Self>> {
        if StorageKind::of(settings) != StorageKind::S3 {
            return Ok(None);
        }
        Ok(Some(Offsite {
            storage: Storage::open(StorageKind::S3, settings, data_dir)?,
            bucket: settings.s3_bucket.trim().to_owned(),
            prefix: settings.s3_prefix.trim().trim_matches('/').to_owned(),
        }))
    }

    pub fn key(&self, partition: &str) -> String {
        if self.prefix.is_empty() {
            format!("audit-archive/{partition}.jsonl.gz")
        } else {
            format!("{}/audit-archive/{partition}.jsonl.gz", self.prefix)
        }
    }

    /// Streams the file to the bucket; its address (`s3://bucket/key`).
    async fn upload(&self, path: &Path, partition: &str) -> anyhow::Result<String> {
        use tokio::io::AsyncReadExt;
        let key = self.key(partition);
        let mut out = self.storage.writer(&key).await?;
        let mut file = tokio::fs::File::open(path).await?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            out.wait_for_capacity(4).await?;
            out.write(&buf[..n]);
        }
        out.finish().await?;
        Ok(format!("s3://{}/{key}", self.bucket))
    }
}

/// The `audit.retention` job.
pub struct Handler {
    pub settings: Arc<SettingsStore>,
    pub data_dir: PathBuf,
}

impl Handler {
    pub fn folder(data_dir: &Path, storage_path: &str) -> PathBuf {
        data_dir.join(storage_path).join("audit-archive")
    }
}

#[async_trait]
impl JobHandler for Handler {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let now = ctx.clock.now();
        let settings = self.settings.get();
        let fallback = ensure_partitions(&ctx.pool, now).await?;
        let folder = Self::folder(&self.data_dir, &settings.0.backup.storage_path);
        let offsite = Offsite::of(&settings.0.backup, &self.data_dir).map_err(JobError::Permanent)?;
        let days = settings.0.security.audit.retention_days;
        let done = run(&ctx.pool, &folder, offsite.as_ref(), days, now)
            .await
            .map_err(JobError::Retryable)?;
        Ok(Some(json!({"archived": done, "monthsInDefaultPartition": fallback})))
    }
}

/// Enqueues the retention job once an hour.
pub async fn schedule(pool: PgPool, clock: SharedClock, shutdown: CancellationToken) {
    use crate::jobs::housekeeping::{every_hour, schedule_periodic};
    schedule_periodic(pool, clock, shutdown, "audit retention", every_hour(KIND)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_kigali_months() {
        // 23:30 UTC on 31 January is 01:30 on 1 February in Kigali
        let t = Utc.with_ymd_and_hms(2027, 1, 31, 23, 30, 0).unwrap();
        let m = Month::of(t);
        assert_eq!(m.name(), "audit_logs_p2027_02");
        assert_eq!(m.start(), Utc.with_ymd_and_hms(2027, 1, 31, 22, 0, 0).unwrap());
        assert_eq!(m.end(), Utc.with_ymd_and_hms(2027, 2, 28, 22, 0, 0).unwrap());
        assert_eq!(Month::parse("audit_logs_p2027_02"), Some(m));
        assert_eq!(Month::parse("audit_logs_default"), None);
        let dec = Month::parse("audit_logs_p2026_12").unwrap();
        assert_eq!(dec.next().name(), "audit_logs_p2027_01");
    }
}
