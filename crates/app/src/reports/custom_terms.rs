//! The words of a custom report's definition: the datasets (the rollup facts), the dimensions
//! they are broken down by and the measures summed, each with what the others allow.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::disbursement::state::PayoutStatus;
use crate::redemption::lifecycle::RedemptionStatus;

/// What is counted: one of the rollup facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CustomDataset)]
pub enum Dataset {
    /// Redemptions by the hour they were made.
    Redemptions,
    /// Payouts by the hour they were created and their current state.
    Payouts,
    /// Payouts that reached the customer, by the hour the money left.
    Paid,
    /// Codes typed over USSD, by outcome.
    Attempts,
    /// Approved reversals, by the hour of the decision.
    Reversals,
}

/// What the rows are broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CustomDimension)]
pub enum Dimension {
    /// Kigali day.
    Day,
    /// Hour (UTC hour start, shown in Kigali time).
    Hour,
    Batch,
    /// A redemption's or payout's current status, or an attempt's outcome.
    State,
    Network,
    Language,
    /// New or returning customer (redemptions).
    Segment,
}

/// What is summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CustomMeasure)]
pub enum Measure {
    Count,
    /// Whole RWF.
    Amount,
    /// From redemption to money (paid payouts).
    AverageTime,
}

impl Dataset {
    pub const ALL: [Dataset; 5] = [
        Dataset::Redemptions,
        Dataset::Payouts,
        Dataset::Paid,
        Dataset::Attempts,
        Dataset::Reversals,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dataset::Redemptions => "redemptions",
            Dataset::Payouts => "payouts",
            Dataset::Paid => "paid",
            Dataset::Attempts => "attempts",
            Dataset::Reversals => "reversals",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Dataset::Redemptions => "Redemptions",
            Dataset::Payouts => "Payouts",
            Dataset::Paid => "Money paid",
            Dataset::Attempts => "Code attempts",
            Dataset::Reversals => "Reversals",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// The breakdowns the dataset's rollup rows carry.
    pub fn dimensions(self) -> &'static [Dimension] {
        use Dimension::*;
        match self {
            Dataset::Redemptions => &[Day, Hour, Batch, State, Network, Language, Segment],
            Dataset::Payouts => &[Day, Hour, Batch, State],
            Dataset::Paid | Dataset::Reversals => &[Day, Hour, Batch],
            Dataset::Attempts => &[Day, Hour, State, Network],
        }
    }

    pub fn measures(self) -> &'static [Measure] {
        match self {
            Dataset::Redemptions | Dataset::Attempts => &[Measure::Count],
            Dataset::Payouts | Dataset::Reversals => &[Measure::Count, Measure::Amount],
            Dataset::Paid => &[Measure::Count, Measure::Amount, Measure::AverageTime],
        }
    }

    /// Money datasets need `disbursements.read` as well as `reports.read` (ACCESS.md).
    pub fn is_financial(self) -> bool {
        matches!(self, Dataset::Payouts | Dataset::Paid | Dataset::Reversals)
    }

    /// The values a `state` filter may take, when the dataset knows them.
    pub(super) fn states(self) -> Option<Vec<&'static str>> {
        match self {
            Dataset::Payouts => Some(PayoutStatus::ALL.iter().map(|s| s.as_str()).collect()),
            Dataset::Redemptions => Some(RedemptionStatus::ALL.iter().map(|s| s.as_str()).collect()),
            _ => None,
        }
    }
}

impl Dimension {
    pub const ALL: [Dimension; 7] = [
        Dimension::Day,
        Dimension::Hour,
        Dimension::Batch,
        Dimension::State,
        Dimension::Network,
        Dimension::Language,
        Dimension::Segment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Day => "day",
            Dimension::Hour => "hour",
            Dimension::Batch => "batch",
            Dimension::State => "state",
            Dimension::Network => "network",
            Dimension::Language => "language",
            Dimension::Segment => "segment",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Dimension::Day => "Day",
            Dimension::Hour => "Hour",
            Dimension::Batch => "Batch",
            Dimension::State => "State",
            Dimension::Network => "Network",
            Dimension::Language => "Language",
            Dimension::Segment => "Customers",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }

    pub fn is_time(self) -> bool {
        matches!(self, Dimension::Day | Dimension::Hour)
    }
}

impl Measure {
    pub const ALL: [Measure; 3] = [Measure::Count, Measure::Amount, Measure::AverageTime];

    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Count => "count",
            Measure::Amount => "amount",
            Measure::AverageTime => "averageTime",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Measure::Count => "Count",
            Measure::Amount => "Amount (RWF)",
            Measure::AverageTime => "Average time to money",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}
