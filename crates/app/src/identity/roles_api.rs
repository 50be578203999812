//! `/api/v1/admin/role-requests` and `/api/v1/admin/settings/{roles,permissions}`: role changes
//! waiting for a second Super Administrator, and roles with the permissions they grant.

use crate::web::extract::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::access::roles::{self, Decision, RequestView, RoleView};
use crate::access::Permission::{self, *};
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::extract::ApiJson;
use crate::web::openapi::Doc;
use crate::web::paging::{Page, PageQuery, Paging};
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/admin/role-requests", Access::Permission(UsersRolesAssign), list_requests,
            Doc::new("List role changes waiting for a second Super Administrator, oldest first")
                .query::<PageQuery>()
                .page::<RequestView>()),
        route!(POST "/api/v1/admin/role-requests/{id}/approve", Access::Permission(UsersRolesAssign), approve_request,
            Doc::new("Approve a role change (applies it)")
                .describe("Only a Super Administrator other than the one who asked (403 otherwise); 409 when it is no longer pending.")
                .no_content()
                .problems(&[409])),
        route!(POST "/api/v1/admin/role-requests/{id}/reject", Access::Permission(UsersRolesAssign), reject_request,
            Doc::new("Reject a role change")
                .describe("Only a Super Administrator other than the one who asked (403 otherwise); 409 when it is no longer pending.")
                .no_content()
                .problems(&[409])),
        route!(GET "/api/v1/admin/settings/roles", Access::Permission(RolesManage), list_roles,
            Doc::new("List roles with their permissions, system roles first")
                .query::<PageQuery>()
                .page::<RoleView>()),
        route!(PUT "/api/v1/admin/settings/roles/{id}/permissions", Access::Permission(RolesManage), set_role_permissions,
            Doc::new("Replace the permissions a role grants")
                .describe("The Super Administrator always holds every permission and the Customer role none (409).")
                .body::<PermissionsBody>()
                .ok::<RoleAnswer>()
                .problems(&[409])),
        route!(GET "/api/v1/admin/settings/permissions", Access::Permission(RolesManage), catalogue,
            Doc::new("List every permission there is, by area")
                .query::<PageQuery>()
                .page::<PermissionInfo>()),
    ]
}

async fn list_requests(State(state): State<AppState>, paging: Paging) -> Result<Json<Page<RequestView>>, AppError> {
    let after = paging.position()?;
    let mut conn = state.pool.acquire().await?;
    let rows = roles::pending_page(&mut conn, None, after, Some(paging.fetch())).await?;
    Ok(Json(paging.page(rows, |r| (r.created_at, r.id))))
}

async fn decide(state: AppState, acting: Acting, id: Uuid, decision: Decision) -> Result<StatusCode, AppError> {
    let mut unit = state.unit().await?;
    roles::decide(&mut unit, id, decision, &acting).await?;
    unit.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn approve_request(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    decide(state, acting, id, Decision::Approve).await
}

async fn reject_request(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    decide(state, acting, id, Decision::Reject).await
}

async fn list_roles(State(state): State<AppState>, paging: Paging) -> Result<Json<Page<RoleView>>, AppError> {
    let after: Option<roles::RolePosition> = paging.position()?;
    let mut conn = state.pool.acquire().await?;
    let rows = roles::list_page(&mut conn, after.as_ref(), Some(paging.fetch())).await?;
    Ok(Json(paging.page(rows, |r| (r.is_system, r.name.clone()))))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PermissionsBody {
    /// Every permission key the role grants from now on.
    permissions: Vec<String>,
}

/// The role as it is now.
#[derive(Serialize, ToSchema)]
pub struct RoleAnswer {
    role: RoleView,
}

async fn set_role_permissions(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<PermissionsBody>,
) -> Result<Json<RoleAnswer>, AppError> {
    let mut unit = state.unit().await?;
    let role = roles::set_permissions(&mut unit, id, &b.permissions, &acting).await?;
    unit.commit().await?;
    Ok(Json(RoleAnswer { role }))
}

/// One permission of the catalogue.
#[derive(Serialize, ToSchema)]
pub struct PermissionInfo {
    key: &'static str,
    /// The area it belongs to (`users`, `batches`, …).
    category: &'static str,
    description: &'static str,
    /// Added by this project where a PRD route needed a key (not in the PRD's list).
    added: bool,
}

/// The catalogue in its own order; the cursor is the last key shown.
async fn catalogue(paging: Paging) -> Result<Json<Page<PermissionInfo>>, AppError> {
    let start = match paging.position::<String>()? {
        None => 0,
        Some(key) => {
            let at = Permission::ALL.iter().position(|p| p.key() == key);
            at.ok_or_else(|| AppError::field("cursor", "is not a cursor this server gave out"))? + 1
        }
    };
    let rows = Permission::ALL
        .iter()
        .skip(start)
        .take(paging.fetch() as usize)
        .map(|p| PermissionInfo {
            key: p.key(),
            category: p.category(),
            description: p.description(),
            added: p.is_added(),
        })
        .collect();
    Ok(Json(paging.page(rows, |p| p.key)))
}
