//! Staff users: list and search, create with a one-time set-up link, edit, deactivate, delete
//! (only without history), reset two-factor. Registrations live in [`super::registrations`] and
//! set-up links in [`super::setup_links`] (re-exported here).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, QueryBuilder};
use uuid::Uuid;

pub use super::registrations::{
    approve, pending_count, pending_registrations, register, reject, ApprovalStatus, Registration,
};
use super::setup_links::new_setup_link;
pub use super::setup_links::{setup_link_email, use_setup_link, SetupLink, SETUP_LINK_HOURS};
use super::{mfa, session};
use crate::access::roles::{self, Change, RoleChange};
use crate::audit::{self, Action};
use crate::error::AppError;
use crate::unit::Acting;
use crate::web::extract::FormPairs;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub is_active: bool,
    pub approval_status: ApprovalStatus,
    pub mfa_enabled: bool,
    /// Whether they have chosen a password (a new user has not until they use the set-up link).
    pub has_password: bool,
    /// Locked out after failed sign-ins, for now.
    pub locked: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The names of the roles they hold.
    pub roles: Vec<String>,
}

/// Which users a list shows, by where their account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListStatus {
    /// Approved and able to sign in.
    Active,
    /// Approved, then deactivated.
    Deactivated,
    /// A registration waiting for review.
    Pending,
    /// A registration turned down.
    Rejected,
}

impl ListStatus {
    fn parse(s: &str) -> Option<ListStatus> {
        Some(match s {
            "active" => ListStatus::Active,
            "deactivated" => ListStatus::Deactivated,
            "pending" => ListStatus::Pending,
            "rejected" => ListStatus::Rejected,
            _ => return None,
        })
    }
}

/// The user list's filters as the API and the page take them (`?q=&status=&role=`), as text so
/// that a bad value is a 422 naming its field.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Part of the email or the name.
    pub q: Option<String>,
    /// Only users whose account is here.
    #[param(inline, value_type = Option<ListStatus>)]
    pub status: Option<String>,
    /// Only holders of the role of this name.
    pub role: Option<String>,
}

/// Which staff users a list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Part of the email or name.
    pub q: Option<String>,
    pub status: Option<ListStatus>,
    /// A role's name.
    pub role: Option<String>,
}

impl TryFrom<&ListQuery> for Filter {
    type Error = AppError;

    fn try_from(q: &ListQuery) -> Result<Self, AppError> {
        let given = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let status = match given(&q.status) {
            None => None,
            Some(s) => Some(
                ListStatus::parse(&s)
                    .ok_or_else(|| AppError::field("status", "must be active, deactivated, pending or rejected"))?,
            ),
        };
        Ok(Filter {
            q: given(&q.q),
            status,
            role: given(&q.role),
        })
    }
}

/// A place in the user list: the last row shown's creation time and id.
pub type Position = (DateTime<Utc>, Uuid);

const USER_COLUMNS: &str = "u.id, u.email::text as email, u.full_name, u.is_active, u.approval_status, u.mfa_enabled, \
     u.password_hash is not null as has_password, coalesce(u.lockout_until > $1, false) as locked, u.last_login_at, u.created_at, \
     coalesce(array(select r.name from user_role_assignments a join roles r on r.id = a.role_id where a.user_id = u.id order by r.name), '{}') as roles";

/// ` from users u where …`: the staff users `f` lets through.
fn push_filter<'a>(qb: &mut QueryBuilder<'a, sqlx::Postgres>, f: &Filter) {
    qb.push(" from users u where u.kind = 'staff'");
    if let Some(q) = f.q.as_deref() {
        let like = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        qb.push(" and (u.email::text ilike ")
            .push_bind(like.clone())
            .push(" or u.full_name ilike ")
            .push_bind(like)
            .push(")");
    }
    match f.status {
        Some(ListStatus::Active) => {
            qb.push(" and u.is_active and u.approval_status = 'approved'");
        }
        Some(ListStatus::Deactivated) => {
            qb.push(" and not u.is_active and u.approval_status = 'approved'");
        }
        Some(ListStatus::Pending) => {
            qb.push(" and u.approval_status = 'pending'");
        }
        Some(ListStatus::Rejected) => {
            qb.push(" and u.approval_status = 'rejected'");
        }
        None => {}
    }
    if let Some(role) = f.role.as_deref() {
        qb.push(" and exists (select 1 from user_role_assignments a join roles r on r.id = a.role_id where a.user_id = u.id and r.name = ")
            .push_bind(role.to_owned())
            .push(")");
    }
}

/// The staff users `f` lets through, newest first: `limit` of them after `after`.
pub async fn list(
    conn: &mut PgConnection,
    f: &Filter,
    after: Option<Position>,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<UserRow>, AppError> {
    let (head, tail) = USER_COLUMNS.split_once("> $1").unwrap_or((USER_COLUMNS, ""));
    let mut qb: QueryBuilder<'_, sqlx::Postgres> = QueryBuilder::new("select ");
    qb.push(head).push("> ").push_bind(now).push(tail);
    push_filter(&mut qb, f);
    if let Some((created_at, id)) = after {
        qb.push(" and (u.created_at, u.id) < (")
            .push_bind(created_at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    qb.push(" order by u.created_at desc, u.id desc limit ")
        .push_bind(limit);
    Ok(qb.build_query_as::<UserRow>().fetch_all(&mut *conn).await?)
}

/// How many staff users `f` lets through (the users page says it; there are few).
pub async fn count(conn: &mut PgConnection, f: &Filter) -> Result<i64, AppError> {
    let mut qb = QueryBuilder::new("select count(*)");
    push_filter(&mut qb, f);
    Ok(qb.build_query_scalar().fetch_one(&mut *conn).await?)
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

/// A person's details as someone opens them: [`get`], and the read recorded (`user.viewed`, PRD
/// 5.2: reads of personal details are audited) in the caller's transaction.
pub async fn view(conn: &mut PgConnection, id: Uuid, acting: &Acting) -> Result<UserRow, AppError> {
    let user = get(conn, id, acting.now).await?;
    audit::record(conn, &acting.audit(Action::UserViewed, "user", id), acting.now).await?;
    Ok(user)
}

pub(crate) fn check_email(email: &str) -> Result<String, AppError> {
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

pub(crate) fn check_name(name: &str) -> Result<String, AppError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 120 {
        return Err(AppError::field("fullName", "must be 1 to 120 characters"));
    }
    Ok(n.to_owned())
}

/// A new staff user: the API's body, and what the page's form is parsed into.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub full_name: String,
    /// Roles to ask for: each is a role change request a second Super Administrator approves.
    #[serde(default)]
    pub role_ids: Vec<Uuid>,
}

impl TryFrom<&FormPairs> for NewUser {
    type Error = AppError;

    fn try_from(form: &FormPairs) -> Result<Self, AppError> {
        Ok(NewUser {
            email: form.get("email").unwrap_or_default().to_owned(),
            full_name: form.get("full_name").unwrap_or_default().to_owned(),
            role_ids: form.uuids("role_ids")?,
        })
    }
}

/// A change to a staff user (each field optional): the API's body, and what the page's forms
/// are parsed into.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserChange {
    pub full_name: Option<String>,
    pub email: Option<String>,
    /// `false` deactivates (their sessions end), `true` reactivates.
    pub is_active: Option<bool>,
}

impl TryFrom<&FormPairs> for UserChange {
    type Error = AppError;

    /// The edit form (`full_name`, `email`) or the (de)activation form (`active=true|false`).
    fn try_from(form: &FormPairs) -> Result<Self, AppError> {
        let is_active = match form.get("active") {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => return Err(AppError::field("active", "must be true or false")),
        };
        Ok(UserChange {
            full_name: form.get("full_name").map(str::to_owned),
            email: form.get("email").map(str::to_owned),
            is_active,
        })
    }
}

/// Creates a staff user without a password; they choose one through the returned set-up link,
/// then enrol two-factor at their first sign-in. Requested roles go through the approval flow.
pub async fn create(
    conn: &mut PgConnection,
    new: &NewUser,
    acting: &Acting,
) -> Result<(Uuid, SetupLink, Vec<roles::Requested>), AppError> {
    let now = acting.now;
    let email = check_email(&new.email);
    let name = check_name(&new.full_name);
    if let (Err(AppError::Validation(a)), Err(AppError::Validation(b))) = (&email, &name) {
        return Err(AppError::Validation(a.iter().chain(b).cloned().collect()));
    }
    let (email, name) = (email?, name?);
    let id = super::insert_staff(conn, &email, &name, None, acting).await?;
    let link = new_setup_link(conn, id, now).await?;
    let mut requested = Vec::new();
    for &role_id in &new.role_ids {
        let rc = RoleChange {
            user_id: id,
            role_id,
            change: Change::Assign,
        };
        requested.push(roles::request(conn, rc, acting).await?);
    }
    Ok((id, link, requested))
}

/// Edits name and email; deactivates or reactivates. Deactivation ends the user's sessions.
pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    change: &UserChange,
    acting: &Acting,
) -> Result<UserRow, AppError> {
    let now = acting.now;
    let is_active = change.is_active;
    let before = get(conn, id, now).await?;
    let name = change.full_name.as_deref().map(check_name).transpose()?;
    let email = change.email.as_deref().map(check_email).transpose()?;
    if is_active == Some(false) && Some(id) == acting.user_id() {
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
        &acting
            .audit(action, "user", id)
            .before(json!({"email": before.email, "fullName": before.full_name, "isActive": before.is_active}))
            .after(json!({"email": after.email, "fullName": after.full_name, "isActive": after.is_active})),
        now,
    )
    .await?;
    Ok(after)
}

/// Deletes a user who has done nothing yet; anyone with history is deactivated instead, so the
/// audit trail keeps its actors. Returns whether the row was deleted.
pub async fn delete_or_deactivate(conn: &mut PgConnection, id: Uuid, acting: &Acting) -> Result<bool, AppError> {
    let now = acting.now;
    let user = get(conn, id, now).await?;
    if Some(id) == acting.user_id() {
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
            let deactivate = UserChange {
                is_active: Some(false),
                ..UserChange::default()
            };
            update(conn, id, &deactivate, acting).await?;
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
        &acting
            .audit(Action::UserDeleted, "user", id)
            .before(json!({"email": user.email, "fullName": user.full_name})),
        now,
    )
    .await?;
    Ok(true)
}

/// Administrator reset of a user's second factor: they enrol again at their next sign-in.
pub async fn reset_mfa(conn: &mut PgConnection, id: Uuid, acting: &Acting) -> Result<(), AppError> {
    let now = acting.now;
    let user = get(conn, id, now).await?;
    mfa::reset(conn, id, now).await?;
    let ended = session::revoke_all(conn, id, None, "two-factor reset by an administrator", now).await?;
    audit::record(
        conn,
        &acting
            .audit(Action::AuthMfaReset, "user", id)
            .metadata(json!({"by": "administrator", "email": user.email, "sessionsEnded": ended})),
        now,
    )
    .await?;
    Ok(())
}

pub async fn revoke_sessions(conn: &mut PgConnection, id: Uuid, acting: &Acting) -> Result<u64, AppError> {
    let now = acting.now;
    get(conn, id, now).await?;
    let n = session::revoke_all(conn, id, None, "revoked by an administrator", now).await?;
    audit::record(
        conn,
        &acting
            .audit(Action::SessionRevoked, "user", id)
            .metadata(json!({"sessions": n, "all": true})),
        now,
    )
    .await?;
    Ok(n)
}
