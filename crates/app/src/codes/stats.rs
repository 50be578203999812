//! `GET /api/v1/admin/promo-codes/stats` (PRD API tree): how many codes, and what they are worth,
//! in each status — over all batches and per batch. Read from the per-statement count deltas
//! (`batch_code_counts`, migration 11, decision 0011) that every statement touching codes
//! maintains, never by counting `promo_codes`: a few rows per batch whatever the campaign's size.

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::lifecycle::CodeStatus;
use crate::batches::lifecycle::BatchStatus;
use crate::error::AppError;

/// Codes in one status and their face value (RWF).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCount {
    pub status: CodeStatus,
    pub codes: i64,
    pub amount: i64,
}

/// One batch's codes by status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchCounts {
    pub batch_id: Uuid,
    pub batch_number: i64,
    pub name: String,
    pub batch_status: BatchStatus,
    pub codes: i64,
    pub amount: i64,
    /// Every status, zero included, in the order of [`CodeStatus::ALL`].
    pub by_status: Vec<StatusCount>,
}

/// All batches' codes by status (or one batch's, when asked for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeStats {
    pub codes: i64,
    pub amount: i64,
    pub by_status: Vec<StatusCount>,
    /// Newest batch first.
    pub batches: Vec<BatchCounts>,
}

#[derive(sqlx::FromRow)]
struct Row {
    batch_id: Uuid,
    batch_number: i64,
    name: String,
    batch_status: BatchStatus,
    status: Option<CodeStatus>,
    codes: i64,
    amount: i64,
}

fn every_status(found: impl Fn(CodeStatus) -> (i64, i64)) -> Vec<StatusCount> {
    CodeStatus::ALL
        .iter()
        .map(|&status| {
            let (codes, amount) = found(status);
            StatusCount { status, codes, amount }
        })
        .collect()
}

/// The statistics of every batch, or of `batch` alone (404 when it does not exist).
pub async fn code_stats(conn: &mut PgConnection, batch: Option<Uuid>) -> Result<CodeStats, AppError> {
    if let Some(id) = batch {
        crate::batches::get(conn, id).await?;
    }
    let rows: Vec<Row> = sqlx::query_as(
        "with c as ( \
           select batch_id, status, sum(codes)::int8 as codes, sum(amount)::int8 as amount \
           from batch_code_counts where ($1::uuid is null or batch_id = $1) \
           group by batch_id, status having sum(codes) <> 0) \
         select b.id as batch_id, b.batch_number, b.name, b.status as batch_status, c.status, \
                coalesce(c.codes, 0)::int8 as codes, coalesce(c.amount, 0)::int8 as amount \
         from batches b left join c on c.batch_id = b.id \
         where ($1::uuid is null or b.id = $1) \
         order by b.created_at desc, b.id",
    )
    .bind(batch)
    .fetch_all(&mut *conn)
    .await?;
    let mut batches: Vec<BatchCounts> = Vec::new();
    let mut per_batch: Vec<Vec<(CodeStatus, i64, i64)>> = Vec::new();
    for r in rows {
        if batches.last().is_none_or(|b| b.batch_id != r.batch_id) {
            batches.push(BatchCounts {
                batch_id: r.batch_id,
                batch_number: r.batch_number,
                name: r.name,
                batch_status: r.batch_status,
                codes: 0,
                amount: 0,
                by_status: Vec::new(),
            });
            per_batch.push(Vec::new());
        }
        if let (Some(status), Some(found)) = (r.status, per_batch.last_mut()) {
            found.push((status, r.codes, r.amount));
        }
    }
    for (b, found) in batches.iter_mut().zip(&per_batch) {
        b.by_status = every_status(|s| {
            found
                .iter()
                .filter(|f| f.0 == s)
                .fold((0, 0), |(c, a), f| (c + f.1, a + f.2))
        });
        b.codes = b.by_status.iter().map(|s| s.codes).sum();
        b.amount = b.by_status.iter().map(|s| s.amount).sum();
    }
    let by_status = every_status(|s| {
        batches
            .iter()
            .flat_map(|b| &b.by_status)
            .filter(|c| c.status == s)
            .fold((0, 0), |(c, a), x| (c + x.codes, a + x.amount))
    });
    Ok(CodeStats {
        codes: by_status.iter().map(|s| s.codes).sum(),
        amount: by_status.iter().map(|s| s.amount).sum(),
        by_status,
        batches,
    })
}
