//! Figures from rollups, never from scans (issue #21, decision 0039).
//!
//! `stats_hourly` (migration 36) holds, per UTC hour, counts and sums of six facts ([`Fact`]):
//! statement-level triggers over transition tables append a delta row for every (hour, key) a
//! statement touched, and the `stats.fold` job ([`fold`]) compacts them into one row per key now
//! and then. [`read::series`] sums the rows of a range, folded or not, so a figure is exact the
//! moment its transaction commits, and a dashboard reads a few hundred rows whatever the
//! campaign's size. [`retention`] deletes old rollups and, when asked, old raw USSD logs — never
//! money or audit rows.
//!
//! "In all" figures read the all-time tier ([`read::since_beginning`]): one row per fact and key at
//! hour `-infinity`, which the fold keeps, so they too read a few hundred rows.
//!
//! Kigali keeps UTC+2 all year, so a Kigali day is exactly the 24 UTC hours from 22:00 the day
//! before: hourly rows add up to days without splitting an hour ([`kigali_day_bounds`]).

pub mod fold;
pub mod read;
pub mod retention;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

pub use read::{all_time, series, since_beginning, totals, Query, Row};

/// What a row of `stats_hourly` counts (`stats_hourly.fact`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fact {
    /// Every redemption, by the hour it was made: batch, network, language and segment
    /// (`new` | `returning`) as they were then. A reversal does not remove it.
    Redemption,
    /// Redemptions by the hour they were made, batch and current status (`state`), with amounts.
    RedemptionState,
    /// Payouts by the hour they were created, batch and current status, with amounts.
    Payout,
    /// Payouts that reached `completed`, by the hour of `disbursed_at`: batch, amount, and `ms`,
    /// the sum of milliseconds from redemption to money.
    Paid,
    /// USSD code attempts by hour, outcome (`state`, see [`ATTEMPT_OUTCOMES`]) and network.
    Attempt,
    /// Approved reversals by the hour of the decision, batch, amount.
    Reversal,
}

impl Fact {
    pub const ALL: [Fact; 6] = [
        Fact::Redemption,
        Fact::RedemptionState,
        Fact::Payout,
        Fact::Paid,
        Fact::Attempt,
        Fact::Reversal,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Fact::Redemption => "redemption",
            Fact::RedemptionState => "redemption_state",
            Fact::Payout => "payout",
            Fact::Paid => "paid",
            Fact::Attempt => "attempt",
            Fact::Reversal => "reversal",
        }
    }
}

/// What rows are grouped by, besides the time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dim {
    Batch,
    /// A redemption's or payout's status, or an attempt's outcome.
    State,
    /// The gateway's network code (`63510`; see [`network_name`]), `""` when it gave none.
    Network,
    /// `en` or `rw`.
    Language,
    /// `new` (the customer's first redemption) or `returning`.
    Segment,
}

/// How rows are bucketed in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// One row per UTC hour (`at` is the hour's start).
    Hour,
    /// One row per Kigali day (`at` is its start: 22:00 UTC the day before).
    KigaliDay,
    /// One row for the whole range (`at` is none).
    All,
}

impl Bucket {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Bucket::Hour => "hour",
            Bucket::KigaliDay => "day",
            Bucket::All => "all",
        }
    }
}

/// The outcomes of the USSD interaction log counted as code attempts ([`Fact::Attempt`]): the
/// attempt limits' list (`redemption::limits::ATTEMPTS`) and the two refusals of those limits.
/// Migration 36's `stats_attempt_outcomes()` is the same list (a test holds them together).
pub const ATTEMPT_OUTCOMES: &[&str] = &[
    "redeemed",
    "code_valid",
    "unknown_code",
    "already_redeemed",
    "expired",
    "blocked",
    "campaign_closed",
    "customer_limit",
    "cooling_down",
    "typo",
    "not_a_code",
    "rate_limited",
    "phone_blocked",
];

/// The rollup triggers of migration 36, `(table, trigger)`: `mbelyco bench ussd
/// --without-rollups` disables exactly these in its scratch database.
pub const TRIGGERS: &[(&str, &str)] = &[
    ("redemptions", "redemptions_stats_insert"),
    ("redemptions", "redemptions_stats_update"),
    ("disbursements", "disbursements_stats_insert"),
    ("disbursements", "disbursements_stats_update"),
    ("ussd_interactions", "ussd_interactions_stats_insert"),
    ("redemption_reversals", "redemption_reversals_stats_insert"),
    ("redemption_reversals", "redemption_reversals_stats_update"),
];

/// The attempt outcomes that mean a wrong code was typed (the dashboard's wrong-code chart).
pub const WRONG_CODE: &[&str] = &["unknown_code", "typo", "not_a_code"];

/// A network as people name it, from the gateway's MCC-MNC code: `MTN`, `Airtel`, `Unknown`
/// when none was given, else the code itself.
pub fn network_name(code: &str) -> &str {
    match code {
        "63510" => "MTN",
        "63513" | "63514" => "Airtel",
        "" => "Unknown",
        other => other,
    }
}

/// The instants a Kigali day starts and ends (`[start, end)`, 24 whole UTC hours from 22:00).
pub fn kigali_day_bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = crate::clock::kigali()
        .from_local_datetime(&day.and_time(NaiveTime::MIN))
        .single()
        .expect("a fixed offset has one local midnight")
        .with_timezone(&Utc);
    (start, start + Duration::days(1))
}

/// The Kigali date of an instant.
pub fn kigali_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&crate::clock::kigali()).date_naive()
}

/// Today in Kigali, as the instants it starts and ends.
pub fn kigali_today(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    kigali_day_bounds(kigali_date(now))
}

/// The Kigali days `first..=last` as one range of instants.
pub fn kigali_days(first: NaiveDate, last: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    (kigali_day_bounds(first).0, kigali_day_bounds(last).1)
}

/// The start of the UTC hour holding `t`.
pub fn hour_start(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kigali_day_is_24_utc_hours_from_22_00() {
        let (s, e) = kigali_day_bounds(NaiveDate::from_ymd_opt(2026, 12, 8).unwrap());
        assert_eq!(s.to_rfc3339(), "2026-12-07T22:00:00+00:00");
        assert_eq!(e.to_rfc3339(), "2026-12-08T22:00:00+00:00");
        let late = "2026-12-07T23:30:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(kigali_date(late), NaiveDate::from_ymd_opt(2026, 12, 8).unwrap());
        assert_eq!(kigali_today(late), (s, e));
        assert_eq!(hour_start(late).to_rfc3339(), "2026-12-07T23:00:00+00:00");
    }

    #[test]
    fn the_attempt_outcomes_are_the_limits_list_and_its_refusals() {
        let mut expected: Vec<&str> = crate::redemption::limits::ATTEMPTS.to_vec();
        expected.extend(["rate_limited", "phone_blocked"]);
        assert_eq!(ATTEMPT_OUTCOMES, expected.as_slice());
        let sql = include_str!("../../migrations/20261208000036_stats_rollups.sql");
        let list = ATTEMPT_OUTCOMES
            .iter()
            .map(|o| format!("'{o}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let flat: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains(&format!("array[{list}]")),
            "migration 36 lists other attempt outcomes"
        );
    }
}
