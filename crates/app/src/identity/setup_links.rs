//! One-time set-up links (a new account, an approved registration) and the one way a password
//! is set: checked against the policy for its holder, hashed, stored.

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{password, policy};
use crate::audit::{self, Action, Actor, AuditEvent};
use crate::crypto::{random_token, token_hash};
use crate::error::AppError;
use crate::unit::Acting;

pub const SETUP_LINK_HOURS: i64 = 72;

pub struct SetupLink {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl SetupLink {
    pub fn url(&self, base: &str) -> String {
        format!("{base}/setup/{}", self.token)
    }
}

/// A fresh link for `user_id`; any older one stops working.
pub(crate) async fn new_setup_link(
    conn: &mut PgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<SetupLink, sqlx::Error> {
    // only the newest link works
    sqlx::query("update verifications set consumed_at = $2 where user_id = $1 and type = 'account_setup' and consumed_at is null")
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let token = random_token(32);
    let expires_at = now + Duration::hours(SETUP_LINK_HOURS);
    sqlx::query("insert into verifications (user_id, type, token_hash, expires_at, created_at) values ($1, 'account_setup', $2, $3, $4)")
        .bind(user_id)
        .bind(token_hash(&token))
        .bind(expires_at)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(SetupLink { token, expires_at })
}

/// Whose password is set: the account, and the words of theirs the policy keeps out of it.
pub struct Holder<'a> {
    pub user_id: Uuid,
    pub email: &'a str,
    pub full_name: &'a str,
}

/// Sets `holder`'s password to `new` once it passes the policy (a refusal names `field`), and
/// records when. The one place a password is stored, for set-up links and for "My account".
pub async fn set_password(
    conn: &mut PgConnection,
    holder: &Holder<'_>,
    field: &str,
    new: &SecretString,
    min_len: u32,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    use secrecy::ExposeSecret;
    let local = holder.email.split('@').next().unwrap_or("");
    policy::check(field, new.expose_secret(), min_len, &[local, holder.full_name])
        .map_err(|e| AppError::Validation(vec![e]))?;
    let hash = password::hash(new)?;
    sqlx::query("update users set password_hash = $2, password_changed_at = $3, updated_at = $3 where id = $1")
        .bind(holder.user_id)
        .bind(hash)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Sets the password through a set-up link (new accounts, approved registrations).
pub async fn use_setup_link(
    conn: &mut PgConnection,
    token: &str,
    new_password: &str,
    min_len: u32,
    acting: &Acting,
) -> Result<String, AppError> {
    let now = acting.now;
    let row: Option<(Uuid, Uuid, String, String)> = sqlx::query_as(
        "select v.id, u.id, u.email::text, u.full_name from verifications v join users u on u.id = v.user_id \
         where v.token_hash = $1 and v.type = 'account_setup' and v.consumed_at is null and v.expires_at > $2 \
           and u.is_active and u.approval_status = 'approved' for update of v",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let (vid, user_id, email, name) =
        row.ok_or(AppError::NotFound("set-up link (it may have expired or been used)"))?;
    let holder = Holder {
        user_id,
        email: &email,
        full_name: &name,
    };
    let new = SecretString::from(new_password.to_owned());
    set_password(conn, &holder, "password", &new, min_len, now).await?;
    sqlx::query("update users set is_verified = true where id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("update verifications set consumed_at = $2 where id = $1")
        .bind(vid)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let actor = Actor::User {
        user_id,
        session_id: None,
    };
    audit::record(
        conn,
        &AuditEvent::new(actor, Action::PasswordSetUp, "user", user_id).meta(acting.meta.clone()),
        now,
    )
    .await?;
    Ok(email)
}

pub async fn setup_link_email(
    conn: &mut PgConnection,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select u.email::text from verifications v join users u on u.id = v.user_id \
         where v.token_hash = $1 and v.type = 'account_setup' and v.consumed_at is null and v.expires_at > $2",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(conn)
    .await
}
