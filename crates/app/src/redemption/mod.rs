//! Redemption: customers, the attempt limits, and the one atomic transaction that turns a code
//! into a queued payout (DESIGN.md §4). Owns `customers`, `redemptions` and `ussd_interactions`
//! (the ussd module writes the log through its service; the limits read it here).

pub mod customers;
pub mod lifecycle;
pub mod limits;
pub mod phone;
mod redeem;
pub mod review;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::PgConnection;

pub use limits::Limited;
pub use phone::{Msisdn, Network};
pub use redeem::{look, redeem, Attempt, CodeState, Redeemed, Refusal};

use crate::audit::{Action, Actor, AuditEvent};

static WAKE_PENDING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Wakes the payout worker (`NOTIFY disbursements`) after redemptions commit, once for all those
/// committed within the same 20 ms. Not inside the redemption's transaction: PostgreSQL takes a
/// global lock for a notifying transaction's commit, which serialised every redemption's commit
/// (measured: 660/s with 15 of 20 connections waiting on it; decision 0013). The worker also polls
/// for due payouts, so a wake-up lost to a crash only delays a payout by its poll interval.
pub fn wake_payouts(pool: &sqlx::PgPool) {
    use std::sync::atomic::Ordering;
    if WAKE_PENDING.swap(true, Ordering::AcqRel) {
        return;
    }
    let pool = pool.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        WAKE_PENDING.store(false, Ordering::Release);
        if let Err(e) = sqlx::query("select pg_notify('disbursements', '')")
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "could not wake the payout worker; it will find the payout on its next poll");
        }
    });
}

/// Counts a wrong (unknown) code from this phone and flags the customer for fraud review once
/// `threshold` of them arrive within a day (the audit event goes to `audit`, for the caller to
/// record); from then on each wrong code counts on the phone's one open `fraud.wrong_code_burst`
/// alert, raised in this same transaction. The current attempt is not logged yet, hence the +1.
/// After a person cleared the phone's flag ([`review`]), only wrong codes since then count.
pub async fn note_wrong_code(
    conn: &mut PgConnection,
    customer: &customers::Customer,
    now: DateTime<Utc>,
    threshold: u32,
    audit: &mut Vec<AuditEvent>,
) -> Result<bool, sqlx::Error> {
    if threshold == 0 {
        return Ok(false);
    }
    let wrong: i64 = sqlx::query_scalar(
        "select count(*) from ussd_interactions where phone_number = $1 and outcome = 'unknown_code' \
         and created_at > greatest($2, (select reviewed_at from customers where id = $3))",
    )
    .bind(&customer.msisdn)
    .bind(now - Duration::days(1))
    .bind(customer.id)
    .fetch_one(&mut *conn)
    .await?;
    if wrong + 1 < i64::from(threshold) {
        return Ok(false);
    }
    crate::alerts::rules::fraud::wrong_code_burst(conn, &customer.msisdn, wrong + 1, now).await?;
    let reason = format!("{} unknown codes within a day", wrong + 1);
    let flagged =
        sqlx::query("update customers set flagged_at = $2, flag_reason = $3 where id = $1 and flagged_at is null")
            .bind(customer.id)
            .bind(now)
            .bind(&reason)
            .execute(&mut *conn)
            .await?
            .rows_affected()
            == 1;
    if flagged {
        audit.push(
            AuditEvent::new(Actor::System, Action::CustomerFlagged, "customer", customer.id)
                .after(json!({"reason": reason})),
        );
    }
    Ok(flagged)
}
