//! `/api/v1/admin/batches` (PRD tree, first part), job progress, and the CSV export of codes.

use crate::web::extract::{Path, Query};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{Filter, NewBatch};
use crate::access::Permission::*;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::ApiJson;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    let mut specs = vec![
        route!(GET "/api/v1/admin/batches", Access::Permission(BatchesRead), list),
        route!(POST "/api/v1/admin/batches", Access::Permission(BatchesCreate), create),
        route!(POST "/api/v1/admin/batches/generate", Access::Permission(PromoCodesGenerate), top_up),
        // the PRD names the same top-up under the codes tree too
        route!(POST "/api/v1/admin/promo-codes/generate", Access::Permission(PromoCodesGenerate), top_up),
        route!(GET "/api/v1/admin/batches/{id}", Access::Permission(BatchesRead), detail),
        route!(GET "/api/v1/admin/batches/{id}/stats", Access::Permission(BatchesRead), stats),
        route!(PUT "/api/v1/admin/batches/{id}/status", Access::Permission(BatchesStatusChange), set_status),
        route!(GET "/api/v1/admin/jobs/{id}", Access::Permission(BatchesRead), job),
        route!(GET "/api/v1/admin/promo-codes/export", Access::Permission(PromoCodesDownload), export),
        route!(GET "/api/v1/admin/promo-codes/download", Access::Permission(PromoCodesDownload), export),
        // and the same download under the batches tree (ACCESS.md: one operation, one key)
        route!(GET "/api/v1/admin/batches/download", Access::Permission(PromoCodesDownload), export),
    ];
    specs.extend(super::ops_api::routes());
    specs
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    status: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

async fn list(State(state): State<AppState>, Query(q): Query<ListQuery>) -> Result<Json<Value>, AppError> {
    let f = Filter {
        status: q.status,
        q: q.q,
        sort: q.sort,
        page: q.page.unwrap_or(0),
        per_page: q.per_page.unwrap_or(50),
    };
    let mut conn = state.pool.acquire().await?;
    let (batches, total) = super::list(&mut conn, &f).await?;
    Ok(Json(json!({"batches": batches, "total": total})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    #[serde(default)]
    description: String,
    total_codes: i64,
    amount_per_code: i64,
    expires_at: String,
    assigned_user_id: Option<Uuid>,
    #[serde(default = "yes")]
    generate: bool,
}

fn yes() -> bool {
    true
}

async fn create(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    ApiJson(b): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    if b.generate {
        who.require(PromoCodesGenerate)?;
    }
    if b.assigned_user_id.is_some() {
        who.require(BatchesAssign)?;
    }
    let settings = state.settings.get();
    let new = NewBatch {
        name: b.name,
        description: b.description,
        total_codes: b.total_codes,
        amount_per_code: b.amount_per_code,
        expires_at: b.expires_at,
        assigned_user_id: b.assigned_user_id,
        generate: b.generate,
    };
    let mut unit = state.unit().await?;
    let (batch, job) = super::create(&mut unit, &settings.0, &new, &acting).await?;
    unit.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"batch": batch, "generationJobId": job})),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopUpBody {
    batch_id: Uuid,
    count: i64,
}

async fn top_up(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(b): ApiJson<TopUpBody>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let settings = state.settings.get();
    let t = super::topup::TopUp {
        batch_id: b.batch_id,
        count: b.count,
    };
    let mut unit = state.unit().await?;
    let id = super::topup::top_up(&mut unit, &settings.0, t, &acting).await?;
    unit.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"jobId": id}))))
}

async fn detail(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<Value>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let batch = super::get(&mut conn, id).await?;
    let stats = super::stats(&mut conn, id, state.clock.now()).await?;
    let downloads = super::downloads(&mut conn, id).await?;
    Ok(Json(json!({"batch": batch, "stats": stats, "downloads": downloads})))
}

async fn stats(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<Value>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(json!(super::stats(&mut conn, id, state.clock.now()).await?)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusBody {
    status: String,
}

async fn set_status(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<StatusBody>,
) -> Result<Json<Value>, AppError> {
    let mut unit = state.unit().await?;
    let batch = super::set_status(&mut unit, id, &b.status, &acting).await?;
    unit.commit().await?;
    Ok(Json(json!({"batch": batch})))
}

async fn job(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Json<Value>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let j = crate::jobs::get(&mut conn, id).await?;
    Ok(Json(json!({"job": j, "percent": j.percent()})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportQuery {
    format: Option<String>,
    batch_id: Option<Uuid>,
    serial_from: Option<i32>,
    serial_to: Option<i32>,
}

/// Streams a batch's codes as CSV or PDF sheets (in serial order; `codes::export`).
/// Rate-limited; every download is recorded (who, when, format, range, count) and audited before
/// the first byte leaves.
async fn export(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Query(q): Query<ExportQuery>,
) -> Result<Response, AppError> {
    use crate::codes::export::{self, Format};
    let req = export::Request::parse(q.format.as_deref(), q.batch_id, q.serial_from, q.serial_to)?;
    let now = acting.now;
    let settings = state.settings.get();
    let mut unit = state.unit().await?;
    let batch = super::get(&mut unit, req.batch_id).await?;
    let limit = settings.0.security.rate_limiting.downloads_per_hour as i32;
    let d = crate::ratelimit::hit(&mut unit, &format!("download:user:{}", who.user_id), 3600, limit, now).await?;
    if !d.allowed {
        unit.commit().await?;
        return Err(AppError::RateLimited {
            retry_after_secs: d.retry_after_secs,
        });
    }
    let count = export::record(&mut unit, &req, &acting).await?;
    unit.commit().await?;
    let chunks = export::stream(state.pool.clone(), req, export::sheet_info(&settings.0, &batch), count);
    let body = Body::from_stream(futures::stream::unfold(chunks, |mut rx| async move {
        rx.recv().await.map(|c| (c, rx))
    }));
    let mime = match req.format {
        Format::Csv => "text/csv; charset=utf-8",
        Format::Pdf => "application/pdf",
    };
    Ok(attachment(body, mime, &export::file_name(&batch, req.format, now)))
}

/// A download response named `file` (ASCII fallback plus the UTF-8 name).
fn attachment(body: Body, mime: &'static str, file: &str) -> Response {
    let mut res = body.into_response();
    let ascii: String = file
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = crate::web::routes::path_segment(file);
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
