//! Signing in: password, then TOTP (or a backup code), with per-account lockout, per-address
//! throttling, and every attempt audited. Without the right password, a known address and an
//! unknown one get the same answer (decision 0021). Failures are returned as values so the
//! caller commits the failure counters and audit rows, then shows the message.

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use axum::http::StatusCode;

use super::registrations::ApprovalStatus;
use super::session::{self, Created, Stage};
use super::{mfa, password};
use crate::audit::{self, Action, Actor, AuditEvent, RequestMeta};
use crate::crypto::Keys;
use crate::error::AppError;
use crate::settings::model::SecuritySettings;
use crate::web::AppState;

/// What a sign-in step ended in.
#[derive(Debug)]
pub enum Outcome {
    /// Password accepted: a session that still owes its second factor.
    NeedSecondFactor(Created),
    /// Password accepted, no second factor yet: a session that must enrol one first.
    NeedEnrolment(Created),
    /// Second factor accepted: the session is complete (with its new token, when asked for).
    SignedIn {
        via_backup_code: bool,
        backup_codes_left: i64,
        renewed: Option<Renewed>,
    },
    /// Wrong email, password or code (deliberately not saying which).
    Invalid,
    /// The account is locked until then (said only after the right password, or at the second
    /// factor, so it never reveals that an address has an account).
    Locked(DateTime<Utc>),
    /// Too many attempts from this address; try again after so many seconds.
    Throttled(u64),
    /// Right password, but the account cannot sign in (deactivated, awaiting approval, rejected).
    NotAllowed(&'static str),
}

/// A completed session's new token and when it ends (the sign-in API's answer).
pub struct Renewed {
    pub token: String,
    pub expiry: session::Expiry,
}

impl std::fmt::Debug for Renewed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renewed")
            .field("expiry", &self.expiry)
            .finish_non_exhaustive()
    }
}

pub struct Ctx<'a> {
    pub keys: &'a Keys,
    pub security: &'a SecuritySettings,
    pub meta: &'a RequestMeta,
    pub now: DateTime<Utc>,
}

/// A hash of a random password, verified against when the email is unknown, so both cases take
/// the same time.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    password::hash(&SecretString::from("not a real password, only for timing".to_owned())).unwrap_or_default()
});

async fn fail(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    user_id: Option<Uuid>,
    reason: &str,
    email: &str,
) -> Result<(), sqlx::Error> {
    if !ctx.security.audit.log_failed_attempts && user_id.is_none() {
        return Ok(());
    }
    let actor = user_id.map_or(Actor::Anonymous, |id| Actor::User {
        user_id: id,
        session_id: None,
    });
    let event = AuditEvent::new(
        actor,
        Action::AuthSignInFailed,
        "auth",
        user_id.map_or_else(|| "unknown".to_owned(), |u| u.to_string()),
    )
    .metadata(json!({"reason": reason, "email": email}))
    .meta(ctx.meta.clone());
    audit::record(conn, &event, ctx.now).await.map(|_| ())
}

async fn security_event(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    kind: &str,
    severity: &str,
    user_id: Option<Uuid>,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into security_events (kind, severity, user_id, ip, details, created_at) values ($1, $2, $3, $4, $5, $6)")
        .bind(kind)
        .bind(severity)
        .bind(user_id)
        .bind(ctx.meta.ip.map(sqlx::types::ipnetwork::IpNetwork::from))
        .bind(details)
        .bind(ctx.now)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Counts a failure against the account; locks it when the limit is reached.
async fn count_failure(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    user_id: Uuid,
    email: &str,
    reason: &str,
) -> Result<Outcome, sqlx::Error> {
    let attempts: i32 = sqlx::query_scalar(
        "update users set failed_login_attempts = failed_login_attempts + 1, updated_at = $2 where id = $1 returning failed_login_attempts",
    )
    .bind(user_id)
    .bind(ctx.now)
    .fetch_one(&mut *conn)
    .await?;
    fail(conn, ctx, Some(user_id), reason, email).await?;
    if attempts >= ctx.security.max_login_attempts as i32 {
        let until = ctx.now + Duration::minutes(i64::from(ctx.security.lockout_duration_minutes));
        sqlx::query("update users set lockout_until = $2, failed_login_attempts = 0, updated_at = $3 where id = $1")
            .bind(user_id)
            .bind(until)
            .bind(ctx.now)
            .execute(&mut *conn)
            .await?;
        let event = AuditEvent::new(
            Actor::User {
                user_id,
                session_id: None,
            },
            Action::AuthLockedOut,
            "user",
            user_id,
        )
        .metadata(json!({"attempts": attempts, "until": until}))
        .meta(ctx.meta.clone());
        audit::record(conn, &event, ctx.now).await?;
        security_event(
            conn,
            ctx,
            "account_locked",
            "warning",
            Some(user_id),
            json!({"attempts": attempts, "until": until, "email": email}),
        )
        .await?;
        session::revoke_all(conn, user_id, None, "account locked", ctx.now).await?;
        if ctx.security.audit.real_time_alerts {
            let alert = crate::alerts::NewAlert::new(
                "security.account_locked",
                crate::alerts::Severity::Warning,
                crate::access::Permission::SecurityAlertsView,
                format!("{email} is locked after {attempts} failed sign-ins"),
            )
            .body(format!(
                "Locked until {} (Kigali time). Several locked accounts at once may be someone guessing passwords.",
                kigali_time(until)
            ))
            .subject("user", user_id)
            .dedupe(format!("security.account_locked:{user_id}:{}", until.timestamp()));
            crate::alerts::raise(conn, &alert, ctx.now).await?;
        }
        return Ok(Outcome::Locked(until));
    }
    Ok(Outcome::Invalid)
}

/// The password step.
pub async fn with_password(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    email: &str,
    password_given: &SecretString,
) -> Result<Outcome, sqlx::Error> {
    let email = email.trim().to_lowercase();
    if let Some(ip) = ctx.meta.ip {
        let limit = ctx.security.rate_limiting.login_attempts_per_minute as i32;
        let d = crate::ratelimit::hit(conn, &format!("signin:ip:{ip}"), 60, limit, ctx.now).await?;
        if !d.allowed {
            fail(conn, ctx, None, "throttled", &email).await?;
            if d.first_refusal {
                security_event(
                    conn,
                    ctx,
                    "ip_throttled",
                    "warning",
                    None,
                    json!({"ip": ip.to_string(), "limit": limit}),
                )
                .await?;
                if ctx.security.audit.real_time_alerts {
                    crate::alerts::rules::security::throttled(
                        conn,
                        ip,
                        ctx.security.rate_limiting.login_attempts_per_minute,
                        ctx.now,
                    )
                    .await?;
                }
            }
            return Ok(Outcome::Throttled(d.retry_after_secs));
        }
    }
    #[derive(sqlx::FromRow)]
    struct Row {
        id: Uuid,
        password_hash: Option<String>,
        is_active: bool,
        approval_status: ApprovalStatus,
        lockout_until: Option<DateTime<Utc>>,
        mfa_enabled: bool,
    }
    let user: Option<Row> = sqlx::query_as(
        "select id, password_hash, is_active, approval_status, lockout_until, mfa_enabled from users \
         where email = $1 and kind = 'staff' for update",
    )
    .bind(&email)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(Row {
        id: user_id,
        password_hash: hash,
        is_active: active,
        approval_status: approval,
        lockout_until,
        mfa_enabled,
    }) = user
    else {
        let _ = password::verify(password_given, &DUMMY_HASH);
        fail(conn, ctx, None, "unknown email", &email).await?;
        return Ok(Outcome::Invalid);
    };
    // the password is checked (or a dummy, for an account without one) whatever the account's
    // state, so every answer takes the same time
    let ok = match hash.as_deref() {
        Some(h) => password::verify(password_given, h),
        None => {
            let _ = password::verify(password_given, &DUMMY_HASH);
            false
        }
    };
    let locked = lockout_until.filter(|u| *u > ctx.now);
    if !ok {
        // Without the right password, a locked account answers exactly like a wrong password or
        // an unknown address: "locked" is said only to whoever knows the password, so the answer
        // never tells which addresses have accounts. The lock itself is unchanged.
        if locked.is_some() {
            fail(conn, ctx, Some(user_id), "wrong password while locked", &email).await?;
            return Ok(Outcome::Invalid);
        }
        return match count_failure(conn, ctx, user_id, &email, "wrong password").await? {
            Outcome::Locked(_) => Ok(Outcome::Invalid),
            other => Ok(other),
        };
    }
    if let Some(until) = locked {
        fail(conn, ctx, Some(user_id), "locked", &email).await?;
        return Ok(Outcome::Locked(until));
    }
    if approval != ApprovalStatus::Approved || !active {
        let why = match approval {
            ApprovalStatus::Pending => "This account is waiting for an administrator's approval.",
            ApprovalStatus::Rejected => "This registration was not approved.",
            ApprovalStatus::Approved => "This account has been deactivated. Ask an administrator.",
        };
        fail(conn, ctx, Some(user_id), "not allowed", &email).await?;
        return Ok(Outcome::NotAllowed(why));
    }
    let lifetime = Duration::minutes(i64::from(ctx.security.session_timeout_minutes));
    let stage = if mfa_enabled { Stage::Password } else { Stage::MfaEnrol };
    let created = session::create(
        conn,
        user_id,
        stage,
        ctx.meta.ip,
        ctx.meta.user_agent.as_deref(),
        lifetime,
        ctx.now,
    )
    .await?;
    Ok(if mfa_enabled {
        Outcome::NeedSecondFactor(created)
    } else {
        Outcome::NeedEnrolment(created)
    })
}

/// The second step: a TOTP code or a backup code, on a session at the `password` stage.
pub async fn with_second_factor(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    current: &session::Current,
    code: &str,
) -> Result<Outcome, sqlx::Error> {
    let lockout: Option<DateTime<Utc>> = sqlx::query_scalar("select lockout_until from users where id = $1 for update")
        .bind(current.user_id)
        .fetch_one(&mut *conn)
        .await?;
    if let Some(until) = lockout.filter(|u| *u > ctx.now) {
        return Ok(Outcome::Locked(until));
    }
    let via_backup = mfa::looks_like_backup_code(code);
    let ok = if via_backup {
        mfa::use_backup_code(conn, ctx.keys, current.user_id, code, ctx.now).await?
    } else {
        mfa::verify_code(conn, ctx.keys, current.user_id, code, ctx.now).await?
    };
    if !ok {
        let reason = if via_backup {
            "wrong or used backup code"
        } else {
            "wrong or replayed code"
        };
        let out = count_failure(conn, ctx, current.user_id, &current.email, reason).await?;
        return Ok(out);
    }
    complete(conn, ctx, current, if via_backup { "backup_code" } else { "totp" }).await?;
    let left = mfa::backup_codes_left(conn, current.user_id).await?;
    Ok(Outcome::SignedIn {
        via_backup_code: via_backup,
        backup_codes_left: left,
        renewed: None,
    })
}

/// Marks the session complete (or, when the password is too old, bound to change it), resets the
/// failure counter and audits the sign-in.
pub async fn complete(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    current: &session::Current,
    method: &str,
) -> Result<(), sqlx::Error> {
    // a password past its age leaves the session able to change it and nothing else
    let stage = if super::password_age::expired(conn, ctx.security, current.user_id, ctx.now).await? {
        Stage::PasswordExpired
    } else {
        Stage::Full
    };
    session::set_stage(conn, current.id, stage, ctx.now).await?;
    if ctx.security.audit.real_time_alerts {
        crate::alerts::rules::security::sign_in_address(conn, current.user_id, current.id, ctx.meta.ip, ctx.now)
            .await?;
    }
    sqlx::query("update users set failed_login_attempts = 0, lockout_until = null, last_login_at = $2, updated_at = $2 where id = $1")
        .bind(current.user_id)
        .bind(ctx.now)
        .execute(&mut *conn)
        .await?;
    let event = AuditEvent::new(
        Actor::User {
            user_id: current.user_id,
            session_id: Some(current.id),
        },
        Action::AuthSignInSucceeded,
        "user",
        current.user_id,
    )
    .metadata(json!({"method": method}))
    .meta(ctx.meta.clone());
    audit::record(conn, &event, ctx.now).await.map(|_| ())
}

/// The password step's command, as the sign-in form and the sign-in API both give it.
pub struct Credentials {
    pub email: String,
    pub password: SecretString,
}

/// The password step in one unit of work, for the form and the API alike: the failure counters,
/// throttling windows and audit rows are committed whatever the outcome.
pub async fn password_step(state: &AppState, meta: &RequestMeta, cmd: &Credentials) -> Result<Outcome, AppError> {
    let settings = state.settings.get();
    let ctx = Ctx {
        keys: &state.keys,
        security: &settings.0.security,
        meta,
        now: state.clock.now(),
    };
    let mut unit = state.unit().await?;
    let outcome = with_password(&mut unit, &ctx, &cmd.email, &cmd.password).await?;
    unit.commit().await?;
    Ok(outcome)
}

/// The second step's command: the session it completes and the TOTP or backup code.
/// `new_token` gives the completed session a new token (the API's challenge, once used, is
/// worth nothing); the form keeps its cookie.
pub struct SecondFactor<'a> {
    pub session: &'a session::Current,
    pub code: &'a str,
    pub new_token: bool,
}

/// The second step in one unit of work, for the form and the API alike.
pub async fn second_factor_step(
    state: &AppState,
    meta: &RequestMeta,
    cmd: &SecondFactor<'_>,
) -> Result<Outcome, AppError> {
    let settings = state.settings.get();
    let security = &settings.0.security;
    let now = state.clock.now();
    let ctx = Ctx {
        keys: &state.keys,
        security,
        meta,
        now,
    };
    let mut unit = state.unit().await?;
    let mut outcome = with_second_factor(&mut unit, &ctx, cmd.session, cmd.code).await?;
    if let Outcome::SignedIn { renewed, .. } = &mut outcome {
        if cmd.new_token {
            let token = session::rotate_token(&mut unit, cmd.session.id, now).await?;
            let idle = Duration::minutes(i64::from(security.idle_timeout_minutes));
            let expiry = session::refresh(&mut unit, cmd.session.id, idle, now)
                .await?
                .ok_or(AppError::Unauthorized)?;
            *renewed = Some(Renewed { token, expiry });
        }
    }
    unit.commit().await?;
    Ok(outcome)
}

/// The words for a code that did not work, on the page and in the API.
pub const CODE_REFUSED: &str = "That code is not right, or it was already used.";

fn kigali_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&crate::clock::kigali()).format("%H:%M").to_string()
}

impl Outcome {
    /// Why a step was refused, in words for the person, and its status; `None` when it went on.
    /// The page shows the words, the API answers them as a problem.
    pub fn refusal(&self) -> Option<(StatusCode, String)> {
        Some(match self {
            Outcome::Invalid => (
                StatusCode::UNAUTHORIZED,
                "The email or password is not right.".to_owned(),
            ),
            Outcome::Locked(until) => (
                StatusCode::LOCKED,
                format!(
                    "Too many failed attempts: this account is locked until {} (Kigali time).",
                    kigali_time(*until)
                ),
            ),
            Outcome::Throttled(secs) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many sign-in attempts from this address. Try again in {secs} seconds."),
            ),
            Outcome::NotAllowed(why) => (StatusCode::FORBIDDEN, (*why).to_owned()),
            Outcome::NeedSecondFactor(_) | Outcome::NeedEnrolment(_) | Outcome::SignedIn { .. } => return None,
        })
    }
}
