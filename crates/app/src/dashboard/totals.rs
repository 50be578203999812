//! Long-range figures without summing weeks of the rollups on every request.
//!
//! "In all" reads the rollups' all-time tier (`stats::since_beginning`: one row per key, exact at
//! once). "This week" and the 30-day charts would add up to some hundred thousand hourly rows at
//! the size (about 300 ms measured at a tenth of it), far over the dashboard's budget. So
//! each process keeps a *base*: the redemption sums of the hours before a boundary (the start of
//! the previous hour), per database; a request adds to it the rows from that boundary on (two or
//! three hours: a few hundred rows), read at once. A redemption's rollup never changes once its
//! hour is over (network, language and segment are frozen at redemption; a reversal does not
//! remove it), so these figures are exact at once too. The base is read again when the hour
//! turns (in the background: requests keep adding from the old boundary meanwhile) or when the
//! week or the 30 days move (then at once).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::PgPool;

use crate::stats::{self, Bucket, Dim, Fact, Query, Row};

/// The ranges a base was read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    boundary: DateTime<Utc>,
    week_start: NaiveDate,
    month_start: NaiveDate,
}

/// Redemption sums of the hours before `key.boundary`.
#[derive(Debug)]
struct RedemptionBase {
    key: Key,
    week: i64,
    /// Per Kigali day from `month_start`.
    daily: Vec<Row>,
    by_network: Vec<Row>,
    by_language: Vec<Row>,
}

struct Slot<T> {
    value: Option<(Arc<T>, Instant)>,
    refreshing: bool,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            value: None,
            refreshing: false,
        }
    }
}

/// One base per database (tests run many apps, each on its own database, in one process).
struct Cache<T>(LazyLock<Mutex<HashMap<String, Slot<T>>>>);

impl<T: Send + Sync + 'static> Cache<T> {
    const fn new() -> Self {
        Cache(LazyLock::new(Default::default))
    }

    /// The cached value when `usable` and fresh; a usable but stale one while a fresh one is
    /// read in the background; otherwise one read now.
    async fn get<F, Fut>(
        &'static self,
        db: &str,
        usable: impl Fn(&T) -> bool,
        fresh: impl Fn(&T, StdDuration) -> bool,
        load: F,
    ) -> Result<Arc<T>, sqlx::Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>> + Send + 'static,
    {
        let (current, refresh) = {
            let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
            let slot = map.entry(db.to_owned()).or_default();
            match &slot.value {
                Some((v, at)) if usable(v) => {
                    let refresh = !fresh(v, at.elapsed()) && !slot.refreshing;
                    slot.refreshing |= refresh;
                    (Some(Arc::clone(v)), refresh)
                }
                _ => (None, false),
            }
        };
        if refresh {
            let read = load();
            let db = db.to_owned();
            tokio::spawn(async move {
                let read = read.await;
                let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
                let slot = map.entry(db).or_default();
                slot.refreshing = false;
                match read {
                    Ok(v) => slot.value = Some((Arc::new(v), Instant::now())),
                    Err(e) => tracing::warn!(error = %e, "could not read the dashboard's totals"),
                }
            });
        }
        if let Some(v) = current {
            return Ok(v);
        }
        let v = Arc::new(load().await?);
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(db.to_owned()).or_default().value = Some((Arc::clone(&v), Instant::now()));
        Ok(v)
    }
}

static REDEMPTIONS: Cache<RedemptionBase> = Cache::new();

fn database_key(pool: &PgPool) -> String {
    let o = pool.connect_options();
    format!("{}:{}/{}", o.get_host(), o.get_port(), o.get_database().unwrap_or(""))
}

/// Adds `more` into `base`, matching rows on every dimension and bucket.
fn merge(mut base: Vec<Row>, more: Vec<Row>) -> Vec<Row> {
    for r in more {
        match base.iter_mut().find(|b| {
            (b.at, b.batch_id, &b.state, &b.network, &b.language, &b.segment)
                == (r.at, r.batch_id, &r.state, &r.network, &r.language, &r.segment)
        }) {
            Some(b) => {
                b.n += r.n;
                b.amount += r.amount;
                b.ms += r.ms;
            }
            None => base.push(r),
        }
    }
    base
}

/// The long-range redemption figures.
#[derive(Debug, Clone)]
pub struct RedemptionTotals {
    /// In all, by segment.
    pub by_segment: Vec<Row>,
    /// Since Monday (Kigali).
    pub week: i64,
    /// Per Kigali day of the last 30 (`at` is the day's start).
    pub daily: Vec<Row>,
    pub by_network: Vec<Row>,
    pub by_language: Vec<Row>,
}

/// The ranges of `now`: the boundary, Monday and the first of the 30 days.
pub fn ranges(now: DateTime<Utc>) -> (DateTime<Utc>, NaiveDate, NaiveDate) {
    use chrono::Datelike;
    let today = stats::kigali_date(now);
    (
        stats::hour_start(now) - Duration::hours(1),
        today - Duration::days(today.weekday().num_days_from_monday() as i64),
        today - Duration::days(29),
    )
}

async fn read_redemptions(pool: PgPool, key: Key) -> Result<RedemptionBase, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let week_from = stats::kigali_day_bounds(key.week_start).0;
    let month_from = stats::kigali_day_bounds(key.month_start).0;
    let q = |from: DateTime<Utc>| Query::new(Fact::Redemption, from, key.boundary.max(from));
    Ok(RedemptionBase {
        key,
        week: stats::series(&mut conn, &q(week_from)).await?.iter().map(|r| r.n).sum(),
        daily: stats::series(&mut conn, &q(month_from).bucket(Bucket::KigaliDay)).await?,
        by_network: stats::series(&mut conn, &q(month_from).group(&[Dim::Network])).await?,
        by_language: stats::series(&mut conn, &q(month_from).group(&[Dim::Language])).await?,
    })
}

/// The long-range redemption figures as of `now`: exact (see the module's note).
pub async fn redemptions(pool: &PgPool, now: DateTime<Utc>) -> Result<RedemptionTotals, sqlx::Error> {
    let (boundary, week_start, month_start) = ranges(now);
    let want = Key {
        boundary,
        week_start,
        month_start,
    };
    let p = pool.clone();
    let base = REDEMPTIONS
        .get(
            &database_key(pool),
            // an older boundary still adds up (the request reads from it on); other ranges do not
            |b| b.key.week_start == week_start && b.key.month_start == month_start && b.key.boundary <= boundary,
            |b, _| b.key.boundary == boundary,
            move || read_redemptions(p.clone(), want),
        )
        .await?;
    let from = base.key.boundary;
    let (_, until) = stats::all_time();
    let mut conn = pool.acquire().await?;
    let q = Query::new(Fact::Redemption, from, until);
    let by_segment = stats::since_beginning(&mut conn, Fact::Redemption, &[Dim::Segment], None).await?;
    let recent = stats::series(
        &mut conn,
        &q.bucket(Bucket::KigaliDay).group(&[Dim::Network, Dim::Language]),
    )
    .await?;
    let strip = |keep: fn(&mut Row)| -> Vec<Row> {
        recent
            .iter()
            .cloned()
            .map(|mut r| {
                keep(&mut r);
                r
            })
            .collect()
    };
    let daily = strip(|r| {
        r.network = None;
        r.language = None;
    });
    let by_network = strip(|r| {
        r.at = None;
        r.language = None;
    });
    let by_language = strip(|r| {
        r.at = None;
        r.network = None;
    });
    let week_from = stats::kigali_day_bounds(week_start).0;
    let week_recent: i64 = recent
        .iter()
        .filter(|r| r.at.is_some_and(|a| a >= week_from))
        .map(|r| r.n)
        .sum();
    Ok(RedemptionTotals {
        by_segment,
        week: base.week + week_recent,
        daily: merge(base.daily.clone(), daily),
        by_network: merge(base.by_network.clone(), by_network),
        by_language: merge(base.by_language.clone(), by_language),
    })
}

/// Payouts in all by state, exact at once (the all-time tier).
pub async fn payouts(pool: &PgPool) -> Result<Vec<Row>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    stats::since_beginning(&mut conn, Fact::Payout, &[Dim::State], None).await
}
