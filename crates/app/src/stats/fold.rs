//! The `stats.fold` job: compacts the triggers' delta rows into one row per key, once a minute.
//!
//! Only hours that received deltas since the last fold are rewritten (found through the partial
//! index on unfolded rows). One statement deletes every row of those (hour, fact) pairs and
//! inserts their sums: the delete sees only rows committed before it started, so a delta a
//! concurrent redemption appends meanwhile stays, unfolded, for the next run — nothing is lost or
//! counted twice, and readers see the table before or after, never between.

use async_trait::async_trait;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::jobs::{JobContext, JobError, JobHandler, NewJob};

pub const KIND: &str = "stats.fold";

/// Folds every hour with unfolded deltas; returns how many rows the table has for them now.
pub async fn fold(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "with dirty as (select distinct hour, fact from stats_hourly where not folded), \
         gone as (delete from stats_hourly s using dirty d where s.hour = d.hour and s.fact = d.fact returning s.*) \
         insert into stats_hourly (hour, fact, batch_id, state, network, language, segment, n, amount, ms, folded) \
         select hour, fact, batch_id, state, network, language, segment, sum(n), sum(amount), sum(ms), true \
         from gone group by hour, fact, batch_id, state, network, language, segment \
         having sum(n) <> 0 or sum(amount) <> 0 or sum(ms) <> 0",
    )
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// How many delta rows wait to be folded.
pub async fn unfolded(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from stats_hourly where not folded")
        .fetch_one(conn)
        .await
}

pub struct Fold;

#[async_trait]
impl JobHandler for Fold {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let mut conn = ctx.pool.acquire().await?;
        let rows = fold(&mut conn).await?;
        Ok(Some(json!({ "foldedRows": rows })))
    }
}

/// Enqueues the fold once a minute and the retention once an hour; the unique keys make every
/// worker's scheduler agree on one run per period.
pub async fn schedule(pool: PgPool, clock: SharedClock, shutdown: CancellationToken) {
    use crate::jobs::housekeeping::schedule_periodic;
    let fold = schedule_periodic(
        pool.clone(),
        clock.clone(),
        shutdown.clone(),
        "the rollup fold",
        |now| NewJob {
            kind: KIND,
            payload: json!({}),
            run_at: None,
            priority: -5,
            max_attempts: 2,
            unique_key: Some(now.format("%Y-%m-%dT%H:%M").to_string()),
            created_by: None,
        },
    );
    let retention = schedule_periodic(pool, clock, shutdown, "the analytics retention", |now| NewJob {
        kind: super::retention::KIND,
        payload: json!({}),
        run_at: None,
        priority: -10,
        max_attempts: 3,
        unique_key: Some(now.format("%Y-%m-%dT%H").to_string()),
        created_by: None,
    });
    tokio::join!(fold, retention);
}
