//! `/api/v1/admin/batches/{id}` edit, assign and delete, and `/api/v1/admin/batches/bulk`.

use crate::web::extract::Path;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::api::BatchAnswer;
use super::ops::{self, BatchChanges, BulkAction, Deleted, Outcome};
use super::BatchStatus;
use crate::access::Permission::{self, *};
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::ApiJson;
use crate::web::openapi::Doc;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

/// Bulk operations need the permission of their action (checked in the handler); the route
/// admits anyone holding one of them.
const BULK: &[Permission] = &[BatchesStatusChange, BatchesDelete];

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(PUT "/api/v1/admin/batches/{id}", Access::Permission(BatchesUpdate), update,
            Doc::new("Edit a batch's name, description, expiry or amount")
                .describe("Only the fields sent change. The expiry moves only for an active or blocked batch; the \
                           amount changes every code's amount, and is refused once a code is redeemed.")
                .body::<UpdateBody>()
                .ok::<BatchAnswer>()
                .problems(&[409])),
        route!(DELETE "/api/v1/admin/batches/{id}", Access::Permission(BatchesDelete), delete,
            Doc::new("Delete a batch nobody has redeemed from, with its codes")
                .describe("A batch with a redemption, or a used or redeemed code, is refused (409): block it instead.")
                .ok::<DeletedAnswer>()
                .problems(&[409])),
        route!(POST "/api/v1/admin/batches/{id}/assign", Access::Permission(BatchesAssign), assign,
            Doc::new("Assign a batch to a staff member (or no one)")
                .body::<AssignBody>()
                .ok::<BatchAnswer>()),
        route!(POST "/api/v1/admin/batches/bulk", Access::AnyOf(BULK), bulk,
            Doc::new("Block, unblock, delete or set the status of many batches")
                .describe("Each batch is done (or refused) on its own; `results` says which. `delete` needs \
                           `batches.delete`, the others `batches.status-change`.")
                .body::<BulkBody>()
                .ok::<BulkAnswer>()),
    ]
}

/// The fields to change; those left out stay.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateBody {
    /// 1 to 120 characters, unique among batches.
    #[schema(min_length = 1, max_length = 120)]
    name: Option<String>,
    /// At most 1000 characters.
    #[schema(max_length = 1000)]
    description: Option<String>,
    /// A date (`2027-03-31`, the end of that day in Kigali) or an RFC 3339 instant.
    expires_at: Option<String>,
    /// Whole francs each code pays.
    #[schema(minimum = 1)]
    amount_per_code: Option<i64>,
}

async fn update(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<UpdateBody>,
) -> Result<Json<BatchAnswer>, AppError> {
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
    Ok(Json(BatchAnswer { batch }))
}

/// Who the batch is assigned to.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignBody {
    /// An active staff member who may manage batches; null or left out for no one.
    user_id: Option<Uuid>,
}

async fn assign(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<AssignBody>,
) -> Result<Json<BatchAnswer>, AppError> {
    let mut unit = state.unit().await?;
    let batch = ops::assign(&mut unit, id, b.user_id, &acting).await?;
    unit.commit().await?;
    Ok(Json(BatchAnswer { batch }))
}

/// The deleted batch's id and what went with it.
#[derive(Serialize, ToSchema)]
pub struct DeletedAnswer {
    deleted: Uuid,
    removed: Deleted,
}

async fn delete(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Json<DeletedAnswer>, AppError> {
    let mut unit = state.unit().await?;
    let removed = ops::delete(&mut unit, id, &acting).await?;
    unit.commit().await?;
    Ok(Json(DeletedAnswer { deleted: id, removed }))
}

/// The batches and what to do to them.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkBody {
    /// 1 to 500 batches.
    #[schema(min_items = 1, max_items = 500)]
    ids: Vec<Uuid>,
    action: BulkAction,
    /// The status to set (with `action: status`).
    #[schema(value_type = Option<BatchStatus>)]
    status: Option<String>,
}

/// What a bulk operation did: how many batches changed, how many were refused, and each one.
#[derive(Serialize, ToSchema)]
pub struct BulkAnswer {
    action: BulkAction,
    done: usize,
    refused: usize,
    results: Vec<Outcome>,
}

async fn bulk(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    ApiJson(b): ApiJson<BulkBody>,
) -> Result<Json<BulkAnswer>, AppError> {
    who.require(b.action.permission())?;
    let ids = ops::check_bulk(&b.ids, b.action, b.status.as_deref())?;
    let outcomes = ops::bulk(&state.pool, &ids, b.action, b.status.as_deref(), &acting).await?;
    let done = outcomes.iter().filter(|o| o.outcome == ops::Done::Ok).count();
    Ok(Json(BulkAnswer {
        action: b.action,
        done,
        refused: outcomes.len() - done,
        results: outcomes,
    }))
}
