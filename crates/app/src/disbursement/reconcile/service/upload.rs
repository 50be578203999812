//! Storing MoMo's statement file: read as it streams in, checked line by line, stored whole or
//! not at all; and how a refused upload is told.

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use super::LINE_BATCH;
use crate::audit::{self, Action, AuditEvent};
use crate::disbursement::reconcile::statement::{Line, LineError, Parser, MAX_STATEMENT_BYTES};
use crate::error::{AppError, FieldError};
use crate::unit::Acting;

/// Why an upload was refused.
#[derive(Debug)]
pub enum UploadError {
    /// The file was read to its end and these lines are not valid (`total` of them in all).
    Lines {
        errors: Vec<LineError>,
        total: usize,
    },
    /// The file is larger than the cap.
    TooLarge,
    /// The body could not be read.
    Read(String),
    Db(sqlx::Error),
}

impl From<sqlx::Error> for UploadError {
    fn from(e: sqlx::Error) -> Self {
        UploadError::Db(e)
    }
}

async fn write_lines(conn: &mut PgConnection, statement_id: Uuid, lines: &mut Vec<Line>) -> Result<(), sqlx::Error> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut qb = sqlx::QueryBuilder::new(
        "insert into reconciliation_statement_lines (statement_id, line, occurred_at, reference_id, \
         financial_transaction_id, external_id, external_uuid, msisdn, amount, currency, status, reason) ",
    );
    qb.push_values(lines.iter(), |mut b, l| {
        b.push_bind(statement_id)
            .push_bind(l.line as i32)
            .push_bind(l.occurred_at)
            .push_bind(l.reference_id)
            .push_bind(l.financial_transaction_id.clone())
            .push_bind(l.external_id.clone())
            .push_bind(l.external_id.as_deref().and_then(|e| e.parse::<Uuid>().ok()))
            .push_bind(l.msisdn.clone())
            .push_bind(l.amount)
            .push_bind(l.currency.clone())
            .push_bind(l.status)
            .push_bind(l.reason.clone());
    });
    qb.build().execute(conn).await?;
    lines.clear();
    Ok(())
}

/// Reads a statement from `body` as it streams in, checking each line and writing the good ones
/// in batches inside one transaction (`conn` is the caller's); when any line is bad, nothing is
/// kept and every bad line is reported. Audited on success.
pub async fn store_statement<S, E>(
    conn: &mut PgConnection,
    mut body: S,
    file_name: &str,
    acting: &Acting,
) -> Result<Uuid, UploadError>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let (actor, meta, now) = (acting.actor, acting.meta.clone(), acting.now);
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let id: Uuid = sqlx::query_scalar(
        "insert into reconciliation_statements (uploaded_by_user_id, file_name, layout, sha256, line_count, created_at) \
         values ($1, $2, 'simulator', '', 0, $3) returning id",
    )
    .bind(actor.user_id())
    .bind(file_name)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let mut parser = Parser::new();
    let mut hash = Sha256::new();
    let mut size = 0usize;
    let mut batch: Vec<Line> = Vec::new();
    let (mut first, mut last): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (None, None);
    let mut take = |lines: Vec<Line>, batch: &mut Vec<Line>| {
        for l in lines {
            first = Some(first.map_or(l.occurred_at, |f| f.min(l.occurred_at)));
            last = Some(last.map_or(l.occurred_at, |f| f.max(l.occurred_at)));
            batch.push(l);
        }
    };
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| UploadError::Read(e.to_string()))?;
        size += chunk.len();
        if size > MAX_STATEMENT_BYTES {
            return Err(UploadError::TooLarge);
        }
        hash.update(&chunk);
        let lines = parser.feed(&chunk);
        if parser.error_count() == 0 {
            take(lines, &mut batch);
            if batch.len() >= LINE_BATCH {
                write_lines(&mut tx, id, &mut batch).await?;
            }
        }
    }
    let lines = parser.finish();
    if parser.error_count() > 0 {
        return Err(UploadError::Lines {
            errors: parser.errors().to_vec(),
            total: parser.error_count(),
        });
    }
    take(lines, &mut batch);
    write_lines(&mut tx, id, &mut batch).await?;
    let sha = hex::encode(hash.finalize());
    let layout = parser.layout().map_or("simulator", |l| l.as_str());
    sqlx::query(
        "update reconciliation_statements set layout = $2, sha256 = $3, line_count = $4, first_at = $5, last_at = $6 \
         where id = $1",
    )
    .bind(id)
    .bind(layout)
    .bind(&sha)
    .bind(parser.line_count() as i32)
    .bind(first)
    .bind(last)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &AuditEvent::new(
            actor,
            Action::ReconciliationStatementUploaded,
            "reconciliation_statement",
            id,
        )
        .after(json!({
            "fileName": file_name,
            "layout": layout,
            "sha256": sha,
            "lines": parser.line_count(),
            "bytes": size,
            "firstAt": first,
            "lastAt": last,
        }))
        .meta(meta),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The problem details of a refused upload: 422 naming each bad line (field `file`, with `line`).
pub fn upload_problem(err: UploadError) -> axum::response::Response {
    use axum::http::{header, HeaderValue, StatusCode};
    use axum::response::IntoResponse;
    match err {
        UploadError::Lines { errors, total } => {
            let first = errors
                .first()
                .map(|e| format!("line {}: {}", e.line, e.message))
                .unwrap_or_default();
            let detail = if total > 1 {
                format!("{total} lines of the statement are not valid, the first at {first}. Nothing was stored.")
            } else {
                format!("The statement is not valid at {first}. Nothing was stored.")
            };
            let body = json!({
                "type": "urn:mbelyco:problem:validation",
                "title": "The statement is not valid",
                "status": 422,
                "detail": detail,
                "requestId": crate::error::current_request_id(),
                "invalidLines": total,
                "errors": errors
                    .iter()
                    .map(|e| json!({"field": "file", "line": e.line, "message": format!("line {}: {}", e.line, e.message)}))
                    .collect::<Vec<_>>(),
            });
            let mut res = (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            );
            res.extensions_mut().insert(crate::error::ErrorPageInfo {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                title: "The statement is not valid",
                detail,
                request_id: crate::error::current_request_id(),
                errors: errors
                    .iter()
                    .map(|e| FieldError::new("file", format!("line {}: {}", e.line, e.message)))
                    .collect(),
            });
            res
        }
        UploadError::TooLarge => AppError::field(
            "file",
            format!("the file is larger than {} MB", MAX_STATEMENT_BYTES / (1024 * 1024)),
        )
        .into_response(),
        UploadError::Read(e) => AppError::BadRequest(format!("the upload could not be read: {e}")).into_response(),
        UploadError::Db(e) => AppError::from(e).into_response(),
    }
}

/// A refused upload as one sentence (for pages).
pub fn upload_message(err: &UploadError) -> String {
    match err {
        UploadError::Lines { errors, total } => {
            let shown: Vec<String> = errors
                .iter()
                .take(5)
                .map(|e| format!("line {}: {}", e.line, e.message))
                .collect();
            let more = if *total > shown.len() {
                format!(" (and {} more)", total - shown.len())
            } else {
                String::new()
            };
            format!("The statement was not stored — {}{more}.", shown.join("; "))
        }
        UploadError::TooLarge => format!(
            "The statement is larger than {} MB.",
            MAX_STATEMENT_BYTES / (1024 * 1024)
        ),
        UploadError::Read(e) => format!("The upload could not be read: {e}"),
        UploadError::Db(_) => "The statement could not be stored; try again.".to_owned(),
    }
}
