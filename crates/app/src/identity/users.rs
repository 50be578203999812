//! Staff users: list and search, create with a one-time set-up link, edit, deactivate, delete
//! (only without history), reset two-factor, and registrations (submit, approve, reject).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, QueryBuilder};
use uuid::Uuid;

use super::{mfa, password, policy, session};
use crate::access::roles::{self, Change};
use crate::audit::{self, Action, Actor, AuditEvent, RequestMeta};
use crate::crypto::{random_token, token_hash};
use crate::error::{AppError, FieldError};

pub const SETUP_LINK_HOURS: i64 = 72;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub is_active: bool,
    pub approval_status: String,
    pub mfa_enabled: bool,
    pub has_password: bool,
    pub locked: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Part of the email or name.
    pub q: Option<String>,
    /// `active`, `deactivated`, `pending`, `rejected`.
    pub status: Option<String>,
    pub role: Option<String>,
    pub page: i64,
    pub per_page: i64,
}

const USER_COLUMNS: &str = "u.id, u.email::text as email, u.full_name, u.is_active, u.approval_status, u.mfa_enabled, \
     u.password_hash is not null as has_password, coalesce(u.lockout_until > $1, false) as locked, u.last_login_at, u.created_at, \
     coalesce(array(select r.name from user_role_assignments a join roles r on r.id = a.role_id where a.user_id = u.id order by r.name), '{}') as roles";

pub async fn list(conn: &mut PgConnection, f: &Filter, now: DateTime<Utc>) -> Result<(Vec<UserRow>, i64), AppError> {
    let mut errors = Vec::new();
    if let Some(s) = &f.status {
        if !["active", "deactivated", "pending", "rejected"].contains(&s.as_str()) {
            errors.push(FieldError::new(
                "status",
                "must be active, deactivated, pending or rejected",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let build = |qb: &mut QueryBuilder<'_, sqlx::Postgres>| {
        qb.push(" from users u where u.kind = 'staff'");
        if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let like = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            qb.push(" and (u.email::text ilike ")
                .push_bind(like.clone())
                .push(" or u.full_name ilike ")
                .push_bind(like)
                .push(")");
        }
        match f.status.as_deref() {
            Some("active") => {
                qb.push(" and u.is_active and u.approval_status = 'approved'");
            }
            Some("deactivated") => {
                qb.push(" and not u.is_active and u.approval_status = 'approved'");
            }
            Some(s @ ("pending" | "rejected")) => {
                qb.push(" and u.approval_status = ").push_bind(s.to_owned());
            }
            _ => {}
        }
        if let Some(role) = f.role.as_deref().filter(|r| !r.is_empty()) {
            qb.push(" and exists (select 1 from user_role_assignments a join roles r on r.id = a.role_id where a.user_id = u.id and r.name = ")
                .push_bind(role.to_owned())
                .push(")");
        }
    };
    let mut count = QueryBuilder::new("select count(*)");
    build(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    let (head, tail) = USER_COLUMNS.split_once("> $1").unwrap_or((USER_COLUMNS, ""));
    let mut qb2: QueryBuilder<'_, sqlx::Postgres> = QueryBuilder::new("select ");
    qb2.push(head).push("> ").push_bind(now).push(tail);
    build(&mut qb2);
    let per_page = f.per_page.clamp(1, 200);
    qb2.push(" order by u.created_at desc limit ")
        .push_bind(per_page)
        .push(" offset ")
        .push_bind(f.page.max(0).saturating_mul(per_page));
    let rows = qb2.build_query_as::<UserRow>().fetch_all(&mut *conn).await?;
    Ok((rows, total))
}

pub async fn get(conn: &mut PgConnection, id: Uuid, now: DateTime<Utc>) -> Result<UserRow, AppError> {
    sqlx::query_as(&format!(
        "select {USER_COLUMNS} from users u where u.id = $2 and u.kind = 'staff'"
    ))
    .bind(now)
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound("user"))
}

pub struct SetupLink {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl SetupLink {
    pub fn url(&self, base: &str) -> String {
        format!("{base}/setup/{}", self.token)
    }
}

async fn new_setup_link(conn: &mut PgConnection, user_id: Uuid, now: DateTime<Utc>) -> Result<SetupLink, sqlx::Error> {
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

fn check_email(email: &str) -> Result<String, AppError> {
    let e = email.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !e.contains(char::is_whitespace);
    if ok {
        Ok(e)
    } else {
        Err(AppError::field("email", "must be an email address"))
    }
}

fn check_name(name: &str) -> Result<String, AppError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 120 {
        return Err(AppError::field("fullName", "must be 1 to 120 characters"));
    }
    Ok(n.to_owned())
}

/// Creates a staff user without a password; they choose one through the returned set-up link,
/// then enrol two-factor at their first sign-in. Requested roles go through the approval flow.
#[allow(clippy::too_many_arguments)]
pub async fn create(
    conn: &mut PgConnection,
    email: &str,
    full_name: &str,
    role_ids: &[Uuid],
    by: Uuid,
    actor: Actor,
    meta: RequestMeta,
    now: DateTime<Utc>,
) -> Result<(Uuid, SetupLink, Vec<roles::Requested>), AppError> {
    let email = check_email(email);
    let name = check_name(full_name);
    if let (Err(AppError::Validation(a)), Err(AppError::Validation(b))) = (&email, &name) {
        return Err(AppError::Validation(a.iter().chain(b).cloned().collect()));
    }
    let (email, name) = (email?, name?);
    let id = super::insert_staff(conn, &email, &name, None, actor, &meta, now).await?;
    let link = new_setup_link(conn, id, now).await?;
    let mut requested = Vec::new();
    for role_id in role_ids {
        requested.push(roles::request(conn, id, *role_id, Change::Assign, by, actor, meta.clone(), now).await?);
    }
    Ok((id, link, requested))
}

/// Edits name and email; deactivates or reactivates. Deactivation ends the user's sessions.
#[allow(clippy::too_many_arguments)]
pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    full_name: Option<&str>,
    email: Option<&str>,
    is_active: Option<bool>,
    by: Uuid,
    actor: Actor,
    meta: RequestMeta,
    now: DateTime<Utc>,
) -> Result<UserRow, AppError> {
    let before = get(conn, id, now).await?;
    let name = full_name.map(check_name).transpose()?;
    let email = email.map(check_email).transpose()?;
    if is_active == Some(false) && id == by {
        return Err(AppError::conflict("isActive", "you cannot deactivate your own account"));
    }
    if is_active == Some(false) && before.roles.iter().any(|r| r == crate::access::SUPER_ADMIN) {
        let others: i64 = sqlx::query_scalar(
            "select count(*) from users u join user_role_assignments a on a.user_id = u.id join roles r on r.id = a.role_id \
             where r.name = $1 and u.is_active and u.id <> $2",
        )
        .bind(crate::access::SUPER_ADMIN)
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        if others == 0 {
            return Err(AppError::conflict(
                "isActive",
                "the last active Super Administrator cannot be deactivated",
            ));
        }
    }
    sqlx::query(
        "update users set full_name = coalesce($2, full_name), email = coalesce($3, email), is_active = coalesce($4, is_active), \
           updated_at = $5 where id = $1",
    )
    .bind(id)
    .bind(name.as_deref())
    .bind(email.as_deref())
    .bind(is_active)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(super::email_taken)?;
    if is_active == Some(false) {
        session::revoke_all(conn, id, None, "account deactivated", now).await?;
    }
    let after = get(conn, id, now).await?;
    let action = match (before.is_active, after.is_active) {
        (true, false) => Action::UserDeactivated,
        _ => Action::UserUpdated,
    };
    audit::record(
        conn,
        &AuditEvent::new(actor, action, "user", id)
            .before(json!({"email": before.email, "fullName": before.full_name, "isActive": before.is_active}))
            .after(json!({"email": after.email, "fullName": after.full_name, "isActive": after.is_active}))
            .meta(meta),
        now,
    )
    .await?;
    Ok(after)
}

/// Deletes a user who has done nothing yet; anyone with history is deactivated instead, so the
/// audit trail keeps its actors. Returns whether the row was deleted.
pub async fn delete_or_deactivate(
    conn: &mut PgConnection,
    id: Uuid,
    by: Uuid,
    actor: Actor,
    meta: RequestMeta,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    let user = get(conn, id, now).await?;
    if id == by {
        return Err(AppError::conflict("id", "you cannot delete your own account"));
    }
    let history: bool = sqlx::query_scalar(
        "select exists (select 1 from audit_logs where actor_user_id = $1) \
             or exists (select 1 from batches where created_by_user_id = $1 or assigned_user_id = $1) \
             or exists (select 1 from api_keys where user_id = $1) or $2",
    )
    .bind(id)
    .bind(user.last_login_at.is_some())
    .fetch_one(&mut *conn)
    .await?;
    if history {
        if user.is_active {
            update(conn, id, None, None, Some(false), by, actor, meta, now).await?;
        }
        return Ok(false);
    }
    sqlx::query("delete from role_change_requests where user_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from users where id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    audit::record(
        conn,
        &AuditEvent::new(actor, Action::UserDeleted, "user", id)
            .before(json!({"email": user.email, "fullName": user.full_name}))
            .meta(meta),
        now,
    )
    .await?;
    Ok(true)
}

/// Administrator reset of a user's second factor: they enrol again at their next sign-in.
pub async fn reset_mfa(
    conn: &mut PgConnection,
    id: Uuid,
    actor: Actor,
    meta: RequestMeta,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let user = get(conn, id, now).await?;
    mfa::reset(conn, id, now).await?;
    let ended = session::revoke_all(conn, id, None, "two-factor reset by an administrator", now).await?;
    audit::record(
        conn,
        &AuditEvent::new(actor, Action::AuthMfaReset, "user", id)
            .metadata(json!({"by": "administrator", "email": user.email, "sessionsEnded": ended}))
            .meta(meta),
        now,
    )
    .await?;
    Ok(())
}

pub async fn revoke_sessions(
    conn: &mut PgConnection,
    id: Uuid,
    actor: Actor,
    meta: RequestMeta,
    now: DateTime<Utc>,
) -> Result<u64, AppError> {
    get(conn, id, now).await?;
    let n = session::revoke_all(conn, id, None, "revoked by an administrator", now).await?;
    audit::record(
        conn,
        &AuditEvent::new(actor, Action::SessionRevoked, "user", id)
            .metadata(json!({"sessions": n, "all": true}))
            .meta(meta),
        now,
    )
    .await?;
    Ok(n)
}

/// Sets the password through a set-up link (new accounts, approved registrations).
pub async fn use_setup_link(
    conn: &mut PgConnection,
    token: &str,
    new_password: &str,
    min_len: u32,
    meta: RequestMeta,
    now: DateTime<Utc>,
) -> Result<String, AppError> {
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
    let local = email.split('@').next().unwrap_or("");
    policy::check("password", new_password, min_len, &[local, &name]).map_err(|e| AppError::Validation(vec![e]))?;
    let hash = password::hash(&secrecy::SecretString::from(new_password.to_owned()))?;
    sqlx::query("update users set password_hash = $2, password_changed_at = $3, is_verified = true, updated_at = $3 where id = $1")
        .bind(user_id)
        .bind(hash)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query("update verifications set consumed_at = $2 where id = $1")
        .bind(vid)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    audit::record(
        conn,
        &AuditEvent::new(
            Actor::User {
                user_id,
                session_id: None,
            },
            Action::PasswordSetUp,
            "user",
            user_id,
        )
        .meta(meta),
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

pub struct Registration<'a> {
    pub email: &'a str,
    pub full_name: &'a str,
    pub phone: Option<&'a str>,
    pub company: Option<&'a str>,
    pub department: Option<&'a str>,
}

/// A self-registration: a pending staff account with no role and no password.
pub async fn register(
    conn: &mut PgConnection,
    r: &Registration<'_>,
    meta: RequestMeta,
    now: DateTime<Utc>,
) -> Result<Uuid, AppError> {
    let email = check_email(r.email)?;
    let name = check_name(r.full_name)?;
    let clean = |s: Option<&str>| {
        s.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(120).collect::<String>())
    };
    let phone = clean(r.phone);
    if let Some(p) = &phone {
        if !p.chars().all(|c| c.is_ascii_digit() || c == '+' || c == ' ') || p.len() < 9 {
            return Err(AppError::field("phone", "must be a phone number such as +250788123456"));
        }
    }
    let id: Uuid = sqlx::query_scalar(
        "insert into users (kind, email, full_name, company, department, is_active, approval_status, registered_at, created_at, updated_at) \
         values ('staff', $1, $2, $3, $4, false, 'pending', $5, $5, $5) returning id",
    )
    .bind(&email)
    .bind(&name)
    .bind(clean(r.company))
    .bind(clean(r.department))
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(super::email_taken)?;
    audit::record(
        conn,
        &AuditEvent::new(Actor::Anonymous, Action::RegistrationSubmitted, "user", id)
            .after(json!({"email": email, "fullName": name, "phone": phone}))
            .meta(meta),
        now,
    )
    .await?;
    Ok(id)
}

pub async fn pending_registrations(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<Vec<UserRow>, AppError> {
    Ok(list(
        conn,
        &Filter {
            status: Some("pending".into()),
            per_page: 200,
            ..Default::default()
        },
        now,
    )
    .await?
    .0)
}

pub async fn pending_count(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from users where kind = 'staff' and approval_status = 'pending'")
        .fetch_one(conn)
        .await
}

/// Approves a registration with the chosen roles (assigned by this decision; approving is itself
/// the second look) and returns the set-up link for the new user.
pub async fn approve(
    conn: &mut PgConnection,
    id: Uuid,
    role_ids: &[Uuid],
    by: Uuid,
    actor: Actor,
    meta: RequestMeta,
    now: DateTime<Utc>,
) -> Result<SetupLink, AppError> {
    let status: Option<String> =
        sqlx::query_scalar("select approval_status from users where id = $1 and kind = 'staff' for update")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    match status.as_deref() {
        None => return Err(AppError::NotFound("registration")),
        Some("pending") => {}
        Some(other) => {
            return Err(AppError::conflict(
                "status",
                format!("this registration is already {other}"),
            ))
        }
    }
    if role_ids.is_empty() {
        return Err(AppError::field("roles", "choose at least one role"));
    }
    sqlx::query("update users set approval_status = 'approved', is_active = true, decided_by_user_id = $2, decided_at = $3, updated_at = $3 where id = $1")
        .bind(id)
        .bind(by)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let mut names = Vec::new();
    for role_id in role_ids {
        let name: Option<String> = sqlx::query_scalar("select name from roles where id = $1")
            .bind(role_id)
            .fetch_optional(&mut *conn)
            .await?;
        let name = name.ok_or_else(|| AppError::field("roles", "no such role"))?;
        if name == crate::access::CUSTOMER || name == crate::access::SUPER_ADMIN {
            return Err(AppError::field(
                "roles",
                format!("a registration cannot be approved as {name}; assign it later through a role request"),
            ));
        }
        sqlx::query("insert into user_role_assignments (user_id, role_id, assigned_by_user_id, created_at) values ($1, $2, $3, $4) on conflict do nothing")
            .bind(id)
            .bind(role_id)
            .bind(by)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        names.push(name);
    }
    let link = new_setup_link(conn, id, now).await?;
    audit::record(
        conn,
        &AuditEvent::new(actor, Action::RegistrationApproved, "user", id)
            .after(json!({"roles": names}))
            .meta(meta),
        now,
    )
    .await?;
    Ok(link)
}

pub async fn reject(
    conn: &mut PgConnection,
    id: Uuid,
    by: Uuid,
    reason: Option<&str>,
    actor: Actor,
    meta: RequestMeta,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let n = sqlx::query(
        "update users set approval_status = 'rejected', is_active = false, decided_by_user_id = $2, decided_at = $3, updated_at = $3 \
         where id = $1 and kind = 'staff' and approval_status = 'pending'",
    )
    .bind(id)
    .bind(by)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(AppError::NotFound("pending registration"));
    }
    audit::record(
        conn,
        &AuditEvent::new(actor, Action::RegistrationRejected, "user", id)
            .metadata(json!({"reason": reason}))
            .meta(meta),
        now,
    )
    .await?;
    Ok(())
}
