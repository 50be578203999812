//! Local stand-ins for the gateways the app talks to, faithful enough to catch protocol mistakes
//! before a real telco does. Used by people (the `at-sim` and `momo-sim` binaries) and by tests
//! (the library).
//!
//! - [`at`]: the Africa's Talking USSD gateway: dials the app's callback, drives sessions, posts
//!   end-of-session notifications, and serves a web phone.
//! - [`momo`]: the MTN MoMo Disbursement API: tokens, transfers that settle, callbacks, a balance,
//!   a ledger that survives restarts, a statement export, and fault switches.

pub mod at;
pub mod momo;
