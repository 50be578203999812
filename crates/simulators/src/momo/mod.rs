//! The MTN MoMo Disbursement API simulator (INTEGRATIONS.md Part A, checklist A15).
//!
//! A [`MomoSim`] answers the Disbursement API as MTN does: sandbox provisioning, tokens that
//! expire, the header and body checks with MoMo's own error shapes, 202/409 transfers that move
//! from PENDING to SUCCESSFUL or FAILED (the sandbox test numbers of A12 included), callbacks,
//! a balance that runs out, and faults (latency, 429/500/503, a timeout after the transfer was
//! created, dropped callbacks). Its ledger is an append-only file that survives a restart, and it
//! exports a statement CSV for reconciliation. [`serve`] runs it; [`router`] mounts it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), simulators::momo::SimError> {
//! use simulators::momo::{self, MomoSim, SimConfig};
//! let sim = MomoSim::new(SimConfig::rwanda().with_user("api-user", "api-key", "localhost"))?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let app = momo::router(sim.clone());
//! tokio::spawn(async move { axum::serve(listener, app).await });
//! // … point a momo::Client at it, then inspect:
//! let transfers = sim.transfers();
//! # let _ = transfers; Ok(()) }
//! ```

mod api;
mod callbacks;
mod clock;
mod config;
mod conn;
mod control;
mod ledger;
mod meter;
mod reply;
pub mod sandbox;
mod sim;
mod state;
mod transfer;
mod web;

pub use callbacks::{parse_schedule, CallbackAttempt};
pub use config::{ApiUserSeed, CallbackMethod, CallbackMode, Faults, ReasonMode, SimConfig};
pub use control::STATEMENT_HEADER;
pub use ledger::{LedgerError, LEDGER_FILE};
pub use meter::StatusQueryStats;
pub use sim::{MomoSim, SimError};
pub use transfer::{Plan, TransferRecord};
pub use web::{router, serve, serve_with};
