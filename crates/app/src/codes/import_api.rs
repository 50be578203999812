//! `POST /api/v1/admin/promo-codes/import` (also `/api/v1/admin/batches/import`): a CSV upload
//! into a batch, as `multipart/form-data` (fields `batchId`, `mode`, `file`) or as a raw
//! `text/csv` body with `?batchId=…&mode=…&fileName=…`. The import summary and the downloadable
//! error report (`…/imports/{id}` and `…/imports/{id}/errors.csv`).
//!
//! The upload is read chunk by chunk into one byte buffer (capped at 64 MB; a 100,000-line file
//! is about 2 MB) and then parsed line by line; validation and insert run in the request, in one
//! transaction (100,000 lines take well under the request timeout), so the client sees the upload
//! progress and then the result.

use crate::web::extract::Path;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::import::{self, ImportStatus, Mode, Rejected, Summary, Upload, MAX_UPLOAD_BYTES};
use crate::access::Permission::*;
use crate::error::{AppError, FieldError};
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::openapi::Doc;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

/// Rejected lines shown inline in a response (the report has them all).
const INLINE_ERRORS: i64 = 100;

pub fn routes() -> Vec<RouteSpec> {
    let upload = |path: &'static str| RouteSpec {
        method: Method::POST,
        path,
        access: Access::Permission(PromoCodesImport),
        router: axum::routing::post(import_handler).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        doc: Some(
            Doc::new("Import codes from a CSV file into a batch")
                .describe(
                    "Send `multipart/form-data` (parts `batchId`, `mode`, `file`), or the file itself as a \
                     `text/csv` body with `?batchId=…&mode=…&fileName=…`. Up to 64 MB. `all_or_nothing` (the \
                     default) imports nothing when a line is wrong; `valid_rows` imports the valid lines. \
                     When nothing is imported the answer is a 422 problem that also carries `import`, \
                     `errorReport` and `rejectedLines`. Counts against `security.rateLimiting.fileUploadsPerHour`.",
                )
                .query::<UploadQuery>()
                .multipart::<UploadFields>()
                .raw("text/csv")
                .created::<ImportAnswer>()
                .problems(&[409]),
        ),
    };
    vec![
        upload("/api/v1/admin/promo-codes/import"),
        upload("/api/v1/admin/batches/import"),
        route!(GET "/api/v1/admin/promo-codes/imports/{id}", Access::Permission(PromoCodesImport), summary,
            Doc::new("An import's summary and its first 100 rejected lines").ok::<ImportAnswer>()),
        route!(GET "/api/v1/admin/promo-codes/imports/{id}/errors.csv", Access::Permission(PromoCodesImport), errors_csv,
            Doc::new("An import's rejected lines as CSV (`line,value,reason`)")
                .file("text/csv", "The error report (an attachment)")),
    ]
}

/// Query parameters of a raw `text/csv` upload (multipart fields of the same names win).
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct UploadQuery {
    /// The batch the codes go into (required, here or as a form part).
    #[param(value_type = Option<Uuid>)]
    pub batch_id: Option<String>,
    /// `all_or_nothing` (default) or `valid_rows`.
    #[param(value_type = Option<Mode>)]
    pub mode: Option<String>,
    /// The file's name, for the import's record (default `upload.csv`).
    #[param(max_length = 255)]
    pub file_name: Option<String>,
}

// documentation only: `read_upload` reads the parts
/// The parts of a `multipart/form-data` upload.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadFields {
    /// The batch the codes go into (an active batch not past its expiry).
    pub batch_id: Uuid,
    /// `all_or_nothing` (default) or `valid_rows`.
    #[schema(value_type = Mode, required = false)]
    pub mode: Option<String>,
    /// The CSV: one code per line, or a header row and columns (see the import guide).
    #[schema(value_type = String, format = Binary, content_media_type = "text/csv")]
    pub file: Vec<u8>,
    /// The file's name, when the `file` part has none.
    #[schema(value_type = String, required = false, max_length = 255)]
    pub file_name: Option<String>,
}

/// An import: its summary, the link to its error report (when a line was rejected) and the
/// first rejected lines.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportAnswer {
    import: Summary,
    error_report: Option<String>,
    rejected_lines: Vec<Rejected>,
}

/// The upload as sent, before validation.
#[derive(Debug, Default)]
pub struct UploadForm {
    pub batch_id: Option<String>,
    pub mode: Option<String>,
    pub file_name: Option<String>,
    pub data: Option<Vec<u8>>,
}

fn too_large() -> AppError {
    AppError::field(
        "file",
        format!("the file is larger than {} MB", MAX_UPLOAD_BYTES / (1024 * 1024)),
    )
}

/// Reads a multipart form or a raw CSV body, chunk by chunk, into an [`UploadForm`].
pub async fn read_upload<S: Send + Sync>(req: Request, state: &S) -> Result<UploadForm, AppError> {
    let q = req.uri().query().map(parse_query).unwrap_or_default();
    let mut form = UploadForm {
        batch_id: q.batch_id,
        mode: q.mode,
        file_name: q.file_name,
        data: None,
    };
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let mut mp = Multipart::from_request(req, state)
            .await
            .map_err(|e| AppError::BadRequest(format!("the form could not be read: {e}")))?;
        let bad = |e: axum::extract::multipart::MultipartError| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                AppError::BadRequest(format!("the form could not be read: {e}"))
            }
        };
        while let Some(mut field) = mp.next_field().await.map_err(bad)? {
            match field.name().unwrap_or("") {
                "file" => {
                    if let Some(name) = field.file_name().filter(|n| !n.is_empty()) {
                        form.file_name = Some(name.to_owned());
                    }
                    let mut buf = Vec::new();
                    while let Some(chunk) = field.chunk().await.map_err(bad)? {
                        if buf.len() + chunk.len() > MAX_UPLOAD_BYTES {
                            return Err(too_large());
                        }
                        buf.extend_from_slice(&chunk);
                    }
                    form.data = Some(buf);
                }
                "batchId" | "batch_id" => form.batch_id = Some(field.text().await.map_err(bad)?),
                "mode" => form.mode = Some(field.text().await.map_err(bad)?),
                "fileName" => form.file_name = Some(field.text().await.map_err(bad)?),
                _ => {} // `_csrf` and anything else
            }
        }
        return Ok(form);
    }
    let is_csv = [
        "text/csv",
        "application/csv",
        "text/plain",
        "application/octet-stream",
        "application/vnd.ms-excel",
    ]
    .iter()
    .any(|t| content_type.starts_with(t));
    if !is_csv {
        return Err(AppError::field(
            "file",
            "send the CSV as multipart/form-data (field `file`) or as a text/csv body",
        ));
    }
    let mut stream = req.into_body().into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest(format!("the body could not be read: {e}")))?;
        if buf.len() + chunk.len() > MAX_UPLOAD_BYTES {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    form.data = Some(buf);
    Ok(form)
}

fn parse_query(q: &str) -> UploadQuery {
    let mut out = UploadQuery::default();
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        match k.as_ref() {
            "batchId" | "batch_id" => out.batch_id = Some(v.into_owned()),
            "mode" => out.mode = Some(v.into_owned()),
            "fileName" => out.file_name = Some(v.into_owned()),
            _ => {}
        }
    }
    out
}

/// Checks the form's fields (all problems at once) and runs the import in one transaction.
pub async fn run(state: &AppState, who: &Principal, acting: &Acting, form: UploadForm) -> Result<Summary, AppError> {
    {
        let mut conn = state.pool.acquire().await?;
        crate::web::quota::upload(&mut conn, state, who.user_id).await?;
    }
    for (field, value) in [
        ("batchId", &form.batch_id),
        ("mode", &form.mode),
        ("fileName", &form.file_name),
    ] {
        if value.as_deref().is_some_and(|v| v.contains('\0')) {
            return Err(crate::web::extract::nul_error(field));
        }
    }
    let mut errors = Vec::new();
    let batch_id = match form.batch_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => {
            errors.push(FieldError::new("batchId", "choose a batch"));
            None
        }
        Some(s) => match s.parse::<Uuid>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(FieldError::new("batchId", "no such batch"));
                None
            }
        },
    };
    let mode = match form.mode.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Some(Mode::AllOrNothing),
        Some(m) => {
            let mode = Mode::parse(m);
            if mode.is_none() {
                errors.push(FieldError::new("mode", "must be all_or_nothing or valid_rows"));
            }
            mode
        }
    };
    let data = form.data.filter(|d| !d.is_empty());
    if data.is_none() {
        errors.push(FieldError::new("file", "choose a CSV file"));
    }
    let (Some(batch_id), Some(mode), Some(data), true) = (batch_id, mode, data, errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let file_name = import::clip(
        form.file_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or("upload.csv"),
    );
    let settings = state.settings.get();
    let mut unit = state.unit().await?;
    let summary = import::import(
        &mut unit,
        &settings.0,
        Upload {
            batch_id,
            file_name: &file_name,
            mode,
            data: &data,
        },
        acting.actor,
        acting.meta.clone(),
        acting.now,
        &mut |_| {},
    )
    .await?;
    unit.commit().await?;
    Ok(summary)
}

pub fn report_url(id: Uuid) -> String {
    format!("/api/v1/admin/promo-codes/imports/{id}/errors.csv")
}

async fn describe(state: &AppState, s: Summary) -> Result<ImportAnswer, AppError> {
    let mut conn = state.pool.acquire().await?;
    let rejected_lines = import::errors(&mut conn, s.id, INLINE_ERRORS).await?;
    Ok(ImportAnswer {
        error_report: (s.rejected > 0).then(|| report_url(s.id)),
        import: s,
        rejected_lines,
    })
}

/// 201 with the summary when codes were imported; 422 (problem details naming `file`, plus the
/// summary and the report link) when nothing was.
async fn import_handler(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    req: Request,
) -> Result<Response, AppError> {
    let form = read_upload(req, &state).await?;
    let s = run(&state, &who, &acting, form).await?;
    let answer = describe(&state, s.clone()).await?;
    if s.status != ImportStatus::Rejected {
        return Ok((StatusCode::CREATED, Json(answer)).into_response());
    }
    let mut body = serde_json::to_value(answer).map_err(|e| AppError::Internal(e.into()))?;
    let message = if s.mode == Mode::AllOrNothing && s.rejected > 0 {
        format!(
            "{} of {} line(s) rejected; nothing was imported (all or nothing)",
            s.rejected, s.total_rows
        )
    } else {
        format!("all {} line(s) rejected; nothing was imported", s.total_rows)
    };
    if let Value::Object(m) = &mut body {
        m.insert("type".into(), json!("urn:mbelyco:problem:validation"));
        m.insert("title".into(), json!("Some lines are not valid"));
        m.insert("status".into(), json!(422));
        m.insert("detail".into(), json!(format!("{message}. Download the error report.")));
        m.insert("errors".into(), json!([{"field": "file", "message": message}]));
    }
    let mut res = (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    Ok(res)
}

async fn summary(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<ImportAnswer>, AppError> {
    let s = {
        let mut conn = state.pool.acquire().await?;
        import::get(&mut conn, id).await?
    };
    Ok(Json(describe(&state, s).await?))
}

/// The rejected lines as CSV (`line,value,reason`), streamed in line order through
/// [`crate::csv_out::CsvOut`]: the rejected values are what the uploader typed, so a cell a
/// spreadsheet would run as a formula is defused.
async fn errors_csv(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let s = {
        let mut conn = state.pool.acquire().await?;
        import::get(&mut conn, id).await?
    };
    let (pool, import_id) = (state.pool.clone(), s.id);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        let result = async {
            let mut conn = pool.acquire().await?;
            let mut rows = sqlx::query_as::<_, (i64, String, String)>(
                "select line::int8, value, reason from code_import_errors where import_id = $1 order by line",
            )
            .bind(import_id)
            .fetch(&mut *conn);
            let mut w = crate::csv_out::CsvOut::new();
            w.row(["line", "value", "reason"])?;
            let mut n = 0usize;
            while let Some((line, value, reason)) = rows.next().await.transpose()? {
                w.row([line.to_string(), value, reason])?;
                n += 1;
                if n % 500 == 0 && tx.send(Ok(w.take()?.into())).await.is_err() {
                    return Ok(());
                }
            }
            let _ = tx.send(Ok(w.take()?.into())).await;
            Ok::<_, sqlx::Error>(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "import error report failed mid-stream");
            let _ = tx.send(Err(std::io::Error::other("report failed"))).await;
        }
    });
    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|c| (c, rx))
    }));
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"import-{}-errors.csv\"", s.id)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}
