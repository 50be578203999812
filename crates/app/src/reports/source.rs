//! Where the builders' figures come from: the hourly rollups (`crate::stats`, issue #21 item 2),
//! read through this one adapter so no builder counts codes, redemptions or payouts itself.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

pub use crate::stats::{Bucket, Dim, Fact, Row};

use crate::error::AppError;

/// The sums of `fact` over the hours in `[from, to)`, per `bucket` and `group`, for one batch or
/// all; buckets with nothing in them are left out.
pub async fn series(
    conn: &mut PgConnection,
    fact: Fact,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    bucket: Bucket,
    group: &[Dim],
    batch: Option<Uuid>,
) -> Result<Vec<Row>, AppError> {
    let q = crate::stats::Query::new(fact, from, to)
        .bucket(bucket)
        .group(group)
        .batch(batch);
    Ok(crate::stats::series(conn, &q).await?)
}

/// The sums of `fact` since the campaign began, per `group` (the rollups' all-time tier).
pub async fn since_beginning(
    conn: &mut PgConnection,
    fact: Fact,
    group: &[Dim],
    batch: Option<Uuid>,
) -> Result<Vec<Row>, AppError> {
    Ok(crate::stats::since_beginning(conn, fact, group, batch).await?)
}
