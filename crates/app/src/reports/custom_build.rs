//! A custom report built from the hourly rollups only (`crate::stats`): one query over the
//! dataset's fact, grouped by the chosen dimensions (and the filtered ones), filtered and summed
//! here, then laid out as headline figures, a chart and a table.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::custom::{Dataset, Definition, Dimension, Measure};
use super::model::{Block, Cell, Chart, ChartKind, Column, DayRange, Figure, Kind, Report, Section, Series, Table};
use crate::clock::kigali;
use crate::error::AppError;
use crate::stats::{self, Bucket, Dim, Fact};

/// Who the report is for and what it is called.
pub struct Heading<'a> {
    pub title: &'a str,
    pub generated_by: &'a str,
    pub now: DateTime<Utc>,
    /// The most points the chart draws (`analytics.maxDataPoints`).
    pub max_points: usize,
}

fn fact(def: &Definition) -> Fact {
    match def.dataset {
        // the status lives on the second redemption fact
        Dataset::Redemptions if def.dimensions.contains(&Dimension::State) || def.filters.state.is_some() => {
            Fact::RedemptionState
        }
        Dataset::Redemptions => Fact::Redemption,
        Dataset::Payouts => Fact::Payout,
        Dataset::Paid => Fact::Paid,
        Dataset::Attempts => Fact::Attempt,
        Dataset::Reversals => Fact::Reversal,
    }
}

fn dim(d: Dimension) -> Option<Dim> {
    match d {
        Dimension::Day | Dimension::Hour => None,
        Dimension::Batch => Some(Dim::Batch),
        Dimension::State => Some(Dim::State),
        Dimension::Network => Some(Dim::Network),
        Dimension::Language => Some(Dim::Language),
        Dimension::Segment => Some(Dim::Segment),
    }
}

/// One output row's key: the time bucket, then the value of each non-time dimension.
type Key = (Option<DateTime<Utc>>, Vec<String>);

#[derive(Default, Clone, Copy)]
struct Sums {
    n: i64,
    amount: i64,
    ms: i64,
}

/// Builds the report of `def` over `range`.
pub async fn build(
    conn: &mut PgConnection,
    def: &Definition,
    range: DayRange,
    heading: &Heading<'_>,
) -> Result<Report, AppError> {
    let (from, to) = stats::kigali_days(range.from, range.to);
    let bucket = match def.time() {
        Some(Dimension::Day) => Bucket::KigaliDay,
        Some(Dimension::Hour) => Bucket::Hour,
        _ => Bucket::All,
    };
    let shown: Vec<Dimension> = def.dimensions.iter().copied().filter(|d| !d.is_time()).collect();
    let mut group: Vec<Dim> = shown.iter().filter_map(|d| dim(*d)).collect();
    let f = &def.filters;
    for (on, d) in [
        (f.state.is_some(), Dim::State),
        (f.network.is_some(), Dim::Network),
        (f.language.is_some(), Dim::Language),
    ] {
        if on && !group.contains(&d) {
            group.push(d);
        }
    }
    let query = stats::Query {
        fact: fact(def),
        from,
        to,
        bucket,
        group: &group,
        batch: f.batch,
    };
    let rows = stats::series(conn, &query).await?;
    let mut sums: BTreeMap<Key, Sums> = BTreeMap::new();
    for r in rows {
        let keep = f.state.as_ref().is_none_or(|s| r.state.as_deref() == Some(s))
            && f.network.as_ref().is_none_or(|n| {
                r.network
                    .as_deref()
                    .is_some_and(|v| v == n || stats::network_name(v) == n)
            })
            && f.language.as_ref().is_none_or(|l| r.language.as_deref() == Some(l));
        if !keep {
            continue;
        }
        let values = shown
            .iter()
            .map(|d| match d {
                Dimension::Batch => r.batch_id.map(|b| b.to_string()).unwrap_or_default(),
                Dimension::State => r.state.clone().unwrap_or_default(),
                Dimension::Network => stats::network_name(r.network.as_deref().unwrap_or("")).to_owned(),
                Dimension::Language => r.language.clone().unwrap_or_default(),
                Dimension::Segment => r.segment.clone().unwrap_or_default(),
                Dimension::Day | Dimension::Hour => String::new(),
            })
            .collect();
        let s = sums.entry((r.at, values)).or_default();
        s.n += r.n;
        s.amount += r.amount;
        s.ms += r.ms;
    }
    let names = batch_names(conn, &shown, &sums).await?;
    // every day (or hour) of the range has its row when time is the only breakdown
    if shown.is_empty() {
        for at in buckets(def.time(), range) {
            sums.entry((Some(at), Vec::new())).or_default();
        }
    }
    Ok(lay_out(def, range, heading, &shown, &sums, &names))
}

/// The time buckets of a range (none without a time dimension).
fn buckets(time: Option<Dimension>, range: DayRange) -> Vec<DateTime<Utc>> {
    let (from, to) = stats::kigali_days(range.from, range.to);
    let step = match time {
        Some(Dimension::Day) => Duration::days(1),
        Some(Dimension::Hour) => Duration::hours(1),
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        out.push(at);
        at += step;
    }
    out
}

async fn batch_names(
    conn: &mut PgConnection,
    shown: &[Dimension],
    sums: &BTreeMap<Key, Sums>,
) -> Result<HashMap<String, String>, sqlx::Error> {
    let Some(i) = shown.iter().position(|d| *d == Dimension::Batch) else {
        return Ok(HashMap::new());
    };
    let ids: Vec<Uuid> = sums
        .keys()
        .filter_map(|(_, v)| Uuid::parse_str(&v[i]).ok())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let rows: Vec<(Uuid, String)> = sqlx::query_as("select id, name from batches where id = any($1)")
        .bind(&ids)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(|(id, name)| (id.to_string(), name)).collect())
}

fn time_label(time: Option<Dimension>, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&kigali());
    match time {
        Some(Dimension::Hour) => local.format("%Y-%m-%d %H:00").to_string(),
        _ => local.format("%Y-%m-%d").to_string(),
    }
}

fn day_of(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&kigali()).date_naive()
}

fn measure_cell(m: Measure, s: Sums) -> Cell {
    match m {
        Measure::Count => Cell::Int(s.n),
        Measure::Amount => Cell::Money(s.amount),
        Measure::AverageTime if s.n > 0 => Cell::Millis(s.ms / s.n),
        Measure::AverageTime => Cell::Empty,
    }
}

fn measure_value(m: Measure, s: Sums) -> f64 {
    match m {
        Measure::Count => s.n as f64,
        Measure::Amount => s.amount as f64,
        Measure::AverageTime if s.n > 0 => (s.ms / s.n) as f64 / 1000.0,
        Measure::AverageTime => 0.0,
    }
}

fn unit(m: Measure, dataset: Dataset) -> &'static str {
    match m {
        Measure::Count => match dataset {
            Dataset::Redemptions => "redemptions",
            Dataset::Payouts | Dataset::Paid => "payouts",
            Dataset::Attempts => "attempts",
            Dataset::Reversals => "reversals",
        },
        Measure::Amount => "RWF",
        Measure::AverageTime => "seconds",
    }
}

fn lay_out(
    def: &Definition,
    range: DayRange,
    heading: &Heading<'_>,
    shown: &[Dimension],
    sums: &BTreeMap<Key, Sums>,
    names: &HashMap<String, String>,
) -> Report {
    let time = def.time();
    let value_label = |d: Dimension, v: &str| -> String {
        match d {
            Dimension::Batch => names.get(v).cloned().unwrap_or_else(|| v.to_owned()),
            _ if v.is_empty() => "—".to_owned(),
            _ => v.to_owned(),
        }
    };
    let mut columns = Vec::new();
    if let Some(t) = time {
        columns.push(Column::text(t.label()));
    }
    columns.extend(shown.iter().map(|d| Column::text(d.label())));
    columns.extend(def.measures.iter().map(|m| Column::number(m.label())));
    let mut total = Sums::default();
    let mut rows = Vec::with_capacity(sums.len());
    for ((at, values), s) in sums {
        total.n += s.n;
        total.amount += s.amount;
        total.ms += s.ms;
        let mut row = Vec::new();
        if let Some(at) = at {
            row.push(match time {
                Some(Dimension::Day) => Cell::Day(day_of(*at)),
                _ => Cell::Time(*at),
            });
        }
        row.extend(shown.iter().zip(values).map(|(d, v)| Cell::Text(value_label(*d, v))));
        row.extend(def.measures.iter().map(|m| measure_cell(*m, *s)));
        rows.push(row);
    }
    let totals = (!rows.is_empty()).then(|| {
        let lead = usize::from(time.is_some()) + shown.len();
        let mut t: Vec<Cell> = (0..lead)
            .map(|i| {
                if i == 0 {
                    Cell::Text("Total".into())
                } else {
                    Cell::Empty
                }
            })
            .collect();
        t.extend(def.measures.iter().map(|m| measure_cell(*m, total)));
        t
    });
    let figures = def
        .measures
        .iter()
        .map(|m| Figure {
            label: m.label().to_owned(),
            value: measure_cell(*m, total),
        })
        .collect();
    let mut blocks = vec![Block::Figures { figures }];
    if let Some(chart) = chart(def, shown, sums, heading.max_points, &value_label) {
        blocks.push(Block::Chart(chart));
    }
    blocks.push(Block::Table(Table {
        name: def.dataset.label().to_owned(),
        columns,
        rows,
        totals,
    }));
    if total.n == 0 {
        blocks.push(Block::Note {
            text: "Nothing was counted in this range.".into(),
        });
    }
    let mut filters = Vec::new();
    if let Some(b) = def.filters.batch {
        let b = b.to_string();
        filters.push(format!("Batch: {}", names.get(&b).cloned().unwrap_or(b)));
    }
    for (label, v) in [
        ("State", &def.filters.state),
        ("Network", &def.filters.network),
        ("Language", &def.filters.language),
    ] {
        if let Some(v) = v {
            filters.push(format!("{label}: {v}"));
        }
    }
    Report {
        kind: Kind::Custom,
        title: heading.title.to_owned(),
        range,
        filters,
        generated_by: heading.generated_by.to_owned(),
        generated_at: heading.now,
        sections: vec![Section {
            heading: def.dataset.label().to_owned(),
            blocks,
        }],
    }
}

/// The first measure over time (a line per value of the first other dimension, when there is
/// one), or over the first dimension's values as bars. None when there is nothing to draw.
fn chart(
    def: &Definition,
    shown: &[Dimension],
    sums: &BTreeMap<Key, Sums>,
    max_points: usize,
    value_label: &dyn Fn(Dimension, &str) -> String,
) -> Option<Chart> {
    let m = *def.measures.first()?;
    let time = def.time();
    let title = format!("{} — {}", def.dataset.label(), m.label());
    if let Some(t) = time {
        let mut xs: Vec<DateTime<Utc>> = sums.keys().filter_map(|(at, _)| *at).collect();
        xs.dedup();
        if xs.is_empty() {
            return None;
        }
        xs.truncate(max_points.max(1));
        let index: HashMap<DateTime<Utc>, usize> = xs.iter().enumerate().map(|(i, x)| (*x, i)).collect();
        let mut series: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for ((at, values), s) in sums {
            let Some(i) = at.and_then(|a| index.get(&a).copied()) else {
                continue;
            };
            let name = match (shown.first(), values.first()) {
                (Some(d), Some(v)) => value_label(*d, v),
                _ => m.label().to_owned(),
            };
            series.entry(name).or_insert_with(|| vec![0.0; xs.len()])[i] += measure_value(m, *s);
        }
        return Some(Chart {
            title,
            kind: ChartKind::Line,
            x_labels: xs.iter().map(|x| time_label(Some(t), *x)).collect(),
            series: series
                .into_iter()
                .map(|(name, values)| Series { name, values })
                .collect(),
            unit: unit(m, def.dataset).to_owned(),
        });
    }
    let first = *shown.first()?;
    let mut bars: BTreeMap<String, f64> = BTreeMap::new();
    for ((_, values), s) in sums {
        *bars.entry(value_label(first, &values[0])).or_default() += measure_value(m, *s);
    }
    let mut bars: Vec<(String, f64)> = bars.into_iter().collect();
    bars.sort_by(|a, b| b.1.total_cmp(&a.1));
    bars.truncate(max_points.max(1));
    Some(Chart {
        title,
        kind: ChartKind::Bar,
        x_labels: bars.iter().map(|b| b.0.clone()).collect(),
        series: vec![Series {
            name: m.label().to_owned(),
            values: bars.iter().map(|b| b.1).collect(),
        }],
        unit: unit(m, def.dataset).to_owned(),
    })
}
