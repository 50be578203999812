//! Identity: staff users and their credentials.
//!
//! Owns `users`, `sessions`, `verifications`, `user_mfa`, `mfa_backup_codes` and `api_keys`.
//! This part holds account creation and the first Super Administrator; sign-in, sessions and
//! TOTP build on it.

pub mod account;
pub mod account_pages;
pub mod admin;
pub mod api_keys;
pub mod mail;
pub mod mfa;
pub mod pages;
pub mod password;
pub mod password_age;
pub mod policy;
pub mod registrations;
pub mod registrations_pages;
pub mod roles_api;
pub mod roles_pages;
pub mod session;
pub mod setup_links;
pub mod signin;
pub mod signin_api;
pub mod totp;
pub mod users;
pub mod users_api;
pub mod users_pages;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::access;
use crate::audit::{self, Action, Actor, AuditEvent};
use crate::error::{on_constraint, AppError};
use crate::unit::Acting;

pub const DEFAULT_ADMIN_EMAIL: &str = "admin@mbelyco.local";

pub struct NewStaff<'a> {
    pub email: &'a str,
    pub full_name: &'a str,
    pub password: Option<&'a SecretString>,
    pub roles: &'a [&'a str],
}

/// Creates an active, approved staff user with the given roles. Audited (creation and each role).
pub async fn create_staff(conn: &mut PgConnection, new: &NewStaff<'_>, acting: &Acting) -> Result<Uuid, AppError> {
    let now = acting.now;
    let email = new.email.trim().to_lowercase();
    if !email.contains('@') || email.len() > 254 {
        return Err(AppError::field("email", "must be an email address"));
    }
    let hash = match new.password {
        Some(p) => Some(password::hash(p)?),
        None => None,
    };
    let id = insert_staff(conn, &email, new.full_name, hash.as_deref(), acting).await?;
    for role in new.roles {
        let role_id = access::role_id(conn, role)
            .await?
            .ok_or_else(|| AppError::field("roles", format!("no role named {role}")))?;
        sqlx::query("insert into user_role_assignments (user_id, role_id, assigned_by_user_id, created_at) values ($1, $2, $3, $4)")
            .bind(id)
            .bind(role_id)
            .bind(acting.user_id())
            .bind(now)
            .execute(&mut *conn)
            .await?;
        audit::record(
            conn,
            &acting
                .audit(Action::UserRoleAssigned, "user", id)
                .after(json!({"role": role}))
                .metadata(json!({"direct": true, "reason": "account creation"})),
            now,
        )
        .await?;
    }
    Ok(id)
}

/// The client error for a taken email address.
pub(crate) fn email_taken(e: sqlx::Error) -> AppError {
    on_constraint(
        e,
        &[("users_email_key", || {
            AppError::conflict("email", "a user with this email already exists")
        })],
    )
}

/// Inserts an active, approved staff user — with a password, or without one until they use a
/// set-up link — and audits it.
pub(crate) async fn insert_staff(
    conn: &mut PgConnection,
    email: &str,
    full_name: &str,
    password_hash: Option<&str>,
    acting: &Acting,
) -> Result<Uuid, AppError> {
    let now = acting.now;
    let full_name = full_name.trim();
    let id: Uuid = sqlx::query_scalar(
        "insert into users (kind, email, full_name, password_hash, is_active, is_verified, approval_status, \
           password_changed_at, created_at, updated_at) \
         values ('staff', $1, $2, $3, true, $4, 'approved', $5, $6, $6) returning id",
    )
    .bind(email)
    .bind(full_name)
    .bind(password_hash)
    .bind(password_hash.is_some())
    .bind(password_hash.map(|_| now))
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(email_taken)?;
    audit::record(
        conn,
        &acting.audit(Action::UserCreated, "user", id).after(
            json!({"email": email, "fullName": full_name, "kind": "staff", "passwordSet": password_hash.is_some()}),
        ),
        now,
    )
    .await?;
    Ok(id)
}

/// Whether any active, approved staff user holds the Super Administrator role.
pub async fn super_admin_exists(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from users u join user_role_assignments a on a.user_id = u.id \
           join roles r on r.id = a.role_id \
         where r.name = $1 and u.is_active and u.approval_status = 'approved')",
    )
    .bind(access::SUPER_ADMIN)
    .fetch_one(conn)
    .await
}

/// The first administrator created at start-up.
pub struct Bootstrapped {
    pub email: String,
    /// Set when the password was generated: shown once, never stored in clear.
    pub generated_password: Option<SecretString>,
}

/// Creates the first Super Administrator when none exists: from `ADMIN_EMAIL`/`ADMIN_PASSWORD`,
/// or with a generated password that the caller prints once.
pub async fn bootstrap_admin(
    conn: &mut PgConnection,
    email: Option<&str>,
    password: Option<&SecretString>,
    now: DateTime<Utc>,
) -> Result<Option<Bootstrapped>, AppError> {
    sqlx::query("select pg_advisory_xact_lock(7242)")
        .execute(&mut *conn)
        .await?;
    if super_admin_exists(conn).await? {
        return Ok(None);
    }
    let email = email.unwrap_or(DEFAULT_ADMIN_EMAIL);
    let generated = match password {
        Some(_) => None,
        None => Some(password::generate()),
    };
    let pw = password.or(generated.as_ref());
    let new = NewStaff {
        email,
        full_name: "Administrator",
        password: pw,
        roles: &[access::SUPER_ADMIN],
    };
    create_staff(conn, &new, &Acting::system(now)).await?;
    audit::record(
        conn,
        &AuditEvent::new(Actor::System, Action::SystemBootstrapped, "user", email)
            .metadata(json!({"passwordGenerated": generated.is_some()})),
        now,
    )
    .await?;
    Ok(Some(Bootstrapped {
        email: email.to_owned(),
        generated_password: generated,
    }))
}

impl std::fmt::Debug for Bootstrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bootstrapped")
            .field("email", &self.email)
            .field(
                "generated_password",
                &self.generated_password.as_ref().map(|p| p.expose_secret().len()),
            )
            .finish()
    }
}
