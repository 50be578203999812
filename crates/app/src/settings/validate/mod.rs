//! Validation of a whole [`Settings`] value: ranges, formats and conflicts between fields.
//! Every problem is a [`FieldError`] whose path is `category.key[.sub]`.

use crate::error::FieldError;

use super::model::*;

mod campaign;
mod platform;

use campaign::{branding, business, payments, ussd};
use platform::{analytics, backup, integrations, notifications, security};

struct V(Vec<FieldError>);

impl V {
    fn check(&mut self, ok: bool, field: &str, message: impl Into<String>) {
        if !ok {
            self.0.push(FieldError::new(field, message));
        }
    }

    fn range<T: PartialOrd + std::fmt::Display + Copy>(&mut self, v: T, min: T, max: T, field: &str) {
        self.check(v >= min && v <= max, field, format!("must be from {min} to {max}"));
    }

    fn one_of(&mut self, v: &str, allowed: &[&str], field: &str) {
        self.check(
            allowed.contains(&v),
            field,
            format!("must be one of: {}", allowed.join(", ")),
        );
    }

    fn color(&mut self, v: &str, field: &str) {
        let ok = v.len() == 7 && v.starts_with('#') && v[1..].chars().all(|c| c.is_ascii_hexdigit());
        self.check(ok, field, "must be a colour such as #0B5FA5");
    }

    fn url_or_empty(&mut self, v: &str, field: &str) {
        self.check(
            v.is_empty() || is_http_url(v),
            field,
            "must be an http:// or https:// URL",
        );
    }

    /// A URL a provider is reached at or calls back to: `https` in production, where a
    /// plain-text link would carry credentials or payment data in the clear.
    fn service_url(&mut self, v: &str, field: &str, may_be_empty: bool) {
        if v.is_empty() && may_be_empty {
            return;
        }
        if !is_http_url(v) {
            self.check(false, field, "must be an http:// or https:// URL");
        } else {
            self.check(
                !production() || v.starts_with("https://"),
                field,
                "must be an https:// URL in production",
            );
        }
    }

    fn email_or_empty(&mut self, v: &str, field: &str) {
        self.check(v.is_empty() || is_email(v), field, "must be an email address");
    }

    fn max_len(&mut self, v: &str, max: usize, field: &str) {
        self.check(
            v.chars().count() <= max,
            field,
            format!("must be at most {max} characters"),
        );
    }

    fn max_items<T>(&mut self, list: &[T], max: usize, field: &str) {
        self.check(list.len() <= max, field, format!("must list at most {max}"));
    }

    fn ips(&mut self, list: &[String], field: &str) {
        for (i, ip) in list.iter().enumerate() {
            let ok = ip.parse::<sqlx::types::ipnetwork::IpNetwork>().is_ok();
            self.check(ok, &format!("{field}[{i}]"), "must be an IP address or CIDR range");
        }
    }
}

/// An absolute `http(s)://` URL that parses, with a host.
pub(crate) fn is_http_url(v: &str) -> bool {
    !v.contains(char::is_whitespace)
        && reqwest::Url::parse(v)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()))
}

static PRODUCTION: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Set once at start-up: in production, the URLs other systems are reached at (or reach us at)
/// must be `https`.
pub fn set_production(on: bool) {
    PRODUCTION.store(on, std::sync::atomic::Ordering::Relaxed);
}

pub(crate) fn production() -> bool {
    PRODUCTION.load(std::sync::atomic::Ordering::Relaxed)
}

fn is_email(v: &str) -> bool {
    match v.split_once('@') {
        Some((l, d)) => !l.is_empty() && d.contains('.') && !d.starts_with('.') && !v.contains(char::is_whitespace),
        None => false,
    }
}

pub fn validate(s: &Settings) -> Vec<FieldError> {
    let mut v = V(Vec::new());
    branding(&mut v, &s.branding);
    ussd(&mut v, &s.ussd);
    payments(&mut v, &s.payments);
    business(&mut v, &s.business);
    security(&mut v, &s.security);
    notifications(&mut v, &s.notifications);
    analytics(&mut v, &s.analytics);
    integrations(&mut v, &s.integrations);
    backup(&mut v, &s.backup);
    // every screen a custom USSD text appears on, in both languages
    v.0.extend(crate::ussd::screens::check_settings(s));
    v.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(validate(&Settings::default()), vec![]);
    }

    #[test]
    fn prd_defaults() {
        let s = Settings::default();
        assert_eq!(s.ussd.max_attempts_per_minute, 5);
        assert_eq!(s.payments.max_retry_attempts, 3);
        assert_eq!(s.payments.retry_delay_minutes, vec![1, 5, 15, 30, 60]);
        assert_eq!(s.security.session_timeout_minutes, 24 * 60);
        assert_eq!(s.business.lock_timeout_seconds, 30);
        assert!(s.security.audit.retention_days >= 7 * 365);
        assert_eq!(s.security.max_login_attempts, 5);
        assert_eq!(s.security.lockout_duration_minutes, 15);
    }

    #[test]
    fn conflicts_name_the_field() {
        let mut s = Settings::default();
        s.payments.min_amount = 5000;
        s.payments.max_amount = 100;
        s.payments.max_retry_attempts = 6;
        s.ussd.service_code = "123".into();
        s.notifications.email_enabled = true;
        let fields: Vec<String> = validate(&s).into_iter().map(|e| e.field).collect();
        for f in [
            "payments.maxAmount",
            "payments.maxRetryAttempts",
            "ussd.serviceCode",
            "notifications.smtpHost",
        ] {
            assert!(fields.iter().any(|x| x == f), "{f} missing from {fields:?}");
        }
    }
}
