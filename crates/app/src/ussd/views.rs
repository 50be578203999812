//! What staff read about USSD traffic: one session with its hops, the recent interactions and
//! redemptions (newest first, filtered by phone, outcome and time, with a [`Horizon`] cursor for
//! live updates), and the last hour's counters.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::error::AppError;

/// Every outcome the interaction log records, in the order the staff filter offers them.
pub const OUTCOMES: &[&str] = &[
    "menu",
    "redeemed",
    "code_valid",
    "unknown_code",
    "already_redeemed",
    "expired",
    "blocked",
    "campaign_closed",
    "customer_limit",
    "cooling_down",
    "cooling_down",
    "rate_limited",
    "phone_blocked",
    "phone_barred",
    "busy",
    "not_mtn",
    "wrong_format",
    "star_in_code",
    "typo",
    "not_a_code",
    "too_many_requests",
    "timed_out",
    "too_deep",
    "language_set",
    "exit",
    "repeat",
    "error",
    "wrong_service_code",
    "bad_phone",
];

/// Outcomes where a customer was refused by a rule (the code, the campaign, their limits or
/// their network); slips of the keypad (`typo`, `wrong_format`) are not refusals.
pub const REFUSALS: &[&str] = &[
    "unknown_code",
    "already_redeemed",
    "expired",
    "blocked",
    "campaign_closed",
    "customer_limit",
    "rate_limited",
    "phone_blocked",
    "phone_barred",
    "too_many_requests",
    "not_mtn",
];

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Interaction {
    pub id: i64,
    pub session_id: String,
    pub phone_number: String,
    pub network_code: Option<String>,
    pub input: String,
    pub response: String,
    pub outcome: String,
    pub latency_ms: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub session_id: String,
    pub phone_number: String,
    pub service_code: String,
    pub network_code: Option<String>,
    pub language: Option<String>,
    pub menu_state: String,
    pub last_outcome: Option<String>,
    pub started_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub final_status: Option<String>,
    pub duration_ms: Option<i64>,
    pub hops: Option<i32>,
    pub final_input: Option<String>,
    pub last_app_response: Option<String>,
    pub error_message: Option<String>,
    pub ended_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    #[serde(flatten)]
    pub session: Session,
    pub interactions: Vec<Interaction>,
    pub redemption_id: Option<uuid::Uuid>,
}

const INTERACTION: &str = "select id, session_id, phone_number, network_code, input, response, outcome, latency_ms, \
     created_at from ussd_interactions";

pub async fn session(conn: &mut PgConnection, id: &str) -> Result<SessionView, AppError> {
    let session: Session = sqlx::query_as(
        "select session_id, phone_number, service_code, network_code, language, menu_state, last_outcome, started_at, \
         last_seen_at, final_status, duration_ms, hops, final_input, last_app_response, error_message, ended_at \
         from ussd_sessions where session_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound("USSD session"))?;
    let interactions = sqlx::query_as(&format!("{INTERACTION} where session_id = $1 order by id"))
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    let redemption_id = sqlx::query_scalar("select id from redemptions where ussd_session_id = $1 limit 1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(SessionView {
        session,
        interactions,
        redemption_id,
    })
}

/// A live feed's cursor (migration 20, decision 0020): the oldest transaction still running when
/// a listing began (`pg_snapshot_xmin`). Every transaction below it had finished, so the listing
/// saw all their rows; a row that appears later was written by a transaction at or above it. The
/// next poll asks for those rows (`tx >= horizon`): it may return rows the caller already shows,
/// which it recognises by id, and it never misses one that committed out of id order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Horizon(pub u64);

impl Horizon {
    /// Taken before the listing it goes with, so that the listing's own snapshot is newer.
    pub async fn now(conn: &mut PgConnection) -> Result<Horizon, sqlx::Error> {
        let h: String = sqlx::query_scalar("select pg_snapshot_xmin(pg_current_snapshot())::text")
            .fetch_one(conn)
            .await?;
        h.parse().map(Horizon).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    }

    /// ` and <tx column> >= $n` for a query built with `qb`.
    fn push(self, qb: &mut QueryBuilder<'_, Postgres>, column: &str) {
        qb.push(format!(" and {column} >= "))
            .push_bind(self.0.to_string())
            .push("::xid8");
    }
}

impl std::fmt::Display for Horizon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Rows of a live listing, and the cursor for the next poll.
#[derive(Debug, Serialize)]
pub struct Feed<T> {
    pub data: Vec<T>,
    pub cursor: String,
}

impl<T> Default for Feed<T> {
    fn default() -> Self {
        Feed {
            data: Vec::new(),
            cursor: String::new(),
        }
    }
}

/// Which interactions to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Part of the phone number (digits).
    pub phone: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only rows written since the previous listing began (live updates).
    pub since: Option<Horizon>,
}

/// The newest interactions matching the filter, newest first; older than the interaction `before`
/// (the last one of the previous page) when given.
pub async fn recent(
    conn: &mut PgConnection,
    f: &Filter,
    before: Option<i64>,
    limit: i64,
) -> Result<Feed<Interaction>, sqlx::Error> {
    let cursor = Horizon::now(&mut *conn).await?;
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(INTERACTION);
    qb.push(" where true");
    if let Some(p) = &f.phone {
        qb.push(" and phone_number like ").push_bind(format!("%{p}%"));
    }
    if let Some(o) = &f.outcome {
        qb.push(" and outcome = ").push_bind(o.clone());
    }
    if let Some(t) = f.from {
        qb.push(" and created_at >= ").push_bind(t);
    }
    if let Some(t) = f.to {
        qb.push(" and created_at < ").push_bind(t);
    }
    if let Some(h) = f.since {
        h.push(&mut qb, "tx");
    }
    if let Some(id) = before {
        qb.push(" and id < ").push_bind(id);
    }
    qb.push(" order by id desc limit ").push_bind(limit);
    Ok(Feed {
        data: qb.build_query_as().fetch_all(conn).await?,
        cursor: cursor.to_string(),
    })
}

/// A redemption as the monitor lists it: the code is masked (`ABCD-…-JK25`) before it leaves
/// this module.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedemptionRow {
    pub id: uuid::Uuid,
    pub promo_code_id: uuid::Uuid,
    pub phone_number: String,
    pub code: String,
    pub amount: i64,
    pub currency: String,
    pub status: crate::redemption::lifecycle::RedemptionStatus,
    pub disbursement_status: Option<String>,
    pub ussd_session_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `ABCD-EF26-GH11-JK25` → `ABCD-…-JK25`: enough to tell codes apart on a screen, not enough to
/// redeem one.
pub fn mask_code(code: &str) -> String {
    match (code.split('-').next(), code.rsplit('-').next()) {
        (Some(head), Some(tail)) if code.matches('-').count() >= 2 => format!("{head}-…-{tail}"),
        _ => "…".to_owned(),
    }
}

/// Which redemptions to list.
#[derive(Debug, Clone, Default)]
pub struct RedemptionFilter {
    pub phone: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only redemptions written since the previous listing began (live updates).
    pub since: Option<Horizon>,
}

/// A redemption list's keyset position: the last one shown, by `(created_at, id)`.
pub type RedemptionAfter = (DateTime<Utc>, uuid::Uuid);

/// The newest redemptions matching the filter, newest first; after `after` (the last one of the
/// previous page) when given.
pub async fn recent_redemptions(
    conn: &mut PgConnection,
    f: &RedemptionFilter,
    after: Option<RedemptionAfter>,
    limit: i64,
) -> Result<Feed<RedemptionRow>, sqlx::Error> {
    let cursor = Horizon::now(&mut *conn).await?;
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(
        "select r.id, r.promo_code_id, r.phone_number, c.code, r.amount, r.currency, r.status, \
         d.status as disbursement_status, r.ussd_session_id, r.created_at \
         from redemptions r join promo_codes c on c.id = r.promo_code_id \
         left join disbursements d on d.redemption_id = r.id where true",
    );
    if let Some(h) = f.since {
        h.push(&mut qb, "r.tx");
    }
    if let Some(p) = &f.phone {
        qb.push(" and r.phone_number like ").push_bind(format!("%{p}%"));
    }
    if let Some(t) = f.from {
        qb.push(" and r.created_at >= ").push_bind(t);
    }
    if let Some(t) = f.to {
        qb.push(" and r.created_at < ").push_bind(t);
    }
    if let Some((at, id)) = after {
        qb.push(" and (r.created_at, r.id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    qb.push(" order by r.created_at desc, r.id desc limit ")
        .push_bind(limit);
    let mut rows: Vec<RedemptionRow> = qb.build_query_as().fetch_all(conn).await?;
    for r in &mut rows {
        r.code = mask_code(&r.code);
    }
    Ok(Feed {
        data: rows,
        cursor: cursor.to_string(),
    })
}

/// The current state of the redemptions with these ids (codes masked): the live monitor asks
/// again for the rows it shows whose payout is still in flight.
pub async fn redemptions_by_id(conn: &mut PgConnection, ids: &[uuid::Uuid]) -> Result<Vec<RedemptionRow>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows: Vec<RedemptionRow> = sqlx::query_as(
        "select r.id, r.promo_code_id, r.phone_number, c.code, r.amount, r.currency, r.status, \
         d.status as disbursement_status, r.ussd_session_id, r.created_at \
         from redemptions r join promo_codes c on c.id = r.promo_code_id \
         left join disbursements d on d.redemption_id = r.id where r.id = any($1)",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    for r in &mut rows {
        r.code = mask_code(&r.code);
    }
    Ok(rows)
}

/// The redemption a session made, if any (code masked).
pub async fn session_redemption(
    conn: &mut PgConnection,
    session_id: &str,
) -> Result<Option<RedemptionRow>, sqlx::Error> {
    let row: Option<RedemptionRow> = sqlx::query_as(
        "select r.id, r.promo_code_id, r.phone_number, c.code, r.amount, r.currency, r.status, \
         d.status as disbursement_status, r.ussd_session_id, r.created_at \
         from redemptions r join promo_codes c on c.id = r.promo_code_id \
         left join disbursements d on d.redemption_id = r.id where r.ussd_session_id = $1 \
         order by r.created_at limit 1",
    )
    .bind(session_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| RedemptionRow {
        code: mask_code(&r.code),
        ..r
    }))
}

/// The last hour of traffic, for the monitor's header and the status endpoint.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastHour {
    pub hops: i64,
    pub sessions: i64,
    pub redemptions: i64,
    pub refusals: i64,
    pub latency_p95_ms: Option<f64>,
    pub last_request_at: Option<DateTime<Utc>>,
    /// Hops per outcome, the most frequent first.
    pub outcomes: Vec<OutcomeCount>,
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeCount {
    pub outcome: String,
    pub count: i64,
}

pub async fn last_hour(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<LastHour, sqlx::Error> {
    let since = now - Duration::hours(1);
    let outcomes: Vec<OutcomeCount> = sqlx::query_as(
        "select outcome, count(*) as count from ussd_interactions where created_at > $1 \
         group by outcome order by 2 desc, 1",
    )
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    let (hops, sessions, p95, last): (i64, i64, Option<f64>, Option<DateTime<Utc>>) = sqlx::query_as(
        r#"select count(*), count(distinct session_id),
                  percentile_cont(0.95) within group (order by latency_ms),
                  max(created_at)
           from ussd_interactions where created_at > $1"#,
    )
    .bind(since)
    .fetch_one(&mut *conn)
    .await?;
    let redemptions: i64 = sqlx::query_scalar("select count(*) from redemptions where created_at > $1")
        .bind(since)
        .fetch_one(&mut *conn)
        .await?;
    let refusals = outcomes
        .iter()
        .filter(|o| REFUSALS.contains(&o.outcome.as_str()))
        .map(|o| o.count)
        .sum();
    Ok(LastHour {
        hops,
        sessions,
        redemptions,
        refusals,
        latency_p95_ms: p95,
        last_request_at: last,
        outcomes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_masked_to_their_first_and_last_groups() {
        assert_eq!(mask_code("ABCD-EF26-GH11-JK25"), "ABCD-…-JK25");
        assert_eq!(mask_code("ABCDEF"), "…");
    }

    #[test]
    fn every_refusal_is_a_known_outcome() {
        assert!(REFUSALS.iter().all(|r| OUTCOMES.contains(r)));
    }
}
