//! The batch state machine, and the one owner of `batches.status`.
//!
//! [`TRANSITIONS`] is the whole table; every writer of a batch's status goes through a function
//! here, which checks the move, changes the batch (and, when it expires, its active codes through
//! [`crate::codes::lifecycle`]) and writes the audit row, in the caller's transaction:
//!
//! | from → to | cause | guard | audit |
//! |---|---|---|---|
//! | active → blocked | [`Cause::Staff`] | | `batch.status_changed` |
//! | active, blocked → expired | [`Cause::Staff`] | its active codes expire with it (an event row each) | `batch.status_changed` |
//! | completed → expired | [`Cause::Staff`] | | `batch.status_changed` |
//! | blocked, expired → active | [`Cause::Staff`] | the expiry date is ahead | `batch.status_changed` |
//! | active, blocked, expired → completed | [`Cause::Staff`] | no code active or used | `batch.status_changed` |
//! | active, blocked → expired | [`Cause::ExpiryPassed`] (the refresh) | its active codes expire with it (an event row each) | `batch.status_changed`, system, automatic |
//! | active, blocked → completed | [`Cause::NothingLeft`] (the refresh) | every code redeemed or expired, one redeemed | `batch.status_changed`, system, automatic |
//! | active, blocked → expired | [`Cause::NothingLeft`] (the refresh) | every code expired | `batch.status_changed`, system, automatic |

use std::fmt;
use std::sync::LazyLock;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, Action, AuditEvent};
use crate::codes::lifecycle::ExpireSql;
use crate::error::AppError;
use crate::settings::model::Expiration;
use crate::sql::{Binder, Params, Slot};
use crate::unit::Acting;

/// A batch's status (`batches_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    Active,
    Expired,
    Blocked,
    Completed,
}

impl BatchStatus {
    pub const ALL: [BatchStatus; 4] = [
        BatchStatus::Active,
        BatchStatus::Expired,
        BatchStatus::Blocked,
        BatchStatus::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Active => "active",
            BatchStatus::Expired => "expired",
            BatchStatus::Blocked => "blocked",
            BatchStatus::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<BatchStatus> {
        BatchStatus::ALL.into_iter().find(|b| b.as_str() == s)
    }
}

impl fmt::Display for BatchStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for BatchStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What moves a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, utoipa::ToSchema)]
pub enum Cause {
    /// A person set the status (one batch, or a bulk action over batches).
    Staff,
    /// The refresh: the expiry date has passed.
    ExpiryPassed,
    /// The refresh: no code can still be redeemed.
    NothingLeft,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: BatchStatus,
    pub to: BatchStatus,
    pub cause: Cause,
}

const fn t(from: BatchStatus, to: BatchStatus, cause: Cause) -> Transition {
    Transition { from, to, cause }
}

/// Every move a batch may make; any other is refused.
pub const TRANSITIONS: &[Transition] = {
    use BatchStatus::*;
    use Cause::*;
    &[
        t(Active, Blocked, Staff),
        t(Active, Expired, Staff),
        t(Blocked, Expired, Staff),
        t(Completed, Expired, Staff),
        t(Blocked, Active, Staff),
        t(Expired, Active, Staff),
        t(Active, Completed, Staff),
        t(Blocked, Completed, Staff),
        t(Expired, Completed, Staff),
        t(Active, Expired, ExpiryPassed),
        t(Blocked, Expired, ExpiryPassed),
        t(Active, Completed, NothingLeft),
        t(Blocked, Completed, NothingLeft),
        t(Active, Expired, NothingLeft),
        t(Blocked, Expired, NothingLeft),
    ]
};

pub fn allows(from: BatchStatus, to: BatchStatus, cause: Cause) -> bool {
    TRANSITIONS
        .iter()
        .any(|m| m.from == from && m.to == to && m.cause == cause)
}

/// The statuses from which `cause` may move a batch to `to`.
pub fn sources(to: BatchStatus, cause: Cause) -> Vec<BatchStatus> {
    TRANSITIONS
        .iter()
        .filter(|m| m.to == to && m.cause == cause)
        .map(|m| m.from)
        .collect()
}

/// `('a', 'b')`: a status list for a statement's text (from the table, so fixed).
fn list(statuses: &[BatchStatus]) -> String {
    let quoted: Vec<String> = statuses.iter().map(|s| format!("'{s}'")).collect();
    format!("({})", quoted.join(", "))
}

const COLUMNS: &str = super::COLUMNS;

/// Sets a batch's status by hand ([`Cause::Staff`]): checks the move and its guard, expires the
/// batch's active codes when it expires, and writes the audit row. The status it already has
/// changes nothing.
pub async fn set_by_staff(
    conn: &mut PgConnection,
    id: Uuid,
    to: BatchStatus,
    acting: &Acting,
) -> Result<super::Batch, AppError> {
    let now = acting.now;
    let before: super::Batch = sqlx::query_as(&format!("select {COLUMNS} from batches where id = $1 for update"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound("batch"))?;
    let from = before.status;
    if from == to {
        return Ok(before);
    }
    if to == BatchStatus::Active && before.expiration_date <= now {
        return Err(AppError::conflict(
            "status",
            "this batch has passed its expiry date; extend it first",
        ));
    }
    if !allows(from, to, Cause::Staff) {
        return Err(AppError::conflict(
            "status",
            match to {
                BatchStatus::Blocked => format!("only an active batch can be blocked; this one is {from}"),
                BatchStatus::Active if from == BatchStatus::Completed => {
                    "a completed batch has no codes left to redeem".to_owned()
                }
                _ => format!("a {from} batch cannot be made {to}"),
            },
        ));
    }
    if to == BatchStatus::Completed {
        let open: i64 =
            sqlx::query_scalar("select count(*) from promo_codes where batch_id = $1 and status in ('active', 'used')")
                .bind(id)
                .fetch_one(&mut *conn)
                .await?;
        if open > 0 {
            return Err(AppError::conflict(
                "status",
                format!("{open} code(s) can still be redeemed or are being paid"),
            ));
        }
    }
    if to == BatchStatus::Expired {
        crate::codes::lifecycle::expire_batch(conn, id, "the batch was set expired", Uuid::new_v4(), acting).await?;
    }
    let after: super::Batch = sqlx::query_as(&format!(
        "update batches set status = $2, updated_at = $3 where id = $1 returning {COLUMNS}"
    ))
    .bind(id)
    .bind(to.as_str())
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    audit::record(
        conn,
        &acting
            .audit(Action::BatchStatusChanged, "batch", id)
            .before(json!({"status": from}))
            .after(json!({"status": after.status})),
        now,
    )
    .await?;
    Ok(after)
}

/// One automatic status change.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub batch_id: Uuid,
    pub from: BatchStatus,
    pub to: BatchStatus,
    pub codes_expired: i64,
    pub reason: String,
}

/// The reason the codes of an expired batch carry in their history.
const EXPIRED_BECAUSE: &str = "the batch's expiry date has passed";

/// [`Cause::ExpiryPassed`], for one batch or all (null): the batches and, with them, their active
/// codes (one event row each), in one statement.
static EXPIRE: LazyLock<(String, Slot, ExpireSql, usize)> = LazyLock::new(|| {
    let mut p = Params::new();
    let (slot, [batch, now, expired_before]) = p.take::<3>();
    let codes = ExpireSql::new(&mut p, "codes", "due");
    let from = list(&sources(BatchStatus::Expired, Cause::ExpiryPassed));
    let sql = format!(
        "with due as ( \
           select id, status from batches \
           where status in {from} and expiration_date <= {expired_before} and ({batch}::uuid is null or id = {batch}) \
           for update), \
         {codes}, \
         upd as ( \
           update batches b set status = 'expired', updated_at = {now} from due where b.id = due.id \
           returning b.id, due.status as from_status) \
         select upd.id as batch_id, upd.from_status as \"from\", 'expired' as \"to\", \
           (select count(*) from codes where codes.batch_id = upd.id)::int8 as codes_expired, \
           'the expiry date has passed' as reason \
         from upd",
        codes = codes.items,
    );
    (sql, slot, codes, p.count())
});

/// [`Cause::NothingLeft`], for one batch (`$1`) or all (`$1` null).
static SETTLE: LazyLock<String> = LazyLock::new(|| {
    let completed = list(&sources(BatchStatus::Completed, Cause::NothingLeft));
    let expired = list(&sources(BatchStatus::Expired, Cause::NothingLeft));
    debug_assert_eq!(completed, expired, "the refresh settles the same batches either way");
    format!(
        "with done as ( \
           select b.id, b.status from batches b \
           where b.status in {completed} and ($1::uuid is null or b.id = $1) \
             and exists (select 1 from promo_codes c where c.batch_id = b.id) \
             and not exists (select 1 from promo_codes c where c.batch_id = b.id \
                             and c.status in ('active', 'used', 'blocked', 'reported')) \
           for update of b), \
         upd as ( \
           update batches b set status = case \
               when exists (select 1 from promo_codes c where c.batch_id = b.id and c.status = 'redeemed') then 'completed' \
               else 'expired' end, \
             updated_at = $2 \
           from done where b.id = done.id \
           returning b.id, done.status as from_status, b.status as to_status) \
         select id as batch_id, from_status as \"from\", to_status as \"to\", 0::int8 as codes_expired, \
           case when to_status = 'completed' then 'every code is redeemed or expired' else 'every code has expired' end as reason \
         from upd"
    )
});

/// The latest expiry date a batch may have and be expired by the refresh now: its date plus the
/// grace period (settings `business.expiration.gracePeriodHours`) has passed. `None` when
/// settings `autoExpireEnabled` is off: the refresh expires nothing, staff do. Redemption refuses
/// a code once the same moment has passed ([`crate::redemption::redeem`]), whatever the status.
pub fn expired_before(rules: &Expiration, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    rules
        .auto_expire_enabled
        .then(|| now - Duration::hours(i64::from(rules.grace_period_hours)))
}

/// The refresh's moves ([`Cause::ExpiryPassed`], then [`Cause::NothingLeft`]) for one batch or
/// all, each audited with the system as the actor, in the caller's transaction.
pub async fn refresh(
    conn: &mut PgConnection,
    batch: Option<Uuid>,
    now: DateTime<Utc>,
    rules: &Expiration,
) -> Result<Vec<Change>, sqlx::Error> {
    let acting = Acting::system(now);
    let operation_id = Uuid::new_v4();
    let mut changes: Vec<Change> = Vec::new();
    if let Some(due) = expired_before(rules, now) {
        let (sql, slot, codes, params) = &*EXPIRE;
        let q = Binder::new(sqlx::query_as(sql.as_str())).at(*slot, |b| b.bind(batch).bind(now).bind(due));
        changes = codes
            .bind(q, now, acting.user_id(), EXPIRED_BECAUSE, operation_id)
            .finish(*params)
            .fetch_all(&mut *conn)
            .await?;
    }
    let settled: Vec<Change> = sqlx::query_as(SETTLE.as_str())
        .bind(batch)
        .bind(now)
        .fetch_all(&mut *conn)
        .await?;
    changes.extend(settled);
    for c in &changes {
        let event: AuditEvent = acting
            .audit(Action::BatchStatusChanged, "batch", c.batch_id)
            .before(json!({"status": c.from}))
            .after(json!({"status": c.to}))
            .metadata(json!({"automatic": true, "reason": c.reason, "codesExpired": c.codes_expired}));
        audit::record(conn, &event, now).await?;
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_keeps_the_rules() {
        use BatchStatus::*;
        assert!(allows(Active, Blocked, Cause::Staff));
        assert!(!allows(Expired, Blocked, Cause::Staff));
        assert!(!allows(Completed, Active, Cause::Staff));
        assert_eq!(list(&sources(Expired, Cause::ExpiryPassed)), "('active', 'blocked')");
        for s in BatchStatus::ALL {
            assert_eq!(BatchStatus::parse(s.as_str()), Some(s));
        }
    }
}
