//! `/api/v1/admin/reports/{batches,financial,engagement}` (the report as JSON, or CSV with
//! `format=csv`) and the export job's routes (built-in and saved custom reports alike):
//! `POST /export` (202, the file and its job), `GET /export/{id}` (progress) and
//! `GET /export/{id}/download`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use uuid::Uuid;

use super::export::{self, ExportBody, Status};
use super::model::{Kind, Report};
use super::spec::{RangeParams, Spec, Viewer};
use crate::access::Permission::*;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{ApiJson, Path, Query};
use crate::web::openapi::Doc;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

const READ: Access = Access::Permission(ReportsRead);
const EXPORT: Access = Access::Permission(ReportsExport);

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/admin/reports/batches", READ, batches,
            Doc::new("Batch performance over Kigali days")
                .describe("Per batch: codes, redeemed, redemption rate and its curve, expired unredeemed; value paid and pending for readers of payouts. `format=csv` answers the tables as CSV.")
                .query::<ReportQuery>()
                .ok::<Report>()
                .file("text/csv", "… or the report's tables as CSV (`format=csv`)")
                .problems(&[404])),
        route!(GET "/api/v1/admin/reports/financial", Access::AllOf(&[ReportsRead, DisbursementsRead]), financial,
            Doc::new("Financial report over Kigali days")
                .describe("Needs `disbursements.read` as well as `reports.read`. Payouts created in the range by day, batch and state (paid, pending, held, failed), reversals, reconciliation per day; the totals agree with the payouts list for the same days.")
                .query::<ReportQuery>()
                .ok::<Report>()
                .file("text/csv", "… or the report's tables as CSV (`format=csv`; with `analytics.reports.includeRawData`, every payout too)")),
        route!(GET "/api/v1/admin/reports/engagement", READ, engagement,
            Doc::new("Customer engagement over Kigali days")
                .describe("New and returning customers, redemptions per customer, wrong-code attempts and flagged phones, languages, networks, and an hour-of-day × weekday heat map in Kigali time.")
                .query::<ReportQuery>()
                .ok::<Report>()
                .file("text/csv", "… or the report's tables as CSV (`format=csv`)")),
        route!(POST "/api/v1/admin/reports/export", EXPORT, export_start,
            Doc::new("Export a report as a file (made by a job)")
                .describe("A built-in report (`kind`, `from`, `to`, `batchId`) or a saved custom report (`customReportId`: over its definition's days and filters; money in it needs `disbursements.read`). Answers 202 with the file's record and its job; follow `GET /api/v1/admin/reports/export/{id}` until `ready`, then download. Kept for `analytics.dataRetention.reportDataDays`. Audited.")
                .body::<ExportBody>()
                .accepted::<Status>()),
        route!(GET "/api/v1/admin/reports/export/{id}", EXPORT, export_status,
            Doc::new("An exported report's progress")
                .ok::<Status>()),
        route!(GET "/api/v1/admin/reports/export/{id}/download", EXPORT, export_download,
            Doc::new("Download an exported report")
                .describe("Audited. 409 while it is being made, when it failed, or once it has expired.")
                .file("text/csv", "The report (CSV), or …")
                .file("application/pdf", "… the report (PDF)")
                .problems(&[409])),
    ]
}

/// The report's days, batch and answer format.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// The first Kigali day, `YYYY-MM-DD` (default: 29 days before `to`).
    pub from: Option<String>,
    /// The last Kigali day, included (default: today); a range covers at most 366 days.
    pub to: Option<String>,
    /// Only this batch.
    pub batch_id: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

impl ReportQuery {
    fn spec(&self, kind: Kind, state: &AppState) -> Result<(Spec, bool), AppError> {
        let csv = match self.format.as_deref().map(str::trim) {
            None | Some("") | Some("json") => false,
            Some("csv") => true,
            Some(_) => return Err(AppError::field("format", "must be json or csv")),
        };
        let today = super::spec::kigali_day(state.clock.now());
        let params = RangeParams {
            from: self.from.clone(),
            to: self.to.clone(),
            batch_id: self.batch_id.clone(),
        };
        Ok((params.spec(kind, today)?, csv))
    }
}

async fn batches(
    State(s): State<AppState>,
    who: Principal,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    answer(&s, &who, &q, Kind::Batches).await
}

async fn financial(
    State(s): State<AppState>,
    who: Principal,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    answer(&s, &who, &q, Kind::Financial).await
}

async fn engagement(
    State(s): State<AppState>,
    who: Principal,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    answer(&s, &who, &q, Kind::Engagement).await
}

/// Builds the report and answers it as JSON or CSV.
async fn answer(state: &AppState, who: &Principal, q: &ReportQuery, kind: Kind) -> Result<Response, AppError> {
    let viewer = Viewer::of(who);
    let (spec, csv) = q.spec(kind, state)?;
    let mut conn = state.pool.acquire().await?;
    let report = super::build_at(&mut conn, &spec, &viewer, state.clock.now()).await?;
    drop(conn);
    let settings = state.settings.get();
    let analytics = &settings.0.analytics;
    if !csv {
        return Ok(Json(export::job::with_settings(report, analytics.report_include_charts)).into_response());
    }
    let name = format!(
        "{}_{}_{}.csv",
        kind.as_str(),
        spec.range.from.format("%Y-%m-%d"),
        spec.range.to.format("%Y-%m-%d")
    );
    let raw = kind == Kind::Financial && analytics.report_include_raw_data;
    let width = if raw { super::csv::RAW_WIDTH } else { 0 };
    let head = super::csv::render_padded(&report, width).map_err(|e| AppError::Internal(e.into()))?;
    let body = if raw {
        let heading = super::csv::raw_heading().map_err(|e| AppError::Internal(e.into()))?;
        let rows = super::csv::raw_payouts(state.pool.clone(), &report, spec.batch, i64::MAX);
        let first = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(head)), Ok(heading.into())]);
        let rest = futures::stream::unfold(rows, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
        Body::from_stream(futures::StreamExt::chain(first, rest))
    } else {
        Body::from(head)
    };
    Ok(file_response(body, "text/csv; charset=utf-8", &name))
}

fn file_response(body: Body, mime: &'static str, name: &str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `POST /api/v1/admin/reports/export` `{kind, from, to, batchId?, format?}`.
async fn export_start(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    ApiJson(body): ApiJson<ExportBody>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let cmd = body.parse(super::spec::kigali_day(acting.now), &settings.0.analytics)?;
    let mut unit = state.unit().await?;
    let file = export::request(&mut unit, &cmd, &Viewer::of(&who), &settings.0.analytics, &acting).await?;
    let status = export::status(&mut unit, file).await?;
    unit.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(status)).into_response())
}

/// `GET /api/v1/admin/reports/export/{id}`: the file's record, its job and its progress.
async fn export_status(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Status>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let file = export::visible(&mut conn, id, Viewer::of(&who).money).await?;
    Ok(Json(export::status(&mut conn, file).await?))
}

/// `GET /api/v1/admin/reports/export/{id}/download`.
async fn export_download(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    let file = export::visible(&mut unit, id, Viewer::of(&who).money).await?;
    export::download(&mut unit, &file, &acting).await?;
    let path = file.path(&state.config.data_dir);
    let f = tokio::fs::File::open(&path)
        .await
        .map_err(|_| AppError::conflict("id", "this report's file is missing; export it again"))?;
    unit.commit().await?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(f));
    Ok(file_response(body, file.mime(), &file.file_name))
}
