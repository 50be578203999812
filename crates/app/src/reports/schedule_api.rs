//! `/api/v1/admin/reports/schedule`: create, list and delete report schedules, and read their
//! recorded runs. Reading needs `reports.read`; creating and deleting `reports.create`; a
//! schedule of money (the financial report, or a custom report with money) needs
//! `disbursements.read` too.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::custom_api::reader;
use super::custom_store;
use super::model::Kind;
use super::schedule::{self, After, Delivery, NewSchedule, RunView, ScheduleInput, ScheduleView};
use crate::access::Permission::*;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{ApiJson, Path};
use crate::web::openapi::Doc;
use crate::web::paging::{Page, PageQuery, Paging};
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(POST "/api/v1/admin/reports/schedule", Access::Permission(ReportsCreate), create,
            Doc::new("Schedule a report by e-mail")
                .describe("A built-in report (`batches`, `financial`, `engagement`) or a saved custom report \
                           (`customReportId`), sent `daily` (yesterday, each morning), `weekly` (last week, Mondays) \
                           or `monthly` (last month, on the 1st) to 1–50 recipients as CSV or PDF, attached, or \
                           (built-in reports) as a link to the exported file's page (`delivery: link`). The \
                           latest due period is sent at the next pass; each period once. Sent with the SMTP server \
                           of the notification settings; every run is recorded (`…/schedule/runs`).")
                .body::<ScheduleInput>()
                .created::<ScheduleAnswer>()
                .problems(&[403])),
        route!(GET "/api/v1/admin/reports/schedule", Access::Permission(ReportsRead), list,
            Doc::new("List report schedules, newest first")
                .query::<PageQuery>()
                .page::<ScheduleView>()),
        route!(GET "/api/v1/admin/reports/schedule/runs", Access::Permission(ReportsRead), list_runs,
            Doc::new("Recorded runs of every schedule (the analytics settings' built-in one too), newest first")
                .query::<PageQuery>()
                .page::<RunView>()),
        route!(GET "/api/v1/admin/reports/schedule/{id}", Access::Permission(ReportsRead), get,
            Doc::new("One schedule and its latest runs").ok::<ScheduleAnswer>()),
        route!(DELETE "/api/v1/admin/reports/schedule/{id}", Access::Permission(ReportsCreate), delete,
            Doc::new("Delete one's own schedule (its recorded runs stay)")
                .describe("409 for another person's schedule.")
                .no_content()
                .problems(&[409])),
    ]
}

/// A schedule and its latest runs.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReportScheduleAnswer)]
pub struct ScheduleAnswer {
    pub data: ScheduleView,
    /// The 20 latest runs, newest first.
    pub runs: Vec<RunView>,
}

/// Checks that `who` may schedule `new` (and sees its custom report), then creates it in one
/// unit of work: the use case the API and the page share.
pub async fn create_schedule(
    state: &AppState,
    who: &Principal,
    new: &NewSchedule,
    acting: &Acting,
) -> Result<Uuid, AppError> {
    if new.delivery == Delivery::Link && new.kind == Kind::Custom {
        return Err(AppError::field(
            "delivery",
            "a custom report is attached; links are for the built-in reports",
        ));
    }
    let mut unit = state.unit().await?;
    match new.custom_report_id {
        Some(id) => {
            let saved = custom_store::get(&mut unit, &reader(who), id).await.map_err(|_| {
                AppError::field(
                    "customReportId",
                    "no saved report of yours or shared with you has this id",
                )
            })?;
            super::custom_api::may_run(who, &saved.definition)?;
        }
        None if new.kind == Kind::Financial => who.require(DisbursementsRead)?,
        None => {}
    }
    let id = schedule::create(&mut unit, new, acting).await?;
    unit.commit().await?;
    Ok(id)
}

async fn answer(state: &AppState, id: Uuid) -> Result<ScheduleAnswer, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(ScheduleAnswer {
        data: schedule::get(&mut conn, id).await?,
        runs: schedule::runs(&mut conn, Some(id), None, 20).await?,
    })
}

async fn create(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    ApiJson(body): ApiJson<ScheduleInput>,
) -> Result<Response, AppError> {
    let new = body.parse(&state.settings.get().0.analytics.report_default_format)?;
    let id = create_schedule(&state, &who, &new, &acting).await?;
    Ok((StatusCode::CREATED, Json(answer(&state, id).await?)).into_response())
}

async fn list(State(state): State<AppState>, paging: Paging) -> Result<Json<Page<ScheduleView>>, AppError> {
    let after = paging.position::<After>()?;
    let mut conn = state.pool.acquire().await?;
    let rows = schedule::list(&mut conn, after, paging.fetch()).await?;
    Ok(Json(paging.page(rows, |s| After(s.created_at, s.id))))
}

async fn list_runs(State(state): State<AppState>, paging: Paging) -> Result<Json<Page<RunView>>, AppError> {
    let after = paging.position::<After>()?;
    let mut conn = state.pool.acquire().await?;
    let rows = schedule::runs(&mut conn, None, after, paging.fetch()).await?;
    Ok(Json(paging.page(rows, |r| After(r.created_at, r.id))))
}

async fn get(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<ScheduleAnswer>, AppError> {
    Ok(Json(answer(&state, id).await?))
}

async fn delete(State(state): State<AppState>, acting: Acting, Path(id): Path<Uuid>) -> Result<StatusCode, AppError> {
    let mut unit = state.unit().await?;
    schedule::delete(&mut unit, id, &acting).await?;
    unit.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
