//! `/api/v1/admin/audit`: the audit log viewer's API — the list (filters, full-text search,
//! keyset paging), one row with its chain fields and its before/after difference, the streamed
//! export (CSV or JSON lines, `audit.logs.export`), the chain panel's state and "verify now"
//! (`audit.logs.configure`). The pages share the use cases ([`super::query`], [`super::panel`]).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::export::{self, Format};
use super::panel::{self, ChainStatus};
use super::query::{self, AuditDetail, AuditRow, FilterQuery};
use super::Action;
use crate::access::Permission::*;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{Path, Query};
use crate::web::openapi::Doc;
use crate::web::paging::{Page, PageQuery, Paging};
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/admin/audit", Access::Permission(AuditLogsRead), list,
            Doc::new("List audit rows, filtered and searched, newest first")
                .describe("Filters: actor (user id, email, or system/anonymous/customer/api_key), action (or a prefix ending in `.`), entityType, entityId, from/to (Kigali days), ip (address or network), requestId, outcome (success/failure), q (words in the details). Pages by cursor: follow `next`.")
                .query::<FilterQuery>()
                .query::<PageQuery>()
                .page::<AuditRow>()),
        route!(GET "/api/v1/admin/audit/export", Access::Permission(AuditLogsExport), export,
            Doc::new("Download the sealed audit rows the filters select, with their chain fields")
                .describe("Streamed in chain order, as JSON lines (`format=jsonl`, the default) or CSV (`format=csv`). Each row carries its chain position, its predecessor's hash and its hash, so `mbelyco audit verify --file export.jsonl` can check it offline. Audited and counted against the hourly download limit.")
                .query::<FilterQuery>()
                .query::<ExportQuery>()
                .file("application/x-ndjson", "The rows (JSON lines or CSV)")
                .file("text/csv", "The rows (CSV)")),
        route!(GET "/api/v1/admin/audit/chain", Access::Permission(AuditLogsRead), chain,
            Doc::new("The audit chain: sealed up to which row, the head hash, the last verification, the latest verify job")
                .ok::<ChainStatus>()),
        route!(POST "/api/v1/admin/audit/chain/verify", Access::Permission(AuditLogsConfigure), verify_now,
            Doc::new("Verify the audit chain now, as a job")
                .describe("Answers 202 with the chain's state and the job; follow `GET /api/v1/admin/audit/chain` for its progress. One at a time: asking again while one runs answers that one. Audited, as is its result.")
                .accepted::<ChainStatus>()),
        route!(GET "/api/v1/admin/audit/{id}", Access::Permission(AuditLogsRead), detail,
            Doc::new("One audit row: its content, chain fields, the before/after difference field by field and a link to the entity")
                .ok::<AuditRowAnswer>()
                .problems(&[404])),
    ]
}

/// `{data}`: one audit row in full.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRowAnswer {
    pub data: AuditDetail,
}

/// `?format=jsonl|csv`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `jsonl` (the default; what `mbelyco audit verify --file` reads) or `csv`.
    pub format: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    paging: Paging,
    Query(q): Query<FilterQuery>,
) -> Result<Json<Page<AuditRow>>, AppError> {
    let f = q.parse()?;
    let after: Option<query::Position> = paging.position()?;
    let mut conn = state.pool.acquire().await?;
    let rows = query::list(&mut conn, &f, after, paging.fetch()).await?;
    Ok(Json(paging.page(rows, |r| (r.created_at, r.seq))))
}

async fn detail(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<AuditRowAnswer>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let data = query::detail(&mut conn, id).await?;
    Ok(Json(AuditRowAnswer { data }))
}

async fn chain(State(state): State<AppState>) -> Result<Json<ChainStatus>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(panel::status(&mut conn).await?))
}

async fn verify_now(State(state): State<AppState>, acting: Acting) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    panel::request(&mut unit, &acting).await?;
    unit.commit().await?;
    let mut conn = state.pool.acquire().await?;
    Ok((StatusCode::ACCEPTED, Json(panel::status(&mut conn).await?)).into_response())
}

async fn export(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Query(q): Query<FilterQuery>,
    Query(e): Query<ExportQuery>,
) -> Result<Response, AppError> {
    export_response(&state, &who, &acting, &q, e.format.as_deref()).await
}

/// Checks the filters and the format (all problems at once), counts the caller's downloads
/// against the hourly limit, audits the export (a read of a sensitive thing), then streams it.
pub(super) async fn export_response(
    state: &AppState,
    who: &Principal,
    acting: &Acting,
    q: &FilterQuery,
    format: Option<&str>,
) -> Result<Response, AppError> {
    let (filter, format) = match (q.parse(), Format::parse(format)) {
        (Ok(f), Ok(fmt)) => (f, fmt),
        (a, b) => {
            let mut errors = Vec::new();
            for e in [a.err(), b.err()].into_iter().flatten() {
                match e {
                    AppError::Validation(mut v) => errors.append(&mut v),
                    other => return Err(other),
                }
            }
            return Err(AppError::Validation(errors));
        }
    };
    let settings = state.settings.get();
    let mut unit = state.unit().await?;
    let limit = settings.0.security.rate_limiting.downloads_per_hour as i32;
    let key = format!("download:user:{}", who.user_id);
    let d = crate::ratelimit::hit(&mut unit, &key, 3600, limit, acting.now).await?;
    if !d.allowed {
        unit.commit().await?;
        return Err(AppError::RateLimited {
            retry_after_secs: d.retry_after_secs,
        });
    }
    let filters: serde_json::Map<String, serde_json::Value> =
        q.pairs().into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect();
    super::record(
        &mut unit,
        &acting
            .audit(Action::AuditExported, "audit_log", "export")
            .metadata(serde_json::json!({"format": format.as_str(), "filters": filters})),
        acting.now,
    )
    .await?;
    unit.commit().await?;
    let chunks = export::stream(state.pool.clone(), filter, format);
    let body = Body::from_stream(futures::stream::unfold(chunks, |mut rx| async move {
        rx.recv().await.map(|c| (c, rx))
    }));
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.mime()));
    let name = format!(
        "audit-{}.{}",
        acting.now.with_timezone(&crate::clock::kigali()).format("%Y%m%d-%H%M"),
        format.as_str()
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}
