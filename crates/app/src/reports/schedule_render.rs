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
/// permissions were checked on its owner, the built-in one's set by whoever may change the
/// analytics settings).
pub async fn build_builtin(
    conn: &mut PgConnection,
    kind: Kind,
    range: DayRange,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Report, Failure> {
    let spec = super::Spec {
        kind,
        range,
        batch: None,
    };
    Ok(super::build_at(conn, &spec, &super::Viewer::system(by), now).await?)
}

/// `report` as a file of `format`, as the analytics settings want it (charts or not, branded
/// or not).
pub fn render(report: &Report, format: Format, settings: &crate::settings::Settings) -> Result<Attachment, Failure> {
    let stem = file_stem(report);
    let report = super::export::job::with_settings(report.clone(), settings.analytics.report_include_charts);
    match format {
        Format::Csv => Ok(Attachment {
            file_name: format!("{stem}.csv"),
            content_type: "text/csv; charset=utf-8".into(),
            body: super::csv::render(&report).map_err(|e| Failure::Retry(e.to_string()))?,
        }),
        Format::Pdf => Ok(Attachment {
            file_name: format!("{stem}.pdf"),
            content_type: "application/pdf".into(),
            body: super::pdf::render_pdf(&report, &super::pdf::PdfLook::from_settings(settings))
                .map_err(|e| Failure::Give(e.to_string()))?,
        }),
    }
}

/// `financial-2026-12-01-2026-12-07`: the report's title as a file name, with its days.
pub fn file_stem(report: &Report) -> String {
    format!(
        "{}-{}-{}",
        super::export::slug(&report.title),
        report.range.from,
        report.range.to
    )
}
