//! The dashboard's charts, from the rollups and the per-batch code counts: redemptions per hour
//! (24 h) and per day (30 days), payouts by state, the top batches by redemption rate,
//! redemptions by network and by language, and wrong-code attempts per hour. Each honours its
//! chart type setting and `maxDataPoints` (neighbouring hours or days are added together beyond
//! it), and each point links to the list it counts.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use super::draw::draw;
use super::links::{self, day, time};
use super::totals::RedemptionTotals;
use super::{Chart, ChartKind, Point, Section, Viewer};
use crate::access::Permission;
use crate::disbursement::state::PayoutStatus;
use crate::error::AppError;
use crate::settings::model::AnalyticsSettings;
use crate::stats::{self, Bucket, Dim, Fact, Query};

/// A stretch of time and what happened in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    value: i64,
}

/// Slots of `step` from `from` up to `to`, each with the rows' `n` that start in it.
fn slots(rows: &[stats::Row], from: DateTime<Utc>, to: DateTime<Utc>, step: Duration) -> Vec<Slot> {
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        let value = rows
            .iter()
            .filter(|r| r.at.is_some_and(|a| a >= t && a < t + step))
            .map(|r| r.n)
            .sum();
        out.push(Slot {
            from: t,
            to: t + step,
            value,
        });
        t += step;
    }
    out
}

/// At most `max` slots: neighbours are added together, oldest first, into equal groups.
fn cap(s: Vec<Slot>, max: usize) -> Vec<Slot> {
    let max = max.max(1);
    if s.len() <= max {
        return s;
    }
    let per = s.len().div_ceil(max);
    s.chunks(per)
        .map(|c| Slot {
            from: c[0].from,
            to: c[c.len() - 1].to,
            value: c.iter().map(|x| x.value).sum(),
        })
        .collect()
}

fn kigali_label(t: DateTime<Utc>, fmt: &str) -> String {
    t.with_timezone(&crate::clock::kigali()).format(fmt).to_string()
}

fn chart(id: &'static str, title: &str, kind: ChartKind, section: Section, points: Vec<Point>) -> Chart {
    Chart {
        id,
        title: title.to_owned(),
        kind,
        section,
        drawing: draw(kind, &points),
        points,
    }
}

fn count(n: i64) -> String {
    crate::codes::pages::thousands(n)
}

pub async fn build(
    pool: &PgPool,
    viewer: Viewer<'_>,
    sections: &[Section],
    a: &AnalyticsSettings,
    now: DateTime<Utc>,
    redemptions: Option<&RedemptionTotals>,
    payouts: Option<&[stats::Row]>,
) -> Result<Vec<Chart>, AppError> {
    let main = sections.contains(&Section::Charts);
    let more = sections.contains(&Section::MoreCharts);
    if !main && !more {
        return Ok(Vec::new());
    }
    let mut conn = pool.acquire().await?;
    let max = a.max_data_points as usize;
    let redemptions_kind = ChartKind::parse(&a.redemptions_chart);
    let mut out = Vec::new();
    let hour_end = stats::hour_start(now) + Duration::hours(1);
    let day_start = hour_end - Duration::hours(24);
    let reads = viewer.can(Permission::RedemptionsRead);

    if main && reads {
        let rows = stats::series(
            &mut conn,
            &Query::new(Fact::Redemption, day_start, hour_end).bucket(Bucket::Hour),
        )
        .await?;
        let points = cap(slots(&rows, day_start, hour_end, Duration::hours(1)), max)
            .into_iter()
            .map(|s| Point {
                label: kigali_label(s.from, "%H:00"),
                value: s.value as f64,
                shown: count(s.value),
                href: Some(links::redemptions(Some(time(s.from)), Some(time(s.to)), None)),
            })
            .collect();
        out.push(chart(
            "redemptionsHourly",
            "Redemptions per hour, last 24 hours",
            redemptions_kind,
            Section::Charts,
            points,
        ));
    }
    if let (true, Some(rows)) = (main, payouts) {
        let points = PayoutStatus::ALL
            .iter()
            .take(max)
            .map(|s| {
                let r = rows.iter().find(|r| r.state.as_deref() == Some(s.as_str()));
                let (n, amount) = r.map_or((0, 0), |r| (r.n, r.amount));
                Point {
                    label: s.as_str().replace('_', " "),
                    value: n as f64,
                    shown: format!("{} ({} RWF)", count(n), count(amount)),
                    href: Some(links::payouts(&[s.as_str()], None, None)),
                }
            })
            .collect();
        out.push(chart(
            "payoutsByState",
            "Payouts by state",
            ChartKind::parse(&a.disbursements_chart),
            Section::Charts,
            points,
        ));
    }
    if !more {
        return Ok(out);
    }
    let today = stats::kigali_date(now);
    let first = today - Duration::days(29);
    let (month_start, month_end) = stats::kigali_days(first, today);
    if let Some(t) = redemptions {
        let points = cap(slots(&t.daily, month_start, month_end, Duration::days(1)), max)
            .into_iter()
            .map(|s| {
                let (a, b) = (
                    stats::kigali_date(s.from),
                    stats::kigali_date(s.to - Duration::hours(1)),
                );
                Point {
                    label: kigali_label(s.from, "%d %b"),
                    value: s.value as f64,
                    shown: count(s.value),
                    href: Some(links::redemptions(Some(day(a)), Some(day(b)), None)),
                }
            })
            .collect();
        out.push(chart(
            "redemptionsDaily",
            "Redemptions per day, last 30 days",
            redemptions_kind,
            Section::MoreCharts,
            points,
        ));
    }
    if viewer.can(Permission::BatchesRead) {
        let s = crate::codes::stats::code_stats(&mut conn, None).await?;
        let mut rates: Vec<(f64, &crate::codes::stats::BatchCounts)> = s
            .batches
            .iter()
            .filter(|b| b.codes > 0)
            .map(|b| {
                let used: i64 = b
                    .by_status
                    .iter()
                    .filter(|c| {
                        matches!(
                            c.status,
                            crate::codes::lifecycle::CodeStatus::Used | crate::codes::lifecycle::CodeStatus::Redeemed
                        )
                    })
                    .map(|c| c.codes)
                    .sum();
                (used as f64 * 100.0 / b.codes as f64, b)
            })
            .collect();
        rates.sort_by(|x, y| y.0.total_cmp(&x.0).then(y.1.batch_number.cmp(&x.1.batch_number)));
        let points = rates
            .into_iter()
            .take(10.min(max))
            .map(|(rate, b)| Point {
                label: b.name.clone(),
                value: (rate * 10.0).round() / 10.0,
                shown: format!("{:.1} %", rate),
                href: Some(format!("/admin/batches/{}", b.batch_id)),
            })
            .collect();
        out.push(chart(
            "topBatches",
            "Top batches by redemption rate",
            ChartKind::parse(&a.batches_chart),
            Section::MoreCharts,
            points,
        ));
    }
    if let Some(t) = redemptions {
        let month_link = Some(links::redemptions(Some(day(first)), Some(day(today)), None));
        for (id, title, dim, rows) in [
            (
                "byNetwork",
                "Redemptions by network, last 30 days",
                Dim::Network,
                &t.by_network,
            ),
            (
                "byLanguage",
                "Redemptions by language, last 30 days",
                Dim::Language,
                &t.by_language,
            ),
        ] {
            let mut rows = rows.clone();
            rows.sort_by_key(|r| std::cmp::Reverse(r.n));
            let points = rows
                .iter()
                .take(max)
                .map(|r| {
                    let label = match dim {
                        Dim::Network => stats::network_name(r.network.as_deref().unwrap_or("")).to_owned(),
                        _ => match r.language.as_deref().unwrap_or("") {
                            "en" => "English".to_owned(),
                            "rw" => "Kinyarwanda".to_owned(),
                            "" => "Unknown".to_owned(),
                            other => other.to_owned(),
                        },
                    };
                    Point {
                        label,
                        value: r.n as f64,
                        shown: count(r.n),
                        href: month_link.clone(),
                    }
                })
                .collect();
            out.push(chart(id, title, ChartKind::Bar, Section::MoreCharts, points));
        }
    }
    if reads || viewer.can(Permission::RedemptionsMonitor) {
        let rows = stats::series(
            &mut conn,
            &Query::new(Fact::Attempt, day_start, hour_end)
                .bucket(Bucket::Hour)
                .group(&[Dim::State]),
        )
        .await?;
        let wrong: Vec<stats::Row> = rows
            .into_iter()
            .filter(|r| r.state.as_deref().is_some_and(|s| stats::WRONG_CODE.contains(&s)))
            .collect();
        let monitor = viewer.can(Permission::RedemptionsMonitor);
        let points = cap(slots(&wrong, day_start, hour_end, Duration::hours(1)), max)
            .into_iter()
            .map(|s| Point {
                label: kigali_label(s.from, "%H:00"),
                value: s.value as f64,
                shown: count(s.value),
                href: monitor.then(|| "/admin/ussd".to_owned()),
            })
            .collect();
        out.push(chart(
            "wrongCodesHourly",
            "Wrong codes typed per hour, last 24 hours",
            ChartKind::Bar,
            Section::MoreCharts,
            points,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capping_adds_neighbours_together_and_keeps_the_total() {
        let t0: DateTime<Utc> = "2026-12-07T00:00:00Z".parse().unwrap();
        let s: Vec<Slot> = (0..24)
            .map(|i| Slot {
                from: t0 + Duration::hours(i),
                to: t0 + Duration::hours(i + 1),
                value: i,
            })
            .collect();
        let c = cap(s.clone(), 10);
        assert_eq!(c.len(), 8, "groups of three hours");
        assert_eq!(c.iter().map(|x| x.value).sum::<i64>(), (0..24).sum::<i64>());
        assert_eq!(c[0].to, t0 + Duration::hours(3));
        assert_eq!(cap(s, 500).len(), 24);
    }
}
