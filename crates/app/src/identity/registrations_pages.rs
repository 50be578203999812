//! Pages: the registrations waiting for approval, the public registration form, and the
//! one-time set-up link where a new user chooses a password.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use super::users::{self, Registration};
use super::users_pages::{shell, staff_roles, when};
use crate::access::Permission::*;
use crate::audit::{Actor, RequestMeta};
use crate::error::{AppError, Denied};
use crate::route;
use crate::unit::Acting;
use crate::web::auth::{cookie_value, Principal, CSRF_COOKIE};
use crate::web::extract::{FormPairs, Path};
use crate::web::pages::{html, refusal_message, settle, status_for, Notice, Outcome};
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/registrations", Access::Permission(UsersRegistrationApprove), registrations_page),
        route!(POST "/admin/registrations/{id}/approve", Access::Permission(UsersRegistrationApprove), approve_registration),
        route!(POST "/admin/registrations/{id}/reject", Access::Permission(UsersRegistrationApprove), reject_registration),
        route!(GET "/register", Access::Public, register_page),
        route!(POST "/register", Access::Public, register),
        route!(GET "/setup/{token}", Access::Public, setup_page),
        route!(POST "/setup/{token}", Access::Public, setup),
    ]
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
    /// Ticked at first: the settings' `registration.defaultRole`.
    default_role: String,
    open: bool,
    notice: Option<Notice>,
    setup_link: Option<String>,
    setup_link_hours: i64,
}

/// The registrations page, with `notice` (a refusal answers 422) and a set-up link to hand over.
async fn render_registrations(
    state: &AppState,
    who: &Principal,
    notice: Option<Notice>,
    setup_link: Option<String>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let pending = users::pending_registrations(&mut conn, None, 200, state.clock.now())
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
    let page = RegistrationsPage {
        shell: shell(state, who, "/admin/registrations"),
        pending,
        roles,
        default_role: state.settings.get().0.security.registration.default_role.clone(),
        open: state.settings.get().0.security.registration.admin_registration_enabled,
        notice,
        setup_link,
        setup_link_hours: users::SETUP_LINK_HOURS,
    };
    html(status_for(page.notice.as_ref()), &page)
}

async fn registrations_page(State(state): State<AppState>, who: Principal) -> Result<Response, AppError> {
    render_registrations(&state, &who, None, None).await
}

async fn approve_registration(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let role_ids = form.uuids("role_ids")?;
    let settings = state.settings.get();
    let mut unit = state.unit().await?;
    let r = users::approve(&mut unit, id, &role_ids, &settings.0.security.registration, &acting).await;
    let link = match settle(unit, r).await? {
        Outcome::Done(link) => link.url(&state.config.public_base_url),
        Outcome::Refused(n) => return render_registrations(&state, &who, Some(n), None).await,
    };
    if super::mail::send_setup_link(&state, id, &link).await {
        let notice = Notice::done("Approved. The set-up link was emailed to them.");
        render_registrations(&state, &who, Some(notice), None).await
    } else {
        let notice = Notice::done("Approved. Email is not configured, so hand the link below over yourself.");
        render_registrations(&state, &who, Some(notice), Some(link)).await
    }
}

async fn reject_registration(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    users::reject(&mut unit, id, None, &acting).await?;
    unit.commit().await?;
    render_registrations(&state, &who, Some(Notice::done("Rejected.")), None).await
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage<'a> {
    csrf: &'a str,
    message: &'a str,
    done: bool,
    notice: Option<Notice>,
    /// What was typed, given back with a refusal.
    form: Registration<'a>,
}

const EMPTY_REGISTRATION: Registration<'static> = Registration {
    email: "",
    full_name: "",
    phone: None,
    company: None,
    department: None,
};

fn anon_csrf(headers: &HeaderMap) -> String {
    cookie_value(headers, CSRF_COOKIE).unwrap_or_default()
}

async fn register_page(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let s = state.settings.get();
    if !s.0.security.registration.admin_registration_enabled {
        return Err(AppError::Forbidden(Denied::RegistrationClosed));
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
        notice: None,
        form: EMPTY_REGISTRATION,
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
    let acting = Acting::new(Actor::Anonymous, meta, state.clock.now());
    let r = Registration::from(&form);
    let mut unit = state.unit().await?;
    let outcome = super::registrations::submit(&mut unit, reg, &r, &acting).await;
    unit.commit().await?; // a refusal still counts against the limits
    let csrf = anon_csrf(&headers);
    match outcome {
        Ok(_) => {
            super::mail::spawn_registration_notice(&state, r.full_name, r.email);
            let page = RegisterPage {
                csrf: &csrf,
                message: "",
                done: true,
                notice: None,
                form: EMPTY_REGISTRATION,
            };
            html(StatusCode::CREATED, &page)
        }
        // closed, or over the limits: the error page, as before any field is looked at
        Err(e @ (AppError::Forbidden(_) | AppError::RateLimited { .. })) => Err(e),
        Err(e) => {
            let Some(m) = refusal_message(&e) else {
                return Err(e);
            };
            let page = RegisterPage {
                csrf: &csrf,
                message: &reg.registration_message,
                done: false,
                notice: Some(Notice::refused(m)),
                form: r,
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
    notice: Option<Notice>,
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
    let page = SetupPage {
        csrf: &csrf,
        token: &token,
        email,
        min_len,
        notice: None,
    };
    let mut res = html(status, &page)?;
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
    let acting = Acting::new(Actor::Anonymous, meta, state.clock.now());
    let min_len = state.settings.get().0.security.password_min_length;
    let password = form.get("password").unwrap_or_default();
    let csrf = anon_csrf(&headers);
    let mut unit = state.unit().await?;
    let email = users::setup_link_email(&mut unit, &token, acting.now).await?;
    let refused = |status: StatusCode, email: Option<String>, text: String| {
        let page = SetupPage {
            csrf: &csrf,
            token: &token,
            email,
            min_len,
            notice: Some(Notice::refused(text)),
        };
        html(status, &page)
    };
    if form.get("confirm") != Some(password) {
        return refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            email,
            "The two passwords differ.".into(),
        );
    }
    let r = users::use_setup_link(&mut unit, &token, password, min_len, &acting).await;
    let not_found = matches!(r, Err(AppError::NotFound(_)));
    match settle(unit, r).await? {
        Outcome::Done(_) => Ok(Redirect::to("/sign-in?notice=password-set").into_response()),
        Outcome::Refused(n) if not_found => refused(StatusCode::NOT_FOUND, email, n.text),
        Outcome::Refused(n) => refused(StatusCode::UNPROCESSABLE_ENTITY, email, n.text),
    }
}
