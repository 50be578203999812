//! The lists a figure counts, with the query parameters those lists take: redemptions and
//! payouts by `from`/`to` (a Kigali day, or a Kigali time, `to` excluded) and `status`,
//! redemptions by `customer` (new or returning), payouts by `held`, batches and codes by
//! `status`.

use chrono::{DateTime, NaiveDate, Utc};

use crate::clock::kigali;
use crate::disbursement::ops::query::Customer;

/// A Kigali day as the lists' `from`/`to` take it (`to` includes that day).
pub fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A Kigali time to the minute as the lists take it.
pub fn time(t: DateTime<Utc>) -> String {
    t.with_timezone(&kigali()).format("%Y-%m-%dT%H:%M").to_string()
}

fn with(path: &str, params: &[(&str, String)]) -> String {
    let q: Vec<String> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", urlencoding(v)))
        .collect();
    if q.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", q.join("&"))
    }
}

/// Percent-encodes what a query value may hold here (dates, times, commas).
fn urlencoding(v: &str) -> String {
    v.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' | '.' | '~' => c.to_string(),
            ':' => "%3A".into(),
            ',' => "%2C".into(),
            other => format!("%{:02X}", other as u32),
        })
        .collect()
}

/// Redemptions made from `from` to `to` (either open), by new or returning customers when
/// `customer` says.
pub fn redemptions(from: Option<String>, to: Option<String>, customer: Option<Customer>) -> String {
    with(
        "/admin/redemptions",
        &[
            ("from", from.unwrap_or_default()),
            ("to", to.unwrap_or_default()),
            ("customer", customer.map(|c| c.as_str().to_owned()).unwrap_or_default()),
        ],
    )
}

/// The payouts held back (queued, with a reason to wait), whenever made.
pub fn held_payouts() -> String {
    with("/admin/disbursements", &[("held", "true".into())])
}

/// Payouts in `statuses` created from `from` to `to`.
pub fn payouts(statuses: &[&str], from: Option<String>, to: Option<String>) -> String {
    with(
        "/admin/disbursements",
        &[
            ("status", statuses.join(",")),
            ("from", from.unwrap_or_default()),
            ("to", to.unwrap_or_default()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_carry_the_lists_own_parameters() {
        let t: DateTime<Utc> = "2026-12-07T21:30:00Z".parse().unwrap();
        assert_eq!(time(t), "2026-12-07T23:30");
        assert_eq!(
            payouts(&["queued", "processing"], Some(time(t)), None),
            "/admin/disbursements?status=queued%2Cprocessing&from=2026-12-07T23%3A30"
        );
        assert_eq!(redemptions(None, None, None), "/admin/redemptions");
        let d = NaiveDate::from_ymd_opt(2026, 12, 8).unwrap();
        assert_eq!(
            redemptions(Some(day(d)), Some(day(d)), None),
            "/admin/redemptions?from=2026-12-08&to=2026-12-08"
        );
        assert_eq!(
            redemptions(Some(day(d)), Some(day(d)), Some(Customer::Returning)),
            "/admin/redemptions?from=2026-12-08&to=2026-12-08&customer=returning"
        );
        assert_eq!(
            redemptions(None, None, Some(Customer::New)),
            "/admin/redemptions?customer=new"
        );
        assert_eq!(held_payouts(), "/admin/disbursements?held=true");
    }
}
