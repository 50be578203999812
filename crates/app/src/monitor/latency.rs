//! The web processes' response times, for the response-time check: every request's latency
//! (from `web::middleware::observe`) lands in a [`LatencyWindow`] of log-spaced buckets (lock-free,
//! 10 % wide); each web process writes its window to `monitor_web_latency` every
//! [`REPORT_EVERY`] and starts a new one, and the monitor job merges the fresh windows of every
//! process and takes their 95th percentile ([`p95_ms`]). The percentile is a bucket's upper
//! edge: at most 10 % above the true value, never below it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;

/// How many buckets: the first ends at 0.5 ms, each next one 10 % later, the last takes the rest
/// (from about 46 s up).
pub const BUCKETS: usize = 121;
const FIRST_MS: f64 = 0.5;
const GROWTH: f64 = 1.1;

/// How often a web process writes its window.
pub const REPORT_EVERY: Duration = Duration::from_secs(30);

/// The upper edge of bucket `i`, in milliseconds.
fn upper_ms(i: usize) -> f64 {
    FIRST_MS * GROWTH.powi(i as i32)
}

/// Response times since the last [`LatencyWindow::take`].
#[derive(Debug)]
pub struct LatencyWindow {
    buckets: [AtomicU64; BUCKETS],
}

impl Default for LatencyWindow {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl LatencyWindow {
    pub fn observe(&self, seconds: f64) {
        let ms = seconds * 1000.0;
        let i = if ms <= FIRST_MS {
            0
        } else {
            ((ms / FIRST_MS).ln() / GROWTH.ln()).ceil() as usize
        };
        self.buckets[i.min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far, and a fresh window.
    pub fn take(&self) -> Vec<i64> {
        self.buckets
            .iter()
            .map(|b| i64::try_from(b.swap(0, Ordering::Relaxed)).unwrap_or(i64::MAX))
            .collect()
    }
}

/// The 95th percentile of merged bucket counts, in milliseconds; `None` without a request.
pub fn p95_ms(counts: &[i64]) -> Option<f64> {
    let total: i64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    // the smallest bucket by which 95 % of the requests had been answered
    let rank = (total * 95 + 99) / 100;
    let mut seen = 0;
    for (i, n) in counts.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return Some(upper_ms(i));
        }
    }
    Some(upper_ms(counts.len().saturating_sub(1)))
}

/// Writes this process's window (and starts a new one). Tests call it to report at once.
pub async fn report_once(
    pool: &PgPool,
    instance: &str,
    window: &LatencyWindow,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let counts = window.take();
    let requests: i64 = counts.iter().sum();
    sqlx::query(
        "insert into monitor_web_latency (instance, buckets, requests, measured_at) values ($1, $2, $3, $4) \
         on conflict (instance) do update set buckets = excluded.buckets, requests = excluded.requests, \
           measured_at = excluded.measured_at",
    )
    .bind(instance)
    .bind(&counts)
    .bind(requests)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Every [`REPORT_EVERY`] until `shutdown`, in each web process; its row goes when it stops.
pub async fn report(
    pool: PgPool,
    clock: SharedClock,
    metrics: std::sync::Arc<crate::web::metrics::Metrics>,
    shutdown: CancellationToken,
) {
    let instance = format!(
        "{}-{}-{}",
        crate::jobs::runner_hostname(),
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(REPORT_EVERY) => {}
        }
        if let Err(e) = report_once(&pool, &instance, &metrics.recent, clock.now()).await {
            tracing::warn!(error = %e, "could not report response times");
        }
    }
    let _ = sqlx::query("delete from monitor_web_latency where instance = $1")
        .bind(&instance)
        .execute(&pool)
        .await;
}

/// Every web process's window written since `since`, merged: (bucket counts, processes).
pub async fn merged_since(conn: &mut PgConnection, since: DateTime<Utc>) -> Result<(Vec<i64>, i64), sqlx::Error> {
    let rows: Vec<(Vec<i64>,)> = sqlx::query_as("select buckets from monitor_web_latency where measured_at >= $1")
        .bind(since)
        .fetch_all(conn)
        .await?;
    let mut merged = vec![0i64; BUCKETS];
    for (b,) in &rows {
        for (m, n) in merged.iter_mut().zip(b) {
            *m += n;
        }
    }
    Ok((merged, rows.len() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_p95_is_the_bucket_edge_at_or_just_above_the_true_value() {
        let w = LatencyWindow::default();
        assert_eq!(p95_ms(&w.take()), None, "no request, no percentile");
        for _ in 0..95 {
            w.observe(0.010);
        }
        for _ in 0..5 {
            w.observe(3.0);
        }
        let p = p95_ms(&w.take()).unwrap();
        assert!((10.0..11.0).contains(&p), "{p}");
        for _ in 0..10 {
            w.observe(3.0);
        }
        let p = p95_ms(&w.take()).unwrap();
        assert!((3000.0..3300.0).contains(&p), "{p}");
        w.observe(1000.0);
        assert!(p95_ms(&w.take()).unwrap() > 40_000.0, "the last bucket takes the rest");
    }
}
