//! Payout statistics over a period (payouts created in `[from, to)`): counts and amounts by
//! status, success rate, time from redemption to completed payout (median, p95 and a
//! histogram), failures by reason, and a per-day series by outcome (days in Kigali).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::clock::kigali;
use crate::error::AppError;

/// The longest period statistics cover.
pub const MAX_DAYS: i64 = 366;
/// The period when none is given.
pub const DEFAULT_DAYS: i64 = 30;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = PayoutStatusCount)]
#[serde(rename_all = "camelCase")]
pub struct StatusCount {
    pub status: crate::disbursement::state::PayoutStatus,
    pub count: i64,
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = PayoutFailureCount)]
#[serde(rename_all = "camelCase")]
pub struct ReasonCount {
    pub reason: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = PayoutDay)]
#[serde(rename_all = "camelCase")]
pub struct DayStats {
    pub day: NaiveDate,
    pub completed: i64,
    pub failed: i64,
    /// Neither completed nor failed yet (waiting, in flight, held, payee to fix).
    pub pending: i64,
    pub paid_amount: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = PayoutTimeBucket)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    pub label: &'static str,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = PayoutStats)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub total: i64,
    pub by_status: Vec<StatusCount>,
    pub completed: i64,
    pub failed: i64,
    /// Completed over completed + failed (`None` before any payout ended).
    pub success_rate: Option<f64>,
    pub median_seconds_to_payout: Option<f64>,
    pub p95_seconds_to_payout: Option<f64>,
    pub failures_by_reason: Vec<ReasonCount>,
    pub amount_paid: i64,
    pub amount_pending: i64,
    pub amount_failed: i64,
    pub per_day: Vec<DayStats>,
    pub time_to_payout: Vec<Bucket>,
}

/// Upper bounds (seconds, exclusive) of the time-to-payout histogram; the last is open.
const BUCKETS: &[(&str, f64)] = &[
    ("under 10 s", 10.0),
    ("10–30 s", 30.0),
    ("30 s–1 min", 60.0),
    ("1–5 min", 300.0),
    ("5–15 min", 900.0),
    ("15–60 min", 3600.0),
    ("over 1 h", f64::INFINITY),
];

/// The period: the filter's bounds, or the last [`DEFAULT_DAYS`] Kigali days up to now.
pub fn period(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    let to = to.unwrap_or(now);
    let from = from.unwrap_or_else(|| {
        let today = now.with_timezone(&kigali()).date_naive();
        (today - Duration::days(DEFAULT_DAYS - 1))
            .and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(kigali()).single())
            .map_or(now - Duration::days(DEFAULT_DAYS), |t| t.with_timezone(&Utc))
    });
    if to <= from {
        return Err(AppError::field("to", "must be later than from"));
    }
    if to - from > Duration::days(MAX_DAYS) {
        return Err(AppError::field(
            "to",
            format!("a period covers at most {MAX_DAYS} days"),
        ));
    }
    Ok((from, to))
}

pub async fn stats(conn: &mut PgConnection, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Stats, sqlx::Error> {
    let by_status: Vec<StatusCount> = sqlx::query_as(
        "select status, count(*) as count, coalesce(sum(amount), 0)::int8 as amount from disbursements \
         where created_at >= $1 and created_at < $2 group by status order by count(*) desc, status",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    let sum = |pred: &dyn Fn(&str) -> bool, f: &dyn Fn(&StatusCount) -> i64| -> i64 {
        by_status.iter().filter(|s| pred(s.status.as_str())).map(f).sum()
    };
    let completed = sum(&|s| s == "completed", &|s| s.count);
    let failed = sum(&|s| s == "failed", &|s| s.count);
    let (median, p95): (Option<f64>, Option<f64>) = sqlx::query_as(
        "select percentile_cont(0.5) within group (order by t), percentile_cont(0.95) within group (order by t) \
         from (select extract(epoch from d.disbursed_at - r.created_at)::float8 as t \
               from disbursements d join redemptions r on r.id = d.redemption_id \
               where d.created_at >= $1 and d.created_at < $2 and d.status = 'completed' \
                 and d.disbursed_at is not null) x",
    )
    .bind(from)
    .bind(to)
    .fetch_one(&mut *conn)
    .await?;
    let failures_by_reason = sqlx::query_as(
        "select coalesce(error_code, status) as reason, count(*) as count from disbursements \
         where created_at >= $1 and created_at < $2 and status in ('failed', 'payee_invalid') \
         group by 1 order by 2 desc, 1",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    let tz = kigali();
    let first_day = from.with_timezone(&tz).date_naive();
    let last_day = (to - Duration::microseconds(1)).with_timezone(&tz).date_naive();
    let per_day = sqlx::query_as(
        "with days as (select generate_series($3::date, $4::date, interval '1 day')::date as day), \
         agg as (select (created_at at time zone 'Africa/Kigali')::date as day, \
                   count(*) filter (where status = 'completed') as completed, \
                   count(*) filter (where status = 'failed') as failed, \
                   count(*) filter (where status not in ('completed', 'failed')) as pending, \
                   coalesce(sum(amount) filter (where status = 'completed'), 0)::int8 as paid_amount \
                 from disbursements where created_at >= $1 and created_at < $2 group by 1) \
         select days.day, coalesce(agg.completed, 0) as completed, coalesce(agg.failed, 0) as failed, \
           coalesce(agg.pending, 0) as pending, coalesce(agg.paid_amount, 0)::int8 as paid_amount \
         from days left join agg on agg.day = days.day order by days.day",
    )
    .bind(from)
    .bind(to)
    .bind(first_day)
    .bind(last_day)
    .fetch_all(&mut *conn)
    .await?;
    // the histogram, counted in the database (one pass, whatever the volume)
    let mut hist = sqlx::QueryBuilder::new("select ");
    for (i, (_, upper)) in BUCKETS.iter().enumerate() {
        let lower = if i == 0 { f64::NEG_INFINITY } else { BUCKETS[i - 1].1 };
        if i > 0 {
            hist.push(", ");
        }
        match (lower.is_finite(), upper.is_finite()) {
            (false, _) => hist.push(format!("count(*) filter (where t < {upper})")),
            (true, true) => hist.push(format!("count(*) filter (where t >= {lower} and t < {upper})")),
            (true, false) => hist.push(format!("count(*) filter (where t >= {lower})")),
        };
    }
    hist.push(
        " from (select extract(epoch from d.disbursed_at - r.created_at)::float8 as t \
         from disbursements d join redemptions r on r.id = d.redemption_id \
         where d.created_at >= ",
    )
    .push_bind(from)
    .push(" and d.created_at < ")
    .push_bind(to)
    .push(" and d.status = 'completed' and d.disbursed_at is not null) x");
    let row = hist.build().fetch_one(&mut *conn).await?;
    let mut time_to_payout = Vec::with_capacity(BUCKETS.len());
    for (i, (label, _)) in BUCKETS.iter().enumerate() {
        time_to_payout.push(Bucket {
            label,
            count: sqlx::Row::try_get(&row, i)?,
        });
    }
    Ok(Stats {
        from,
        to,
        total: by_status.iter().map(|s| s.count).sum(),
        completed,
        failed,
        success_rate: (completed + failed > 0).then(|| completed as f64 / (completed + failed) as f64),
        median_seconds_to_payout: median,
        p95_seconds_to_payout: p95,
        failures_by_reason,
        amount_paid: sum(&|s| s == "completed", &|s| s.amount),
        amount_failed: sum(&|s| s == "failed", &|s| s.amount),
        amount_pending: sum(&|s| s != "completed" && s != "failed", &|s| s.amount),
        by_status,
        per_day,
        time_to_payout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_default_to_thirty_kigali_days_and_are_bounded() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let (from, to) = period(None, None, now).unwrap();
        assert_eq!(to, now);
        assert_eq!(from.to_rfc3339(), "2026-10-27T22:00:00+00:00");
        assert!(period(Some(now), Some(now), now).is_err());
        assert!(period(Some(now - Duration::days(400)), None, now).is_err());
    }
}
