//! `/api/v1/admin/alerts`: the alerts console's API — the list (filters, search, keyset paging),
//! the CSV export, one alert with its timeline, and the lifecycle's commands (acknowledge,
//! resolve with a note, escalate, snooze). Only the kinds the caller is an audience of exist for
//! them: any other alert answers 404. The page shares the commands ([`super::lifecycle`]).

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

use super::console::{self, AlertDetail, AlertRow, FilterQuery};
use super::lifecycle::{self, Command};
use crate::access::Permission::*;
use crate::audit::Action;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{ApiJson, Path, Query};
use crate::web::openapi::Doc;
use crate::web::paging::{Page, PageQuery, Paging};
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/admin/alerts", Access::Permission(AlertsRead), list,
            Doc::new("List the alerts the caller may see, filtered and searched, newest first")
                .describe("Only the kinds the caller is an audience of (`fraud.alerts.view`, `system.alerts.view`, `financial.alerts.view`, …). Pages by cursor: follow `next`.")
                .query::<FilterQuery>()
                .query::<PageQuery>()
                .page::<AlertRow>()),
        route!(GET "/api/v1/admin/alerts/export", Access::Permission(AlertsExport), export,
            Doc::new("Download the alerts the filters select, as CSV")
                .describe("At most 10,000 rows, newest first; audited and counted against the hourly download limit.")
                .query::<FilterQuery>()
                .file("text/csv", "The alerts (CSV)")),
        route!(GET "/api/v1/admin/alerts/{id}", Access::Permission(AlertsRead), detail,
            Doc::new("One alert with its timeline (raised, deliveries, acknowledged, escalated, snoozed, resolved)")
                .ok::<Data<AlertDetail>>()),
        route!(POST "/api/v1/admin/alerts/{id}/acknowledge", Access::Permission(AlertsAcknowledge), acknowledge,
            Doc::new("Acknowledge an open alert").ok::<Data<AlertDetail>>().problems(&[409])),
        route!(POST "/api/v1/admin/alerts/{id}/resolve", Access::Permission(AlertsAcknowledge), resolve,
            Doc::new("Resolve an open or acknowledged alert, saying how (`note`, required)")
                .body::<AlertNoteBody>()
                .ok::<Data<AlertDetail>>()
                .problems(&[409])),
        route!(POST "/api/v1/admin/alerts/{id}/escalate", Access::Permission(AlertsEscalate), escalate,
            Doc::new("Escalate an unresolved alert by hand (its level goes up; a snooze ends)")
                .body::<AlertNoteBody>()
                .ok::<Data<AlertDetail>>()
                .problems(&[409])),
        route!(POST "/api/v1/admin/alerts/{id}/snooze", Access::Permission(AlertsAcknowledge), snooze,
            Doc::new("Snooze an unresolved alert for 1, 4 or 24 hours (hidden from the open lists and the badge)")
                .body::<AlertSnoozeBody>()
                .ok::<Data<AlertDetail>>()
                .problems(&[409])),
    ]
}

/// `{data}`: one record.
#[derive(Debug, Serialize)]
pub struct Data<T> {
    pub data: T,
}

// By hand: the derive refers to `T` without putting `T`'s schema among the components.
impl<T: ToSchema> PartialSchema for Data<T> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property("data", Ref::from_schema_name(T::name()))
            .required("data")
            .into()
    }
}

impl<T: ToSchema> ToSchema for Data<T> {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
}

/// `{note}`: how the alert was resolved (required to resolve), or why it is escalated.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AlertNoteBody {
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// `{hours}`: 1, 4 or 24.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AlertSnoozeBody {
    #[schema(value_type = Option<i64>)]
    pub hours: Option<serde_json::Value>,
}

impl AlertSnoozeBody {
    /// The hours as typed (a number or a string), for [`Command::snooze`].
    pub fn hours(&self) -> Option<String> {
        match &self.hours {
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            _ => None,
        }
    }
}

async fn list(
    State(state): State<AppState>,
    who: Principal,
    paging: Paging,
    Query(q): Query<FilterQuery>,
) -> Result<Json<Page<AlertRow>>, AppError> {
    let f = q.parse()?;
    let after: Option<console::Position> = paging.position()?;
    let audiences = super::audiences(who.permissions.iter());
    let mut conn = state.pool.acquire().await?;
    let rows = console::list(&mut conn, &audiences, &f, after, paging.fetch(), state.clock.now()).await?;
    Ok(Json(paging.page(rows, |r| (r.created_at, r.id))))
}

async fn detail(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Data<AlertDetail>>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let data = console::detail(&mut conn, &who, id).await?;
    Ok(Json(Data { data }))
}

/// Runs `cmd` on the alert in one unit of work and answers the alert as it now is.
pub(super) async fn run(
    state: &AppState,
    who: &Principal,
    acting: &Acting,
    id: Uuid,
    cmd: &Command,
) -> Result<AlertDetail, AppError> {
    let audiences = super::audiences(who.permissions.iter());
    let mut unit = state.unit().await?;
    lifecycle::apply(&mut unit, id, &audiences, cmd, acting).await?;
    unit.commit().await?;
    let mut conn = state.pool.acquire().await?;
    console::detail(&mut conn, who, id).await
}

async fn acknowledge(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Json<Data<AlertDetail>>, AppError> {
    let data = run(&state, &who, &acting, id, &Command::Acknowledge).await?;
    Ok(Json(Data { data }))
}

async fn resolve(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<AlertNoteBody>,
) -> Result<Json<Data<AlertDetail>>, AppError> {
    let cmd = Command::resolve(b.note.as_deref())?;
    let data = run(&state, &who, &acting, id, &cmd).await?;
    Ok(Json(Data { data }))
}

async fn escalate(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<AlertNoteBody>,
) -> Result<Json<Data<AlertDetail>>, AppError> {
    let cmd = Command::escalate(b.note.as_deref())?;
    let data = run(&state, &who, &acting, id, &cmd).await?;
    Ok(Json(Data { data }))
}

async fn snooze(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<AlertSnoozeBody>,
) -> Result<Json<Data<AlertDetail>>, AppError> {
    let cmd = Command::snooze(b.hours().as_deref())?;
    let data = run(&state, &who, &acting, id, &cmd).await?;
    Ok(Json(Data { data }))
}

async fn export(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Query(q): Query<FilterQuery>,
) -> Result<Response, AppError> {
    export_response(&state, &who, &acting, &q).await
}

/// The CSV of the alerts the filters select: counted against the caller's hourly download limit,
/// audited, then sent (shared by the API and the page's export link).
pub(super) async fn export_response(
    state: &AppState,
    who: &Principal,
    acting: &Acting,
    q: &FilterQuery,
) -> Result<Response, AppError> {
    let f = q.parse()?;
    let audiences = super::audiences(who.permissions.iter());
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
    let (csv, rows) = console::export_csv(&mut unit, &audiences, &f, acting.now).await?;
    let filters: serde_json::Map<String, serde_json::Value> =
        q.pairs().into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect();
    crate::audit::record(
        &mut unit,
        &acting
            .audit(Action::AlertsExported, "alerts", "export")
            .metadata(serde_json::json!({"rows": rows, "filters": filters})),
        acting.now,
    )
    .await?;
    unit.commit().await?;
    let mut res = csv.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let name = format!(
        "alerts-{}.csv",
        acting.now.with_timezone(&crate::clock::kigali()).format("%Y%m%d-%H%M")
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}
