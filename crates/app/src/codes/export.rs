//! Exports of a batch's codes, shared by the download endpoint and `mbelyco codes export`: the
//! chain-of-custody record (who, when, format, range, count — audited before the first byte
//! leaves), the CSV straight from `COPY … TO STDOUT`, and the PDF sheets page by page from a
//! cursor. Both stream in serial order through a small channel, so a million-code batch neither
//! times out nor grows memory.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::json;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::pdf::{page_content, page_count, Contact, Logo, SheetInfo, Slot, StreamingPdf, PER_PAGE};
use crate::audit::{self, Action};
use crate::batches::Batch;
use crate::error::{AppError, FieldError};
use crate::settings::Settings;
use crate::unit::Acting;

pub type Chunks = mpsc::Receiver<Result<Bytes, std::io::Error>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Pdf,
}

impl Format {
    pub fn key(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Pdf => "pdf",
        }
    }
}

/// What to export: a format and an optional serial range (inclusive).
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub batch_id: Uuid,
    pub format: Format,
    pub serial_from: Option<i32>,
    pub serial_to: Option<i32>,
}

impl Request {
    /// Checks the raw query values; every problem at once, naming the field.
    pub fn parse(
        format: Option<&str>,
        batch_id: Option<Uuid>,
        serial_from: Option<i32>,
        serial_to: Option<i32>,
    ) -> Result<Self, AppError> {
        let mut errors = Vec::new();
        let format = match format.unwrap_or("csv") {
            "csv" => Some(Format::Csv),
            "pdf" => Some(Format::Pdf),
            _ => {
                errors.push(FieldError::new("format", "must be csv or pdf"));
                None
            }
        };
        if batch_id.is_none() {
            errors.push(FieldError::new("batchId", "choose a batch"));
        }
        let (from, to) = (serial_from.unwrap_or(1), serial_to.unwrap_or(i32::MAX));
        if from < 1 || to < from {
            errors.push(FieldError::new(
                "serialFrom",
                "the range must start at 1 or later and not end before it starts",
            ));
        }
        match (format, batch_id) {
            (Some(format), Some(batch_id)) if errors.is_empty() => Ok(Self {
                batch_id,
                format,
                serial_from,
                serial_to,
            }),
            _ => Err(AppError::Validation(errors)),
        }
    }

    pub fn range(&self) -> (i32, i32) {
        (self.serial_from.unwrap_or(1), self.serial_to.unwrap_or(i32::MAX))
    }
}

/// Records the download (chain of custody) and audits it; returns how many codes it holds.
pub async fn record(conn: &mut PgConnection, req: &Request, acting: &Acting) -> Result<i64, AppError> {
    let (user, now) = (acting.user_id(), acting.now);
    let (from, to) = req.range();
    let count: i64 =
        sqlx::query_scalar("select count(*) from promo_codes where batch_id = $1 and serial between $2 and $3")
            .bind(req.batch_id)
            .bind(from)
            .bind(to)
            .fetch_one(&mut *conn)
            .await?;
    sqlx::query(
        "insert into code_downloads (batch_id, user_id, format, serial_from, serial_to, code_count, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(req.batch_id)
    .bind(user)
    .bind(req.format.key())
    .bind(req.serial_from)
    .bind(req.serial_to)
    .bind(count as i32)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        &acting
            .audit(Action::CodesDownloaded, "batch", req.batch_id)
            .metadata(json!({"format": req.format.key(), "serialFrom": req.serial_from,
                "serialTo": req.serial_to, "codes": count})),
        now,
    )
    .await?;
    Ok(count)
}

/// `<Batch Name>_<Kigali timestamp>.<ext>`.
pub fn file_name(batch: &Batch, format: Format, now: DateTime<Utc>) -> String {
    let stamp = now.with_timezone(&crate::clock::kigali()).format("%Y%m%d-%H%M");
    format!("{}_{stamp}.{}", batch.name, format.key())
}

/// What the sheets say besides the codes, from the batch and the branding settings.
pub fn sheet_info(s: &Settings, batch: &Batch) -> SheetInfo {
    SheetInfo {
        company: s.branding.company_name.clone(),
        tagline: s.branding.company_tagline.clone(),
        batch_number: batch.batch_number,
        batch_name: batch.name.clone(),
        generated_on: batch
            .created_at
            .with_timezone(&crate::clock::kigali())
            .format("%Y-%m-%d")
            .to_string(),
        service_code: s.ussd.service_code.clone(),
        logo: Logo::from_data_url(&s.branding.company_logo).map(std::sync::Arc::new),
        contact: Contact {
            phone: s.branding.company_phone.clone(),
            email: s.branding.company_email.clone(),
            website: s.branding.company_website.clone(),
        },
    }
}

/// Starts the export in the background and returns its chunks.
pub fn stream(pool: PgPool, req: Request, info: SheetInfo, count: i64) -> Chunks {
    match req.format {
        Format::Csv => csv(pool, req),
        Format::Pdf => pdf(pool, req, info, count as usize),
    }
}

/// A timestamp column as the CSV shows it: Kigali time to the second, with its offset.
macro_rules! kigali_text {
    ($column:literal) => {
        concat!(
            "to_char(",
            $column,
            " at time zone 'Africa/Kigali', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+02:00\"')"
        )
    };
}

/// The CSV straight from `COPY … TO STDOUT`, in serial order. Two things keep a million rows
/// under three seconds (decision 0018):
/// - the sort by serial gets the memory it needs (`work_mem`, for this transaction only) instead
///   of spilling to disk;
/// - a batch's codes share their creation and expiry times (one generation run, one batch
///   expiry), so the first code's two values are formatted once and every code that has them
///   gets the text. `to_char` in Kigali time cost over a second per million rows. A code with
///   other values (a top-up, a changed expiry) is formatted as before.
fn csv(pool: PgPool, req: Request) -> Chunks {
    let (from, to) = req.range();
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let result = async {
            let mut conn = pool.acquire().await?;
            let mut t = conn.begin_with("begin; set local work_mem = '64MB'").await?;
            type Times = (DateTime<Utc>, Option<DateTime<Utc>>, String, Option<String>);
            let common: Option<Times> = sqlx::query_as(concat!(
                "select created_at, expires_at, ",
                kigali_text!("created_at"),
                ", ",
                kigali_text!("expires_at"),
                " from promo_codes where batch_id = $1 and serial between $2 and $3 order by serial limit 1"
            ))
            .bind(req.batch_id)
            .bind(from)
            .bind(to)
            .fetch_optional(&mut *t)
            .await?;
            let (created, expires) = match &common {
                Some((c, e, c_text, e_text)) => (
                    shared_text("c.created_at", Some(*c), c_text.as_str(), kigali_text!("c.created_at")),
                    shared_text(
                        "c.expires_at",
                        *e,
                        e_text.as_deref().unwrap_or(""),
                        kigali_text!("c.expires_at"),
                    ),
                ),
                None => (
                    kigali_text!("c.created_at").to_owned(),
                    kigali_text!("c.expires_at").to_owned(),
                ),
            };
            // the batch's name is the one cell staff type: made safe for spreadsheets once
            // (`crate::csv_out`) and read by the COPY from a setting of this transaction
            let name: String = sqlx::query_scalar("select name from batches where id = $1")
                .bind(req.batch_id)
                .fetch_optional(&mut *t)
                .await?
                .unwrap_or_default();
            sqlx::query("select set_config('mbelyco.export_batch_name', $1, true)")
                .bind(crate::csv_out::safe_cell(&name).as_ref())
                .execute(&mut *t)
                .await?;
            // COPY cannot take parameters: the values are a UUID, two integers and the texts
            // above, all formatted here from typed values
            let sql = format!(
                "copy (select c.code, c.serial, b.batch_number, \
                   current_setting('mbelyco.export_batch_name') as batch_name, c.amount, c.currency, c.status, \
                   {created} as created, {expires} as expires \
                 from promo_codes c join batches b on b.id = c.batch_id \
                 where c.batch_id = '{}' and c.serial between {from} and {to} order by c.serial) \
                 to stdout with (format csv, header true, encoding 'UTF8')",
                req.batch_id
            );
            {
                let mut out = t.copy_out_raw(&sql).await?;
                while let Some(chunk) = out.next().await {
                    if tx.send(Ok(chunk?)).await.is_err() {
                        break; // the client went away
                    }
                }
            }
            t.commit().await?;
            Ok::<_, sqlx::Error>(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "CSV export failed mid-stream");
            let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
        }
    });
    rx
}

/// `case when <column> = <value> then '<text>' else <formatted> end`, for a value most rows
/// share; the value and its text come from the database's own types and formatting, and are
/// checked to hold only the characters a timestamp has before they are written into the SQL.
fn shared_text(column: &str, value: Option<DateTime<Utc>>, text: &str, formatted: &str) -> String {
    let safe = |s: &str| s.chars().all(|c| c.is_ascii_digit() || "-:+.TZ".contains(c));
    match value {
        Some(v) => {
            let literal = v.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            if safe(&literal) && safe(text) {
                format!("case when {column} = '{literal}'::timestamptz then '{text}' else {formatted} end")
            } else {
                formatted.to_owned()
            }
        }
        None => formatted.to_owned(),
    }
}

/// The sheets page by page from a cursor over the codes in serial order.
fn pdf(pool: PgPool, req: Request, info: SheetInfo, count: usize) -> Chunks {
    let (from, to) = req.range();
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        let result = async {
            let pages = page_count(count);
            let (mut pdf, head) = StreamingPdf::start(pages, info.logo.as_deref());
            if tx.send(Ok(head.into())).await.is_err() {
                return Ok(());
            }
            let mut conn = pool.acquire().await?;
            let mut rows = sqlx::query_as::<_, (String, i32, i64, String)>(
                "select code, serial, amount, currency from promo_codes where batch_id = $1 and serial between $2 and $3 \
                 order by serial limit $4",
            )
            .bind(req.batch_id)
            .bind(from)
            .bind(to)
            .bind(count as i64)
            .fetch(&mut *conn);
            let mut slots = Vec::with_capacity(PER_PAGE);
            let mut page = 0usize;
            while let Some((code, serial, amount, currency)) = rows.next().await.transpose()? {
                slots.push(Slot {
                    code,
                    serial,
                    amount,
                    currency,
                });
                if slots.len() == PER_PAGE && page < pages {
                    let bytes = pdf.page(page, &page_content(&info, &slots, page + 1, pages));
                    page += 1;
                    slots.clear();
                    if tx.send(Ok(bytes.into())).await.is_err() {
                        return Ok(());
                    }
                }
            }
            // the last, partly filled page (and any the page tree promised but no code filled)
            while page < pages {
                let bytes = pdf.page(page, &page_content(&info, &slots, page + 1, pages));
                page += 1;
                slots.clear();
                if tx.send(Ok(bytes.into())).await.is_err() {
                    return Ok(());
                }
            }
            let _ = tx.send(Ok(pdf.finish().into())).await;
            Ok::<_, sqlx::Error>(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "PDF export failed mid-stream");
            let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
        }
    });
    rx
}
