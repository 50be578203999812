//! The worker's guards: the circuit breaker (stop claiming while MoMo keeps failing), the balance
//! view (hold what the account cannot cover) and the daily payout limit.

use std::time::{Duration, Instant};

use chrono::Utc;

use super::{alerts, Pacing, PayoutWorker, BALANCE_TTL};
use crate::disbursement::state::HeldReason;
use crate::settings::model::PaymentSettings;

/// Counts consecutive infrastructure failures; open, it lets one probe through after the cool-down.
#[derive(Debug, Default)]
pub(super) struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

pub(super) enum Gate {
    Open,
    Probe,
    Shut,
}

impl Breaker {
    pub(super) fn gate(&mut self, now: Instant) -> Gate {
        match self.open_until {
            None => Gate::Open,
            Some(_) if self.probing => Gate::Shut,
            Some(until) if now >= until => {
                self.probing = true;
                Gate::Probe
            }
            Some(_) => Gate::Shut,
        }
    }

    pub(super) fn success(&mut self) -> bool {
        let was_open = self.open_until.is_some();
        *self = Self::default();
        was_open
    }

    /// Counts a failure; true when this one opened the breaker.
    pub(super) fn failure(&mut self, threshold: u32, cooldown: Duration, now: Instant) -> bool {
        self.failures += 1;
        let reopen = self.probing;
        self.probing = false;
        if reopen || (self.open_until.is_none() && self.failures >= threshold.max(1)) {
            let opened = self.open_until.is_none();
            self.open_until = Some(now + cooldown);
            return opened;
        }
        false
    }
}

/// The last balance reading and what was reserved since.
#[derive(Debug, Default)]
pub(super) struct BalanceView {
    known: Option<i64>,
    read_at: Option<Instant>,
    /// Reserved for payouts since the reading.
    spent: i64,
}

/// What was paid out today (Kigali), from the database at most every few seconds plus what this
/// worker reserved since: the payment settings' daily limit.
#[derive(Debug, Default)]
pub(super) struct DayTotal {
    day: Option<chrono::NaiveDate>,
    total: i64,
    read_at: Option<Instant>,
}

impl PayoutWorker {
    pub(super) fn infra_ok(&self) {
        let closed = self.breaker.lock().map(|mut b| b.success()).unwrap_or(false);
        if closed {
            tracing::info!("MoMo answered again: payouts resume");
        }
    }

    // ---- balance ----------------------------------------------------------------------------

    /// `Some(reason)` when the payout must wait for money; raises the low-balance alert.
    pub(super) async fn balance_hold(&self, pacing: &Pacing, client: &momo::Client, amount: i64) -> Option<HeldReason> {
        let mut view = self.balance.lock().await;
        let stale = view.read_at.is_none_or(|t| t.elapsed() > BALANCE_TTL);
        let short = view.known.is_some_and(|k| k - view.spent < amount);
        if stale || short {
            // a short estimate is re-read at most every 5 s
            if stale || view.read_at.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
                pacing.calls.until_ready().await;
                match client.balance().await {
                    Ok(b) => {
                        let known = b
                            .available_balance
                            .split('.')
                            .next()
                            .and_then(|s| s.trim().parse::<i64>().ok());
                        *view = BalanceView {
                            known,
                            read_at: Some(Instant::now()),
                            spent: 0,
                        };
                        if let Some(k) = known {
                            if k < pacing.payments.low_balance_threshold {
                                let alert = alerts::low_balance(k, &b.currency, pacing.payments.low_balance_threshold);
                                self.alert_once(alert, self.clock.now()).await;
                            }
                        }
                    }
                    Err(e) => {
                        // the balance is a guard, not a gate: MoMo still refuses what it cannot pay
                        tracing::warn!(error = %e, "could not read the MoMo balance");
                        view.read_at = Some(Instant::now());
                        view.known = None;
                    }
                }
            }
        }
        match view.known {
            Some(k) if k - view.spent < amount => Some(HeldReason::LowBalance),
            _ => {
                // reserved now, so payouts checked at the same moment do not all count the same money
                view.spent += amount;
                None
            }
        }
    }

    /// Whether paying `amount` stays within the daily limit (Kigali day); reserves it if so.
    pub(super) async fn within_daily_limit(&self, pay: &PaymentSettings, amount: i64) -> Result<bool, sqlx::Error> {
        let now = self.clock.now();
        let today = now.with_timezone(&crate::clock::kigali()).date_naive();
        let mut d = self.day.lock().await;
        if d.day != Some(today) || d.read_at.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
            let start = today
                .and_hms_opt(0, 0, 0)
                .and_then(|t| t.and_local_timezone(crate::clock::kigali()).single())
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(now);
            // paid today; what is on its way counts through the reservations below
            let total: i64 = sqlx::query_scalar(
                "select coalesce(sum(amount), 0)::int8 from disbursements where status = 'completed' and disbursed_at >= $1",
            )
            .bind(start)
            .fetch_one(&self.pool)
            .await?;
            *d = DayTotal {
                day: Some(today),
                total,
                read_at: Some(Instant::now()),
            };
        }
        if d.total + amount > pay.daily_transaction_limit {
            return Ok(false);
        }
        d.total += amount;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_after_the_threshold_and_lets_one_probe_through() {
        let mut b = Breaker::default();
        let t0 = Instant::now();
        let cool = Duration::from_secs(10);
        assert!(!b.failure(3, cool, t0));
        assert!(!b.failure(3, cool, t0));
        assert!(b.failure(3, cool, t0), "third failure opens it");
        assert!(matches!(b.gate(t0), Gate::Shut));
        assert!(matches!(b.gate(t0 + cool), Gate::Probe));
        assert!(matches!(b.gate(t0 + cool), Gate::Shut), "one probe at a time");
        assert!(
            !b.failure(3, cool, t0 + cool),
            "a failed probe reopens without a new alert"
        );
        assert!(matches!(b.gate(t0 + cool), Gate::Shut));
        assert!(matches!(b.gate(t0 + cool * 2), Gate::Probe));
        assert!(b.success(), "a good probe closes it");
        assert!(matches!(b.gate(t0 + cool * 2), Gate::Open));
    }
}
