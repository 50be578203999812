//! Reconciliation pages in the admin shell: start a run (with MoMo's statement, optionally),
//! follow its progress live, read the counts per kind (inline SVG) and the discrepancy list with
//! filters, open one item's three-way view, resolve it with a note, download the CSV.

mod item;

use crate::web::extract::{Path, Query};
use askama::Template;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use super::api::{clean_file_name, field_stream, ItemsQuery};
use super::model::Kind;
use super::service::{self, StartRequest};
use super::statement::MAX_STATEMENT_BYTES;
use super::views::{self, ItemFilter, KindCount, RunView, StatementView};
use crate::access::Permission::{self, *};
use crate::clock::{kigali, local_display, local_display_or};
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::FormPairs;
use crate::web::routes::{with_query, Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

const HOME: &str = "/admin/disbursements/reconcile";
const PER_PAGE: i64 = 50;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/disbursements/reconcile", Access::Permission(DisbursementsRead), home),
        RouteSpec {
            method: Method::POST,
            path: "/admin/disbursements/reconcile",
            access: Access::Permission(DisbursementsReconcile),
            router: axum::routing::post(start).layer(DefaultBodyLimit::max(MAX_STATEMENT_BYTES)),
            doc: None,
        },
        route!(GET "/admin/disbursements/reconcile/{id}", Access::Permission(DisbursementsRead), run_page),
        route!(GET "/admin/disbursements/reconcile/items/{id}", Access::Permission(DisbursementsRead), item::item_page),
        route!(POST "/admin/disbursements/reconcile/items/{id}/resolve", Access::Permission(DisbursementsReconcile), item::resolve),
    ]
}

use crate::web::pages::html;

fn shell(state: &AppState, who: &Principal) -> Shell {
    Shell::new(who, HOME, &state.settings.get().0.branding.company_name)
}

fn period(from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>) -> String {
    let k = kigali();
    let (f, t) = (from.with_timezone(&k), to.with_timezone(&k));
    // whole Kigali days read as days, the end day included
    if f.time() == chrono::NaiveTime::MIN && t.time() == chrono::NaiveTime::MIN {
        let last = t.date_naive().pred_opt().unwrap_or(t.date_naive());
        if last == f.date_naive() {
            return f.format("%Y-%m-%d").to_string();
        }
        return format!("{} – {}", f.format("%Y-%m-%d"), last.format("%Y-%m-%d"));
    }
    format!("{} – {}", local_display(from), local_display(to))
}

struct RunLine {
    id: Uuid,
    created: String,
    period: String,
    trigger: String,
    source: String,
    status: String,
    checked: i32,
    discrepancies: i32,
    by: String,
}

impl RunLine {
    fn of(r: &RunView) -> Self {
        Self {
            id: r.id,
            created: local_display(r.created_at),
            period: period(r.period_from, r.period_to),
            trigger: r.trigger.clone(),
            source: r.source.replace('_', " "),
            status: r.status.to_string(),
            checked: r.checked_count,
            discrepancies: r.discrepancy_count,
            by: r.started_by.clone().unwrap_or_else(|| "schedule".to_owned()),
        }
    }
}

struct StatementLine {
    id: Uuid,
    label: String,
}

fn statement_label(s: &StatementView) -> String {
    format!(
        "{} — {} lines, {} to {} (uploaded {})",
        s.file_name,
        s.line_count,
        local_display_or(s.first_at, "?"),
        local_display_or(s.last_at, "?"),
        local_display(s.created_at)
    )
}

#[derive(Template)]
#[template(path = "reconcile.html")]
struct HomePage {
    shell: Shell,
    can_start: bool,
    runs: Vec<RunLine>,
    statements: Vec<StatementLine>,
    from: String,
    to: String,
    query_momo: bool,
    momo_configured: bool,
    max_mb: usize,
    error: Option<String>,
}

async fn render_home(
    state: &AppState,
    who: &Principal,
    status: StatusCode,
    form: Option<&StartRequest>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let runs = views::runs(&mut conn, None, 50).await?;
    let statements = views::statements(&mut conn, None, 20).await?;
    let yesterday = (state.clock.now().with_timezone(&kigali()).date_naive() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let settings = state.settings.get();
    let page = HomePage {
        shell: shell(state, who),
        can_start: who.can(DisbursementsReconcile),
        runs: runs.iter().map(RunLine::of).collect(),
        statements: statements
            .iter()
            .map(|s| StatementLine {
                id: s.id,
                label: statement_label(s),
            })
            .collect(),
        from: form.and_then(|f| f.from.clone()).unwrap_or_else(|| yesterday.clone()),
        to: form.and_then(|f| f.to.clone()).unwrap_or(yesterday),
        query_momo: form.and_then(|f| f.query_momo).unwrap_or(true),
        momo_configured: crate::disbursement::momo_client(&settings.0.payments).is_some(),
        max_mb: MAX_STATEMENT_BYTES / (1024 * 1024),
        error,
    };
    html(status, &page)
}

async fn home(State(state): State<AppState>, who: Principal) -> Result<Response, AppError> {
    render_home(&state, &who, StatusCode::OK, None, None).await
}

/// The start form (multipart: `from`, `to`, `queryMomo`, `statementId`, then `file`): stores the
/// statement when a file came, starts the run, opens its page.
async fn start(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    req: Request,
) -> Result<Response, AppError> {
    let mut form = StartRequest {
        query_momo: Some(false),
        ..StartRequest::default()
    };
    let is_multipart = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if is_multipart {
        let mut mp = Multipart::from_request(req, &state)
            .await
            .map_err(|e| AppError::BadRequest(format!("the form could not be read: {e}")))?;
        let bad = |e: axum::extract::multipart::MultipartError| {
            AppError::BadRequest(format!("the form could not be read: {e}"))
        };
        while let Some(field) = mp.next_field().await.map_err(bad)? {
            match field.name().unwrap_or("") {
                "from" => form.from = Some(field.text().await.map_err(bad)?),
                "to" => form.to = Some(field.text().await.map_err(bad)?),
                "queryMomo" => form.query_momo = Some(field.text().await.map_err(bad)? == "on"),
                "statementId" => form.statement_id = Some(field.text().await.map_err(bad)?),
                "file" => {
                    if field.file_name().is_none_or(str::is_empty) {
                        continue;
                    }
                    let name = clean_file_name(field.file_name());
                    let mut conn = state.pool.acquire().await?;
                    crate::web::quota::upload(&mut conn, &state, who.user_id).await?;
                    let stored =
                        service::store_statement(&mut conn, Box::pin(field_stream(field)), &name, &acting).await;
                    match stored {
                        Ok(id) => form.statement_id = Some(id.to_string()),
                        Err(e) => {
                            let message = service::upload_message(&e);
                            return render_home(
                                &state,
                                &who,
                                StatusCode::UNPROCESSABLE_ENTITY,
                                Some(&form),
                                Some(message),
                            )
                            .await;
                        }
                    }
                }
                _ => {}
            }
        }
    } else {
        let pairs = FormPairs::from_request(req, &state).await?;
        form.from = pairs.get("from").map(str::to_owned);
        form.to = pairs.get("to").map(str::to_owned);
        form.query_momo = Some(pairs.get("queryMomo") == Some("on"));
        form.statement_id = pairs.get("statementId").map(str::to_owned);
    }
    match super::api::start(&state, &acting, &form).await {
        Ok(id) => Ok(Redirect::to(&format!("{HOME}/{id}")).into_response()),
        Err(AppError::Validation(errors)) => {
            let message = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ");
            render_home(
                &state,
                &who,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&form),
                Some(message),
            )
            .await
        }
        Err(AppError::Conflict { message, .. }) => {
            render_home(&state, &who, StatusCode::CONFLICT, Some(&form), Some(message)).await
        }
        Err(e) => Err(e),
    }
}

/// One bar of the counts chart.
struct Bar {
    y: i64,
    w: i64,
    label: &'static str,
    count: i64,
    class: &'static str,
    text_x: i64,
}

const CHART_LEFT: i64 = 210;
const CHART_WIDTH: i64 = 300;
const ROW: i64 = 26;

fn bar_class(k: Kind) -> &'static str {
    match k {
        Kind::Match => "bar-match",
        k if k.is_orphan() || k == Kind::MissingHere => "bar-orphan",
        Kind::Unchecked => "bar-unchecked",
        _ => "bar-mismatch",
    }
}

fn bars(counts: &[KindCount]) -> Vec<Bar> {
    let max = counts.iter().map(|c| c.count).max().unwrap_or(0).max(1);
    counts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let w = if c.count > 0 {
                (c.count * CHART_WIDTH / max).max(2)
            } else {
                0
            };
            Bar {
                y: i as i64 * ROW + 4,
                w,
                label: c.label,
                count: c.count,
                class: bar_class(c.kind),
                text_x: CHART_LEFT + w + 6,
            }
        })
        .collect()
}

struct ItemRowView {
    id: Uuid,
    kind: String,
    kind_label: &'static str,
    msisdn: String,
    amount: String,
    our_status: String,
    momo_status: String,
    reference: String,
    summary: String,
    resolved: bool,
}

#[derive(Template)]
#[template(path = "reconcile_run.html")]
struct RunPage {
    shell: Shell,
    run: RunView,
    period: String,
    created: String,
    finished: String,
    running: bool,
    job_id: i64,
    percent: i64,
    done: i64,
    total: i64,
    counts: Vec<KindCount>,
    bars: Vec<Bar>,
    chart_height: i64,
    chart_left: i64,
    items: Vec<ItemRowView>,
    total_items: i64,
    kinds: Vec<(&'static str, &'static str)>,
    kind: String,
    state: String,
    q: String,
    page: i64,
    prev: Option<String>,
    next: Option<String>,
    can_export: bool,
    api: String,
}

fn money(amount: Option<i64>) -> String {
    amount.map_or_else(String::new, |a| {
        let digits = a.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    })
}

/// The page's `?page=` (the API pages with a cursor instead).
#[derive(serde::Deserialize, Default)]
struct PageNumber {
    page: Option<i64>,
}

async fn run_page(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<ItemsQuery>,
    Query(n): Query<PageNumber>,
) -> Result<Response, AppError> {
    let filter = ItemFilter::parse(q.kind.as_deref(), q.state.as_deref(), q.q.as_deref())?;
    let page = n.page.unwrap_or(1).max(1);
    let mut conn = state.pool.acquire().await?;
    let run = views::run(&mut conn, id).await?;
    let counts = views::kind_counts(&mut conn, id).await?;
    let (items, total_items) =
        views::items(&mut conn, id, &filter, PER_PAGE, (page - 1).saturating_mul(PER_PAGE)).await?;
    let job = match run.job_id {
        Some(j) => crate::jobs::get(&mut conn, j).await.ok(),
        None => None,
    };
    let running = run.status == "running";
    let (done, total) = job.as_ref().map_or((0, 0), |j| {
        (j.progress_done.unwrap_or(0), j.progress_total.unwrap_or(0))
    });
    let percent = if running {
        job.as_ref().and_then(|j| j.percent()).unwrap_or(0.0) as i64
    } else {
        100
    };
    let kind = q.kind.clone().unwrap_or_default();
    let state_filter = q.state.clone().unwrap_or_default();
    let text = q.q.clone().unwrap_or_default();
    let link = |p: i64| {
        let page = p.to_string();
        let pairs = [("kind", &kind), ("state", &state_filter), ("q", &text), ("page", &page)];
        with_query(&format!("{HOME}/{id}"), &pairs)
    };
    let pages = (total_items + PER_PAGE - 1) / PER_PAGE;
    let prev = (page > 1).then(|| link(page - 1));
    let next = (page < pages).then(|| link(page + 1));
    let bars = bars(&counts);
    let view = RunPage {
        shell: shell(&state, &who),
        period: period(run.period_from, run.period_to),
        created: local_display(run.created_at),
        finished: local_display_or(run.finished_at, "—"),
        running,
        job_id: run.job_id.unwrap_or(0),
        percent,
        done,
        total,
        chart_height: bars.len() as i64 * ROW + 8,
        chart_left: CHART_LEFT,
        bars,
        counts,
        items: items
            .into_iter()
            .map(|i| {
                let k = Kind::parse(&i.kind).unwrap_or(Kind::Match);
                ItemRowView {
                    id: i.id,
                    kind_label: k.label(),
                    kind: i.kind,
                    msisdn: i.msisdn.unwrap_or_default(),
                    amount: money(i.amount),
                    our_status: i.our_status.unwrap_or_else(|| "—".into()),
                    momo_status: i.momo_status.unwrap_or_else(|| "—".into()),
                    reference: i.reference_id.map(|r| r.to_string()).unwrap_or_default(),
                    summary: i.summary.unwrap_or_default(),
                    resolved: i.resolved_at.is_some(),
                }
            })
            .collect(),
        total_items,
        kinds: Kind::ALL.iter().map(|k| (k.as_str(), k.label())).collect(),
        kind,
        state: state_filter.clone(),
        q: text.clone(),
        page,
        prev,
        next,
        can_export: who.can(DisbursementsExport),
        api: format!("{}/{id}", super::api::BASE),
        run,
    };
    html(StatusCode::OK, &view)
}
