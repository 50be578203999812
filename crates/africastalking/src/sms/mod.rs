//! The Africa's Talking bulk SMS API: `POST {base}/version1/messaging`, form-encoded `username`,
//! `to` (comma-separated E.164 numbers with `+`), `message` and optional `from`, authenticated by
//! an `apiKey` header; AT answers 201 with JSON listing each number's status, or 401 with
//! `The supplied authentication is invalid` for a wrong key or username.
//!
//! - [`types`]: the form and the answer, read leniently.
//! - [`Client`]: one send, with a timeout, every failure a classified [`SmsError`].
//! - [`ErrorClass`]: retry, give up, or call a person.
//!
//! ```no_run
//! # async fn demo() -> Result<(), africastalking::sms::SmsError> {
//! use africastalking::sms::{Client, ClientConfig, SANDBOX_BASE_URL};
//! let client = Client::new(ClientConfig::new(SANDBOX_BASE_URL, "sandbox", "atsk_…"))?;
//! let sent = client.send_one("+250788123456", "MBELYCO: you received 5,000 RWF on MoMo.", None).await?;
//! println!("{:?}", sent.message_id());
//! # Ok(()) }
//! ```

mod client;
pub mod delivery;
mod error;
pub mod types;

pub use client::{Client, ClientConfig};
pub use delivery::{DeliveryReport, DeliveryStatus};
pub use error::{ErrorClass, SmsError};
pub use types::{MessageData, Recipient, SendRequest, SendResponse, Status};

/// AT's sandbox API host (username `sandbox`; messages reach only AT's web simulator).
pub const SANDBOX_BASE_URL: &str = "https://api.sandbox.africastalking.com";
/// AT's live API host.
pub const LIVE_BASE_URL: &str = "https://api.africastalking.com";
/// The bulk SMS path under either host.
pub const MESSAGING_PATH: &str = "/version1/messaging";
/// The header carrying the app's API key.
pub const API_KEY_HEADER: &str = "apiKey";
/// AT's body for a wrong API key or username (HTTP 401, plain text).
pub const AUTH_INVALID: &str = "The supplied authentication is invalid";

/// `+` and 8 to 15 digits, the first not 0.
pub fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn e164_needs_the_plus_and_8_to_15_digits() {
        assert!(super::is_e164("+250788123456"));
        assert!(!super::is_e164("250788123456"));
        assert!(!super::is_e164("+0788123456"));
        assert!(!super::is_e164("+2507881"));
        assert!(!super::is_e164("+2507881234567890"));
        assert!(!super::is_e164("+25078812345a"));
    }
}
