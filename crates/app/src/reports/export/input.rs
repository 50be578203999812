//! What an export is asked for: [`ExportBody`] as the API and the page's form send it, parsed
//! once into an [`ExportCmd`] (a built-in report over days and a batch, or a saved custom report)
//! or a 422 naming every bad field.

use chrono::NaiveDate;
use serde::Deserialize;
use uuid::Uuid;

use crate::codes::export::Format;
use crate::error::{AppError, FieldError};
use crate::reports::model::Kind;
use crate::reports::spec::{RangeParams, Spec};
use crate::settings::model::AnalyticsSettings;

/// `POST /api/v1/admin/reports/export`'s body.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReportExportRequest)]
pub struct ExportBody {
    /// `batches`, `financial` or `engagement`; or leave out and give `customReportId`.
    pub kind: Option<String>,
    /// A saved custom report (one's own or a shared one), over its definition's days and
    /// filters: `from`, `to` and `batchId` are not given with it.
    pub custom_report_id: Option<String>,
    /// The first Kigali day, `YYYY-MM-DD`.
    pub from: Option<String>,
    /// The last Kigali day, included.
    pub to: Option<String>,
    pub batch_id: Option<String>,
    /// `csv` or `pdf` (default: `analytics.reports.defaultFormat`).
    pub format: Option<String>,
}

/// Which report an export makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exported {
    Builtin(Spec),
    /// A saved custom report, by id.
    Custom(Uuid),
}

/// An export to make, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportCmd {
    pub report: Exported,
    pub format: Format,
}

fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `csv` or `pdf` (default: `analytics.reports.defaultFormat`).
pub fn parse_format(v: Option<&str>, settings: &AnalyticsSettings) -> Result<Format, AppError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default_format(settings)),
        Some("csv") => Ok(Format::Csv),
        Some("pdf") => Ok(Format::Pdf),
        Some(_) => Err(AppError::field("format", "must be csv or pdf")),
    }
}

impl ExportBody {
    /// Every bad field at once.
    pub fn parse(&self, today: NaiveDate, settings: &AnalyticsSettings) -> Result<ExportCmd, AppError> {
        let mut errors: Vec<FieldError> = Vec::new();
        let format = parse_format(self.format.as_deref(), settings)
            .map_err(|_| errors.push(FieldError::new("format", "must be csv or pdf")))
            .ok();
        if let Some(id) = blank(&self.custom_report_id) {
            if blank(&self.kind).is_some_and(|k| k != "custom") {
                errors.push(FieldError::new(
                    "kind",
                    "give a built-in report or customReportId, not both",
                ));
            }
            for (field, v) in [("from", &self.from), ("to", &self.to), ("batchId", &self.batch_id)] {
                if blank(v).is_some() {
                    errors.push(FieldError::new(
                        field,
                        "a saved report's days and filters come from its definition",
                    ));
                }
            }
            let id = Uuid::parse_str(id)
                .map_err(|_| errors.push(FieldError::new("customReportId", "is not a report id")))
                .ok();
            return match (id, format) {
                (Some(id), Some(format)) if errors.is_empty() => Ok(ExportCmd {
                    report: Exported::Custom(id),
                    format,
                }),
                _ => Err(AppError::Validation(errors)),
            };
        }
        let kind = match self.kind.as_deref().map(str::trim) {
            Some(k) => Kind::parse_builtin(k),
            None => None,
        };
        if kind.is_none() {
            errors.push(FieldError::new(
                "kind",
                "must be batches, financial or engagement (or give customReportId)",
            ));
        }
        let params = RangeParams {
            from: self.from.clone(),
            to: self.to.clone(),
            batch_id: self.batch_id.clone(),
        };
        let spec = match params.spec(kind.unwrap_or(Kind::Batches), today) {
            Ok(s) => Some(s),
            Err(AppError::Validation(v)) => {
                errors.extend(v);
                None
            }
            Err(e) => return Err(e),
        };
        match (spec, format) {
            (Some(spec), Some(format)) if errors.is_empty() => Ok(ExportCmd {
                report: Exported::Builtin(spec),
                format,
            }),
            _ => Err(AppError::Validation(errors)),
        }
    }
}

/// The formats an export form offers, the default one chosen.
pub fn format_choices(settings: &AnalyticsSettings) -> Vec<(&'static str, bool)> {
    let default = default_format(settings).key();
    ["csv", "pdf"].into_iter().map(|f| (f, f == default)).collect()
}

/// `analytics.reports.defaultFormat`.
pub fn default_format(settings: &AnalyticsSettings) -> Format {
    if settings.report_default_format == "csv" {
        Format::Csv
    } else {
        Format::Pdf
    }
}
