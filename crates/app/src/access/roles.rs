//! Roles and their permissions, and role changes that need a second person: assigning or
//! revoking a role is a request that a different Super Administrator approves or rejects. While
//! only one Super Administrator exists, that one's changes apply directly and the audit row says
//! so.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

pub use super::role_requests::{move_request, RequestStatus};
use super::{Permission, CUSTOMER, SUPER_ADMIN};
use crate::audit::{self, Action};
use crate::error::{AppError, Denied};
use crate::unit::Acting;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// One of the roles the system seeds (its name cannot change).
    pub is_system: bool,
    /// How many users hold it.
    pub users: i64,
    /// The permission keys it grants.
    pub permissions: Vec<String>,
}

/// A place in the role list: the last role shown's `is_system` and name.
pub type RolePosition = (bool, String);

/// The roles, system roles first then by name: `limit` of them (all when `None`) after `after`.
pub async fn list_page(
    conn: &mut PgConnection,
    after: Option<&RolePosition>,
    limit: Option<i64>,
) -> Result<Vec<RoleView>, sqlx::Error> {
    sqlx::query_as(
        "select r.id, r.name, r.description, r.is_system, \
           (select count(*) from user_role_assignments a where a.role_id = r.id) as users, \
           coalesce(array(select p.key from role_permissions rp join permissions p on p.id = rp.permission_id \
                          where rp.role_id = r.id order by p.key), '{}') as permissions \
         from roles r where $1::bool is null or (not r.is_system, r.name) > (not $1::bool, $2::text) \
         order by not r.is_system, r.name limit $3",
    )
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1.as_str()))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Every role, system roles first then by name.
pub async fn list(conn: &mut PgConnection) -> Result<Vec<RoleView>, sqlx::Error> {
    list_page(conn, None, None).await
}

/// Replaces a role's permissions. The Super Administrator keeps every key and the Customer role
/// none; audited with what was added and removed.
pub async fn set_permissions(
    conn: &mut PgConnection,
    role_id: Uuid,
    keys: &[String],
    acting: &Acting,
) -> Result<RoleView, AppError> {
    let now = acting.now;
    let name: Option<String> = sqlx::query_scalar("select name from roles where id = $1 for update")
        .bind(role_id)
        .fetch_optional(&mut *conn)
        .await?;
    let name = name.ok_or(AppError::NotFound("role"))?;
    if name == SUPER_ADMIN {
        return Err(AppError::conflict(
            "permissions",
            "the Super Administrator always holds every permission",
        ));
    }
    if name == CUSTOMER && !keys.is_empty() {
        return Err(AppError::conflict(
            "permissions",
            "the Customer role cannot hold staff permissions",
        ));
    }
    let mut wanted = BTreeSet::new();
    let mut errors = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        match Permission::from_key(k) {
            Some(p) => {
                wanted.insert(p.key());
            }
            None => errors.push(crate::error::FieldError::new(
                format!("permissions[{i}]"),
                format!("`{k}` is not a permission"),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let before: Vec<String> = sqlx::query_scalar(
        "select p.key from role_permissions rp join permissions p on p.id = rp.permission_id where rp.role_id = $1 order by p.key",
    )
    .bind(role_id)
    .fetch_all(&mut *conn)
    .await?;
    let wanted: Vec<&str> = wanted.into_iter().collect();
    sqlx::query(
        "delete from role_permissions where role_id = $1 and permission_id not in (select id from permissions where key = any($2))",
    )
    .bind(role_id)
    .bind(&wanted)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into role_permissions (role_id, permission_id, created_at) select $1, id, $3 from permissions where key = any($2) \
         on conflict do nothing",
    )
    .bind(role_id)
    .bind(&wanted)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query("update roles set updated_at = $2 where id = $1")
        .bind(role_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let added: Vec<&str> = wanted
        .iter()
        .filter(|k| !before.iter().any(|b| b == *k))
        .copied()
        .collect();
    let removed: Vec<&String> = before.iter().filter(|b| !wanted.contains(&b.as_str())).collect();
    if !added.is_empty() || !removed.is_empty() {
        audit::record(
            conn,
            &acting
                .audit(Action::RolePermissionsChanged, "role", role_id)
                .before(json!({"role": name, "permissions": before}))
                .after(json!({"role": name, "permissions": wanted}))
                .metadata(json!({"added": added, "removed": removed})),
            now,
        )
        .await?;
    }
    list(conn)
        .await?
        .into_iter()
        .find(|r| r.id == role_id)
        .ok_or(AppError::NotFound("role"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Change {
    Assign,
    Revoke,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Assign => "assign",
            Change::Revoke => "revoke",
        }
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of a requested role change.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "outcome")]
pub enum Requested {
    /// Waiting for a second Super Administrator.
    Pending {
        // spelled out: the schema derive does not read `rename_all_fields`
        #[serde(rename = "requestId")]
        request_id: Uuid,
    },
    /// Applied at once: the requester is the only Super Administrator.
    Applied,
}

async fn active_super_admins(conn: &mut PgConnection) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select u.id from users u join user_role_assignments a on a.user_id = u.id join roles r on r.id = a.role_id \
         where r.name = $1 and u.is_active and u.approval_status = 'approved'",
    )
    .bind(SUPER_ADMIN)
    .fetch_all(conn)
    .await
}

pub async fn is_super_admin(conn: &mut PgConnection, user_id: Uuid) -> Result<bool, sqlx::Error> {
    Ok(active_super_admins(conn).await?.contains(&user_id))
}

async fn apply(
    conn: &mut PgConnection,
    user_id: Uuid,
    role_id: Uuid,
    change: Change,
    by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    match change {
        Change::Assign => {
            sqlx::query(
                "insert into user_role_assignments (user_id, role_id, assigned_by_user_id, created_at) values ($1, $2, $3, $4) \
                 on conflict do nothing",
            )
            .bind(user_id)
            .bind(role_id)
            .bind(by)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        Change::Revoke => {
            let role: String = sqlx::query_scalar("select name from roles where id = $1")
                .bind(role_id)
                .fetch_one(&mut *conn)
                .await?;
            if role == SUPER_ADMIN {
                let admins = active_super_admins(conn).await?;
                if admins == [user_id] {
                    return Err(AppError::conflict(
                        "roleId",
                        "the last Super Administrator cannot lose that role",
                    ));
                }
            }
            sqlx::query("delete from user_role_assignments where user_id = $1 and role_id = $2")
                .bind(user_id)
                .bind(role_id)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// A role change someone asks for: give `role_id` to `user_id`, or take it away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleChange {
    pub user_id: Uuid,
    pub role_id: Uuid,
    pub change: Change,
}

/// The person acting, who asks for or decides a change (an API key acts for its owner).
pub(crate) fn person(acting: &Acting) -> Result<Uuid, AppError> {
    acting.user_id().ok_or(AppError::Unauthorized)
}

/// Asks for a role change. Applied at once only when the requester is the sole Super
/// Administrator (flagged in the audit log); otherwise it waits for a second one.
pub async fn request(conn: &mut PgConnection, rc: RoleChange, acting: &Acting) -> Result<Requested, AppError> {
    let RoleChange {
        user_id,
        role_id,
        change,
    } = rc;
    let requested_by = person(acting)?;
    let now = acting.now;
    let target: Option<(String, String)> = sqlx::query_as("select email::text, kind from users where id = $1")
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    let (email, kind) = target.ok_or(AppError::NotFound("user"))?;
    if kind != "staff" {
        return Err(AppError::conflict("userId", "customers get no staff roles"));
    }
    let role: Option<String> = sqlx::query_scalar("select name from roles where id = $1")
        .bind(role_id)
        .fetch_optional(&mut *conn)
        .await?;
    let role = role.ok_or_else(|| AppError::field("roleId", "no such role"))?;
    if role == CUSTOMER {
        return Err(AppError::field(
            "roleId",
            "the Customer role is for USSD customers only",
        ));
    }
    let holds: bool =
        sqlx::query_scalar("select exists (select 1 from user_role_assignments where user_id = $1 and role_id = $2)")
            .bind(user_id)
            .bind(role_id)
            .fetch_one(&mut *conn)
            .await?;
    match (change, holds) {
        (Change::Assign, true) => {
            return Err(AppError::conflict(
                "roleId",
                format!("{email} already has the role {role}"),
            ))
        }
        (Change::Revoke, false) => {
            return Err(AppError::conflict(
                "roleId",
                format!("{email} does not have the role {role}"),
            ))
        }
        _ => {}
    }
    // one Super Admin can only decide alone while there is no second one to ask
    sqlx::query("select pg_advisory_xact_lock(7243)")
        .execute(&mut *conn)
        .await?;
    let admins = active_super_admins(conn).await?;
    let sole = admins == [requested_by];
    let details = json!({"user": email, "role": role, "change": change.as_str()});
    if sole {
        apply(conn, user_id, role_id, change, Some(requested_by), now).await?;
        let action = if change == Change::Assign {
            Action::UserRoleAssigned
        } else {
            Action::UserRoleRevoked
        };
        audit::record(
            conn,
            &acting
                .audit(action, "user", user_id)
                .after(details)
                .metadata(json!({"direct": true, "reason": "only one Super Administrator exists: applied without a second approval"})),
            now,
        )
        .await?;
        return Ok(Requested::Applied);
    }
    let id: Uuid = sqlx::query_scalar(
        "insert into role_change_requests (user_id, role_id, action, status, requested_by_user_id, created_at) \
         values ($1, $2, $3, $4, $5, $6) returning id",
    )
    .bind(user_id)
    .bind(role_id)
    .bind(change.as_str())
    .bind(RequestStatus::Pending.as_str())
    .bind(requested_by)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| {
        crate::error::on_constraint(
            e,
            &[("role_change_requests_one_pending_idx", || {
                AppError::conflict("roleId", "a request for this role and user is already waiting")
            })],
        )
    })?;
    audit::record(
        conn,
        &acting
            .audit(Action::RoleChangeRequested, "role_change_request", id)
            .after(details),
        now,
    )
    .await?;
    Ok(Requested::Pending { request_id: id })
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub user_email: String,
    pub role_id: Uuid,
    /// The role's name.
    pub role: String,
    /// Give the role (`assign`) or take it away (`revoke`).
    pub action: Change,
    pub status: RequestStatus,
    pub requested_by_user_id: Uuid,
    /// The requester's email.
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
}

/// A place in the list of waiting requests: the last one shown's creation time and id.
pub type RequestPosition = (DateTime<Utc>, Uuid);

/// Requests waiting for a decision (all, or one user's), oldest first: `limit` of them (all when
/// `None`) after `after`.
pub async fn pending_page(
    conn: &mut PgConnection,
    user: Option<Uuid>,
    after: Option<RequestPosition>,
    limit: Option<i64>,
) -> Result<Vec<RequestView>, sqlx::Error> {
    sqlx::query_as(
        "select q.id, q.user_id, u.email::text as user_email, q.role_id, r.name as role, q.action, q.status, \
           q.requested_by_user_id, b.email::text as requested_by, q.created_at \
         from role_change_requests q join users u on u.id = q.user_id join roles r on r.id = q.role_id \
           join users b on b.id = q.requested_by_user_id \
         where q.status = 'pending' and ($1::uuid is null or q.user_id = $1) \
           and ($2::timestamptz is null or (q.created_at, q.id) > ($2, $3::uuid)) \
         order by q.created_at, q.id limit $4",
    )
    .bind(user)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Every request waiting for a decision (all, or one user's), oldest first.
pub async fn pending(conn: &mut PgConnection, user: Option<Uuid>) -> Result<Vec<RequestView>, sqlx::Error> {
    pending_page(conn, user, None, None).await
}

/// A second Super Administrator's answer to a pending request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

/// A second Super Administrator approves or rejects a pending request.
pub async fn decide(
    conn: &mut PgConnection,
    request_id: Uuid,
    decision: Decision,
    acting: &Acting,
) -> Result<(), AppError> {
    let decided_by = person(acting)?;
    let now = acting.now;
    let row: Option<(Uuid, Uuid, Change, RequestStatus, Uuid)> = sqlx::query_as(
        "select user_id, role_id, action, status, requested_by_user_id from role_change_requests where id = $1 for update",
    )
    .bind(request_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (user_id, role_id, change, status, requested_by) = row.ok_or(AppError::NotFound("role change request"))?;
    let to = match decision {
        Decision::Approve => RequestStatus::Approved,
        Decision::Reject => RequestStatus::Rejected,
    };
    status.check_move(to)?;
    if requested_by == decided_by {
        return Err(AppError::Forbidden(Denied::SecondSuperAdmin));
    }
    if !is_super_admin(conn, decided_by).await? {
        return Err(AppError::Forbidden(Denied::SuperAdminOnly));
    }
    if decision == Decision::Approve {
        apply(conn, user_id, role_id, change, Some(decided_by), now).await?;
    }
    move_request(conn, request_id, to, Some(decided_by), now).await?;
    let role: String = sqlx::query_scalar("select name from roles where id = $1")
        .bind(role_id)
        .fetch_one(&mut *conn)
        .await?;
    let details = json!({"userId": user_id, "role": role, "change": change.as_str(), "requestedBy": requested_by});
    let action = match decision {
        Decision::Approve => Action::RoleChangeApproved,
        Decision::Reject => Action::RoleChangeRejected,
    };
    audit::record(
        conn,
        &acting
            .audit(action, "role_change_request", request_id)
            .after(details.clone()),
        now,
    )
    .await?;
    if decision == Decision::Approve {
        let applied = if change == Change::Assign {
            Action::UserRoleAssigned
        } else {
            Action::UserRoleRevoked
        };
        audit::record(
            conn,
            &acting
                .audit(applied, "user", user_id)
                .after(details)
                .metadata(json!({"direct": false, "requestId": request_id})),
            now,
        )
        .await?;
    }
    Ok(())
}
