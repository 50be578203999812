//! Changing a batch after it exists: edit, assign, delete, and bulk operations over many
//! batches. Each function runs inside the caller's transaction and writes its audit row there.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    check_amount, check_assignee, check_description, check_expiry, check_name, name_taken, Batch, BatchStatus, COLUMNS,
};
use crate::access::Permission;
use crate::audit::{self, Action};
use crate::error::{pg_codes, AppError};
use crate::settings::Settings;
use crate::unit::{Acting, Unit};

/// The refusal for deleting a batch that has been redeemed from.
pub const HAS_REDEMPTIONS: &str = "has redemptions — block it instead";

/// Fields an edit may change; `None` leaves the field as it is.
#[derive(Debug, Clone, Default)]
pub struct BatchChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub expires_at: Option<String>,
    pub amount_per_code: Option<i64>,
}

async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Batch, AppError> {
    sqlx::query_as(&format!("select {COLUMNS} from batches where id = $1 for update"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("batch"))
}

/// Codes of the batch that a customer has redeemed (being paid or paid).
async fn redeemed_codes(conn: &mut PgConnection, id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from promo_codes where batch_id = $1 and status in ('used', 'redeemed')")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// Edits a batch with the create form's rules for each field it changes. A new expiry moves the
/// `expires_at` of the batch's still-active codes with it; a new amount applies to every code and
/// is refused (409) once any code has been used or redeemed. Audited with before and after.
pub async fn update(
    conn: &mut PgConnection,
    s: &Settings,
    id: Uuid,
    changes: &BatchChanges,
    acting: &Acting,
) -> Result<Batch, AppError> {
    let now = acting.now;
    let mut errors = Vec::new();
    if let Some(n) = &changes.name {
        check_name(n, &mut errors);
    }
    if let Some(d) = &changes.description {
        check_description(d, &mut errors);
    }
    if let Some(a) = changes.amount_per_code {
        check_amount(a, s, &mut errors);
    }
    let expiry = changes
        .expires_at
        .as_deref()
        .and_then(|e| check_expiry(e, s, now, &mut errors));
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let before = lock(conn, id).await?;
    let name = changes.name.as_deref().map(str::trim).filter(|n| *n != before.name);
    let description = changes
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| *d != before.description);
    let expiry = expiry.filter(|e| *e != before.expiration_date);
    let amount = changes.amount_per_code.filter(|a| *a != before.amount_per_code);
    if name.is_none() && description.is_none() && expiry.is_none() && amount.is_none() {
        return Ok(before);
    }
    if expiry.is_some() && ![BatchStatus::Active, BatchStatus::Blocked].contains(&before.status) {
        return Err(AppError::conflict(
            "expiresAt",
            format!("the batch is {}; its codes cannot be brought back", before.status),
        ));
    }
    let (mut old, mut new) = (Map::new(), Map::new());
    let mut codes_updated = 0u64;
    if let Some(a) = amount {
        // every code takes the new amount; a code already accepted for redemption keeps its own,
        // and then the change is refused (checked after the update, so a redemption that raced
        // it is seen)
        codes_updated = sqlx::query(
            "update promo_codes set amount = $2 where batch_id = $1 and status not in ('used', 'redeemed')",
        )
        .bind(id)
        .bind(a)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if redeemed_codes(conn, id).await? > 0 {
            return Err(AppError::conflict(
                "amountPerCode",
                "codes of this batch have been redeemed; the amount can no longer change",
            ));
        }
        old.insert("amountPerCode".into(), json!(before.amount_per_code));
        new.insert("amountPerCode".into(), json!(a));
    }
    if let Some(e) = expiry {
        let moved = sqlx::query("update promo_codes set expires_at = $2 where batch_id = $1 and status = 'active'")
            .bind(id)
            .bind(e)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        codes_updated = codes_updated.max(moved);
        old.insert("expiresAt".into(), json!(before.expiration_date));
        new.insert("expiresAt".into(), json!(e));
    }
    if let Some(n) = name {
        old.insert("name".into(), json!(before.name));
        new.insert("name".into(), json!(n));
    }
    if let Some(d) = description {
        old.insert("description".into(), json!(before.description));
        new.insert("description".into(), json!(d));
    }
    let after: Batch = sqlx::query_as(&format!(
        "update batches set name = coalesce($2, name), description = coalesce($3, description), \
           expiration_date = coalesce($4, expiration_date), amount_per_code = coalesce($5, amount_per_code), \
           updated_at = $6 where id = $1 returning {COLUMNS}"
    ))
    .bind(id)
    .bind(name)
    .bind(description)
    .bind(expiry)
    .bind(amount)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(name_taken)?;
    audit::record(
        conn,
        &acting
            .audit(Action::BatchUpdated, "batch", id)
            .before(Value::Object(old))
            .after(Value::Object(new))
            .metadata(json!({"codesUpdated": codes_updated})),
        now,
    )
    .await?;
    Ok(after)
}

/// Assigns the batch to a staff member who may manage batches, or clears the assignment.
pub async fn assign(conn: &mut PgConnection, id: Uuid, user: Option<Uuid>, acting: &Acting) -> Result<Batch, AppError> {
    let now = acting.now;
    let before = lock(conn, id).await?;
    check_assignee(conn, user, "userId").await?;
    if before.assigned_user_id == user {
        return Ok(before);
    }
    let after: Batch = sqlx::query_as(&format!(
        "update batches set assigned_user_id = $2, updated_at = $3 where id = $1 returning {COLUMNS}"
    ))
    .bind(id)
    .bind(user)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    audit::record(
        conn,
        &acting
            .audit(Action::BatchAssigned, "batch", id)
            .before(json!({"assignedUserId": before.assigned_user_id}))
            .after(json!({"assignedUserId": after.assigned_user_id})),
        now,
    )
    .await?;
    Ok(after)
}

/// What a deletion removed.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BatchDeleted)]
pub struct Deleted {
    pub codes: u64,
    pub downloads: u64,
    pub jobs_cancelled: u64,
}

/// Deletes a batch that nobody has redeemed from: its codes, its download records and the batch,
/// in the caller's transaction, audited with the counts. A batch with a redemption or a used or
/// redeemed code is refused (409: block it instead). A generation still waiting in the queue is
/// cancelled with it; one already running is refused (409: try again when it has finished).
pub async fn delete(conn: &mut PgConnection, id: Uuid, acting: &Acting) -> Result<Deleted, AppError> {
    let now = acting.now;
    let before = lock(conn, id).await?;
    let redemptions: i64 = sqlx::query_scalar("select count(*) from redemptions where batch_id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    if redemptions > 0 || redeemed_codes(conn, id).await? > 0 {
        return Err(AppError::conflict("id", HAS_REDEMPTIONS));
    }
    // a queued generation is cancelled (its row is locked by this update, so no worker can
    // claim it meanwhile); a running one holds on to the batch, so the deletion waits for it
    let jobs_cancelled = sqlx::query(
        "update jobs set status = 'cancelled', finished_at = $3, updated_at = $3, \
           last_error = 'cancelled: the batch was deleted' \
         where kind = $1 and payload->>'batchId' = $2 and status = 'queued'",
    )
    .bind(crate::codes::generate::KIND)
    .bind(id.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let running: i64 = sqlx::query_scalar(
        "select count(*) from jobs where kind = $1 and payload->>'batchId' = $2 and status = 'running'",
    )
    .bind(crate::codes::generate::KIND)
    .bind(id.to_string())
    .fetch_one(&mut *conn)
    .await?;
    if running > 0 {
        return Err(AppError::conflict(
            "id",
            "codes are being generated for this batch; delete it when generation has finished",
        ));
    }
    let referenced = |e: sqlx::Error| match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some(pg_codes::FOREIGN_KEY_VIOLATION) => {
            AppError::conflict("id", "other records still refer to this batch — block it instead")
        }
        _ => AppError::from(e),
    };
    let codes = sqlx::query("delete from promo_codes where batch_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(referenced)?
        .rows_affected();
    let downloads = sqlx::query("delete from code_downloads where batch_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(referenced)?
        .rows_affected();
    // import records (and their rejected lines) go with the batch; the audit log keeps them
    sqlx::query("delete from code_imports where batch_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(referenced)?;
    sqlx::query("delete from batches where id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(referenced)?;
    let deleted = Deleted {
        codes,
        downloads,
        jobs_cancelled,
    };
    audit::record(
        conn,
        &acting
            .audit(Action::BatchDeleted, "batch", id)
            .before(json!(before))
            .metadata(json!(deleted)),
        now,
    )
    .await?;
    Ok(deleted)
}

/// A bulk operation over batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BatchBulkAction)]
pub enum BulkAction {
    Block,
    Unblock,
    Delete,
    Status,
}

impl BulkAction {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "block" => Some(Self::Block),
            "unblock" => Some(Self::Unblock),
            "delete" => Some(Self::Delete),
            "status" => Some(Self::Status),
            _ => None,
        }
    }

    /// The permission the caller needs for this action.
    pub fn permission(self) -> Permission {
        match self {
            Self::Delete => Permission::BatchesDelete,
            Self::Block | Self::Unblock | Self::Status => Permission::BatchesStatusChange,
        }
    }
}

/// Whether a bulk operation changed one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BatchBulkDone)]
pub enum Done {
    Ok,
    Refused,
}

/// What happened to one batch of a bulk operation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BatchBulkOutcome)]
pub struct Outcome {
    pub id: Uuid,
    pub outcome: Done,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The most ids one bulk request may name.
pub const BULK_MAX: usize = 500;

/// Checks a bulk request before anything runs: ids present and not too many, status given when
/// the action needs one. Returns the ids without repeats, in their order.
pub fn check_bulk(ids: &[Uuid], action: BulkAction, status: Option<&str>) -> Result<Vec<Uuid>, AppError> {
    let mut errors = Vec::new();
    if ids.is_empty() || ids.len() > BULK_MAX {
        errors.push(crate::error::FieldError::new(
            "ids",
            format!("choose from 1 to {BULK_MAX} batches"),
        ));
    }
    match (action, status) {
        (BulkAction::Status, None) => errors.push(crate::error::FieldError::new("status", "choose a status")),
        (BulkAction::Status, Some(s)) if !["active", "blocked", "expired", "completed"].contains(&s) => errors.push(
            crate::error::FieldError::new("status", "must be active, blocked, expired or completed"),
        ),
        (BulkAction::Status, Some(_)) | (_, None) => {}
        (_, Some(_)) => errors.push(crate::error::FieldError::new(
            "status",
            "only the status action takes a status",
        )),
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let mut seen = std::collections::HashSet::new();
    Ok(ids.iter().copied().filter(|id| seen.insert(*id)).collect())
}

/// Applies one bulk action to one batch, with the same domain functions as the single
/// operations (and their audit rows).
pub async fn apply_one(
    conn: &mut PgConnection,
    id: Uuid,
    action: BulkAction,
    status: Option<&str>,
    acting: &Acting,
) -> Result<Option<String>, AppError> {
    match action {
        BulkAction::Delete => {
            delete(conn, id, acting).await?;
            Ok(None)
        }
        BulkAction::Block => Ok(Some(
            super::set_status(conn, id, "blocked", acting).await?.status.to_string(),
        )),
        BulkAction::Unblock => {
            let b = super::get(conn, id).await?;
            if b.status != "blocked" {
                return Err(AppError::conflict(
                    "status",
                    format!("the batch is {}, not blocked", b.status),
                ));
            }
            Ok(Some(
                super::set_status(conn, id, "active", acting).await?.status.to_string(),
            ))
        }
        BulkAction::Status => {
            let s = status.unwrap_or_default();
            Ok(Some(super::set_status(conn, id, s, acting).await?.status.to_string()))
        }
    }
}

/// The reason a refusal gives in a bulk outcome.
pub fn refusal(e: &AppError) -> String {
    match e {
        AppError::Conflict { message, .. } => message.clone(),
        AppError::NotFound(what) => format!("no such {what}"),
        AppError::Validation(errs) => errs
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        AppError::Forbidden(denied) => denied.to_string(),
        AppError::Busy(m) => m.clone(),
        _ => "failed".to_owned(),
    }
}

/// Runs a bulk action over the pool, one transaction per batch, and reports each batch's
/// outcome. Unexpected errors stop the run (nothing after them is attempted).
pub async fn bulk(
    pool: &sqlx::PgPool,
    ids: &[Uuid],
    action: BulkAction,
    status: Option<&str>,
    acting: &Acting,
) -> Result<Vec<Outcome>, AppError> {
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        let mut unit = Unit::begin(pool).await?;
        match apply_one(&mut unit, id, action, status, acting).await {
            Ok(status) => {
                unit.commit().await?;
                out.push(Outcome {
                    id,
                    outcome: Done::Ok,
                    status,
                    reason: None,
                });
            }
            Err(e @ AppError::Internal(_)) => return Err(e),
            Err(e) => {
                drop(unit);
                out.push(Outcome {
                    id,
                    outcome: Done::Refused,
                    status: None,
                    reason: Some(refusal(&e)),
                });
            }
        }
    }
    Ok(out)
}
