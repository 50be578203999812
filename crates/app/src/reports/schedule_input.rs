//! A schedule as a client sends it, checked at the edge into a [`NewSchedule`] (a 422 names
//! each bad field: `report`, `frequency`, `recipients[2]`…).

use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::model::Kind;
use super::schedule::{Delivery, Format, Frequency, MAX_RECIPIENTS};
use crate::error::{AppError, FieldError};

/// A schedule to create, checked.
#[derive(Debug, Clone)]
pub struct NewSchedule {
    pub kind: Kind,
    pub custom_report_id: Option<Uuid>,
    pub frequency: Frequency,
    pub recipients: Vec<String>,
    pub format: Format,
    pub delivery: Delivery,
}

/// A schedule as a client sends it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ReportScheduleRequest)]
pub struct ScheduleInput {
    /// `batches`, `financial`, `engagement`; or leave out and give `customReportId`.
    #[schema(examples("financial"))]
    pub report: Option<String>,
    /// A saved custom report (one's own or a shared one).
    pub custom_report_id: Option<String>,
    /// `daily`, `weekly` (Mondays, the week before) or `monthly` (the 1st, the month before).
    #[schema(examples("weekly"))]
    pub frequency: Option<String>,
    /// 1 to 50 e-mail addresses.
    #[schema(examples(json!(["finance@mbelyco.rw"])))]
    pub recipients: Option<Vec<String>>,
    /// `csv` or `pdf` (default: the analytics settings' report format).
    pub format: Option<String>,
    /// `attach` (default) or `link`.
    pub delivery: Option<String>,
}

/// An e-mail address as the settings check them.
pub fn is_email(v: &str) -> bool {
    v.len() <= 254
        && match v.split_once('@') {
            Some((l, d)) => {
                !l.is_empty()
                    && d.contains('.')
                    && !d.starts_with('.')
                    && !d.ends_with('.')
                    && !d.contains('@')
                    && !v.contains(|c: char| c.is_whitespace() || c.is_control() || c == ',' || c == '<' || c == '>')
            }
            None => false,
        }
}

impl ScheduleInput {
    /// Checks every field; a 422 names each bad one. `default_format` is the settings' format.
    pub fn parse(&self, default_format: &str) -> Result<NewSchedule, AppError> {
        let mut errors = Vec::new();
        let blank = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let custom = match blank(&self.custom_report_id) {
            None => None,
            Some(id) => match Uuid::parse_str(&id) {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.push(FieldError::new("customReportId", "is not a report id"));
                    None
                }
            },
        };
        let given = blank(&self.custom_report_id).is_some();
        let kind = match (blank(&self.report).as_deref(), given) {
            // a bad id is named above
            (None | Some("custom"), true) => custom.map(|_| Kind::Custom),
            (Some("batches"), false) => Some(Kind::Batches),
            (Some("financial"), false) => Some(Kind::Financial),
            (Some("engagement"), false) => Some(Kind::Engagement),
            (Some("batches" | "financial" | "engagement"), true) => {
                errors.push(FieldError::new(
                    "report",
                    "give a built-in report or a custom report, not both",
                ));
                None
            }
            (None | Some("custom"), false) => {
                errors.push(FieldError::new(
                    "report",
                    "choose a report: batches, financial, engagement, or give customReportId",
                ));
                None
            }
            (Some(_), _) => {
                errors.push(FieldError::new("report", "must be batches, financial or engagement"));
                None
            }
        };
        let mut pick = |field: &str, v: Option<String>, default: Option<&str>, all: &[&str]| -> Option<String> {
            match v.as_deref().or(default) {
                None => {
                    errors.push(FieldError::new(field, format!("choose {}", all.join(", "))));
                    None
                }
                Some(s) if all.contains(&s) => Some(s.to_owned()),
                Some(_) => {
                    errors.push(FieldError::new(field, format!("must be {}", all.join(", "))));
                    None
                }
            }
        };
        let frequency = pick(
            "frequency",
            blank(&self.frequency),
            None,
            &["daily", "weekly", "monthly"],
        )
        .and_then(|s| Frequency::parse(&s));
        let format =
            pick("format", blank(&self.format), Some(default_format), &["csv", "pdf"]).and_then(|s| Format::parse(&s));
        let delivery = pick("delivery", blank(&self.delivery), Some("attach"), &["attach", "link"])
            .and_then(|s| Delivery::parse(&s));
        let mut recipients: Vec<String> = Vec::new();
        for (i, r) in self.recipients.iter().flatten().enumerate() {
            let r = r.trim();
            if !is_email(r) {
                errors.push(FieldError::new(format!("recipients[{i}]"), "is not an e-mail address"));
            } else if !recipients.iter().any(|x| x.eq_ignore_ascii_case(r)) {
                recipients.push(r.to_owned());
            }
        }
        if self.recipients.as_ref().is_none_or(Vec::is_empty) {
            errors.push(FieldError::new("recipients", "give at least one e-mail address"));
        } else if recipients.len() > MAX_RECIPIENTS {
            errors.push(FieldError::new(
                "recipients",
                format!("at most {MAX_RECIPIENTS} addresses"),
            ));
        }
        match (kind, frequency, format, delivery, errors.is_empty()) {
            (Some(kind), Some(frequency), Some(format), Some(delivery), true) => Ok(NewSchedule {
                kind,
                custom_report_id: custom,
                frequency,
                recipients,
                format,
                delivery,
            }),
            _ => Err(AppError::Validation(errors)),
        }
    }
}
