//! Every way a MoMo call can fail, and what each means for a payout ([`ErrorClass`]). The mapping
//! follows INTEGRATIONS.md; each arm of [`MomoError::class`] names the section it comes from.
//!
//! The rule behind it (A11, A16.3): the `X-Reference-Id` is the only idempotency key. When a
//! transfer may exist, never invent a new reference: query the same one, and re-POST the same one
//! only after MoMo said 404.

use std::fmt;
use std::time::Duration;

use thiserror::Error;
use uuid::Uuid;

use crate::types::ErrorBody;
use crate::validate::InvalidRequest;

/// Which call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Provision,
    Token,
    Transfer,
    TransferStatus,
    Balance,
    AccountActive,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Provision => "sandbox provisioning",
            Self::Token => "token",
            Self::Transfer => "transfer",
            Self::TransferStatus => "transfer status",
            Self::Balance => "balance",
            Self::AccountActive => "account-holder check",
        })
    }
}

/// What the caller should do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Nothing happened that matters; try the same call again later (same reference for a transfer).
    Retryable,
    /// MoMo refused this request for good; sending it again gets the same answer.
    Terminal,
    /// Our setup is wrong (keys, environment, URLs, callback host, IP whitelist); a person must act.
    Configuration,
    /// The transfer may exist: query the same reference before anything else (A11).
    Ambiguous,
}

/// A failed MoMo call.
#[derive(Debug, Error)]
pub enum MomoError {
    /// Refused before sending: MoMo would answer 400.
    #[error("invalid request: {0}")]
    Invalid(#[from] InvalidRequest),
    /// The client cannot be used as configured (bad base URL, callback host mismatch).
    #[error("MoMo client configuration: {0}")]
    Configuration(String),
    /// The connection was never made, so nothing was sent.
    #[error("{op}: could not connect to MoMo: {source}")]
    Connect {
        op: Operation,
        #[source]
        source: reqwest::Error,
    },
    /// No complete answer within the timeout; the request may have been processed.
    #[error("{op}: no answer from MoMo within {timeout:?}")]
    Timeout { op: Operation, timeout: Duration },
    /// The connection broke after the request went out; it may have been processed.
    #[error("{op}: connection to MoMo failed after sending: {source}")]
    Network {
        op: Operation,
        #[source]
        source: reqwest::Error,
    },
    /// `GET …/transfer/{ref}` answered 404: MoMo has no transfer with this reference (A6).
    #[error("{op}: MoMo has no resource with this reference")]
    NotFound { op: Operation },
    /// `POST …/transfer` answered 409 RESOURCE_ALREADY_EXIST: the reference was already used (A11).
    #[error("transfer {reference_id}: reference already used (409 RESOURCE_ALREADY_EXIST)")]
    Duplicate { reference_id: Uuid },
    /// Any other non-success answer, with MoMo's error body.
    #[error("{op}: MoMo answered HTTP {status} {}", body.reason_code().unwrap_or(""))]
    Http {
        op: Operation,
        status: u16,
        body: ErrorBody,
    },
    /// A success status with a body we cannot read (wrong base URL, or an API change).
    #[error("{op}: unreadable MoMo answer (HTTP {status}): {message}")]
    Decode {
        op: Operation,
        status: u16,
        message: String,
    },
}

/// 500 codes that are our configuration, not MoMo's hiccup, and must not be retried blindly (A16.4).
const CONFIGURATION_CODES: [&str; 4] = [
    "NOT_ALLOWED_TARGET_ENVIRONMENT",
    "INVALID_CALLBACK_URL_HOST",
    "INVALID_CURRENCY",
    "NOT_ALLOWED",
];

impl MomoError {
    /// What the failure means for a payout.
    pub fn class(&self) -> ErrorClass {
        use ErrorClass::{Ambiguous, Configuration, Retryable, Terminal};
        let on_transfer = |op: &Operation| *op == Operation::Transfer;
        match self {
            // A5/A13: MoMo answers 400 to these; sending would change nothing.
            Self::Invalid(_) => Terminal,
            // A10 host rule, A1 base URL: fixed only by changing the configuration.
            Self::Configuration(_) => Configuration,
            // A11: a request that never left cannot have created a transfer.
            Self::Connect { .. } => Retryable,
            // A11, A16.3: a POST that timed out or broke may have created the transfer.
            Self::Timeout { op, .. } | Self::Network { op, .. } if on_transfer(op) => Ambiguous,
            Self::Timeout { .. } | Self::Network { .. } => Retryable,
            // A6: "check whether the original request got 202"; match on the variant for A11's re-POST.
            Self::NotFound { .. } => Terminal,
            // A11: a 409 proves the reference landed; query it.
            Self::Duplicate { .. } => Ambiguous,
            // A2, A5: wrong currency/env/callback host come back as 500 but are configuration (A16.4).
            Self::Http { body, .. } if body.code.as_deref().is_some_and(|c| CONFIGURATION_CODES.contains(&c)) => {
                Configuration
            }
            Self::Http { op, status, .. } => match status {
                // A5: malformed request (bad UUID, characters, lengths, a body on /token).
                400 => Terminal,
                // A2, A16.6/7: 401 survives the one refresh only with a wrong key or user; 403 is the
                // IP whitelist (A13); 404 on token or balance means a wrong base URL or product.
                401 | 403 | 404 => Configuration,
                // A13: the gateway's rate limit; back off.
                429 => Retryable,
                // A5, A16.4: a 500 (or a gateway 502/504) on the POST may hide a created transfer.
                500 | 502 | 504 if on_transfer(op) => Ambiguous,
                // A5: 503 SERVICE_UNAVAILABLE is a refusal before processing; A6: a failed GET says
                // nothing about the transfer.
                500..=599 => Retryable,
                // Redirects and other statuses: we are not talking to MoMo's API as configured.
                _ if *status < 400 => Configuration,
                _ => Terminal,
            },
            // A success status with an unreadable body: wrong endpoint, a person must look.
            Self::Decode { .. } => Configuration,
        }
    }

    /// The A7 reason code MoMo sent, if any (`NOT_ENOUGH_FUNDS`, `RESOURCE_ALREADY_EXIST`, …).
    pub fn reason_code(&self) -> Option<&str> {
        match self {
            Self::Http { body, .. } => body.reason_code(),
            Self::Duplicate { .. } => Some("RESOURCE_ALREADY_EXIST"),
            Self::NotFound { .. } => Some("RESOURCE_NOT_FOUND"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(op: Operation, status: u16, code: Option<&str>) -> MomoError {
        MomoError::Http {
            op,
            status,
            body: ErrorBody {
                code: code.map(str::to_owned),
                ..ErrorBody::default()
            },
        }
    }

    #[test]
    fn server_errors_on_the_transfer_post_are_ambiguous_elsewhere_retryable() {
        use Operation::{Balance, Transfer, TransferStatus};
        assert_eq!(
            http(Transfer, 500, Some("INTERNAL_PROCESSING_ERROR")).class(),
            ErrorClass::Ambiguous
        );
        assert_eq!(http(Transfer, 504, None).class(), ErrorClass::Ambiguous);
        assert_eq!(
            http(Transfer, 503, Some("SERVICE_UNAVAILABLE")).class(),
            ErrorClass::Retryable
        );
        assert_eq!(http(TransferStatus, 500, None).class(), ErrorClass::Retryable);
        assert_eq!(http(Balance, 429, None).class(), ErrorClass::Retryable);
        assert_eq!(http(Transfer, 429, None).class(), ErrorClass::Retryable);
    }

    #[test]
    fn configuration_mistakes_are_configuration_even_as_500() {
        use Operation::{Token, Transfer};
        for code in [
            "NOT_ALLOWED_TARGET_ENVIRONMENT",
            "INVALID_CURRENCY",
            "INVALID_CALLBACK_URL_HOST",
        ] {
            assert_eq!(
                http(Transfer, 500, Some(code)).class(),
                ErrorClass::Configuration,
                "{code}"
            );
        }
        assert_eq!(http(Transfer, 401, None).class(), ErrorClass::Configuration);
        assert_eq!(http(Transfer, 403, None).class(), ErrorClass::Configuration);
        assert_eq!(http(Token, 404, None).class(), ErrorClass::Configuration);
        assert_eq!(MomoError::Configuration("x".into()).class(), ErrorClass::Configuration);
    }

    #[test]
    fn refusals_are_terminal_and_duplicates_ambiguous() {
        assert_eq!(http(Operation::Transfer, 400, None).class(), ErrorClass::Terminal);
        assert_eq!(
            MomoError::Invalid(InvalidRequest::Amount("1.5".into())).class(),
            ErrorClass::Terminal
        );
        let duplicate = MomoError::Duplicate {
            reference_id: Uuid::new_v4(),
        };
        assert_eq!(duplicate.class(), ErrorClass::Ambiguous);
        assert_eq!(duplicate.reason_code(), Some("RESOURCE_ALREADY_EXIST"));
        let not_found = MomoError::NotFound {
            op: Operation::TransferStatus,
        };
        assert_eq!(not_found.class(), ErrorClass::Terminal);
    }

    #[test]
    fn timeouts_are_ambiguous_only_on_the_transfer_post() {
        let timeout = |op| MomoError::Timeout {
            op,
            timeout: Duration::from_secs(1),
        };
        assert_eq!(timeout(Operation::Transfer).class(), ErrorClass::Ambiguous);
        assert_eq!(timeout(Operation::TransferStatus).class(), ErrorClass::Retryable);
    }
}
