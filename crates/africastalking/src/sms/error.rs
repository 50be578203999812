//! Every way an SMS send can fail, and what each means for the sender ([`ErrorClass`]).
//!
//! Sending an SMS twice costs a second SMS and confuses nobody much; not sending it loses the
//! customer's confirmation. So transport failures, even after the request went out, are
//! retryable; what AT refused for this number or this text is terminal; what only a person can
//! fix (the API key, the sender ID, the balance, the base URL) is configuration.

use std::time::Duration;

use thiserror::Error;

use super::types::Status;

/// What the caller should do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Try the same message again later.
    Retryable,
    /// AT refused this message or number for good; sending it again gets the same answer.
    Terminal,
    /// Our setup is wrong (API key, username, sender ID, balance, base URL); a person must act,
    /// after which the same message can go.
    Configuration,
}

impl ErrorClass {
    /// Whether sending the same message later can succeed (after a person acts, for
    /// [`ErrorClass::Configuration`]).
    pub fn is_retryable(self) -> bool {
        !matches!(self, Self::Terminal)
    }
}

/// A failed send.
#[derive(Debug, Error)]
pub enum SmsError {
    /// Refused before sending: a number that is not E.164 with `+`, an empty text.
    #[error("invalid SMS: {0}")]
    Invalid(String),
    /// The client cannot be used as configured (bad base URL, no API key).
    #[error("Africa's Talking SMS client configuration: {0}")]
    Configuration(String),
    /// The connection was never made, so nothing was sent.
    #[error("could not connect to Africa's Talking: {0}")]
    Connect(#[source] reqwest::Error),
    /// No complete answer within the timeout; the SMS may have gone.
    #[error("no answer from Africa's Talking within {0:?}")]
    Timeout(Duration),
    /// The connection broke after the request went out.
    #[error("connection to Africa's Talking failed: {0}")]
    Network(#[source] reqwest::Error),
    /// A non-success HTTP status; `body` is AT's text (`The supplied authentication is invalid`).
    #[error("Africa's Talking answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    /// A success status with a body that is not AT's answer (wrong base URL, an API change).
    #[error("unreadable Africa's Talking answer (HTTP {status}): {message}")]
    Decode { status: u16, message: String },
    /// AT answered but sent nothing; its `Message` says why (`InvalidSenderId`).
    #[error("Africa's Talking sent nothing: {message}")]
    NotSent { message: String },
    /// AT refused the message for this number.
    #[error("Africa's Talking refused the SMS to {number}: {status}")]
    Rejected { number: String, status: Status },
}

impl Status {
    /// What a failed recipient status means for the sender.
    pub fn class(self) -> Option<ErrorClass> {
        use ErrorClass::{Configuration, Retryable, Terminal};
        Some(match self {
            Self::Processed | Self::Sent | Self::Queued => return None,
            // held or refused for this number or this text: the same send gets the same answer
            Self::RiskHold
            | Self::InvalidPhoneNumber
            | Self::UnsupportedNumberType
            | Self::UserInBlacklist
            | Self::DoNotDisturbRejection
            | Self::RejectedByGateway => Terminal,
            // the sender ID is not registered, the account is out of credit: a person fixes it
            Self::InvalidSenderId | Self::InsufficientBalance => Configuration,
            // AT or the telco could not deliver just now
            Self::CouldNotRoute | Self::InternalServerError | Self::GatewayError => Retryable,
            Self::Other(code) if code >= 500 => Retryable,
            Self::Other(_) => Terminal,
        })
    }
}

impl SmsError {
    /// What the failure means for the sender.
    pub fn class(&self) -> ErrorClass {
        use ErrorClass::{Configuration, Retryable, Terminal};
        match self {
            Self::Invalid(_) => Terminal,
            Self::Configuration(_) | Self::Decode { .. } => Configuration,
            Self::Connect(_) | Self::Timeout(_) | Self::Network(_) => Retryable,
            Self::Http { status, .. } => match status {
                // AT's answer to a malformed request (a missing field)
                400 => Terminal,
                // a wrong key or username; an IP whitelist; a wrong base URL or path
                401 | 403 | 404 | 405 => Configuration,
                408 | 429 => Retryable,
                500..=599 => Retryable,
                // redirects and the rest: not AT's API as configured
                _ if *status < 400 => Configuration,
                _ => Terminal,
            },
            // known names (`InvalidSenderId`) by their class; an unexplained refusal is retried
            Self::NotSent { message } => match Status::from_name(message) {
                Status::Other(_) => Retryable,
                known => known.class().unwrap_or(Retryable),
            },
            Self::Rejected { status, .. } => status.class().unwrap_or(Terminal),
        }
    }

    /// AT's status name when AT itself refused (`InvalidPhoneNumber`), for logs and alerts.
    pub fn at_status(&self) -> Option<Status> {
        match self {
            Self::Rejected { status, .. } => Some(*status),
            Self::NotSent { message } => Some(Status::from_name(message)).filter(|s| *s != Status::Other(0)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> SmsError {
        SmsError::Http {
            status,
            body: String::new(),
        }
    }

    fn rejected(code: u16) -> ErrorClass {
        SmsError::Rejected {
            number: "+250788123456".into(),
            status: Status::from_code(code),
        }
        .class()
    }

    #[test]
    fn a_bad_key_is_configuration_and_outages_are_retryable() {
        assert_eq!(http(401).class(), ErrorClass::Configuration);
        assert_eq!(http(404).class(), ErrorClass::Configuration);
        assert_eq!(http(302).class(), ErrorClass::Configuration);
        assert_eq!(http(400).class(), ErrorClass::Terminal);
        for status in [429, 500, 502, 503, 504] {
            assert_eq!(http(status).class(), ErrorClass::Retryable, "{status}");
        }
        assert_eq!(SmsError::Timeout(Duration::from_secs(1)).class(), ErrorClass::Retryable);
        assert!(ErrorClass::Configuration.is_retryable());
        assert!(!ErrorClass::Terminal.is_retryable());
    }

    #[test]
    fn recipient_statuses_map_to_their_class() {
        for code in [401, 403, 404, 406, 409, 502] {
            assert_eq!(rejected(code), ErrorClass::Terminal, "{code}");
        }
        for code in [402, 405] {
            assert_eq!(rejected(code), ErrorClass::Configuration, "{code}");
        }
        for code in [407, 500, 501, 503] {
            assert_eq!(rejected(code), ErrorClass::Retryable, "{code}");
        }
        assert_eq!(rejected(499), ErrorClass::Terminal);
        for code in [100, 101, 102] {
            assert_eq!(Status::from_code(code).class(), None, "{code} is a success");
        }
    }

    #[test]
    fn nothing_sent_is_classed_by_the_reason_named() {
        let not_sent = |m: &str| SmsError::NotSent { message: m.into() };
        assert_eq!(not_sent("InvalidSenderId").class(), ErrorClass::Configuration);
        assert_eq!(not_sent("InvalidPhoneNumber").class(), ErrorClass::Terminal);
        assert_eq!(not_sent("Something new").class(), ErrorClass::Retryable);
        assert_eq!(not_sent("InvalidSenderId").at_status(), Some(Status::InvalidSenderId));
        assert_eq!(not_sent("Something new").at_status(), None);
    }
}
