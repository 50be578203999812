//! Sessions: opaque random tokens in an httpOnly, SameSite=Strict cookie; only their SHA-256 is
//! stored. A session moves through stages: `password` (TOTP still owed), `mfa_enrol` (TOTP must
//! be set up first), `full`. Absolute lifetime and idle timeout come from settings.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::crypto::{random_token, token_hash};

pub const COOKIE: &str = "mb_session";

/// What a script puts before a session token in `Authorization: Bearer` (decision 0030): the
/// same session as the cookie, told apart from an API key (`mbk_`) at a glance.
pub const BEARER_PREFIX: &str = "mbs_";

/// What the sign-in API puts before a partial session's token it hands out as a TOTP challenge:
/// never accepted as a bearer token.
pub const CHALLENGE_PREFIX: &str = "mbc_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Password,
    MfaEnrol,
    /// Signed in, but the password is older than `security.passwordMaxAgeDays`: it must be
    /// changed before anything else ([`super::password_age`]).
    PasswordExpired,
    Full,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Password => "password",
            Stage::MfaEnrol => "mfa_enrol",
            Stage::PasswordExpired => "password_expired",
            Stage::Full => "full",
        }
    }

    fn parse(s: &str) -> Stage {
        match s {
            "full" => Stage::Full,
            "mfa_enrol" => Stage::MfaEnrol,
            "password_expired" => Stage::PasswordExpired,
            _ => Stage::Password,
        }
    }
}

/// A live session with its user, as a request sees it.
#[derive(Debug, Clone)]
pub struct Current {
    pub id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub stage: Stage,
    pub csrf_token: String,
    pub mfa_enabled: bool,
}

pub struct Created {
    pub id: Uuid,
    /// The cookie value: shown to the browser once, stored only hashed.
    pub token: String,
    pub csrf_token: String,
}

impl std::fmt::Debug for Created {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Created").field("id", &self.id).finish_non_exhaustive()
    }
}

pub async fn create(
    conn: &mut PgConnection,
    user_id: Uuid,
    stage: Stage,
    ip: Option<IpAddr>,
    user_agent: Option<&str>,
    lifetime: Duration,
    now: DateTime<Utc>,
) -> Result<Created, sqlx::Error> {
    let token = random_token(32);
    let csrf_token = random_token(24);
    let id: Uuid = sqlx::query_scalar(
        "insert into sessions (user_id, token_hash, stage, csrf_token, ip, user_agent, created_at, updated_at, last_seen_at, expires_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $7, $7, $8) returning id",
    )
    .bind(user_id)
    .bind(token_hash(&token))
    .bind(stage.as_str())
    .bind(&csrf_token)
    .bind(ip.map(sqlx::types::ipnetwork::IpNetwork::from))
    .bind(user_agent)
    .bind(now)
    .bind(now + lifetime)
    .fetch_one(conn)
    .await?;
    Ok(Created { id, token, csrf_token })
}

/// Finds the live session for a cookie value: not revoked, not past its absolute lifetime or
/// idle timeout, its user active and approved. Touches `last_seen_at` (at most once a minute).
pub async fn lookup(
    conn: &mut PgConnection,
    token: &str,
    idle: Duration,
    now: DateTime<Utc>,
) -> Result<Option<Current>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: Uuid,
        user_id: Uuid,
        email: String,
        full_name: String,
        stage: String,
        csrf_token: String,
        mfa_enabled: bool,
        last_seen_at: DateTime<Utc>,
    }
    let row: Option<Row> = sqlx::query_as(
        "select s.id, u.id as user_id, u.email::text as email, u.full_name, s.stage, s.csrf_token, u.mfa_enabled, s.last_seen_at \
         from sessions s join users u on u.id = s.user_id \
         where s.token_hash = $1 and s.revoked_at is null and s.expires_at > $2 and s.last_seen_at > $2 - $3 \
           and u.is_active and u.approval_status = 'approved' and u.kind = 'staff'",
    )
    .bind(token_hash(token))
    .bind(now)
    .bind(idle)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(Row {
        id,
        user_id,
        email,
        full_name,
        stage,
        csrf_token,
        mfa_enabled,
        last_seen_at: last_seen,
    }) = row
    else {
        return Ok(None);
    };
    if now - last_seen > Duration::seconds(60) {
        sqlx::query("update sessions set last_seen_at = $2, updated_at = $2 where id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(Some(Current {
        id,
        user_id,
        email,
        full_name,
        stage: Stage::parse(&stage),
        csrf_token,
        mfa_enabled,
    }))
}

/// When a session ends: at its idle deadline (last seen + idle timeout) unless used again, and
/// at its absolute deadline whatever happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    pub expires_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
}

/// Extends a live session's idle deadline from `now`, never past its absolute lifetime; `None`
/// when the session is no longer live (revoked, or past either deadline).
pub async fn refresh(
    conn: &mut PgConnection,
    id: Uuid,
    idle: Duration,
    now: DateTime<Utc>,
) -> Result<Option<Expiry>, sqlx::Error> {
    let absolute: Option<DateTime<Utc>> = sqlx::query_scalar(
        "update sessions set last_seen_at = $2, updated_at = $2 \
         where id = $1 and revoked_at is null and expires_at > $2 and last_seen_at > $2 - $3 returning expires_at",
    )
    .bind(id)
    .bind(now)
    .bind(idle)
    .fetch_optional(conn)
    .await?;
    Ok(absolute.map(|absolute_expires_at| Expiry {
        expires_at: (now + idle).min(absolute_expires_at),
        absolute_expires_at,
    }))
}

/// Gives a session a new token (its old one stops working) and returns it: the sign-in API's
/// challenge is not the token of the full session it turns into.
pub async fn rotate_token(conn: &mut PgConnection, id: Uuid, now: DateTime<Utc>) -> Result<String, sqlx::Error> {
    let token = random_token(32);
    sqlx::query("update sessions set token_hash = $2, updated_at = $3 where id = $1")
        .bind(id)
        .bind(token_hash(&token))
        .bind(now)
        .execute(conn)
        .await?;
    Ok(token)
}

pub async fn set_stage(conn: &mut PgConnection, id: Uuid, stage: Stage, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("update sessions set stage = $2, updated_at = $3 where id = $1")
        .bind(id)
        .bind(stage.as_str())
        .bind(now)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Revokes one session of `user_id` (a user's own, or any user's for an administrator).
pub async fn revoke(
    conn: &mut PgConnection,
    id: Uuid,
    user_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "update sessions set revoked_at = $3, revoked_reason = $4, updated_at = $3 \
         where id = $1 and user_id = $2 and revoked_at is null",
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .bind(reason)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Revokes every session of a user, except `keep`.
pub async fn revoke_all(
    conn: &mut PgConnection,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "update sessions set revoked_at = $3, revoked_reason = $4, updated_at = $3 \
         where user_id = $1 and revoked_at is null and ($2::uuid is null or id <> $2)",
    )
    .bind(user_id)
    .bind(keep)
    .bind(now)
    .bind(reason)
    .execute(conn)
    .await?
    .rows_affected())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub id: Uuid,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn list_active(
    conn: &mut PgConnection,
    user_id: Uuid,
    idle: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<SessionView>, sqlx::Error> {
    sqlx::query_as(
        "select id, host(ip) as ip, user_agent, created_at, last_seen_at, expires_at from sessions \
         where user_id = $1 and revoked_at is null and expires_at > $2 and last_seen_at > $2 - $3 and stage = 'full' \
         order by last_seen_at desc",
    )
    .bind(user_id)
    .bind(now)
    .bind(idle)
    .fetch_all(conn)
    .await
}
