//! Disbursement: exactly-once MoMo payouts (DESIGN.md §3 and §5). Owns `disbursements`,
//! `disbursement_attempts`, `redemption_reversals` and `reconciliation_runs`/`_items`.
//!
//! - [`worker`]: claims due payouts (`FOR UPDATE SKIP LOCKED` + lease), writes each attempt's
//!   reference before calling MoMo, resolves every ambiguous outcome by status query, completes
//!   in one transaction.
//! - [`callback`]: MoMo's callback only wakes a status query for the attempt it names.
//! - [`ops`]: what people do — approve or reject held payouts, retry, change the payee, reverse
//!   a redemption (second person) — plus the read models behind the pages.
//! - [`api`], [`pages`]: the `/api/v1/admin/disbursements` and `/redemptions` trees and pages.
//! - [`reconcile`]: comparing our payouts with MoMo's (status queries and the statement file).
//! - [`state`]: the payout state machine, the one writer of `disbursements.status`.
//! - [`budget`]: the status-query budget the worker's polls and reconciliation share, across
//!   processes.

pub mod api;
pub mod budget;
pub mod callback;
pub mod ops;
pub mod pages;
pub mod reconcile;
pub mod state;
pub mod worker;

use std::time::Duration;

use crate::settings::model::PaymentSettings;

/// NOTIFY channel that wakes the worker (redemptions, approvals, retries, callbacks).
pub const WAKE_CHANNEL: &str = "disbursements";

/// The MoMo client the payment settings describe; `None` when MoMo is not configured yet.
pub fn momo_client(p: &PaymentSettings) -> Option<momo::Client> {
    let (user, key, sub) = (
        p.momo_api_user.expose()?,
        p.momo_api_key.expose()?,
        p.momo_subscription_key.expose()?,
    );
    let mut config = momo::ClientConfig::new(&p.momo_base_url, sub, user, key, &p.momo_target_environment);
    config.timeout = Duration::from_secs(u64::from(p.request_timeout_seconds.max(1)));
    momo::Client::new(config).ok()
}
