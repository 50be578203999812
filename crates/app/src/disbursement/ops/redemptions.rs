//! What staff read about redemptions: the filtered list (each with its payout's state), one
//! redemption with its customer, code, payout and reversal requests, and counts over a period.
//! Codes are masked before they leave this module.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{PgConnection, QueryBuilder};
use uuid::Uuid;

use super::query::{Filter, Keyset, Page, RowKey, Sort};
use super::views::{push_filter, redemption_info, reversals, RedemptionInfo, ReversalView};
use crate::error::AppError;
use crate::ussd::views::{mask_code, Horizon};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct RedemptionRow {
    pub id: Uuid,
    pub phone_number: String,
    pub amount: i64,
    pub currency: String,
    pub status: crate::redemption::lifecycle::RedemptionStatus,
    pub error_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub code: String,
    pub promo_code_id: Uuid,
    pub batch_id: Uuid,
    pub batch_number: i64,
    pub batch_name: String,
    pub disbursement_id: Option<Uuid>,
    pub disbursement_status: Option<String>,
    pub momo_transaction_id: Option<String>,
}

impl RedemptionRow {
    fn key(&self) -> RowKey<'_> {
        RowKey {
            id: self.id,
            created_at: self.created_at,
            updated_at: self.created_at,
            amount: self.amount,
            status: self.status.as_str(),
        }
    }
}

pub(crate) const ROW: &str =
    "select r.id, r.phone_number, r.amount, r.currency, r.status, r.error_code, r.created_at, \
     r.completed_at, c.code, r.promo_code_id, b.id as batch_id, b.batch_number, b.name as batch_name, \
     d.id as disbursement_id, d.status as disbursement_status, d.momo_transaction_id \
     from redemptions r join promo_codes c on c.id = r.promo_code_id join batches b on b.id = r.batch_id \
     left join disbursements d on d.redemption_id = r.id";

const COUNT: &str = "select count(*) from redemptions r join promo_codes c on c.id = r.promo_code_id";

/// One keyset page of redemptions (the API's list; `sort` as redemptions have it,
/// [`Sort::of`]) and the cursor of the next, if any.
pub async fn page(
    conn: &mut PgConnection,
    f: &Filter,
    sort: Sort,
    k: &Keyset,
) -> Result<(Vec<RedemptionRow>, Option<String>), sqlx::Error> {
    let mut qb = QueryBuilder::new(ROW);
    push_filter(&mut qb, f, "r");
    if let Some(after) = &k.after {
        after.push_after(&mut qb, "r", sort);
    }
    qb.push(format!(" order by {} limit ", sort.order_by("r")))
        .push_bind(k.fetch());
    let rows: Vec<RedemptionRow> = qb.build_query_as().fetch_all(conn).await?;
    let (mut rows, next) = k.cut(rows, sort, RedemptionRow::key);
    for r in &mut rows {
        r.code = mask_code(&r.code);
    }
    Ok((rows, next))
}

/// One numbered page of redemptions (the panel's list) and how many match in all.
pub async fn list(
    conn: &mut PgConnection,
    f: &Filter,
    sort: Sort,
    page: Page,
) -> Result<(Vec<RedemptionRow>, i64), sqlx::Error> {
    // redemptions have no updated_at: "recently changed" lists the newest
    let sort = if sort == Sort::RecentlyChanged {
        Sort::NewestFirst
    } else {
        sort
    };
    let mut qb = QueryBuilder::new(ROW);
    push_filter(&mut qb, f, "r");
    qb.push(format!(" order by {} limit ", sort.order_by("r")))
        .push_bind(page.per_page)
        .push(" offset ")
        .push_bind(page.offset());
    let mut rows: Vec<RedemptionRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
    for r in &mut rows {
        r.code = mask_code(&r.code);
    }
    let mut count = QueryBuilder::new(COUNT);
    push_filter(&mut count, f, "r");
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    Ok((rows, total))
}

/// Where a live list's polling starts: the transaction horizon (decision 0020), read before the
/// listing it goes with.
pub async fn horizon(conn: &mut PgConnection) -> Result<String, sqlx::Error> {
    Ok(Horizon::now(conn).await?.to_string())
}

/// Most rows one live poll brings, new or refreshed.
pub const LIVE_LIMIT: i64 = 100;

/// What a live list learns on one poll: redemptions matching the filter written since the
/// previous answer's horizon (some may be held already: the page skips them by id), the current
/// state of the rows it still shows open (`held`), and the cursor for the next poll.
pub async fn live(
    conn: &mut PgConnection,
    f: &Filter,
    since: Horizon,
    held: &[Uuid],
) -> Result<(Vec<RedemptionRow>, Vec<RedemptionRow>, String), sqlx::Error> {
    let cursor = Horizon::now(&mut *conn).await?;
    let mut qb = QueryBuilder::new(ROW);
    push_filter(&mut qb, f, "r");
    qb.push(" and r.tx >= ")
        .push_bind(since.0.to_string())
        .push("::xid8 order by r.created_at desc, r.id desc limit ")
        .push_bind(LIVE_LIMIT);
    let mut new: Vec<RedemptionRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let mut qb: QueryBuilder<'_, sqlx::Postgres> = QueryBuilder::new(ROW);
    qb.push(" where r.id = any(")
        .push_bind(held.iter().take(LIVE_LIMIT as usize).copied().collect::<Vec<_>>())
        .push(")");
    let mut updated: Vec<RedemptionRow> = if held.is_empty() {
        Vec::new()
    } else {
        qb.build_query_as().fetch_all(&mut *conn).await?
    };
    for r in new.iter_mut().chain(updated.iter_mut()) {
        r.code = mask_code(&r.code);
    }
    Ok((new, updated, cursor.to_string()))
}

/// The customer who redeemed.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerInfo {
    pub id: Uuid,
    pub msisdn: String,
    pub language: String,
    pub first_seen_at: DateTime<Utc>,
    pub flagged_at: Option<DateTime<Utc>>,
    pub flag_reason: Option<String>,
    pub redemptions: i64,
}

/// The payout of a redemption, in short.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayoutSummary {
    pub id: Uuid,
    pub status: crate::disbursement::state::PayoutStatus,
    pub msisdn: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub momo_transaction_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub disbursed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedemptionDetail {
    pub redemption: RedemptionInfo,
    pub customer: CustomerInfo,
    pub disbursement: Option<PayoutSummary>,
    pub reversals: Vec<ReversalView>,
}

pub async fn detail(conn: &mut PgConnection, id: Uuid) -> Result<RedemptionDetail, AppError> {
    let redemption = redemption_info(conn, id).await?;
    let customer = sqlx::query_as(
        "select c.id, c.msisdn, c.language, c.first_seen_at, c.flagged_at, c.flag_reason, \
           (select count(*) from redemptions x where x.customer_id = c.id) as redemptions \
         from customers c where c.id = $1",
    )
    .bind(redemption.customer_id)
    .fetch_one(&mut *conn)
    .await?;
    let disbursement = sqlx::query_as(
        "select id, status, msisdn, attempts, max_attempts, momo_transaction_id, error_code, error_message, \
           disbursed_at, updated_at from disbursements where redemption_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let reversals = reversals(conn, id).await?;
    Ok(RedemptionDetail {
        redemption,
        customer,
        disbursement,
        reversals,
    })
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = RedemptionStatusCount)]
#[serde(rename_all = "camelCase")]
pub struct Count {
    pub status: crate::redemption::lifecycle::RedemptionStatus,
    pub count: i64,
    /// The francs redeemed (only for readers of payouts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = RedemptionDay)]
#[serde(rename_all = "camelCase")]
pub struct Day {
    pub day: NaiveDate,
    pub count: i64,
    /// The francs redeemed (only for readers of payouts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedemptionStats {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub total: i64,
    pub by_status: Vec<Count>,
    pub per_day: Vec<Day>,
    pub distinct_customers: i64,
}

impl RedemptionStats {
    /// The counts without the amounts (a reader who may not see money flows, decision 0025).
    pub fn without_money(mut self) -> Self {
        self.by_status.iter_mut().for_each(|c| c.amount = None);
        self.per_day.iter_mut().for_each(|d| d.amount = None);
        self
    }
}

pub async fn stats(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<RedemptionStats, sqlx::Error> {
    let by_status: Vec<Count> = sqlx::query_as(
        "select status, count(*) as count, coalesce(sum(amount), 0)::int8 as amount from redemptions \
         where created_at >= $1 and created_at < $2 group by status order by count(*) desc, status",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    let per_day = sqlx::query_as(
        "select (created_at at time zone 'Africa/Kigali')::date as day, count(*) as count, \
           coalesce(sum(amount), 0)::int8 as amount \
         from redemptions where created_at >= $1 and created_at < $2 group by 1 order by 1",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    let distinct_customers: i64 = sqlx::query_scalar(
        "select count(distinct customer_id) from redemptions where created_at >= $1 and created_at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_one(&mut *conn)
    .await?;
    Ok(RedemptionStats {
        from,
        to,
        total: by_status.iter().map(|c| c.count).sum(),
        by_status,
        per_day,
        distinct_customers,
    })
}
