//! The fraud review of customers' phones: a phone flagged for guessing codes
//! ([`super::note_wrong_code`]) waits in the review queue until a person clears the flag (it
//! redeems as before, and only wrong codes after the review count towards a new flag) or blocks
//! the phone (its redemptions are refused with a polite message; clearing lifts the block). Each
//! decision carries a reason and is audited in the same transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::Action;
use crate::error::AppError;
use crate::unit::Acting;

/// A phone in the review queue.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlaggedPhone {
    pub id: Uuid,
    pub msisdn: String,
    pub language: String,
    pub flagged_at: Option<DateTime<Utc>>,
    pub flag_reason: Option<String>,
    pub blocked_at: Option<DateTime<Utc>>,
    pub blocked_reason: Option<String>,
    /// Wrong codes from this phone in the last day.
    pub wrong_codes_today: i64,
    pub redemptions: i64,
}

/// Which part of the queue to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FraudQueue {
    /// Flagged and not blocked: waiting for a decision.
    #[default]
    Flagged,
    /// Blocked phones.
    Blocked,
}

/// The phones of `queue`, most recent first (at most `limit`).
pub async fn queue(
    conn: &mut PgConnection,
    queue: FraudQueue,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<FlaggedPhone>, sqlx::Error> {
    let filter = match queue {
        FraudQueue::Flagged => "c.flagged_at is not null and c.blocked_at is null order by c.flagged_at desc",
        FraudQueue::Blocked => "c.blocked_at is not null order by c.blocked_at desc",
    };
    sqlx::query_as(&format!(
        r#"select c.id, c.msisdn, c.language, c.flagged_at, c.flag_reason, c.blocked_at, c.blocked_reason,
                  (select count(*) from ussd_interactions i where i.phone_number = c.msisdn
                     and i.created_at > $1 - interval '1 day' and i.outcome = 'unknown_code') as wrong_codes_today,
                  (select count(*) from redemptions r where r.customer_id = c.id) as redemptions
           from customers c where {filter} limit $2"#
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// A reviewer's decision, parsed from the API body or the page's form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The phone may redeem again; the flag (and any block) is lifted.
    Clear { reason: String },
    /// The phone may not redeem.
    Block { reason: String },
}

impl Decision {
    fn reason(raw: Option<&str>) -> Result<String, AppError> {
        let r = raw.map(str::trim).unwrap_or_default();
        if r.chars().count() < 3 {
            return Err(AppError::field("reason", "is required (at least 3 characters)"));
        }
        if r.chars().count() > 500 {
            return Err(AppError::field("reason", "must be at most 500 characters"));
        }
        Ok(r.to_owned())
    }

    pub fn clear(reason: Option<&str>) -> Result<Self, AppError> {
        Ok(Decision::Clear {
            reason: Self::reason(reason)?,
        })
    }

    pub fn block(reason: Option<&str>) -> Result<Self, AppError> {
        Ok(Decision::Block {
            reason: Self::reason(reason)?,
        })
    }
}

/// Applies a reviewer's decision to the customer `id`, audited in the caller's transaction.
/// 404 for no such customer; 409 for clearing a phone that is neither flagged nor blocked, or
/// blocking one that is already blocked.
pub async fn decide(conn: &mut PgConnection, id: Uuid, d: &Decision, acting: &Acting) -> Result<(), AppError> {
    type Row = (String, Option<DateTime<Utc>>, Option<String>, Option<DateTime<Utc>>);
    let row: Option<Row> =
        sqlx::query_as("select msisdn, flagged_at, flag_reason, blocked_at from customers where id = $1 for update")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((msisdn, flagged_at, flag_reason, blocked_at)) = row else {
        return Err(AppError::NotFound("customer"));
    };
    let now = acting.now;
    let before = json!({"flagged": flagged_at.is_some(), "flagReason": flag_reason, "blocked": blocked_at.is_some()});
    let (action, reason, after) = match d {
        Decision::Clear { reason } => {
            if flagged_at.is_none() && blocked_at.is_none() {
                return Err(AppError::conflict(
                    "status",
                    "This phone is neither flagged nor blocked.",
                ));
            }
            sqlx::query(
                "update customers set flagged_at = null, flag_reason = null, blocked_at = null, blocked_reason = null, \
                 reviewed_at = $2, reviewed_by = $3 where id = $1",
            )
            .bind(id)
            .bind(now)
            .bind(acting.user_id())
            .execute(&mut *conn)
            .await?;
            (
                Action::CustomerFlagCleared,
                reason,
                json!({"flagged": false, "blocked": false}),
            )
        }
        Decision::Block { reason } => {
            if blocked_at.is_some() {
                return Err(AppError::conflict("status", "This phone is already blocked."));
            }
            sqlx::query(
                "update customers set blocked_at = $2, blocked_reason = $4, reviewed_at = $2, reviewed_by = $3 where id = $1",
            )
            .bind(id)
            .bind(now)
            .bind(acting.user_id())
            .bind(reason)
            .execute(&mut *conn)
            .await?;
            (Action::CustomerBlocked, reason, json!({"blocked": true}))
        }
    };
    crate::audit::record(
        conn,
        &acting
            .audit(action, "customer", id)
            .before(before)
            .after(after)
            .metadata(json!({"reason": reason, "phone": masked(&msisdn)})),
        now,
    )
    .await?;
    Ok(())
}

/// `+250788***456`, as [`super::Msisdn::masked`] writes it.
fn masked(e164: &str) -> String {
    let n = e164.len();
    if n <= 7 || !e164.is_ascii() {
        return "***".into();
    }
    format!("{}***{}", &e164[..n - 6], &e164[n - 3..])
}
