//! Topping up an existing batch: more codes generated into it, within the batch maximum of the
//! settings, as one queued generation job. The API (`POST /api/v1/admin/batches/generate`) and
//! the batch page's top-up form both call [`top_up`], so they share every rule.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, Action, AuditEvent, RequestMeta};
use crate::error::AppError;
use crate::jobs::{self, NewJob};
use crate::settings::Settings;
use crate::web::auth::Principal;

/// A request to add `count` codes to batch `batch_id`.
pub struct TopUp {
    pub batch_id: Uuid,
    pub count: i64,
}

/// Queues the generation of `count` more codes into active batch `batch_id`, audited as
/// `batch.topped_up` by `who` in the caller's transaction, and returns the job's id: 422 naming
/// `count` when the batch maximum would be passed, 409 when the batch is not active or is
/// already generating.
pub async fn top_up(
    conn: &mut PgConnection,
    s: &Settings,
    t: TopUp,
    who: &Principal,
    meta: RequestMeta,
    now: DateTime<Utc>,
) -> Result<i64, AppError> {
    let TopUp { batch_id, count } = t;
    let requested_by = Some(who.user_id);
    let max = i64::from(s.business.batch_management.max_codes_per_batch);
    let batch = super::get(conn, batch_id).await?;
    let have = codes_in(conn, batch_id).await?;
    if count < 1 || have + count > max {
        return Err(AppError::field(
            "count",
            format!(
                "must be from 1 to {} (the batch holds {have} of at most {max})",
                (max - have).max(0)
            ),
        ));
    }
    if batch.status != "active" {
        return Err(AppError::conflict("batchId", format!("the batch is {}", batch.status)));
    }
    let payload = crate::codes::generate::GenerateJob {
        batch_id,
        count,
        requested_by,
        until_count: Some(have + count),
    };
    let job = NewJob::new(crate::codes::generate::KIND, &payload)
        .map_err(|e| AppError::Internal(e.into()))?
        .unique(batch_id.to_string())
        .max_attempts(3)
        .created_by(requested_by);
    let job_id = jobs::enqueue(conn, &job, now)
        .await?
        .ok_or_else(|| AppError::conflict("batchId", "codes are already being generated for this batch"))?;
    let event = AuditEvent::new(who.actor(), Action::BatchToppedUp, "batch", batch_id)
        .after(json!({"count": count, "codesBefore": have, "codesAfter": have + count, "jobId": job_id}))
        .meta(meta);
    audit::record(conn, &event, now).await?;
    Ok(job_id)
}

/// How many more codes the batch may take (for the page's form).
pub async fn room(conn: &mut PgConnection, s: &Settings, batch_id: Uuid) -> Result<i64, sqlx::Error> {
    let have = codes_in(conn, batch_id).await?;
    Ok((i64::from(s.business.batch_management.max_codes_per_batch) - have).max(0))
}

/// How many codes the batch holds now.
async fn codes_in(conn: &mut PgConnection, batch_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from promo_codes where batch_id = $1")
        .bind(batch_id)
        .fetch_one(conn)
        .await
}
