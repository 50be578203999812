//! A custom report's definition (issue #21 item 3): a dataset (one of the rollup facts), the
//! dimensions it is broken down by, the measures, filters and a range of Kigali days (fixed, or
//! the last 7 or 30). [`DefinitionInput`] is what a client sends; [`DefinitionInput::parse`]
//! turns it into a checked [`Definition`] or a 422 naming each bad field. The report itself is
//! built from `crate::stats` by [`super::custom_build`].

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use super::custom_terms::{Dataset, Dimension, Measure};
use super::model::DayRange;
use crate::clock::kigali;
use crate::error::{AppError, FieldError};

/// The longest fixed range, in days.
pub const MAX_DAYS: i64 = 366;
/// The longest range broken down by hour, in days.
pub const MAX_HOUR_DAYS: i64 = 31;

/// Only the rows with these values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CustomFilters)]
pub struct Filters {
    pub batch: Option<Uuid>,
    pub state: Option<String>,
    pub network: Option<String>,
    pub language: Option<String>,
}

/// The days a report covers: fixed Kigali days, or the last 7 or 30 days up to today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", tag = "type")]
#[schema(as = CustomRange)]
pub enum RangeSpec {
    Days { from: NaiveDate, to: NaiveDate },
    Last { days: u32 },
}

impl RangeSpec {
    /// The Kigali days it covers at `now` (`last 7` = today and the six days before).
    pub fn resolve(self, now: DateTime<Utc>) -> DayRange {
        match self {
            RangeSpec::Days { from, to } => DayRange { from, to },
            RangeSpec::Last { days } => {
                let today = now.with_timezone(&kigali()).date_naive();
                DayRange {
                    from: today - chrono::Duration::days(i64::from(days.max(1)) - 1),
                    to: today,
                }
            }
        }
    }

    pub fn describe(self) -> String {
        match self {
            RangeSpec::Days { from, to } => format!("{from} – {to}"),
            RangeSpec::Last { days } => format!("the last {days} days"),
        }
    }
}

/// A checked definition, as stored with a saved report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CustomReportDefinition)]
pub struct Definition {
    pub dataset: Dataset,
    pub dimensions: Vec<Dimension>,
    pub measures: Vec<Measure>,
    pub filters: Filters,
    pub range: RangeSpec,
}

impl Definition {
    /// Money in it: a payout dataset, or an amount.
    pub fn is_financial(&self) -> bool {
        self.dataset.is_financial() || self.measures.contains(&Measure::Amount)
    }

    /// The time dimension, when there is one.
    pub fn time(&self) -> Option<Dimension> {
        self.dimensions.iter().copied().find(|d| d.is_time())
    }
}

/// A definition as a client sends it (API JSON, or the page's form turned into it).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CustomReportDefinitionRequest)]
pub struct DefinitionInput {
    /// `redemptions`, `payouts`, `paid`, `attempts` or `reversals`.
    #[schema(examples("payouts"))]
    pub dataset: Option<String>,
    /// Up to three of `day`, `hour`, `batch`, `state`, `network`, `language`, `segment` (at most
    /// one of day and hour).
    #[schema(examples(json!(["day", "state"])))]
    pub dimensions: Option<Vec<String>>,
    /// `count`, `amount` (payouts, paid, reversals), `averageTime` (paid); default `count`.
    #[schema(examples(json!(["count", "amount"])))]
    pub measures: Option<Vec<String>>,
    pub filters: Option<FiltersInput>,
    pub range: Option<RangeInput>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CustomFiltersRequest)]
pub struct FiltersInput {
    /// A batch id.
    pub batch: Option<String>,
    /// A status (payouts, redemptions) or an outcome (attempts).
    pub state: Option<String>,
    /// A network code.
    pub network: Option<String>,
    /// `en` or `rw`.
    pub language: Option<String>,
}

/// `{"last": 7}` / `{"last": 30}`, or `{"from": "2026-12-01", "to": "2026-12-07"}` (Kigali days,
/// both included). Default: the last 7 days.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CustomRangeRequest)]
pub struct RangeInput {
    pub last: Option<u32>,
    pub from: Option<String>,
    pub to: Option<String>,
}

fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn word(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl DefinitionInput {
    /// Checks every field; a 422 names each one that is wrong.
    pub fn parse(&self) -> Result<Definition, AppError> {
        let mut errors = Vec::new();
        let mut bad = |field: &str, message: String| errors.push(FieldError::new(field, message));
        let dataset = match blank(&self.dataset) {
            None => {
                bad("dataset", "choose what to count".into());
                None
            }
            Some(d) => {
                let parsed = Dataset::parse(d);
                if parsed.is_none() {
                    bad(
                        "dataset",
                        "must be one of redemptions, payouts, paid, attempts, reversals".into(),
                    );
                }
                parsed
            }
        };
        let mut dimensions = Vec::new();
        for d in self
            .dimensions
            .iter()
            .flatten()
            .map(|d| d.trim())
            .filter(|d| !d.is_empty())
        {
            match Dimension::parse(d) {
                None => bad(
                    "dimensions",
                    format!(
                        "`{}` is not one of day, hour, batch, state, network, language, segment",
                        d.chars().take(40).collect::<String>()
                    ),
                ),
                Some(d) if dimensions.contains(&d) => {}
                Some(dim) => {
                    if let Some(ds) = dataset.filter(|ds| !ds.dimensions().contains(&dim)) {
                        bad(
                            "dimensions",
                            format!("{} are not broken down by {}", ds.as_str(), dim.as_str()),
                        );
                    }
                    dimensions.push(dim);
                }
            }
        }
        if dimensions.len() > 3 {
            bad("dimensions", "choose at most three".into());
        }
        if dimensions.iter().filter(|d| d.is_time()).count() > 1 {
            bad("dimensions", "choose day or hour, not both".into());
        }
        let mut measures = Vec::new();
        for m in self
            .measures
            .iter()
            .flatten()
            .map(|m| m.trim())
            .filter(|m| !m.is_empty())
        {
            match Measure::parse(m) {
                None => bad(
                    "measures",
                    format!(
                        "`{}` is not one of count, amount, averageTime",
                        m.chars().take(40).collect::<String>()
                    ),
                ),
                Some(m) if measures.contains(&m) => {}
                Some(m) => {
                    if let Some(ds) = dataset.filter(|ds| !ds.measures().contains(&m)) {
                        bad("measures", format!("{} have no {}", ds.as_str(), m.as_str()));
                    }
                    measures.push(m);
                }
            }
        }
        if measures.is_empty() {
            measures.push(Measure::Count);
        }
        let filters = self.filters.clone().unwrap_or_default();
        let mut checked = Filters::default();
        if let Some(b) = blank(&filters.batch) {
            match Uuid::parse_str(b) {
                Ok(id) => checked.batch = Some(id),
                Err(_) => bad("filters.batch", "is not a batch id".into()),
            }
            if dataset.is_some_and(|ds| !ds.dimensions().contains(&Dimension::Batch)) {
                bad("filters.batch", "this dataset is not kept per batch".into());
            }
        }
        let mut text_filter = |field: &str, value: &Option<String>, dim: Dimension| -> Option<String> {
            let v = blank(value)?;
            if !word(v) {
                bad(field, "letters, digits, `_` and `-` only, at most 64".into());
                return None;
            }
            if let Some(ds) = dataset {
                if !ds.dimensions().contains(&dim) {
                    bad(field, format!("{} are not kept by {}", ds.as_str(), dim.as_str()));
                    return None;
                }
                if dim == Dimension::State {
                    if let Some(states) = ds.states().filter(|s| !s.contains(&v)) {
                        bad(field, format!("must be one of {}", states.join(", ")));
                        return None;
                    }
                }
                if dim == Dimension::Language && !["en", "rw"].contains(&v) {
                    bad(field, "must be en or rw".into());
                    return None;
                }
            }
            Some(v.to_owned())
        };
        checked.state = text_filter("filters.state", &filters.state, Dimension::State);
        checked.network = text_filter("filters.network", &filters.network, Dimension::Network);
        checked.language = text_filter("filters.language", &filters.language, Dimension::Language);
        let range = parse_range(self.range.as_ref(), &mut bad);
        if let (Some(RangeSpec::Days { from, to }), true) = (range, dimensions.contains(&Dimension::Hour)) {
            if (to - from).num_days() + 1 > MAX_HOUR_DAYS {
                bad("range", format!("by hour, at most {MAX_HOUR_DAYS} days"));
            }
        }
        match (dataset, range, errors.is_empty()) {
            (Some(dataset), Some(range), true) => Ok(Definition {
                dataset,
                dimensions,
                measures,
                filters: checked,
                range,
            }),
            _ => Err(AppError::Validation(errors)),
        }
    }
}

fn parse_range(input: Option<&RangeInput>, bad: &mut impl FnMut(&str, String)) -> Option<RangeSpec> {
    let Some(r) = input else {
        return Some(RangeSpec::Last { days: 7 });
    };
    let (from, to) = (blank(&r.from), blank(&r.to));
    match (r.last, from, to) {
        (Some(days @ (7 | 30)), None, None) => Some(RangeSpec::Last { days }),
        (Some(_), None, None) => {
            bad("range.last", "must be 7 or 30".into());
            None
        }
        (Some(_), _, _) => {
            bad("range", "give either `last` or `from` and `to`".into());
            None
        }
        (None, None, None) => Some(RangeSpec::Last { days: 7 }),
        (None, from, to) => {
            let day = |field: &str, v: Option<&str>, bad: &mut dyn FnMut(&str, String)| match v {
                None => {
                    bad(field, "give a day (YYYY-MM-DD)".into());
                    None
                }
                Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d").ok().or_else(|| {
                    bad(field, "is not a day (YYYY-MM-DD)".into());
                    None
                }),
            };
            let from = day("range.from", from, bad);
            let to = day("range.to", to, bad);
            let (from, to) = (from?, to?);
            if to < from {
                bad("range.to", "must not be before `from`".into());
                return None;
            }
            if (to - from).num_days() + 1 > MAX_DAYS {
                bad("range", format!("at most {MAX_DAYS} days"));
                return None;
            }
            Some(RangeSpec::Days { from, to })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: serde_json::Value) -> DefinitionInput {
        serde_json::from_value(v).unwrap()
    }

    fn fields(e: AppError) -> Vec<String> {
        match e {
            AppError::Validation(v) => v.into_iter().map(|f| f.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_definition_is_checked_field_by_field() {
        let ok = input(serde_json::json!({"dataset": "paid", "dimensions": ["day", "batch"], "measures": ["amount", "averageTime"], "range": {"last": 30}}))
            .parse()
            .unwrap();
        assert_eq!(ok.dimensions, [Dimension::Day, Dimension::Batch]);
        assert!(ok.is_financial());
        assert_eq!(ok.range, RangeSpec::Last { days: 30 });
        let e = input(
            serde_json::json!({"dataset": "attempts", "dimensions": ["day", "hour", "batch"], "measures": ["amount"],
            "filters": {"state": "=cmd()", "language": "en"}, "range": {"from": "2026-12-07", "to": "2026-12-01"}}),
        )
        .parse()
        .unwrap_err();
        assert_eq!(
            fields(e),
            [
                "dimensions",
                "dimensions",
                "measures",
                "filters.state",
                "filters.language",
                "range.to"
            ]
        );
        assert_eq!(fields(input(serde_json::json!({})).parse().unwrap_err()), ["dataset"]);
        let e = input(serde_json::json!({"dataset": "payouts", "filters": {"state": "lost"}, "range": {"last": 9}}))
            .parse()
            .unwrap_err();
        assert_eq!(fields(e), ["filters.state", "range.last"]);
    }

    #[test]
    fn the_last_seven_days_end_today_in_kigali() {
        // 23:30 UTC on the 7th is 01:30 on the 8th in Kigali
        let now = DateTime::parse_from_rfc3339("2026-12-07T23:30:00Z").unwrap().to_utc();
        let r = RangeSpec::Last { days: 7 }.resolve(now);
        assert_eq!(r.from.to_string(), "2026-12-02");
        assert_eq!(r.to.to_string(), "2026-12-08");
    }
}
