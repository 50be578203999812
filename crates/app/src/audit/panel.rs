//! The chain panel: how far the chain is sealed, its head hash, the last verification and its
//! result, and "verify now" — a job ([`Handler`], kind [`KIND`]) that walks the chain with
//! [`super::chain::verify_observed`], reports its progress, records the result in
//! `audit_verifications` and audits it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{chain, Action, Actor, AuditEvent};
use crate::error::AppError;
use crate::jobs::{self, JobContext, JobError, JobHandler, JobView, NewJob};
use crate::unit::Acting;

pub const KIND: &str = "audit.verify";

/// One finished verification.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub id: i64,
    pub job_id: Option<i64>,
    pub requested_by: Option<Uuid>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Rows checked.
    pub checked: i64,
    pub heads_checked: i64,
    /// Rows not yet sealed at the time.
    pub unsealed: i64,
    pub intact: bool,
    /// Where it broke, when it did.
    pub break_seq: Option<i64>,
    pub break_id: Option<Uuid>,
    pub reason: Option<String>,
}

/// What the chain panel shows.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChainStatus {
    /// The last sealed chain position (rows 1 to this are in the chain).
    pub sealed_seq: Option<i64>,
    /// The audit row at that position.
    pub sealed_id: Option<Uuid>,
    pub sealed_at: Option<DateTime<Utc>>,
    /// The chain's head hash (hex): an export's last hash should match it.
    pub head_hash: Option<String>,
    /// Rows written but not yet sealed.
    pub unsealed: i64,
    pub last_verification: Option<Verification>,
    /// The latest "verify now" job.
    pub job: Option<JobView>,
    /// Its progress, 0 to 100.
    pub percent: Option<f64>,
}

#[derive(sqlx::FromRow)]
struct Head {
    chain_seq: i64,
    audit_id: Uuid,
    integrity_hash: Vec<u8>,
    sealed_at: DateTime<Utc>,
}

/// The panel's state now.
pub async fn status(conn: &mut PgConnection) -> Result<ChainStatus, AppError> {
    let head: Option<Head> = sqlx::query_as(
        "select chain_seq, audit_id, integrity_hash, sealed_at from audit_chain order by chain_seq desc limit 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    let unsealed: i64 = sqlx::query_scalar("select count(*) from audit_pending")
        .fetch_one(&mut *conn)
        .await?;
    let last_verification: Option<Verification> = sqlx::query_as(
        "select id, job_id, requested_by, started_at, finished_at, checked, heads_checked, unsealed, intact, \
         break_seq, break_id, reason from audit_verifications order by id desc limit 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    let job_id: Option<i64> = sqlx::query_scalar("select id from jobs where kind = $1 order by id desc limit 1")
        .bind(KIND)
        .fetch_optional(&mut *conn)
        .await?;
    let job = match job_id {
        Some(id) => Some(jobs::get(conn, id).await?),
        None => None,
    };
    Ok(ChainStatus {
        sealed_seq: head.as_ref().map(|h| h.chain_seq),
        sealed_id: head.as_ref().map(|h| h.audit_id),
        sealed_at: head.as_ref().map(|h| h.sealed_at),
        head_hash: head.map(|h| hex::encode(h.integrity_hash)),
        unsealed,
        last_verification,
        percent: job.as_ref().and_then(JobView::percent),
        job,
    })
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    requested_by: Option<Uuid>,
}

/// Queues a verification (one at a time: asking again while one runs returns that one) and
/// audits the request. Returns the job's id.
pub async fn request(conn: &mut PgConnection, acting: &Acting) -> Result<i64, AppError> {
    let job = NewJob::new(
        KIND,
        &Payload {
            requested_by: acting.user_id(),
        },
    )
    .map_err(|e| AppError::Internal(e.into()))?
    .unique("chain")
    .max_attempts(3)
    .created_by(acting.user_id());
    let id = jobs::enqueue_or_join(conn, &job, acting.now).await?;
    super::record(
        conn,
        &acting
            .audit(Action::AuditVerifyRequested, "audit_chain", "chain")
            .metadata(json!({"jobId": id})),
        acting.now,
    )
    .await?;
    Ok(id)
}

/// Runs a verification for the panel.
pub struct Handler;

#[async_trait]
impl JobHandler for Handler {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let payload: Payload = ctx.payload()?;
        let started_at = ctx.clock.now();
        let total: i64 = sqlx::query_scalar("select count(*) from audit_chain")
            .fetch_one(&ctx.pool)
            .await?;
        ctx.progress(0, total.max(1), Some("verifying")).await?;
        let (tx, mut rx) = tokio::sync::watch::channel(0u64);
        let pool = ctx.pool.clone();
        let walk = tokio::spawn(async move { chain::verify_observed(&pool, Some(&tx)).await });
        tokio::pin!(walk);
        let report = loop {
            tokio::select! {
                done = &mut walk => break done.map_err(|e| JobError::Retryable(e.into()))??,
                changed = rx.changed() => {
                    if changed.is_ok() {
                        let done = *rx.borrow_and_update() as i64;
                        ctx.progress(done, total.max(done).max(1), None).await?;
                    }
                }
            }
        };
        let finished_at = ctx.clock.now();
        let brk = report.first_break.clone();
        let mut tx = ctx.pool.begin().await?;
        sqlx::query(
            "insert into audit_verifications (job_id, requested_by, started_at, finished_at, checked, heads_checked, \
             unsealed, intact, break_seq, break_id, reason) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(ctx.id)
        .bind(payload.requested_by)
        .bind(started_at)
        .bind(finished_at)
        .bind(report.checked as i64)
        .bind(report.heads_checked as i64)
        .bind(report.unsealed)
        .bind(report.is_intact())
        .bind(brk.as_ref().map(|b| b.chain_seq))
        .bind(brk.as_ref().and_then(|b| b.id))
        .bind(brk.as_ref().map(|b| b.reason.clone()))
        .execute(&mut *tx)
        .await?;
        let summary = json!({
            "checked": report.checked,
            "intact": report.is_intact(),
            "breakSeq": brk.as_ref().map(|b| b.chain_seq),
            "reason": brk.as_ref().map(|b| b.reason.clone()),
            "requestedBy": payload.requested_by,
            "jobId": ctx.id,
        });
        super::record(
            &mut tx,
            &AuditEvent::new(Actor::System, Action::AuditChainVerified, "audit_chain", "chain")
                .metadata(summary.clone()),
            finished_at,
        )
        .await?;
        tx.commit().await?;
        ctx.progress(
            report.checked as i64,
            total.max(report.checked as i64).max(1),
            Some("done"),
        )
        .await?;
        Ok(Some(summary))
    }
}
