//! Customer engagement: new and returning customers, redemptions per customer, wrong-code
//! attempts and the phones flagged for them, languages, networks, and when people redeem (hour
//! of day × weekday, Kigali time).

use std::collections::BTreeMap;

use chrono::{Datelike, Timelike};
use sqlx::PgConnection;

use super::model::{Block, Cell, Chart, ChartKind, Column, Figure, Report, Section, Series, Table};
use super::source::{self, Bucket, Dim, Fact, Row};
use super::spec::kigali_day;
use super::Spec;
use crate::error::AppError;

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
/// The attempt outcomes that are a wrong code.
const WRONG: &[&str] = crate::stats::WRONG_CODE;
/// The most flagged phones listed (the count covers them all).
const FLAGGED_LISTED: i64 = 200;

fn by<F: Fn(&Row) -> Option<String>>(rows: &[Row], key: F) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(key(r).unwrap_or_else(|| "unknown".into())).or_insert(0) += r.n;
    }
    m
}

fn share_table(name: &str, what: &str, counts: &BTreeMap<String, i64>) -> Table {
    let total: i64 = counts.values().sum();
    let mut rows: Vec<(&String, &i64)> = counts.iter().collect();
    rows.sort_by_key(|(k, n)| (std::cmp::Reverse(**n), (*k).clone()));
    Table {
        name: name.into(),
        columns: vec![
            Column::text(what),
            Column::number("Redemptions"),
            Column::number("Share"),
        ],
        rows: rows
            .into_iter()
            .map(|(k, n)| {
                vec![
                    Cell::Text(k.clone()),
                    Cell::Int(*n),
                    if total > 0 {
                        Cell::Ratio(*n as f64 / total as f64)
                    } else {
                        Cell::Empty
                    },
                ]
            })
            .collect(),
        totals: Some(vec![Cell::Text("Total".into()), Cell::Int(total), Cell::Empty]),
    }
}

fn bar(title: &str, counts: &BTreeMap<String, i64>) -> Chart {
    Chart {
        title: title.into(),
        kind: ChartKind::Bar,
        x_labels: counts.keys().cloned().collect(),
        series: vec![Series {
            name: "Redemptions".into(),
            values: counts.values().map(|n| *n as f64).collect(),
        }],
        unit: "redemptions".into(),
    }
}

pub(super) async fn build(
    conn: &mut PgConnection,
    spec: &Spec,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Report, AppError> {
    let mut report = super::empty(spec, super::batch_filter(conn, spec).await?);
    let range = (spec.range.start(), spec.range.end());
    let hourly = source::series(
        conn,
        Fact::Redemption,
        range,
        Bucket::Hour,
        &[Dim::Network, Dim::Language, Dim::Segment],
        spec.batch,
    )
    .await?;
    // every customer who ever redeemed has exactly one redemption counted as `new`; a range that
    // reaches now reads the all-time tier (a row per key), an older one the hours up to its end
    let ever = if range.1 >= at {
        source::since_beginning(conn, Fact::Redemption, &[Dim::Segment], spec.batch).await?
    } else {
        source::series(
            conn,
            Fact::Redemption,
            (crate::stats::all_time().0, range.1),
            Bucket::All,
            &[Dim::Segment],
            spec.batch,
        )
        .await?
    };

    let redemptions: i64 = hourly.iter().map(|r| r.n).sum();
    let segment = by(&hourly, |r| r.segment.clone());
    let new = segment.get("new").copied().unwrap_or(0);
    let returning = segment.get("returning").copied().unwrap_or(0);
    let ever_all: i64 = ever.iter().map(|r| r.n).sum();
    let ever_new: i64 = ever
        .iter()
        .filter(|r| r.segment.as_deref() == Some("new"))
        .map(|r| r.n)
        .sum();
    // a mean, not a share: two decimals as text (a spreadsheet still reads it as a number)
    let per_customer = if ever_new > 0 {
        Cell::Text(format!("{:.2}", ever_all as f64 / ever_new as f64))
    } else {
        Cell::Empty
    };

    // wrong codes
    let attempts = source::series(conn, Fact::Attempt, range, Bucket::KigaliDay, &[Dim::State], None).await?;
    let days: Vec<_> = spec.range.each_day().collect();
    let mut wrong_by_day: Vec<[i64; 3]> = vec![[0; 3]; days.len()];
    for r in &attempts {
        let (Some(i), Some(k)) = (
            r.at.and_then(|t| days.binary_search(&kigali_day(t)).ok()),
            r.state.as_deref().and_then(|s| WRONG.iter().position(|w| *w == s)),
        ) else {
            continue;
        };
        wrong_by_day[i][k] += r.n;
    }
    let wrong_total: i64 = wrong_by_day.iter().flatten().sum();
    let flagged: Vec<(String, chrono::DateTime<chrono::Utc>, Option<String>)> = sqlx::query_as(
        "select msisdn, flagged_at, flag_reason from customers \
         where flagged_at >= $1 and flagged_at < $2 order by flagged_at desc limit $3",
    )
    .bind(range.0)
    .bind(range.1)
    .bind(FLAGGED_LISTED)
    .fetch_all(&mut *conn)
    .await?;
    let flagged_count: i64 =
        sqlx::query_scalar("select count(*) from customers where flagged_at >= $1 and flagged_at < $2")
            .bind(range.0)
            .bind(range.1)
            .fetch_one(&mut *conn)
            .await?;

    report.sections.push(Section {
        heading: "Customers".into(),
        blocks: vec![
            Block::Figures {
                figures: vec![
                    Figure {
                        label: "Redemptions".into(),
                        value: Cell::Int(redemptions),
                    },
                    Figure {
                        label: "New customers".into(),
                        value: Cell::Int(new),
                    },
                    Figure {
                        label: "Redemptions by returning customers".into(),
                        value: Cell::Int(returning),
                    },
                    Figure {
                        label: "Redemptions per customer (all time)".into(),
                        value: per_customer.clone(),
                    },
                    Figure {
                        label: "Wrong-code attempts".into(),
                        value: Cell::Int(wrong_total),
                    },
                    Figure {
                        label: "Phones flagged".into(),
                        value: Cell::Int(flagged_count),
                    },
                ],
            },
            Block::Table(Table {
                name: "Customers".into(),
                columns: vec![Column::text("Measure"), Column::number("Value")],
                rows: vec![
                    vec![Cell::Text("New customers (first redemption in the range)".into()), Cell::Int(new)],
                    vec![Cell::Text("Redemptions by returning customers".into()), Cell::Int(returning)],
                    vec![Cell::Text("Redemptions in all, to the end of the range".into()), Cell::Int(ever_all)],
                    vec![Cell::Text("Customers in all, to the end of the range".into()), Cell::Int(ever_new)],
                ],
                totals: None,
            }),
            Block::Note {
                text: "A customer is new on their first redemption ever and returning on every later one; redemptions per customer is every redemption so far over every customer who has redeemed.".into(),
            },
        ],
    });

    let languages = by(&hourly, |r| r.language.clone());
    let networks = by(&hourly, |r| {
        r.network.as_deref().map(|n| crate::stats::network_name(n).to_owned())
    });
    report.sections.push(Section {
        heading: "Languages and networks".into(),
        blocks: vec![
            Block::Chart(bar("Redemptions by language", &languages)),
            Block::Table(share_table("Languages", "Language", &languages)),
            Block::Chart(bar("Redemptions by network", &networks)),
            Block::Table(share_table("Networks", "Network", &networks)),
        ],
    });

    report.sections.push(heat_map(&hourly));

    let labels: Vec<String> = days.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect();
    report.sections.push(Section {
        heading: "Wrong codes".into(),
        blocks: vec![
            Block::Chart(Chart {
                title: "Wrong-code attempts per day".into(),
                kind: ChartKind::StackedBar,
                x_labels: labels,
                series: WRONG
                    .iter()
                    .enumerate()
                    .map(|(k, w)| Series {
                        name: (*w).into(),
                        values: wrong_by_day.iter().map(|d| d[k] as f64).collect(),
                    })
                    .collect(),
                unit: "attempts".into(),
            }),
            Block::Table(Table {
                name: "Wrong-code attempts per day".into(),
                columns: vec![
                    Column::text("Day"),
                    Column::number("Unknown code"),
                    Column::number("Typo"),
                    Column::number("Not a code"),
                    Column::number("Total"),
                ],
                rows: days
                    .iter()
                    .zip(&wrong_by_day)
                    .map(|(d, w)| {
                        vec![
                            Cell::Day(*d),
                            Cell::Int(w[0]),
                            Cell::Int(w[1]),
                            Cell::Int(w[2]),
                            Cell::Int(w.iter().sum()),
                        ]
                    })
                    .collect(),
                totals: Some(vec![
                    Cell::Text("Total".into()),
                    Cell::Int(wrong_by_day.iter().map(|w| w[0]).sum()),
                    Cell::Int(wrong_by_day.iter().map(|w| w[1]).sum()),
                    Cell::Int(wrong_by_day.iter().map(|w| w[2]).sum()),
                    Cell::Int(wrong_total),
                ]),
            }),
            Block::Table(Table {
                name: "Flagged phones".into(),
                columns: vec![Column::text("Phone"), Column::text("Flagged"), Column::text("Reason")],
                rows: flagged
                    .into_iter()
                    .map(|(phone, at, reason)| {
                        vec![
                            Cell::Text(crate::telemetry::mask_phone(&phone)),
                            Cell::Time(at),
                            reason.map_or(Cell::Empty, Cell::Text),
                        ]
                    })
                    .collect(),
                totals: None,
            }),
        ],
    });
    Ok(report)
}

/// Redemptions by weekday (rows, Monday first) and hour of day (columns), Kigali time.
fn heat_map(hourly: &[Row]) -> Section {
    let mut grid = [[0i64; 24]; 7];
    for r in hourly {
        if let Some(t) = r.at {
            let k = t.with_timezone(&crate::clock::kigali());
            grid[k.weekday().num_days_from_monday() as usize][k.hour() as usize] += r.n;
        }
    }
    let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    let mut columns = vec![Column::text("Weekday")];
    columns.extend(hours.iter().map(|h| Column::number(h)));
    columns.push(Column::number("Total"));
    Section {
        heading: "When people redeem".into(),
        blocks: vec![
            Block::Chart(Chart {
                title: "Redemptions by hour of day and weekday (Kigali time)".into(),
                kind: ChartKind::Heat,
                x_labels: hours,
                series: WEEKDAYS
                    .iter()
                    .zip(grid.iter())
                    .map(|(d, row)| Series {
                        name: (*d).into(),
                        values: row.iter().map(|n| *n as f64).collect(),
                    })
                    .collect(),
                unit: "redemptions".into(),
            }),
            Block::Table(Table {
                name: "Hour of day by weekday".into(),
                columns,
                rows: WEEKDAYS
                    .iter()
                    .zip(grid.iter())
                    .map(|(d, row)| {
                        let mut cells = vec![Cell::Text((*d).into())];
                        cells.extend(row.iter().map(|n| Cell::Int(*n)));
                        cells.push(Cell::Int(row.iter().sum()));
                        cells
                    })
                    .collect(),
                totals: None,
            }),
        ],
    }
}
