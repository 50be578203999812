//! Self-registration and its review: a person asks for a staff account (pending, no role, no
//! password); a holder of `users.registration.approve` approves it with roles (a set-up link
//! follows) or rejects it.
//!
//! | approval_status | to       | who                                                   |
//! |-----------------|----------|-------------------------------------------------------|
//! | (new)           | pending  | anyone, through `/register`, while registration is open |
//! | (new)           | approved | an administrator creating a user, or the first admin   |
//! | pending         | approved | a holder of `users.registration.approve`               |
//! | pending         | rejected | a holder of `users.registration.approve`               |

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::setup_links::{new_setup_link, SetupLink};
use super::users::{check_email, check_name, list, Filter, ListStatus, Position, UserRow};
use crate::audit::{self, Action};
use crate::error::{AppError, Denied};
use crate::unit::Acting;
use crate::web::extract::FormPairs;

/// Where a staff account's approval is (`users.approval_status`, its CHECK constraint's set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ApprovalStatus {
    Approved,
    Pending,
    Rejected,
}

impl ApprovalStatus {
    pub const ALL: [ApprovalStatus; 3] = [
        ApprovalStatus::Approved,
        ApprovalStatus::Pending,
        ApprovalStatus::Rejected,
    ];

    /// Every allowed move of an existing account, from → to.
    pub const TRANSITIONS: [(ApprovalStatus, ApprovalStatus); 2] = [
        (ApprovalStatus::Pending, ApprovalStatus::Approved),
        (ApprovalStatus::Pending, ApprovalStatus::Rejected),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Rejected => "rejected",
        }
    }

    pub fn can_move_to(self, to: ApprovalStatus) -> bool {
        Self::TRANSITIONS.contains(&(self, to))
    }
}

impl std::fmt::Display for ApprovalStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub struct Registration<'a> {
    pub email: &'a str,
    pub full_name: &'a str,
    pub phone: Option<&'a str>,
    pub company: Option<&'a str>,
    pub department: Option<&'a str>,
}

/// The registration form's fields, as given (the rules are [`register`]'s).
impl<'a> From<&'a FormPairs> for Registration<'a> {
    fn from(form: &'a FormPairs) -> Self {
        let field = |n: &str| form.get(n).unwrap_or_default();
        Registration {
            email: field("email"),
            full_name: field("full_name"),
            phone: Some(field("phone")),
            company: Some(field("company")),
            department: Some(field("department")),
        }
    }
}

/// A self-registration as the page and the API take it: refused while registration is closed,
/// counted against the hourly (per address) and daily limits, then [`register`]. The caller
/// commits whatever the outcome: a refusal still counts against the limits.
pub async fn submit(
    conn: &mut PgConnection,
    settings: &crate::settings::model::Registration,
    r: &Registration<'_>,
    acting: &Acting,
) -> Result<Uuid, AppError> {
    if !settings.admin_registration_enabled {
        return Err(AppError::Forbidden(Denied::RegistrationClosed));
    }
    if let Some(wait) = registration_limit(conn, settings, acting).await? {
        return Err(AppError::RateLimited { retry_after_secs: wait });
    }
    register(conn, r, acting).await
}

/// Counts this registration against the hourly (per address) and daily limits; the wait when
/// either is reached.
async fn registration_limit(
    conn: &mut sqlx::PgConnection,
    reg: &crate::settings::model::Registration,
    acting: &Acting,
) -> Result<Option<u64>, AppError> {
    let ip = acting.meta.ip.map_or_else(|| "unknown".to_owned(), |i| i.to_string());
    let hourly = reg.max_registrations_per_hour as i32;
    let hour = crate::ratelimit::hit(conn, &format!("register:ip:{ip}"), 3600, hourly, acting.now).await?;
    let daily = reg.max_registrations_per_day as i32;
    let day = crate::ratelimit::hit(conn, "register:all", 86_400, daily, acting.now).await?;
    Ok(match (hour.allowed, day.allowed) {
        (true, true) => None,
        (false, _) => Some(hour.retry_after_secs),
        (true, false) => Some(day.retry_after_secs),
    })
}

/// A self-registration: a pending staff account with no role and no password.
pub async fn register(conn: &mut PgConnection, r: &Registration<'_>, acting: &Acting) -> Result<Uuid, AppError> {
    let now = acting.now;
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
         values ('staff', $1, $2, $3, $4, false, $6, $5, $5, $5) returning id",
    )
    .bind(&email)
    .bind(&name)
    .bind(clean(r.company))
    .bind(clean(r.department))
    .bind(now)
    .bind(ApprovalStatus::Pending.as_str())
    .fetch_one(&mut *conn)
    .await
    .map_err(super::email_taken)?;
    audit::record(
        conn,
        &acting
            .audit(Action::RegistrationSubmitted, "user", id)
            .after(json!({"email": email, "fullName": name, "phone": phone})),
        now,
    )
    .await?;
    Ok(id)
}

/// Registrations waiting for review, newest first: `limit` of them after `after`.
pub async fn pending_registrations(
    conn: &mut PgConnection,
    after: Option<Position>,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<UserRow>, AppError> {
    let pending = Filter {
        status: Some(ListStatus::Pending),
        ..Filter::default()
    };
    list(conn, &pending, after, limit, now).await
}

pub async fn pending_count(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from users where kind = 'staff' and approval_status = 'pending'")
        .fetch_one(conn)
        .await
}

/// Approves a registration with the chosen roles (assigned by this decision; approving is itself
/// the second look) and returns the set-up link for the new user. No role chosen: the settings'
/// `registration.defaultRole`.
pub async fn approve(
    conn: &mut PgConnection,
    id: Uuid,
    role_ids: &[Uuid],
    reg: &crate::settings::model::Registration,
    acting: &Acting,
) -> Result<SetupLink, AppError> {
    let (now, by) = (acting.now, acting.user_id());
    let status: Option<ApprovalStatus> =
        sqlx::query_scalar("select approval_status from users where id = $1 and kind = 'staff' for update")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let status = status.ok_or(AppError::NotFound("registration"))?;
    if !status.can_move_to(ApprovalStatus::Approved) {
        return Err(AppError::conflict(
            "status",
            format!("this registration is already {status}"),
        ));
    }
    let default_role: Vec<Uuid> = if role_ids.is_empty() {
        let found: Option<Uuid> = sqlx::query_scalar("select id from roles where name = $1")
            .bind(reg.default_role.trim())
            .fetch_optional(&mut *conn)
            .await?;
        let Some(found) = found else {
            return Err(AppError::field(
                "roles",
                format!(
                    "choose at least one role (the default role, {}, does not exist)",
                    reg.default_role
                ),
            ));
        };
        vec![found]
    } else {
        Vec::new()
    };
    let role_ids = if role_ids.is_empty() {
        &default_role[..]
    } else {
        role_ids
    };
    sqlx::query("update users set approval_status = $4, is_active = true, decided_by_user_id = $2, decided_at = $3, updated_at = $3 where id = $1")
        .bind(id)
        .bind(by)
        .bind(now)
        .bind(ApprovalStatus::Approved.as_str())
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
        &acting
            .audit(Action::RegistrationApproved, "user", id)
            .after(json!({"roles": names})),
        now,
    )
    .await?;
    Ok(link)
}

/// Rejects a pending registration (only a pending one: [`ApprovalStatus::TRANSITIONS`]).
pub async fn reject(conn: &mut PgConnection, id: Uuid, reason: Option<&str>, acting: &Acting) -> Result<(), AppError> {
    let (now, by) = (acting.now, acting.user_id());
    let n = sqlx::query(
        "update users set approval_status = $4, is_active = false, decided_by_user_id = $2, decided_at = $3, updated_at = $3 \
         where id = $1 and kind = 'staff' and approval_status = $5",
    )
    .bind(id)
    .bind(by)
    .bind(now)
    .bind(ApprovalStatus::Rejected.as_str())
    .bind(ApprovalStatus::Pending.as_str())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(AppError::NotFound("pending registration"));
    }
    audit::record(
        conn,
        &acting
            .audit(Action::RegistrationRejected, "user", id)
            .metadata(json!({"reason": reason})),
        now,
    )
    .await?;
    Ok(())
}
