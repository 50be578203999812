//! The monitor's filters as they arrive in a query string, shared by the page's GET form and the
//! JSON endpoints its script polls: parsed once, every bad value reported as a field error naming
//! it (422), so the services only see [`Filter`] and [`RedemptionFilter`].

use serde::Deserialize;
use utoipa::IntoParams;

use super::views::{Filter, Horizon, RedemptionFilter, OUTCOMES};
use crate::clock::parse_local;
use crate::error::{AppError, FieldError};

/// Query parameters as text: `phone` (digits, part of a number), `outcome`, `from`/`to` (Kigali
/// local time as a `datetime-local` input sends it, or RFC 3339) and `since` (the cursor the
/// previous answer gave: only rows written since then).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonitorQuery {
    /// Digits of the phone number (part of it will do; needs `users.read`).
    #[param(max_length = 16)]
    pub phone: Option<String>,
    /// Only hops with this outcome (the interaction log only).
    #[param(max_length = 32)]
    pub outcome: Option<String>,
    /// From this time (`2026-11-26T14:05`, Kigali, or RFC 3339).
    #[param(max_length = 40)]
    pub from: Option<String>,
    /// Until this time, excluded.
    #[param(max_length = 40)]
    pub to: Option<String>,
    /// The `cursor` of an earlier answer: only rows written since that answer began (live
    /// updates; some may be rows the caller already has).
    #[param(max_length = 20, pattern = "^[0-9]+$")]
    pub since: Option<String>,
}

/// The filters both feeds take.
struct Common {
    phone: Option<String>,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    since: Option<Horizon>,
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl MonitorQuery {
    /// The filter for the interaction log.
    pub fn interactions(&self) -> Result<Filter, AppError> {
        let mut errors = Vec::new();
        let Common { phone, from, to, since } = self.common(&mut errors);
        let outcome = non_empty(&self.outcome).and_then(|o| {
            if OUTCOMES.contains(&o) {
                Some(o.to_owned())
            } else {
                errors.push(FieldError::new("outcome", "is not an outcome the log records"));
                None
            }
        });
        done(
            errors,
            Filter {
                phone,
                outcome,
                from,
                to,
                since,
            },
        )
    }

    /// The filter for redemptions (the outcome does not apply).
    pub fn redemptions(&self) -> Result<RedemptionFilter, AppError> {
        let mut errors = Vec::new();
        let Common { phone, from, to, since } = self.common(&mut errors);
        done(errors, RedemptionFilter { phone, from, to, since })
    }

    /// The page's filters without any `since`: what the form shows.
    pub fn without_since(&self) -> Self {
        Self {
            since: None,
            ..self.clone()
        }
    }

    fn common(&self, errors: &mut Vec<FieldError>) -> Common {
        let phone = non_empty(&self.phone).and_then(|p| {
            let digits: String = p.trim_start_matches('+').chars().filter(|c| *c != ' ').collect();
            if (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                Some(digits)
            } else {
                errors.push(FieldError::new("phone", "type digits of the phone number (up to 15)"));
                None
            }
        });
        let mut time = |name: &'static str, v: &Option<String>| {
            non_empty(v).and_then(|s| {
                let t = parse_local(s);
                if t.is_none() {
                    errors.push(FieldError::new(
                        name,
                        "must be a date and time (2026-11-26T14:05, Kigali time)",
                    ));
                }
                t
            })
        };
        let from = time("from", &self.from);
        let to = time("to", &self.to);
        if let (Some(f), Some(t)) = (from, to) {
            if t <= f {
                errors.push(FieldError::new("to", "must be later than from"));
            }
        }
        let since = non_empty(&self.since).and_then(|s| {
            let h = s.parse().ok().map(Horizon);
            if h.is_none() {
                errors.push(FieldError::new("since", "must be the cursor an earlier answer gave"));
            }
            h
        });
        Common { phone, from, to, since }
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
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> MonitorQuery {
        let get = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        MonitorQuery {
            phone: get("phone"),
            outcome: get("outcome"),
            from: get("from"),
            to: get("to"),
            since: get("since"),
        }
    }

    fn fields(e: AppError) -> Vec<String> {
        match e {
            AppError::Validation(v) => v.into_iter().map(|f| f.field).collect(),
            other => vec![other.to_string()],
        }
    }

    #[test]
    fn good_filters_parse_and_blank_ones_are_ignored() {
        let f = q(&[
            ("phone", "+250 788"),
            ("outcome", "redeemed"),
            ("from", "2026-11-26T08:00"),
            ("to", ""),
            ("since", "41"),
        ])
        .interactions()
        .expect("valid");
        assert_eq!(f.phone.as_deref(), Some("250788"));
        assert_eq!(f.outcome.as_deref(), Some("redeemed"));
        assert_eq!(
            f.from.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-11-26T06:00:00+00:00")
        );
        assert_eq!((f.to, f.since), (None, Some(Horizon(41))));
    }

    #[test]
    fn every_bad_field_is_named() {
        let e = q(&[
            ("phone", "07%"),
            ("outcome", "won"),
            ("from", "tomorrow"),
            ("since", "x"),
        ])
        .interactions()
        .expect_err("invalid");
        assert_eq!(fields(e), ["phone", "from", "since", "outcome"]);
        let e = q(&[
            ("from", "2026-11-26T08:00"),
            ("to", "2026-11-26T07:00"),
            ("since", "-12"),
        ])
        .redemptions()
        .expect_err("invalid");
        assert_eq!(fields(e), ["to", "since"]);
    }
}
