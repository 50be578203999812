//! `/api/v1/admin/batches/{id}` edit, assign and delete, and `/api/v1/admin/batches/bulk`.

use crate::web::extract::Path;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::ops::{self, BatchChanges, BulkAction};
use crate::access::Permission::{self, *};
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::ApiJson;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

/// Bulk operations need the permission of their action (checked in the handler); the route
/// admits anyone holding one of them.
const BULK: &[Permission] = &[BatchesStatusChange, BatchesDelete];

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(PUT "/api/v1/admin/batches/{id}", Access::Permission(BatchesUpdate), update),
        route!(DELETE "/api/v1/admin/batches/{id}", Access::Permission(BatchesDelete), delete),
        route!(POST "/api/v1/admin/batches/{id}/assign", Access::Permission(BatchesAssign), assign),
        route!(POST "/api/v1/admin/batches/bulk", Access::AnyOf(BULK), bulk),
    ]
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateBody {
    name: Option<String>,
    description: Option<String>,
    expires_at: Option<String>,
    amount_per_code: Option<i64>,
}

async fn update(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<UpdateBody>,
) -> Result<Json<Value>, AppError> {
    let changes = BatchChanges {
        name: b.name,
        description: b.description,
        expires_at: b.expires_at,
        amount_per_code: b.amount_per_code,
    };
    let settings = state.settings.get();
    let mut unit = state.unit().await?;
    let batch = ops::update(&mut unit, &settings.0, id, &changes, &acting).await?;
    unit.commit().await?;
    Ok(Json(json!({"batch": batch})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignBody {
    user_id: Option<Uuid>,
}

async fn assign(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<AssignBody>,
) -> Result<Json<Value>, AppError> {
    let mut unit = state.unit().await?;
    let batch = ops::assign(&mut unit, id, b.user_id, &acting).await?;
    unit.commit().await?;
    Ok(Json(json!({"batch": batch})))
}

async fn delete(State(state): State<AppState>, acting: Acting, Path(id): Path<Uuid>) -> Result<Json<Value>, AppError> {
    let mut unit = state.unit().await?;
    let deleted = ops::delete(&mut unit, id, &acting).await?;
    unit.commit().await?;
    Ok(Json(json!({"deleted": id, "removed": deleted})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkBody {
    ids: Vec<Uuid>,
    action: BulkAction,
    status: Option<String>,
}

async fn bulk(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    ApiJson(b): ApiJson<BulkBody>,
) -> Result<Json<Value>, AppError> {
    who.require(b.action.permission())?;
    let ids = ops::check_bulk(&b.ids, b.action, b.status.as_deref())?;
    let outcomes = ops::bulk(&state.pool, &ids, b.action, b.status.as_deref(), &acting).await?;
    let done = outcomes.iter().filter(|o| o.outcome == ops::Done::Ok).count();
    Ok(Json(json!({
        "action": b.action,
        "done": done,
        "refused": outcomes.len() - done,
        "results": outcomes,
    })))
}
