//! Pages: users (list, add, detail and actions), roles, role requests, registrations, the public
//! registration form and set-up links.

use crate::web::extract::{Path, Query};
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::users::{self, Filter};
use crate::access::roles::{self, Change};
use crate::access::Permission::{self, *};
use crate::audit::RequestMeta;
use crate::error::AppError;
use crate::route;
use crate::web::auth::{cookie_value, Principal, CSRF_COOKIE};
use crate::web::extract::FormPairs;
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/users", Access::Permission(UsersRead), users_page),
        route!(POST "/admin/users", Access::Permission(UsersCreate), create_user),
        route!(GET "/admin/users/{id}", Access::Permission(UsersRead), user_page),
        route!(POST "/admin/users/{id}", Access::Permission(UsersUpdate), edit_user),
        route!(POST "/admin/users/{id}/active", Access::Permission(UsersUpdate), set_active),
        route!(POST "/admin/users/{id}/reset-2fa", Access::Permission(UsersUpdate), reset_mfa),
        route!(POST "/admin/users/{id}/sessions/revoke", Access::Permission(UsersUpdate), revoke_sessions),
        route!(POST "/admin/users/{id}/roles", Access::Permission(UsersRolesAssign), ask_role),
        route!(POST "/admin/users/{id}/delete", Access::Permission(UsersDelete), delete_user),
        route!(GET "/admin/roles", Access::Permission(RolesManage), roles_page),
        route!(POST "/admin/roles/{id}", Access::Permission(RolesManage), save_role),
        route!(GET "/admin/role-requests", Access::Permission(UsersRolesAssign), requests_page),
        route!(POST "/admin/role-requests/{id}/approve", Access::Permission(UsersRolesAssign), approve_request),
        route!(POST "/admin/role-requests/{id}/reject", Access::Permission(UsersRolesAssign), reject_request),
        route!(GET "/admin/registrations", Access::Permission(UsersRegistrationApprove), registrations_page),
        route!(POST "/admin/registrations/{id}/approve", Access::Permission(UsersRegistrationApprove), approve_registration),
        route!(POST "/admin/registrations/{id}/reject", Access::Permission(UsersRegistrationApprove), reject_registration),
        route!(GET "/register", Access::Public, register_page),
        route!(POST "/register", Access::Public, register),
        route!(GET "/setup/{token}", Access::Public, setup_page),
        route!(POST "/setup/{token}", Access::Public, setup),
    ]
}

use crate::web::pages::html;

fn shell(state: &AppState, who: &Principal, path: &str) -> Shell {
    Shell::new(who, path, &state.settings.get().0.branding.company_name)
}

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    crate::clock::local_display_or(t, "never")
}

async fn staff_roles(state: &AppState) -> Result<Vec<(Uuid, String)>, AppError> {
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
    status: String,
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
    message: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct UsersQuery {
    q: Option<String>,
    status: Option<String>,
    role: Option<String>,
}

async fn render_users(
    state: &AppState,
    who: &Principal,
    q: UsersQuery,
    status: StatusCode,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let mut conn = state.pool.acquire().await?;
    let f = Filter {
        q: q.q.clone(),
        status: q.status.clone().filter(|s| !s.is_empty()),
        role: q.role.clone().filter(|s| !s.is_empty()),
        page: 0,
        per_page: 200,
    };
    let (rows, total) = users::list(&mut conn, &f, now).await?;
    let users = rows
        .into_iter()
        .map(|u| UserLine {
            id: u.id,
            status: match (u.approval_status.as_str(), u.is_active) {
                ("approved", true) if u.locked => "locked".into(),
                ("approved", true) => "active".into(),
                ("approved", false) => "deactivated".into(),
                (other, _) => other.to_owned(),
            },
            full_name: u.full_name,
            email: u.email,
            roles: u.roles.join(", "),
            mfa: if u.mfa_enabled { "on" } else { "—" },
            last_login: when(u.last_login_at),
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
        message,
        error,
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

fn link_message(url: &str, intro: &str) -> String {
    let esc = askama::filters::escape(url, askama::filters::Html)
        .map(|e| e.to_string())
        .unwrap_or_default();
    format!("{intro} Hand over this one-time set-up link (valid {} hours): <code class=\"secret\" id=\"setup-link\">{esc}</code>", users::SETUP_LINK_HOURS)
}

async fn create_user(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    form: FormPairs,
) -> Result<Response, AppError> {
    let role_ids = form.uuids("role_ids")?;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let result = users::create(
        &mut tx,
        form.get("email").unwrap_or(""),
        form.get("full_name").unwrap_or(""),
        &role_ids,
        who.user_id,
        who.actor(),
        meta,
        now,
    )
    .await;
    match result {
        Ok((_, link, requested)) => {
            tx.commit().await?;
            let waiting = requested
                .iter()
                .filter(|r| matches!(r, roles::Requested::Pending { .. }))
                .count();
            let intro = if waiting > 0 {
                format!("User added; {waiting} role(s) wait for a second Super Administrator.")
            } else {
                "User added.".to_owned()
            };
            let msg = link_message(&link.url(&state.config.public_base_url), &intro);
            render_users(
                &state,
                &who,
                UsersQuery::default(),
                StatusCode::CREATED,
                Some(msg),
                None,
            )
            .await
        }
        Err(e) => match crate::web::pages::refusal_message(&e) {
            Some(m) => {
                render_users(
                    &state,
                    &who,
                    UsersQuery::default(),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some(m),
                )
                .await
            }
            None => Err(e),
        },
    }
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    shell: Shell,
    user: users::UserRow,
    requests: Vec<roles::RequestView>,
    roles: Vec<(Uuid, String)>,
    permissions: Vec<&'static str>,
    can_update: bool,
    can_assign: bool,
    can_revoke: bool,
    can_delete: bool,
    message: Option<String>,
    error: Option<String>,
}

async fn render_user(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    status: StatusCode,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let user = users::get(&mut conn, id, state.clock.now()).await?;
    let permissions = crate::access::effective_permissions(&mut conn, id)
        .await?
        .into_iter()
        .map(Permission::key)
        .collect();
    let page = UserPage {
        shell: shell(state, who, "/admin/users"),
        requests: roles::pending(&mut conn, Some(id)).await?,
        user,
        roles: staff_roles(state).await?,
        permissions,
        can_update: who.can(UsersUpdate),
        can_assign: who.can(UsersRolesAssign),
        can_revoke: who.can(UsersRolesRevoke),
        can_delete: who.can(UsersDelete),
        message,
        error,
    };
    html(status, &page)
}

async fn user_page(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    render_user(&state, &who, id, StatusCode::OK, None, None).await
}

/// Runs a change on a user and shows the user page with its outcome.
async fn after(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    result: Result<String, AppError>,
) -> Result<Response, AppError> {
    match result {
        Ok(msg) => render_user(state, who, id, StatusCode::OK, Some(msg), None).await,
        Err(e) => match crate::web::pages::refusal_message(&e) {
            Some(m) => render_user(state, who, id, StatusCode::UNPROCESSABLE_ENTITY, None, Some(m)).await,
            None => Err(e),
        },
    }
}

async fn edit_user(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let mut tx = state.pool.begin().await?;
    let r = users::update(
        &mut tx,
        id,
        form.get("full_name"),
        form.get("email"),
        None,
        who.user_id,
        who.actor(),
        meta,
        state.clock.now(),
    )
    .await;
    let r = match r {
        Ok(_) => tx.commit().await.map(|_| "Saved.".to_owned()).map_err(AppError::from),
        Err(e) => Err(e),
    };
    after(&state, &who, id, r).await
}

async fn set_active(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let active = form.get("active") == Some("true");
    let mut tx = state.pool.begin().await?;
    let r = match users::update(
        &mut tx,
        id,
        None,
        None,
        Some(active),
        who.user_id,
        who.actor(),
        meta,
        state.clock.now(),
    )
    .await
    {
        Ok(_) => tx
            .commit()
            .await
            .map(|_| {
                if active {
                    "Reactivated."
                } else {
                    "Deactivated; their sessions ended."
                }
                .to_owned()
            })
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    after(&state, &who, id, r).await
}

async fn reset_mfa(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let mut tx = state.pool.begin().await?;
    let r = match users::reset_mfa(&mut tx, id, who.actor(), meta, state.clock.now()).await {
        Ok(()) => tx
            .commit()
            .await
            .map(|_| "Two-factor reset: they set it up again at their next sign-in.".to_owned())
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    after(&state, &who, id, r).await
}

async fn revoke_sessions(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let mut tx = state.pool.begin().await?;
    let r = match users::revoke_sessions(&mut tx, id, who.actor(), meta, state.clock.now()).await {
        Ok(n) => tx
            .commit()
            .await
            .map(|_| format!("{n} session(s) signed out."))
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    after(&state, &who, id, r).await
}

async fn ask_role(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
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
    if change == Change::Revoke {
        who.require(UsersRolesRevoke)?;
    }
    let mut tx = state.pool.begin().await?;
    let r = match roles::request(&mut tx, id, role_id, change, who.user_id, who.actor(), meta, state.clock.now()).await {
        Ok(roles::Requested::Applied) => tx.commit().await.map(|_| "Done (you are the only Super Administrator, so no second approval was possible; this is noted in the audit log).".to_owned()).map_err(AppError::from),
        Ok(roles::Requested::Pending { .. }) => tx.commit().await.map(|_| "Asked: a second Super Administrator must approve.".to_owned()).map_err(AppError::from),
        Err(e) => Err(e),
    };
    after(&state, &who, id, r).await
}

async fn delete_user(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let mut tx = state.pool.begin().await?;
    match users::delete_or_deactivate(&mut tx, id, who.user_id, who.actor(), meta, state.clock.now()).await {
        Ok(true) => {
            tx.commit().await?;
            render_users(
                &state,
                &who,
                UsersQuery::default(),
                StatusCode::OK,
                Some("User deleted.".into()),
                None,
            )
            .await
        }
        Ok(false) => {
            tx.commit().await?;
            render_user(
                &state,
                &who,
                id,
                StatusCode::OK,
                Some("This user has history, so the account was deactivated instead of deleted.".into()),
                None,
            )
            .await
        }
        Err(e) => after(&state, &who, id, Err(e)).await,
    }
}

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage {
    shell: Shell,
    roles: Vec<roles::RoleView>,
    catalogue: Vec<(&'static str, Vec<(String, &'static str)>)>,
    message: Option<String>,
    error: Option<String>,
}

async fn render_roles(
    state: &AppState,
    who: &Principal,
    status: StatusCode,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let mut catalogue: Vec<(&'static str, Vec<(String, &'static str)>)> = Vec::new();
    for p in Permission::ALL {
        match catalogue.iter_mut().find(|(c, _)| *c == p.category()) {
            Some((_, v)) => v.push((p.key().to_owned(), p.description())),
            None => catalogue.push((p.category(), vec![(p.key().to_owned(), p.description())])),
        }
    }
    let page = RolesPage {
        shell: shell(state, who, "/admin/roles"),
        roles: roles::list(&mut conn).await?,
        catalogue,
        message,
        error,
    };
    html(status, &page)
}

async fn roles_page(State(state): State<AppState>, who: Principal) -> Result<Response, AppError> {
    render_roles(&state, &who, StatusCode::OK, None, None).await
}

async fn save_role(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let keys: Vec<String> = form.all("permissions").into_iter().map(str::to_owned).collect();
    let mut tx = state.pool.begin().await?;
    match roles::set_permissions(&mut tx, id, &keys, who.actor(), meta, state.clock.now()).await {
        Ok(r) => {
            tx.commit().await?;
            render_roles(
                &state,
                &who,
                StatusCode::OK,
                Some(format!("Saved {}: it applies to its users' next request.", r.name)),
                None,
            )
            .await
        }
        Err(e) => match crate::web::pages::refusal_message(&e) {
            Some(m) => render_roles(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, None, Some(m)).await,
            None => Err(e),
        },
    }
}

struct RequestLine {
    id: Uuid,
    user_email: String,
    action: String,
    role: String,
    requested_by: String,
    when: String,
    mine: bool,
}

#[derive(Template)]
#[template(path = "role_requests.html")]
struct RequestsPage {
    shell: Shell,
    requests: Vec<RequestLine>,
    error: Option<String>,
}

async fn render_requests(
    state: &AppState,
    who: &Principal,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let requests = roles::pending(&mut conn, None)
        .await?
        .into_iter()
        .map(|q| RequestLine {
            id: q.id,
            user_email: q.user_email,
            action: q.action,
            role: q.role,
            requested_by: q.requested_by,
            when: when(Some(q.created_at)),
            mine: q.requested_by_user_id == who.user_id,
        })
        .collect();
    html(
        status,
        &RequestsPage {
            shell: shell(state, who, "/admin/role-requests"),
            requests,
            error,
        },
    )
}

async fn requests_page(State(state): State<AppState>, who: Principal) -> Result<Response, AppError> {
    render_requests(&state, &who, StatusCode::OK, None).await
}

async fn decide(
    state: AppState,
    who: Principal,
    meta: RequestMeta,
    id: Uuid,
    approve: bool,
) -> Result<Response, AppError> {
    let mut tx = state.pool.begin().await?;
    match roles::decide(&mut tx, id, approve, who.user_id, who.actor(), meta, state.clock.now()).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to("/admin/role-requests").into_response())
        }
        Err(e) => match crate::web::pages::refusal_message(&e) {
            Some(m) => render_requests(&state, &who, StatusCode::FORBIDDEN, Some(m)).await,
            None => Err(e),
        },
    }
}

async fn approve_request(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    decide(state, who, meta, id, true).await
}

async fn reject_request(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    decide(state, who, meta, id, false).await
}

struct PendingLine {
    id: Uuid,
    full_name: String,
    email: String,
    when: String,
}

#[derive(Template)]
#[template(path = "registrations.html")]
struct RegistrationsPage {
    shell: Shell,
    pending: Vec<PendingLine>,
    roles: Vec<(Uuid, String)>,
    open: bool,
    message: Option<String>,
    error: Option<String>,
}

async fn render_registrations(
    state: &AppState,
    who: &Principal,
    status: StatusCode,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let pending = users::pending_registrations(&mut conn, state.clock.now())
        .await?
        .into_iter()
        .map(|u| PendingLine {
            id: u.id,
            full_name: u.full_name,
            email: u.email,
            when: when(Some(u.created_at)),
        })
        .collect();
    let roles = staff_roles(state)
        .await?
        .into_iter()
        .filter(|(_, n)| n != crate::access::SUPER_ADMIN)
        .collect();
    let open = state.settings.get().0.security.registration.admin_registration_enabled;
    html(
        status,
        &RegistrationsPage {
            shell: shell(state, who, "/admin/registrations"),
            pending,
            roles,
            open,
            message,
            error,
        },
    )
}

async fn registrations_page(State(state): State<AppState>, who: Principal) -> Result<Response, AppError> {
    render_registrations(&state, &who, StatusCode::OK, None, None).await
}

async fn approve_registration(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let role_ids = form.uuids("role_ids")?;
    let mut tx = state.pool.begin().await?;
    match users::approve(
        &mut tx,
        id,
        &role_ids,
        who.user_id,
        who.actor(),
        meta,
        state.clock.now(),
    )
    .await
    {
        Ok(link) => {
            tx.commit().await?;
            let url = link.url(&state.config.public_base_url);
            let msg = if super::mail::send_setup_link(&state, id, &url).await {
                "Approved. The set-up link was emailed to them.".to_owned()
            } else {
                link_message(&url, "Approved. Email is not configured, so")
            };
            render_registrations(&state, &who, StatusCode::OK, Some(msg), None).await
        }
        Err(e) => match crate::web::pages::refusal_message(&e) {
            Some(m) => render_registrations(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, None, Some(m)).await,
            None => Err(e),
        },
    }
}

async fn reject_registration(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let mut tx = state.pool.begin().await?;
    users::reject(&mut tx, id, who.user_id, None, who.actor(), meta, state.clock.now()).await?;
    tx.commit().await?;
    render_registrations(&state, &who, StatusCode::OK, Some("Rejected.".into()), None).await
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage<'a> {
    csrf: &'a str,
    message: &'a str,
    done: bool,
    error: Option<String>,
    full_name: &'a str,
    email: &'a str,
    phone: &'a str,
    company: &'a str,
    department: &'a str,
}

fn anon_csrf(headers: &HeaderMap) -> String {
    cookie_value(headers, CSRF_COOKIE).unwrap_or_default()
}

async fn register_page(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let s = state.settings.get();
    if !s.0.security.registration.admin_registration_enabled {
        return Err(AppError::Forbidden("registration is closed"));
    }
    let csrf = anon_csrf(&headers);
    if csrf.is_empty() {
        // the token cookie is set by the sign-in page; start there
        return Ok(Redirect::to("/sign-in").into_response());
    }
    let page = RegisterPage {
        csrf: &csrf,
        message: &s.0.security.registration.registration_message,
        done: false,
        error: None,
        full_name: "",
        email: "",
        phone: "",
        company: "",
        department: "",
    };
    html(StatusCode::OK, &page)
}

async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: RequestMeta,
    form: FormPairs,
) -> Result<Response, AppError> {
    let s = state.settings.get();
    let reg = &s.0.security.registration;
    if !reg.admin_registration_enabled {
        return Err(AppError::Forbidden("registration is closed"));
    }
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let ip = meta.ip.map_or_else(|| "unknown".to_owned(), |i| i.to_string());
    let hour = crate::ratelimit::hit(
        &mut tx,
        &format!("register:ip:{ip}"),
        3600,
        reg.max_registrations_per_hour as i32,
        now,
    )
    .await?;
    let day = crate::ratelimit::hit(
        &mut tx,
        "register:all",
        86_400,
        reg.max_registrations_per_day as i32,
        now,
    )
    .await?;
    if !hour.allowed || !day.allowed {
        tx.commit().await?;
        let wait = if hour.allowed {
            day.retry_after_secs
        } else {
            hour.retry_after_secs
        };
        return Err(AppError::RateLimited { retry_after_secs: wait });
    }
    let field = |n: &str| form.get(n).unwrap_or("").to_owned();
    let (full_name, email, phone, company, department) = (
        field("full_name"),
        field("email"),
        field("phone"),
        field("company"),
        field("department"),
    );
    let r = users::Registration {
        email: &email,
        full_name: &full_name,
        phone: Some(&phone),
        company: Some(&company),
        department: Some(&department),
    };
    let csrf = anon_csrf(&headers);
    match users::register(&mut tx, &r, meta, now).await {
        Ok(_) => {
            tx.commit().await?;
            let page = RegisterPage {
                csrf: &csrf,
                message: "",
                done: true,
                error: None,
                full_name: "",
                email: "",
                phone: "",
                company: "",
                department: "",
            };
            html(StatusCode::CREATED, &page)
        }
        Err(e) => {
            tx.commit().await?; // keep the rate-limit count
            let Some(m) = crate::web::pages::refusal_message(&e) else {
                return Err(e);
            };
            let page = RegisterPage {
                csrf: &csrf,
                message: &reg.registration_message,
                done: false,
                error: Some(m),
                full_name: &full_name,
                email: &email,
                phone: &phone,
                company: &company,
                department: &department,
            };
            html(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage<'a> {
    csrf: &'a str,
    token: &'a str,
    email: Option<String>,
    min_len: u32,
    error: Option<String>,
}

async fn setup_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let email = users::setup_link_email(&mut conn, &token, state.clock.now()).await?;
    let (csrf, fresh) = match cookie_value(&headers, CSRF_COOKIE) {
        Some(c) if c.len() >= 16 => (c, false),
        _ => (crate::crypto::random_token(24), true),
    };
    let status = if email.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    let min_len = state.settings.get().0.security.password_min_length;
    let mut res = html(
        status,
        &SetupPage {
            csrf: &csrf,
            token: &token,
            email,
            min_len,
            error: None,
        },
    )?;
    if fresh {
        let secure = if state.config.secure_cookies() { "; Secure" } else { "" };
        if let Ok(v) = axum::http::HeaderValue::from_str(&format!(
            "{CSRF_COOKIE}={csrf}; Path=/; HttpOnly; SameSite=Strict{secure}"
        )) {
            res.headers_mut().append(axum::http::header::SET_COOKIE, v);
        }
    }
    Ok(res)
}

async fn setup(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: RequestMeta,
    Path(token): Path<String>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let min_len = state.settings.get().0.security.password_min_length;
    let password = form.get("password").unwrap_or("");
    let csrf = anon_csrf(&headers);
    let mut tx = state.pool.begin().await?;
    let email = users::setup_link_email(&mut tx, &token, now).await?;
    if form.get("confirm") != Some(password) {
        return html(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SetupPage {
                csrf: &csrf,
                token: &token,
                email,
                min_len,
                error: Some("The two passwords differ.".into()),
            },
        );
    }
    match users::use_setup_link(&mut tx, &token, password, min_len, meta, now).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/sign-in?notice=password-set").into_response())
        }
        Err(e) => {
            let Some(m) = crate::web::pages::refusal_message(&e) else {
                return Err(e);
            };
            let status = if matches!(e, AppError::NotFound(_)) {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            html(
                status,
                &SetupPage {
                    csrf: &csrf,
                    token: &token,
                    email,
                    min_len,
                    error: Some(m),
                },
            )
        }
    }
}
