//! Redemption: customers, the attempt limits, and the one atomic transaction that turns a code
//! into a queued payout (DESIGN.md §4). Owns `customers`, `redemptions` and `ussd_interactions`
//! (the ussd module writes the log through its service; the limits read it here).

pub mod customers;
pub mod limits;
pub mod phone;
mod redeem;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::PgConnection;

pub use limits::Limited;
pub use phone::{Msisdn, Network};
pub use redeem::{look, redeem, Attempt, CodeState, Redeemed, Refusal};

use crate::audit::{self, Action, Actor, AuditEvent};

/// Counts a wrong (unknown) code from this phone and flags the customer for fraud review once
/// `threshold` of them arrive within a day. The current attempt is not logged yet, hence the +1.
pub async fn note_wrong_code(
    conn: &mut PgConnection,
    customer: &customers::Customer,
    now: DateTime<Utc>,
    threshold: u32,
) -> Result<bool, sqlx::Error> {
    if threshold == 0 {
        return Ok(false);
    }
    let wrong: i64 = sqlx::query_scalar(
        "select count(*) from ussd_interactions where phone_number = $1 and created_at > $2 and outcome = 'unknown_code'",
    )
    .bind(&customer.msisdn)
    .bind(now - Duration::days(1))
    .fetch_one(&mut *conn)
    .await?;
    if wrong + 1 < i64::from(threshold) {
        return Ok(false);
    }
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
        audit::record(
            conn,
            &AuditEvent::new(Actor::System, Action::CustomerFlagged, "customer", customer.id)
                .after(json!({"reason": reason})),
            now,
        )
        .await?;
    }
    Ok(flagged)
}
