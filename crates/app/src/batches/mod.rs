//! Batches: a campaign's codes, their amount and expiry. Create (and queue generation in the
//! same transaction), list, read with statistics, edit, assign, change status.
//!
//! Owns `batches`.

pub mod api;
mod chart;
pub mod lifecycle;
mod list;
pub mod ops;
mod ops_api;
mod ops_pages;
pub mod pages;
pub mod refresh;
pub mod topup;

pub use lifecycle::BatchStatus;
pub use list::{list, Filter};
pub use refresh::refresh_status;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, Action};
use crate::clock::kigali;
use crate::error::{on_constraint, AppError, FieldError};
use crate::jobs::{self, NewJob};
use crate::settings::Settings;
use crate::unit::Acting;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Batch {
    pub id: Uuid,
    pub batch_number: i64,
    pub name: String,
    pub description: String,
    pub total_codes: i32,
    pub amount_per_code: i64,
    pub currency: String,
    pub expiration_date: DateTime<Utc>,
    pub assigned_user_id: Option<Uuid>,
    pub created_by_user_id: Option<Uuid>,
    pub status: BatchStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, batch_number, name, description, total_codes, amount_per_code, currency, expiration_date, \
     assigned_user_id, created_by_user_id, status, created_at, updated_at";

/// What an expiry that [`parse_expiry`] cannot read is told.
pub const EXPIRY_FORMAT: &str = "must be a date such as 2027-03-31";

/// A date (`2027-03-31`, the end of that day in Kigali) or an RFC 3339 instant.
pub fn parse_expiry(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    d.and_hms_opt(23, 59, 59)?
        .and_local_timezone(kigali())
        .single()
        .map(|t| t.with_timezone(&Utc))
}

#[derive(Debug, Clone)]
pub struct NewBatch {
    pub name: String,
    pub description: String,
    pub total_codes: i64,
    pub amount_per_code: i64,
    /// Empty: the settings' default expiry ([`default_expiry`]).
    pub expires_at: String,
    pub assigned_user_id: Option<Uuid>,
    pub generate: bool,
}

/// The expiry a new batch gets when none is given: settings
/// `business.expiration.defaultExpirationDays` from today, as a Kigali date (`2027-03-31`, the
/// end of that day).
pub fn default_expiry(s: &Settings, now: DateTime<Utc>) -> String {
    let days = i64::from(s.business.expiration.default_expiration_days);
    (now.with_timezone(&kigali()) + Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// Validates a batch's fields against the settings; all problems at once. Edits
/// ([`ops::update`]) run the same per-field checks on the fields they change.
fn validate(b: &NewBatch, s: &Settings, now: DateTime<Utc>) -> Result<DateTime<Utc>, AppError> {
    let mut errors = Vec::new();
    check_name(&b.name, &mut errors);
    check_description(&b.description, &mut errors);
    let max = i64::from(s.business.batch_management.max_codes_per_batch);
    if !(1..=max).contains(&b.total_codes) {
        errors.push(FieldError::new("totalCodes", format!("must be from 1 to {max}")));
    }
    check_amount(b.amount_per_code, s, &mut errors);
    let expires_at = match b.expires_at.trim() {
        "" => default_expiry(s, now),
        given => given.to_owned(),
    };
    let expiry = check_expiry(&expires_at, s, now, &mut errors);
    match (errors.is_empty(), expiry) {
        (true, Some(t)) => Ok(t),
        _ => Err(AppError::Validation(errors)),
    }
}

fn check_name(name: &str, errors: &mut Vec<FieldError>) {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        errors.push(FieldError::new("name", "must be 1 to 120 characters"));
    }
}

fn check_description(description: &str, errors: &mut Vec<FieldError>) {
    if description.chars().count() > 1000 {
        errors.push(FieldError::new("description", "must be at most 1000 characters"));
    }
}

fn check_amount(amount: i64, s: &Settings, errors: &mut Vec<FieldError>) {
    if let Some(m) = amount_problem(amount, s) {
        errors.push(FieldError::new("amountPerCode", m));
    }
}

/// What is wrong with an amount a code would carry, by the payment settings' bounds (the rule of
/// a batch's amount per code, and of one code's amount: `codes::edit`).
pub(crate) fn amount_problem(amount: i64, s: &Settings) -> Option<String> {
    let (min_a, max_a) = (s.payments.min_amount, s.payments.max_amount);
    (!(min_a..=max_a).contains(&amount)).then(|| format!("must be whole francs from {min_a} to {max_a}"))
}

/// What is wrong with an expiry: it must be in the future, within the settings' minimum and
/// maximum days (the rule of a batch's expiry, and of one code's: `codes::edit`).
pub(crate) fn expiry_problem(t: DateTime<Utc>, s: &Settings, now: DateTime<Utc>) -> Option<String> {
    let e = &s.business.expiration;
    if t <= now {
        Some("must be in the future".to_owned())
    } else if t > now + Duration::days(i64::from(e.max_expiration_days)) {
        Some(format!("must be within {} days", e.max_expiration_days))
    } else if t < now + Duration::days(i64::from(e.min_expiration_days)) {
        Some(format!("must be at least {} day(s) away", e.min_expiration_days))
    } else {
        None
    }
}

/// The expiry, when it is a date in the future within the settings' minimum and maximum days.
fn check_expiry(
    expires_at: &str,
    s: &Settings,
    now: DateTime<Utc>,
    errors: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    match parse_expiry(expires_at) {
        None => errors.push(FieldError::new("expiresAt", EXPIRY_FORMAT)),
        Some(t) => match expiry_problem(t, s, now) {
            Some(m) => errors.push(FieldError::new("expiresAt", m)),
            None => return Some(t),
        },
    }
    None
}

/// An assignee must be an active, approved staff member who may manage batches.
async fn check_assignee(conn: &mut PgConnection, user: Option<Uuid>, field: &str) -> Result<(), AppError> {
    let Some(user) = user else { return Ok(()) };
    let perms = crate::access::effective_permissions(conn, user).await?;
    if !perms.contains(&crate::access::Permission::BatchesUpdate) {
        return Err(AppError::field(
            field,
            "must be an active staff member who may manage batches",
        ));
    }
    Ok(())
}

/// Settings `business.batchManagement.maxBatchesPerUser` (0 = no limit): the open batches
/// (active or blocked) one person has created. Creations by one person queue on a lock, so two at
/// once cannot both take the last place.
async fn check_batches_per_user(conn: &mut PgConnection, creator: Uuid, max: u32) -> Result<(), AppError> {
    if max == 0 {
        return Ok(());
    }
    sqlx::query("select pg_advisory_xact_lock(hashtextextended('batches.create:' || $1::text, 0))")
        .bind(creator)
        .execute(&mut *conn)
        .await?;
    let open: i64 = sqlx::query_scalar(
        "select count(*) from batches where created_by_user_id = $1 and status in ('active', 'blocked')",
    )
    .bind(creator)
    .fetch_one(&mut *conn)
    .await?;
    if open >= i64::from(max) {
        return Err(AppError::field(
            "business.batchManagement.maxBatchesPerUser",
            format!(
                "you already have {open} open batches, the most one person may have (settings: maximum batches per \
                 user {max}); complete or expire one first"
            ),
        ));
    }
    Ok(())
}

fn name_taken(e: sqlx::Error) -> AppError {
    on_constraint(
        e,
        &[("batches_name_key", || {
            AppError::conflict("name", "a batch with this name already exists")
        })],
    )
}

/// Creates a batch and, when asked, queues the generation of its codes in the same transaction.
pub async fn create(
    conn: &mut PgConnection,
    s: &Settings,
    new: &NewBatch,
    acting: &Acting,
) -> Result<(Batch, Option<i64>), AppError> {
    let (actor, now) = (acting.actor, acting.now);
    let expiry = validate(new, s, now)?;
    check_assignee(conn, new.assigned_user_id, "assignedUserId").await?;
    let management = &s.business.batch_management;
    if let Some(creator) = actor.user_id() {
        check_batches_per_user(conn, creator, management.max_batches_per_user).await?;
    }
    // nobody named: with auto-assign on, the creator answers for the batch (when they may manage it)
    let assignee = match (new.assigned_user_id, actor.user_id()) {
        (None, Some(creator)) if management.auto_assign_enabled => {
            let perms = crate::access::effective_permissions(conn, creator).await?;
            perms
                .contains(&crate::access::Permission::BatchesUpdate)
                .then_some(creator)
        }
        (given, _) => given,
    };
    let batch: Batch = sqlx::query_as(&format!(
        "insert into batches (name, description, total_codes, amount_per_code, currency, expiration_date, assigned_user_id, \
           created_by_user_id, status, created_at, updated_at, check_character) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $9, $10) returning {COLUMNS}"
    ))
    .bind(new.name.trim())
    .bind(new.description.trim())
    .bind(new.total_codes as i32)
    .bind(new.amount_per_code)
    .bind(&s.payments.currency)
    .bind(expiry)
    .bind(assignee)
    .bind(actor.user_id())
    .bind(now)
    // whether its codes carry a check character is decided now, once (issue 17, item 12)
    .bind(s.business.code_generation.include_checksum)
    .fetch_one(&mut *conn)
    .await
    .map_err(name_taken)?;
    audit::record(
        conn,
        &acting
            .audit(Action::BatchCreated, "batch", batch.id)
            .after(json!(batch)),
        now,
    )
    .await?;
    let job = if new.generate {
        let payload = crate::codes::generate::GenerateJob {
            batch_id: batch.id,
            count: new.total_codes,
            requested_by: actor.user_id(),
            until_count: Some(new.total_codes),
        };
        let job = NewJob::new(crate::codes::generate::KIND, &payload)
            .map_err(|e| AppError::Internal(e.into()))?
            .unique(batch.id.to_string())
            .max_attempts(3)
            .created_by(actor.user_id());
        jobs::enqueue(conn, &job, now).await?
    } else {
        None
    };
    Ok((batch, job))
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Batch, AppError> {
    sqlx::query_as(&format!("select {COLUMNS} from batches where id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("batch"))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BatchStats)]
pub struct Stats {
    pub codes: i64,
    pub active: i64,
    pub used: i64,
    pub redeemed: i64,
    pub expired: i64,
    pub blocked: i64,
    pub reported: i64,
    pub redemption_rate: f64,
    /// Sum of the amounts of redeemed codes (paid out).
    pub amount_paid: i64,
    /// Sum of the amounts of used codes (accepted, payout not yet confirmed).
    pub amount_pending: i64,
    /// Redemptions per day (Kigali), from the batch's first day or 30 days ago, up to today.
    #[sqlx(skip)]
    pub redemptions_by_day: Vec<DayCount>,
}

/// Redemptions accepted on one day (Africa/Kigali).
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BatchDayCount)]
pub struct DayCount {
    pub day: NaiveDate,
    pub redemptions: i64,
    pub amount: i64,
}

/// How many days the redemption chart covers at most.
pub const CHART_DAYS: i64 = 30;

pub async fn stats(conn: &mut PgConnection, id: Uuid, now: DateTime<Utc>) -> Result<Stats, AppError> {
    let batch = get(conn, id).await?;
    let mut stats: Stats = sqlx::query_as(
        // from the per-statement deltas (migration 11, decision 0011), not the codes themselves
        "select coalesce(sum(codes), 0)::int8 as codes, \
           coalesce(sum(codes) filter (where status = 'active'), 0)::int8 as active, \
           coalesce(sum(codes) filter (where status = 'used'), 0)::int8 as used, \
           coalesce(sum(codes) filter (where status = 'redeemed'), 0)::int8 as redeemed, \
           coalesce(sum(codes) filter (where status = 'expired'), 0)::int8 as expired, \
           coalesce(sum(codes) filter (where status = 'blocked'), 0)::int8 as blocked, \
           coalesce(sum(codes) filter (where status = 'reported'), 0)::int8 as reported, \
           coalesce((sum(codes) filter (where status in ('used', 'redeemed')))::float8 / nullif(sum(codes), 0), 0) \
             as redemption_rate, \
           coalesce(sum(amount) filter (where status = 'redeemed'), 0)::int8 as amount_paid, \
           coalesce(sum(amount) filter (where status = 'used'), 0)::int8 as amount_pending \
         from batch_code_counts where batch_id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    stats.redemptions_by_day = redemptions_by_day(conn, &batch, now).await?;
    Ok(stats)
}

/// One row per day from the batch's first day (at most [`CHART_DAYS`] ago) to today, in Kigali:
/// codes accepted for redemption that day (`used_at`, else `redeemed_at`) that are still used or
/// redeemed, and their amount.
pub async fn redemptions_by_day(
    conn: &mut PgConnection,
    batch: &Batch,
    now: DateTime<Utc>,
) -> Result<Vec<DayCount>, sqlx::Error> {
    let today = now.with_timezone(&kigali()).date_naive();
    let born = batch.created_at.with_timezone(&kigali()).date_naive();
    let first = born.max(today - Duration::days(CHART_DAYS - 1)).min(today);
    let since = first
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(kigali()).single())
        .map_or(now - Duration::days(CHART_DAYS), |t| t.with_timezone(&Utc));
    sqlx::query_as(
        "with r as ( \
           select (coalesce(used_at, redeemed_at) at time zone 'Africa/Kigali')::date as day, count(*) as n, sum(amount) as amount \
           from promo_codes where batch_id = $1 and status in ('used', 'redeemed') and coalesce(used_at, redeemed_at) >= $4 \
           group by 1) \
         select d::date as day, coalesce(r.n, 0)::int8 as redemptions, coalesce(r.amount, 0)::int8 as amount \
         from generate_series($2::date, $3::date, interval '1 day') d left join r on r.day = d::date order by d",
    )
    .bind(batch.id)
    .bind(first)
    .bind(today)
    .bind(since)
    .fetch_all(conn)
    .await
}

/// Changes a batch's status by hand ([`lifecycle::set_by_staff`]). An expired batch stays
/// expired, and a batch is completed only when none of its codes can still be redeemed.
pub async fn set_status(conn: &mut PgConnection, id: Uuid, status: &str, acting: &Acting) -> Result<Batch, AppError> {
    let Some(to) = BatchStatus::parse(status) else {
        return Err(AppError::field(
            "status",
            "must be active, blocked, expired or completed",
        ));
    };
    lifecycle::set_by_staff(conn, id, to, acting).await
}

/// One download of a batch's codes (chain of custody).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BatchDownload)]
pub struct Download {
    pub format: String,
    pub codes: i32,
    pub serial_from: Option<i32>,
    pub serial_to: Option<i32>,
    pub at: DateTime<Utc>,
    pub by: Option<String>,
}

pub async fn downloads(conn: &mut PgConnection, batch_id: Uuid) -> Result<Vec<Download>, sqlx::Error> {
    sqlx::query_as(
        "select d.format, d.code_count as codes, d.serial_from, d.serial_to, d.created_at as at, u.email::text as by \
         from code_downloads d left join users u on u.id = d.user_id where d.batch_id = $1 order by d.created_at desc limit 100",
    )
    .bind(batch_id)
    .fetch_all(conn)
    .await
}

/// Folds the count deltas of batches that have gathered `more_than` rows into one row per status
/// (the refresh job calls it). Rows added meanwhile are not seen by the delete, so no count is lost.
pub async fn compact_counts(conn: &mut PgConnection, more_than: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "with busy as (select batch_id from batch_code_counts group by batch_id having count(*) > $1), \
         gone as (delete from batch_code_counts c using busy where c.batch_id = busy.batch_id returning c.*) \
         insert into batch_code_counts (batch_id, status, codes, amount) \
         select batch_id, status, sum(codes), sum(amount) from gone group by batch_id, status \
         having sum(codes) <> 0 or sum(amount) <> 0",
    )
    .bind(more_than)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}
