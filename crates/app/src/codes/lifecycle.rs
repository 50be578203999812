//! The promo code state machine (DESIGN.md §3), and the one owner of `promo_codes.status`.
//!
//! [`TRANSITIONS`] is the whole table: which status a code may move to, from which, and what
//! causes the move. Every writer of a code's status goes through a function here, which checks
//! the move against the table (and refuses, writing nothing, a move it forbids), changes the code,
//! and writes the move's history in the caller's transaction:
//!
//! | from → to | cause | history | audit |
//! |---|---|---|---|
//! | active → used | [`Cause::Redemption`] ([`TakeSql`], inside the redemption statement) | the `redemptions` row | `redemption.created` (by the redemption) |
//! | used → redeemed | [`Cause::PayoutSucceeded`] ([`PaidSql`] or [`mark_paid`]) | the disbursement's attempts | `disbursement.completed` (by the worker) |
//! | used → blocked | [`Cause::ReversalApproved`] ([`block_reversed`]) | `promo_code_events` | `code.status_changed` |
//! | active → expired | [`Cause::BatchExpired`] ([`ExpireSql`], [`expire_batch`]) | `promo_code_events`, one per code | `batch.status_changed` (by the batch) |
//! | active → blocked, reported → blocked, blocked → active, reported → active, active → reported | [`Cause::Staff`] ([`change`], [`change_selected`]) | `promo_code_events` | `code.status_changed` / `code.reported` per code, `codes.bulk_status_changed` per bulk operation |
//!
//! A staff move to `active` also needs the code's own expiry date to be ahead. The rest of one
//! code's row — its amount and expiry, and deleting a code nobody has used — is [`super::edit`]'s,
//! which moves no status (its history rows keep from = to).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::audit::{self, Action, AuditEvent};
use crate::error::AppError;
use crate::sql::{Bind, Binder, Params, Slot};
use crate::unit::Acting;

/// A code's status (`promo_codes_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum CodeStatus {
    Active,
    Used,
    Expired,
    Redeemed,
    Reported,
    Blocked,
}

impl CodeStatus {
    pub const ALL: [CodeStatus; 6] = [
        CodeStatus::Active,
        CodeStatus::Used,
        CodeStatus::Expired,
        CodeStatus::Redeemed,
        CodeStatus::Reported,
        CodeStatus::Blocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CodeStatus::Active => "active",
            CodeStatus::Used => "used",
            CodeStatus::Expired => "expired",
            CodeStatus::Redeemed => "redeemed",
            CodeStatus::Reported => "reported",
            CodeStatus::Blocked => "blocked",
        }
    }

    pub fn parse(s: &str) -> Option<CodeStatus> {
        CodeStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Why a code in this status can no longer be changed by hand, if that is so.
    pub fn frozen(self) -> Option<&'static str> {
        match self {
            CodeStatus::Used => {
                Some("this code has been redeemed and its payout is in progress; its status cannot be changed")
            }
            CodeStatus::Redeemed => Some("this code has been redeemed and paid; its status cannot be changed"),
            CodeStatus::Expired => Some("this code has expired; its status cannot be changed"),
            _ => None,
        }
    }
}

impl fmt::Display for CodeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for CodeStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What moves a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, utoipa::ToSchema)]
pub enum Cause {
    /// A customer's redemption was accepted (the redemption statement).
    Redemption,
    /// The code's payout succeeded (the payout worker).
    PayoutSucceeded,
    /// A second person approved the reversal of the code's redemption.
    ReversalApproved,
    /// The code's batch expired (its expiry date passed, or a person set it expired).
    BatchExpired,
    /// A person changed it by hand, one code or in bulk (block, unblock, report, activate).
    Staff,
}

/// One allowed move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: CodeStatus,
    pub to: CodeStatus,
    pub cause: Cause,
}

const fn t(from: CodeStatus, to: CodeStatus, cause: Cause) -> Transition {
    Transition { from, to, cause }
}

/// Every move a code may make; any other is refused.
pub const TRANSITIONS: &[Transition] = {
    use Cause::*;
    use CodeStatus::*;
    &[
        t(Active, Used, Redemption),
        t(Used, Redeemed, PayoutSucceeded),
        t(Used, Blocked, ReversalApproved),
        t(Active, Expired, BatchExpired),
        t(Active, Blocked, Staff),
        t(Reported, Blocked, Staff),
        t(Blocked, Active, Staff),
        t(Reported, Active, Staff),
        t(Active, Reported, Staff),
    ]
};

/// Whether `cause` may move a code from `from` to `to`.
pub fn allows(from: CodeStatus, to: CodeStatus, cause: Cause) -> bool {
    TRANSITIONS
        .iter()
        .any(|m| m.from == from && m.to == to && m.cause == cause)
}

/// The statuses from which `cause` may move a code to `to`.
pub fn sources(to: CodeStatus, cause: Cause) -> Vec<CodeStatus> {
    TRANSITIONS
        .iter()
        .filter(|m| m.to == to && m.cause == cause)
        .map(|m| m.from)
        .collect()
}

/// `('a', 'b')`: the statuses `cause` moves to `to` from, for a statement's text (from the table,
/// so fixed: the `where` of the move is the table's check, without a round trip of its own).
fn sources_sql(to: CodeStatus, cause: Cause) -> String {
    let quoted: Vec<String> = sources(to, cause).iter().map(|s| format!("'{s}'")).collect();
    format!("({})", quoted.join(", "))
}

/// The statuses a person may set a code in `from` to, in the order the page offers them.
pub fn staff_targets(from: CodeStatus) -> Vec<CodeStatus> {
    [CodeStatus::Active, CodeStatus::Blocked, CodeStatus::Reported]
        .into_iter()
        .filter(|to| allows(from, *to, Cause::Staff))
        .collect()
}

/// Why a move was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No such code.
    NotFound,
    /// The table has no such move.
    Forbidden { from: CodeStatus, to: CodeStatus },
    /// A move to `active` of a code whose own expiry date has passed.
    PastExpiry,
}

impl Refused {
    /// As the HTTP edge says it.
    pub fn into_error(self) -> AppError {
        match self {
            Refused::NotFound => AppError::NotFound("promo code"),
            Refused::Forbidden { from, to } => match from.frozen() {
                Some(why) => AppError::conflict("status", why),
                None => AppError::conflict("status", format!("a {from} code cannot be made {to}")),
            },
            Refused::PastExpiry => {
                AppError::conflict("status", "this code is past its expiry date and cannot be made active")
            }
        }
    }
}

/// One code's move, as [`change`] makes it.
#[derive(Debug, Clone)]
pub struct Move<'a> {
    pub code_id: Uuid,
    pub to: CodeStatus,
    pub cause: Cause,
    /// Why (kept on the event row and in the audit row).
    pub reason: &'a str,
    /// The audit action (`code.status_changed`, or `code.reported` for a fraud report).
    pub action: Action,
}

/// What [`change`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    /// The code already had that status: nothing written.
    Already,
    /// Moved from `from`; its event row and audit row carry `operation_id`.
    Moved { from: CodeStatus, operation_id: Uuid },
}

/// The event row and the change, in one statement: `$1` code, `$2` from, `$3` to, `$4` time,
/// `$5` actor, `$6` reason, `$7` operation. `blocked_at` and `reported_at` follow the status.
const MOVE_ONE: &str = "with u as ( \
       update promo_codes set status = $3, \
         blocked_at = case when $3 = 'blocked' then $4 else blocked_at end, \
         reported_at = case when $3 = 'reported' then $4 else reported_at end \
       where id = $1 and status = $2 returning id) \
     insert into promo_code_events (promo_code_id, at, from_status, to_status, actor_user_id, reason, operation_id) \
     select id, $4, $2, $3, $5, $6, $7 from u";

/// Moves one code by the table, with its event row and audit row, in the caller's transaction
/// (the code row is locked until it ends). A code already in `to` is left alone; a refused move
/// writes nothing.
pub async fn change(
    conn: &mut PgConnection,
    m: &Move<'_>,
    acting: &Acting,
) -> Result<Result<Changed, Refused>, AppError> {
    let row: Option<(CodeStatus, Option<DateTime<Utc>>)> =
        sqlx::query_as("select status, expires_at from promo_codes where id = $1 for update")
            .bind(m.code_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((from, expires_at)) = row else {
        return Ok(Err(Refused::NotFound));
    };
    if from == m.to {
        return Ok(Ok(Changed::Already));
    }
    if !allows(from, m.to, m.cause) {
        return Ok(Err(Refused::Forbidden { from, to: m.to }));
    }
    if m.to == CodeStatus::Active && expires_at.is_some_and(|e| e <= acting.now) {
        return Ok(Err(Refused::PastExpiry));
    }
    let operation_id = Uuid::new_v4();
    sqlx::query(MOVE_ONE)
        .bind(m.code_id)
        .bind(from.as_str())
        .bind(m.to.as_str())
        .bind(acting.now)
        .bind(acting.user_id())
        .bind(m.reason)
        .bind(operation_id)
        .execute(&mut *conn)
        .await?;
    audit::record(
        conn,
        &code_event(acting, m.action, m.code_id, from, m.to, m.reason, operation_id),
        acting.now,
    )
    .await?;
    Ok(Ok(Changed::Moved { from, operation_id }))
}

fn code_event(
    acting: &Acting,
    action: Action,
    code_id: Uuid,
    from: CodeStatus,
    to: CodeStatus,
    reason: &str,
    operation_id: Uuid,
) -> AuditEvent {
    acting
        .audit(action, "promo_code", code_id)
        .before(json!({"status": from}))
        .after(json!({"status": to}))
        .metadata(json!({"reason": reason, "operationId": operation_id}))
}

/// A reversal's block of its code (used → blocked), as [`block_reversed`] makes it.
#[derive(Debug, Clone)]
pub struct ReversalBlock<'a> {
    pub code_id: Uuid,
    /// The code's status, read by the caller under its row lock.
    pub from: CodeStatus,
    pub reversal_id: Uuid,
    pub redemption_id: Uuid,
    /// Why (the event row's and the audit row's reason).
    pub reason: &'a str,
}

/// Blocks the code of an approved reversal (used → blocked, noting the reversal in the code's
/// metadata), with its event row (operation: the reversal) in the caller's transaction; its
/// `code.status_changed` audit event is pushed to `audit` for the caller to record with its own.
/// A code already blocked is left alone (`Ok(false)`); any other status the table refuses
/// (409), writing nothing.
pub async fn block_reversed(
    conn: &mut PgConnection,
    r: &ReversalBlock<'_>,
    acting: &Acting,
    audit: &mut Vec<AuditEvent>,
) -> Result<bool, AppError> {
    let to = CodeStatus::Blocked;
    if r.from == to {
        return Ok(false);
    }
    if !allows(r.from, to, Cause::ReversalApproved) {
        return Err(AppError::conflict(
            "status",
            format!("a {} code cannot be blocked by a reversal", r.from),
        ));
    }
    sqlx::query(
        "with u as ( \
           update promo_codes set status = 'blocked', blocked_at = $2, \
             metadata = metadata || jsonb_build_object('blockedBecause', 'redemption reversed', \
               'reversalId', $3::text, 'redemptionId', $4::text) \
           where id = $1 and status = $5 returning id) \
         insert into promo_code_events (promo_code_id, at, from_status, to_status, actor_user_id, reason, operation_id) \
         select id, $2, $5, 'blocked', $6, $7, $8 from u",
    )
    .bind(r.code_id)
    .bind(acting.now)
    .bind(r.reversal_id.to_string())
    .bind(r.redemption_id.to_string())
    .bind(r.from.as_str())
    .bind(acting.user_id())
    .bind(r.reason)
    .bind(r.reversal_id)
    .execute(&mut *conn)
    .await?;
    audit.push(code_event(
        acting,
        Action::CodeStatusChanged,
        r.code_id,
        r.from,
        to,
        r.reason,
        r.reversal_id,
    ));
    Ok(true)
}

/// A staff move of every code a selection names, as [`change_selected`] makes it.
#[derive(Debug, Clone)]
pub struct BulkMove<'a> {
    pub to: CodeStatus,
    /// The statuses a code must be in to move (each must be a move of the table).
    pub from: &'a [CodeStatus],
    pub reason: &'a str,
    pub operation_id: Uuid,
}

/// Appends the conditions on `promo_codes c` that a code meets to make `m`'s move now (the
/// dry run counts with them too).
pub fn push_eligible(qb: &mut QueryBuilder<'_, Postgres>, to: CodeStatus, from: &[CodeStatus], now: DateTime<Utc>) {
    let from: Vec<&'static str> = from.iter().map(|s| s.as_str()).collect();
    qb.push(" and c.status = any(").push_bind(from).push(")");
    if to == CodeStatus::Active {
        qb.push(" and (c.expires_at is null or c.expires_at > ")
            .push_bind(now)
            .push(")");
    }
}

/// Moves every eligible code of a selection (`select` appends ` and …` conditions on
/// `promo_codes c`) in one statement that locks them, changes them and writes one event row per
/// code; then the operation's one audit row, which `audit` builds from the number changed.
/// Refuses (writing nothing) a move the table does not have.
pub async fn change_selected(
    conn: &mut PgConnection,
    select: impl Fn(&mut QueryBuilder<'_, Postgres>),
    m: &BulkMove<'_>,
    acting: &Acting,
    audit: impl FnOnce(i64) -> AuditEvent,
) -> Result<i64, AppError> {
    if let Some(from) = m.from.iter().find(|f| !allows(**f, m.to, Cause::Staff)) {
        return Err(AppError::conflict(
            "status",
            format!("a {from} code cannot be made {}", m.to),
        ));
    }
    let to = m.to.as_str();
    let now = acting.now;
    let mut qb = QueryBuilder::new("with t as (select c.id, c.status from promo_codes c where true");
    select(&mut qb);
    push_eligible(&mut qb, m.to, m.from, now);
    qb.push(" for update), u as (update promo_codes p set status = ")
        .push_bind(to)
        .push(", blocked_at = case when ")
        .push_bind(to)
        .push(" = 'blocked' then ")
        .push_bind(now)
        .push(" else p.blocked_at end, reported_at = case when ")
        .push_bind(to)
        .push(" = 'reported' then ")
        .push_bind(now)
        .push(" else p.reported_at end from t where p.id = t.id returning p.id, t.status as from_status), \
               e as (insert into promo_code_events (promo_code_id, at, from_status, to_status, actor_user_id, reason, operation_id) \
               select u.id, ")
        .push_bind(now)
        .push(", u.from_status, ")
        .push_bind(to)
        .push(", ")
        .push_bind(acting.user_id())
        .push(", ")
        .push_bind(m.reason.to_owned())
        .push(", ")
        .push_bind(m.operation_id)
        .push(" from u returning 1) select count(*) from e");
    let changed: i64 = qb.build_query_scalar().fetch_one(&mut *conn).await?;
    audit::record(conn, &audit(changed), now).await?;
    Ok(changed)
}

/// The move active → used inside the redemption's one statement: `update promo_codes {alias} set
/// {set} … where {guard} and …`. The guard takes only an active code that has not passed its own
/// expiry date; the redemption adds its own conditions (batch, limits) beside it.
#[derive(Debug, Clone)]
pub struct TakeSql {
    slot: Slot,
    pub set: String,
    pub guard: String,
}

impl TakeSql {
    /// Written with `alias` for `promo_codes`; takes two placeholders (the time, and the moment
    /// a code's own expiry must be after).
    pub fn new(p: &mut Params, alias: &str) -> Self {
        let (slot, [at, valid_after]) = p.take::<2>();
        let from = sources_sql(CodeStatus::Used, Cause::Redemption);
        TakeSql {
            slot,
            set: format!("status = 'used', used_at = {at}"),
            guard: format!(
                "{alias}.status in {from} and ({alias}.expires_at is null or {alias}.expires_at > {valid_after})"
            ),
        }
    }

    /// A code whose own expiry has passed is not taken.
    pub fn bind<'q, Q: Bind<'q>>(&self, b: Binder<Q>, now: DateTime<Utc>) -> Binder<Q> {
        self.bind_with_grace(b, now, now)
    }

    /// A code whose own expiry is before `valid_after` (now less the grace period, settings
    /// `business.expiration.gracePeriodHours`) is not taken.
    pub fn bind_with_grace<'q, Q: Bind<'q>>(
        &self,
        b: Binder<Q>,
        now: DateTime<Utc>,
        valid_after: DateTime<Utc>,
    ) -> Binder<Q> {
        b.at(self.slot, |b| b.bind(now).bind(valid_after))
    }
}

/// The move used → redeemed when a payout succeeds, as a `with` item of the payout's completing
/// statement: `{name} as (update promo_codes … from {source} …)`, where `source` is a `with` item
/// with the column `promo_code_id` (the completed redemption). A code not `used` is left alone.
#[derive(Debug, Clone)]
pub struct PaidSql {
    slot: Slot,
    pub item: String,
}

impl PaidSql {
    /// Takes one placeholder (the time of the payout).
    pub fn new(p: &mut Params, name: &str, source: &str) -> Self {
        let (slot, [at]) = p.take::<1>();
        let from = sources_sql(CodeStatus::Redeemed, Cause::PayoutSucceeded);
        PaidSql {
            slot,
            item: format!(
                "{name} as (update promo_codes set status = 'redeemed', redeemed_at = {at} \
                 from {source} where promo_codes.id = {source}.promo_code_id and promo_codes.status in {from})"
            ),
        }
    }

    pub fn bind<'q, Q: Bind<'q>>(&self, b: Binder<Q>, now: DateTime<Utc>) -> Binder<Q> {
        b.at(self.slot, |b| b.bind(now))
    }
}

/// The move used → redeemed of one code whose payout succeeded, on its own (a caller that cannot
/// fold [`PaidSql`] into its statement). Returns whether the code moved.
pub async fn mark_paid(conn: &mut PgConnection, code_id: Uuid, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let from = sources_sql(CodeStatus::Redeemed, Cause::PayoutSucceeded);
        format!("update promo_codes set status = 'redeemed', redeemed_at = $2 where id = $1 and status in {from}")
    });
    Ok(sqlx::query(SQL.as_str())
        .bind(code_id)
        .bind(now)
        .execute(conn)
        .await?
        .rows_affected()
        == 1)
}

/// The move active → expired of every active code of some batches, with one event row per code,
/// as `with` items of a statement that expires the batches: `{name}` (the codes expired, columns
/// `id` and `batch_id`) and `{name}_events`, over `due`, a `with` item with the batches' `id`.
#[derive(Debug, Clone)]
pub struct ExpireSql {
    slot: Slot,
    pub items: String,
}

impl ExpireSql {
    /// Takes four placeholders (time, actor, reason, operation).
    pub fn new(p: &mut Params, name: &str, due: &str) -> Self {
        // one status expires (its name goes on the event rows), so the `where` is the table's
        let [from] = sources(CodeStatus::Expired, Cause::BatchExpired)[..] else {
            unreachable!("the table expires codes from one status")
        };
        let (slot, [at, actor, reason, operation]) = p.take::<4>();
        ExpireSql {
            slot,
            items: format!(
                "{name} as ( \
                   update promo_codes c set status = 'expired' from {due} \
                   where c.batch_id = {due}.id and c.status = '{from}' returning c.id, c.batch_id), \
                 {name}_events as ( \
                   insert into promo_code_events (promo_code_id, at, from_status, to_status, actor_user_id, reason, operation_id) \
                   select id, {at}, '{from}', 'expired', {actor}::uuid, {reason}::text, {operation}::uuid from {name})"
            ),
        }
    }

    pub fn bind<'q, Q: Bind<'q>>(
        &self,
        b: Binder<Q>,
        now: DateTime<Utc>,
        acting_user: Option<Uuid>,
        reason: &'q str,
        operation_id: Uuid,
    ) -> Binder<Q> {
        b.at(self.slot, |b| {
            b.bind(now).bind(acting_user).bind(reason).bind(operation_id)
        })
    }
}

/// Expires the active codes of one batch (its expiry by hand), with one event row per code, in
/// one statement. Returns how many codes expired.
pub async fn expire_batch(
    conn: &mut PgConnection,
    batch_id: Uuid,
    reason: &str,
    operation_id: Uuid,
    acting: &Acting,
) -> Result<i64, sqlx::Error> {
    static SQL: std::sync::LazyLock<(String, Slot, ExpireSql, usize)> = std::sync::LazyLock::new(|| {
        let mut p = Params::new();
        let (batch, [id]) = p.take::<1>();
        let expire = ExpireSql::new(&mut p, "codes", "due");
        let sql = format!(
            "with due as (select {id}::uuid as id), {} select count(*) from codes",
            expire.items
        );
        (sql, batch, expire, p.count())
    });
    let (sql, batch, expire, params) = &*SQL;
    let b = Binder::new(sqlx::query_scalar(sql.as_str())).at(*batch, |b| b.bind(batch_id));
    expire
        .bind(b, acting.now, acting.user_id(), reason, operation_id)
        .finish(*params)
        .fetch_one(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_follows_the_design() {
        use CodeStatus::*;
        assert!(allows(Active, Used, Cause::Redemption));
        assert!(!allows(Active, Used, Cause::Staff));
        assert!(allows(Blocked, Active, Cause::Staff));
        assert!(allows(Reported, Active, Cause::Staff));
        assert!(!allows(Reported, Reported, Cause::Staff));
        assert!(!allows(Blocked, Reported, Cause::Staff));
        assert!(!allows(Redeemed, Blocked, Cause::ReversalApproved));
        assert_eq!(sources(Blocked, Cause::Staff), [Active, Reported]);
        assert!(staff_targets(Used).is_empty());
        assert_eq!(staff_targets(Active), [Blocked, Reported]);
        assert!(Used.frozen().is_some() && Active.frozen().is_none());
        for s in CodeStatus::ALL {
            assert_eq!(CodeStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
