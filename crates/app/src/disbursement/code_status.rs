//! The two places the payout side changes a promo code's status, each kept in one named piece so
//! that they can be handed to the code lifecycle (the owner of `promo_codes.status`) as they are:
//!
//! - [`code_redeemed`]: `used → redeemed` when the payout completes — a fragment of the
//!   completion statement ([`super::state::complete`]), so the completion keeps its one round
//!   trip;
//! - [`code_blocked`]: `→ blocked` when a redemption is reversed, with its `promo_code_events`
//!   row.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// The `code` CTE of the completion statement: the code of the completed redemption becomes
/// `redeemed` (only from `used`). It binds nothing of its own: it reads `$2` (now) and the `r`
/// CTE (`r.promo_code_id`) of [`super::state::complete`].
pub(crate) const fn code_redeemed() -> &'static str {
    "code as (
             update promo_codes set status = 'redeemed', redeemed_at = $2
             from r where promo_codes.id = r.promo_code_id and promo_codes.status = 'used')"
}

/// What blocks a reversed redemption's code.
#[derive(Debug, Clone)]
pub(crate) struct CodeBlocked<'a> {
    pub code_id: Uuid,
    /// The code's status before (for its history).
    pub from_status: &'a str,
    pub reversal_id: Uuid,
    pub redemption_id: Uuid,
    pub actor_user_id: Option<Uuid>,
    /// Why, in the code's history.
    pub why: &'a str,
    pub now: DateTime<Utc>,
}

/// The reversed redemption's code becomes `blocked` (why in its metadata), with its history row.
pub(crate) async fn code_blocked(conn: &mut PgConnection, b: CodeBlocked<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update promo_codes set status = 'blocked', blocked_at = $2, \
           metadata = metadata || jsonb_build_object('blockedBecause', 'redemption reversed', \
             'reversalId', $3::text, 'redemptionId', $4::text) \
         where id = $1",
    )
    .bind(b.code_id)
    .bind(b.now)
    .bind(b.reversal_id.to_string())
    .bind(b.redemption_id.to_string())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into promo_code_events (promo_code_id, at, from_status, to_status, actor_user_id, reason, \
           operation_id) values ($1, $2, $3, 'blocked', $4, $5, $6)",
    )
    .bind(b.code_id)
    .bind(b.now)
    .bind(b.from_status)
    .bind(b.actor_user_id)
    .bind(b.why)
    .bind(b.reversal_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
