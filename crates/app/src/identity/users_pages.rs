//! Pages: users (list, add, detail and the actions on one user). Roles and role requests are in
//! `roles_pages`, registrations and set-up links in `registrations_pages`.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use uuid::Uuid;

use super::users::{self, ApprovalStatus, Filter, ListQuery as UsersQuery, NewUser, UserChange};
use crate::access::roles::{self, Change, RoleChange};
use crate::access::Permission::{self, *};
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{FormPairs, Path, Query};
use crate::web::pages::{html, settle, status_for, Notice, Outcome};
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    let mut specs = vec![
        route!(GET "/admin/users", Access::Permission(UsersRead), users_page),
        route!(POST "/admin/users", Access::Permission(UsersCreate), create_user),
        route!(GET "/admin/users/{id}", Access::Permission(UsersRead), user_page),
        route!(POST "/admin/users/{id}", Access::Permission(UsersUpdate), edit_user),
        route!(POST "/admin/users/{id}/active", Access::Permission(UsersUpdate), set_active),
        route!(POST "/admin/users/{id}/reset-2fa", Access::Permission(UsersUpdate), reset_mfa),
        route!(POST "/admin/users/{id}/sessions/revoke", Access::Permission(UsersUpdate), revoke_sessions),
        route!(POST "/admin/users/{id}/roles", Access::Permission(UsersRolesAssign), ask_role),
        route!(POST "/admin/users/{id}/delete", Access::Permission(UsersDelete), delete_user),
    ];
    specs.extend(super::roles_pages::routes());
    specs.extend(super::registrations_pages::routes());
    specs
}

pub(super) fn shell(state: &AppState, who: &Principal, path: &str) -> Shell {
    Shell::new(who, path, &state.settings.get().0.branding.company_name)
}

pub(super) fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    crate::clock::local_display_or(t, "never")
}

/// The roles a staff member may hold (all but Customer), id and name.
pub(super) async fn staff_roles(state: &AppState) -> Result<Vec<(Uuid, String)>, AppError> {
    Ok(
        sqlx::query_as("select id, name from roles where name <> $1 order by name")
            .bind(crate::access::CUSTOMER)
            .fetch_all(&state.pool)
            .await?,
    )
}

struct UserLine {
    id: Uuid,
    full_name: String,
    email: String,
    roles: String,
    status: &'static str,
    mfa: &'static str,
    last_login: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    shell: Shell,
    users: Vec<UserLine>,
    total: i64,
    q: String,
    status: String,
    role: String,
    roles: Vec<(Uuid, String)>,
    pending: i64,
    can_approve: bool,
    can_create: bool,
    notice: Option<Notice>,
    /// A set-up link just made, shown once (in a `<code>` the template writes, escaped).
    setup_link: Option<String>,
    setup_link_hours: i64,
}

/// What the list says of a user: their approval, or for an approved one whether they can sign in.
fn list_status(u: &users::UserRow) -> &'static str {
    match (u.approval_status, u.is_active) {
        (ApprovalStatus::Approved, true) if u.locked => "locked",
        (ApprovalStatus::Approved, true) => "active",
        (ApprovalStatus::Approved, false) => "deactivated",
        (other, _) => other.as_str(),
    }
}

async fn render_users(
    state: &AppState,
    who: &Principal,
    q: UsersQuery,
    status: StatusCode,
    notice: Option<Notice>,
    setup_link: Option<String>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let f = Filter::try_from(&q)?;
    let rows = users::list(&mut conn, &f, None, 200, state.clock.now()).await?;
    let total = users::count(&mut conn, &f).await?;
    let users = rows
        .into_iter()
        .map(|u| UserLine {
            id: u.id,
            status: list_status(&u),
            mfa: if u.mfa_enabled { "on" } else { "—" },
            last_login: when(u.last_login_at),
            roles: u.roles.join(", "),
            full_name: u.full_name,
            email: u.email,
        })
        .collect();
    let page = UsersPage {
        shell: shell(state, who, "/admin/users"),
        users,
        total,
        q: q.q.unwrap_or_default(),
        status: q.status.unwrap_or_default(),
        role: q.role.unwrap_or_default(),
        roles: staff_roles(state).await?,
        pending: users::pending_count(&mut conn).await?,
        can_approve: who.can(UsersRegistrationApprove),
        can_create: who.can(UsersCreate),
        notice,
        setup_link,
        setup_link_hours: users::SETUP_LINK_HOURS,
    };
    html(status, &page)
}

async fn users_page(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<UsersQuery>,
) -> Result<Response, AppError> {
    render_users(&state, &who, q, StatusCode::OK, None, None).await
}

async fn create_user(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    form: FormPairs,
) -> Result<Response, AppError> {
    let new = NewUser::try_from(&form)?;
    let mut unit = state.unit().await?;
    let created = users::create(&mut unit, &new, &acting).await;
    let (status, notice, link) = match settle(unit, created).await? {
        Outcome::Done((_, link, requested)) => {
            let waiting = requested
                .iter()
                .filter(|r| matches!(r, roles::Requested::Pending { .. }))
                .count();
            let text = if waiting > 0 {
                format!("User added; {waiting} role(s) wait for a second Super Administrator.")
            } else {
                "User added.".to_owned()
            };
            let url = link.url(&state.config.public_base_url);
            (StatusCode::CREATED, Notice::done(text), Some(url))
        }
        Outcome::Refused(n) => (StatusCode::UNPROCESSABLE_ENTITY, n, None),
    };
    render_users(&state, &who, UsersQuery::default(), status, Some(notice), link).await
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    shell: Shell,
    /// The user's audit history, for holders of `audit.logs.read`.
    audit_history: Option<String>,
    user: users::UserRow,
    requests: Vec<roles::RequestView>,
    roles: Vec<(Uuid, String)>,
    permissions: Vec<&'static str>,
    can_update: bool,
    can_assign: bool,
    can_revoke: bool,
    can_delete: bool,
    notice: Option<Notice>,
}

/// The user page, with `notice` (a refusal answers 422).
async fn render_user(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    notice: Option<Notice>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let user = users::get(&mut conn, id, state.clock.now()).await?;
    let permissions = crate::access::effective_permissions(&mut conn, id)
        .await?
        .into_iter()
        .map(Permission::key)
        .collect();
    let status = status_for(notice.as_ref());
    let page = UserPage {
        audit_history: crate::audit::pages::history_link(who, "user", id),
        shell: shell(state, who, "/admin/users"),
        requests: roles::pending(&mut conn, Some(id)).await?,
        user,
        roles: staff_roles(state).await?,
        permissions,
        can_update: who.can(UsersUpdate),
        can_assign: who.can(UsersRolesAssign),
        can_revoke: who.can(UsersRolesRevoke),
        can_delete: who.can(UsersDelete),
        notice,
    };
    html(status, &page)
}

async fn user_page(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    users::view(&mut unit, id, &acting).await?;
    unit.commit().await?;
    render_user(&state, &who, id, None).await
}

async fn edit_user(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let change = UserChange {
        is_active: None,
        ..UserChange::try_from(&form)?
    };
    let mut unit = state.unit().await?;
    let r = users::update(&mut unit, id, &change, &acting).await;
    let notice = settle(unit, r).await?.notice(|_| "Saved.".to_owned());
    render_user(&state, &who, id, Some(notice)).await
}

async fn set_active(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let active = form.get("active") == Some("true");
    let change = UserChange {
        is_active: Some(active),
        ..UserChange::default()
    };
    let mut unit = state.unit().await?;
    let r = users::update(&mut unit, id, &change, &acting).await;
    let notice = settle(unit, r).await?.notice(|_| {
        if active {
            "Reactivated.".to_owned()
        } else {
            "Deactivated; their sessions ended.".to_owned()
        }
    });
    render_user(&state, &who, id, Some(notice)).await
}

async fn reset_mfa(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    let r = users::reset_mfa(&mut unit, id, &acting).await;
    let notice = settle(unit, r)
        .await?
        .notice(|()| "Two-factor reset: they set it up again at their next sign-in.".to_owned());
    render_user(&state, &who, id, Some(notice)).await
}

async fn revoke_sessions(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    let r = users::revoke_sessions(&mut unit, id, &acting).await;
    let notice = settle(unit, r).await?.notice(|n| format!("{n} session(s) signed out."));
    render_user(&state, &who, id, Some(notice)).await
}

/// The role form: a role, and whether it is given (`assign`, the default) or taken away.
fn role_change(user_id: Uuid, form: &FormPairs) -> Result<RoleChange, AppError> {
    let role_id = form
        .uuids("role_id")?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::field("role_id", "choose a role"))?;
    let change = if form.get("change") == Some("revoke") {
        Change::Revoke
    } else {
        Change::Assign
    };
    Ok(RoleChange {
        user_id,
        role_id,
        change,
    })
}

async fn ask_role(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let rc = role_change(id, &form)?;
    if rc.change == Change::Revoke {
        who.require(UsersRolesRevoke)?;
    }
    let mut unit = state.unit().await?;
    let r = roles::request(&mut unit, rc, &acting).await;
    let notice = settle(unit, r).await?.notice(|out| match out {
        roles::Requested::Applied => "Done (you are the only Super Administrator, so no second approval was possible; \
                                      this is noted in the audit log)."
            .to_owned(),
        roles::Requested::Pending { .. } => "Asked: a second Super Administrator must approve.".to_owned(),
    });
    render_user(&state, &who, id, Some(notice)).await
}

async fn delete_user(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    let r = users::delete_or_deactivate(&mut unit, id, &acting).await;
    match settle(unit, r).await? {
        Outcome::Done(true) => {
            let notice = Some(Notice::done("User deleted."));
            render_users(&state, &who, UsersQuery::default(), StatusCode::OK, notice, None).await
        }
        Outcome::Done(false) => {
            let notice = Notice::done("This user has history, so the account was deactivated instead of deleted.");
            render_user(&state, &who, id, Some(notice)).await
        }
        Outcome::Refused(n) => render_user(&state, &who, id, Some(n)).await,
    }
}
