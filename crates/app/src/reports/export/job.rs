//! The export job (`reports.export`): builds the report (a built-in one from its spec, a custom
//! one from the definition in the payload), renders it into a temporary file under
//! `DATA_DIR/reports`, renames it into place and marks the row ready; and the retention job
//! (`reports.retention`, hourly) that deletes files past `expires_at`.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{CustomExport, FileStatus, ReportFile};
use crate::audit::{self, Action};
use crate::clock::SharedClock;
use crate::codes::export::Format;
use crate::jobs::{JobContext, JobError, JobHandler};
use crate::reports::custom_build::{self, Heading};
use crate::reports::model::{Block, DayRange, Kind, Report};
use crate::reports::pdf::PdfLook;
use crate::reports::{csv, Viewer};
use crate::settings::SettingsStore;
use crate::unit::Acting;

pub const KIND: &str = "reports.export";
pub const RETENTION_KIND: &str = "reports.retention";

/// The steps the progress bar counts (build, render, write) before the raw rows, if any.
const STEPS: i64 = 3;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    file_id: Uuid,
    /// A saved custom report's definition, as it was when the export was asked for.
    #[serde(default)]
    custom: Option<CustomExport>,
}

pub struct Handler {
    pub settings: Arc<SettingsStore>,
    pub data_dir: PathBuf,
}

/// A report as the settings want it rendered: without its charts when
/// `analytics.reports.includeCharts` is off.
pub fn with_settings(mut report: Report, include_charts: bool) -> Report {
    if !include_charts {
        for s in &mut report.sections {
            s.blocks.retain(|b| !matches!(b, Block::Chart(_)));
        }
    }
    report
}

async fn set_status(pool: &PgPool, id: Uuid, status: FileStatus, error: Option<&str>) -> Result<(), sqlx::Error> {
    sqlx::query("update report_files set status = $2, error = $3 where id = $1")
        .bind(id)
        .bind(status.as_str())
        .bind(error)
        .execute(pool)
        .await
        .map(|_| ())
}

#[async_trait]
impl JobHandler for Handler {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let p: Payload = ctx.payload()?;
        let mut conn = ctx.pool.acquire().await?;
        let file = super::get(&mut conn, p.file_id)
            .await
            .map_err(|e| JobError::Permanent(anyhow::anyhow!("{e}")))?;
        if file.status != FileStatus::Queued && file.status != FileStatus::Running {
            return Ok(Some(json!({"skipped": file.status.as_str()})));
        }
        set_status(&ctx.pool, file.id, FileStatus::Running, None).await?;
        match self.make(&ctx, &file, p.custom.as_ref()).await {
            Ok(size) => {
                sqlx::query(
                    "update report_files set status = 'ready', size_bytes = $2, finished_at = $3, error = null where id = $1",
                )
                .bind(file.id)
                .bind(size)
                .bind(ctx.clock.now())
                .execute(&ctx.pool)
                .await?;
                Ok(Some(json!({"fileId": file.id, "bytes": size})))
            }
            Err(e) => {
                let last = ctx.attempt >= 3 || matches!(e, JobError::Permanent(_));
                if last {
                    set_status(&ctx.pool, file.id, FileStatus::Failed, Some(&e.to_string())).await?;
                }
                Err(e)
            }
        }
    }
}

/// What a file holds: a built-in report, or a saved custom one.
enum What<'a> {
    Builtin(crate::reports::Spec),
    Custom(&'a CustomExport),
}

impl Handler {
    /// Builds, renders and writes the file; its size.
    async fn make(&self, ctx: &JobContext, file: &ReportFile, custom: Option<&CustomExport>) -> Result<i64, JobError> {
        let settings = self.settings.get();
        let analytics = &settings.0.analytics;
        let permanent = |e: crate::error::AppError| JobError::Permanent(anyhow::anyhow!("{e}"));
        let what = match custom {
            Some(c) => What::Custom(c),
            None => What::Builtin(file.spec().map_err(permanent)?),
        };
        let raw_rows = match &what {
            What::Builtin(spec)
                if spec.kind == Kind::Financial
                    && file.format() == Format::Csv
                    && analytics.report_include_raw_data =>
            {
                let mut conn = ctx.pool.acquire().await?;
                let n: i64 = sqlx::query_scalar(
                    "select count(*) from disbursements d where d.created_at >= $1 and d.created_at < $2 \
                 and ($3::uuid is null or exists (select 1 from redemptions r \
                      where r.id = d.redemption_id and r.batch_id = $3))",
                )
                .bind(spec.range.start())
                .bind(spec.range.end())
                .bind(spec.batch)
                .fetch_one(&mut *conn)
                .await?;
                n
            }
            _ => 0,
        };
        let total = STEPS + raw_rows;
        ctx.progress(0, total, Some("building the report")).await?;
        let report = {
            let mut conn = ctx.pool.acquire().await?;
            let now = ctx.clock.now();
            match &what {
                What::Builtin(spec) => {
                    let viewer = Viewer {
                        name: file.generated_by.clone(),
                        money: file.includes_money,
                    };
                    crate::reports::build_at(&mut conn, spec, &viewer, now).await
                }
                What::Custom(c) => {
                    let heading = Heading {
                        title: &c.title,
                        generated_by: &file.generated_by,
                        now,
                        max_points: analytics.max_data_points as usize,
                    };
                    let range = DayRange::new(file.range_from, file.range_to).map_err(permanent)?;
                    custom_build::build(&mut conn, &c.definition, range, &heading).await
                }
            }
            .map_err(permanent)?
        };
        let report = with_settings(report, analytics.report_include_charts);
        ctx.progress(1, total, Some("rendering")).await?;
        let bytes = match file.format() {
            Format::Csv => {
                let width = if raw_rows > 0 { csv::RAW_WIDTH } else { 0 };
                csv::render_padded(&report, width).map_err(|e| JobError::Permanent(e.into()))?
            }
            Format::Pdf => crate::reports::pdf::render_pdf(&report, &PdfLook::from_settings(&settings.0))
                .map_err(|e| JobError::Permanent(e.into()))?,
        };
        ctx.progress(2, total, Some("writing the file")).await?;
        let dir = super::dir(&self.data_dir);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| JobError::Retryable(e.into()))?;
        let path = file.path(&self.data_dir);
        let tmp = path.with_extension("part");
        let mut out = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| JobError::Retryable(e.into()))?;
        out.write_all(&bytes).await.map_err(|e| JobError::Retryable(e.into()))?;
        if raw_rows > 0 {
            out.write_all(&csv::raw_heading().map_err(|e| JobError::Permanent(e.into()))?)
                .await
                .map_err(|e| JobError::Retryable(e.into()))?;
            let batch = match &what {
                What::Builtin(spec) => spec.batch,
                What::Custom(_) => None,
            };
            let mut chunks = csv::raw_payouts(ctx.pool.clone(), &report, batch, raw_rows);
            let mut lines = 0i64;
            while let Some(chunk) = chunks.recv().await {
                let chunk = chunk.map_err(|e| JobError::Retryable(e.into()))?;
                lines += chunk.iter().filter(|b| **b == b'\n').count() as i64;
                out.write_all(&chunk).await.map_err(|e| JobError::Retryable(e.into()))?;
                ctx.progress(STEPS - 1 + lines.min(raw_rows), total, Some("writing the payouts"))
                    .await?;
            }
        }
        out.flush().await.map_err(|e| JobError::Retryable(e.into()))?;
        drop(out);
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| JobError::Retryable(e.into()))?;
        let size = tokio::fs::metadata(&path)
            .await
            .map_err(|e| JobError::Retryable(e.into()))?
            .len() as i64;
        ctx.progress(total, total, Some("ready")).await?;
        Ok(size)
    }
}

/// Deletes the files whose time is up and marks their rows expired (the rows stay).
pub struct Retention {
    pub data_dir: PathBuf,
}

#[async_trait]
impl JobHandler for Retention {
    fn kind(&self) -> &'static str {
        RETENTION_KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let n = expire(&ctx.pool, &self.data_dir, ctx.clock.now()).await?;
        Ok(Some(json!({"filesDeleted": n})))
    }
}

/// Deletes every file past its `expires_at`; how many. Audited as one event when any went.
pub async fn expire(
    pool: &PgPool,
    data_dir: &std::path::Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, JobError> {
    let due: Vec<ReportFile> = sqlx::query_as(&format!(
        "select {} from report_files where expires_at <= $1 and status <> 'expired' order by expires_at limit 1000",
        super::COLUMNS
    ))
    .bind(now)
    .fetch_all(pool)
    .await?;
    let mut ids = Vec::with_capacity(due.len());
    for f in &due {
        let path = f.path(data_dir);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(JobError::Retryable(e.into())),
        }
        let _ = tokio::fs::remove_file(path.with_extension("part")).await;
        ids.push(f.id);
    }
    if ids.is_empty() {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    let n = sqlx::query("update report_files set status = 'expired', deleted_at = $2 where id = any($1)")
        .bind(&ids)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let event = Acting::system(now)
        .audit(Action::ReportFilesExpired, "report_file", "retention")
        .metadata(json!({"files": ids}));
    audit::record(&mut tx, &event, now)
        .await
        .map_err(|e| JobError::Retryable(anyhow::anyhow!("{e}")))?;
    tx.commit().await?;
    Ok(n)
}

/// Queues the retention job once an hour (every worker's scheduler agrees on one).
pub async fn schedule(pool: PgPool, clock: SharedClock, shutdown: CancellationToken) {
    use crate::jobs::housekeeping::{every_hour, schedule_periodic};
    schedule_periodic(pool, clock, shutdown, "report retention", every_hour(RETENTION_KIND)).await
}
