//! The probes: each reads one thing and says what it found ([`Reading`]). None holds a
//! transaction: the external ones are HTTP calls, bounded by a timeout.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{latency, Check, Reading};
use crate::settings::model::Settings;

/// The longest an external check waits for an answer.
const EXTERNAL_TIMEOUT: Duration = Duration::from_secs(10);

/// How far back the response-time check looks.
pub const RESPONSE_WINDOW: chrono::Duration = chrono::Duration::minutes(5);

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// A round trip to the database.
pub async fn database(pool: &PgPool) -> Reading {
    let started = Instant::now();
    match sqlx::query("select 1").execute(pool).await {
        Ok(_) => Reading::measured(Check::Database, ms(started), None, "answered"),
        Err(e) => Reading::failed(Check::Database, format!("the database did not answer: {e}")),
    }
}

/// A token and the balance, through the payout worker's client: what a payout needs first.
/// The value is the time both took (the balance itself is not shown: the status page is public).
pub async fn momo(settings: &Settings) -> Reading {
    let Some(client) = crate::disbursement::momo_client(&settings.payments) else {
        return Reading::off(Check::Momo, "MoMo is not configured (payment settings)");
    };
    let started = Instant::now();
    match tokio::time::timeout(EXTERNAL_TIMEOUT, client.balance()).await {
        Ok(Ok(_)) => Reading::measured(Check::Momo, ms(started), None, "token issued and balance read"),
        Ok(Err(e)) => Reading::failed(Check::Momo, format!("MoMo refused or failed: {e}")),
        Err(_) => Reading::failed(
            Check::Momo,
            format!("no answer from MoMo within {} s", EXTERNAL_TIMEOUT.as_secs()),
        ),
    }
}

/// Whether the SMS API's base URL answers at all (any HTTP answer counts: this is reachability,
/// not a send, which would cost money).
pub async fn africas_talking(settings: &Settings) -> Reading {
    let u = &settings.ussd;
    if u.africas_talking_api_key.expose().is_none() {
        return Reading::off(Check::AfricasTalking, "no Africa's Talking API key (USSD settings)");
    }
    let timeout = EXTERNAL_TIMEOUT.min(Duration::from_secs(u64::from(
        settings.integrations.outbound_timeout_seconds.max(1),
    )));
    let http = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(h) => h,
        Err(e) => return Reading::failed(Check::AfricasTalking, format!("no HTTP client: {e}")),
    };
    let started = Instant::now();
    match http.get(&u.africas_talking_base_url).send().await {
        Ok(res) => Reading::measured(
            Check::AfricasTalking,
            ms(started),
            None,
            format!("the SMS API answered ({})", res.status().as_u16()),
        ),
        Err(e) if e.is_timeout() => Reading::failed(
            Check::AfricasTalking,
            format!("no answer from the SMS API within {} s", timeout.as_secs()),
        ),
        Err(e) => Reading::failed(Check::AfricasTalking, format!("the SMS API is unreachable: {e}")),
    }
}

/// Disk use of the file system that holds `dir` (or its nearest existing parent), as `df`
/// counts it: used over used plus what an unprivileged writer may still use.
pub fn disk(dir: &Path, limit_percent: f64) -> Reading {
    let stat = dir.ancestors().find_map(|d| rustix::fs::statvfs(d).ok());
    let Some(s) = stat else {
        return Reading::failed(Check::Disk, format!("cannot read the file system of {}", dir.display()));
    };
    let used = s.f_blocks.saturating_sub(s.f_bfree);
    let usable = used + s.f_bavail;
    if usable == 0 {
        return Reading::failed(Check::Disk, "the file system reports no space");
    }
    let percent = used as f64 * 100.0 / usable as f64;
    let free_gib = (s.f_bavail * s.f_frsize) as f64 / (1u64 << 30) as f64;
    Reading::measured(
        Check::Disk,
        percent,
        Some(limit_percent),
        format!("{percent:.1} % used, {free_gib:.1} GiB free where the data directory is"),
    )
}

/// Memory in use (total less available), from `/proc/meminfo`.
pub fn memory(limit_percent: f64) -> Reading {
    let Ok(text) = std::fs::read_to_string("/proc/meminfo") else {
        return Reading::off(Check::Memory, "memory use cannot be read on this system");
    };
    match memory_percent(&text) {
        Some((percent, total_mib)) => Reading::measured(
            Check::Memory,
            percent,
            Some(limit_percent),
            format!("{percent:.1} % of {total_mib:.0} MiB in use"),
        ),
        None => Reading::failed(Check::Memory, "/proc/meminfo has no MemTotal or MemAvailable"),
    }
}

/// (percent in use, total MiB) from `/proc/meminfo`'s text.
fn memory_percent(meminfo: &str) -> Option<(f64, f64)> {
    let field = |name: &str| {
        meminfo.lines().find_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse::<f64>().ok()
        })
    };
    let (total, available) = (field("MemTotal")?, field("MemAvailable")?);
    (total > 0.0).then(|| ((total - available) * 100.0 / total, total / 1024.0))
}

/// The 95th percentile of every web process's response times over [`RESPONSE_WINDOW`].
pub async fn response_time(pool: &PgPool, now: DateTime<Utc>, limit_ms: f64) -> Reading {
    let merged = async {
        let mut conn = pool.acquire().await?;
        latency::merged_since(&mut conn, now - RESPONSE_WINDOW).await
    }
    .await;
    match merged {
        Err(e) => Reading::failed(Check::ResponseTime, format!("cannot read the response times: {e}")),
        Ok((counts, processes)) => match latency::p95_ms(&counts) {
            None => Reading {
                check: Check::ResponseTime,
                status: super::CheckStatus::Ok,
                value: None,
                limit: Some(limit_ms),
                detail: "no request in the last 5 minutes".to_owned(),
            },
            Some(p95) => Reading::measured(
                Check::ResponseTime,
                p95,
                Some(limit_ms),
                format!(
                    "95 % of {} request(s) answered within {p95:.0} ms (last 5 minutes, {processes} web process(es))",
                    counts.iter().sum::<i64>()
                ),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_use_is_total_less_available() {
        let text = "MemTotal:       8000000 kB\nMemFree:  100 kB\nMemAvailable:   2000000 kB\n";
        let (p, total) = memory_percent(text).unwrap();
        assert!((p - 75.0).abs() < 1e-9, "{p}");
        assert!((total - 7812.5).abs() < 1e-9);
        assert_eq!(memory_percent("MemTotal: 10 kB\n"), None);
    }

    #[test]
    fn a_reading_past_its_limit_is_breached_and_at_it_is_not() {
        use super::super::CheckStatus;
        assert_eq!(
            Reading::measured(Check::Disk, 85.5, Some(85.0), "").status,
            CheckStatus::Breached
        );
        assert_eq!(
            Reading::measured(Check::Disk, 85.0, Some(85.0), "").status,
            CheckStatus::Ok
        );
        assert!(
            disk(Path::new("/nonexistent/dir/below"), 99.0).value.is_some(),
            "the nearest parent counts"
        );
    }
}
