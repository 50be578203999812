//! Exports of payouts and redemptions as CSV or PDF, with the list's filters. [`record`] counts
//! the rows and audits the export (who, when, format, filters, rows) before the first byte
//! leaves; [`stream`] then writes the rows from a cursor through a small channel, so a large
//! export neither times out nor grows memory. Codes are masked, as on screen. CSV cells pass
//! [`crate::csv_out`] (a cell a spreadsheet would run as a formula gets a leading `'`).

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::json;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, QueryBuilder};
use tokio::sync::mpsc;

use super::disclosure::{Disclosure, Need};
use super::query::{Filter, Kind, Search, Sort};
use super::redemptions::RedemptionRow;
use super::views::{push_filter, PayoutRow};
use crate::audit::{self, Action};
use crate::codes::export::{Chunks, Format};
use crate::codes::pdf::StreamingPdf;
use crate::csv_out::CsvOut;
use crate::error::AppError;
use crate::unit::Acting;

mod table;
use table::table_page;

/// Most rows a PDF export holds (about 1,000 pages); CSV has no limit.
pub const PDF_MAX_ROWS: i64 = 50_000;
const PDF_ROWS_PER_PAGE: usize = 50;

pub fn parse_format(s: Option<&str>) -> Result<Format, AppError> {
    match s.map(str::trim).unwrap_or("csv") {
        "csv" | "" => Ok(Format::Csv),
        "pdf" => Ok(Format::Pdf),
        _ => Err(AppError::field("format", "must be csv or pdf")),
    }
}

/// One export, counted and audited.
#[derive(Debug, Clone)]
pub struct Export {
    pub kind: Kind,
    pub format: Format,
    pub filter: Filter,
    pub sort: Sort,
    pub rows: i64,
    pub at: DateTime<Utc>,
}

fn describe(f: &Filter) -> serde_json::Value {
    json!({
        "from": f.from, "to": f.to, "statuses": f.statuses, "amountMin": f.amount_min,
        "amountMax": f.amount_max, "phone": f.phone, "batchId": f.batch_id, "held": f.held,
        "customer": f.customer.map(|c| c.as_str()),
        "search": f.search.as_ref().map(|s| match s {
            Search::Id(id) => id.to_string(),
            Search::Text { raw, .. } => raw.clone(),
        }),
    })
}

/// What is exported: which rows, in which format, filtered and sorted how.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub kind: Kind,
    pub format: Format,
    pub filter: Filter,
    pub sort: Sort,
}

/// Counts the rows and audits the export in the caller's transaction.
pub async fn record(conn: &mut PgConnection, req: ExportRequest, acting: &Acting) -> Result<Export, AppError> {
    let ExportRequest {
        kind,
        format,
        filter,
        sort,
    } = req;
    let now = acting.now;
    let (count_sql, t, action, entity) = match kind {
        Kind::Payouts => (
            "select count(*) from disbursements d join redemptions r on r.id = d.redemption_id \
             join promo_codes c on c.id = r.promo_code_id",
            "d",
            Action::DisbursementsExported,
            "disbursement",
        ),
        Kind::Redemptions => (
            "select count(*) from redemptions r join promo_codes c on c.id = r.promo_code_id",
            "r",
            Action::RedemptionsExported,
            "redemption",
        ),
    };
    let mut qb = QueryBuilder::new(count_sql);
    push_filter(&mut qb, &filter, t);
    qb.push(format!(" and {t}.created_at <= ")).push_bind(now);
    let rows: i64 = qb.build_query_scalar().fetch_one(&mut *conn).await?;
    if format == Format::Pdf && rows > PDF_MAX_ROWS {
        return Err(AppError::field(
            "format",
            format!("{rows} rows are too many for a PDF (at most {PDF_MAX_ROWS}); narrow the filters or choose CSV"),
        ));
    }
    let mut event = acting
        .audit(action, entity, "export")
        .metadata(json!({"format": format.key(), "filters": describe(&filter), "sort": sort.key(), "rows": rows}));
    event.entity_id = None;
    audit::record(conn, &event, now).await?;
    Ok(Export {
        kind,
        format,
        filter,
        sort,
        rows,
        at: now,
    })
}

/// `payouts_20261126-1405.csv`.
pub fn file_name(e: &Export) -> String {
    let stamp = e.at.with_timezone(&crate::clock::kigali()).format("%Y%m%d-%H%M");
    let what = match e.kind {
        Kind::Payouts => "payouts",
        Kind::Redemptions => "redemptions",
    };
    format!("{what}_{stamp}.{}", e.format.key())
}

/// A row an export writes.
trait ExportRow: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin + 'static {
    const TITLE: &'static str;
    const HEADER: &'static [&'static str];
    /// What each CSV column needs to be shown ([`Disclosure`]), in the order of `HEADER`.
    const NEEDS: &'static [Need];
    /// PDF columns: title and width in points (they add up to the 523 pt between margins).
    const PDF: &'static [(&'static str, f32)];
    /// What each PDF column needs, in the order of `PDF`.
    const PDF_NEEDS: &'static [Need];
    fn record(&self) -> Vec<String>;
    fn pdf(&self) -> Vec<String>;
}

fn kigali(t: DateTime<Utc>) -> String {
    t.with_timezone(&crate::clock::kigali())
        .format("%Y-%m-%dT%H:%M:%S+02:00")
        .to_string()
}

fn kigali_short(t: DateTime<Utc>) -> String {
    crate::clock::local_display(t)
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

impl ExportRow for PayoutRow {
    const TITLE: &'static str = "Payouts";
    const HEADER: &'static [&'static str] = &[
        "payout_id",
        "redemption_id",
        "created_at",
        "customer_phone",
        "payee_msisdn",
        "amount",
        "currency",
        "status",
        "attempts",
        "momo_transaction_id",
        "momo_reference",
        "error_code",
        "error_message",
        "disbursed_at",
        "batch_number",
        "batch_name",
        "code",
    ];
    const NEEDS: &'static [Need] = &[
        Need::Any,
        Need::Any,
        Need::Any,
        Need::Phone,
        Need::Phone,
        Need::Money,
        Need::Money,
        Need::Money,
        Need::Money,
        Need::Money,
        Need::Money,
        Need::Money,
        Need::Money,
        Need::Money,
        Need::Any,
        Need::Any,
        Need::Any,
    ];
    const PDF: &'static [(&'static str, f32)] = &[
        ("Created", 62.0),
        ("Phone", 56.0),
        ("Amount", 46.0),
        ("Status", 64.0),
        ("Att.", 20.0),
        ("MoMo transaction", 62.0),
        ("Batch", 60.0),
        ("Error", 153.0),
    ];
    const PDF_NEEDS: &'static [Need] = &[
        Need::Any,
        Need::Phone,
        Need::Money,
        Need::Money,
        Need::Money,
        Need::Money,
        Need::Any,
        Need::Money,
    ];

    fn record(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.redemption_id.to_string(),
            kigali(self.created_at),
            self.phone_number.clone(),
            self.msisdn.clone(),
            self.amount.to_string(),
            self.currency.clone(),
            self.status.to_string(),
            self.attempts.to_string(),
            opt(&self.momo_transaction_id),
            self.momo_reference.map(|r| r.to_string()).unwrap_or_default(),
            opt(&self.error_code),
            opt(&self.error_message),
            self.disbursed_at.map(kigali).unwrap_or_default(),
            self.batch_number.to_string(),
            self.batch_name.clone(),
            self.code.clone(),
        ]
    }

    fn pdf(&self) -> Vec<String> {
        vec![
            kigali_short(self.created_at),
            self.phone_number.clone(),
            format!("{} {}", crate::codes::pages::thousands(self.amount), self.currency),
            self.status.to_string(),
            self.attempts.to_string(),
            opt(&self.momo_transaction_id),
            format!("{} {}", self.batch_number, self.batch_name),
            match (&self.error_code, &self.error_message) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.clone(),
                _ => String::new(),
            },
        ]
    }
}

impl ExportRow for RedemptionRow {
    const TITLE: &'static str = "Redemptions";
    const HEADER: &'static [&'static str] = &[
        "redemption_id",
        "created_at",
        "phone_number",
        "code",
        "amount",
        "currency",
        "status",
        "error_code",
        "completed_at",
        "batch_number",
        "batch_name",
        "payout_id",
        "payout_status",
        "momo_transaction_id",
    ];
    const NEEDS: &'static [Need] = &[
        Need::Any,
        Need::Any,
        Need::Phone,
        Need::Any,
        Need::Money,
        Need::Money,
        Need::Any,
        Need::Money,
        Need::Any,
        Need::Any,
        Need::Any,
        Need::Money,
        Need::Money,
        Need::Money,
    ];
    const PDF: &'static [(&'static str, f32)] = &[
        ("Created", 62.0),
        ("Phone", 56.0),
        ("Code", 56.0),
        ("Amount", 46.0),
        ("Status", 44.0),
        ("Payout", 64.0),
        ("MoMo transaction", 62.0),
        ("Batch", 133.0),
    ];
    const PDF_NEEDS: &'static [Need] = &[
        Need::Any,
        Need::Phone,
        Need::Any,
        Need::Money,
        Need::Any,
        Need::Money,
        Need::Money,
        Need::Any,
    ];

    fn record(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            kigali(self.created_at),
            self.phone_number.clone(),
            self.code.clone(),
            self.amount.to_string(),
            self.currency.clone(),
            self.status.to_string(),
            opt(&self.error_code),
            self.completed_at.map(kigali).unwrap_or_default(),
            self.batch_number.to_string(),
            self.batch_name.clone(),
            self.disbursement_id.map(|d| d.to_string()).unwrap_or_default(),
            opt(&self.disbursement_status),
            opt(&self.momo_transaction_id),
        ]
    }

    fn pdf(&self) -> Vec<String> {
        vec![
            kigali_short(self.created_at),
            self.phone_number.clone(),
            self.code.clone(),
            format!("{} {}", crate::codes::pages::thousands(self.amount), self.currency),
            self.status.to_string(),
            opt(&self.disbursement_status),
            opt(&self.momo_transaction_id),
            format!("{} {}", self.batch_number, self.batch_name),
        ]
    }
}

/// Who a report comes from, for the line under its title: the company, its tagline and its
/// contact details, from the branding settings.
#[derive(Debug, Clone, Default)]
pub struct ReportHeader {
    pub company: String,
    pub tagline: String,
    pub contact: crate::codes::pdf::Contact,
}

impl ReportHeader {
    pub fn from_branding(b: &crate::settings::model::BrandingSettings) -> Self {
        Self {
            company: b.company_name.clone(),
            tagline: b.company_tagline.clone(),
            contact: crate::codes::pdf::Contact {
                phone: b.company_phone.clone(),
                email: b.company_email.clone(),
                website: b.company_website.clone(),
            },
        }
    }

    /// `MBELYCO Paints - Quality paints, rewarded  |  +250 788 300 400  |  care@mbelyco.rw`.
    pub fn line(&self) -> String {
        let mut out = self.company.trim().to_owned();
        if !self.tagline.trim().is_empty() {
            out = format!("{out} - {}", self.tagline.trim());
        }
        let contact = self.contact.line();
        if !contact.is_empty() {
            out = format!("{out}  |  {contact}");
        }
        out
    }
}

/// Starts the export in the background and returns its chunks, each row as `d` may see it.
pub fn stream(pool: PgPool, e: Export, from: ReportHeader, d: Disclosure) -> Chunks {
    match e.kind {
        Kind::Payouts => rows::<PayoutRow>(pool, e, from, d),
        Kind::Redemptions => rows::<RedemptionRow>(pool, e, from, d),
    }
}

fn rows<T: ExportRow>(pool: PgPool, e: Export, from: ReportHeader, d: Disclosure) -> Chunks {
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        let result = async {
            let (sql, t) = match e.kind {
                Kind::Payouts => (super::views::ROW, "d"),
                Kind::Redemptions => (super::redemptions::ROW, "r"),
            };
            let mut qb = QueryBuilder::new(sql);
            push_filter(&mut qb, &e.filter, t);
            let sort = if e.kind == Kind::Redemptions && e.sort == Sort::RecentlyChanged {
                Sort::NewestFirst
            } else {
                e.sort
            };
            qb.push(format!(" and {t}.created_at <= "))
                .push_bind(e.at)
                .push(format!(" order by {} limit ", sort.order_by(t)))
                .push_bind(e.rows);
            let mut conn = pool.acquire().await?;
            let mut rows = qb.build_query_as::<T>().fetch(&mut *conn);
            match e.format {
                Format::Csv => {
                    let mut w = CsvOut::new();
                    w.row(d.header(T::NEEDS, T::HEADER))?;
                    let mut n = 0usize;
                    while let Some(row) = rows.next().await.transpose()? {
                        w.row(d.cells(T::NEEDS, row.record()))?;
                        n += 1;
                        if n % 500 == 0 {
                            let chunk = w.take()?;
                            if tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                                return Ok(());
                            }
                        }
                    }
                    let _ = tx.send(Ok(Bytes::from(w.take()?))).await;
                }
                Format::Pdf => {
                    let pages = (e.rows.max(0) as usize).div_ceil(PDF_ROWS_PER_PAGE).max(1);
                    let (mut pdf, head) = StreamingPdf::start(pages, None);
                    if tx.send(Ok(head.into())).await.is_err() {
                        return Ok(());
                    }
                    let subtitle = [
                        from.line(),
                        format!("Exported {} (Kigali) - {} row(s)", kigali_short(e.at), e.rows),
                    ];
                    let cols = d.header(T::PDF_NEEDS, T::PDF);
                    let mut batch = Vec::with_capacity(PDF_ROWS_PER_PAGE);
                    let mut page = 0usize;
                    loop {
                        let next = rows.next().await.transpose()?;
                        let end = next.is_none();
                        if let Some(row) = next {
                            batch.push(d.cells(T::PDF_NEEDS, row.pdf()));
                        }
                        if (batch.len() == PDF_ROWS_PER_PAGE || end) && page < pages {
                            let content = table_page(T::TITLE, &subtitle, &cols, &batch, page + 1, pages);
                            let bytes = pdf.page(page, &content);
                            page += 1;
                            batch.clear();
                            if tx.send(Ok(bytes.into())).await.is_err() {
                                return Ok(());
                            }
                        }
                        if end {
                            break;
                        }
                    }
                    // pages the count promised but no row filled (rows deleted meanwhile)
                    while page < pages {
                        let bytes = pdf.page(page, &table_page(T::TITLE, &subtitle, &cols, &[], page + 1, pages));
                        page += 1;
                        if tx.send(Ok(bytes.into())).await.is_err() {
                            return Ok(());
                        }
                    }
                    let _ = tx.send(Ok(pdf.finish().into())).await;
                }
            }
            Ok::<_, sqlx::Error>(())
        }
        .await;
        if let Err(err) = result {
            tracing::error!(error = %err, "export failed mid-stream");
            let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_columns_fit_between_the_margins() {
        for cols in [PayoutRow::PDF, RedemptionRow::PDF] {
            let w: f32 = cols.iter().map(|(_, w)| w).sum();
            assert!(w <= table::PAGE_W - 2.0 * table::MARGIN + 0.5, "{w}");
        }
        // every column says what it needs
        assert_eq!(PayoutRow::NEEDS.len(), PayoutRow::HEADER.len());
        assert_eq!(RedemptionRow::NEEDS.len(), RedemptionRow::HEADER.len());
        assert_eq!(PayoutRow::PDF_NEEDS.len(), PayoutRow::PDF.len());
        assert_eq!(RedemptionRow::PDF_NEEDS.len(), RedemptionRow::PDF.len());
    }
}
