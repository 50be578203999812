//! API keys: `mbk_<prefix>_<secret>`, bound to a role and an owner, with an expiry. Shown once,
//! stored as a SHA-256 hash, identified by the visible prefix, revocable.
//!
//! A key acts with at most its owner's current rights: the permissions of its role that the owner
//! still holds, recomputed on every request (decision 0021). Only someone holding every permission
//! of a role may mint a key for it ([`ensure_can_mint`]).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::access::Permission;
use crate::audit::{self, Action};
use crate::crypto::{random_token, token_hash};
use crate::error::{AppError, Denied};
use crate::unit::Acting;

pub struct NewKey {
    pub id: Uuid,
    /// The whole key, shown once.
    pub key: String,
    pub prefix: String,
}

/// A key to mint: the API's body, and what the keys page's form is parsed into.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApiKey {
    /// What the key is for, 1 to 80 characters.
    pub name: String,
    /// The role it acts with (you must hold every permission it grants).
    pub role_id: Uuid,
    /// When it stops working: in the future, within a year.
    pub expires_at: DateTime<Utc>,
}

/// Mints `new` for `owner`, who holds `holds`: refused (403, naming the first permission
/// missing) for a role granting more than that ([`ensure_can_mint`]), then [`create`].
pub async fn mint(
    conn: &mut PgConnection,
    owner: Uuid,
    holds: &BTreeSet<Permission>,
    new: &NewApiKey,
    acting: &Acting,
) -> Result<NewKey, AppError> {
    ensure_can_mint(conn, new.role_id, holds).await?;
    create(conn, owner, &new.name, new.role_id, new.expires_at, acting).await
}

/// Mints a key for `owner` acting with `role_id` until `expires_at` (shown once: only its hash
/// is kept). Audited.
pub async fn create(
    conn: &mut PgConnection,
    owner: Uuid,
    name: &str,
    role_id: Uuid,
    expires_at: DateTime<Utc>,
    acting: &Acting,
) -> Result<NewKey, AppError> {
    let now = acting.now;
    let name = name.trim();
    if name.is_empty() || name.len() > 80 {
        return Err(AppError::field("name", "must be 1 to 80 characters"));
    }
    if expires_at <= now {
        return Err(AppError::field("expiresAt", "must be in the future"));
    }
    if expires_at > now + chrono::Duration::days(366) {
        return Err(AppError::field("expiresAt", "must be within a year"));
    }
    let role: Option<String> = sqlx::query_scalar("select name from roles where id = $1")
        .bind(role_id)
        .fetch_optional(&mut *conn)
        .await?;
    let role = role.ok_or_else(|| AppError::field("roleId", "no such role"))?;
    if role == crate::access::CUSTOMER {
        return Err(AppError::field("roleId", "the Customer role grants no staff access"));
    }
    let prefix = random_token(6).replace(['-', '_'], "x");
    let key = format!("mbk_{prefix}_{}", random_token(32));
    let id: Uuid = sqlx::query_scalar(
        "insert into api_keys (user_id, name, prefix, key_hash, role_id, expires_at, created_by_user_id, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning id",
    )
    .bind(owner)
    .bind(name)
    .bind(&prefix)
    .bind(token_hash(&key))
    .bind(role_id)
    .bind(expires_at)
    .bind(acting.user_id())
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    audit::record(
        conn,
        &acting
            .audit(Action::ApiKeyCreated, "api_key", id)
            .after(json!({"name": name, "prefix": prefix, "role": role, "expiresAt": expires_at, "owner": owner})),
        now,
    )
    .await?;
    Ok(NewKey { id, key, prefix })
}

/// Mints a key for the staff member with `email`, acting with their role named `role`, for
/// `days` days (the command line's `create-api-key`). Audited as the system.
pub async fn create_for(
    conn: &mut PgConnection,
    email: &str,
    name: &str,
    role: &str,
    days: i64,
    acting: &Acting,
) -> Result<NewKey, AppError> {
    let found: Option<(Uuid, Uuid)> = sqlx::query_as(
        "select u.id, r.id from users u join user_role_assignments a on a.user_id = u.id \
         join roles r on r.id = a.role_id where lower(u.email) = lower($1) and r.name = $2",
    )
    .bind(email.trim())
    .bind(role)
    .fetch_optional(&mut *conn)
    .await?;
    let (owner, role_id) =
        found.ok_or_else(|| AppError::field("email", format!("no staff member {email} with the role {role}")))?;
    if !(1..=366).contains(&days) {
        return Err(AppError::field("days", "must be from 1 to 366"));
    }
    create(
        conn,
        owner,
        name,
        role_id,
        acting.now + chrono::Duration::days(days),
        acting,
    )
    .await
}

/// The permissions a role grants.
async fn role_permissions(conn: &mut PgConnection, role_id: Uuid) -> Result<BTreeSet<Permission>, sqlx::Error> {
    let keys: Vec<String> = sqlx::query_scalar(
        "select p.key from role_permissions rp join permissions p on p.id = rp.permission_id where rp.role_id = $1",
    )
    .bind(role_id)
    .fetch_all(conn)
    .await?;
    Ok(keys.iter().filter_map(|k| Permission::from_key(k)).collect())
}

/// Refuses (403, naming the first permission missing) a key for a role that grants anything the
/// minter does not hold: nobody hands out more than they have.
pub async fn ensure_can_mint(
    conn: &mut PgConnection,
    role_id: Uuid,
    minter_holds: &BTreeSet<Permission>,
) -> Result<(), AppError> {
    let grants = role_permissions(conn, role_id).await?;
    match grants.difference(minter_holds).next() {
        Some(missing) => Err(AppError::Forbidden(Denied::Permission(*missing))),
        None => Ok(()),
    }
}

/// A live key: its id, its owner and what it may do (its role's permissions its owner holds).
#[derive(Debug, Clone)]
pub struct KeyAuth {
    pub key_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub permissions: BTreeSet<Permission>,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    key_id: Uuid,
    user_id: Uuid,
    email: String,
    name: String,
    role_id: Uuid,
    last_used_at: Option<DateTime<Utc>>,
}

/// The key, if it is live and its owner is an active staff member.
pub async fn authenticate(
    conn: &mut PgConnection,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<KeyAuth>, sqlx::Error> {
    if !key.starts_with("mbk_") {
        return Ok(None);
    }
    let row: Option<KeyRow> = sqlx::query_as(
        "select k.id as key_id, u.id as user_id, u.email::text as email, u.full_name as name, k.role_id, k.last_used_at \
         from api_keys k join users u on u.id = k.user_id \
         where k.key_hash = $1 and k.revoked_at is null and (k.expires_at is null or k.expires_at > $2) \
           and u.is_active and u.approval_status = 'approved'",
    )
    .bind(token_hash(key))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(KeyRow {
        key_id,
        user_id,
        email,
        name,
        role_id,
        last_used_at,
    }) = row
    else {
        return Ok(None);
    };
    if last_used_at.is_none_or(|t| now - t > chrono::Duration::seconds(60)) {
        sqlx::query("update api_keys set last_used_at = $2 where id = $1")
            .bind(key_id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    let bound = role_permissions(conn, role_id).await?;
    // the owner's rights now, not when the key was made: a demoted owner's key shrinks with them
    let held = crate::access::effective_permissions(conn, user_id).await?;
    let permissions = bound.intersection(&held).copied().collect();
    Ok(Some(KeyAuth {
        key_id,
        user_id,
        email,
        name,
        permissions,
    }))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    pub id: Uuid,
    pub name: String,
    /// The visible part of the key (`mbk_<prefix>_…`).
    pub prefix: String,
    /// The name of the role it acts with.
    pub role: String,
    pub owner_email: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A place in the key list: the last key shown's creation time and id.
pub type Position = (DateTime<Utc>, Uuid);

/// The keys, newest first: `limit` of them (all when `None`) after `after`.
pub async fn list(
    conn: &mut PgConnection,
    after: Option<Position>,
    limit: Option<i64>,
) -> Result<Vec<KeyView>, sqlx::Error> {
    sqlx::query_as(
        "select k.id, k.name, k.prefix, r.name as role, u.email::text as owner_email, k.created_at, k.expires_at, \
           k.last_used_at, k.revoked_at \
         from api_keys k join roles r on r.id = k.role_id join users u on u.id = k.user_id \
         where $1::timestamptz is null or (k.created_at, k.id) < ($1, $2::uuid) \
         order by k.created_at desc, k.id desc limit $3",
    )
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn revoke(conn: &mut PgConnection, id: Uuid, acting: &Acting) -> Result<(), AppError> {
    let now = acting.now;
    let n = sqlx::query("update api_keys set revoked_at = $2 where id = $1 and revoked_at is null")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(AppError::NotFound("active API key"));
    }
    audit::record(conn, &acting.audit(Action::ApiKeyRevoked, "api_key", id), now).await?;
    Ok(())
}
