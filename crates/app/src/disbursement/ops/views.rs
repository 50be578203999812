//! What staff read about payouts: the filtered, searched, sorted and paged list; what changed
//! since a moment (the live page polls it); and one payout in full — its redemption, code and
//! batch, every attempt with MoMo's answer, reversal requests and its audit history. Codes are
//! masked (`ABCD-…-JK25`) before they leave this module.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::query::{Customer, Filter, Keyset, Page, RowKey, Search, Sort};
use super::Disbursement;
use crate::error::AppError;
use crate::ussd::views::mask_code;

/// One payout as lists show it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayoutRow {
    pub id: Uuid,
    pub redemption_id: Uuid,
    pub msisdn: String,
    pub amount: i64,
    pub currency: String,
    pub status: crate::disbursement::state::PayoutStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub momo_transaction_id: Option<String>,
    pub momo_reference: Option<Uuid>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub held_reason: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub disbursed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The customer's phone (who redeemed), `+2507…`.
    pub phone_number: String,
    pub redemption_status: crate::redemption::lifecycle::RedemptionStatus,
    pub code: String,
    pub batch_id: Uuid,
    pub batch_number: i64,
    pub batch_name: String,
}

impl PayoutRow {
    fn key(&self) -> RowKey<'_> {
        RowKey {
            id: self.id,
            created_at: self.created_at,
            updated_at: self.updated_at,
            amount: self.amount,
            status: self.status.as_str(),
        }
    }
}

pub(crate) const ROW: &str =
    "select d.id, d.redemption_id, d.msisdn, d.amount, d.currency, d.status, d.attempts, d.max_attempts, \
     d.next_attempt_at, d.momo_transaction_id, d.momo_reference, d.error_code, d.error_message, d.held_reason, \
     d.approved_at, d.disbursed_at, d.created_at, d.updated_at, r.phone_number, r.status as redemption_status, \
     c.code, b.id as batch_id, b.batch_number, b.name as batch_name \
     from disbursements d join redemptions r on r.id = d.redemption_id \
     join promo_codes c on c.id = r.promo_code_id join batches b on b.id = r.batch_id";

const COUNT: &str = "select count(*) from disbursements d join redemptions r on r.id = d.redemption_id \
     join promo_codes c on c.id = r.promo_code_id";

/// Appends the filter's conditions (`t` is the table whose date, status and amount it filters:
/// `d` for payouts, `r` for redemptions).
pub(crate) fn push_filter(qb: &mut QueryBuilder<'_, Postgres>, f: &Filter, t: &str) {
    qb.push(" where true");
    if let Some(v) = f.from {
        qb.push(format!(" and {t}.created_at >= ")).push_bind(v);
    }
    if let Some(v) = f.to {
        qb.push(format!(" and {t}.created_at < ")).push_bind(v);
    }
    if !f.statuses.is_empty() {
        qb.push(format!(" and {t}.status = any("))
            .push_bind(f.statuses.clone())
            .push(")");
    }
    if let Some(v) = f.amount_min {
        qb.push(format!(" and {t}.amount >= ")).push_bind(v);
    }
    if let Some(v) = f.amount_max {
        qb.push(format!(" and {t}.amount <= ")).push_bind(v);
    }
    if let Some(p) = &f.phone {
        let like = format!("%{p}%");
        qb.push(" and (r.phone_number like ")
            .push_bind(like.clone())
            .push(" or exists (select 1 from disbursements dp where dp.redemption_id = r.id and dp.msisdn like ")
            .push_bind(like)
            .push("))");
    }
    if let Some(b) = f.batch_id {
        qb.push(" and r.batch_id = ").push_bind(b);
    }
    // what the dashboard's "held" card counts (the partial index disbursements_held_idx)
    match f.held {
        Some(true) => qb.push(" and d.status = 'queued' and d.held_reason is not null"),
        Some(false) => qb.push(" and not (d.status = 'queued' and d.held_reason is not null)"),
        None => qb,
    };
    // the rollups' segment: as the redemption froze it, or for rows written otherwise, whether
    // the customer had redeemed before (the trigger stats_redemptions_insert's own probe)
    if let Some(c) = f.customer {
        qb.push(
            " and coalesce(r.returning_customer, exists (select 1 from redemptions e where e.user_id = r.user_id \
               and e.created_at <= r.created_at and (e.created_at, e.id) < (r.created_at, r.id))) = ",
        )
        .push_bind(c == Customer::Returning);
    }
    match &f.search {
        None => {}
        Some(Search::Id(id)) => {
            qb.push(" and (r.id = ")
                .push_bind(*id)
                .push(" or exists (select 1 from disbursements ds where ds.redemption_id = r.id and (ds.id = ")
                .push_bind(*id)
                .push(" or ds.momo_reference = ")
                .push_bind(*id)
                .push(" or exists (select 1 from disbursement_attempts a where a.disbursement_id = ds.id and (a.id = ")
                .push_bind(*id)
                .push(" or a.reference_id = ")
                .push_bind(*id)
                .push(")))))");
        }
        Some(Search::Text {
            raw,
            digits,
            code,
            partial_code,
        }) => {
            qb.push(" and (exists (select 1 from disbursements ds where ds.redemption_id = r.id and (ds.momo_transaction_id = ")
                .push_bind(raw.clone())
                .push(" or exists (select 1 from disbursement_attempts a where a.disbursement_id = ds.id \
                       and a.financial_transaction_id = ")
                .push_bind(raw.clone())
                .push(")");
            if let Some(d) = digits {
                qb.push(" or ds.msisdn like ").push_bind(format!("%{d}%"));
            }
            qb.push("))");
            if let Some(d) = digits {
                qb.push(" or r.phone_number like ").push_bind(format!("%{d}%"));
            }
            if let Some(c) = code {
                qb.push(" or c.code = ").push_bind(c.clone());
            }
            if let Some(p) = partial_code {
                qb.push(" or replace(c.code, '-', '') like ")
                    .push_bind(format!("%{}%", p.replace('-', "")));
            }
            qb.push(")");
        }
    }
}

fn masked(mut rows: Vec<PayoutRow>) -> Vec<PayoutRow> {
    for r in &mut rows {
        r.code = mask_code(&r.code);
    }
    rows
}

/// One keyset page of payouts (the API's list) and the cursor of the next, if any.
pub async fn page(
    conn: &mut PgConnection,
    f: &Filter,
    sort: Sort,
    k: &Keyset,
) -> Result<(Vec<PayoutRow>, Option<String>), sqlx::Error> {
    let mut qb = QueryBuilder::new(ROW);
    push_filter(&mut qb, f, "d");
    if let Some(after) = &k.after {
        after.push_after(&mut qb, "d", sort);
    }
    qb.push(format!(" order by {} limit ", sort.order_by("d")))
        .push_bind(k.fetch());
    let rows: Vec<PayoutRow> = qb.build_query_as().fetch_all(conn).await?;
    let (rows, next) = k.cut(rows, sort, PayoutRow::key);
    Ok((masked(rows), next))
}

/// One numbered page of payouts (the panel's list) and how many match in all.
pub async fn list(
    conn: &mut PgConnection,
    f: &Filter,
    sort: Sort,
    page: Page,
) -> Result<(Vec<PayoutRow>, i64), sqlx::Error> {
    let mut qb = QueryBuilder::new(ROW);
    push_filter(&mut qb, f, "d");
    qb.push(format!(" order by {} limit ", sort.order_by("d")))
        .push_bind(page.per_page)
        .push(" offset ")
        .push_bind(page.offset());
    let rows: Vec<PayoutRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let mut count = QueryBuilder::new(COUNT);
    push_filter(&mut count, f, "d");
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    Ok((masked(rows), total))
}

/// How far back `changes` looks before its cursor: a transaction that stamped `updated_at`
/// just before the cursor but committed after the last poll is still found.
pub const CHANGES_OVERLAP_SECS: i64 = 10;
/// Most rows one poll returns.
pub const CHANGES_LIMIT: i64 = 200;

/// Payouts matching the filter that changed (or appeared) since `since`, oldest change first,
/// and the cursor for the next poll. Rows may come again within the overlap; the page replaces
/// a row it already shows.
pub async fn changes(
    conn: &mut PgConnection,
    f: &Filter,
    since: DateTime<Utc>,
) -> Result<(Vec<PayoutRow>, DateTime<Utc>), sqlx::Error> {
    let mut qb = QueryBuilder::new(ROW);
    push_filter(&mut qb, f, "d");
    qb.push(" and d.updated_at > ")
        .push_bind(since - Duration::seconds(CHANGES_OVERLAP_SECS))
        .push(" order by d.updated_at asc, d.id asc limit ")
        .push_bind(CHANGES_LIMIT);
    let rows: Vec<PayoutRow> = qb.build_query_as().fetch_all(conn).await?;
    let cursor = rows.iter().map(|r| r.updated_at).max().map_or(since, |m| m.max(since));
    Ok((masked(rows), cursor))
}

/// One MoMo attempt and what MoMo answered (the callback secret never leaves the table).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = PayoutAttempt)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub id: Uuid,
    pub attempt_no: i32,
    pub reference_id: Uuid,
    pub status: crate::disbursement::state::AttemptStatus,
    pub http_status: Option<i32>,
    pub error_class: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub financial_transaction_id: Option<String>,
    pub momo_status: Option<String>,
    pub momo_reason: Option<String>,
    pub response: Option<Value>,
    pub polls: i32,
    pub callback_count: i32,
    pub last_callback_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// The redemption behind a payout.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedemptionInfo {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub phone_number: String,
    pub amount: i64,
    pub currency: String,
    pub status: crate::redemption::lifecycle::RedemptionStatus,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub ussd_session_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub promo_code_id: Uuid,
    pub code: String,
    pub code_status: crate::codes::lifecycle::CodeStatus,
    pub batch_id: Uuid,
    pub batch_number: i64,
    pub batch_name: String,
}

/// A reversal request with the names of the people involved.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReversalView {
    pub id: Uuid,
    pub status: crate::disbursement::state::ReversalStatus,
    pub reason: String,
    pub requested_by_user_id: Uuid,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub decided_by_user_id: Option<Uuid>,
    pub decided_by: Option<String>,
    pub decision_note: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// One audit row about the payout or its redemption.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = PayoutHistoryEntry)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub action: String,
    pub actor: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub metadata: Value,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = DisbursementDetail)]
#[serde(rename_all = "camelCase")]
pub struct Detail {
    pub disbursement: Disbursement,
    pub approved_by: Option<String>,
    pub redemption: RedemptionInfo,
    pub attempts: Vec<Attempt>,
    pub reversals: Vec<ReversalView>,
    /// The payout's confirmation SMS and what Africa's Talking last reported of it.
    pub confirmation_sms: Option<crate::alerts::sms_delivery::SmsView>,
}

pub(crate) async fn redemption_info(conn: &mut PgConnection, id: Uuid) -> Result<RedemptionInfo, AppError> {
    let mut r: RedemptionInfo = sqlx::query_as(
        "select r.id, r.customer_id, r.phone_number, r.amount, r.currency, r.status, r.error_code, r.error_message, \
           r.ussd_session_id, r.created_at, r.completed_at, r.promo_code_id, c.code, c.status as code_status, \
           b.id as batch_id, b.batch_number, b.name as batch_name \
         from redemptions r join promo_codes c on c.id = r.promo_code_id join batches b on b.id = r.batch_id \
         where r.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound("redemption"))?;
    r.code = mask_code(&r.code);
    Ok(r)
}

pub(crate) async fn reversals(conn: &mut PgConnection, redemption_id: Uuid) -> Result<Vec<ReversalView>, sqlx::Error> {
    sqlx::query_as(
        "select v.id, v.status, v.reason, v.requested_by_user_id, \
           coalesce(nullif(q.full_name, ''), q.email::text, '?') as requested_by, v.created_at, \
           v.decided_by_user_id, coalesce(nullif(w.full_name, ''), w.email::text) as decided_by, v.decision_note, \
           v.decided_at \
         from redemption_reversals v join users q on q.id = v.requested_by_user_id \
         left join users w on w.id = v.decided_by_user_id \
         where v.redemption_id = $1 order by v.created_at",
    )
    .bind(redemption_id)
    .fetch_all(conn)
    .await
}

pub async fn detail(conn: &mut PgConnection, id: Uuid) -> Result<Detail, AppError> {
    let disbursement = super::get(conn, id).await?;
    let approved_by: Option<String> = match disbursement.approved_by_user_id {
        Some(u) => sqlx::query_scalar("select coalesce(nullif(full_name, ''), email::text) from users where id = $1")
            .bind(u)
            .fetch_optional(&mut *conn)
            .await?
            .flatten(),
        None => None,
    };
    let redemption = redemption_info(conn, disbursement.redemption_id).await?;
    let attempts = sqlx::query_as(
        "select id, attempt_no, reference_id, status, http_status, error_class, error_code, error_message, \
           financial_transaction_id, momo_status, momo_reason, response, polls, callback_count, last_callback_at, \
           created_at, sent_at, resolved_at \
         from disbursement_attempts where disbursement_id = $1 order by attempt_no",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let reversals = reversals(conn, disbursement.redemption_id).await?;
    let confirmation_sms = crate::alerts::sms_delivery::for_redemption(conn, disbursement.redemption_id).await?;
    Ok(Detail {
        disbursement,
        approved_by,
        redemption,
        attempts,
        reversals,
        confirmation_sms,
    })
}

/// The audit rows about a payout and its redemption, oldest first.
pub async fn history(
    conn: &mut PgConnection,
    disbursement_id: Uuid,
    redemption_id: Uuid,
) -> Result<Vec<HistoryEntry>, sqlx::Error> {
    sqlx::query_as(
        "select a.created_at as at, a.action, \
           case a.actor_type when 'system' then 'system' when 'customer' then 'customer' \
             else coalesce(nullif(u.full_name, ''), u.email::text, a.actor_type) end as actor, \
           a.before, a.after, a.metadata \
         from audit_logs a left join users u on u.id = a.actor_user_id \
         where (a.entity_type = 'disbursement' and a.entity_id = $1) \
            or (a.entity_type = 'redemption' and a.entity_id = $2) \
         order by a.seq limit 500",
    )
    .bind(disbursement_id.to_string())
    .bind(redemption_id.to_string())
    .fetch_all(conn)
    .await
}
