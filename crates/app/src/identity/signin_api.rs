//! The sign-in API (issue 19): the form sign-in's steps as JSON for scripts and single-page
//! clients. Password → a TOTP challenge (or "enrol first"), challenge + code → a session (the
//! browser's cookie and a bearer token), refresh within the absolute lifetime, and
//! self-registration. Every step runs the form's own command and use case
//! ([`signin::password_step`], [`signin::second_factor_step`], [`registrations::submit`]), so
//! lockout, throttling and audit are the form's. Decision 0030 says why these pre-auth routes
//! carry no double-submit token.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

use super::pages::{cookie_header, with_cookie};
use super::registrations::{self, Registration};
use super::session::{self, Stage};
use super::signin::{self, Credentials, Outcome, SecondFactor};
use crate::audit::{Actor, RequestMeta};
use crate::error::{problem_response, AppError, FieldError};
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::ApiJson;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(POST "/api/v1/auth/login", Access::PublicJson, login),
        route!(POST "/api/v1/auth/login/verify", Access::PublicJson, verify),
        route!(POST "/api/v1/auth/refresh", Access::OwnAccount, refresh),
        route!(POST "/api/v1/auth/register", Access::PublicJson, register),
    ]
}

/// Each named field must be there and not blank; the field errors otherwise.
fn required(fields: &[(&str, &Option<String>)]) -> Result<(), AppError> {
    let missing: Vec<FieldError> = fields
        .iter()
        .filter(|(_, v)| v.as_deref().is_none_or(|s| s.trim().is_empty()))
        .map(|(name, _)| FieldError::new(*name, "is required"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(missing))
    }
}

/// `POST /api/v1/auth/login`'s body.
#[derive(Deserialize)]
pub struct LoginBody {
    email: Option<String>,
    password: Option<String>,
}

impl TryFrom<LoginBody> for Credentials {
    type Error = AppError;

    fn try_from(b: LoginBody) -> Result<Self, AppError> {
        required(&[("email", &b.email), ("password", &b.password)])?;
        Ok(Credentials {
            email: b.email.unwrap_or_default(),
            password: SecretString::from(b.password.unwrap_or_default()),
        })
    }
}

/// A refused step as a problem: the form's words and status (423 locked, 403 not allowed, 401
/// for anything wrong, never saying what); 429 with `Retry-After` when throttled.
fn refused(outcome: &Outcome, wrong: &str) -> Response {
    if let Outcome::Throttled(secs) = outcome {
        return AppError::RateLimited {
            retry_after_secs: *secs,
        }
        .into_response();
    }
    let (status, text) = match outcome {
        Outcome::Invalid => (StatusCode::UNAUTHORIZED, wrong.to_owned()),
        other => other.refusal().unwrap_or((StatusCode::UNAUTHORIZED, wrong.to_owned())),
    };
    problem_response(status, "sign-in-refused", "Sign-in refused", text, Vec::new())
}

fn wrong_credentials() -> String {
    signin::Outcome::Invalid.refusal().map(|(_, t)| t).unwrap_or_default()
}

fn idle(state: &AppState) -> Duration {
    Duration::minutes(i64::from(state.settings.get().0.security.idle_timeout_minutes))
}

async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, AppError> {
    let cmd = Credentials::try_from(body)?;
    let outcome = signin::password_step(&state, &meta, &cmd).await?;
    let now = state.clock.now();
    let lifetime = i64::from(state.settings.get().0.security.session_timeout_minutes) * 60;
    match outcome {
        Outcome::NeedSecondFactor(created) => Ok(Json(json!({
            "status": "totp_required",
            "challenge": format!("{}{}", session::CHALLENGE_PREFIX, created.token),
            "challengeExpiresAt": (now + idle(&state)).min(now + Duration::seconds(lifetime)),
            "verify": "/api/v1/auth/login/verify",
            "detail": "Send the challenge with a code from the authenticator app (or a backup code) to the verify endpoint.",
        }))
        .into_response()),
        // as the form: the half-signed-in cookie, for a browser to go on to the enrolment page;
        // no token a script could use
        Outcome::NeedEnrolment(created) => {
            let body = Json(json!({
                "status": "enrolment_required",
                "enrolUrl": "/sign-in/enrol",
                "signInUrl": "/sign-in",
                "detail": "This account has no two-factor authentication yet, so no session is given. \
                           Sign in once on the sign-in page in a browser and set up an authenticator app.",
            }));
            let cookie = cookie_header(&state, session::COOKIE, &created.token, Some(lifetime));
            Ok(with_cookie(body.into_response(), cookie))
        }
        other => Ok(refused(&other, &wrong_credentials())),
    }
}

/// `POST /api/v1/auth/login/verify`'s body: the challenge and a TOTP code or a backup code
/// (`code`, or `backupCode`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyBody {
    challenge: Option<String>,
    #[serde(alias = "backupCode")]
    code: Option<String>,
}

pub struct Verify {
    challenge: String,
    code: String,
}

impl TryFrom<VerifyBody> for Verify {
    type Error = AppError;

    fn try_from(b: VerifyBody) -> Result<Self, AppError> {
        required(&[("challenge", &b.challenge), ("code", &b.code)])?;
        Ok(Verify {
            challenge: b.challenge.unwrap_or_default().trim().to_owned(),
            code: b.code.unwrap_or_default(),
        })
    }
}

const CHALLENGE_REFUSED: &str = "The challenge is not valid or has expired: sign in again.";

/// The half-signed-in session a challenge names, while it still owes its second factor.
async fn challenge_session(state: &AppState, challenge: &str) -> Result<Option<session::Current>, AppError> {
    let Some(token) = challenge.strip_prefix(session::CHALLENGE_PREFIX) else {
        return Ok(None);
    };
    let mut conn = state.pool.acquire().await?;
    let found = session::lookup(&mut conn, token, idle(state), state.clock.now()).await?;
    Ok(found.filter(|s| s.stage == Stage::Password))
}

async fn verify(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<VerifyBody>,
) -> Result<Response, AppError> {
    let cmd = Verify::try_from(body)?;
    let Some(s) = challenge_session(&state, &cmd.challenge).await? else {
        let problem = problem_response(
            StatusCode::UNAUTHORIZED,
            "sign-in-refused",
            "Sign-in refused",
            CHALLENGE_REFUSED.to_owned(),
            Vec::new(),
        );
        return Ok(problem);
    };
    let step = SecondFactor {
        session: &s,
        code: &cmd.code,
        new_token: true,
    };
    match signin::second_factor_step(&state, &meta, &step).await? {
        Outcome::SignedIn {
            via_backup_code,
            backup_codes_left,
            renewed: Some(r),
        } => {
            let now = state.clock.now();
            let max_age = (r.expiry.absolute_expires_at - now).num_seconds().max(0);
            let body = Json(json!({
                "status": "signed_in",
                "token": format!("{}{}", session::BEARER_PREFIX, r.token),
                "tokenType": "Bearer",
                "expiresAt": r.expiry.expires_at,
                "absoluteExpiresAt": r.expiry.absolute_expires_at,
                "csrfToken": s.csrf_token,
                "viaBackupCode": via_backup_code,
                "backupCodesLeft": backup_codes_left,
            }));
            let cookie = cookie_header(&state, session::COOKIE, &r.token, Some(max_age));
            let mut res = with_cookie(body.into_response(), cookie);
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(res)
        }
        other => Ok(refused(&other, signin::CODE_REFUSED)),
    }
}

/// When the calling session (cookie or bearer token) now ends.
fn expiry_json(idle_at: DateTime<Utc>, absolute: DateTime<Utc>) -> Json<serde_json::Value> {
    Json(json!({"expiresAt": idle_at, "absoluteExpiresAt": absolute}))
}

/// Extends the calling session's idle deadline, never past its absolute lifetime.
async fn refresh(State(state): State<AppState>, who: Principal) -> Result<Json<serde_json::Value>, AppError> {
    let id = who.session_id().ok_or(AppError::Unauthorized)?;
    let mut unit = state.unit().await?;
    let expiry = session::refresh(&mut unit, id, idle(&state), state.clock.now())
        .await?
        .ok_or(AppError::Unauthorized)?;
    unit.commit().await?;
    Ok(expiry_json(expiry.expires_at, expiry.absolute_expires_at))
}

/// `POST /api/v1/auth/register`'s body: the registration page's fields.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterBody {
    email: Option<String>,
    full_name: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    department: Option<String>,
}

impl<'a> TryFrom<&'a RegisterBody> for Registration<'a> {
    type Error = AppError;

    fn try_from(b: &'a RegisterBody) -> Result<Self, AppError> {
        required(&[("email", &b.email), ("fullName", &b.full_name)])?;
        Ok(Registration {
            email: b.email.as_deref().unwrap_or_default(),
            full_name: b.full_name.as_deref().unwrap_or_default(),
            phone: b.phone.as_deref(),
            company: b.company.as_deref(),
            department: b.department.as_deref(),
        })
    }
}

/// Self-registration, only while it is open (403 `forbidden` when closed, as the page), with the
/// page's rules, limits and audit row.
async fn register(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let r = Registration::try_from(&body)?;
    let settings = state.settings.get();
    let acting = Acting::new(Actor::Anonymous, meta, state.clock.now());
    let mut unit = state.unit().await?;
    let outcome = registrations::submit(&mut unit, &settings.0.security.registration, &r, &acting).await;
    unit.commit().await?; // a refusal still counts against the limits
    outcome?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "status": "pending",
            "detail": "Registration received. An administrator will review it; if approved, a set-up link follows by email.",
        })),
    ))
}
