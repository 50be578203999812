//! Reading the rollups: sums over `stats_hourly` (folded rows and deltas alike), bucketed by hour,
//! Kigali day or the whole range, grouped by any of the dimensions. One prepared statement for
//! every shape of question; it reads the rows of one fact in one range through
//! `stats_hourly_fact_hour_idx` and never touches a base table.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Bucket, Dim, Fact};

/// A question to the rollups: one fact over the hours that start in `[from, to)`.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub fact: Fact,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub bucket: Bucket,
    /// The dimensions rows are grouped by; the others are summed over (and come back `None`).
    pub group: &'a [Dim],
    /// Only this batch's rows.
    pub batch: Option<Uuid>,
}

impl<'a> Query<'a> {
    /// The whole range in one row per group, over every batch.
    pub fn new(fact: Fact, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        Query {
            fact,
            from,
            to,
            bucket: Bucket::All,
            group: &[],
            batch: None,
        }
    }

    pub fn bucket(self, bucket: Bucket) -> Self {
        Query { bucket, ..self }
    }

    pub fn group(self, group: &'a [Dim]) -> Self {
        Query { group, ..self }
    }

    pub fn batch(self, batch: Option<Uuid>) -> Self {
        Query { batch, ..self }
    }
}

/// One bucket of one group: counts and sums. A dimension the query did not group by is `None`;
/// a grouped one is `""` where the fact has none (the network of a dial the gateway did not name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// The bucket's start (an hour, or a Kigali day's 22:00 UTC); `None` for [`Bucket::All`].
    pub at: Option<DateTime<Utc>>,
    pub batch_id: Option<Uuid>,
    pub state: Option<String>,
    pub network: Option<String>,
    pub language: Option<String>,
    pub segment: Option<String>,
    /// How many (redemptions, payouts, attempts, reversals).
    pub n: i64,
    /// Their sum in RWF.
    pub amount: i64,
    /// [`Fact::Paid`]: the sum of milliseconds from redemption to money (divide by `n`).
    pub ms: i64,
}

const SERIES: &str = "select case $4 when 'hour' then hour \
                when 'day' then date_bin('1 day', hour, timestamptz '2000-01-01 22:00:00+00') end as at, \
           case when $5 then batch_id end as batch_id, \
           case when $6 then state end as state, \
           case when $7 then network end as network, \
           case when $8 then language end as language, \
           case when $9 then segment end as segment, \
           sum(n)::int8 as n, sum(amount)::int8 as amount, sum(ms)::int8 as ms \
    from stats_hourly \
    where fact = $1 and hour >= $2 and hour < $3 and ($10::uuid is null or batch_id = $10) \
    group by 1, 2, 3, 4, 5, 6 \
    having sum(n) <> 0 or sum(amount) <> 0 or sum(ms) <> 0 \
    order by 1, 2, 3, 4, 5, 6";

/// The rows of `q`, in time order then by group. Buckets and groups with nothing in them are
/// left out (a chart fills its own gaps).
pub async fn series(conn: &mut PgConnection, q: &Query<'_>) -> Result<Vec<Row>, sqlx::Error> {
    let by = |d: Dim| q.group.contains(&d);
    sqlx::query_as(SERIES)
        .bind(q.fact.as_str())
        .bind(q.from)
        .bind(q.to)
        .bind(q.bucket.as_str())
        .bind(by(Dim::Batch))
        .bind(by(Dim::State))
        .bind(by(Dim::Network))
        .bind(by(Dim::Language))
        .bind(by(Dim::Segment))
        .bind(q.batch)
        .fetch_all(conn)
        .await
}

const SINCE_BEGINNING: &str = "select null::timestamptz as at, \
           case when $2 then batch_id end as batch_id, \
           case when $3 then state end as state, \
           case when $4 then network end as network, \
           case when $5 then language end as language, \
           case when $6 then segment end as segment, \
           sum(n)::int8 as n, sum(amount)::int8 as amount, sum(ms)::int8 as ms \
    from stats_hourly \
    where fact = $1 and (hour = '-infinity' or not folded) and ($7::uuid is null or batch_id = $7) \
    group by 1, 2, 3, 4, 5, 6 \
    having sum(n) <> 0 or sum(amount) <> 0 or sum(ms) <> 0 \
    order by 1, 2, 3, 4, 5, 6";

/// Everything since the campaign began ("in all"), grouped by `group` (optionally one batch's):
/// the all-time tier, one row per key whatever the campaign's length, plus the deltas not folded
/// yet — exact at once, like [`series`]. Unlike a [`series`] over [`all_time`], it keeps counting
/// what the retention deleted from the hours.
pub async fn since_beginning(
    conn: &mut PgConnection,
    fact: Fact,
    group: &[Dim],
    batch: Option<Uuid>,
) -> Result<Vec<Row>, sqlx::Error> {
    let by = |d: Dim| group.contains(&d);
    sqlx::query_as(SINCE_BEGINNING)
        .bind(fact.as_str())
        .bind(by(Dim::Batch))
        .bind(by(Dim::State))
        .bind(by(Dim::Network))
        .bind(by(Dim::Language))
        .bind(by(Dim::Segment))
        .bind(batch)
        .fetch_all(conn)
        .await
}

/// The fact's total over `[from, to)` (optionally one batch's): one row, zeros when nothing.
pub async fn totals(
    conn: &mut PgConnection,
    fact: Fact,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    batch: Option<Uuid>,
) -> Result<Row, sqlx::Error> {
    let rows = series(conn, &Query::new(fact, from, to).batch(batch)).await?;
    Ok(rows.into_iter().next().unwrap_or(Row {
        at: None,
        batch_id: None,
        state: None,
        network: None,
        language: None,
        segment: None,
        n: 0,
        amount: 0,
        ms: 0,
    }))
}

/// A range that holds every hour the rollups can have ("in all"): from 2000 to 2200.
pub fn all_time() -> (DateTime<Utc>, DateTime<Utc>) {
    let at = |y| {
        chrono::NaiveDate::from_ymd_opt(y, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .expect("a valid date")
    };
    (at(2000), at(2200))
}
