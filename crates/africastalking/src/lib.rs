//! Africa's Talking wire types, shared by the app and the AT simulator so the two cannot drift.
//!
//! - [`ussd`]: the USSD session callback (request and `CON`/`END` response) and the end-of-session
//!   notification, with AT's exact field names (INTEGRATIONS.md B2, B3, B6).
//! - [`gsm7`]: what fits on a handset screen (GSM 03.38 character set and the USSD length limits, B5).
//!
//! The SMS API types will live beside these in an `sms` module when the app sends SMS.

pub mod gsm7;
mod lenient;
pub mod ussd;
