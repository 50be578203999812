//! `/api/v1/admin/alert-rules`: the custom alert rules. Listing and reading need `alerts.read`
//! (recipients are shown to those who may change rules or configure delivery); creating
//! `alerts.create`, changing (and the enabled switch) `alerts.update`, deleting `alerts.delete`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::custom::{self, RuleInput, RuleView};
use crate::access::Permission::*;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{ApiJson, Path};
use crate::web::openapi::Doc;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/admin/alert-rules", Access::Permission(AlertsRead), list,
            Doc::new("List the custom alert rules, by name")
                .describe("Each with what its last evaluation read. Recipients are left out for callers without \
                           `alerts.create`, `alerts.update` or `alerts.configure`.")
                .ok::<RuleList>()),
        route!(POST "/api/v1/admin/alert-rules", Access::Permission(AlertsCreate), create,
            Doc::new("Create a custom alert rule")
                .describe("A metric of the catalogue compared (`gt`, `ge`, `lt`, `le`) with a threshold over a window \
                           of minutes, evaluated once a minute; while the comparison holds, one open alert counts each \
                           evaluation. Channels and recipients are stored for delivery. Audited.")
                .body::<RuleInput>()
                .created::<RuleView>()
                .problems(&[409])),
        route!(GET "/api/v1/admin/alert-rules/{id}", Access::Permission(AlertsRead), get,
            Doc::new("One custom alert rule").ok::<RuleView>()),
        route!(PUT "/api/v1/admin/alert-rules/{id}", Access::Permission(AlertsUpdate), update,
            Doc::new("Change a custom alert rule (every field given again; `enabled` switches it)")
                .describe("Audited with the rule before and after.")
                .body::<RuleInput>()
                .ok::<RuleView>()
                .problems(&[409])),
        route!(DELETE "/api/v1/admin/alert-rules/{id}", Access::Permission(AlertsDelete), delete,
            Doc::new("Delete a custom alert rule (its alerts stay). Audited.").no_content()),
    ]
}

/// The custom alert rules.
#[derive(Serialize, ToSchema)]
#[schema(as = AlertRuleList)]
pub struct RuleList {
    pub data: Vec<RuleView>,
}

/// Whether `who` sees the recipients of rules.
pub fn sees_recipients(who: &Principal) -> bool {
    who.can(AlertsCreate) || who.can(AlertsUpdate) || who.can(AlertsConfigure)
}

pub(super) fn shown(who: &Principal, mut r: RuleView) -> RuleView {
    if !sees_recipients(who) {
        r.recipients.clear();
    }
    r
}

/// Creates a rule in one unit of work (the API and the page share it).
pub async fn create_rule(state: &AppState, input: &RuleInput, acting: &Acting) -> Result<RuleView, AppError> {
    let new = input.parse()?;
    let mut unit = state.unit().await?;
    let row = custom::create(&mut unit, &new, acting).await?;
    unit.commit().await?;
    Ok(row)
}

/// Changes a rule in one unit of work.
pub async fn update_rule(state: &AppState, id: Uuid, input: &RuleInput, acting: &Acting) -> Result<RuleView, AppError> {
    let new = input.parse()?;
    let mut unit = state.unit().await?;
    let row = custom::update(&mut unit, id, &new, acting).await?;
    unit.commit().await?;
    Ok(row)
}

/// Deletes a rule in one unit of work.
pub async fn delete_rule(state: &AppState, id: Uuid, acting: &Acting) -> Result<(), AppError> {
    let mut unit = state.unit().await?;
    custom::delete(&mut unit, id, acting).await?;
    unit.commit().await?;
    Ok(())
}

async fn list(State(state): State<AppState>, who: Principal) -> Result<Json<RuleList>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let rows = custom::list(&mut conn).await?;
    Ok(Json(RuleList {
        data: rows.into_iter().map(|r| shown(&who, r)).collect(),
    }))
}

async fn get(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Json<RuleView>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(shown(&who, custom::get(&mut conn, id).await?)))
}

async fn create(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(body): ApiJson<RuleInput>,
) -> Result<Response, AppError> {
    let row = create_rule(&state, &body, &acting).await?;
    Ok((StatusCode::CREATED, Json(row)).into_response())
}

async fn update(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<RuleInput>,
) -> Result<Json<RuleView>, AppError> {
    Ok(Json(update_rule(&state, id, &body, &acting).await?))
}

async fn delete(State(state): State<AppState>, acting: Acting, Path(id): Path<Uuid>) -> Result<StatusCode, AppError> {
    delete_rule(&state, id, &acting).await?;
    Ok(StatusCode::NO_CONTENT)
}
