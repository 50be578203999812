//! CSV import of existing codes into a batch.
//!
//! The file has a header row naming a `code` column and optionally an `amount` column (whole
//! RWF; the batch's amount when absent or blank). A UTF-8 BOM, CRLF line ends and quoted fields
//! are fine; blank lines are skipped (line numbers stay those of the file). Each line is checked
//! on its own — format (keypad-tolerant, stored canonical `XXXX-XXXX-XXXX-XXXX`), the check
//! character when the settings turn it on, a repeat of an earlier line, the amount — and then all
//! survivors at once against the stored codes (`COPY` into a staging table joined with
//! `promo_codes`, never a query per line). `all_or_nothing` inserts nothing when any line is
//! rejected; `valid_rows` inserts the good lines. Inserted codes take the next consecutive
//! serials (under the batch's row lock, in file order), the batch's expiry and the line's amount.
//! The import, its rejected lines and one audit row are written in the caller's transaction.
//!
//! The codes an import added are its serial range (`code_imports.serial_from..serial_to`).
//!
//! Quantity: an import may raise the batch's `total_codes` (as a top-up does), but the batch never
//! holds more than the settings' maximum codes per batch.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

pub use super::import_csv::{clip, parse_csv, ImportStatus, Mode, Parsed, Progress, Rejected, Row, Rules};
use crate::audit::{self, Action, Actor, AuditEvent, RequestMeta};
use crate::error::{on_constraint, AppError};
use crate::settings::Settings;

/// The largest upload taken (a million codes with amounts is about 30 MB).
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// What an import did.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ImportSummary)]
pub struct Summary {
    pub id: Uuid,
    pub batch_id: Uuid,
    pub user_id: Option<Uuid>,
    pub file_name: String,
    pub mode: Mode,
    pub status: ImportStatus,
    pub total_rows: i32,
    pub accepted: i32,
    pub rejected: i32,
    pub serial_from: Option<i32>,
    pub serial_to: Option<i32>,
    pub created_at: DateTime<Utc>,
}

/// One upload to import.
pub struct Upload<'a> {
    pub batch_id: Uuid,
    pub file_name: &'a str,
    pub mode: Mode,
    pub data: &'a [u8],
}

/// Quotes a value for `COPY … (format csv)`.
fn csv_field(out: &mut String, s: &str) {
    out.push('"');
    out.push_str(&s.replace('"', "\"\""));
    out.push('"');
}

/// Imports the file into the batch, in the caller's transaction (the caller commits, also when
/// the import was refused line by line: the import and its error report are kept).
pub async fn import(
    conn: &mut PgConnection,
    s: &Settings,
    up: Upload<'_>,
    actor: Actor,
    meta: RequestMeta,
    now: DateTime<Utc>,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Summary, AppError> {
    // one import or generation run per batch at a time, so serials stay consecutive (taken
    // before the batch's row lock: a generation round updates that row before it commits)
    sqlx::query(super::generate::SERIAL_LOCK)
        .bind(up.batch_id)
        .execute(&mut *conn)
        .await?;
    let batch: Option<(i64, String, DateTime<Utc>, String, i32, bool)> = sqlx::query_as(
        "select amount_per_code, currency, expiration_date, status, total_codes, check_character from batches \
         where id = $1 for update",
    )
    .bind(up.batch_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((batch_amount, currency, expires, status, total_codes, batch_checks)) = batch else {
        return Err(AppError::field("batchId", "no such batch"));
    };
    if status != "active" {
        return Err(AppError::conflict(
            "batchId",
            format!("the batch is {status}; only an active batch takes new codes"),
        ));
    }
    if expires <= now {
        return Err(AppError::conflict("batchId", "the batch has passed its expiry date"));
    }
    let rules = Rules::from_settings(s, batch_amount, batch_checks)?;
    let parsed = parse_csv(up.data, &rules, progress)?;
    let Parsed {
        rows,
        mut rejected,
        total,
    } = parsed;

    // set-based check against every stored code
    sqlx::query("set local client_min_messages = warning")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "create temp table if not exists code_import_staging (line int8 not null, code text not null, amount int8 not null) \
         on commit delete rows",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("truncate code_import_staging").execute(&mut *conn).await?;
    if !rows.is_empty() {
        let mut buf = String::with_capacity(rows.len() * 40);
        for r in &rows {
            buf.push_str(&format!("{}\t{}\t{}\n", r.line, r.code, r.amount));
        }
        let mut copy = conn
            .copy_in_raw("copy code_import_staging (line, code, amount) from stdin")
            .await?;
        copy.send(buf.into_bytes()).await?;
        copy.finish().await?;
    }
    let stored: Vec<(i64, i64)> = sqlx::query_as(
        "with d as (delete from code_import_staging s using promo_codes p where p.code = s.code returning s.line, p.batch_id) \
         select d.line, b.batch_number from d join batches b on b.id = d.batch_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let by_line: HashMap<u64, &Row> = if stored.is_empty() {
        HashMap::new()
    } else {
        rows.iter().map(|r| (r.line, r)).collect()
    };
    for (line, batch_number) in &stored {
        let line = *line as u64;
        rejected.push(Rejected {
            line,
            value: by_line.get(&line).map_or_else(String::new, |r| clip(&r.raw)),
            reason: format!("already exists (batch {batch_number})"),
        });
    }
    rejected.sort_by_key(|r| r.line);
    let valid = rows.len() as u64 - stored.len() as u64;
    progress(Progress::Validated {
        valid,
        rejected: rejected.len() as u64,
    });

    let insert = valid > 0 && (up.mode == Mode::ValidRows || rejected.is_empty());
    let id = Uuid::new_v4();
    let (mut serial_from, mut serial_to) = (None, None);
    if insert {
        let (have, max_serial): (i64, i64) =
            sqlx::query_as("select count(*), coalesce(max(serial), 0)::int8 from promo_codes where batch_id = $1")
                .bind(up.batch_id)
                .fetch_one(&mut *conn)
                .await?;
        let max = i64::from(s.business.batch_management.max_codes_per_batch);
        if have + valid as i64 > max {
            return Err(AppError::field(
                "file",
                format!("the batch holds {have} codes; {valid} more would pass the maximum of {max} per batch"),
            ));
        }
        let next = max_serial + 1;
        let inserted = sqlx::query(
            "insert into promo_codes (code, batch_id, serial, amount, currency, status, created_at, expires_at) \
             select code, $1, ($2 + row_number() over (order by line) - 1)::int4, amount, $3, 'active', $4, $5 \
             from code_import_staging",
        )
        .bind(up.batch_id)
        .bind(next)
        .bind(&currency)
        .bind(now)
        .bind(expires)
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            on_constraint(
                e,
                &[("promo_codes_code_key", || {
                    AppError::conflict(
                        "file",
                        "some of these codes were stored meanwhile; import the file again",
                    )
                })],
            )
        })?
        .rows_affected();
        serial_from = Some(next as i32);
        serial_to = Some((next + inserted as i64 - 1) as i32);
        if inserted > 0 {
            super::search_index::enqueue(&mut *conn, up.batch_id, next, next + inserted as i64 - 1, now).await?;
        }
        sqlx::query("update batches set total_codes = greatest(total_codes, $2), updated_at = $3 where id = $1")
            .bind(up.batch_id)
            .bind((have + inserted as i64).max(i64::from(total_codes)) as i32)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        progress(Progress::Inserted(inserted));
    }
    let accepted = if insert { valid } else { 0 };
    let status = if accepted == 0 {
        ImportStatus::Rejected
    } else if rejected.is_empty() {
        ImportStatus::Imported
    } else {
        ImportStatus::Partial
    };
    let summary: Summary = sqlx::query_as(
        "insert into code_imports (id, batch_id, user_id, file_name, mode, status, total_rows, accepted, rejected, \
           serial_from, serial_to, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         returning id, batch_id, user_id, file_name, mode, status, total_rows, accepted, rejected, serial_from, serial_to, created_at",
    )
    .bind(id)
    .bind(up.batch_id)
    .bind(actor.user_id())
    .bind(up.file_name)
    .bind(up.mode.as_str())
    .bind(status.as_str())
    .bind(total as i32)
    .bind(accepted as i32)
    .bind(rejected.len() as i32)
    .bind(serial_from)
    .bind(serial_to)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    if !rejected.is_empty() {
        let mut buf = String::with_capacity(rejected.len() * 80);
        for r in &rejected {
            buf.push_str(&format!("{id},{},", r.line));
            csv_field(&mut buf, &r.value);
            buf.push(',');
            csv_field(&mut buf, &r.reason);
            buf.push('\n');
        }
        let mut copy = conn
            .copy_in_raw("copy code_import_errors (import_id, line, value, reason) from stdin with (format csv)")
            .await?;
        copy.send(buf.into_bytes()).await?;
        copy.finish().await?;
    }
    let event = AuditEvent::new(actor, Action::CodesImported, "batch", up.batch_id)
        .after(json!({
            "importId": id,
            "fileName": up.file_name,
            "mode": up.mode.as_str(),
            "status": status,
            "total": total,
            "accepted": accepted,
            "rejected": rejected.len(),
            "serialFrom": serial_from,
            "serialTo": serial_to,
        }))
        .meta(meta);
    audit::record(conn, &event, now).await?;
    Ok(summary)
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Summary, AppError> {
    sqlx::query_as(
        "select id, batch_id, user_id, file_name, mode, status, total_rows, accepted, rejected, serial_from, serial_to, \
           created_at from code_imports where id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound("import"))
}

/// The first `limit` rejected lines of an import, in line order.
pub async fn errors(conn: &mut PgConnection, id: Uuid, limit: i64) -> Result<Vec<Rejected>, AppError> {
    let rows: Vec<(i32, String, String)> = sqlx::query_as(
        "select line, value, reason from code_import_errors where import_id = $1 order by line limit $2",
    )
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(line, value, reason)| Rejected {
            line: line as u64,
            value,
            reason,
        })
        .collect())
}
