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

use super::format::{self, Alphabet};
use crate::audit::{self, Action, Actor, AuditEvent, RequestMeta};
use crate::error::{on_constraint, AppError};
use crate::settings::Settings;

/// The largest upload taken (a million codes with amounts is about 30 MB).
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;
/// Rejected values are kept this long in the report.
const MAX_VALUE_CHARS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    AllOrNothing,
    ValidRows,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "all_or_nothing" => Some(Mode::AllOrNothing),
            "valid_rows" => Some(Mode::ValidRows),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::AllOrNothing => "all_or_nothing",
            Mode::ValidRows => "valid_rows",
        }
    }
}

/// One rejected line of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    pub line: u64,
    pub value: String,
    pub reason: String,
}

/// A line that passed the checks that need no database.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: u64,
    pub code: String,
    pub raw: String,
    pub amount: i64,
}

/// What the file holds after the line-by-line checks.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<Row>,
    pub rejected: Vec<Rejected>,
    /// Data lines (blank lines not counted).
    pub total: u64,
}

/// The rules lines are checked against (from settings and the batch).
pub struct Rules {
    /// Set when the check character is on.
    pub check: Option<Alphabet>,
    pub min_amount: i64,
    pub max_amount: i64,
    pub default_amount: i64,
}

impl Rules {
    pub fn from_settings(s: &Settings, default_amount: i64) -> Result<Self, AppError> {
        let cg = &s.business.code_generation;
        let check = if cg.include_checksum {
            Some(
                Alphabet::new(&cg.character_set)
                    .map_err(|e| AppError::Internal(anyhow::anyhow!("character set: {e}")))?,
            )
        } else {
            None
        };
        Ok(Self {
            check,
            min_amount: s.payments.min_amount,
            max_amount: s.payments.max_amount,
            default_amount,
        })
    }
}

/// How far an import has got (for the CLI's progress lines).
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    Read(u64),
    Validated { valid: u64, rejected: u64 },
    Inserted(u64),
}

fn clip(s: &str) -> String {
    s.chars().take(MAX_VALUE_CHARS).collect()
}

/// Line numbers as a person counts them in an editor. The CSV reader's own line count is off
/// after CRLF and blank lines, so a record's line is found from its byte offset: skip the line
/// ends in front of it, then count the newlines before it (incrementally, so O(file) in all).
struct Lines<'a> {
    data: &'a [u8],
    at: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, at: 0, line: 1 }
    }

    fn line_of(&mut self, mut offset: usize) -> u64 {
        while matches!(self.data.get(offset), Some(b'\r' | b'\n')) {
            offset += 1;
        }
        let offset = offset.min(self.data.len());
        if offset > self.at {
            self.line += self.data[self.at..offset].iter().filter(|b| **b == b'\n').count() as u64;
            self.at = offset;
        }
        self.line
    }
}

fn field_str(rec: &csv::ByteRecord, i: Option<usize>) -> Result<&str, ()> {
    match i.and_then(|i| rec.get(i)) {
        None => Ok(""),
        Some(b) => std::str::from_utf8(b).map(str::trim).map_err(|_| ()),
    }
}

/// Reads and checks the file line by line (no database). A file that cannot be read as a CSV
/// with a `code` column is a field error on `file`.
pub fn parse_csv(data: &[u8], rules: &Rules, progress: &mut dyn FnMut(Progress)) -> Result<Parsed, AppError> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::field("file", "the file is empty"));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(data);
    let headers = reader
        .byte_headers()
        .map_err(|e| AppError::field("file", format!("the header line cannot be read: {e}")))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| std::str::from_utf8(h).is_ok_and(|h| h.trim().eq_ignore_ascii_case(name)))
    };
    let Some(code_col) = column("code") else {
        return Err(AppError::field(
            "file",
            "the first line must be a header naming a `code` column (and optionally `amount`)",
        ));
    };
    let amount_col = column("amount");
    let mut out = Parsed::default();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut rec = csv::ByteRecord::new();
    let mut lines = Lines::new(data);
    loop {
        match reader.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(AppError::field("file", format!("the file cannot be read as CSV: {e}"))),
        }
        let line = lines.line_of(rec.position().map_or(0, |p| p.byte() as usize));
        if rec.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue; // a blank line (or only separators)
        }
        out.total += 1;
        if out.total % 10_000 == 0 {
            progress(Progress::Read(out.total));
        }
        let mut reject = |value: &str, reason: String| {
            out.rejected.push(Rejected {
                line,
                value: clip(value),
                reason,
            })
        };
        let Ok(raw) = field_str(&rec, Some(code_col)) else {
            reject("", "the line is not valid UTF-8 text".into());
            continue;
        };
        if raw.is_empty() {
            reject(raw, "the code is empty".into());
            continue;
        }
        let code = match format::parse(raw) {
            Ok(c) => c,
            Err(e) => {
                reject(raw, format!("bad format: {e}"));
                continue;
            }
        };
        if let Some(alphabet) = &rules.check {
            if !code.check_ok(alphabet) {
                reject(raw, "wrong check character (a typo?)".into());
                continue;
            }
        }
        let code = code.as_str().to_owned();
        if let Some(first) = seen.get(&code) {
            reject(raw, format!("duplicate: the same code is on line {first}"));
            continue;
        }
        seen.insert(code.clone(), line);
        let amount = match field_str(&rec, amount_col) {
            Ok("") => rules.default_amount,
            Ok(a) => match a.parse::<i64>() {
                Ok(n) if (rules.min_amount..=rules.max_amount).contains(&n) => n,
                _ => {
                    reject(
                        a,
                        format!(
                            "bad amount: must be whole francs from {} to {}",
                            rules.min_amount, rules.max_amount
                        ),
                    );
                    continue;
                }
            },
            Err(()) => {
                reject("", "bad amount: not valid UTF-8 text".into());
                continue;
            }
        };
        out.rows.push(Row {
            line,
            code,
            raw: raw.to_owned(),
            amount,
        });
    }
    progress(Progress::Read(out.total));
    if out.total == 0 {
        return Err(AppError::field("file", "the file has no lines under its header"));
    }
    Ok(out)
}

/// What an import did.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub id: Uuid,
    pub batch_id: Uuid,
    pub user_id: Option<Uuid>,
    pub file_name: String,
    pub mode: String,
    pub status: String,
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
    // the batch's row lock serialises imports and generation rounds, so serials stay consecutive
    let batch: Option<(i64, String, DateTime<Utc>, String, i32)> = sqlx::query_as(
        "select amount_per_code, currency, expiration_date, status, total_codes from batches where id = $1 for update",
    )
    .bind(up.batch_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((batch_amount, currency, expires, status, total_codes)) = batch else {
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
    let rules = Rules::from_settings(s, batch_amount)?;
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
        "rejected"
    } else if rejected.is_empty() {
        "imported"
    } else {
        "partial"
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
    .bind(status)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            check: None,
            min_amount: 100,
            max_amount: 50_000,
            default_amount: 1000,
        }
    }

    fn parse(data: &str) -> Parsed {
        parse_csv(data.as_bytes(), &rules(), &mut |_| {}).unwrap()
    }

    #[test]
    fn bom_crlf_quotes_and_blank_lines() {
        let p = parse("\u{feff}\"code\",amount\r\n\"abcd ef26 gh11 jk25\",\"2000\"\r\n\r\nWXYZ-EF26-GH11-JK25,\r\n");
        assert_eq!(p.total, 2);
        assert!(p.rejected.is_empty(), "{:?}", p.rejected);
        assert_eq!(p.rows[0].code, "ABCD-EF26-GH11-JK25");
        assert_eq!((p.rows[0].line, p.rows[0].amount), (2, 2000));
        assert_eq!(
            (p.rows[1].line, p.rows[1].amount),
            (4, 1000),
            "blank line 3 skipped, numbering kept"
        );
    }

    #[test]
    fn a_quoted_field_over_two_lines_keeps_later_numbers_right() {
        let p = parse("code,note\nABCD-EF26-GH11-JK25,\"two\nlines\"\n  \nABCD*\n");
        assert_eq!(p.rows[0].line, 2);
        assert_eq!(p.rejected[0].line, 5);
        assert_eq!(p.total, 2);
    }

    #[test]
    fn each_bad_line_is_named_with_its_reason() {
        let p = parse(
            "amount,code\n1000,ABCD-EF26-GH11-JK25\n1000,ABCD*EF26\n5,WXYZ-EF26-GH11-JK25\n1000,abcdef26gh11jk25\n,\n1000,\n",
        );
        let got: Vec<(u64, &str)> = p.rejected.iter().map(|r| (r.line, r.reason.as_str())).collect();
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got[0].0 == 3 && got[0].1.starts_with("bad format"));
        assert!(got[1].0 == 4 && got[1].1.starts_with("bad amount"));
        assert_eq!(got[2], (5, "duplicate: the same code is on line 2"));
        assert_eq!(got[3], (7, "the code is empty"));
        assert_eq!(p.total, 5, "the line of separators only is blank");
    }

    #[test]
    fn a_file_without_a_code_column_or_rows_is_refused() {
        assert!(parse_csv(b"serial,amount\n1,2\n", &rules(), &mut |_| {}).is_err());
        assert!(parse_csv(b"code\n\n", &rules(), &mut |_| {}).is_err());
        assert!(parse_csv(b"", &rules(), &mut |_| {}).is_err());
    }
}
