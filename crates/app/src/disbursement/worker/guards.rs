//! The worker's guards: the circuit breaker (stop claiming while MoMo keeps failing), the balance
//! view (hold what the account cannot cover) and the daily and monthly payout limits.

use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Utc};

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

/// What was paid out in a period (a Kigali day or calendar month), from the database at most
/// every few seconds plus what this worker reserved since: the payment settings' daily and
/// monthly limits.
#[derive(Debug, Default)]
pub(super) struct PeriodTotal {
    start: Option<DateTime<Utc>>,
    total: i64,
    read_at: Option<Instant>,
}

/// The start (UTC) of the Kigali day, and of the Kigali calendar month, `now` falls in.
fn kigali_day_and_month(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let tz = crate::clock::kigali();
    let today = now.with_timezone(&tz).date_naive();
    let start = |d: chrono::NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(tz).single())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now)
    };
    (start(today), start(today.with_day(1).unwrap_or(today)))
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
                        self.record_balance(known, &b.currency).await;
                        // the alert is the notification settings' (lowBalanceAlert): its switch and threshold
                        let low = self.settings.get().0.notifications.low_balance_alert.clone();
                        if let Some(k) = known.filter(|k| low.enabled && *k < low.threshold) {
                            let alert = alerts::low_balance(k, &b.currency, low.threshold);
                            self.alert_once(alert, self.clock.now()).await;
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

    /// Keeps the reading for the dashboard (`momo_balance`); a failure to write it is logged, never
    /// a reason to hold a payout.
    async fn record_balance(&self, available: Option<i64>, currency: &str) {
        let written = sqlx::query(
            "insert into momo_balance (singleton, available, currency, read_at) values (true, $1, $2, $3) \
             on conflict (singleton) do update set available = excluded.available, \
                 currency = excluded.currency, read_at = excluded.read_at",
        )
        .bind(available)
        .bind(currency)
        .bind(self.clock.now())
        .execute(&self.pool)
        .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, "could not record the MoMo balance reading");
        }
    }

    /// Whether paying `amount` stays within the daily limit (Kigali day); reserves it if so.
    pub(super) async fn within_daily_limit(&self, pay: &PaymentSettings, amount: i64) -> Result<bool, sqlx::Error> {
        let (day, _) = kigali_day_and_month(self.clock.now());
        let mut d = self.day.lock().await;
        self.read_total(&mut d, day).await?;
        if d.total + amount > pay.daily_transaction_limit {
            return Ok(false);
        }
        d.total += amount;
        Ok(true)
    }

    /// Whether paying `amount` stays within the monthly limit (Kigali calendar month); reserves it
    /// if so, or anyway when a person `approved` it past the limit.
    pub(super) async fn within_monthly_limit(
        &self,
        pay: &PaymentSettings,
        amount: i64,
        approved: bool,
    ) -> Result<bool, sqlx::Error> {
        let (_, month) = kigali_day_and_month(self.clock.now());
        let mut m = self.month.lock().await;
        self.read_total(&mut m, month).await?;
        if !approved && m.total + amount > pay.monthly_transaction_limit {
            return Ok(false);
        }
        m.total += amount;
        Ok(true)
    }

    /// Gives back a monthly reservation the payout did not use (another guard held it).
    pub(super) async fn unreserve_month(&self, amount: i64) {
        self.month.lock().await.total -= amount;
    }

    /// Re-reads what was paid since `start` when the period turned or the reading is stale.
    async fn read_total(&self, t: &mut PeriodTotal, start: DateTime<Utc>) -> Result<(), sqlx::Error> {
        if t.start == Some(start) && t.read_at.is_some_and(|r| r.elapsed() <= Duration::from_secs(5)) {
            return Ok(());
        }
        // paid in the period; what is on its way counts through the reservations
        let total: i64 = sqlx::query_scalar(
            "select coalesce(sum(amount), 0)::int8 from disbursements where status = 'completed' and disbursed_at >= $1",
        )
        .bind(start)
        .fetch_one(&self.pool)
        .await?;
        *t = PeriodTotal {
            start: Some(start),
            total,
            read_at: Some(Instant::now()),
        };
        Ok(())
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
