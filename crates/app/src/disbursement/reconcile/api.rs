//! `/api/v1/admin/disbursements/reconcile…` (the PRD's `GET /disbursements/reconcile/`): runs,
//! their items, the three-way view of one item, resolving it, statement uploads and the CSV.
//! POSTs need `disbursements.reconcile`; reading needs `disbursements.read`; the CSV is an export
//! of financial data and needs `disbursements.export` (PRD 4: "export financial reports and
//! reconciliation data").

use crate::web::extract::{Path, Query};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::service::{self, StartRequest, UploadError};
use super::statement::MAX_STATEMENT_BYTES;
use super::views::{self, ItemDetail, ItemFilter, ItemLine, KindCount, RunView, StatementView};
use crate::access::Permission::*;
use crate::audit::{self, Action};
use crate::error::AppError;
use crate::jobs::JobView;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::ApiJson;
use crate::web::openapi::Doc;
use crate::web::paging::{Page, PageQuery, Paging};
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub const BASE: &str = "/api/v1/admin/disbursements/reconcile";

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/admin/disbursements/reconcile", Access::Permission(DisbursementsRead), list_runs,
            Doc::new("List reconciliation runs, newest first")
                .query::<PageQuery>()
                .page::<RunView>()),
        route!(POST "/api/v1/admin/disbursements/reconcile", Access::Permission(DisbursementsReconcile), start_run,
            Doc::new("Start a reconciliation run with MoMo")
                .describe("Compares our payouts of `from`–`to` (days in Kigali, `to` included, or RFC 3339 instants) \
                           with MoMo's status answers and/or an uploaded statement. A job does the work; follow it on \
                           the run. 409 while another run is in progress.")
                .body::<StartBody>()
                .accepted::<RunAnswer>()
                .problems(&[409])),
        route!(GET "/api/v1/admin/disbursements/reconcile/{id}", Access::Permission(DisbursementsRead), get_run,
            Doc::new("One run with its counts per kind and its job's progress").ok::<RunAnswer>()),
        route!(GET "/api/v1/admin/disbursements/reconcile/{id}/items", Access::Permission(DisbursementsRead), list_items,
            Doc::new("A run's items, gravest kind first")
                .describe("Discrepancies only unless `kind` says otherwise.")
                .query::<ItemsQuery>()
                .query::<PageQuery>()
                .page::<ItemLine>()),
        route!(GET "/api/v1/admin/disbursements/reconcile/{id}/export.csv", Access::Permission(DisbursementsExport), export_csv,
            Doc::new("A run's items as CSV (audited as an export)")
                .file("text/csv", "Every item of the run, matches included, gravest kind first")),
        route!(GET "/api/v1/admin/disbursements/reconcile/items/{id}", Access::Permission(DisbursementsRead), get_item,
            Doc::new("One item: our records, MoMo's and what differs")
                .ok::<Data<ItemDetail>>()
                .component::<ItemDetail>()),
        route!(POST "/api/v1/admin/disbursements/reconcile/items/{id}/resolve", Access::Permission(DisbursementsReconcile), resolve_item,
            Doc::new("Resolve a discrepancy with a note saying what was done")
                .describe("409 for a matched item, one already resolved, or while its run is in progress.")
                .body::<service::ResolveCmd>()
                .ok::<Data<ItemDetail>>()
                .component::<ItemDetail>()
                .problems(&[409])),
        route!(GET "/api/v1/admin/disbursements/reconcile/statements", Access::Permission(DisbursementsRead), list_statements,
            Doc::new("List uploaded MoMo statements, newest first")
                .query::<PageQuery>()
                .page::<StatementView>()),
        route!(GET "/api/v1/admin/disbursements/reconcile/statements/{id}", Access::Permission(DisbursementsRead), get_statement,
            Doc::new("One uploaded statement")
                .ok::<Data<StatementView>>()
                .component::<StatementView>()),
        RouteSpec {
            method: Method::POST,
            path: "/api/v1/admin/disbursements/reconcile/statements",
            access: Access::Permission(DisbursementsReconcile),
            router: axum::routing::post(upload_statement).layer(DefaultBodyLimit::max(MAX_STATEMENT_BYTES)),
            doc: Some(
                Doc::new("Upload MoMo's statement (CSV) to reconcile with")
                    .describe(
                        "The file as a raw `text/csv` body (name it with `?fileName=`) or as \
                               `multipart/form-data` with the field `file`; read and checked as it streams in. \
                               A bad statement is a 422 naming every bad line, and nothing is stored.",
                    )
                    .query::<UploadQuery>()
                    .raw("text/csv")
                    .multipart::<UploadForm>()
                    .created::<Data<StatementView>>()
                    .component::<StatementView>(),
            ),
        },
    ]
}

/// An answer holding one record.
#[derive(Serialize, ToSchema)]
pub struct Data<T> {
    pub data: T,
}

/// Where to read a run and its results.
#[derive(Serialize, ToSchema)]
pub struct RunLinks {
    #[serde(rename = "self")]
    pub this: String,
    pub items: String,
    pub csv: String,
    /// The run's page in the panel.
    pub page: String,
}

fn links(id: Uuid) -> RunLinks {
    RunLinks {
        this: format!("{BASE}/{id}"),
        items: format!("{BASE}/{id}/items"),
        csv: format!("{BASE}/{id}/export.csv"),
        page: format!("/admin/disbursements/reconcile/{id}"),
    }
}

/// A run, its items per kind, its job and how far it is.
#[derive(Serialize, ToSchema)]
pub struct RunAnswer {
    pub data: RunView,
    /// Every kind, gravest first, with how many items (and open ones) the run found.
    pub counts: Vec<KindCount>,
    /// The job doing the run (absent once it has been cleaned away).
    pub job: Option<JobView>,
    /// How far the run is, 0 to 100, when known.
    pub percent: Option<f64>,
    pub links: RunLinks,
}

/// The run with its counts and its job's progress.
pub async fn describe_run(state: &AppState, id: Uuid) -> Result<RunAnswer, AppError> {
    let mut conn = state.pool.acquire().await?;
    let run = views::run(&mut conn, id).await?;
    let counts = views::kind_counts(&mut conn, id).await?;
    let job = match run.job_id {
        Some(j) => crate::jobs::get(&mut conn, j).await.ok(),
        None => None,
    };
    let percent = match (&job, run.status.as_str()) {
        (_, "completed") => Some(100.0),
        (Some(j), _) => j.percent(),
        _ => None,
    };
    Ok(RunAnswer {
        data: run,
        counts,
        job,
        percent,
        links: links(id),
    })
}

async fn list_runs(State(state): State<AppState>, paging: Paging) -> Result<Json<Page<RunView>>, AppError> {
    let after = paging.position::<views::After>()?;
    let mut conn = state.pool.acquire().await?;
    let runs = views::runs(&mut conn, after, paging.fetch()).await?;
    Ok(Json(paging.page(runs, |r| (r.created_at, r.id))))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartBody {
    /// First day (`2026-12-01`, Kigali) or instant (RFC 3339).
    #[schema(examples("2026-12-01"))]
    from: Option<String>,
    /// Last day, included (`2026-12-06`), or the instant the period ends (RFC 3339).
    #[schema(examples("2026-12-06"))]
    to: Option<String>,
    /// A statement uploaded before, to compare with.
    #[schema(value_type = Option<Uuid>)]
    statement_id: Option<String>,
    /// Ask MoMo for each payout's status (default true; needs MoMo configured).
    query_momo: Option<bool>,
}

/// Starts a run over `from`–`to` (days in Kigali, `to` included, or RFC 3339 instants); 202 with
/// the run and its job. 409 while another run is in progress.
async fn start_run(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(body): ApiJson<StartBody>,
) -> Result<Response, AppError> {
    let req = StartRequest {
        from: body.from,
        to: body.to,
        statement_id: body.statement_id,
        query_momo: body.query_momo,
    };
    let id = start(&state, &acting, &req).await?;
    let body = describe_run(&state, id).await?;
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// Checks and starts a run in one transaction (shared with the page).
pub async fn start(state: &AppState, acting: &Acting, req: &StartRequest) -> Result<Uuid, AppError> {
    let run = req.check(&state.settings.get().0, acting.now)?;
    let mut unit = state.unit().await?;
    let (id, _job) = service::start(&mut unit, run, acting).await?;
    unit.commit().await?;
    Ok(id)
}

async fn get_run(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<RunAnswer>, AppError> {
    Ok(Json(describe_run(&state, id).await?))
}

/// Which items of a run to list (the API and the run's page).
#[derive(Deserialize, Default, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ItemsQuery {
    /// One kind, `discrepancies` (everything but matches; the default) or `all`.
    #[param(max_length = 64)]
    pub kind: Option<String>,
    /// `open`, `resolved` or `any`.
    #[param(max_length = 16)]
    pub state: Option<String>,
    /// Part of a phone number, a reference, a disbursement id or MoMo's transaction id.
    #[param(max_length = 100)]
    pub q: Option<String>,
}

async fn list_items(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Query(q): Query<ItemsQuery>,
    paging: Paging,
) -> Result<Json<Page<ItemLine>>, AppError> {
    let filter = ItemFilter::parse(q.kind.as_deref(), q.state.as_deref(), q.q.as_deref())?;
    let after = paging.position::<views::ItemAfter>()?;
    let mut conn = state.pool.acquire().await?;
    views::run(&mut conn, id).await?;
    let items = views::items_after(&mut conn, id, &filter, after, paging.fetch()).await?;
    Ok(Json(paging.page(items, views::item_key)))
}

async fn get_item(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<Data<ItemDetail>>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let item = views::item(&mut conn, id).await?;
    Ok(Json(Data { data: item }))
}

async fn resolve_item(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<service::ResolveCmd>,
) -> Result<Json<Data<ItemDetail>>, AppError> {
    let mut unit = state.unit().await?;
    service::resolve(&mut unit, id, &body.note, &acting).await?;
    unit.commit().await?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(Data {
        data: views::item(&mut conn, id).await?,
    }))
}

async fn list_statements(State(state): State<AppState>, paging: Paging) -> Result<Json<Page<StatementView>>, AppError> {
    let after = paging.position::<views::After>()?;
    let mut conn = state.pool.acquire().await?;
    let list = views::statements(&mut conn, after, paging.fetch()).await?;
    Ok(Json(paging.page(list, |s| (s.created_at, s.id))))
}

async fn get_statement(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Data<StatementView>>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(Data {
        data: views::statement(&mut conn, id).await?,
    }))
}

/// `?fileName=` names a statement sent as a raw body.
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The statement's file name, as shown later (raw bodies; a form's file has its own).
    #[param(max_length = 200)]
    pub file_name: Option<String>,
}

/// The upload form.
#[derive(ToSchema)]
pub struct UploadForm {
    /// MoMo's statement (CSV).
    #[schema(value_type = String, content_media_type = "text/csv")]
    pub file: Vec<u8>,
}

/// A file name as it can be stored and shown.
pub fn clean_file_name(name: Option<&str>) -> String {
    let name: String = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("statement.csv")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if name.is_empty() {
        "statement.csv".to_owned()
    } else {
        name
    }
}

/// A multipart field's chunks as a stream.
pub fn field_stream<'a>(
    field: axum::extract::multipart::Field<'a>,
) -> impl Stream<Item = Result<bytes::Bytes, String>> + 'a {
    futures::stream::unfold(field, |mut f| async move {
        match f.chunk().await {
            Ok(Some(c)) => Some((Ok(c), f)),
            Ok(None) => None,
            Err(e) => Some((Err(e.body_text()), f)),
        }
    })
}

/// `POST …/reconcile/statements`: MoMo's statement as a raw `text/csv` body (`?fileName=`) or
/// `multipart/form-data` (field `file`), read and checked as it streams in. 201 with the stored
/// statement; 422 naming every bad line (nothing stored).
async fn upload_statement(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    req: Request,
) -> Result<Response, AppError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let query_name = req
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str::<UploadQuery>(q).ok())
        .and_then(|q| q.file_name);
    let mut conn = state.pool.acquire().await?;
    crate::web::quota::upload(&mut conn, &state, who.user_id).await?;
    let stored = if content_type.starts_with("multipart/form-data") {
        let mut mp = Multipart::from_request(req, &state)
            .await
            .map_err(|e| AppError::BadRequest(format!("the form could not be read: {e}")))?;
        let mut result = None;
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|e| AppError::BadRequest(format!("the form could not be read: {e}")))?
        {
            if field.name() != Some("file") {
                continue;
            }
            let name = clean_file_name(field.file_name().or(query_name.as_deref()));
            let body = Box::pin(field_stream(field));
            result = Some(service::store_statement(&mut conn, body, &name, &acting).await);
            break;
        }
        result.ok_or_else(|| AppError::field("file", "choose MoMo's statement file (CSV)"))?
    } else {
        let is_csv = [
            "text/csv",
            "application/csv",
            "text/plain",
            "application/octet-stream",
            "application/vnd.ms-excel",
        ]
        .iter()
        .any(|t| content_type.starts_with(t));
        if !is_csv {
            return Err(AppError::field(
                "file",
                "send the statement as text/csv (raw body) or multipart/form-data (field `file`)",
            ));
        }
        let name = clean_file_name(query_name.as_deref());
        let body = req.into_body().into_data_stream().map(|c| c.map_err(|e| e.to_string()));
        service::store_statement(&mut conn, Box::pin(body), &name, &acting).await
    };
    match stored {
        Ok(id) => {
            let view = views::statement(&mut conn, id).await?;
            Ok((StatusCode::CREATED, Json(Data { data: view })).into_response())
        }
        Err(UploadError::Read(e)) if e.contains("length limit") => Ok(service::upload_problem(UploadError::TooLarge)),
        Err(e) => Ok(service::upload_problem(e)),
    }
}

/// The run's items as CSV (every kind, gravest first), streamed. Audited as an export.
async fn export_csv(State(state): State<AppState>, acting: Acting, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    {
        let mut unit = state.unit().await?;
        let run = views::run(&mut unit, id).await?;
        audit::record(
            &mut unit,
            &acting
                .audit(Action::DisbursementsExported, "reconciliation_run", id)
                .after(json!({"format": "csv", "what": "reconciliation items", "status": run.status})),
            acting.now,
        )
        .await?;
        unit.commit().await?;
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
    let pool = state.pool.clone();
    tokio::spawn(async move {
        if let Err(e) = views::write_csv(pool, id, tx.clone()).await {
            tracing::error!(error = %e, "reconciliation CSV failed mid-stream");
            let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
        }
    });
    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|c| (c, rx))
    }));
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"reconciliation-{id}.csv\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}
