//! The partial-code search index (`promo_code_search`, a trigram GIN). It is kept off the insert
//! path (decision 0009): every round of generation or import queues `codes.index_search` for the
//! serial range it added, in the same transaction, and the job copies those codes into the index.
//! Exact lookups never wait for it; fragment search finds new codes moments after they land.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::jobs::{self, JobContext, JobError, JobHandler, NewJob};

pub const KIND: &str = "codes.index_search";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexJob {
    pub batch_id: Uuid,
    pub serial_from: i64,
    pub serial_to: i64,
}

/// Queues indexing of the batch's codes with serials `from..=to` (call inside the transaction
/// that added them, so a committed code is always eventually searchable).
pub async fn enqueue(
    conn: &mut PgConnection,
    batch_id: Uuid,
    from: i64,
    to: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let job = NewJob::new(
        KIND,
        &IndexJob {
            batch_id,
            serial_from: from,
            serial_to: to,
        },
    )
    .map_err(|e| sqlx::Error::Protocol(e.to_string()))?
    .max_attempts(10);
    jobs::enqueue(conn, &job, now).await?;
    Ok(())
}

/// Copies the batch's codes with serials `from..=to` into the search index; idempotent.
pub async fn index_range(conn: &mut PgConnection, batch_id: Uuid, from: i64, to: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "insert into promo_code_search (code_id, code, batch_id) \
         select id, code, batch_id from promo_codes where batch_id = $1 and serial between $2 and $3 \
         on conflict (code_id) do nothing",
    )
    .bind(batch_id)
    .bind(from as i32)
    .bind(to.min(i64::from(i32::MAX)) as i32)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// How many of the batch's codes are not yet searchable by fragment.
pub async fn pending(conn: &mut PgConnection, batch_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from promo_codes p where p.batch_id = $1 \
         and not exists (select 1 from promo_code_search s where s.code_id = p.id)",
    )
    .bind(batch_id)
    .fetch_one(&mut *conn)
    .await
}

pub struct Handler;

#[async_trait]
impl JobHandler for Handler {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let job: IndexJob = ctx.payload()?;
        let mut conn = ctx.pool.acquire().await?;
        let indexed = index_range(&mut conn, job.batch_id, job.serial_from, job.serial_to).await?;
        Ok(Some(json!({"indexed": indexed})))
    }
}
