//! Batch pages: list with filters and a create form, and the batch page with statistics, the
//! live generation progress bar, downloads and their chain of custody.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::{Filter, NewBatch};
use crate::access::Permission::*;
use crate::audit::RequestMeta;
use crate::clock::{local_display, local_display_or};
use crate::error::AppError;
use crate::route;
use crate::web::auth::Principal;
use crate::web::extract::FormPairs;
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/batches", Access::Permission(BatchesRead), list_page),
        route!(POST "/admin/batches", Access::Permission(BatchesCreate), create),
        route!(GET "/admin/batches/{id}", Access::Permission(BatchesRead), batch_page),
    ]
}

fn html<T: Template>(status: StatusCode, t: &T) -> Result<Response, AppError> {
    Ok((status, Html(t.render().map_err(|e| AppError::Internal(e.into()))?)).into_response())
}

fn rwf(amount: i64) -> String {
    let digits = amount.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out} RWF")
}

struct Line {
    id: Uuid,
    number: i64,
    name: String,
    codes: i32,
    amount: String,
    expires: String,
    status: String,
}

#[derive(Template)]
#[template(path = "batches.html")]
struct ListPage {
    shell: Shell,
    batches: Vec<Line>,
    total: i64,
    q: String,
    status: String,
    can_create: bool,
    max_codes: u32,
    min_amount: i64,
    max_amount: i64,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
}

async fn render_list(
    state: &AppState,
    who: &Principal,
    q: ListQuery,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let f = Filter {
        status: q.status.clone().filter(|s| !s.is_empty()),
        q: q.q.clone(),
        sort: None,
        page: 0,
        per_page: 200,
    };
    let mut conn = state.pool.acquire().await?;
    let (rows, total) = super::list(&mut conn, &f).await?;
    let batches = rows
        .into_iter()
        .map(|b| Line {
            id: b.id,
            number: b.batch_number,
            name: b.name,
            codes: b.total_codes,
            amount: rwf(b.amount_per_code),
            expires: local_display(b.expiration_date),
            status: b.status,
        })
        .collect();
    let page = ListPage {
        shell: Shell::new(who, "/admin/batches", &settings.0.branding.company_name),
        batches,
        total,
        q: q.q.unwrap_or_default(),
        status: q.status.unwrap_or_default(),
        can_create: who.can(BatchesCreate) && who.can(PromoCodesGenerate),
        max_codes: settings.0.business.batch_management.max_codes_per_batch,
        min_amount: settings.0.payments.min_amount,
        max_amount: settings.0.payments.max_amount,
        error,
    };
    html(status, &page)
}

async fn list_page(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    render_list(&state, &who, q, StatusCode::OK, None).await
}

async fn create(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    form: FormPairs,
) -> Result<Response, AppError> {
    who.require(PromoCodesGenerate)?;
    let number = |field: &str| form.get(field).and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(0);
    let new = NewBatch {
        name: form.get("name").unwrap_or("").to_owned(),
        description: form.get("description").unwrap_or("").to_owned(),
        total_codes: number("total_codes"),
        amount_per_code: number("amount_per_code"),
        expires_at: form.get("expires_at").unwrap_or("").to_owned(),
        assigned_user_id: None,
        generate: true,
    };
    let settings = state.settings.get();
    let mut tx = state.pool.begin().await?;
    match super::create(&mut tx, &settings.0, &new, who.actor(), meta, state.clock.now()).await {
        Ok((batch, _)) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/admin/batches/{}", batch.id)).into_response())
        }
        Err(e) => match crate::web::pages::refusal_message(&e) {
            Some(m) => {
                render_list(
                    &state,
                    &who,
                    ListQuery::default(),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(m),
                )
                .await
            }
            None => Err(e),
        },
    }
}

struct JobLine {
    id: i64,
    percent: i64,
    done: i64,
    total: i64,
    status: String,
}

#[derive(Template)]
#[template(path = "batch.html")]
struct BatchPage {
    shell: Shell,
    batch: super::Batch,
    stats: super::Stats,
    job: Option<JobLine>,
    amount: String,
    expires: String,
    rate: String,
    paid: String,
    pending: String,
    show_money: bool,
    can_download: bool,
    can_import: bool,
    downloads: Vec<(String, String, String, String, i32)>,
}

async fn batch_page(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let batch = super::get(&mut conn, id).await?;
    let stats = super::stats(&mut conn, id).await?;
    let job_id: Option<i64> =
        sqlx::query_scalar("select id from jobs where kind = $1 and payload->>'batchId' = $2 order by id desc limit 1")
            .bind(crate::codes::generate::KIND)
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    let job = match job_id {
        Some(j) => {
            let v = crate::jobs::get(&mut conn, j).await?;
            // a finished generation needs no bar
            (v.status != "succeeded").then(|| JobLine {
                id: v.id,
                percent: v.percent().unwrap_or(0.0) as i64,
                done: v.progress_done.unwrap_or(0),
                total: v.progress_total.unwrap_or(i64::from(batch.total_codes)),
                status: v.status,
            })
        }
        None => None,
    };
    let downloads = super::downloads(&mut conn, id)
        .await?
        .into_iter()
        .map(|d| {
            let range = match (d.serial_from, d.serial_to) {
                (None, None) => "all".to_owned(),
                (f, t) => format!(
                    "{}–{}",
                    f.unwrap_or(1),
                    t.map_or_else(|| "last".to_owned(), |t| t.to_string())
                ),
            };
            (local_display(d.at), d.by.unwrap_or_default(), d.format, range, d.codes)
        })
        .collect();
    let settings = state.settings.get();
    let page = BatchPage {
        shell: Shell::new(&who, "/admin/batches", &settings.0.branding.company_name),
        amount: rwf(batch.amount_per_code),
        expires: local_display_or(Some(batch.expiration_date), ""),
        rate: format!("{:.1} %", stats.redemption_rate * 100.0),
        paid: rwf(stats.amount_paid),
        pending: rwf(stats.amount_pending),
        show_money: who.can(DisbursementsRead),
        can_download: who.can(PromoCodesDownload),
        can_import: who.can(PromoCodesImport),
        batch,
        stats,
        job,
        downloads,
    };
    html(StatusCode::OK, &page)
}
