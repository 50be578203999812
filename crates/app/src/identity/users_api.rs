//! `/api/v1/admin/users` (PRD tree): staff users and registrations. Role change requests and
//! roles with their permissions are in [`super::roles_api`].

use crate::web::extract::{Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::users::{self, Filter, ListQuery, NewUser, UserChange, UserRow};
use crate::access::roles::{self, Change, RequestView, Requested, RoleChange};
use crate::access::Permission::*;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::extract::ApiJson;
use crate::web::openapi::Doc;
use crate::web::paging::{Page, PageQuery, Paging};
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    let mut specs = vec![
        route!(GET "/api/v1/admin/users", Access::Permission(UsersRead), list,
            Doc::new("List staff users, newest first")
                .query::<ListQuery>()
                .query::<PageQuery>()
                .page::<UserRow>()),
        route!(POST "/api/v1/admin/users", Access::Permission(UsersCreate), create,
            Doc::new("Add a staff user (answers a one-time set-up link)")
                .describe("The user has no password until they use the set-up link. Each role asked for is a role change request a second Super Administrator approves (applied at once while you are the only one).")
                .body::<NewUser>()
                .created::<CreatedUser>()
                .problems(&[409])),
        route!(GET "/api/v1/admin/users/stats", Access::Permission(UsersRead), stats,
            Doc::new("How many staff users are active, deactivated, pending, with two-factor, locked")
                .ok::<UserStats>()),
        route!(GET "/api/v1/admin/users/pending", Access::Permission(UsersRegistrationApprove), pending,
            Doc::new("List registrations waiting for review, newest first")
                .query::<PageQuery>()
                .page::<UserRow>()),
        route!(GET "/api/v1/admin/users/registration-status", Access::Permission(UsersRegistrationApprove), registration_status,
            Doc::new("Whether self-registration is open, and how many registrations wait")
                .ok::<RegistrationStatus>()),
        route!(GET "/api/v1/admin/users/{id}", Access::Permission(UsersRead), detail,
            Doc::new("One staff user, with the role changes waiting for them").ok::<UserDetail>()),
        route!(PUT "/api/v1/admin/users/{id}", Access::Permission(UsersUpdate), update,
            Doc::new("Edit a staff user's name or email; deactivate or reactivate them")
                .describe("Deactivating ends their sessions. You cannot deactivate yourself, nor the last active Super Administrator (409).")
                .body::<UserChange>()
                .ok::<UserAnswer>()
                .problems(&[409])),
        route!(DELETE "/api/v1/admin/users/{id}", Access::Permission(UsersDelete), delete,
            Doc::new("Delete a staff user (deactivated instead when they have history)")
                .ok::<Deleted>()
                .problems(&[409])),
        route!(POST "/api/v1/admin/users/{id}/roles", Access::Permission(UsersRolesAssign), assign_role,
            Doc::new("Ask to give a user a role")
                .describe("A second Super Administrator approves the request (202); while you are the only one, it applies at once (200, noted in the audit log).")
                .body::<RoleBody>()
                .returns::<Requested>(200, "Applied at once: you are the only Super Administrator")
                .returns::<Requested>(202, "Asked: waiting for a second Super Administrator")
                .problems(&[409])),
        route!(DELETE "/api/v1/admin/users/{id}/roles", Access::Permission(UsersRolesRevoke), revoke_role,
            Doc::new("Ask to take a role away from a user")
                .describe("A second Super Administrator approves the request (202); while you are the only one, it applies at once (200, noted in the audit log).")
                .body::<RoleBody>()
                .returns::<Requested>(200, "Applied at once: you are the only Super Administrator")
                .returns::<Requested>(202, "Asked: waiting for a second Super Administrator")
                .problems(&[409])),
        route!(GET "/api/v1/admin/users/{id}/permissions", Access::Permission(UsersRead), permissions,
            Doc::new("A user's roles and the permissions they give").ok::<UserPermissions>()),
        route!(POST "/api/v1/admin/users/{id}/approve", Access::Permission(UsersRegistrationApprove), approve,
            Doc::new("Approve a registration with its roles")
                .describe("The set-up link is emailed when mail is set up; otherwise it is in the answer, shown once.")
                .body::<ApproveBody>()
                .ok::<Approved>()
                .problems(&[409])),
        route!(POST "/api/v1/admin/users/{id}/reject", Access::Permission(UsersRegistrationApprove), reject,
            Doc::new("Reject a pending registration")
                .body::<RejectBody>()
                .no_content()),
        route!(POST "/api/v1/admin/users/{id}/reset-2fa", Access::Permission(UsersUpdate), reset_mfa,
            Doc::new("Reset a user's two-factor (they enrol again at their next sign-in)")
                .describe("Their sessions end.")
                .no_content()),
        route!(POST "/api/v1/admin/users/{id}/sessions/revoke", Access::Permission(UsersUpdate), revoke_sessions,
            Doc::new("Sign a user out everywhere").ok::<Revoked>()),
    ];
    specs.extend(super::roles_api::routes());
    specs
}

async fn list(
    State(state): State<AppState>,
    paging: Paging,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<UserRow>>, AppError> {
    let f = Filter::try_from(&q)?;
    let after = paging.position()?;
    let mut conn = state.pool.acquire().await?;
    let rows = users::list(&mut conn, &f, after, paging.fetch(), state.clock.now()).await?;
    Ok(Json(paging.page(rows, |u| (u.created_at, u.id))))
}

/// A user just added, with the link where they choose a password.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedUser {
    id: Uuid,
    /// Where they choose a password; shown once.
    setup_link: String,
    setup_link_expires_at: DateTime<Utc>,
    /// What became of each role asked for, in the order asked.
    role_requests: Vec<Requested>,
    note: &'static str,
}

async fn create(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(new): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<CreatedUser>), AppError> {
    let mut unit = state.unit().await?;
    let (id, link, requested) = users::create(&mut unit, &new, &acting).await?;
    unit.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            id,
            setup_link: link.url(&state.config.public_base_url),
            setup_link_expires_at: link.expires_at,
            role_requests: requested,
            note: "The set-up link is shown once: hand it to the person it is for.",
        }),
    ))
}

/// Staff users by where their account is.
#[derive(Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct UserStats {
    /// Approved and active.
    active: i64,
    /// Approved, then deactivated.
    deactivated: i64,
    /// Registrations waiting for review.
    pending: i64,
    with_two_factor: i64,
    /// Locked out after failed sign-ins, now.
    locked: i64,
}

async fn stats(State(state): State<AppState>) -> Result<Json<UserStats>, AppError> {
    let stats = sqlx::query_as(
        "select count(*) filter (where is_active and approval_status = 'approved') as active, \
                count(*) filter (where not is_active and approval_status = 'approved') as deactivated, \
                count(*) filter (where approval_status = 'pending') as pending, \
                count(*) filter (where mfa_enabled) as with_two_factor, \
                count(*) filter (where lockout_until > $1) as locked \
         from users where kind = 'staff'",
    )
    .bind(state.clock.now())
    .fetch_one(&state.pool)
    .await?;
    Ok(Json(stats))
}

async fn pending(State(state): State<AppState>, paging: Paging) -> Result<Json<Page<UserRow>>, AppError> {
    let after = paging.position()?;
    let mut conn = state.pool.acquire().await?;
    let rows = users::pending_registrations(&mut conn, after, paging.fetch(), state.clock.now()).await?;
    Ok(Json(paging.page(rows, |u| (u.created_at, u.id))))
}

/// Whether people may register themselves, and the queue.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationStatus {
    /// Self-registration is open.
    enabled: bool,
    /// A registration needs an approval before the account works: always (decision 0037).
    require_approval: bool,
    /// Registrations waiting for review.
    pending: i64,
}

async fn registration_status(State(state): State<AppState>) -> Result<Json<RegistrationStatus>, AppError> {
    let s = state.settings.get();
    let mut conn = state.pool.acquire().await?;
    Ok(Json(RegistrationStatus {
        enabled: s.0.security.registration.admin_registration_enabled,
        require_approval: true,
        pending: users::pending_count(&mut conn).await?,
    }))
}

/// One user and the role changes waiting for them.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDetail {
    user: UserRow,
    pending_role_requests: Vec<RequestView>,
}

async fn detail(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Json<UserDetail>, AppError> {
    let mut unit = state.unit().await?;
    let user = users::view(&mut unit, id, &acting).await?;
    let pending_role_requests = roles::pending(&mut unit, Some(id)).await?;
    unit.commit().await?;
    Ok(Json(UserDetail {
        user,
        pending_role_requests,
    }))
}

/// The user as they are now.
#[derive(Serialize, ToSchema)]
pub struct UserAnswer {
    user: UserRow,
}

async fn update(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(change): ApiJson<UserChange>,
) -> Result<Json<UserAnswer>, AppError> {
    let mut unit = state.unit().await?;
    let user = users::update(&mut unit, id, &change, &acting).await?;
    unit.commit().await?;
    Ok(Json(UserAnswer { user }))
}

/// Whether the user was deleted, or (having history) deactivated instead.
#[derive(Serialize, ToSchema)]
pub struct Deleted {
    deleted: bool,
    deactivated: bool,
    note: &'static str,
}

async fn delete(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Json<Deleted>, AppError> {
    let mut unit = state.unit().await?;
    let deleted = users::delete_or_deactivate(&mut unit, id, &acting).await?;
    unit.commit().await?;
    Ok(Json(Deleted {
        deleted,
        deactivated: !deleted,
        note: if deleted {
            "deleted"
        } else {
            "this user has history, so the account was deactivated instead"
        },
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleBody {
    role_id: Uuid,
}

async fn change_role(
    state: AppState,
    acting: Acting,
    rc: RoleChange,
) -> Result<(StatusCode, Json<Requested>), AppError> {
    let mut unit = state.unit().await?;
    let out = roles::request(&mut unit, rc, &acting).await?;
    unit.commit().await?;
    let code = if matches!(out, roles::Requested::Pending { .. }) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(out)))
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
) -> Result<(StatusCode, Json<Requested>), AppError> {
    change_role(state, acting, b.change(id, Change::Assign)).await
}

async fn revoke_role(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<RoleBody>,
) -> Result<(StatusCode, Json<Requested>), AppError> {
    change_role(state, acting, b.change(id, Change::Revoke)).await
}

/// A user's roles and what they may do through them.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPermissions {
    user_id: Uuid,
    /// Role names.
    roles: Vec<String>,
    /// Permission keys.
    permissions: Vec<&'static str>,
}

async fn permissions(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<UserPermissions>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let user = users::get(&mut conn, id, state.clock.now()).await?;
    let perms = crate::access::effective_permissions(&mut conn, id).await?;
    Ok(Json(UserPermissions {
        user_id: id,
        roles: user.roles,
        permissions: perms.iter().map(|p| p.key()).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApproveBody {
    /// The roles the new user gets (not Super Administrator nor Customer); none or absent: the
    /// settings' `security.registration.defaultRole`.
    #[serde(default)]
    role_ids: Vec<Uuid>,
}

/// An approved registration.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approved {
    approved: bool,
    /// The set-up link went to them by email.
    emailed: bool,
    /// The set-up link, shown once, when it could not be emailed; null when it was.
    setup_link: Option<String>,
    setup_link_expires_at: DateTime<Utc>,
}

async fn approve(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<ApproveBody>,
) -> Result<Json<Approved>, AppError> {
    let settings = state.settings.get();
    let mut unit = state.unit().await?;
    let link = users::approve(&mut unit, id, &b.role_ids, &settings.0.security.registration, &acting).await?;
    unit.commit().await?;
    let url = link.url(&state.config.public_base_url);
    let emailed = super::mail::send_setup_link(&state, id, &url).await;
    Ok(Json(Approved {
        approved: true,
        emailed,
        setup_link: (!emailed).then_some(url),
        setup_link_expires_at: link.expires_at,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RejectBody {
    /// Why, for the audit log.
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

/// How many sessions ended.
#[derive(Serialize, ToSchema)]
pub struct Revoked {
    revoked: u64,
}

async fn revoke_sessions(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Json<Revoked>, AppError> {
    let mut unit = state.unit().await?;
    let revoked = users::revoke_sessions(&mut unit, id, &acting).await?;
    unit.commit().await?;
    Ok(Json(Revoked { revoked }))
}
