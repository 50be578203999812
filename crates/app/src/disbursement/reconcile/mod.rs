//! Reconciliation: every disbursement of a period compared with MoMo — by a status query of each
//! attempt's reference (paced under `payments.statusQueriesPerSecond`) and, when an operator
//! uploaded MoMo's statement file, with its lines — and every disagreement listed for a person to
//! resolve (audited).
//!
//! - [`statement`]: the statement file, read as it streams in and checked line by line.
//! - [`compare`]: the rules, without I/O.
//! - [`run`]: the `disbursements.reconcile` job.
//! - [`daily`]: the daily `disbursements.reconcile_daily` run: waits for MoMo's configuration,
//!   catches up missed days, alerts when a run dies.
//! - [`service`]: start a run, resolve an item, store a statement.
//! - [`views`]: what pages and the API read; the CSV of a run.
//! - [`api`], [`pages`]: `/api/v1/admin/disbursements/reconcile…` and `/admin/disbursements/reconcile…`.
//!
//! # One item per disbursement
//!
//! A run covers the disbursements created in its period, plus any disbursement outside it that
//! a statement line of the period names, plus one item per statement line of the period that
//! matches nothing here (`missing_here`). Statement lines are matched by reference id, else by
//! MoMo's ledger id (`financialTransactionId`, an attempt's or a disbursement's), else by external
//! id (our disbursement or redemption id). For each attempt, MoMo's side is the status query's
//! answer when it found the transfer, else the statement line, else "not found" (404, or absent
//! from a statement-only run's file), else "could not check".
//!
//! An item's findings, gravest first (its kind is the gravest):
//!
//! | kind | when |
//! |---|---|
//! | `successful_at_momo_not_here` | MoMo says SUCCESSFUL for a reference we do not count as paid (the payout failed or is still open here, or it completed through another reference: paid twice); or a statement line names the disbursement with a SUCCESSFUL payout no attempt accounts for |
//! | `paid_here_unknown_to_momo` | we count a reference as paid (attempt `successful`, or the completed payout's reference) and MoMo does not know it; or the payout is completed with no paid attempt at all |
//! | `missing_here` | a statement line matches nothing of ours |
//! | `amount_mismatch` | MoMo's amount or currency (query or statement) differs from the disbursement's; or the redemption's from its disbursement's |
//! | `status_mismatch` | paid here but FAILED/PENDING at MoMo; FAILED at MoMo while the attempt is still open here; the attempt failed here while MoMo still has it PENDING (it may still pay); a different ledger id for the same payout; the redemption's status contradicts its payout's |
//! | `missing_at_momo` | MoMo once acknowledged the reference (HTTP 202, a status, a ledger id) and does not know it now |
//! | `unpaid_payee_invalid` | the payout is `payee_invalid`: the payee has no active MoMo wallet, nothing was paid and the prize is owed until a person gives another number |
//! | `pending_too_long` | the payout is still `queued`/`processing`/`retry_scheduled`, or MoMo keeps a reference PENDING, longer than [`pending_threshold`] |
//! | `unchecked` | MoMo's answer for a reference was an error after three tries and no statement line stood in |
//! | `match` | none of the above |
//!
//! A reference MoMo never acknowledged (never sent, refused with a 4xx, or the worker's own
//! record of an ambiguous attempt) that MoMo does not know is as recorded, not a discrepancy.
//!
//! # Runs
//!
//! One run at a time (they share MoMo's status-query budget; a unique index says so, and a
//! second start gets 409). A run whose job died is marked failed the next time a run starts or
//! the scheduler passes (within a minute), and raises `reconciliation.failed`. The daily run
//! covers the previous Kigali day and is due at 01:00 Kigali; days missed (MoMo not configured
//! yet, no worker running) are caught up ([`daily`]). A run with discrepancies raises an alert
//! for `financial.alerts.view` (critical when money is orphaned).

pub mod api;
pub mod compare;
pub mod daily;
pub mod model;
pub mod pages;
pub mod run;
pub mod service;
pub mod statement;
pub mod views;

use std::sync::Arc;

use crate::jobs::Registry;
use crate::settings::model::PaymentSettings;
use crate::settings::SettingsStore;

pub use model::Kind;

/// How long MoMo keeps polling a PENDING transfer before the worker hands it over (INTEGRATIONS.md
/// A16.10 suggests 15–30 minutes).
pub const POLL_WINDOW_MINUTES: i64 = 30;
/// The shortest "pending too long" threshold.
pub const MIN_PENDING_MINUTES: i64 = 60;

/// How long a payout may stay unfinished before a run flags it `pending_too_long`: the whole
/// retry schedule the payment settings allow (each retry's delay, the last repeated when the list
/// is shorter) plus [`POLL_WINDOW_MINUTES`], and never under an hour. With the defaults (3
/// retries after 1, 5 and 15 minutes) that is one hour.
pub fn pending_threshold(p: &PaymentSettings) -> chrono::Duration {
    let retries = p.max_retry_attempts as usize;
    let delays: i64 = (0..retries)
        .map(|i| {
            p.retry_delay_minutes
                .get(i)
                .or(p.retry_delay_minutes.last())
                .copied()
                .map_or(0, i64::from)
        })
        .sum();
    chrono::Duration::minutes((delays + POLL_WINDOW_MINUTES).max(MIN_PENDING_MINUTES))
}

/// Adds the reconciliation jobs to a worker's registry.
pub fn register(registry: Registry, settings: &Arc<SettingsStore>) -> Registry {
    registry
        .register(run::RunHandler {
            settings: Arc::clone(settings),
        })
        .register(daily::DailyHandler {
            settings: Arc::clone(settings),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_follows_the_retry_schedule() {
        let mut p = PaymentSettings::default();
        assert_eq!(pending_threshold(&p), chrono::Duration::hours(1));
        p.max_retry_attempts = 5;
        // 1 + 5 + 15 + 30 + 60 + 30
        assert_eq!(pending_threshold(&p), chrono::Duration::minutes(141));
        p.retry_delay_minutes = vec![10];
        assert_eq!(pending_threshold(&p), chrono::Duration::minutes(80));
    }
}
