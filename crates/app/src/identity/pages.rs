//! Sign-in, two-factor, sign-out and "My account" pages.

use crate::web::extract::Form;
use crate::web::extract::{Path, Query};
use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Duration;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::session::{self, Stage};
use super::signin::{self, Outcome};
use super::{mfa, password, policy, totp};
use crate::audit::{self, Action, AuditEvent, RequestMeta};
use crate::clock::kigali;
use crate::crypto::random_token;
use crate::error::AppError;
use crate::route;
use crate::web::auth::{cookie_value, safe_next, PartialSession, Principal, CSRF_COOKIE};
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/sign-in", Access::Public, sign_in_page),
        route!(POST "/sign-in", Access::Public, sign_in),
        route!(GET "/sign-in/verify", Access::PartialSession, verify_page),
        route!(POST "/sign-in/verify", Access::PartialSession, verify),
        route!(GET "/sign-in/enrol", Access::PartialSession, enrol_page),
        route!(POST "/sign-in/enrol", Access::PartialSession, enrol),
        route!(POST "/sign-in/cancel", Access::PartialSession, cancel),
        route!(POST "/sign-out", Access::OwnAccount, sign_out),
        route!(GET "/account", Access::OwnAccount, account_page),
        route!(POST "/account/password", Access::OwnAccount, change_password),
        route!(POST "/account/sessions/{id}/revoke", Access::OwnAccount, revoke_session),
        route!(POST "/account/mfa/re-enrol", Access::OwnAccount, re_enrol),
    ]
}

fn render<T: Template>(status: StatusCode, t: &T) -> Result<Response, AppError> {
    let html = t.render().map_err(|e| AppError::Internal(e.into()))?;
    Ok((status, Html(html)).into_response())
}

fn cookie_header(state: &AppState, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let secure = if state.config.secure_cookies() { "; Secure" } else { "" };
    let age = match max_age {
        Some(s) => format!("; Max-Age={s}"),
        None => String::new(),
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn with_cookie(mut res: Response, cookie: HeaderValue) -> Response {
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    csrf: &'a str,
    next: &'a str,
    email: &'a str,
    message: Option<String>,
    /// A confirmation from the page that sent the person here (`?notice=`).
    notice: Option<&'static str>,
    registration_open: bool,
}

/// The confirmations other pages may ask the sign-in page to show: a fixed text per key, so the
/// query string never puts words on the page.
fn notice_text(key: Option<&str>) -> Option<&'static str> {
    match key? {
        "password-set" => Some("Your password is saved. Sign in with your email and the new password."),
        _ => None,
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    notice: Option<String>,
}

/// The anonymous CSRF token (double-submit cookie), created when missing.
fn anon_csrf(headers: &HeaderMap) -> (String, bool) {
    match cookie_value(headers, CSRF_COOKIE) {
        Some(t) if t.len() >= 16 => (t, false),
        _ => (random_token(24), true),
    }
}

async fn sign_in_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    let (csrf, fresh) = anon_csrf(&headers);
    let next = safe_next(q.next.as_deref());
    let open = state.settings.get().0.security.registration.admin_registration_enabled;
    let page = SignInPage {
        csrf: &csrf,
        next: &next,
        email: "",
        message: None,
        notice: notice_text(q.notice.as_deref()),
        registration_open: open,
    };
    let res = render(StatusCode::OK, &page)?;
    Ok(if fresh {
        with_cookie(res, cookie_header(&state, CSRF_COOKIE, &csrf, None))
    } else {
        res
    })
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    next: Option<String>,
}

fn kigali_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&kigali()).format("%H:%M").to_string()
}

async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: RequestMeta,
    Form(form): Form<SignInForm>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let security = &settings.0.security;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let ctx = signin::Ctx {
        keys: &state.keys,
        security,
        meta: &meta,
        now,
    };
    let pw = SecretString::from(form.password);
    let outcome = signin::with_password(&mut tx, &ctx, &form.email, &pw).await?;
    tx.commit().await?;
    let next = safe_next(form.next.as_deref());
    let lifetime = i64::from(security.session_timeout_minutes) * 60;
    let (status, message) = match outcome {
        Outcome::NeedSecondFactor(created) => {
            let to = format!("/sign-in/verify?next={}", crate::web::routes::urlencode(&next));
            let cookie = cookie_header(&state, session::COOKIE, &created.token, Some(lifetime));
            return Ok(with_cookie(Redirect::to(&to).into_response(), cookie));
        }
        Outcome::NeedEnrolment(created) => {
            let cookie = cookie_header(&state, session::COOKIE, &created.token, Some(lifetime));
            return Ok(with_cookie(Redirect::to("/sign-in/enrol").into_response(), cookie));
        }
        Outcome::Invalid => (
            StatusCode::UNAUTHORIZED,
            "The email or password is not right.".to_owned(),
        ),
        Outcome::Locked(until) => (
            StatusCode::LOCKED,
            format!(
                "Too many failed attempts: this account is locked until {} (Kigali time).",
                kigali_time(until)
            ),
        ),
        Outcome::Throttled(secs) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many sign-in attempts from this address. Try again in {secs} seconds."),
        ),
        Outcome::NotAllowed(why) => (StatusCode::FORBIDDEN, why.to_owned()),
        Outcome::SignedIn { .. } => return Ok(Redirect::to(&next).into_response()),
    };
    let (csrf, _) = anon_csrf(&headers);
    let page = SignInPage {
        csrf: &csrf,
        next: &next,
        email: form.email.trim(),
        message: Some(message),
        notice: None,
        registration_open: security.registration.admin_registration_enabled,
    };
    render(status, &page)
}

#[derive(Template)]
#[template(path = "sign_in_verify.html")]
struct VerifyPage<'a> {
    csrf: &'a str,
    next: &'a str,
    message: Option<&'a str>,
}

async fn verify_page(PartialSession(s): PartialSession, Query(q): Query<NextQuery>) -> Result<Response, AppError> {
    if s.stage == Stage::MfaEnrol {
        return Ok(Redirect::to("/sign-in/enrol").into_response());
    }
    let next = safe_next(q.next.as_deref());
    render(
        StatusCode::OK,
        &VerifyPage {
            csrf: &s.csrf_token,
            next: &next,
            message: None,
        },
    )
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
    next: Option<String>,
}

async fn verify(
    State(state): State<AppState>,
    PartialSession(s): PartialSession,
    meta: RequestMeta,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    if s.stage != Stage::Password {
        return Ok(Redirect::to("/sign-in/enrol").into_response());
    }
    let settings = state.settings.get();
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let ctx = signin::Ctx {
        keys: &state.keys,
        security: &settings.0.security,
        meta: &meta,
        now,
    };
    let outcome = signin::with_second_factor(&mut tx, &ctx, &s, &form.code).await?;
    tx.commit().await?;
    let next = safe_next(form.next.as_deref());
    match outcome {
        Outcome::SignedIn { .. } => Ok(Redirect::to(&next).into_response()),
        Outcome::Locked(until) => {
            let (csrf, _) = anon_csrf(&HeaderMap::new());
            let page = SignInPage {
                csrf: &csrf,
                next: "/",
                email: &s.email,
                message: Some(format!(
                    "Too many failed attempts: this account is locked until {} (Kigali time).",
                    kigali_time(until)
                )),
                notice: None,
                registration_open: false,
            };
            let res = render(StatusCode::LOCKED, &page)?;
            let res = with_cookie(res, cookie_header(&state, session::COOKIE, "", Some(0)));
            Ok(with_cookie(res, cookie_header(&state, CSRF_COOKIE, &csrf, None)))
        }
        _ => render(
            StatusCode::UNAUTHORIZED,
            &VerifyPage {
                csrf: &s.csrf_token,
                next: &next,
                message: Some("That code is not right, or it was already used."),
            },
        ),
    }
}

#[derive(Template)]
#[template(path = "sign_in_enrol.html")]
struct EnrolPage<'a> {
    csrf: &'a str,
    qr_svg: String,
    secret: String,
    message: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "backup_codes.html")]
struct BackupCodesPage<'a> {
    codes: &'a [String],
    next: &'a str,
}

async fn enrol_page(State(state): State<AppState>, PartialSession(s): PartialSession) -> Result<Response, AppError> {
    if s.stage != Stage::MfaEnrol {
        return Ok(Redirect::to("/sign-in/verify").into_response());
    }
    let mut tx = state.pool.begin().await?;
    let secret = mfa::pending_secret(&mut tx, &state.keys, s.user_id, state.clock.now()).await?;
    tx.commit().await?;
    let qr_svg = totp::qr_svg(&secret, &s.email).unwrap_or_default();
    render(
        StatusCode::OK,
        &EnrolPage {
            csrf: &s.csrf_token,
            qr_svg,
            secret,
            message: None,
        },
    )
}

async fn enrol(
    State(state): State<AppState>,
    PartialSession(s): PartialSession,
    meta: RequestMeta,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    if s.stage != Stage::MfaEnrol {
        return Ok(Redirect::to("/sign-in/verify").into_response());
    }
    let now = state.clock.now();
    let settings = state.settings.get();
    let mut tx = state.pool.begin().await?;
    if !mfa::verify_code(&mut tx, &state.keys, s.user_id, &form.code, now).await? {
        tx.commit().await?;
        let secret = {
            let mut conn = state.pool.acquire().await?;
            mfa::pending_secret(&mut conn, &state.keys, s.user_id, now).await?
        };
        let qr_svg = totp::qr_svg(&secret, &s.email).unwrap_or_default();
        let page = EnrolPage {
            csrf: &s.csrf_token,
            qr_svg,
            secret,
            message: Some("That code is not right. Check the time on your phone and try the newest code."),
        };
        return render(StatusCode::UNAUTHORIZED, &page);
    }
    let codes = mfa::confirm(&mut tx, &state.keys, s.user_id, now).await?;
    let actor = audit::Actor::User {
        user_id: s.user_id,
        session_id: Some(s.id),
    };
    audit::record(
        &mut tx,
        &AuditEvent::new(actor, Action::AuthMfaEnrolled, "user", s.user_id).meta(meta.clone()),
        now,
    )
    .await?;
    let ctx = signin::Ctx {
        keys: &state.keys,
        security: &settings.0.security,
        meta: &meta,
        now,
    };
    signin::complete(&mut tx, &ctx, &s, "totp_enrolment").await?;
    tx.commit().await?;
    render(
        StatusCode::OK,
        &BackupCodesPage {
            codes: &codes,
            next: "/",
        },
    )
}

async fn cancel(State(state): State<AppState>, PartialSession(s): PartialSession) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    session::revoke(&mut conn, s.id, s.user_id, "sign-in cancelled", state.clock.now()).await?;
    Ok(with_cookie(
        Redirect::to("/sign-in").into_response(),
        cookie_header(&state, session::COOKIE, "", Some(0)),
    ))
}

async fn sign_out(State(state): State<AppState>, who: Principal, meta: RequestMeta) -> Result<Response, AppError> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    if let Some(id) = who.session_id() {
        session::revoke(&mut tx, id, who.user_id, "signed out", now).await?;
    }
    audit::record(
        &mut tx,
        &AuditEvent::new(who.actor(), Action::AuthSignedOut, "user", who.user_id).meta(meta),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(with_cookie(
        Redirect::to("/sign-in").into_response(),
        cookie_header(&state, session::COOKIE, "", Some(0)),
    ))
}

struct SessionRow {
    id: Uuid,
    created: String,
    last_seen: String,
    ip: String,
    user_agent: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    shell: Shell,
    roles: Vec<String>,
    sessions: Vec<SessionRow>,
    current_session: Option<Uuid>,
    backup_left: i64,
    min_len: u32,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

async fn account_page(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, AppError> {
    let notice = match q.notice.as_deref() {
        Some("password") => Some("Your password was changed and your other sessions were signed out.".to_owned()),
        Some("session") => Some("That session was signed out.".to_owned()),
        _ => None,
    };
    account(&state, &who, StatusCode::OK, notice, None).await
}

async fn account(
    state: &AppState,
    who: &Principal,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let now = state.clock.now();
    let mut conn = state.pool.acquire().await?;
    let idle = Duration::minutes(i64::from(settings.0.security.idle_timeout_minutes));
    let fmt = crate::clock::local_display;
    let sessions = session::list_active(&mut conn, who.user_id, idle, now)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            id: s.id,
            created: fmt(s.created_at),
            last_seen: fmt(s.last_seen_at),
            ip: s.ip.unwrap_or_else(|| "-".into()),
            user_agent: s.user_agent.unwrap_or_else(|| "-".into()),
        })
        .collect();
    let roles: Vec<String> = sqlx::query_scalar(
        "select r.name from user_role_assignments a join roles r on r.id = a.role_id where a.user_id = $1 order by r.name",
    )
    .bind(who.user_id)
    .fetch_all(&mut *conn)
    .await?;
    let page = AccountPage {
        shell: Shell::new(who, "/account", &settings.0.branding.company_name),
        roles,
        sessions,
        current_session: who.session_id(),
        backup_left: mfa::backup_codes_left(&mut conn, who.user_id).await?,
        min_len: settings.0.security.password_min_length,
        notice,
        error,
    };
    render(status, &page)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new_password: String,
    confirm: String,
}

async fn change_password(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let hash: Option<String> = sqlx::query_scalar("select password_hash from users where id = $1 for update")
        .bind(who.user_id)
        .fetch_one(&mut *tx)
        .await?;
    let current_ok = hash
        .as_deref()
        .is_some_and(|h| password::verify(&SecretString::from(form.current.clone()), h));
    let problem = if !current_ok {
        Some("The current password is not right.".to_owned())
    } else if form.new_password != form.confirm {
        Some("The two new passwords differ.".to_owned())
    } else {
        let local = who.email.split('@').next().unwrap_or("");
        policy::check(
            "new_password",
            &form.new_password,
            settings.0.security.password_min_length,
            &[local, &who.name],
        )
        .err()
        .map(|e| format!("The new password {}.", e.message))
    };
    if let Some(p) = problem {
        drop(tx);
        return account(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, None, Some(p)).await;
    }
    let new_hash = password::hash(&SecretString::from(form.new_password))?;
    sqlx::query("update users set password_hash = $2, password_changed_at = $3, updated_at = $3 where id = $1")
        .bind(who.user_id)
        .bind(&new_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let others = session::revoke_all(&mut tx, who.user_id, who.session_id(), "password changed", now).await?;
    audit::record(
        &mut tx,
        &AuditEvent::new(who.actor(), Action::PasswordChanged, "user", who.user_id)
            .metadata(json!({"otherSessionsRevoked": others}))
            .meta(meta),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/account?notice=password").into_response())
}

async fn revoke_session(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    if !session::revoke(&mut tx, id, who.user_id, "revoked by its owner", now).await? {
        return Err(AppError::NotFound("session"));
    }
    audit::record(
        &mut tx,
        &AuditEvent::new(who.actor(), Action::SessionRevoked, "session", id).meta(meta),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/account?notice=session").into_response())
}

#[derive(Deserialize)]
pub struct ReEnrolForm {
    backup_code: String,
}

/// Moving two-factor to a new phone: prove possession with a backup code, then enrol afresh.
async fn re_enrol(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    Form(form): Form<ReEnrolForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    if !mfa::use_backup_code(&mut tx, &state.keys, who.user_id, &form.backup_code, now).await? {
        drop(tx);
        return account(
            &state,
            &who,
            StatusCode::UNAUTHORIZED,
            None,
            Some("That backup code is not right or was already used.".into()),
        )
        .await;
    }
    mfa::reset(&mut tx, who.user_id, now).await?;
    if let Some(id) = who.session_id() {
        session::set_stage(&mut tx, id, Stage::MfaEnrol, now).await?;
    }
    audit::record(
        &mut tx,
        &AuditEvent::new(who.actor(), Action::AuthMfaReset, "user", who.user_id)
            .metadata(json!({"by": "self", "proof": "backup_code"}))
            .meta(meta),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/sign-in/enrol").into_response())
}
