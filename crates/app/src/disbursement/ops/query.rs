//! The list filters as they arrive in a query string, shared by the pages' GET forms, the JSON
//! API, the live-update endpoint and the exports: every value arrives as text and is parsed
//! here, each bad one reported as a field error naming it (422), so the read models only see a
//! [`Filter`], a [`Sort`] and a [`Page`] (the pages' numbered pages) or a [`Keyset`] (the API's
//! cursor pages, [`keyset`]).

mod keyset;
mod segment;

pub use keyset::{Keyset, Position, RowKey};
pub use segment::Customer;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::clock::{kigali, parse_local};
use crate::disbursement::state::PayoutStatus;
use crate::error::{AppError, FieldError};
use crate::redemption::lifecycle::RedemptionStatus;

/// Every payout state, in the order filters offer them.
pub const PAYOUT_STATUSES: &[&str] = &[
    PayoutStatus::AwaitingApproval.as_str(),
    PayoutStatus::Queued.as_str(),
    PayoutStatus::Processing.as_str(),
    PayoutStatus::RetryScheduled.as_str(),
    PayoutStatus::Completed.as_str(),
    PayoutStatus::Failed.as_str(),
    PayoutStatus::PayeeInvalid.as_str(),
];

/// Every redemption state.
pub const REDEMPTION_STATUSES: &[&str] = &[
    RedemptionStatus::Pending.as_str(),
    RedemptionStatus::Completed.as_str(),
    RedemptionStatus::Failed.as_str(),
    RedemptionStatus::Reversed.as_str(),
];

/// What is listed: the statuses a filter may name differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Payouts,
    Redemptions,
}

impl Kind {
    pub fn statuses(self) -> &'static [&'static str] {
        match self {
            Kind::Payouts => PAYOUT_STATUSES,
            Kind::Redemptions => REDEMPTION_STATUSES,
        }
    }
}

/// Query parameters as text. `from`/`to` are a day (`2026-11-26`, Kigali: `to` includes that
/// day) or a time (`2026-11-26T14:05`, Kigali, or RFC 3339); `status` may list several,
/// comma-separated; `held` (payouts) keeps the queued payouts held back, `customer` the
/// redemptions of `new` or `returning` customers; `q` searches phone numbers, MoMo references and
/// transaction ids, ids and codes; `sort` is `createdAt`, `amount`, `updatedAt` or `status`, `-`
/// first for descending.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub status: Option<String>,
    pub amount_min: Option<String>,
    pub amount_max: Option<String>,
    pub phone: Option<String>,
    pub batch_id: Option<String>,
    /// Payouts: `true` for the held ones (queued, held back), `false` for the others.
    pub held: Option<String>,
    /// `new` or `returning`.
    pub customer: Option<String>,
    pub q: Option<String>,
    pub sort: Option<String>,
    /// The pages' page number (the API pages with `cursor` and `limit` instead).
    pub page: Option<String>,
    pub per_page: Option<String>,
    /// The API's page: the `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// The API's page size, 1 to 200.
    pub limit: Option<String>,
    /// The live-update cursor (`changes`): an RFC 3339 time.
    pub since: Option<String>,
    /// Export format (`csv` or `pdf`).
    pub format: Option<String>,
}

/// Free text, as the read models use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// A payout, redemption, attempt or MoMo reference id.
    Id(Uuid),
    Text {
        /// As typed (a MoMo financial transaction id is matched exactly).
        raw: String,
        /// Its digits, when it could be part of a phone number (3 or more).
        digits: Option<String>,
        /// A whole code, canonical.
        code: Option<String>,
        /// Part of a code (3+ letters and digits, upper case).
        partial_code: Option<String>,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub statuses: Vec<String>,
    pub amount_min: Option<i64>,
    pub amount_max: Option<i64>,
    /// Digits of a phone number (the customer's or the payee's).
    pub phone: Option<String>,
    pub batch_id: Option<Uuid>,
    /// Payouts queued but held back (`Some(true)`), or every other one (`Some(false)`).
    pub held: Option<bool>,
    /// Redemptions (or the payouts of redemptions) of new or returning customers.
    pub customer: Option<Customer>,
    pub search: Option<Search>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    NewestFirst,
    OldestFirst,
    AmountDesc,
    AmountAsc,
    RecentlyChanged,
    Status,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "-createdAt" => Sort::NewestFirst,
            "createdAt" => Sort::OldestFirst,
            "-amount" => Sort::AmountDesc,
            "amount" => Sort::AmountAsc,
            "-updatedAt" => Sort::RecentlyChanged,
            "status" => Sort::Status,
            _ => return None,
        })
    }

    pub fn key(self) -> &'static str {
        match self {
            Sort::NewestFirst => "-createdAt",
            Sort::OldestFirst => "createdAt",
            Sort::AmountDesc => "-amount",
            Sort::AmountAsc => "amount",
            Sort::RecentlyChanged => "-updatedAt",
            Sort::Status => "status",
        }
    }

    /// The columns a list is ordered by, each descending or not; the last is the id, so the
    /// order is total (pages never overlap, and a keyset position names one place in it).
    pub fn keys(self) -> &'static [(&'static str, bool)] {
        match self {
            Sort::NewestFirst => &[("created_at", true), ("id", true)],
            Sort::OldestFirst => &[("created_at", false), ("id", false)],
            Sort::AmountDesc => &[("amount", true), ("created_at", true), ("id", true)],
            Sort::AmountAsc => &[("amount", false), ("created_at", true), ("id", true)],
            Sort::RecentlyChanged => &[("updated_at", true), ("id", true)],
            Sort::Status => &[("status", false), ("created_at", true), ("id", true)],
        }
    }

    /// `order by` for table alias `t` (ties broken by id, so pages never overlap).
    pub fn order_by(self, t: &str) -> String {
        self.keys()
            .iter()
            .map(|(c, desc)| format!("{t}.{c} {}", if *desc { "desc" } else { "asc" }))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The sort as `kind` has it: redemptions have no `updated_at`, so "recently changed" lists
    /// the newest.
    pub fn of(self, kind: Kind) -> Sort {
        match (kind, self) {
            (Kind::Redemptions, Sort::RecentlyChanged) => Sort::NewestFirst,
            (_, s) => s,
        }
    }
}

/// An offset page: `page` from 1, `per_page` 1 to 200 (default 50).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: i64,
    pub per_page: i64,
}

impl Page {
    pub const MAX_PER_PAGE: i64 = 200;

    pub fn offset(self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

impl Default for Page {
    fn default() -> Self {
        Page { page: 1, per_page: 50 }
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A day in Kigali (its start; `end` gives the next day's start) or a time.
fn parse_bound(s: &str, end: bool) -> Option<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if end { d + Duration::days(1) } else { d };
        return d
            .and_hms_opt(0, 0, 0)?
            .and_local_timezone(kigali())
            .single()
            .map(|t| t.with_timezone(&Utc));
    }
    parse_local(s)
}

fn parse_amount(name: &'static str, v: Option<&str>, errors: &mut Vec<FieldError>) -> Option<i64> {
    let v = v?;
    match v.replace([',', '_', ' '], "").parse::<i64>() {
        Ok(n) if n >= 0 => Some(n),
        _ => {
            errors.push(FieldError::new(name, "must be a whole number of francs"));
            None
        }
    }
}

/// Free text: an id, or text matched against phone numbers, transaction ids and codes.
pub fn parse_search(raw: &str) -> Result<Search, FieldError> {
    let raw = raw.trim();
    if raw.chars().count() > 64 || raw.chars().any(char::is_control) {
        return Err(FieldError::new("q", "search with at most 64 plain characters"));
    }
    if let Ok(id) = raw.parse::<Uuid>() {
        return Ok(Search::Id(id));
    }
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let phone_like = raw.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-'));
    let code = crate::codes::format::parse(raw).ok().map(|c| c.as_str().to_owned());
    let compact: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let partial = compact.len() >= 3 && compact.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if raw.chars().count() < 3 {
        return Err(FieldError::new("q", "type at least 3 characters"));
    }
    Ok(Search::Text {
        raw: raw.to_owned(),
        digits: (phone_like && digits.len() >= 3).then_some(digits),
        code,
        partial_code: partial.then_some(compact),
    })
}

impl ListQuery {
    /// The filter; every bad value named at once.
    pub fn filter(&self, kind: Kind) -> Result<Filter, AppError> {
        let mut errors = Vec::new();
        let f = self.filter_into(kind, &mut errors);
        done(errors, f)
    }

    fn filter_into(&self, kind: Kind, errors: &mut Vec<FieldError>) -> Filter {
        let mut bound = |name: &'static str, v: &Option<String>, end: bool| {
            non_empty(v).and_then(|s| {
                let t = parse_bound(s, end);
                if t.is_none() {
                    errors.push(FieldError::new(
                        name,
                        "must be a day (2026-11-26) or a time (2026-11-26T14:05), Kigali time",
                    ));
                }
                t
            })
        };
        let from = bound("from", &self.from, false);
        let to = bound("to", &self.to, true);
        if let (Some(f), Some(t)) = (from, to) {
            if t <= f {
                errors.push(FieldError::new("to", "must be later than from"));
            }
        }
        let mut statuses = Vec::new();
        for s in non_empty(&self.status).map(|s| s.split(',')).into_iter().flatten() {
            let s = s.trim();
            if s.is_empty() {
                continue;
            }
            if kind.statuses().contains(&s) {
                statuses.push(s.to_owned());
            } else {
                errors.push(FieldError::new(
                    "status",
                    format!("`{s}` is not one of {}", kind.statuses().join(", ")),
                ));
            }
        }
        let amount_min = parse_amount("amountMin", non_empty(&self.amount_min), errors);
        let amount_max = parse_amount("amountMax", non_empty(&self.amount_max), errors);
        if let (Some(a), Some(b)) = (amount_min, amount_max) {
            if b < a {
                errors.push(FieldError::new("amountMax", "must not be below amountMin"));
            }
        }
        let phone = non_empty(&self.phone).and_then(|p| {
            let digits: String = p.trim_start_matches('+').chars().filter(|c| *c != ' ').collect();
            if (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                // a local number (07…) is searched as the international one stores it
                Some(match digits.strip_prefix('0') {
                    Some(rest) if digits.len() == 10 => format!("250{rest}"),
                    _ => digits,
                })
            } else {
                errors.push(FieldError::new("phone", "type digits of the phone number (up to 15)"));
                None
            }
        });
        let batch_id = non_empty(&self.batch_id).and_then(|b| match b.parse::<Uuid>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(FieldError::new("batchId", "must be a batch id"));
                None
            }
        });
        let held = segment::held(non_empty(&self.held), kind, errors);
        let customer = segment::customer(non_empty(&self.customer), errors);
        let search = non_empty(&self.q).and_then(|q| match parse_search(q) {
            Ok(s) => Some(s),
            Err(e) => {
                errors.push(e);
                None
            }
        });
        Filter {
            from,
            to,
            statuses,
            amount_min,
            amount_max,
            phone,
            batch_id,
            held,
            customer,
            search,
        }
    }

    fn sort_into(&self, errors: &mut Vec<FieldError>) -> Sort {
        match non_empty(&self.sort) {
            None => Sort::default(),
            Some(s) => Sort::parse(s).unwrap_or_else(|| {
                errors.push(FieldError::new(
                    "sort",
                    "must be createdAt, amount, updatedAt or status (- first for descending)",
                ));
                Sort::default()
            }),
        }
    }

    /// The filter, the sort and the page (the pages' numbered pages).
    pub fn list(&self, kind: Kind) -> Result<(Filter, Sort, Page), AppError> {
        let mut errors = Vec::new();
        let f = self.filter_into(kind, &mut errors);
        let sort = self.sort_into(&mut errors);
        let mut number = |name: &'static str, v: &Option<String>, max: i64, default: i64| match non_empty(v) {
            None => default,
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => {
                    errors.push(FieldError::new(name, format!("must be a whole number from 1 to {max}")));
                    default
                }
            },
        };
        let page = Page {
            page: number("page", &self.page, 100_000, 1),
            per_page: number("perPage", &self.per_page, Page::MAX_PER_PAGE, 50),
        };
        done(errors, (f, sort, page))
    }

    /// The filter, the sort (as `kind` has it) and the keyset page of the API's lists:
    /// `cursor` (a position in the same sort) and `limit`. Page numbers are refused, naming them.
    pub fn keyset(&self, kind: Kind) -> Result<(Filter, Sort, Keyset), AppError> {
        let mut errors = Vec::new();
        let f = self.filter_into(kind, &mut errors);
        let sort = self.sort_into(&mut errors).of(kind);
        for (name, v) in [("page", &self.page), ("perPage", &self.per_page)] {
            if non_empty(v).is_some() {
                errors.push(FieldError::new(name, "this list pages with cursor and limit"));
            }
        }
        let page = Keyset::parse(non_empty(&self.cursor), non_empty(&self.limit), sort, &mut errors);
        done(errors, (f, sort, page))
    }

    /// The filter and the live-update cursor (`since`, default: now).
    pub fn changes(&self, kind: Kind, now: DateTime<Utc>) -> Result<(Filter, DateTime<Utc>), AppError> {
        let mut errors = Vec::new();
        let f = self.filter_into(kind, &mut errors);
        let since = match non_empty(&self.since) {
            None => now,
            Some(s) => DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|_| {
                    errors.push(FieldError::new("since", "must be an RFC 3339 time"));
                    now
                }),
        };
        done(errors, (f, since))
    }

    /// The query string of the filters (not the page or sort), for links and the live script.
    pub fn filter_query(&self) -> String {
        crate::web::routes::query_string(&self.filter_pairs())
    }

    /// The filters set (not the page or sort), as query pairs.
    pub fn filter_pairs(&self) -> Vec<(&'static str, &str)> {
        let pairs = [
            ("from", &self.from),
            ("to", &self.to),
            ("status", &self.status),
            ("amountMin", &self.amount_min),
            ("amountMax", &self.amount_max),
            ("phone", &self.phone),
            ("batchId", &self.batch_id),
            ("held", &self.held),
            ("customer", &self.customer),
            ("q", &self.q),
        ];
        pairs
            .into_iter()
            .filter_map(|(k, v)| Some((k, non_empty(v)?)))
            .collect()
    }
}

fn done<T>(errors: Vec<FieldError>, value: T) -> Result<T, AppError> {
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(AppError::Validation(errors))
    }
}

#[cfg(test)]
mod tests;
