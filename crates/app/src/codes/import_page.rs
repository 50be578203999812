//! The import page `/admin/codes/import`: choose an active batch, the mode and a CSV file; after
//! an import, its summary (accepted / rejected, the first rejected lines, the report link).
//!
//! Without JavaScript the form posts `multipart/form-data` here (the CSRF token rides in the
//! action's query string, since the token check does not read multipart bodies) and is redirected
//! to `?import={id}`. With JavaScript, `static/app.js` sends the same form to the API with
//! `XMLHttpRequest`, shows the upload progress in a `<progress>` bar, then opens `?import={id}`.

use crate::web::extract::Query;
use askama::Template;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::import::{self, Rejected, MAX_UPLOAD_BYTES};
use super::import_api::{read_upload, report_url, run};
use crate::access::Permission::*;
use crate::clock::local_display;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/codes/import", Access::Permission(PromoCodesImport), page),
        RouteSpec {
            method: Method::POST,
            path: "/admin/codes/import",
            access: Access::Permission(PromoCodesImport),
            router: axum::routing::post(submit).layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
            doc: None,
        },
    ]
}

struct BatchOption {
    id: Uuid,
    label: String,
    selected: bool,
}

struct Outcome {
    id: Uuid,
    batch_id: Uuid,
    batch_name: String,
    file_name: String,
    mode: String,
    status: String,
    total: i32,
    accepted: i32,
    rejected: i32,
    serials: String,
    at: String,
    report: String,
    lines: Vec<Rejected>,
}

#[derive(Template)]
#[template(path = "code_import.html")]
struct ImportPage {
    shell: Shell,
    batches: Vec<BatchOption>,
    mode: String,
    error: Option<String>,
    result: Option<Outcome>,
    max_mb: usize,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PageQuery {
    batch_id: Option<String>,
    import: Option<String>,
}

async fn render(
    state: &AppState,
    who: &Principal,
    selected: Option<Uuid>,
    mode: &str,
    import_id: Option<Uuid>,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let mut conn = state.pool.acquire().await?;
    let result = match import_id {
        None => None,
        Some(id) => {
            let s = import::get(&mut conn, id).await?;
            let batch = crate::batches::get(&mut conn, s.batch_id).await?;
            let lines = import::errors(&mut conn, id, 20).await?;
            Some(Outcome {
                id: s.id,
                batch_id: s.batch_id,
                batch_name: batch.name,
                file_name: s.file_name,
                mode: s.mode.as_str().replace('_', " "),
                status: s.status.to_string(),
                total: s.total_rows,
                accepted: s.accepted,
                rejected: s.rejected,
                serials: match (s.serial_from, s.serial_to) {
                    (Some(f), Some(t)) => format!("{f}–{t}"),
                    _ => "none".to_owned(),
                },
                at: local_display(s.created_at),
                report: report_url(s.id),
                lines,
            })
        }
    };
    let selected = selected.or(result.as_ref().map(|r| r.batch_id));
    let filter = crate::batches::Filter {
        status: Some("active".into()),
        q: None,
        sort: Some("name".into()),
        page: 0,
        per_page: 200,
    };
    let (rows, _) = crate::batches::list(&mut conn, &filter).await?;
    let batches = rows
        .into_iter()
        .map(|b| BatchOption {
            selected: Some(b.id) == selected,
            label: format!(
                "{} — batch {} ({} RWF a code)",
                b.name, b.batch_number, b.amount_per_code
            ),
            id: b.id,
        })
        .collect();
    let page = ImportPage {
        shell: Shell::new(who, "/admin/codes/import", &settings.0.branding.company_name),
        batches,
        mode: mode.to_owned(),
        error,
        result,
        max_mb: MAX_UPLOAD_BYTES / (1024 * 1024),
    };
    let html = page.render().map_err(|e| AppError::Internal(e.into()))?;
    Ok((status, Html(html)).into_response())
}

async fn page(State(state): State<AppState>, who: Principal, Query(q): Query<PageQuery>) -> Result<Response, AppError> {
    let selected = q.batch_id.as_deref().and_then(|s| s.parse().ok());
    let import_id = match q.import.as_deref() {
        None | Some("") => None,
        Some(s) => Some(s.parse().map_err(|_| AppError::NotFound("import"))?),
    };
    render(
        &state,
        &who,
        selected,
        "all_or_nothing",
        import_id,
        StatusCode::OK,
        None,
    )
    .await
}

async fn submit(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    req: Request,
) -> Result<Response, AppError> {
    let form = read_upload(req, &state).await;
    let (selected, mode) = match &form {
        Ok(f) => (
            f.batch_id.as_deref().and_then(|s| s.parse().ok()),
            f.mode.clone().unwrap_or_else(|| "all_or_nothing".into()),
        ),
        Err(_) => (None, "all_or_nothing".into()),
    };
    let outcome = match form {
        Ok(form) => run(&state, &who, &acting, form).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(s) => Ok(Redirect::to(&format!("/admin/codes/import?import={}", s.id)).into_response()),
        Err(e) => match crate::web::pages::refusal_message(&e) {
            Some(m) => {
                render(
                    &state,
                    &who,
                    selected,
                    &mode,
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(m),
                )
                .await
            }
            None => Err(e),
        },
    }
}
