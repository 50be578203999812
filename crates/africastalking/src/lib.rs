//! Africa's Talking wire types, shared by the app and the AT simulator so the two cannot drift.
//!
//! - [`ussd`]: the USSD session callback (request and `CON`/`END` response) and the end-of-session
//!   notification, with AT's exact field names (INTEGRATIONS.md B2, B3, B6).
//! - [`sms`]: the bulk SMS API (`POST /version1/messaging`): the form, the answer with each
//!   number's status, and a client whose failures say whether to retry.
//! - [`gsm7`]: what fits on a handset screen (GSM 03.38 character set and the USSD length limits, B5).

pub mod gsm7;
mod lenient;
pub mod sms;
pub mod ussd;
