//! MBELYCO Promo: national paint promotions — code batches, USSD redemption and MTN MoMo payouts.
//!
//! A modular monolith (see `docs/architecture.md`): each capability module owns its tables and
//! its logic; `web` assembles the HTTP surface; `startup` brings the roles up.

pub mod access;
pub mod alerts;
pub mod audit;
pub mod backup;
pub mod batches;
pub mod bench;
pub mod clock;
pub mod codes;
pub mod config;
pub mod crypto;
pub mod csv_out;
pub mod dashboard;
pub mod db;
pub mod devrun;
pub mod disbursement;
pub mod error;
pub mod identity;
pub mod jobs;
pub mod maintenance;
pub mod monitor;
pub mod ratelimit;
pub mod redemption;
pub mod reports;
pub mod settings;
pub mod sql;
pub mod startup;
pub mod stats;
pub mod telemetry;
pub mod templates;
pub mod unit;
pub mod ussd;
pub mod web;
pub mod webhooks;
