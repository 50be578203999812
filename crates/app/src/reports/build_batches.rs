//! Batch performance: per batch, its codes, how many were redeemed and the rate (from
//! `batch_code_counts`, the same figures as the batch's own statistics), codes that expired
//! unredeemed, the value paid and pending (money: shown only to readers of payouts), and the
//! redemption curve over the range (redemptions per Kigali day from the rollups, and their
//! running total).

use std::collections::BTreeMap;

use sqlx::PgConnection;
use uuid::Uuid;

use super::model::{Block, Cell, Chart, ChartKind, Column, Figure, Report, Section, Series, Table};
use super::source::{self, Bucket, Dim, Fact};
use super::spec::kigali_day;
use super::{Spec, Viewer};
use crate::error::AppError;

/// The most batches a curve draws (the busiest); the table lists them all.
const CURVE_BATCHES: usize = 6;

#[derive(sqlx::FromRow)]
struct BatchLine {
    id: Uuid,
    batch_number: i64,
    name: String,
    status: String,
    codes: i64,
    redeemed: i64,
    expired: i64,
    paid: i64,
    pending: i64,
}

pub(super) async fn build(conn: &mut PgConnection, spec: &Spec, viewer: &Viewer) -> Result<Report, AppError> {
    let mut report = super::empty(spec, super::batch_filter(conn, spec).await?);
    // batches made by the end of the range; their counts as they stand (decision 0011)
    let lines: Vec<BatchLine> = sqlx::query_as(
        "with c as ( \
           select batch_id, \
             sum(codes)::int8 as codes, \
             coalesce(sum(codes) filter (where status in ('used', 'redeemed')), 0)::int8 as redeemed, \
             coalesce(sum(codes) filter (where status = 'expired'), 0)::int8 as expired, \
             coalesce(sum(amount) filter (where status = 'redeemed'), 0)::int8 as paid, \
             coalesce(sum(amount) filter (where status = 'used'), 0)::int8 as pending \
           from batch_code_counts where ($1::uuid is null or batch_id = $1) group by batch_id) \
         select b.id, b.batch_number, b.name, b.status, coalesce(c.codes, 0)::int8 as codes, \
           coalesce(c.redeemed, 0)::int8 as redeemed, coalesce(c.expired, 0)::int8 as expired, \
           coalesce(c.paid, 0)::int8 as paid, coalesce(c.pending, 0)::int8 as pending \
         from batches b left join c on c.batch_id = b.id \
         where ($1::uuid is null or b.id = $1) and b.created_at < $2 \
         order by b.batch_number",
    )
    .bind(spec.batch)
    .bind(spec.range.end())
    .fetch_all(&mut *conn)
    .await?;

    let rate = |redeemed: i64, codes: i64| {
        if codes > 0 {
            Cell::Ratio(redeemed as f64 / codes as f64)
        } else {
            Cell::Empty
        }
    };
    let (codes, redeemed, expired, paid, pending) = lines.iter().fold((0, 0, 0, 0, 0), |t, l| {
        (
            t.0 + l.codes,
            t.1 + l.redeemed,
            t.2 + l.expired,
            t.3 + l.paid,
            t.4 + l.pending,
        )
    });
    let mut figures = vec![
        Figure {
            label: "Batches".into(),
            value: Cell::Int(lines.len() as i64),
        },
        Figure {
            label: "Codes".into(),
            value: Cell::Int(codes),
        },
        Figure {
            label: "Redeemed".into(),
            value: Cell::Int(redeemed),
        },
        Figure {
            label: "Redemption rate".into(),
            value: rate(redeemed, codes),
        },
        Figure {
            label: "Expired unredeemed".into(),
            value: Cell::Int(expired),
        },
    ];
    let mut columns = vec![
        Column::number("Batch"),
        Column::text("Name"),
        Column::text("Status"),
        Column::number("Codes"),
        Column::number("Redeemed"),
        Column::number("Rate"),
        Column::number("Expired unredeemed"),
    ];
    if viewer.money {
        figures.push(Figure {
            label: "Paid".into(),
            value: Cell::Money(paid),
        });
        figures.push(Figure {
            label: "Pending".into(),
            value: Cell::Money(pending),
        });
        columns.push(Column::number("Paid (RWF)"));
        columns.push(Column::number("Pending (RWF)"));
    }
    let rows = lines
        .iter()
        .map(|l| {
            let mut row = vec![
                Cell::Int(l.batch_number),
                Cell::Text(l.name.clone()),
                Cell::Text(l.status.clone()),
                Cell::Int(l.codes),
                Cell::Int(l.redeemed),
                rate(l.redeemed, l.codes),
                Cell::Int(l.expired),
            ];
            if viewer.money {
                row.push(Cell::Money(l.paid));
                row.push(Cell::Money(l.pending));
            }
            row
        })
        .collect();
    let mut totals = vec![
        Cell::Text("Total".into()),
        Cell::Empty,
        Cell::Empty,
        Cell::Int(codes),
        Cell::Int(redeemed),
        rate(redeemed, codes),
        Cell::Int(expired),
    ];
    if viewer.money {
        totals.push(Cell::Money(paid));
        totals.push(Cell::Money(pending));
    }
    report.sections.push(Section {
        heading: "Batches".into(),
        blocks: vec![
            Block::Figures { figures },
            Block::Table(Table {
                name: "Batches".into(),
                columns,
                rows,
                totals: Some(totals),
            }),
            Block::Note {
                text: "Codes, redemptions and amounts are as they stand now; a code counts as redeemed once its redemption is accepted.".into(),
            },
        ],
    });
    report.sections.push(curve(conn, spec, &lines).await?);
    Ok(report)
}

/// Redemptions per Kigali day in the range, per batch, and their running totals.
async fn curve(conn: &mut PgConnection, spec: &Spec, lines: &[BatchLine]) -> Result<Section, AppError> {
    let rows = source::series(
        conn,
        Fact::Redemption,
        (spec.range.start(), spec.range.end()),
        Bucket::KigaliDay,
        &[Dim::Batch],
        spec.batch,
    )
    .await?;
    let days: Vec<_> = spec.range.each_day().collect();
    let index = |d| days.binary_search(&d).ok();
    let mut per_batch: BTreeMap<Uuid, Vec<i64>> = BTreeMap::new();
    let mut all = vec![0i64; days.len()];
    for r in rows {
        let Some(i) = r.at.and_then(|t| index(kigali_day(t))) else {
            continue;
        };
        all[i] += r.n;
        if let Some(b) = r.batch_id {
            per_batch.entry(b).or_insert_with(|| vec![0; days.len()])[i] += r.n;
        }
    }
    let running = |v: &[i64]| {
        v.iter()
            .scan(0i64, |s, n| {
                *s += n;
                Some(*s as f64)
            })
            .collect::<Vec<f64>>()
    };
    let mut busiest: Vec<(&Uuid, &Vec<i64>)> = per_batch.iter().collect();
    busiest.sort_by_key(|(_, v)| std::cmp::Reverse(v.iter().sum::<i64>()));
    let name = |id: &Uuid| {
        lines
            .iter()
            .find(|l| l.id == *id)
            .map_or_else(|| "Batch".to_owned(), |l| format!("{} {}", l.batch_number, l.name))
    };
    let mut series: Vec<Series> = busiest
        .iter()
        .take(CURVE_BATCHES)
        .map(|(id, v)| Series {
            name: name(id),
            values: running(v),
        })
        .collect();
    if spec.batch.is_none() {
        series.insert(
            0,
            Series {
                name: "All batches".into(),
                values: running(&all),
            },
        );
    }
    let labels: Vec<String> = days.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect();
    let mut total = 0i64;
    let table_rows = days
        .iter()
        .zip(&all)
        .map(|(d, n)| {
            total += n;
            vec![Cell::Day(*d), Cell::Int(*n), Cell::Int(total)]
        })
        .collect();
    Ok(Section {
        heading: "Redemption curve".into(),
        blocks: vec![
            Block::Chart(Chart {
                title: "Redemptions so far in the range".into(),
                kind: ChartKind::Line,
                x_labels: labels,
                series,
                unit: "redemptions".into(),
            }),
            Block::Table(Table {
                name: "Redemptions per day".into(),
                columns: vec![
                    Column::text("Day"),
                    Column::number("Redemptions"),
                    Column::number("Running total"),
                ],
                rows: table_rows,
                totals: Some(vec![Cell::Text("Total".into()), Cell::Int(total), Cell::Empty]),
            }),
        ],
    })
}
