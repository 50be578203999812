//! The live activity feed: the newest redemptions, payouts paid or failed, batch events, and —
//! for holders of `audit.logs.read` — sign-ins and role changes. Each source is read newest
//! first through an index and cut at the feed's length, so the feed costs the same whatever the
//! campaign's size.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Viewer;
use crate::access::Permission;
use crate::error::AppError;
use crate::telemetry::mask_phone;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = DashboardKind)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    Redemption,
    Payout,
    Batch,
    SignIn,
    RoleChange,
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = DashboardItem)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub at: DateTime<Utc>,
    pub kind: Kind,
    pub text: String,
    pub href: Option<String>,
}

/// An audit row as the feed reads it: when, the entity, who acted, the batch's name, `after`.
type AuditRow = (
    DateTime<Utc>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<serde_json::Value>,
);

fn rwf(n: i64) -> String {
    format!("{} RWF", crate::codes::pages::thousands(n))
}

pub async fn recent(pool: &PgPool, viewer: Viewer<'_>, limit: i64) -> Result<Vec<Item>, AppError> {
    let mut conn = pool.acquire().await?;
    let money = viewer.can(Permission::DisbursementsRead);
    let mut items = Vec::new();
    if viewer.can(Permission::RedemptionsRead) {
        // newest by transaction (redemptions_tx_idx): the same order the live list follows
        let rows: Vec<(Uuid, DateTime<Utc>, String, i64, String)> = sqlx::query_as(
            "select r.id, r.created_at, r.phone_number, r.amount, b.name from \
               (select id, created_at, phone_number, amount, batch_id from redemptions order by tx desc limit $1) r \
             join batches b on b.id = r.batch_id",
        )
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        items.extend(rows.into_iter().map(|(id, at, phone, amount, batch)| Item {
            at,
            kind: Kind::Redemption,
            text: if money {
                format!("{} redeemed {} from {batch}", mask_phone(&phone), rwf(amount))
            } else {
                format!("{} redeemed a code from {batch}", mask_phone(&phone))
            },
            href: Some(format!("/admin/redemptions/{id}")),
        }));
    }
    if money {
        let rows: Vec<(Uuid, DateTime<Utc>, String, i64, String)> = sqlx::query_as(
            "(select id, disbursed_at, status, amount, msisdn from disbursements where disbursed_at is not null \
              order by disbursed_at desc limit $1) \
             union all \
             (select id, updated_at, status, amount, msisdn from disbursements where status = 'failed' \
              order by created_at desc limit $1) \
             union all \
             (select id, updated_at, status, amount, msisdn from disbursements where status = 'payee_invalid' \
              order by created_at desc limit $1)",
        )
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        items.extend(rows.into_iter().map(|(id, at, status, amount, msisdn)| {
            let to = mask_phone(&format!("+{msisdn}"));
            Item {
                at,
                kind: Kind::Payout,
                text: match status.as_str() {
                    "completed" => format!("Paid {} to {to}", rwf(amount)),
                    "payee_invalid" => format!("Payout of {} to {to}: no MoMo wallet", rwf(amount)),
                    _ => format!("Payout of {} to {to} failed", rwf(amount)),
                },
                href: Some(format!("/admin/disbursements/{id}")),
            }
        }));
    }
    let mut actions: Vec<&str> = Vec::new();
    if viewer.can(Permission::BatchesRead) {
        actions.extend(["batch.created", "batch.status_changed", "codes.generated"]);
    }
    if viewer.can(Permission::AuditLogsRead) {
        actions.extend([
            "auth.sign_in_succeeded",
            "user.role_assigned",
            "user.role_revoked",
            "role_change.requested",
            "role_change.approved",
            "role_change.rejected",
        ]);
    }
    let users = viewer.can(Permission::UsersRead);
    let roles = viewer.can(Permission::UsersRolesAssign);
    for action in actions {
        // one action at a time through audit_logs_action_idx (action, created_at desc)
        let rows: Vec<AuditRow> = sqlx::query_as(
            "select a.created_at, a.entity_id, coalesce(u.full_name, u.email::text), b.name, a.after \
                 from (select created_at, entity_id, actor_user_id, after, entity_type from audit_logs \
                       where action = $1 order by created_at desc limit $2) a \
                 left join users u on u.id = a.actor_user_id \
                 left join batches b on a.entity_type = 'batch' and b.id::text = a.entity_id",
        )
        .bind(action)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        items.extend(rows.into_iter().map(|(at, entity, who, batch, after)| {
            let who = who.unwrap_or_else(|| "The system".into());
            let batch = batch.unwrap_or_else(|| "a deleted batch".into());
            let status = after
                .as_ref()
                .and_then(|a| a.get("status"))
                .and_then(|s| s.as_str())
                .unwrap_or("")
                .to_owned();
            let batch_href = entity.as_ref().map(|e| format!("/admin/batches/{e}"));
            let user_href = entity.as_ref().filter(|_| users).map(|e| format!("/admin/users/{e}"));
            let requests = roles.then(|| "/admin/role-requests".to_owned());
            let (kind, text, href) = match action {
                "batch.created" => (Kind::Batch, format!("{who} created the batch {batch}"), batch_href),
                "batch.status_changed" => (Kind::Batch, format!("The batch {batch} is now {status}"), batch_href),
                "codes.generated" => (Kind::Batch, format!("Codes were generated for {batch}"), batch_href),
                "auth.sign_in_succeeded" => (Kind::SignIn, format!("{who} signed in"), user_href),
                "user.role_assigned" => (Kind::RoleChange, format!("{who} assigned a role"), user_href),
                "user.role_revoked" => (Kind::RoleChange, format!("{who} revoked a role"), user_href),
                "role_change.requested" => (Kind::RoleChange, format!("{who} asked for a role change"), requests),
                "role_change.approved" => (Kind::RoleChange, format!("{who} approved a role change"), requests),
                _ => (Kind::RoleChange, format!("{who} rejected a role change"), requests),
            };
            Item { at, kind, text, href }
        }));
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.at));
    items.truncate(limit.max(0) as usize);
    Ok(items)
}
