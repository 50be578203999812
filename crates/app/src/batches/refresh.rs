//! A batch's status follows the facts. Two rules, applied to active and blocked batches:
//!
//! 1. **Expiry**: a batch whose `expiration_date` plus the grace period (settings
//!    `business.expiration.gracePeriodHours`) has passed becomes `expired`, and its still active
//!    codes become `expired` with it — unless settings `autoExpireEnabled` is off.
//! 2. **Nothing left to redeem**: a batch with codes, every one of them `redeemed` or `expired`,
//!    becomes `completed` when at least one was redeemed; when none was (all expired) it is
//!    `expired`, not completed. Blocked, reported, active and used (being paid) codes keep a batch
//!    open.
//!
//! The moves are [`super::lifecycle`]'s ([`super::lifecycle::Cause::ExpiryPassed`] and
//! [`super::lifecycle::Cause::NothingLeft`]); the expired codes get an event row each.
//!
//! [`refresh_status`] applies both to one batch (the redemption flow calls it after a
//! redemption); the `batches.refresh_status` job applies the same statements to every batch once
//! a minute ([`schedule`]). Each automatic change is audited with the system as the actor.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::BatchStatus;
use crate::clock::SharedClock;
use crate::jobs::{JobContext, JobError, JobHandler};
use crate::settings::model::Expiration;
use crate::settings::SettingsStore;

pub const KIND: &str = "batches.refresh_status";

pub use super::lifecycle::Change;

async fn apply(
    conn: &mut PgConnection,
    batch: Option<Uuid>,
    now: DateTime<Utc>,
    rules: &Expiration,
) -> Result<Vec<Change>, sqlx::Error> {
    super::lifecycle::refresh(conn, batch, now, rules).await
}

/// Brings one batch's status in line with its expiry and its codes, in the caller's
/// transaction. Returns the change made, if any. Call it after a redemption or payout: it locks
/// the batch row only when it changes it, so concurrent redemptions of one batch do not queue on
/// it in the usual case (nothing to change).
pub async fn refresh_status(
    conn: &mut PgConnection,
    batch_id: Uuid,
    now: DateTime<Utc>,
    rules: &Expiration,
) -> Result<Option<Change>, sqlx::Error> {
    Ok(apply(conn, Some(batch_id), now, rules).await?.pop())
}

/// Whether [`refresh_status`] would change `batch_id` now: one index probe per open status, so
/// callers on a hot path (every payout) can skip the transaction when, as nearly always, it would
/// not. (Open statuses are listed, not excluded: an index scan for "not redeemed" would walk every
/// redeemed code of a nearly finished batch.)
pub async fn may_change(
    pool: &PgPool,
    batch_id: Uuid,
    now: DateTime<Utc>,
    rules: &Expiration,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from batches b where b.id = $1 and b.status in ('active', 'blocked') \
           and (b.expiration_date <= $2 or not exists (select 1 from promo_codes c where c.batch_id = b.id \
                and c.status in ('active', 'used', 'blocked', 'reported'))))",
    )
    .bind(batch_id)
    .bind(super::lifecycle::expired_before(rules, now))
    .fetch_one(pool)
    .await
}

/// The same rules over every batch, in the caller's transaction.
pub async fn refresh_all(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    rules: &Expiration,
) -> Result<Vec<Change>, sqlx::Error> {
    apply(conn, None, now, rules).await
}

/// The `batches.refresh_status` job, under the expiry settings of the moment it runs.
pub struct RefreshStatus {
    pub settings: Arc<SettingsStore>,
}

#[async_trait]
impl JobHandler for RefreshStatus {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let mut tx = ctx.pool.begin().await?;
        let settings = self.settings.get();
        let changes = refresh_all(&mut tx, ctx.clock.now(), &settings.0.business.expiration).await?;
        tx.commit().await?;
        let mut conn = ctx.pool.acquire().await?;
        super::compact_counts(&mut conn, 12).await?;
        let count = |to: BatchStatus| changes.iter().filter(|c| c.to == to).count();
        Ok(Some(json!({
            "expired": count(BatchStatus::Expired),
            "completed": count(BatchStatus::Completed),
            "codesExpired": changes.iter().map(|c| c.codes_expired).sum::<i64>(),
        })))
    }
}

/// Enqueues the refresh once a minute; the per-minute unique key makes every worker's scheduler
/// agree on one run.
pub async fn schedule(pool: PgPool, clock: SharedClock, shutdown: CancellationToken) {
    crate::jobs::housekeeping::schedule_periodic(
        pool,
        clock,
        shutdown,
        "the batch status refresh",
        crate::jobs::housekeeping::every_minute(KIND, -5, 2),
    )
    .await
}
