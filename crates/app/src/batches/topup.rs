//! Topping up an existing batch: more codes generated into it, within the batch maximum of the
//! settings, as one queued generation job. The API (`POST /api/v1/admin/batches/generate`) and
//! the batch page's top-up form both call [`top_up`], so they share every rule.

use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::BatchStatus;
use crate::audit::{self, Action};
use crate::error::AppError;
use crate::jobs::{self, NewJob};
use crate::settings::Settings;
use crate::unit::Acting;

/// A request to add `count` codes to batch `batch_id`.
#[derive(Debug, Clone, Copy)]
pub struct TopUp {
    pub batch_id: Uuid,
    pub count: i64,
}

/// The rules every top-up meets, from the API, the page or the CLI: `count` keeps the batch
/// within the settings' maximum (422 naming `count`), and the batch is active (409). Returns how
/// many codes the batch holds now.
pub async fn check(conn: &mut PgConnection, s: &Settings, t: &TopUp) -> Result<i64, AppError> {
    let max = i64::from(s.business.batch_management.max_codes_per_batch);
    let batch = super::get(conn, t.batch_id).await?;
    let have = codes_in(conn, t.batch_id).await?;
    if t.count < 1 || t.count > max - have {
        return Err(AppError::field(
            "count",
            format!(
                "must be from 1 to {} (the batch holds {have} of at most {max})",
                (max - have).max(0)
            ),
        ));
    }
    if batch.status != BatchStatus::Active {
        return Err(AppError::conflict("batchId", format!("the batch is {}", batch.status)));
    }
    Ok(have)
}

/// Queues the generation of `count` more codes into active batch `batch_id` ([`check`]),
/// audited as `batch.topped_up` in the caller's transaction, and returns the job's id: 409 also
/// when the batch is already generating.
pub async fn top_up(conn: &mut PgConnection, s: &Settings, t: TopUp, acting: &Acting) -> Result<i64, AppError> {
    let have = check(conn, s, &t).await?;
    let TopUp { batch_id, count } = t;
    let requested_by = acting.user_id();
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
    let job_id = jobs::enqueue(conn, &job, acting.now)
        .await?
        .ok_or_else(|| AppError::conflict("batchId", "codes are already being generated for this batch"))?;
    let event = acting
        .audit(Action::BatchToppedUp, "batch", batch_id)
        .after(json!({"count": count, "codesBefore": have, "codesAfter": have + count, "jobId": job_id}));
    audit::record(conn, &event, acting.now).await?;
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
