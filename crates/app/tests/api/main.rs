//! Integration tests: one binary, one fresh database per test (`#[sqlx::test]`), the real app
//! on a random port.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on the first unexpected error")]

mod access;
mod audit;
mod auth_api;
mod batches;
mod batches_list;
mod batches_ops;
mod browser;
mod cli;
mod codes;
mod codes_edit;
mod codes_import;
mod disbursements_ops;
mod disbursements_views;
mod hardening_access;
mod hardening_edge;
mod hardening_ops;
mod hardening_panel;
mod hardening_payouts;
mod hardening_ussd;
mod hardening_views;
mod helpers;
mod jobs;
mod lifecycle_codes;
mod lifecycle_identity;
mod lifecycle_payouts;
mod openapi;
mod payout_fixtures;
mod payouts;
mod payouts_faults;
mod reconcile;
mod seed;
mod settings;
mod settings_branding;
mod settings_processes;
mod signin;
mod sms;
mod sms_delivery;
mod state_machines_doc;
mod system;
mod users;
mod users_lists;
mod ussd;
mod ussd_concurrency;
mod ussd_pages;
