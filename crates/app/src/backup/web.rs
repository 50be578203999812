//! The backups panel `/admin/backups` and `/api/v1/admin/backups` (`system.settings.backup`):
//! the list (time, size, storage, verification), "back up now" (queues `backup.create`, 202 with
//! the job id) and the download, which streams the stored file as it is — still encrypted when
//! the backup was (decision 0053: a decrypted dump would carry every phone number in the clear
//! to whoever's browser fetched it; the file's SHA-256 is in the header to check it against).

use askama::Template;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Backup, Env, Status, Storage, VerifyStatus};
use crate::access::Permission::SystemSettingsBackup;
use crate::audit::{self, Action};
use crate::clock::{local_display, local_display_or};
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{FormPairs, Path};
use crate::web::openapi::Doc;
use crate::web::pages::html;
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

const LIST_MAX: i64 = 200;

pub fn routes() -> Vec<RouteSpec> {
    let p = Access::Permission(SystemSettingsBackup);
    vec![
        route!(GET "/admin/backups", p, page),
        route!(POST "/admin/backups", p, back_up_now_form),
        route!(GET "/admin/backups/{id}/download", p, download),
        route!(GET "/api/v1/admin/backups", p, list,
            Doc::new("List the database backups, newest first: time, size, storage, verification")
                .ok::<BackupList>()),
        route!(POST "/api/v1/admin/backups", p, create,
            Doc::new("Back up the database now, as a job (made, then verified by a restore)")
                .describe("Answers 202 with the job's id; one backup at a time: asking again while one is queued or running answers that job. The backup appears in the list when it starts; its verification follows in the same job.")
                .accepted::<Queued>()),
        route!(GET "/api/v1/admin/backups/{id}", p, detail,
            Doc::new("One backup with its row counts and its verification's detail")
                .ok::<BackupAnswer>()
                .problems(&[404])),
        route!(GET "/api/v1/admin/backups/{id}/download", p, download,
            Doc::new("Download a backup's stored file as stored (encrypted when the backup was)")
                .describe("`X-Backup-Sha256` carries the SHA-256 of the file. An encrypted file is restored by `mbelyco backup restore` on an instance with the same SECRET_KEY. Audited.")
                .file("application/octet-stream", "The stored backup")
                .problems(&[404, 409])),
    ]
}

/// `{data}`: the backups, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupList {
    pub data: Vec<Backup>,
}

/// `{data}`: one backup.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupAnswer {
    pub data: Backup,
}

/// A queued backup job.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Queued {
    pub job_id: i64,
}

async fn list(State(state): State<AppState>) -> Result<Json<BackupList>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(BackupList {
        data: super::list(&mut conn, LIST_MAX).await?,
    }))
}

async fn detail(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<BackupAnswer>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(BackupAnswer {
        data: super::get(&mut conn, id).await?,
    }))
}

/// Queues a backup and audits the request, in one unit of work.
async fn request(state: &AppState, acting: &Acting) -> Result<i64, AppError> {
    let mut unit = state.unit().await?;
    let job_id = super::jobs::enqueue(&mut unit, acting.user_id(), acting.now).await?;
    audit::record(
        &mut unit,
        &acting
            .audit(Action::BackupRequested, "backup", "now")
            .metadata(json!({"jobId": job_id})),
        acting.now,
    )
    .await?;
    unit.commit().await?;
    Ok(job_id)
}

async fn create(State(state): State<AppState>, acting: Acting) -> Result<Response, AppError> {
    let job_id = request(&state, &acting).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { job_id })).into_response())
}

async fn back_up_now_form(
    State(state): State<AppState>,
    acting: Acting,
    _form: FormPairs,
) -> Result<Response, AppError> {
    request(&state, &acting).await?;
    Ok(Redirect::to("/admin/backups?queued=1").into_response())
}

async fn download(State(state): State<AppState>, acting: Acting, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    let b = super::get(&mut unit, id).await?;
    if b.status != Status::Succeeded {
        return Err(AppError::Conflict {
            message: "only a finished backup can be downloaded".into(),
            field: Some("status".into()),
        });
    }
    let settings = state.settings.get();
    let env = Env::new(state.pool.clone(), &state.config);
    let storage = Storage::open(b.storage, &settings.0.backup, &env.data_dir)?;
    let reader = storage.reader(&b.object_key).await?;
    audit::record(
        &mut unit,
        &acting.audit(Action::BackupDownloaded, "backup", id).metadata(json!({
            "storage": b.storage.as_str(), "sizeBytes": b.size_bytes, "encrypted": b.encrypted,
        })),
        acting.now,
    )
    .await?;
    unit.commit().await?;
    let mut res = Body::from_stream(tokio_util::io::ReaderStream::new(reader)).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    let name = format!(
        "mbelyco-backup-{}-{}.dump{}",
        b.started_at
            .with_timezone(&crate::clock::kigali())
            .format("%Y%m%d-%H%M"),
        &b.id.simple().to_string()[..8],
        if b.encrypted { ".enc" } else { "" }
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(v) = b.sha256.as_deref().and_then(|s| HeaderValue::from_str(s).ok()) {
        h.insert("x-backup-sha256", v);
    }
    if let Some(n) = b.size_bytes {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

struct Line {
    id: Uuid,
    started: String,
    finished: String,
    status: &'static str,
    size: String,
    storage: &'static str,
    sealed: &'static str,
    verification: &'static str,
    verified_at: String,
    verify_note: String,
    downloadable: bool,
}

impl From<Backup> for Line {
    fn from(b: Backup) -> Self {
        let verify_note = b.verify_detail["error"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| b.error.clone())
            .unwrap_or_else(|| {
                let n = b.counts.as_object().map_or(0, |m| m.len());
                if b.verify_status == VerifyStatus::Passed {
                    format!("row counts of {n} tables match; audit chain intact")
                } else {
                    String::new()
                }
            });
        Line {
            id: b.id,
            started: local_display(b.started_at),
            finished: local_display_or(b.finished_at, "—"),
            status: match b.status {
                Status::Running => "running",
                Status::Succeeded => "made",
                Status::Failed => "failed",
                Status::Expired => "expired (file deleted)",
            },
            size: b.size_bytes.map_or_else(|| "—".to_owned(), human_size),
            storage: b.storage.as_str(),
            sealed: match (b.compressed, b.encrypted) {
                (true, true) => "compressed, encrypted",
                (true, false) => "compressed",
                (false, true) => "encrypted",
                (false, false) => "plain",
            },
            verification: match b.verify_status {
                VerifyStatus::Pending => "pending",
                VerifyStatus::Passed => "passed",
                VerifyStatus::Failed => "failed",
            },
            verified_at: local_display_or(b.verified_at, ""),
            verify_note,
            downloadable: b.status == Status::Succeeded,
        }
    }
}

pub fn human_size(n: i64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} kB", n / 1e3)
    } else {
        format!("{n} B")
    }
}

#[derive(Template)]
#[template(path = "backups.html")]
struct BackupsPage {
    shell: Shell,
    rows: Vec<Line>,
    enabled: bool,
    frequency: String,
    retention_days: u32,
    storage: String,
    notice: Option<&'static str>,
}

async fn page(
    State(state): State<AppState>,
    who: Principal,
    query: axum::extract::RawQuery,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let b = &settings.0.backup;
    let mut conn = state.pool.acquire().await?;
    let rows = super::list(&mut conn, LIST_MAX).await?;
    drop(conn);
    let queued = query.0.as_deref().is_some_and(|q| q.contains("queued=1"));
    let page = BackupsPage {
        shell: Shell::new(&who, "/admin/backups", &settings.0.branding.company_name),
        rows: rows.into_iter().map(Line::from).collect(),
        enabled: b.database_backup_enabled,
        frequency: b.database_backup_frequency.clone(),
        retention_days: b.database_backup_retention_days,
        storage: b.storage_type.clone(),
        notice: queued
            .then_some("Backup queued: it appears below when it starts, and is verified by a restore when made."),
    };
    html(StatusCode::OK, &page)
}
