//! The alerts the worker raises for people: what each says and who sees it.

use chrono::{DateTime, Utc};

use super::claim::Claim;
use super::PayoutWorker;
use crate::access::Permission;
use crate::alerts::{self, NewAlert, Severity};
use crate::disbursement::state::HeldReason;
use crate::settings::model::PaymentSettings;

/// MoMo has no credentials yet: nothing can be paid.
pub(super) fn not_configured() -> NewAlert {
    NewAlert::new(
        "momo.not_configured",
        Severity::Critical,
        Permission::FinancialAlertsView,
        "Payouts are waiting: MoMo is not configured",
    )
    .body("Set the MoMo API user, API key and subscription key in the payment settings.")
    .dedupe("momo.not_configured")
}

/// The breaker opened: MoMo failed `circuitBreakerFailures` times in a row.
pub(super) fn circuit_open(pay: &PaymentSettings, e: &momo::MomoError) -> NewAlert {
    NewAlert::new(
        "momo.circuit_open",
        Severity::Critical,
        Permission::SystemAlertsView,
        "MoMo is failing: payouts are paused",
    )
    .body(format!(
        "{} failures in a row, the last: {e}. A probe is sent after {} s.",
        pay.circuit_breaker_failures, pay.circuit_breaker_cooldown_seconds
    ))
    .dedupe("momo.circuit_open")
}

/// The disbursement account's balance is below the threshold.
pub(super) fn low_balance(known: i64, currency: &str, threshold: i64) -> NewAlert {
    NewAlert::new(
        "momo.low_balance",
        Severity::Warning,
        Permission::FinancialAlertsView,
        format!("MoMo disbursement balance is low: {known} {currency}"),
    )
    .body(format!(
        "Below the threshold of {threshold} set in the notification settings (low balance alert). Top up the account."
    ))
    .dedupe("momo.low_balance")
}

/// A payout failed for good: retry it or reverse the redemption.
pub(super) fn failed(c: &Claim, code: &str, message: &str) -> NewAlert {
    NewAlert::new(
        "payout.failed",
        Severity::Critical,
        Permission::FinancialAlertsView,
        format!("Payout of {} {} to +{} failed for good", c.amount, c.currency, c.msisdn),
    )
    .body(format!("{code}: {message}. Retry it or reverse the redemption."))
    .subject("disbursement", c.id)
    .dedupe(format!("payout.failed:{}", c.id))
}

/// The payee has no active MoMo wallet: for the people who can give the payout another number
/// (decision 0024).
pub(super) fn payee_invalid(c: &Claim, code: &str, message: &str) -> NewAlert {
    NewAlert::new(
        "payout.payee_invalid",
        Severity::Warning,
        Permission::DisbursementsPayeeUpdate,
        format!(
            "Payout of {} {} is unpaid: +{} has no active MoMo wallet",
            c.amount, c.currency, c.msisdn
        ),
    )
    .body(format!(
        "{code}: {message}. Ask the customer for another MTN number and change the payee on the redemption."
    ))
    .subject("disbursement", c.id)
    .dedupe(format!("payout.payee_invalid:{}", c.id))
}

/// Payouts are held for `reason`.
pub(super) fn held(reason: HeldReason, error: Option<(&str, &str)>) -> NewAlert {
    let (title, audience) = match reason {
        HeldReason::InsufficientFunds | HeldReason::LowBalance => (
            "Payouts are held: the MoMo disbursement account cannot cover them",
            Permission::FinancialAlertsView,
        ),
        HeldReason::DailyLimit => (
            "Payouts are held: today's payout limit is reached",
            Permission::FinancialAlertsView,
        ),
        HeldReason::MonthlyLimit => (
            "Payouts wait for approval: this month's payout limit is reached",
            Permission::FinancialAlertsView,
        ),
        HeldReason::MomoConfiguration => (
            "Payouts are held: MoMo refuses our configuration",
            Permission::SystemAlertsView,
        ),
    };
    NewAlert::new("payout.held", Severity::Critical, audience, title)
        .body(match error {
            Some((code, message)) => format!("{code}: {message}"),
            None => match reason {
                HeldReason::DailyLimit => "Held payouts resume by themselves tomorrow (Kigali time), or raise the \
                                           daily payout limit in the payment settings."
                    .into(),
                HeldReason::MonthlyLimit => "A payout that would take this month's payouts over the monthly limit \
                                             waits for a financial administrator: approve it to pay it anyway, or \
                                             reject it."
                    .into(),
                _ => "Top up the disbursement account; held payouts resume by themselves.".into(),
            },
        })
        .dedupe(format!("payout.held:{reason}"))
}

impl PayoutWorker {
    /// Raises `alert` on its own connection; a failure is logged, not fatal.
    pub(super) async fn alert_once(&self, alert: NewAlert, now: DateTime<Utc>) {
        let result = async {
            let mut conn = self.pool.acquire().await?;
            alerts::raise(&mut conn, &alert, now).await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, kind = alert.kind, "could not raise an alert");
        }
    }
}
