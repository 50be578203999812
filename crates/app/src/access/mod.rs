//! Access: the permission catalogue, the predefined roles, and (with identity) who may do what.
//!
//! Owns `roles`, `permissions`, `role_permissions`, `user_role_assignments` and
//! `role_change_requests`. [`seed`] runs at every start-up and is idempotent: it upserts the
//! catalogue, creates missing predefined roles with their ACCESS.md permissions, and keeps the
//! Super Administrator holding every key. A role a Super Admin has edited is never reverted.

mod catalogue;
pub mod role_requests;
pub mod roles;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

pub use catalogue::Permission;

use crate::audit::{self, Action, Actor, AuditEvent};

pub const SUPER_ADMIN: &str = "Super Administrator";
pub const CUSTOMER: &str = "Customer";

/// A predefined role and the keys it starts with.
pub struct RoleSeed {
    pub name: &'static str,
    pub description: &'static str,
    pub permissions: fn() -> Vec<Permission>,
}

fn all() -> Vec<Permission> {
    Permission::ALL.to_vec()
}

fn batch_manager() -> Vec<Permission> {
    use Permission::*;
    vec![
        // PRD 1.3
        PromoCodesSearch,
        RedemptionsRead,
        ReportsRead,
        AlertsRead,
        FraudAlertsView,
        // what "create and manage batches" needs (ACCESS.md)
        BatchesRead,
        BatchesCreate,
        BatchesUpdate,
        BatchesAssign,
        BatchesStatusChange,
        BatchesExport,
        PromoCodesRead,
        PromoCodesGenerate,
        PromoCodesImport,
        PromoCodesDownload,
        PromoCodesStatusChange,
        PromoCodesBulkOperations,
        PromoCodesValidate,
        RedemptionsMonitor,
    ]
}

fn financial_admin() -> Vec<Permission> {
    use Permission::*;
    let mut v: Vec<Permission> = Permission::ALL
        .iter()
        .copied()
        .filter(|p| p.category() == "disbursements")
        .collect();
    v.extend([
        RedemptionsRead,
        ReportsRead,
        AuditLogsRead,
        AlertsRead,
        FinancialAlertsView,
        AlertsAcknowledge,
        RedemptionsSearch,
        RedemptionsExport,
    ]);
    v
}

fn support_agent() -> Vec<Permission> {
    use Permission::*;
    vec![
        UsersRead,
        RedemptionsRead,
        PromoCodesRead,
        AlertsRead,
        SystemAlertsView,
        PromoCodesSearch,
        RedemptionsSearch,
        PromoCodesValidate,
        // issue 6: a support agent resolves `payee_invalid` with the number the customer gives
        DisbursementsPayeeUpdate,
    ]
}

fn viewer() -> Vec<Permission> {
    use Permission::*;
    vec![BatchesRead, PromoCodesRead, RedemptionsRead, ReportsRead, AlertsRead]
}

fn none() -> Vec<Permission> {
    Vec::new()
}

pub const ROLES: &[RoleSeed] = &[
    RoleSeed {
        name: SUPER_ADMIN,
        description: "Full system access with all permissions",
        permissions: all,
    },
    RoleSeed {
        name: "Batch Manager",
        description: "Creates and manages batches and their codes; campaign monitoring",
        permissions: batch_manager,
    },
    RoleSeed {
        name: "Financial Administrator",
        description: "Payment processing, approvals and reconciliation",
        permissions: financial_admin,
    },
    RoleSeed {
        name: "Support Agent",
        description: "Customer support: users, redemptions and code look-ups",
        permissions: support_agent,
    },
    RoleSeed {
        name: "Viewer",
        description: "Read-only access for stakeholders",
        permissions: viewer,
    },
    RoleSeed {
        name: CUSTOMER,
        description: "USSD customer; no access to the panel",
        permissions: none,
    },
];

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub permissions_added: u64,
    pub roles_created: Vec<&'static str>,
    pub super_admin_grants: u64,
    /// Keys first seen at this start, granted to the predefined roles that list them.
    pub existing_role_grants: u64,
}

/// Idempotent seeding of the catalogue and predefined roles. Audited when it changes anything.
pub async fn seed(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<SeedReport, sqlx::Error> {
    let keys: Vec<&str> = Permission::ALL.iter().map(|p| p.key()).collect();
    let descs: Vec<&str> = Permission::ALL.iter().map(|p| p.description()).collect();
    let cats: Vec<&str> = Permission::ALL.iter().map(|p| p.category()).collect();
    let added: Vec<bool> = Permission::ALL.iter().map(|p| p.is_added()).collect();
    let inserted: Vec<(String, bool)> = sqlx::query_as(
        "insert into permissions (key, description, category, is_added) \
         select * from unnest($1::text[], $2::text[], $3::text[], $4::bool[]) \
         on conflict (key) do update set description = excluded.description, category = excluded.category, is_added = excluded.is_added \
         returning key, (xmax = 0)",
    )
    .bind(&keys)
    .bind(&descs)
    .bind(&cats)
    .bind(&added)
    .fetch_all(&mut *conn)
    .await?;
    let fresh: Vec<String> = inserted
        .into_iter()
        .filter_map(|(key, new)| new.then_some(key))
        .collect();
    let first_start = fresh.len() == keys.len();
    let mut report = SeedReport {
        permissions_added: fresh.len() as u64,
        ..Default::default()
    };

    for role in ROLES {
        let created: Option<Uuid> = sqlx::query_scalar(
            "insert into roles (name, description, is_system, created_at, updated_at) values ($1, $2, true, $3, $3) \
             on conflict (name) do nothing returning id",
        )
        .bind(role.name)
        .bind(role.description)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(role_id) = created {
            let keys: Vec<&str> = (role.permissions)().into_iter().map(Permission::key).collect();
            grant(conn, role_id, &keys, now).await?;
            report.roles_created.push(role.name);
        } else if !first_start && !fresh.is_empty() {
            // a key a later release added goes to the predefined roles that list it, once, when
            // it first appears (edits an administrator made to the role's other keys stay)
            let keys: Vec<&str> = (role.permissions)()
                .into_iter()
                .map(Permission::key)
                .filter(|k| fresh.iter().any(|f| f == k))
                .collect();
            if let Some(role_id) = role_id(conn, role.name).await? {
                if !keys.is_empty() {
                    grant(conn, role_id, &keys, now).await?;
                    report.existing_role_grants += keys.len() as u64;
                }
            }
        }
    }
    // the Super Administrator holds every key, including keys added by later releases
    report.super_admin_grants = sqlx::query(
        "insert into role_permissions (role_id, permission_id, created_at) \
         select r.id, p.id, $2 from roles r cross join permissions p where r.name = $1 \
         on conflict do nothing",
    )
    .bind(SUPER_ADMIN)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();

    if report.permissions_added > 0 || !report.roles_created.is_empty() || report.super_admin_grants > 0 {
        let event =
            AuditEvent::new(Actor::System, Action::AccessCatalogueSeeded, "permissions", "catalogue").after(json!({
                "permissionsAdded": report.permissions_added,
                "rolesCreated": report.roles_created,
                "superAdminGrants": report.super_admin_grants,
                "existingRoleGrants": report.existing_role_grants,
            }));
        audit::record(conn, &event, now).await?;
    }
    Ok(report)
}

async fn grant(conn: &mut PgConnection, role_id: Uuid, keys: &[&str], now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into role_permissions (role_id, permission_id, created_at) \
         select $1, id, $3 from permissions where key = any($2) on conflict do nothing",
    )
    .bind(role_id)
    .bind(keys)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
}

/// The permission keys a user holds through their roles (only active, approved staff hold any).
pub async fn effective_permissions(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<BTreeSet<Permission>, sqlx::Error> {
    let keys: Vec<String> = sqlx::query_scalar(
        "select distinct p.key from users u \
         join user_role_assignments ura on ura.user_id = u.id \
         join role_permissions rp on rp.role_id = ura.role_id \
         join permissions p on p.id = rp.permission_id \
         where u.id = $1 and u.is_active and u.approval_status = 'approved' and u.kind = 'staff'",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    Ok(keys.iter().filter_map(|k| Permission::from_key(k)).collect())
}

pub async fn role_id(conn: &mut PgConnection, name: &str) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("select id from roles where name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await
}
