//! The `stats.fold` job: compacts the triggers' delta rows into one row per key, once a minute.
//!
//! Only hours that received deltas since the last fold are rewritten (found through the partial
//! index on unfolded rows). One statement deletes every row of those (hour, fact) pairs and
//! inserts their sums: the delete sees only rows committed before it started, so a delta a
//! concurrent redemption appends meanwhile stays, unfolded, for the next run — nothing is lost or
//! counted twice, and readers see the table before or after, never between.
//!
//! The same statement adds the new deltas to the all-time tier: rows at hour `-infinity`, one per
//! fact and key, that [`super::read::since_beginning`] reads instead of every hour there ever was
//! (a campaign of two years has 17,520 hours). A second statement merges the tier's rows when a
//! key has gathered more than one.

use async_trait::async_trait;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::jobs::{JobContext, JobError, JobHandler, NewJob};

pub const KIND: &str = "stats.fold";

const KEY: &str = "fact, batch_id, state, network, language, segment";

/// Folds every hour with unfolded deltas and adds those deltas to the all-time tier; returns how
/// many hourly rows the folded hours have now.
pub async fn fold(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    let hourly: i64 = sqlx::query_scalar(&format!(
        "with dirty as (select distinct hour, fact from stats_hourly where not folded), \
         gone as (delete from stats_hourly s using dirty d where s.hour = d.hour and s.fact = d.fact returning s.*), \
         hourly as ( \
           insert into stats_hourly (hour, {KEY}, n, amount, ms, folded) \
           select hour, {KEY}, sum(n), sum(amount), sum(ms), true from gone group by hour, {KEY} \
           having sum(n) <> 0 or sum(amount) <> 0 or sum(ms) <> 0 returning 1), \
         tier as ( \
           insert into stats_hourly (hour, {KEY}, n, amount, ms, folded) \
           select '-infinity', {KEY}, sum(n), sum(amount), sum(ms), true from gone where not folded group by {KEY} \
           having sum(n) <> 0 or sum(amount) <> 0 or sum(ms) <> 0) \
         select count(*) from hourly"
    ))
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(&format!(
        "with busy as (select distinct fact from stats_hourly where hour = '-infinity' \
                       group by {KEY} having count(*) > 1), \
         gone as (delete from stats_hourly s using busy b where s.hour = '-infinity' and s.fact = b.fact returning s.*) \
         insert into stats_hourly (hour, {KEY}, n, amount, ms, folded) \
         select '-infinity', {KEY}, sum(n), sum(amount), sum(ms), true from gone group by {KEY} \
         having sum(n) <> 0 or sum(amount) <> 0 or sum(ms) <> 0"
    ))
    .execute(&mut *conn)
    .await?;
    Ok(hourly)
}

/// How many delta rows wait to be folded.
pub async fn unfolded(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from stats_hourly where not folded")
        .fetch_one(conn)
        .await
}

/// Recounts every rollup from the base tables, folded, under the table's exclusive lock (migration
/// 36's `stats_rebuild()`, which also made the first rollups): after a bulk load made with the
/// triggers off ([`set_triggers`]). Returns the rows written. Attempts whose log rows the retention
/// has deleted are not recounted, and rollups older than the retention come back until its next run.
pub async fn rebuild(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select stats_rebuild()").fetch_one(conn).await
}

/// Switches the rollup triggers ([`super::TRIGGERS`]) on or off — for benchmarks and bulk loads in
/// a scratch database only: while they are off, nothing is counted. Each switch takes its table's
/// exclusive lock for a moment.
pub async fn set_triggers(conn: &mut PgConnection, on: bool) -> Result<(), sqlx::Error> {
    let verb = if on { "enable" } else { "disable" };
    for (table, trigger) in super::TRIGGERS {
        sqlx::query(&format!("alter table {table} {verb} trigger {trigger}"))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
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
        crate::jobs::housekeeping::every_minute(KIND, -5, 2),
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
