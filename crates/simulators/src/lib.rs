//! Local stand-ins for the gateways the app talks to, faithful enough to catch protocol mistakes
//! before a real telco does. Used by people (the `at-sim` binary) and by tests (the library).
//!
//! - [`at`]: the Africa's Talking USSD gateway: dials the app's callback, drives sessions, posts
//!   end-of-session notifications, and serves a web phone.

pub mod at;
