//! A report as CSV: a few lines saying what it is, then every table as a section (its name on a
//! line of its own, the header, the rows, the totals, a blank line). Numbers are written raw — an
//! amount in whole francs, a rate as a fraction, a day as `YYYY-MM-DD`, a time in Kigali with its
//! offset — so a spreadsheet can add them up. Every cell passes [`crate::csv_out`]'s guard.
//!
//! With `analytics.reports.includeRawData` on, the financial CSV also carries its payouts, row by
//! row: [`raw_payouts`] streams them through the payouts export (`disbursement::ops::export`).

use sqlx::PgPool;

use super::model::{Block, Cell, Report};
use crate::codes::export::{Chunks, Format};
use crate::csv_out::CsvOut;
use crate::disbursement::ops::disclosure::Disclosure;
use crate::disbursement::ops::export::{self, Export, ReportHeader};
use crate::disbursement::ops::query::{Filter, Kind as ListKind, Sort};

/// One cell as a spreadsheet should read it.
pub fn raw(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => s.clone(),
        Cell::Int(n) | Cell::Money(n) | Cell::Millis(n) => n.to_string(),
        Cell::Ratio(r) => format!("{r:.6}").trim_end_matches('0').trim_end_matches('.').to_owned(),
        Cell::Day(d) => d.format("%Y-%m-%d").to_string(),
        Cell::Time(t) => t
            .with_timezone(&crate::clock::kigali())
            .format("%Y-%m-%dT%H:%M:%S+02:00")
            .to_string(),
        Cell::Empty => String::new(),
    }
}

/// Writes rows padded to one width (a CSV file has one number of columns).
struct Padded {
    w: CsvOut,
    width: usize,
}

impl Padded {
    fn row<I, S>(&mut self, cells: I) -> std::io::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut v: Vec<String> = cells.into_iter().map(Into::into).collect();
        v.resize(self.width.max(v.len()), String::new());
        self.w.row(v)
    }

    fn take(&mut self) -> std::io::Result<Vec<u8>> {
        self.w.take()
    }
}

/// How many columns the payouts export writes (`disbursement::ops::export`, every column shown):
/// a report followed by its payouts is padded to it, so the whole file has one width.
pub const RAW_WIDTH: usize = 17;

/// The report's tables as CSV.
pub fn render(report: &Report) -> std::io::Result<Vec<u8>> {
    render_padded(report, 0)
}

/// [`render`], every row at least `min_width` columns wide.
pub fn render_padded(report: &Report, min_width: usize) -> std::io::Result<Vec<u8>> {
    let width = report
        .sections
        .iter()
        .flat_map(|s| &s.blocks)
        .filter_map(|b| match b {
            Block::Table(t) => Some(t.columns.len()),
            _ => None,
        })
        .max()
        .unwrap_or(0)
        .max(3)
        .max(min_width);
    let mut w = Padded {
        w: CsvOut::new(),
        width,
    };
    w.row(["report", report.title.as_str()])?;
    w.row([
        "range".to_owned(),
        report.range.from.format("%Y-%m-%d").to_string(),
        report.range.to.format("%Y-%m-%d").to_string(),
    ])?;
    for f in &report.filters {
        w.row(["filter", f.as_str()])?;
    }
    w.row(["generated_by", report.generated_by.as_str()])?;
    w.row(["generated_at".to_owned(), raw(&Cell::Time(report.generated_at))])?;
    w.row([""])?;
    for section in &report.sections {
        for block in &section.blocks {
            match block {
                Block::Table(t) => {
                    w.row([format!("## {}", t.name)])?;
                    w.row(t.columns.iter().map(|c| c.name.clone()))?;
                    for r in &t.rows {
                        w.row(r.iter().map(raw))?;
                    }
                    if let Some(tot) = &t.totals {
                        w.row(tot.iter().map(raw))?;
                    }
                    w.row([""])?;
                }
                Block::Figures { figures } => {
                    w.row([format!("## {} figures", section.heading)])?;
                    w.row(["figure", "value"])?;
                    for f in figures {
                        w.row([f.label.clone(), raw(&f.value)])?;
                    }
                    w.row([""])?;
                }
                Block::Chart(_) | Block::Note { .. } => {}
            }
        }
    }
    w.take()
}

/// The heading written before the raw payout rows.
pub fn raw_heading() -> std::io::Result<Vec<u8>> {
    let mut w = Padded {
        w: CsvOut::new(),
        width: RAW_WIDTH,
    };
    w.row(["## Payouts"])?;
    w.take()
}

/// Every payout created in the report's range (and batch), newest first, as the payouts export
/// writes them (CSV, shown in full: the reader of a financial report reads payouts).
pub fn raw_payouts(pool: PgPool, report: &Report, batch: Option<uuid::Uuid>, rows: i64) -> Chunks {
    let filter = Filter {
        from: Some(report.range.start()),
        to: Some(report.range.end()),
        batch_id: batch,
        ..Filter::default()
    };
    let e = Export {
        kind: ListKind::Payouts,
        format: Format::Csv,
        filter,
        sort: Sort::NewestFirst,
        rows,
        at: report.generated_at,
    };
    export::stream(pool, e, ReportHeader::default(), Disclosure::ALL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::model::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    #[test]
    fn tables_are_sections_with_raw_numbers() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let report = Report {
            kind: Kind::Financial,
            title: "Financial report".into(),
            range: DayRange { from: day, to: day },
            filters: vec!["=cmd|' /C calc'!A0".into()],
            generated_by: "Ann".into(),
            generated_at: Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap(),
            sections: vec![Section {
                heading: "Totals".into(),
                blocks: vec![
                    Block::Figures {
                        figures: vec![Figure {
                            label: "Paid".into(),
                            value: Cell::Money(1_250_000),
                        }],
                    },
                    Block::Table(Table {
                        name: "By day".into(),
                        columns: vec![Column::text("Day"), Column::number("Paid"), Column::number("Rate")],
                        rows: vec![vec![Cell::Day(day), Cell::Money(1_250_000), Cell::Ratio(0.25)]],
                        totals: Some(vec![Cell::Text("Total".into()), Cell::Money(1_250_000), Cell::Empty]),
                    }),
                ],
            }],
        };
        let text = String::from_utf8(render(&report).unwrap()).unwrap();
        assert!(
            text.contains("filter,'=cmd|' /C calc'!A0,\n"),
            "formulas defused: {text}"
        );
        assert!(text.contains("generated_at,2026-12-01T12:00:00+02:00,\n"), "{text}");
        assert!(
            text.contains("## By day,,\nDay,Paid,Rate\n2026-12-01,1250000,0.25\nTotal,1250000,\n"),
            "{text}"
        );
        assert!(text.contains("Paid,1250000,\n"), "{text}");
        let rows: Vec<::csv::StringRecord> = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes())
            .records()
            .collect::<Result<_, _>>()
            .expect("one width, so a strict reader reads it");
        assert!(rows.iter().all(|r| r.len() == 3));
    }
}
