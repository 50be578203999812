//! What a scheduled run e-mails: the report(s) built for the run's period and rendered as the
//! schedule's format. Built-in reports come from `reports::build`, custom ones from their saved
//! definition; CSV from `reports::csv`, PDF from `reports::pdf`.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::model::{DayRange, Kind, Report};
use super::schedule::Format;
use crate::identity::mail::Attachment;

/// Why a report could not be made: worth retrying, or not.
#[derive(Debug)]
pub enum Failure {
    Retry(String),
    Give(String),
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::Retry(m) | Failure::Give(m) => m,
        }
    }
}

impl From<crate::error::AppError> for Failure {
    fn from(e: crate::error::AppError) -> Self {
        use crate::error::AppError::*;
        match e {
            Internal(e) => Failure::Retry(format!("{e:#}")),
            e => Failure::Give(crate::error::describe(&e)),
        }
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Retry(e.to_string())
    }
}

/// A built-in report over `range`, as the schedule `by` sees it (all of it: a schedule's
/// permissions were checked on its owner).
pub async fn build_builtin(
    conn: &mut PgConnection,
    kind: Kind,
    range: DayRange,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Report, Failure> {
    let _ = (conn, range, by, now);
    Err(Failure::Give(format!(
        "the {} report is not available in this build yet",
        kind.as_str()
    )))
}

/// `report` as a file of `format`.
pub fn render(report: &Report, format: Format, settings: &crate::settings::Settings) -> Result<Attachment, Failure> {
    let _ = settings;
    let stem = file_stem(report);
    match format {
        Format::Csv => Ok(Attachment {
            file_name: format!("{stem}.csv"),
            content_type: "text/csv; charset=utf-8".into(),
            body: csv(report).map_err(|e| Failure::Retry(e.to_string()))?,
        }),
        Format::Pdf => Err(Failure::Give("PDF reports are not available in this build yet".into())),
    }
}

/// `financial-2026-12-01-2026-12-07`: the report's title as a file name, with its days.
pub fn file_stem(report: &Report) -> String {
    let mut slug = String::new();
    for c in report.title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "report" } else { slug };
    format!("{slug}-{}-{}", report.range.from, report.range.to)
}

fn csv(report: &Report) -> std::io::Result<Vec<u8>> {
    use super::model::{Block, Cell};
    let mut out = crate::csv_out::CsvOut::new();
    let raw = |c: &Cell| match c {
        Cell::Text(s) => s.clone(),
        Cell::Int(n) | Cell::Money(n) | Cell::Millis(n) => n.to_string(),
        Cell::Ratio(r) => r.to_string(),
        Cell::Day(d) => d.to_string(),
        Cell::Time(t) => t.to_rfc3339(),
        Cell::Empty => String::new(),
    };
    for s in &report.sections {
        for b in &s.blocks {
            if let Block::Table(t) = b {
                out.row(t.columns.iter().map(|c| c.name.clone()))?;
                for r in t.rows.iter().chain(t.totals.iter()) {
                    out.row(r.iter().map(raw))?;
                }
            }
        }
    }
    out.take()
}
