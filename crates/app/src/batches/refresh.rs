//! A batch's status follows the facts. Two rules, applied to active and blocked batches:
//!
//! 1. **Expiry**: a batch whose `expiration_date` has passed becomes `expired`, and its still
//!    active codes become `expired` with it.
//! 2. **Nothing left to redeem**: a batch with codes, every one of them `redeemed` or `expired`,
//!    becomes `completed` when at least one was redeemed; when none was (all expired) it is
//!    `expired`, not completed. Blocked, reported, active and used (being paid) codes keep a batch
//!    open.
//!
//! [`refresh_status`] applies both to one batch (the redemption flow calls it after a
//! redemption); the `batches.refresh_status` job applies the same statements to every batch once
//! a minute ([`schedule`]). Each automatic change is audited with the system as the actor.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::audit::{self, Action, Actor, AuditEvent};
use crate::clock::SharedClock;
use crate::jobs::{JobContext, JobError, JobHandler, NewJob};

pub const KIND: &str = "batches.refresh_status";

/// One automatic status change.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub batch_id: Uuid,
    pub from: String,
    pub to: String,
    pub codes_expired: i64,
    pub reason: String,
}

/// Rule 1, for one batch (`$1`) or all (`$1` null).
const EXPIRE: &str = "with due as ( \
       select id, status from batches \
       where status in ('active', 'blocked') and expiration_date <= $2 and ($1::uuid is null or id = $1) \
       for update), \
     codes as ( \
       update promo_codes c set status = 'expired' from due \
       where c.batch_id = due.id and c.status = 'active' returning c.batch_id), \
     upd as ( \
       update batches b set status = 'expired', updated_at = $2 from due where b.id = due.id \
       returning b.id, due.status as from_status) \
     select upd.id as batch_id, upd.from_status as \"from\", 'expired' as \"to\", \
       (select count(*) from codes where codes.batch_id = upd.id)::int8 as codes_expired, \
       'the expiry date has passed' as reason \
     from upd";

/// Rule 2, for one batch (`$1`) or all (`$1` null).
const SETTLE: &str = "with done as ( \
       select b.id, b.status from batches b \
       where b.status in ('active', 'blocked') and ($1::uuid is null or b.id = $1) \
         and exists (select 1 from promo_codes c where c.batch_id = b.id) \
         and not exists (select 1 from promo_codes c where c.batch_id = b.id \
                         and c.status in ('active', 'used', 'blocked', 'reported')) \
       for update of b), \
     upd as ( \
       update batches b set status = case \
           when exists (select 1 from promo_codes c where c.batch_id = b.id and c.status = 'redeemed') then 'completed' \
           else 'expired' end, \
         updated_at = $2 \
       from done where b.id = done.id \
       returning b.id, done.status as from_status, b.status as to_status) \
     select id as batch_id, from_status as \"from\", to_status as \"to\", 0::int8 as codes_expired, \
       case when to_status = 'completed' then 'every code is redeemed or expired' else 'every code has expired' end as reason \
     from upd";

async fn apply(conn: &mut PgConnection, batch: Option<Uuid>, now: DateTime<Utc>) -> Result<Vec<Change>, sqlx::Error> {
    let mut changes: Vec<Change> = sqlx::query_as(EXPIRE)
        .bind(batch)
        .bind(now)
        .fetch_all(&mut *conn)
        .await?;
    let settled: Vec<Change> = sqlx::query_as(SETTLE)
        .bind(batch)
        .bind(now)
        .fetch_all(&mut *conn)
        .await?;
    changes.extend(settled);
    for c in &changes {
        audit::record(
            conn,
            &AuditEvent::new(Actor::System, Action::BatchStatusChanged, "batch", c.batch_id)
                .before(json!({"status": c.from}))
                .after(json!({"status": c.to}))
                .metadata(json!({"automatic": true, "reason": c.reason, "codesExpired": c.codes_expired})),
            now,
        )
        .await?;
    }
    Ok(changes)
}

/// Brings one batch's status in line with its expiry and its codes, in the caller's
/// transaction. Returns the change made, if any. Call it after a redemption or payout: it locks
/// the batch row only when it changes it, so concurrent redemptions of one batch do not queue on
/// it in the usual case (nothing to change).
pub async fn refresh_status(
    conn: &mut PgConnection,
    batch_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Change>, sqlx::Error> {
    Ok(apply(conn, Some(batch_id), now).await?.pop())
}

/// Whether [`refresh_status`] would change `batch_id` now: one index probe per open status, so
/// callers on a hot path (every payout) can skip the transaction when, as nearly always, it would
/// not. (Open statuses are listed, not excluded: an index scan for "not redeemed" would walk every
/// redeemed code of a nearly finished batch.)
pub async fn may_change(pool: &PgPool, batch_id: Uuid, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from batches b where b.id = $1 and b.status in ('active', 'blocked') \
           and (b.expiration_date <= $2 or not exists (select 1 from promo_codes c where c.batch_id = b.id \
                and c.status in ('active', 'used', 'blocked', 'reported'))))",
    )
    .bind(batch_id)
    .bind(now)
    .fetch_one(pool)
    .await
}

/// The same rules over every batch, in the caller's transaction.
pub async fn refresh_all(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<Vec<Change>, sqlx::Error> {
    apply(conn, None, now).await
}

/// The `batches.refresh_status` job.
pub struct RefreshStatus;

#[async_trait]
impl JobHandler for RefreshStatus {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let mut tx = ctx.pool.begin().await?;
        let changes = refresh_all(&mut tx, ctx.clock.now()).await?;
        tx.commit().await?;
        let mut conn = ctx.pool.acquire().await?;
        super::compact_counts(&mut conn, 12).await?;
        let count = |to: &str| changes.iter().filter(|c| c.to == to).count();
        Ok(Some(json!({
            "expired": count("expired"),
            "completed": count("completed"),
            "codesExpired": changes.iter().map(|c| c.codes_expired).sum::<i64>(),
        })))
    }
}

/// Enqueues the refresh once a minute; the per-minute unique key makes every worker's scheduler
/// agree on one run.
pub async fn schedule(pool: PgPool, clock: SharedClock, shutdown: CancellationToken) {
    crate::jobs::housekeeping::schedule_periodic(pool, clock, shutdown, "the batch status refresh", |now| NewJob {
        kind: KIND,
        payload: json!({}),
        run_at: None,
        priority: -5,
        max_attempts: 2,
        unique_key: Some(now.format("%Y-%m-%dT%H:%M").to_string()),
        created_by: None,
    })
    .await
}
