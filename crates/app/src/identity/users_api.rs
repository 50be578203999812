//! `/api/v1/admin/users` (PRD tree), role change requests, and roles with their permissions.

use crate::web::extract::{Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::users::{self, Filter, NewUser, UserChange};
use crate::access::roles::{self, Change, Decision, RoleChange};
use crate::access::Permission::*;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::extract::ApiJson;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/admin/users", Access::Permission(UsersRead), list),
        route!(POST "/api/v1/admin/users", Access::Permission(UsersCreate), create),
        route!(GET "/api/v1/admin/users/stats", Access::Permission(UsersRead), stats),
        route!(GET "/api/v1/admin/users/pending", Access::Permission(UsersRegistrationApprove), pending),
        route!(GET "/api/v1/admin/users/registration-status", Access::Permission(UsersRegistrationApprove), registration_status),
        route!(GET "/api/v1/admin/users/{id}", Access::Permission(UsersRead), detail),
        route!(PUT "/api/v1/admin/users/{id}", Access::Permission(UsersUpdate), update),
        route!(DELETE "/api/v1/admin/users/{id}", Access::Permission(UsersDelete), delete),
        route!(POST "/api/v1/admin/users/{id}/roles", Access::Permission(UsersRolesAssign), assign_role),
        route!(DELETE "/api/v1/admin/users/{id}/roles", Access::Permission(UsersRolesRevoke), revoke_role),
        route!(GET "/api/v1/admin/users/{id}/permissions", Access::Permission(UsersRead), permissions),
        route!(POST "/api/v1/admin/users/{id}/approve", Access::Permission(UsersRegistrationApprove), approve),
        route!(POST "/api/v1/admin/users/{id}/reject", Access::Permission(UsersRegistrationApprove), reject),
        route!(POST "/api/v1/admin/users/{id}/reset-2fa", Access::Permission(UsersUpdate), reset_mfa),
        route!(POST "/api/v1/admin/users/{id}/sessions/revoke", Access::Permission(UsersUpdate), revoke_sessions),
        route!(GET "/api/v1/admin/role-requests", Access::Permission(UsersRolesAssign), list_requests),
        route!(POST "/api/v1/admin/role-requests/{id}/approve", Access::Permission(UsersRolesAssign), approve_request),
        route!(POST "/api/v1/admin/role-requests/{id}/reject", Access::Permission(UsersRolesAssign), reject_request),
        route!(GET "/api/v1/admin/settings/roles", Access::Permission(RolesManage), list_roles),
        route!(PUT "/api/v1/admin/settings/roles/{id}/permissions", Access::Permission(RolesManage), set_role_permissions),
        route!(GET "/api/v1/admin/settings/permissions", Access::Permission(RolesManage), catalogue),
    ]
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    role: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

async fn list(State(state): State<AppState>, Query(q): Query<ListQuery>) -> Result<Json<Value>, AppError> {
    let f = Filter {
        q: q.q,
        status: q.status,
        role: q.role,
        page: q.page.unwrap_or(0),
        per_page: q.per_page.unwrap_or(50),
    };
    let mut conn = state.pool.acquire().await?;
    let (rows, total) = users::list(&mut conn, &f, state.clock.now()).await?;
    Ok(Json(
        json!({"users": rows, "total": total, "page": f.page, "perPage": f.per_page.clamp(1, 200)}),
    ))
}

async fn create(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(new): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let mut unit = state.unit().await?;
    let (id, link, requested) = users::create(&mut unit, &new, &acting).await?;
    unit.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": id,
            "setupLink": link.url(&state.config.public_base_url),
            "setupLinkExpiresAt": link.expires_at,
            "roleRequests": requested,
            "note": "The set-up link is shown once: hand it to the person it is for.",
        })),
    ))
}

async fn stats(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let row: (i64, i64, i64, i64, i64) = sqlx::query_as(
        "select count(*) filter (where is_active and approval_status = 'approved'), \
                count(*) filter (where not is_active and approval_status = 'approved'), \
                count(*) filter (where approval_status = 'pending'), \
                count(*) filter (where mfa_enabled), \
                count(*) filter (where lockout_until > $1) \
         from users where kind = 'staff'",
    )
    .bind(state.clock.now())
    .fetch_one(&state.pool)
    .await?;
    Ok(Json(
        json!({"active": row.0, "deactivated": row.1, "pending": row.2, "withTwoFactor": row.3, "locked": row.4}),
    ))
}

async fn pending(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        json!({"registrations": users::pending_registrations(&mut conn, state.clock.now()).await?}),
    ))
}

async fn registration_status(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let s = state.settings.get();
    let mut conn = state.pool.acquire().await?;
    Ok(Json(json!({
        "enabled": s.0.security.registration.admin_registration_enabled,
        "requireApproval": s.0.security.registration.require_approval,
        "pending": users::pending_count(&mut conn).await?,
    })))
}

async fn detail(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<Value>, AppError> {
    let now = state.clock.now();
    let mut conn = state.pool.acquire().await?;
    let user = users::get(&mut conn, id, now).await?;
    let requests = roles::pending(&mut conn, Some(id)).await?;
    Ok(Json(json!({"user": user, "pendingRoleRequests": requests})))
}

async fn update(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(change): ApiJson<UserChange>,
) -> Result<Json<Value>, AppError> {
    let mut unit = state.unit().await?;
    let user = users::update(&mut unit, id, &change, &acting).await?;
    unit.commit().await?;
    Ok(Json(json!({"user": user})))
}

async fn delete(State(state): State<AppState>, acting: Acting, Path(id): Path<Uuid>) -> Result<Json<Value>, AppError> {
    let mut unit = state.unit().await?;
    let deleted = users::delete_or_deactivate(&mut unit, id, &acting).await?;
    unit.commit().await?;
    Ok(Json(json!({
        "deleted": deleted,
        "deactivated": !deleted,
        "note": if deleted { "deleted" } else { "this user has history, so the account was deactivated instead" },
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleBody {
    role_id: Uuid,
}

async fn change_role(state: AppState, acting: Acting, rc: RoleChange) -> Result<(StatusCode, Json<Value>), AppError> {
    let mut unit = state.unit().await?;
    let out = roles::request(&mut unit, rc, &acting).await?;
    unit.commit().await?;
    let code = if matches!(out, roles::Requested::Pending { .. }) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(json!(out))))
}

impl RoleBody {
    fn change(self, user_id: Uuid, change: Change) -> RoleChange {
        RoleChange {
            user_id,
            role_id: self.role_id,
            change,
        }
    }
}

async fn assign_role(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<RoleBody>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    change_role(state, acting, b.change(id, Change::Assign)).await
}

async fn revoke_role(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<RoleBody>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    change_role(state, acting, b.change(id, Change::Revoke)).await
}

async fn permissions(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<Value>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let user = users::get(&mut conn, id, state.clock.now()).await?;
    let perms = crate::access::effective_permissions(&mut conn, id).await?;
    let keys: Vec<&str> = perms.iter().map(|p| p.key()).collect();
    Ok(Json(json!({"userId": id, "roles": user.roles, "permissions": keys})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApproveBody {
    role_ids: Vec<Uuid>,
}

async fn approve(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<ApproveBody>,
) -> Result<Json<Value>, AppError> {
    let mut unit = state.unit().await?;
    let link = users::approve(&mut unit, id, &b.role_ids, &acting).await?;
    unit.commit().await?;
    let url = link.url(&state.config.public_base_url);
    let emailed = super::mail::send_setup_link(&state, id, &url).await;
    Ok(Json(json!({
        "approved": true,
        "emailed": emailed,
        "setupLink": if emailed { Value::Null } else { Value::String(url) },
        "setupLinkExpiresAt": link.expires_at,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RejectBody {
    reason: Option<String>,
}

async fn reject(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<RejectBody>,
) -> Result<StatusCode, AppError> {
    let mut unit = state.unit().await?;
    users::reject(&mut unit, id, body.reason.as_deref(), &acting).await?;
    unit.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reset_mfa(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    let mut unit = state.unit().await?;
    users::reset_mfa(&mut unit, id, &acting).await?;
    unit.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke_sessions(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>, AppError> {
    let mut unit = state.unit().await?;
    let n = users::revoke_sessions(&mut unit, id, &acting).await?;
    unit.commit().await?;
    Ok(Json(json!({"revoked": n})))
}

async fn list_requests(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(json!({"requests": roles::pending(&mut conn, None).await?})))
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

async fn list_roles(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(json!({"roles": roles::list(&mut conn).await?})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PermissionsBody {
    permissions: Vec<String>,
}

async fn set_role_permissions(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<PermissionsBody>,
) -> Result<Json<Value>, AppError> {
    let mut unit = state.unit().await?;
    let role = roles::set_permissions(&mut unit, id, &b.permissions, &acting).await?;
    unit.commit().await?;
    Ok(Json(json!({"role": role})))
}

async fn catalogue() -> Json<Value> {
    let list: Vec<Value> = crate::access::Permission::ALL
        .iter()
        .map(|p| json!({"key": p.key(), "category": p.category(), "description": p.description(), "added": p.is_added()}))
        .collect();
    Json(json!({"permissions": list}))
}
