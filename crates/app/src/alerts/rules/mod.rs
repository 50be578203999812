//! The rules that raise alerts (issue #22, decision 0046). Every rule raises through
//! [`crate::alerts::raise`] with a dedupe key per subject, so a condition that keeps holding counts
//! repeats on one open alert instead of adding rows.
//!
//! - [`fraud`]: raised in the refusing USSD hop's own transaction (wrong-code bursts, one code from
//!   many phones, many phones on one batch, a customer above the redemption rules);
//! - [`security`]: throttled addresses and sign-ins from a new address in the sign-in transaction;
//!   new Super Administrators, approved role changes and API keys from the audit log;
//! - [`evaluate`]: the `alerts.evaluate` job, once a minute on the injectable clock — the windowed
//!   financial and system rules (from the rollups and indexed queries, never a scan), the audit-log
//!   security rules and the custom rules ([`custom`]);
//! - the payout worker raises its own (low balance, breaker open, `payee_invalid`, failed for good).
//!
//! Owns `alert_rules`, `fraud_code_tries` and `alert_cursors`.

pub mod custom;
pub mod custom_api;
pub mod custom_pages;
pub mod evaluate;
pub mod fraud;
pub mod metrics;
pub mod security;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Where the evaluator's rule `name` stopped last time (`None` before its first run).
pub(crate) async fn cursor(conn: &mut PgConnection, name: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("select at from alert_cursors where name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await
}

pub(crate) async fn set_cursor(conn: &mut PgConnection, name: &str, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into alert_cursors (name, at) values ($1, $2) on conflict (name) do update set at = excluded.at",
    )
    .bind(name)
    .bind(at)
    .execute(conn)
    .await
    .map(|_| ())
}
