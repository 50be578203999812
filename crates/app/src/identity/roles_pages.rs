//! Pages: roles and their permissions, and the role change requests a second Super
//! Administrator decides.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use super::users_pages::{shell, when};
use crate::access::roles::{self, Decision};
use crate::access::Permission::{self, *};
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{FormPairs, Path};
use crate::web::pages::{html, settle, status_for, Notice, Outcome};
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/roles", Access::Permission(RolesManage), roles_page),
        route!(POST "/admin/roles/{id}", Access::Permission(RolesManage), save_role),
        route!(GET "/admin/role-requests", Access::Permission(UsersRolesAssign), requests_page),
        route!(POST "/admin/role-requests/{id}/approve", Access::Permission(UsersRolesAssign), approve_request),
        route!(POST "/admin/role-requests/{id}/reject", Access::Permission(UsersRolesAssign), reject_request),
    ]
}

/// The permission catalogue by category: (category, [(key, description)]).
type Catalogue = Vec<(&'static str, Vec<(String, &'static str)>)>;

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage {
    shell: Shell,
    /// Holds `audit.logs.read`: each role links to its audit history.
    can_audit: bool,
    roles: Vec<roles::RoleView>,
    catalogue: Catalogue,
    notice: Option<Notice>,
}

fn catalogue() -> Catalogue {
    let mut catalogue: Catalogue = Vec::new();
    for p in Permission::ALL {
        let entry = (p.key().to_owned(), p.description());
        match catalogue.iter_mut().find(|(c, _)| *c == p.category()) {
            Some((_, v)) => v.push(entry),
            None => catalogue.push((p.category(), vec![entry])),
        }
    }
    catalogue
}

/// The roles page, with `notice` (a refusal answers 422).
async fn render_roles(state: &AppState, who: &Principal, notice: Option<Notice>) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let page = RolesPage {
        can_audit: who.can(crate::access::Permission::AuditLogsRead),
        shell: shell(state, who, "/admin/roles"),
        roles: roles::list(&mut conn).await?,
        catalogue: catalogue(),
        notice,
    };
    html(status_for(page.notice.as_ref()), &page)
}

async fn roles_page(State(state): State<AppState>, who: Principal) -> Result<Response, AppError> {
    render_roles(&state, &who, None).await
}

async fn save_role(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let keys: Vec<String> = form.all("permissions").into_iter().map(str::to_owned).collect();
    let mut unit = state.unit().await?;
    let r = roles::set_permissions(&mut unit, id, &keys, &acting).await;
    let notice = settle(unit, r)
        .await?
        .notice(|r| format!("Saved {}: it applies to its users' next request.", r.name));
    render_roles(&state, &who, Some(notice)).await
}

struct RequestLine {
    id: Uuid,
    user_email: String,
    action: roles::Change,
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
    notice: Option<Notice>,
}

async fn render_requests(
    state: &AppState,
    who: &Principal,
    status: StatusCode,
    notice: Option<Notice>,
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
    let page = RequestsPage {
        shell: shell(state, who, "/admin/role-requests"),
        requests,
        notice,
    };
    html(status, &page)
}

async fn requests_page(State(state): State<AppState>, who: Principal) -> Result<Response, AppError> {
    render_requests(&state, &who, StatusCode::OK, None).await
}

async fn decide(
    state: AppState,
    who: Principal,
    acting: Acting,
    id: Uuid,
    decision: Decision,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    let r = roles::decide(&mut unit, id, decision, &acting).await;
    match settle(unit, r).await? {
        Outcome::Done(()) => Ok(Redirect::to("/admin/role-requests").into_response()),
        Outcome::Refused(n) => render_requests(&state, &who, StatusCode::FORBIDDEN, Some(n)).await,
    }
}

async fn approve_request(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    decide(state, who, acting, id, Decision::Approve).await
}

async fn reject_request(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    decide(state, who, acting, id, Decision::Reject).await
}
