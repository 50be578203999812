//! The AT simulator over real HTTP: USSD against a tiny fake app, SMS against the real client.

mod browser;
mod fake_app;
mod gateway;
mod sms;
mod web;
