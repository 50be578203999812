//! Read models for the API and pages: runs with their progress, counts per kind, the item list
//! with filters, one item's three-way view, statements, and the results as CSV.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use super::model::Kind;
use crate::error::AppError;

/// A run as pages and the API show it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunView {
    pub id: Uuid,
    pub status: crate::disbursement::reconcile::service::RunStatus,
    pub source: String,
    pub trigger: String,
    pub period_from: DateTime<Utc>,
    pub period_to: DateTime<Utc>,
    pub statement_id: Option<Uuid>,
    pub statement_file_name: Option<String>,
    pub query_momo: bool,
    pub checked_count: i32,
    pub discrepancy_count: i32,
    pub queries_made: i32,
    /// Items per kind, as the run counted them (`{kind: count}`).
    pub counts: Value,
    pub error: Option<String>,
    pub started_by: Option<String>,
    pub job_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

const RUN_COLUMNS: &str = "r.id, r.status, r.source, r.trigger, r.period_from, r.period_to, r.statement_id, \
     s.file_name as statement_file_name, r.query_momo, r.checked_count, r.discrepancy_count, r.queries_made, \
     r.counts, r.error, coalesce(nullif(u.full_name, ''), u.email::text) as started_by, r.job_id, r.created_at, \
     r.started_at, r.finished_at";

const RUN_FROM: &str = "from reconciliation_runs r left join reconciliation_statements s on s.id = r.statement_id \
     left join users u on u.id = r.started_by_user_id";

/// A list's keyset position: the last row shown, by `(created_at, id)`.
pub type After = (DateTime<Utc>, Uuid);

/// Runs newest first, after the position `after` (the last run of the previous page).
pub async fn runs(conn: &mut PgConnection, after: Option<After>, limit: i64) -> Result<Vec<RunView>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {RUN_COLUMNS} {RUN_FROM} where $1::timestamptz is null or (r.created_at, r.id) < ($1, $2) \
         order by r.created_at desc, r.id desc limit $3"
    ))
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn run(conn: &mut PgConnection, id: Uuid) -> Result<RunView, AppError> {
    sqlx::query_as(&format!("select {RUN_COLUMNS} {RUN_FROM} where r.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("reconciliation run"))
}

/// Items per kind (all, open) in a run, gravest kind first, every kind listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KindCount {
    pub kind: Kind,
    pub label: &'static str,
    pub count: i64,
    pub open: i64,
}

pub async fn kind_counts(conn: &mut PgConnection, run_id: Uuid) -> Result<Vec<KindCount>, sqlx::Error> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "select kind, count(*), count(*) filter (where resolved_at is null) from reconciliation_items \
         where run_id = $1 group by kind",
    )
    .bind(run_id)
    .fetch_all(conn)
    .await?;
    Ok(Kind::ALL
        .iter()
        .map(|k| {
            let (count, open) = rows
                .iter()
                .find(|(name, _, _)| name == k.as_str())
                .map_or((0, 0), |(_, c, o)| (*c, *o));
            KindCount {
                kind: *k,
                label: k.label(),
                count,
                open: if *k == Kind::Match { 0 } else { open },
            }
        })
        .collect())
}

/// Which items to list.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    /// One kind; `None` lists every discrepancy (everything but matches) unless `all`.
    pub kind: Option<Kind>,
    pub all: bool,
    /// `open`, `resolved`, or anything else for both.
    pub state: Option<String>,
    /// Part of a phone number, a reference, a disbursement id or MoMo transaction id.
    pub q: Option<String>,
}

impl ItemFilter {
    /// From query parameters: `kind` (a kind, `discrepancies` or `all`), `state`, `q`.
    pub fn parse(kind: Option<&str>, state: Option<&str>, q: Option<&str>) -> Result<Self, AppError> {
        let mut f = ItemFilter {
            state: state.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned),
            // phone numbers are kept without `+`
            q: q.map(|s| s.trim().trim_start_matches('+'))
                .filter(|s| !s.is_empty())
                .map(|s| s.chars().take(100).collect()),
            ..Self::default()
        };
        match kind.map(str::trim).filter(|s| !s.is_empty()) {
            None | Some("discrepancies") => {}
            Some("all") => f.all = true,
            Some(k) => {
                f.kind = Some(Kind::parse(k).ok_or_else(|| {
                    AppError::field("kind", "must be one of the item kinds, `discrepancies` or `all`")
                })?)
            }
        }
        if let Some(s) = &f.state {
            if !matches!(s.as_str(), "open" | "resolved" | "any") {
                return Err(AppError::field("state", "must be open, resolved or any"));
            }
        }
        Ok(f)
    }

    fn push_where(&self, qb: &mut QueryBuilder<'_, sqlx::Postgres>, run_id: Uuid) {
        qb.push(" where i.run_id = ").push_bind(run_id);
        match (self.kind, self.all) {
            (Some(k), _) => {
                qb.push(" and i.kind = ").push_bind(k.as_str());
            }
            (None, false) => {
                qb.push(" and i.kind <> 'match'");
            }
            (None, true) => {}
        }
        match self.state.as_deref() {
            Some("open") => {
                qb.push(" and i.resolved_at is null");
            }
            Some("resolved") => {
                qb.push(" and i.resolved_at is not null");
            }
            _ => {}
        }
        if let Some(q) = &self.q {
            let like = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            qb.push(" and (i.msisdn like ")
                .push_bind(like.clone())
                .push(" or i.reference_id::text like ")
                .push_bind(like.to_lowercase())
                .push(" or i.disbursement_id::text like ")
                .push_bind(like.to_lowercase())
                .push(" or i.theirs->'momo'->>'financialTransactionId' like ")
                .push_bind(like)
                .push(")");
        }
    }
}

/// One line of the item list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemLine {
    pub id: Uuid,
    pub run_id: Uuid,
    #[schema(value_type = Kind)]
    pub kind: String,
    pub disbursement_id: Option<Uuid>,
    pub redemption_id: Option<Uuid>,
    pub reference_id: Option<Uuid>,
    pub amount: Option<i64>,
    pub msisdn: Option<String>,
    pub our_status: Option<String>,
    pub momo_status: Option<String>,
    pub momo_amount: Option<String>,
    pub momo_transaction_id: Option<String>,
    pub statement_line: Option<i32>,
    pub summary: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
    pub created_at: DateTime<Utc>,
}

const ITEM_COLUMNS: &str = "i.id, i.run_id, i.kind, i.disbursement_id, i.redemption_id, i.reference_id, i.amount, i.msisdn, \
     i.ours->'disbursement'->>'status' as our_status, i.theirs->'momo'->>'status' as momo_status, \
     i.theirs->'momo'->>'amountText' as momo_amount, \
     coalesce(i.theirs->'momo'->>'financialTransactionId', i.ours->'disbursement'->>'momoTransactionId') as momo_transaction_id, \
     i.statement_line, i.findings->0->>'message' as summary, i.resolved_at, i.resolution, i.created_at";

/// A page of items, gravest kind first, and how many match the filter.
pub async fn items(
    conn: &mut PgConnection,
    run_id: Uuid,
    filter: &ItemFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ItemLine>, i64), sqlx::Error> {
    let mut count = QueryBuilder::new("select count(*) from reconciliation_items i");
    filter.push_where(&mut count, run_id);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    let mut qb = QueryBuilder::new(format!("select {ITEM_COLUMNS} from reconciliation_items i"));
    filter.push_where(&mut qb, run_id);
    qb.push(" order by ")
        .push(kind_order("i.kind"))
        .push(", i.created_at, i.id");
    qb.push(" limit ").push_bind(limit).push(" offset ").push_bind(offset);
    let rows = qb.build_query_as().fetch_all(&mut *conn).await?;
    Ok((rows, total))
}

/// An item list's keyset position: the last item shown, by (gravity, `created_at`, id).
pub type ItemAfter = (i32, DateTime<Utc>, Uuid);

/// The position of `item` in its list.
pub fn item_key(item: &ItemLine) -> ItemAfter {
    let rank = Kind::parse(&item.kind).map_or(99, Kind::rank) as i32;
    (rank, item.created_at, item.id)
}

/// Up to `limit` items after `after`, gravest kind first (the API's keyset pages).
pub async fn items_after(
    conn: &mut PgConnection,
    run_id: Uuid,
    filter: &ItemFilter,
    after: Option<ItemAfter>,
    limit: i64,
) -> Result<Vec<ItemLine>, sqlx::Error> {
    let mut qb = QueryBuilder::new(format!("select {ITEM_COLUMNS} from reconciliation_items i"));
    filter.push_where(&mut qb, run_id);
    if let Some((rank, at, id)) = after {
        qb.push(format!(" and ({}, i.created_at, i.id) > (", kind_order("i.kind")))
            .push_bind(rank)
            .push(", ")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    qb.push(" order by ")
        .push(kind_order("i.kind"))
        .push(", i.created_at, i.id limit ")
        .push_bind(limit);
    qb.build_query_as().fetch_all(conn).await
}

/// `case kind when … then 0 … end`: the gravest kind first.
fn kind_order(column: &str) -> String {
    let arms: String = Kind::ALL
        .iter()
        .map(|k| format!(" when '{}' then {}", k.as_str(), k.rank()))
        .collect();
    format!("case {column}{arms} else 99 end")
}

/// One item with everything the three-way view shows.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemDetail {
    pub id: Uuid,
    pub run_id: Uuid,
    pub run_status: crate::disbursement::reconcile::service::RunStatus,
    #[schema(value_type = Kind)]
    pub kind: String,
    pub disbursement_id: Option<Uuid>,
    pub redemption_id: Option<Uuid>,
    pub reference_id: Option<Uuid>,
    pub amount: Option<i64>,
    pub msisdn: Option<String>,
    pub statement_line: Option<i32>,
    /// Our records of the payout (disbursement, redemption) as the run read them.
    pub ours: Option<Value>,
    /// MoMo's side (its status answer, the statement line).
    pub theirs: Option<Value>,
    /// What the comparison found, gravest first (`[{kind, message, …}]`).
    pub findings: Value,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn item(conn: &mut PgConnection, id: Uuid) -> Result<ItemDetail, AppError> {
    sqlx::query_as(
        "select i.id, i.run_id, r.status as run_status, i.kind, i.disbursement_id, i.redemption_id, i.reference_id, \
           i.amount, i.msisdn, i.statement_line, i.ours, i.theirs, i.findings, i.resolved_at, i.resolution, \
           coalesce(nullif(u.full_name, ''), u.email::text) as resolved_by, i.created_at \
         from reconciliation_items i join reconciliation_runs r on r.id = i.run_id \
         left join users u on u.id = i.resolved_by_user_id where i.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound("reconciliation item"))
}

/// A stored statement.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatementView {
    pub id: Uuid,
    pub file_name: String,
    pub layout: String,
    pub sha256: String,
    pub line_count: i32,
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
    pub uploaded_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

const STATEMENT_SELECT: &str = "select s.id, s.file_name, s.layout, s.sha256, s.line_count, s.first_at, s.last_at, \
     coalesce(nullif(u.full_name, ''), u.email::text) as uploaded_by, s.created_at \
     from reconciliation_statements s left join users u on u.id = s.uploaded_by_user_id";

pub async fn statement(conn: &mut PgConnection, id: Uuid) -> Result<StatementView, AppError> {
    sqlx::query_as(&format!("{STATEMENT_SELECT} where s.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("statement"))
}

/// Statements newest first, after the position `after` (the last one of the previous page).
pub async fn statements(
    conn: &mut PgConnection,
    after: Option<After>,
    limit: i64,
) -> Result<Vec<StatementView>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{STATEMENT_SELECT} where $1::timestamptz is null or (s.created_at, s.id) < ($1, $2) \
         order by s.created_at desc, s.id desc limit $3"
    ))
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The CSV's columns.
pub const CSV_HEADER: [&str; 18] = [
    "kind",
    "item_id",
    "disbursement_id",
    "redemption_id",
    "reference_id",
    "msisdn",
    "our_amount",
    "our_status",
    "redemption_status",
    "momo_status",
    "momo_amount",
    "momo_financial_transaction_id",
    "our_financial_transaction_id",
    "statement_line",
    "findings",
    "resolved_at",
    "resolved_by",
    "resolution",
];

#[derive(sqlx::FromRow)]
struct CsvRow {
    kind: String,
    id: Uuid,
    disbursement_id: Option<Uuid>,
    redemption_id: Option<Uuid>,
    reference_id: Option<Uuid>,
    msisdn: Option<String>,
    amount: Option<i64>,
    our_status: Option<String>,
    redemption_status: Option<String>,
    momo_status: Option<String>,
    momo_amount: Option<String>,
    momo_ftid: Option<String>,
    our_ftid: Option<String>,
    statement_line: Option<i32>,
    findings: Option<String>,
    resolved_at: Option<DateTime<Utc>>,
    resolved_by: Option<String>,
    resolution: Option<String>,
}

/// Streams a run's items (every kind, matches included, gravest first) as CSV chunks into `tx`.
pub async fn write_csv(
    pool: PgPool,
    run_id: Uuid,
    tx: tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
) -> Result<(), anyhow::Error> {
    use futures::StreamExt;
    let mut w = crate::csv_out::CsvOut::new();
    w.row(CSV_HEADER)?;
    let sql = format!(
        "select i.kind, i.id, i.disbursement_id, i.redemption_id, i.reference_id, i.msisdn, i.amount, \
           i.ours->'disbursement'->>'status' as our_status, i.ours->'redemption'->>'status' as redemption_status, \
           i.theirs->'momo'->>'status' as momo_status, i.theirs->'momo'->>'amountText' as momo_amount, \
           i.theirs->'momo'->>'financialTransactionId' as momo_ftid, \
           i.ours->'disbursement'->>'momoTransactionId' as our_ftid, i.statement_line, \
           (select string_agg(f->>'message', ' | ') from jsonb_array_elements(i.findings) f) as findings, \
           i.resolved_at, coalesce(nullif(u.full_name, ''), u.email::text) as resolved_by, i.resolution \
         from reconciliation_items i left join users u on u.id = i.resolved_by_user_id \
         where i.run_id = $1 order by {}, i.created_at, i.id",
        kind_order("i.kind")
    );
    let mut conn = pool.acquire().await?;
    let mut rows = sqlx::query_as::<_, CsvRow>(&sql).bind(run_id).fetch(&mut *conn);
    let opt = |v: Option<String>| v.unwrap_or_default();
    let id = |v: Option<Uuid>| v.map(|u| u.to_string()).unwrap_or_default();
    let mut n = 0usize;
    while let Some(r) = rows.next().await {
        let r = r?;
        w.row([
            r.kind,
            r.id.to_string(),
            id(r.disbursement_id),
            id(r.redemption_id),
            id(r.reference_id),
            opt(r.msisdn),
            r.amount.map(|a| a.to_string()).unwrap_or_default(),
            opt(r.our_status),
            opt(r.redemption_status),
            opt(r.momo_status),
            opt(r.momo_amount),
            opt(r.momo_ftid),
            opt(r.our_ftid),
            r.statement_line.map(|l| l.to_string()).unwrap_or_default(),
            opt(r.findings),
            r.resolved_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            opt(r.resolved_by),
            opt(r.resolution),
        ])?;
        n += 1;
        if n % 500 == 0 {
            let chunk = w.take()?;
            if tx.send(Ok(chunk.into())).await.is_err() {
                return Ok(());
            }
        }
    }
    let _ = tx.send(Ok(w.take()?.into())).await;
    Ok(())
}
