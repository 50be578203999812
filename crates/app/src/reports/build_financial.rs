//! The financial report: payouts created in the range by their current state — paid, pending,
//! held, failed — per Kigali day and per batch, reversals by the day they were approved, and the
//! reconciliation outcome of each day. The state totals are the sums the payouts list gives for
//! the same days (every payout created in the range counts once, in the state it is in now).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::{Block, Cell, Chart, ChartKind, Column, Figure, Report, Section, Series, Table};
use super::source::{self, Bucket, Dim, Fact, Row};
use super::spec::kigali_day;
use super::Spec;
use crate::disbursement::state::PayoutStatus;
use crate::error::AppError;

/// The states a finance reader counts, each gathering payout statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Money {
    Paid,
    Pending,
    Held,
    Failed,
}

impl Money {
    pub const ALL: [Money; 4] = [Money::Paid, Money::Pending, Money::Held, Money::Failed];

    pub fn of(s: PayoutStatus) -> Money {
        match s {
            PayoutStatus::Completed => Money::Paid,
            PayoutStatus::Queued | PayoutStatus::Processing | PayoutStatus::RetryScheduled => Money::Pending,
            PayoutStatus::AwaitingApproval => Money::Held,
            PayoutStatus::Failed | PayoutStatus::PayeeInvalid => Money::Failed,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Money::Paid => "Paid",
            Money::Pending => "Pending",
            Money::Held => "Held",
            Money::Failed => "Failed",
        }
    }
}

/// Count and amount.
#[derive(Debug, Clone, Copy, Default)]
struct Sum {
    n: i64,
    amount: i64,
}

impl Sum {
    fn add(&mut self, r: &Row) {
        self.n += r.n;
        self.amount += r.amount;
    }
}

/// Per money state, plus reversals.
#[derive(Debug, Clone, Copy, Default)]
struct Line {
    by: [Sum; 4],
    reversed: Sum,
}

impl Line {
    fn cells(&self) -> Vec<Cell> {
        let mut v = Vec::with_capacity(10);
        for s in &self.by {
            v.push(Cell::Int(s.n));
            v.push(Cell::Money(s.amount));
        }
        v.push(Cell::Int(self.reversed.n));
        v.push(Cell::Money(self.reversed.amount));
        v
    }

    fn plus(&mut self, o: &Line) {
        for (a, b) in self.by.iter_mut().zip(o.by.iter()) {
            a.n += b.n;
            a.amount += b.amount;
        }
        self.reversed.n += o.reversed.n;
        self.reversed.amount += o.reversed.amount;
    }
}

fn money_state(r: &Row) -> Option<Money> {
    r.state.as_deref().and_then(PayoutStatus::parse).map(Money::of)
}

fn columns(first: Vec<Column>) -> Vec<Column> {
    let mut c = first;
    for m in Money::ALL {
        c.push(Column::number(&format!("{} payouts", m.label())));
        c.push(Column::number(&format!("{} (RWF)", m.label())));
    }
    c.push(Column::number("Reversals"));
    c.push(Column::number("Reversed (RWF)"));
    c
}

pub(super) async fn build(conn: &mut PgConnection, spec: &Spec) -> Result<Report, AppError> {
    let mut report = super::empty(spec, super::batch_filter(conn, spec).await?);
    let range = (spec.range.start(), spec.range.end());
    let payouts = source::series(
        conn,
        Fact::Payout,
        range,
        Bucket::KigaliDay,
        &[Dim::Batch, Dim::State],
        spec.batch,
    )
    .await?;
    let reversals = source::series(
        conn,
        Fact::Reversal,
        range,
        Bucket::KigaliDay,
        &[Dim::Batch],
        spec.batch,
    )
    .await?;

    let days: Vec<NaiveDate> = spec.range.each_day().collect();
    let mut by_day: Vec<Line> = vec![Line::default(); days.len()];
    let mut by_batch: BTreeMap<Uuid, Line> = BTreeMap::new();
    let mut by_status: HashMap<PayoutStatus, Sum> = HashMap::new();
    let day_of = |at: Option<DateTime<Utc>>| at.and_then(|t| days.binary_search(&kigali_day(t)).ok());
    for r in &payouts {
        let (Some(i), Some(m)) = (day_of(r.at), money_state(r)) else {
            continue;
        };
        by_day[i].by[m as usize].add(r);
        if let Some(b) = r.batch_id {
            by_batch.entry(b).or_default().by[m as usize].add(r);
        }
        if let Some(s) = r.state.as_deref().and_then(PayoutStatus::parse) {
            by_status.entry(s).or_default().add(r);
        }
    }
    for r in &reversals {
        let Some(i) = day_of(r.at) else { continue };
        by_day[i].reversed.add(r);
        if let Some(b) = r.batch_id {
            by_batch.entry(b).or_default().reversed.add(r);
        }
    }
    let mut total = Line::default();
    for l in &by_day {
        total.plus(l);
    }

    // headline figures
    let mut figures: Vec<Figure> = Money::ALL
        .iter()
        .map(|m| Figure {
            label: m.label().into(),
            value: Cell::Money(total.by[*m as usize].amount),
        })
        .collect();
    figures.push(Figure {
        label: "Reversed".into(),
        value: Cell::Money(total.reversed.amount),
    });
    figures.push(Figure {
        label: "Payouts".into(),
        value: Cell::Int(total.by.iter().map(|s| s.n).sum()),
    });

    // by state: every status the payouts list filters by
    let status_rows: Vec<Vec<Cell>> = PayoutStatus::ALL
        .iter()
        .map(|s| {
            let sum = by_status.get(s).copied().unwrap_or_default();
            vec![
                Cell::Text(s.as_str().into()),
                Cell::Text(Money::of(*s).label().into()),
                Cell::Int(sum.n),
                Cell::Money(sum.amount),
            ]
        })
        .collect();
    let all: Sum = by_status.values().fold(Sum::default(), |a, s| Sum {
        n: a.n + s.n,
        amount: a.amount + s.amount,
    });
    report.sections.push(Section {
        heading: "Totals".into(),
        blocks: vec![
            Block::Figures { figures },
            Block::Table(Table {
                name: "By state".into(),
                columns: vec![
                    Column::text("Status"),
                    Column::text("Counted as"),
                    Column::number("Payouts"),
                    Column::number("Amount (RWF)"),
                ],
                rows: status_rows,
                totals: Some(vec![
                    Cell::Text("Total".into()),
                    Cell::Empty,
                    Cell::Int(all.n),
                    Cell::Money(all.amount),
                ]),
            }),
            Block::Note {
                text: "Payouts created in the range, each in the state it is in now: the same payouts, and the same sums, as the payouts list filtered to these days. Reversals count on the day they were approved.".into(),
            },
        ],
    });

    // by day
    let labels: Vec<String> = days.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect();
    let chart = Chart {
        title: "Payouts per day by state".into(),
        kind: ChartKind::StackedBar,
        x_labels: labels,
        series: Money::ALL
            .iter()
            .map(|m| Series {
                name: m.label().into(),
                values: by_day.iter().map(|l| l.by[*m as usize].amount as f64).collect(),
            })
            .collect(),
        unit: "RWF".into(),
    };
    let mut total_cells = vec![Cell::Text("Total".into())];
    total_cells.extend(total.cells());
    report.sections.push(Section {
        heading: "By day".into(),
        blocks: vec![
            Block::Chart(chart),
            Block::Table(Table {
                name: "By day".into(),
                columns: columns(vec![Column::text("Day")]),
                rows: days
                    .iter()
                    .zip(&by_day)
                    .map(|(d, l)| {
                        let mut row = vec![Cell::Day(*d)];
                        row.extend(l.cells());
                        row
                    })
                    .collect(),
                totals: Some(total_cells.clone()),
            }),
        ],
    });

    // by batch
    let ids: Vec<Uuid> = by_batch.keys().copied().collect();
    let names = super::batch_names(conn, &ids).await?;
    let mut batch_rows: Vec<(i64, Vec<Cell>)> = by_batch
        .iter()
        .map(|(id, l)| {
            let (n, name) = names.get(id).cloned().unwrap_or((0, String::new()));
            let mut row = vec![Cell::Int(n), Cell::Text(name)];
            row.extend(l.cells());
            (n, row)
        })
        .collect();
    batch_rows.sort_by_key(|(n, _)| *n);
    let mut batch_total = vec![Cell::Text("Total".into()), Cell::Empty];
    batch_total.extend(total.cells());
    report.sections.push(Section {
        heading: "By batch".into(),
        blocks: vec![Block::Table(Table {
            name: "By batch".into(),
            columns: columns(vec![Column::number("Batch"), Column::text("Name")]),
            rows: batch_rows.into_iter().map(|(_, r)| r).collect(),
            totals: Some(batch_total),
        })],
    });

    report.sections.push(reconciliation(conn, spec).await?);
    Ok(report)
}

#[derive(sqlx::FromRow)]
struct RunDay {
    day: NaiveDate,
    runs: i64,
    completed: i64,
    failed: i64,
    checked: i64,
    discrepancies: i64,
    last_status: String,
}

/// Each day's reconciliation runs (a handful a day): how many, how many payouts they checked,
/// the discrepancies they found, and how the day's last run ended.
async fn reconciliation(conn: &mut PgConnection, spec: &Spec) -> Result<Section, AppError> {
    let rows: Vec<RunDay> = sqlx::query_as(
        "select (created_at at time zone 'Africa/Kigali')::date as day, count(*)::int8 as runs, \
           count(*) filter (where status = 'completed')::int8 as completed, \
           count(*) filter (where status = 'failed')::int8 as failed, \
           coalesce(sum(checked_count), 0)::int8 as checked, \
           coalesce(sum(discrepancy_count), 0)::int8 as discrepancies, \
           (array_agg(status order by created_at desc))[1] as last_status \
         from reconciliation_runs where created_at >= $1 and created_at < $2 group by 1 order by 1",
    )
    .bind(spec.range.start())
    .bind(spec.range.end())
    .fetch_all(&mut *conn)
    .await?;
    let outcome = |r: &RunDay| {
        if r.last_status == "running" {
            "running"
        } else if r.completed == 0 {
            "failed"
        } else if r.discrepancies > 0 {
            "discrepancies"
        } else {
            "clean"
        }
    };
    let clean = rows.iter().filter(|r| outcome(r) == "clean").count() as i64;
    let with_issues = rows.iter().filter(|r| outcome(r) == "discrepancies").count() as i64;
    let discrepancies: i64 = rows.iter().map(|r| r.discrepancies).sum();
    let table_rows = rows
        .iter()
        .map(|r| {
            vec![
                Cell::Day(r.day),
                Cell::Int(r.runs),
                Cell::Int(r.completed),
                Cell::Int(r.failed),
                Cell::Int(r.checked),
                Cell::Int(r.discrepancies),
                Cell::Text(outcome(r).into()),
            ]
        })
        .collect();
    Ok(Section {
        heading: "Reconciliation".into(),
        blocks: vec![
            Block::Figures {
                figures: vec![
                    Figure {
                        label: "Days reconciled".into(),
                        value: Cell::Int(rows.len() as i64),
                    },
                    Figure {
                        label: "Clean days".into(),
                        value: Cell::Int(clean),
                    },
                    Figure {
                        label: "Days with discrepancies".into(),
                        value: Cell::Int(with_issues),
                    },
                    Figure {
                        label: "Discrepancies".into(),
                        value: Cell::Int(discrepancies),
                    },
                ],
            },
            Block::Table(Table {
                name: "Reconciliation per day".into(),
                columns: vec![
                    Column::text("Day"),
                    Column::number("Runs"),
                    Column::number("Completed"),
                    Column::number("Failed"),
                    Column::number("Payouts checked"),
                    Column::number("Discrepancies"),
                    Column::text("Outcome"),
                ],
                rows: table_rows,
                totals: None,
            }),
        ],
    })
}
