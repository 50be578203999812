//! "My account": what a signed-in person does to their own account (the pages are in
//! `account_pages`). A password change goes through [`super::setup_links::set_password`], the
//! same rules as a set-up link.

use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::setup_links::{set_password, Holder};
use super::{mfa, password, session};
use crate::audit::{self, Action};
use crate::error::AppError;
use crate::unit::Acting;

/// The password form: the current password, the new one twice.
#[derive(Deserialize)]
pub struct PasswordChange {
    pub current: String,
    pub new_password: String,
    pub confirm: String,
}

/// Changes the holder's own password after checking the current one, then signs out their other
/// sessions (`keep` stays). Refusals are field errors: `current` (not right), `confirm` (the two
/// differ), `new_password` (the policy). Returns how many sessions ended.
pub async fn change_password(
    conn: &mut PgConnection,
    holder: &Holder<'_>,
    keep: Option<Uuid>,
    change: PasswordChange,
    min_len: u32,
    acting: &Acting,
) -> Result<u64, AppError> {
    let now = acting.now;
    let hash: Option<String> = sqlx::query_scalar("select password_hash from users where id = $1 for update")
        .bind(holder.user_id)
        .fetch_one(&mut *conn)
        .await?;
    let current = SecretString::from(change.current);
    if !hash.as_deref().is_some_and(|h| password::verify(&current, h)) {
        return Err(AppError::field("current", "is not right"));
    }
    if change.new_password != change.confirm {
        return Err(AppError::field("confirm", "differs from the new password"));
    }
    let new = SecretString::from(change.new_password);
    set_password(conn, holder, "new_password", &new, min_len, now).await?;
    let others = session::revoke_all(conn, holder.user_id, keep, "password changed", now).await?;
    audit::record(
        conn,
        &acting
            .audit(Action::PasswordChanged, "user", holder.user_id)
            .metadata(json!({"otherSessionsRevoked": others})),
        now,
    )
    .await?;
    Ok(others)
}

/// Signs out one of `user_id`'s own sessions.
pub async fn revoke_session(conn: &mut PgConnection, user_id: Uuid, id: Uuid, acting: &Acting) -> Result<(), AppError> {
    if !session::revoke(conn, id, user_id, "revoked by its owner", acting.now).await? {
        return Err(AppError::NotFound("session"));
    }
    audit::record(conn, &acting.audit(Action::SessionRevoked, "session", id), acting.now).await?;
    Ok(())
}

/// Moving two-factor to a new phone: a backup code proves possession, then two-factor starts
/// afresh and `session` (when a browser session asks) goes back to enrolment. `false` when the
/// code is not right or was used.
pub async fn re_enrol(
    conn: &mut PgConnection,
    keys: &crate::crypto::Keys,
    user_id: Uuid,
    session: Option<Uuid>,
    backup_code: &str,
    acting: &Acting,
) -> Result<bool, AppError> {
    let now = acting.now;
    if !mfa::use_backup_code(conn, keys, user_id, backup_code, now).await? {
        return Ok(false);
    }
    mfa::reset(conn, user_id, now).await?;
    if let Some(id) = session {
        session::set_stage(conn, id, session::Stage::MfaEnrol, now).await?;
    }
    audit::record(
        conn,
        &acting
            .audit(Action::AuthMfaReset, "user", user_id)
            .metadata(json!({"by": "self", "proof": "backup_code"})),
        now,
    )
    .await?;
    Ok(true)
}

/// Ends `session` (a browser's; an API key has none) and records the sign-out.
pub async fn sign_out(
    conn: &mut PgConnection,
    user_id: Uuid,
    session: Option<Uuid>,
    acting: &Acting,
) -> Result<(), AppError> {
    if let Some(id) = session {
        session::revoke(conn, id, user_id, "signed out", acting.now).await?;
    }
    audit::record(conn, &acting.audit(Action::AuthSignedOut, "user", user_id), acting.now).await?;
    Ok(())
}

/// The holder's own number for alert SMS — where escalated critical alerts reach a Super
/// Administrator; empty clears it. A Rwandan mobile number or a field error (`alertPhone`);
/// audited when it changes. Returns the number kept (E.164).
pub async fn set_alert_phone(
    conn: &mut PgConnection,
    user_id: Uuid,
    raw: &str,
    acting: &Acting,
) -> Result<Option<String>, AppError> {
    let refused = || AppError::field("alertPhone", "must be a Rwandan mobile number such as +250788123456");
    let phone = match raw.trim() {
        "" => None,
        t => {
            let m = crate::redemption::Msisdn::parse(t).map_err(|_| refused())?;
            if !m.is_rwandan_mobile() {
                return Err(refused());
            }
            Some(m.e164().to_owned())
        }
    };
    let before: Option<String> = sqlx::query_scalar("select alert_phone from users where id = $1 for update")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
    if before == phone {
        return Ok(phone);
    }
    sqlx::query("update users set alert_phone = $2, updated_at = $3 where id = $1")
        .bind(user_id)
        .bind(phone.as_deref())
        .bind(acting.now)
        .execute(&mut *conn)
        .await?;
    audit::record(
        conn,
        &acting
            .audit(Action::AlertPhoneChanged, "user", user_id)
            .before(json!({"alertPhone": before}))
            .after(json!({"alertPhone": phone})),
        acting.now,
    )
    .await?;
    Ok(phone)
}

/// The holder's number for alert SMS, if any.
pub async fn alert_phone(conn: &mut PgConnection, user_id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("select alert_phone from users where id = $1")
        .bind(user_id)
        .fetch_one(conn)
        .await
}
