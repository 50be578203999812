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
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
use crate::web::openapi::Doc;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(POST "/api/v1/auth/login", Access::PublicJson, login,
            Doc::new("Sign in with email and password: a TOTP challenge, or \"enrol first\"")
                .describe("401 for a wrong email or password (one message whatever was wrong); five failures lock \
                           the account (423, said only with the right password); too many attempts from one \
                           address: 429. An account without two-factor gets `enrolment_required`, no token, and \
                           the form's half-signed-in cookie for the enrolment page.")
                .body::<LoginBody>()
                .ok::<LoginAnswer>()
                .problems(&[401, 403, 423, 429])),
        route!(POST "/api/v1/auth/login/verify", Access::PublicJson, verify,
            Doc::new("Complete sign-in with the challenge and a TOTP or backup code")
                .describe("Answers a bearer session token (`Authorization: Bearer mbs_…`) and sets the session \
                           cookie. A wrong code counts toward the lockout.")
                .body::<VerifyBody>()
                .ok::<SignedIn>()
                .problems(&[401, 423])),
        route!(POST "/api/v1/auth/refresh", Access::OwnAccount, refresh,
            Doc::new("Extend the calling session, within its absolute lifetime")
                .ok::<SessionExpiry>()),
        route!(POST "/api/v1/auth/register", Access::PublicJson, register,
            Doc::new("Ask for a staff account (while registration is open)")
                .describe("403 while registration is closed; the registration page's rules, limits and audit.")
                .body::<RegisterBody>()
                .created::<Registered>()
                .problems(&[403, 409, 429])),
    ]
}

/// The password step's answer: the second factor is owed, or must be set up first.
#[derive(Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LoginAnswer {
    TotpRequired {
        /// For `/api/v1/auth/login/verify` (not a bearer token).
        challenge: String,
        #[serde(rename = "challengeExpiresAt")]
        challenge_expires_at: DateTime<Utc>,
        verify: String,
        detail: String,
    },
    EnrolmentRequired {
        #[serde(rename = "enrolUrl")]
        enrol_url: String,
        #[serde(rename = "signInUrl")]
        sign_in_url: String,
        detail: String,
    },
}

/// A complete session: its bearer token and when it ends.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignedIn {
    /// `signed_in`
    status: String,
    /// `Authorization: Bearer <token>`; the same session as the cookie set with this answer.
    token: String,
    token_type: String,
    /// The idle deadline: each call (or a refresh) moves it, never past `absoluteExpiresAt`.
    expires_at: DateTime<Utc>,
    absolute_expires_at: DateTime<Utc>,
    /// The `x-csrf-token` a cookie (not bearer) call that changes something sends.
    csrf_token: String,
    via_backup_code: bool,
    backup_codes_left: i64,
}

/// When the calling session now ends.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionExpiry {
    expires_at: DateTime<Utc>,
    absolute_expires_at: DateTime<Utc>,
}

/// A registration received.
#[derive(Serialize, ToSchema)]
pub struct Registered {
    /// `pending`
    status: String,
    detail: String,
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
#[derive(Deserialize, ToSchema)]
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
        Outcome::NeedSecondFactor(created) => Ok(Json(LoginAnswer::TotpRequired {
            challenge: format!("{}{}", session::CHALLENGE_PREFIX, created.token),
            challenge_expires_at: (now + idle(&state)).min(now + Duration::seconds(lifetime)),
            verify: "/api/v1/auth/login/verify".into(),
            detail:
                "Send the challenge with a code from the authenticator app (or a backup code) to the verify endpoint."
                    .into(),
        })
        .into_response()),
        // as the form: the half-signed-in cookie, for a browser to go on to the enrolment page;
        // no token a script could use
        Outcome::NeedEnrolment(created) => {
            let body = Json(LoginAnswer::EnrolmentRequired {
                enrol_url: "/sign-in/enrol".into(),
                sign_in_url: "/sign-in".into(),
                detail: "This account has no two-factor authentication yet, so no session is given. \
                         Sign in once on the sign-in page in a browser and set up an authenticator app."
                    .into(),
            });
            let cookie = cookie_header(&state, session::COOKIE, &created.token, Some(lifetime));
            Ok(with_cookie(body.into_response(), cookie))
        }
        other => Ok(refused(&other, &wrong_credentials())),
    }
}

/// `POST /api/v1/auth/login/verify`'s body: the challenge and a TOTP code or a backup code
/// (`code`, or `backupCode`).
#[derive(Deserialize, ToSchema)]
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
            let settings = state.settings.get();
            let mut conn = state.pool.acquire().await?;
            if super::password_age::expired(&mut conn, &settings.0.security, s.user_id, now).await? {
                // the session may only change the password, which is done on the page
                let detail = format!(
                    "Your password is older than {} days: change it at {} in a browser, then sign in again.",
                    settings.0.security.password_max_age_days,
                    super::password_age::PAGE
                );
                return Ok(problem_response(
                    StatusCode::FORBIDDEN,
                    "password-expired",
                    "Password expired",
                    detail,
                    Vec::new(),
                ));
            }
            let max_age = (r.expiry.absolute_expires_at - now).num_seconds().max(0);
            let body = Json(SignedIn {
                status: "signed_in".into(),
                token: format!("{}{}", session::BEARER_PREFIX, r.token),
                token_type: "Bearer".into(),
                expires_at: r.expiry.expires_at,
                absolute_expires_at: r.expiry.absolute_expires_at,
                csrf_token: s.csrf_token.clone(),
                via_backup_code,
                backup_codes_left,
            });
            let cookie = cookie_header(&state, session::COOKIE, &r.token, Some(max_age));
            let mut res = with_cookie(body.into_response(), cookie);
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(res)
        }
        other => Ok(refused(&other, signin::CODE_REFUSED)),
    }
}

/// Extends the calling session's idle deadline, never past its absolute lifetime.
async fn refresh(State(state): State<AppState>, who: Principal) -> Result<Json<SessionExpiry>, AppError> {
    let id = who.session_id().ok_or(AppError::Unauthorized)?;
    let mut unit = state.unit().await?;
    let expiry = session::refresh(&mut unit, id, idle(&state), state.clock.now())
        .await?
        .ok_or(AppError::Unauthorized)?;
    unit.commit().await?;
    Ok(Json(SessionExpiry {
        expires_at: expiry.expires_at,
        absolute_expires_at: expiry.absolute_expires_at,
    }))
}

/// `POST /api/v1/auth/register`'s body: the registration page's fields.
#[derive(Deserialize, ToSchema)]
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
) -> Result<(StatusCode, Json<Registered>), AppError> {
    let r = Registration::try_from(&body)?;
    let settings = state.settings.get();
    let acting = Acting::new(Actor::Anonymous, meta, state.clock.now());
    let mut unit = state.unit().await?;
    let outcome = registrations::submit(&mut unit, &settings.0.security.registration, &r, &acting).await;
    unit.commit().await?; // a refusal still counts against the limits
    outcome?;
    super::mail::spawn_registration_notice(&state, r.full_name, r.email);
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            status: "pending".into(),
            detail:
                "Registration received. An administrator will review it; if approved, a set-up link follows by email."
                    .into(),
        }),
    ))
}
