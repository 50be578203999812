//! Reports exported as files by a job (`POST /api/v1/admin/reports/export`): a built-in report
//! or a saved custom one (over its definition's days, the definition kept in the job's payload as
//! it was when asked). The request is checked, recorded in `report_files`, audited and queued in
//! one unit of work; the job ([`job::Handler`]) builds the report, renders it (CSV through
//! `reports::csv`, or PDF through `reports::pdf`) into `DATA_DIR/reports`, reporting its
//! progress; the file is downloadable (audited) until `expires_at`
//! (`analytics.dataRetention.reportDataDays`), when the retention job deletes it.

mod input;
pub mod job;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::custom::Definition;
use super::custom_store::{self, Reader};
use super::model::{DayRange, Kind};
use super::spec::{Spec, Viewer};
use crate::audit::{self, Action};
use crate::codes::export::Format;
use crate::error::{AppError, Denied};
use crate::jobs::{self, JobView, NewJob};
use crate::settings::model::AnalyticsSettings;
use crate::unit::Acting;

pub use input::{default_format, format_choices, parse_format, ExportBody, ExportCmd, Exported};

/// `report_files.status` (`report_files_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, Serialize, Deserialize, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
#[schema(as = ReportFileStatus)]
pub enum FileStatus {
    Queued,
    Running,
    Ready,
    Failed,
    /// Kept past `expires_at`: the file is gone, the row stays.
    Expired,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Queued => "queued",
            FileStatus::Running => "running",
            FileStatus::Ready => "ready",
            FileStatus::Failed => "failed",
            FileStatus::Expired => "expired",
        }
    }
}

/// One exported report file.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportFile {
    pub id: Uuid,
    pub kind: String,
    pub format: String,
    pub range_from: NaiveDate,
    pub range_to: NaiveDate,
    pub batch_id: Option<Uuid>,
    pub generated_by: String,
    #[serde(skip)]
    pub includes_money: bool,
    #[serde(skip)]
    pub requested_by_user_id: Option<Uuid>,
    pub status: FileStatus,
    pub job_id: Option<i64>,
    pub file_name: String,
    pub size_bytes: Option<i64>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

impl ReportFile {
    pub fn spec(&self) -> Result<Spec, AppError> {
        let kind = Kind::parse_builtin(&self.kind).ok_or(AppError::NotFound("report file"))?;
        Ok(Spec {
            kind,
            range: DayRange::new(self.range_from, self.range_to)?,
            batch: self.batch_id,
        })
    }

    pub fn format(&self) -> Format {
        if self.format == "pdf" {
            Format::Pdf
        } else {
            Format::Csv
        }
    }

    /// Where the file is kept: `DATA_DIR/reports/<id>.<format>`.
    pub fn path(&self, data_dir: &Path) -> PathBuf {
        dir(data_dir).join(format!("{}.{}", self.id, self.format))
    }

    pub fn mime(&self) -> &'static str {
        match self.format() {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Pdf => "application/pdf",
        }
    }
}

/// `DATA_DIR/reports`.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("reports")
}

const COLUMNS: &str = "id, kind, format, range_from, range_to, batch_id, generated_by, includes_money, \
     requested_by_user_id, status, job_id, file_name, size_bytes, error, created_at, finished_at, expires_at";

/// A title as a file name: `Payouts by day` → `payouts-by-day` (`report` when nothing is left).
pub fn slug(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "report".into()
    } else {
        slug.into()
    }
}

/// A saved custom report as its export job builds it: the definition as it was asked for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomExport {
    pub report_id: Uuid,
    pub title: String,
    pub definition: Definition,
}

/// A report to export, checked: what its `report_files` row records.
struct Checked {
    kind: Kind,
    range: DayRange,
    batch: Option<Uuid>,
    /// The file carries money (checked again at download).
    money: bool,
    /// `financial`, `custom_payouts-by-day`: the file name's start.
    stem: String,
    custom: Option<CustomExport>,
}

async fn check(
    conn: &mut PgConnection,
    cmd: &ExportCmd,
    viewer: &Viewer,
    acting: &Acting,
) -> Result<Checked, AppError> {
    let money_refused = || AppError::Forbidden(Denied::Permission(crate::access::Permission::DisbursementsRead));
    match &cmd.report {
        Exported::Builtin(spec) => {
            if spec.kind.needs_money() && !viewer.money {
                return Err(money_refused());
            }
            if let Some(b) = spec.batch {
                crate::batches::get(conn, b)
                    .await
                    .map_err(|_| AppError::field("batchId", "no such batch"))?;
            }
            Ok(Checked {
                kind: spec.kind,
                range: spec.range,
                batch: spec.batch,
                money: viewer.money,
                stem: spec.kind.as_str().to_owned(),
                custom: None,
            })
        }
        Exported::Custom(id) => {
            let reader = Reader {
                user_id: acting.user_id().ok_or(AppError::Unauthorized)?,
                financial: viewer.money,
            };
            let saved = custom_store::get(conn, &reader, *id).await.map_err(|e| match e {
                AppError::NotFound(_) => AppError::field("customReportId", "no such saved report"),
                e => e,
            })?;
            let money = saved.definition.is_financial();
            if money && !viewer.money {
                return Err(money_refused());
            }
            Ok(Checked {
                kind: Kind::Custom,
                range: saved.definition.range.resolve(acting.now),
                batch: saved.definition.filters.batch,
                money,
                stem: format!("custom_{}", slug(&saved.name)),
                custom: Some(CustomExport {
                    report_id: saved.id,
                    title: saved.name,
                    definition: saved.definition,
                }),
            })
        }
    }
}

/// Records the file, audits the export and queues the job, on the caller's unit of work.
pub async fn request(
    conn: &mut PgConnection,
    cmd: &ExportCmd,
    viewer: &Viewer,
    settings: &AnalyticsSettings,
    acting: &Acting,
) -> Result<ReportFile, AppError> {
    let what = check(conn, cmd, viewer, acting).await?;
    let now = acting.now;
    let id = Uuid::now_v7();
    let expires = now + Duration::days(i64::from(settings.report_data_days.max(1)));
    // `financial_2026-11-01_2026-11-30.csv`
    let file_name = format!(
        "{}_{}_{}.{}",
        what.stem,
        what.range.from.format("%Y-%m-%d"),
        what.range.to.format("%Y-%m-%d"),
        cmd.format.key()
    );
    let payload = match &what.custom {
        Some(c) => json!({"fileId": id, "custom": c}),
        None => json!({"fileId": id}),
    };
    let job = NewJob::new(job::KIND, &payload)
        .map_err(|e| AppError::Internal(e.into()))?
        .max_attempts(3)
        .created_by(acting.user_id());
    let job_id = jobs::enqueue(conn, &job, now).await?;
    let file: ReportFile = sqlx::query_as(&format!(
        "insert into report_files (id, kind, format, range_from, range_to, batch_id, generated_by, includes_money, \
           requested_by_user_id, status, job_id, file_name, created_at, expires_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', $10, $11, $12, $13) returning {COLUMNS}"
    ))
    .bind(id)
    .bind(what.kind.as_str())
    .bind(cmd.format.key())
    .bind(what.range.from)
    .bind(what.range.to)
    .bind(what.batch)
    .bind(&viewer.name)
    .bind(what.money)
    .bind(acting.user_id())
    .bind(job_id)
    .bind(file_name)
    .bind(now)
    .bind(expires)
    .fetch_one(&mut *conn)
    .await?;
    let event = acting.audit(Action::ReportExported, "report_file", id).metadata(json!({
        "kind": file.kind, "format": file.format, "from": file.range_from, "to": file.range_to,
        "batchId": file.batch_id, "expiresAt": file.expires_at, "jobId": job_id,
        "customReportId": what.custom.as_ref().map(|c| c.report_id),
    }));
    audit::record(conn, &event, now).await?;
    Ok(file)
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<ReportFile, AppError> {
    sqlx::query_as(&format!("select {COLUMNS} from report_files where id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("report file"))
}

/// A person's latest exports (the page lists them).
pub async fn recent(conn: &mut PgConnection, user: Uuid, limit: i64) -> Result<Vec<ReportFile>, AppError> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS} from report_files where requested_by_user_id = $1 order by created_at desc limit $2"
    ))
    .bind(user)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// A file and its job, as the status endpoint and the progress bar read it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReportExportStatus)]
pub struct Status {
    pub file: ReportFile,
    pub job: Option<JobView>,
    /// 0 to 100.
    pub percent: f64,
    pub ready: bool,
    /// Where to download it, once ready.
    pub download: Option<String>,
}

/// A file, for a reader of reports who may also read what it holds (a financial report, or a
/// custom one with money in it, needs `disbursements.read`).
pub async fn visible(conn: &mut PgConnection, id: Uuid, money: bool) -> Result<ReportFile, AppError> {
    let file = get(conn, id).await?;
    if file.includes_money && matches!(file.kind.as_str(), "financial" | "custom") && !money {
        return Err(AppError::Forbidden(Denied::Permission(
            crate::access::Permission::DisbursementsRead,
        )));
    }
    Ok(file)
}

pub async fn status(conn: &mut PgConnection, file: ReportFile) -> Result<Status, AppError> {
    let job = match file.job_id {
        Some(j) => jobs::get(conn, j).await.ok(),
        None => None,
    };
    let ready = file.status == FileStatus::Ready;
    let percent = if ready {
        100.0
    } else {
        job.as_ref().and_then(JobView::percent).unwrap_or(0.0)
    };
    Ok(Status {
        download: ready.then(|| format!("/api/v1/admin/reports/export/{}/download", file.id)),
        percent,
        ready,
        job,
        file,
    })
}

/// Checks the file may be downloaded now and audits the download.
pub async fn download(conn: &mut PgConnection, file: &ReportFile, acting: &Acting) -> Result<(), AppError> {
    match file.status {
        FileStatus::Ready if file.expires_at > acting.now => {}
        FileStatus::Ready | FileStatus::Expired => {
            return Err(AppError::conflict(
                "id",
                format!(
                    "this report expired on {} and was deleted; export it again",
                    crate::clock::local_display(file.expires_at)
                ),
            ))
        }
        FileStatus::Failed => return Err(AppError::conflict("id", "this export failed; export it again")),
        FileStatus::Queued | FileStatus::Running => {
            return Err(AppError::conflict("id", "this report is not ready yet"))
        }
    }
    let event = acting
        .audit(Action::ReportDownloaded, "report_file", file.id)
        .metadata(json!({"kind": file.kind, "format": file.format, "bytes": file.size_bytes}));
    audit::record(conn, &event, acting.now).await?;
    Ok(())
}
