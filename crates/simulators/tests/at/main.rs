//! The AT USSD simulator against a tiny fake app over real HTTP.

mod browser;
mod fake_app;
mod gateway;
mod web;
