//! Two-factor: TOTP enrolment and verification, and single-use backup codes.

use chrono::{DateTime, Utc};
use rand::Rng;
use secrecy::ExposeSecret;
use sqlx::PgConnection;
use uuid::Uuid;

use super::totp;
use crate::crypto::Keys;

pub const BACKUP_CODES: usize = 10;

fn secret_context(user_id: Uuid) -> String {
    format!("totp:{user_id}")
}

/// The secret being enrolled (created on first call, kept until confirmed or replaced).
pub async fn pending_secret(
    conn: &mut PgConnection,
    keys: &Keys,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<String, sqlx::Error> {
    let existing: Option<(String, Option<DateTime<Utc>>)> =
        sqlx::query_as("select secret_enc, confirmed_at from user_mfa where user_id = $1")
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some((enc, None)) = &existing {
        if let Ok(s) = keys.totp.open(enc, &secret_context(user_id)) {
            return Ok(s.expose_secret().to_owned());
        }
    }
    let secret = totp::new_secret();
    let enc = keys.totp.seal(&secret, &secret_context(user_id));
    // a confirmed secret stays in force until the new one is confirmed: keep it in its row
    // only when it was never confirmed
    sqlx::query(
        "insert into user_mfa (user_id, secret_enc, confirmed_at, last_used_step, created_at, updated_at) \
         values ($1, $2, null, null, $3, $3) \
         on conflict (user_id) do update set secret_enc = excluded.secret_enc, confirmed_at = null, \
           last_used_step = null, updated_at = excluded.updated_at",
    )
    .bind(user_id)
    .bind(&enc)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(secret)
}

/// Checks a code against the user's secret (pending or confirmed) and, if it matches a step not
/// used before, records that step so the code cannot be replayed.
pub async fn verify_code(
    conn: &mut PgConnection,
    keys: &Keys,
    user_id: Uuid,
    code: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let row: Option<(String, Option<i64>)> =
        sqlx::query_as("select secret_enc, last_used_step from user_mfa where user_id = $1 for update")
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((enc, last)) = row else { return Ok(false) };
    let Ok(secret) = keys.totp.open(&enc, &secret_context(user_id)) else {
        tracing::error!(%user_id, "a TOTP secret cannot be decrypted with this SECRET_KEY");
        return Ok(false);
    };
    let Some(step) = totp::matching_step(secret.expose_secret(), code, now.timestamp().max(0) as u64, last) else {
        return Ok(false);
    };
    let n = sqlx::query(
        "update user_mfa set last_used_step = $2, updated_at = $3 \
         where user_id = $1 and (last_used_step is null or last_used_step < $2)",
    )
    .bind(user_id)
    .bind(step)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Marks enrolment complete and issues fresh backup codes (returned once, stored keyed-hashed).
pub async fn confirm(
    conn: &mut PgConnection,
    keys: &Keys,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query("update user_mfa set confirmed_at = $2, updated_at = $2 where user_id = $1")
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query("update users set mfa_enabled = true, updated_at = $2 where id = $1")
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    issue_backup_codes(conn, keys, user_id, now).await
}

pub async fn issue_backup_codes(
    conn: &mut PgConnection,
    keys: &Keys,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query("delete from mfa_backup_codes where user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    let codes: Vec<String> = (0..BACKUP_CODES).map(|_| new_backup_code()).collect();
    let hashes: Vec<String> = codes.iter().map(|c| keys.code_mac(&normalise_backup(c))).collect();
    sqlx::query(
        "insert into mfa_backup_codes (user_id, code_hash, created_at) select $1, h, $3 from unnest($2::text[]) h",
    )
    .bind(user_id)
    .bind(&hashes)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(codes)
}

fn new_backup_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    let mut s = String::with_capacity(9);
    for i in 0..8 {
        if i == 4 {
            s.push('-');
        }
        s.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
    }
    s
}

fn normalise_backup(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

pub fn looks_like_backup_code(input: &str) -> bool {
    let n = normalise_backup(input);
    n.len() == 8 && n.chars().any(|c| c.is_ascii_alphabetic())
}

/// Uses up a backup code. Returns false for an unknown or already used code.
pub async fn use_backup_code(
    conn: &mut PgConnection,
    keys: &Keys,
    user_id: Uuid,
    code: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "update mfa_backup_codes set used_at = $3 \
         where id = (select id from mfa_backup_codes where user_id = $1 and code_hash = $2 and used_at is null limit 1)",
    )
    .bind(user_id)
    .bind(keys.code_mac(&normalise_backup(code)))
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn backup_codes_left(conn: &mut PgConnection, user_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from mfa_backup_codes where user_id = $1 and used_at is null")
        .bind(user_id)
        .fetch_one(conn)
        .await
}

/// Removes a user's second factor (administrator reset): next sign-in enrols again.
pub async fn reset(conn: &mut PgConnection, user_id: Uuid, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("delete from user_mfa where user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from mfa_backup_codes where user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("update users set mfa_enabled = false, updated_at = $2 where id = $1")
        .bind(user_id)
        .bind(now)
        .execute(conn)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_codes_look_right_and_normalise() {
        let c = new_backup_code();
        assert_eq!(c.len(), 9);
        assert_eq!(&c[4..5], "-");
        assert_eq!(normalise_backup(" ABCD-efgh "), "abcdefgh");
        assert!(looks_like_backup_code("abcd-2345"));
        assert!(!looks_like_backup_code("123456"));
    }
}
