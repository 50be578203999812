//! A report as a document, independent of how it is shown: the HTML view, the CSV file, the PDF
//! file and the e-mail of a scheduled report all render this one value. Builders (batch
//! performance, financial, engagement, custom) produce a [`Report`]; renderers never query.
//!
//! Numbers stay numbers here ([`Cell::Int`], [`Cell::Money`], …): the CSV writes them raw (a
//! spreadsheet can sum them), the HTML and PDF format them for people (thousands separators, RWF,
//! percentages). Charts are data too, so the PDF can draw them as vectors and the page as SVG.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Which built-in report, or a saved custom one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReportKind)]
pub enum Kind {
    Batches,
    Financial,
    Engagement,
    Custom,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Batches => "batches",
            Kind::Financial => "financial",
            Kind::Engagement => "engagement",
            Kind::Custom => "custom",
        }
    }
}

/// A range of whole Kigali days, both ends included (Kigali is UTC+2 all year, no daylight
/// saving: a Kigali day is 22:00 UTC the day before to 22:00 UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ReportDayRange)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub kind: Kind,
    /// "Financial report", or a custom report's saved name.
    pub title: String,
    pub range: DayRange,
    /// Filters in words ("Batch: Spring 2027"), shown under the title.
    pub filters: Vec<String>,
    /// The person (or "Schedule: weekly") who asked for it, and when it was built.
    pub generated_by: String,
    pub generated_at: DateTime<Utc>,
    pub sections: Vec<Section>,
}

/// A titled part of the report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReportSection)]
pub struct Section {
    pub heading: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
#[schema(as = ReportBlock)]
pub enum Block {
    /// A row of headline figures ("Paid: 1,250,000 RWF").
    Figures {
        figures: Vec<Figure>,
    },
    Chart(Chart),
    Table(Table),
    /// A sentence of explanation ("Totals agree with the payouts list to the franc.").
    Note {
        text: String,
    },
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReportFigure)]
pub struct Figure {
    pub label: String,
    pub value: Cell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReportChartKind)]
pub enum ChartKind {
    Bar,
    Line,
    /// Bars stacked per x label (payouts by state per day).
    StackedBar,
    /// A grid of shaded cells (hour of day × weekday); `series` are the rows.
    Heat,
}

/// A chart: one value per x label in each series.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReportChart)]
pub struct Chart {
    pub title: String,
    pub kind: ChartKind,
    pub x_labels: Vec<String>,
    pub series: Vec<Series>,
    /// What the values count ("redemptions", "RWF", "%").
    pub unit: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReportSeries)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReportTable)]
pub struct Table {
    /// The table's name; also the CSV section it writes.
    pub name: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    /// A totals row, when the columns add up.
    pub totals: Option<Vec<Cell>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReportColumn)]
pub struct Column {
    pub name: String,
    /// Numbers are right-aligned in HTML and PDF.
    pub numeric: bool,
}

/// One value. Renderers format it; CSV writes it raw.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "t", content = "v", rename_all = "camelCase")]
#[schema(as = ReportCell)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// Whole Rwandan francs.
    Money(i64),
    /// A share from 0.0 to 1.0, shown as a percentage.
    Ratio(f64),
    Day(NaiveDate),
    Time(DateTime<Utc>),
    /// Milliseconds, shown as a duration.
    Millis(i64),
    Empty,
}

impl Column {
    pub fn text(name: &str) -> Self {
        Self {
            name: name.into(),
            numeric: false,
        }
    }

    pub fn number(name: &str) -> Self {
        Self {
            name: name.into(),
            numeric: true,
        }
    }
}
