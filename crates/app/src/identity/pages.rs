//! Sign-in, two-factor, sign-out and "My account" pages.

use crate::web::extract::Form;
use crate::web::extract::Query;
use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::SecretString;
use serde::Deserialize;

use super::session::{self, Stage};
use super::signin::{self, Outcome};
use super::{mfa, totp};
use crate::audit::{self, Action, AuditEvent, RequestMeta};
use crate::crypto::random_token;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::{cookie_value, safe_next, PartialSession, Principal, CSRF_COOKIE};
use crate::web::pages::{html as render, Notice};
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    let mut specs = vec![
        route!(GET "/sign-in", Access::Public, sign_in_page),
        route!(POST "/sign-in", Access::Public, sign_in),
        route!(GET "/sign-in/verify", Access::PartialSession, verify_page),
        route!(POST "/sign-in/verify", Access::PartialSession, verify),
        route!(GET "/sign-in/enrol", Access::PartialSession, enrol_page),
        route!(POST "/sign-in/enrol", Access::PartialSession, enrol),
        route!(POST "/sign-in/cancel", Access::PartialSession, cancel),
        route!(POST "/sign-out", Access::OwnAccount, sign_out),
    ];
    specs.extend(super::password_age::routes());
    specs
}

/// A `Set-Cookie` value as every sign-in sets it (page and API): httpOnly, SameSite=Strict,
/// Secure outside development.
pub(crate) fn cookie_header(state: &AppState, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
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

pub(crate) fn with_cookie(mut res: Response, cookie: HeaderValue) -> Response {
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    csrf: &'a str,
    next: &'a str,
    email: &'a str,
    /// A confirmation from the page that sent the person here (`?notice=`), or why the last
    /// attempt was refused.
    notice: Option<Notice>,
    registration_open: bool,
}

/// The confirmations other pages may ask the sign-in page to show: a fixed text per key, so the
/// query string never puts words on the page.
fn notice_text(key: Option<&str>) -> Option<Notice> {
    match key? {
        "password-set" => Some(Notice::info(
            "Your password is saved. Sign in with your email and the new password.",
        )),
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

async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: RequestMeta,
    Form(form): Form<SignInForm>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let security = &settings.0.security;
    let cmd = signin::Credentials {
        email: form.email.clone(),
        password: SecretString::from(form.password),
    };
    let outcome = signin::password_step(&state, &meta, &cmd).await?;
    let next = safe_next(form.next.as_deref());
    let lifetime = i64::from(security.session_timeout_minutes) * 60;
    let session_cookie = |token: &str| cookie_header(&state, session::COOKIE, token, Some(lifetime));
    let (status, message) = match outcome {
        Outcome::NeedSecondFactor(created) => {
            let to = crate::web::routes::with_query("/sign-in/verify", &[("next", &next)]);
            return Ok(with_cookie(
                Redirect::to(&to).into_response(),
                session_cookie(&created.token),
            ));
        }
        Outcome::NeedEnrolment(created) => {
            let to = Redirect::to("/sign-in/enrol").into_response();
            return Ok(with_cookie(to, session_cookie(&created.token)));
        }
        Outcome::SignedIn { .. } => return Ok(Redirect::to(&next).into_response()),
        refused => refused.refusal().unwrap_or((StatusCode::UNAUTHORIZED, String::new())),
    };
    let (csrf, _) = anon_csrf(&headers);
    let page = SignInPage {
        csrf: &csrf,
        next: &next,
        email: form.email.trim(),
        notice: Some(Notice::refused(message)),
        registration_open: security.registration.admin_registration_enabled,
    };
    render(status, &page)
}

#[derive(Template)]
#[template(path = "sign_in_verify.html")]
struct VerifyPage<'a> {
    csrf: &'a str,
    next: &'a str,
    notice: Option<Notice>,
}

async fn verify_page(PartialSession(s): PartialSession, Query(q): Query<NextQuery>) -> Result<Response, AppError> {
    match s.stage {
        Stage::MfaEnrol => return Ok(Redirect::to("/sign-in/enrol").into_response()),
        Stage::PasswordExpired => return Ok(Redirect::to(super::password_age::PAGE).into_response()),
        Stage::Password | Stage::Full => {}
    }
    let next = safe_next(q.next.as_deref());
    render(
        StatusCode::OK,
        &VerifyPage {
            csrf: &s.csrf_token,
            next: &next,
            notice: None,
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
        return Ok(Redirect::to("/sign-in/verify").into_response());
    }
    let cmd = signin::SecondFactor {
        session: &s,
        code: &form.code,
        new_token: false,
    };
    let outcome = signin::second_factor_step(&state, &meta, &cmd).await?;
    let next = safe_next(form.next.as_deref());
    match outcome {
        Outcome::SignedIn { .. } => Ok(Redirect::to(&next).into_response()),
        locked @ Outcome::Locked(_) => {
            let (csrf, _) = anon_csrf(&HeaderMap::new());
            let page = SignInPage {
                csrf: &csrf,
                next: "/",
                email: &s.email,
                notice: locked.refusal().map(|(_, text)| Notice::refused(text)),
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
                notice: Some(Notice::refused(signin::CODE_REFUSED)),
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
    notice: Option<Notice>,
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
    let mut unit = state.unit().await?;
    let secret = mfa::pending_secret(&mut unit, &state.keys, s.user_id, state.clock.now()).await?;
    unit.commit().await?;
    let qr_svg = totp::qr_svg(&secret, &s.email).unwrap_or_default();
    render(
        StatusCode::OK,
        &EnrolPage {
            csrf: &s.csrf_token,
            qr_svg,
            secret,
            notice: None,
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
    let mut unit = state.unit().await?;
    if !mfa::verify_code(&mut unit, &state.keys, s.user_id, &form.code, now).await? {
        unit.commit().await?;
        let secret = {
            let mut conn = state.pool.acquire().await?;
            mfa::pending_secret(&mut conn, &state.keys, s.user_id, now).await?
        };
        let qr_svg = totp::qr_svg(&secret, &s.email).unwrap_or_default();
        let page = EnrolPage {
            csrf: &s.csrf_token,
            qr_svg,
            secret,
            notice: Some(Notice::refused(
                "That code is not right. Check the time on your phone and try the newest code.",
            )),
        };
        return render(StatusCode::UNAUTHORIZED, &page);
    }
    let codes = mfa::confirm(&mut unit, &state.keys, s.user_id, now).await?;
    let actor = audit::Actor::User {
        user_id: s.user_id,
        session_id: Some(s.id),
    };
    audit::record(
        &mut unit,
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
    signin::complete(&mut unit, &ctx, &s, "totp_enrolment").await?;
    unit.commit().await?;
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

async fn sign_out(State(state): State<AppState>, who: Principal, acting: Acting) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    super::account::sign_out(&mut unit, who.user_id, who.session_id(), &acting).await?;
    unit.commit().await?;
    Ok(with_cookie(
        Redirect::to("/sign-in").into_response(),
        cookie_header(&state, session::COOKIE, "", Some(0)),
    ))
}
