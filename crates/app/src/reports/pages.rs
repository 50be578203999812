//! `/admin/reports`: choose a report, its Kigali days and a batch, read it (figures, SVG charts,
//! tables), download its tables as CSV, or export it as a file made by a job
//! (`/admin/reports/export/{id}` follows the job with the panel's progress bar).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::export::{self, ExportBody, ExportCmd, ReportFile};
use super::html::{self, ViewBlock, ViewSection};
use super::model::{Kind, Report};
use super::spec::{kigali_day, RangeParams, Viewer};
use crate::access::Permission::*;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{Form, Path, Query};
use crate::web::pages::{html as page, FieldErrors, Notice};
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/reports", Access::Permission(ReportsRead), reports_page),
        route!(POST "/admin/reports/export", Access::Permission(ReportsExport), export_form),
        route!(GET "/admin/reports/export/{id}", Access::Permission(ReportsExport), export_page),
    ]
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageQuery {
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    batch_id: Option<String>,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    shell: Shell,
    kinds: Vec<(&'static str, &'static str, bool)>,
    kind: &'static str,
    from: String,
    to: String,
    batch: String,
    batches: Vec<(String, String, bool)>,
    errors: Vec<(String, String)>,
    can_export: bool,
    formats: Vec<(&'static str, bool)>,
    csv_href: String,
    report: Option<Report>,
    sections: Vec<ViewSection>,
    exports: Vec<ReportFile>,
}

async fn reports_page(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    render(&state, &who, &q, Vec::new()).await
}

/// The page for `q`; `refused` (an export the form asked for, refused) shown beside the fields.
async fn render(
    state: &AppState,
    who: &Principal,
    q: &PageQuery,
    refused: Vec<(String, String)>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let analytics = &settings.0.analytics;
    let viewer = Viewer::of(who);
    let kind = match q.kind.as_deref() {
        None | Some("") => Kind::Batches,
        Some(k) => {
            Kind::parse_builtin(k).ok_or_else(|| AppError::field("kind", "must be batches, financial or engagement"))?
        }
    };
    let mut offered = vec![Kind::Batches];
    if viewer.money {
        offered.push(Kind::Financial);
    }
    offered.push(Kind::Engagement);
    let kinds = offered.iter().map(|k| (k.as_str(), k.title(), *k == kind)).collect();
    let now = state.clock.now();
    let params = RangeParams {
        from: q.from.clone(),
        to: q.to.clone(),
        batch_id: q.batch_id.clone(),
    };
    let mut conn = state.pool.acquire().await?;
    let mut status = StatusCode::OK;
    let mut errors = Vec::new();
    let built = match params.spec(kind, kigali_day(now)) {
        Ok(spec) => super::build_at(&mut conn, &spec, &viewer, now).await.map(|r| (spec, r)),
        Err(e) => Err(e),
    };
    let (report, spec) = match built {
        Ok((spec, r)) => (
            Some(export::job::with_settings(r, analytics.report_include_charts)),
            Some(spec),
        ),
        Err(AppError::Validation(v)) => {
            status = StatusCode::UNPROCESSABLE_ENTITY;
            errors = v.into_iter().map(|f| (f.field, f.message)).collect();
            (None, None)
        }
        Err(e) => return Err(e),
    };
    let batches: Vec<(Uuid, i64, String)> =
        sqlx::query_as("select id, batch_number, name from batches order by batch_number desc limit 500")
            .fetch_all(&mut *conn)
            .await?;
    if !refused.is_empty() {
        status = StatusCode::UNPROCESSABLE_ENTITY;
        for e in refused {
            if !errors.contains(&e) {
                errors.push(e);
            }
        }
    }
    let exports = if who.can(ReportsExport) {
        export::recent(&mut conn, who.user_id, 10).await?
    } else {
        Vec::new()
    };
    let (from, to) = match &spec {
        Some(s) => (s.range.from.to_string(), s.range.to.to_string()),
        None => (q.from.clone().unwrap_or_default(), q.to.clone().unwrap_or_default()),
    };
    let batch = spec
        .as_ref()
        .and_then(|s| s.batch)
        .map(|b| b.to_string())
        .unwrap_or_default();
    let csv_href = crate::web::routes::with_query(
        &format!("/api/v1/admin/reports/{}", kind.as_str()),
        &[
            ("from", Some(from.as_str())),
            ("to", Some(to.as_str())),
            ("batchId", Some(batch.as_str()).filter(|b| !b.is_empty())),
            ("format", Some("csv")),
        ],
    );
    let formats = export::format_choices(analytics);
    let batches = batches
        .into_iter()
        .map(|(id, n, name)| (id.to_string(), format!("{n} {name}"), id.to_string() == batch))
        .collect();
    let sections = report.as_ref().map(html::sections).unwrap_or_default();
    let p = ReportsPage {
        shell: Shell::new(who, "/admin/reports", &settings.0.branding.company_name),
        kinds,
        kind: kind.as_str(),
        from,
        to,
        batch,
        batches,
        errors,
        can_export: who.can(ReportsExport),
        formats,
        csv_href,
        report,
        sections,
        exports,
    };
    page(status, &p)
}

/// An export a page's form asked for (a built-in report here, a saved custom one on its page):
/// queued in one unit of work, then followed on its page; or the fields refused (nothing queued).
pub(super) async fn start_export(
    state: &AppState,
    who: &Principal,
    acting: &Acting,
    cmd: Result<ExportCmd, AppError>,
) -> Result<Result<Response, FieldErrors>, AppError> {
    let settings = state.settings.get();
    let mut unit = state.unit().await?;
    let result = match cmd {
        Ok(cmd) => export::request(&mut unit, &cmd, &Viewer::of(who), &settings.0.analytics, acting).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(file) => {
            unit.commit().await?;
            Ok(Ok(
                Redirect::to(&format!("/admin/reports/export/{}", file.id)).into_response()
            ))
        }
        Err(e) => FieldErrors::of(e).map(Err),
    }
}

/// The export form: queue the job, then follow it on its page.
async fn export_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Form(body): Form<ExportBody>,
) -> Result<Response, AppError> {
    let cmd = body.parse(kigali_day(acting.now), &state.settings.get().0.analytics);
    match start_export(&state, &who, &acting, cmd).await? {
        Ok(res) => Ok(res),
        Err(refused) => {
            let q = PageQuery {
                kind: body.kind.clone(),
                from: body.from.clone(),
                to: body.to.clone(),
                batch_id: body.batch_id.clone(),
            };
            render(
                &state,
                &who,
                &q,
                refused.0.into_iter().map(|f| (f.field, f.message)).collect(),
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "report_export.html")]
struct ExportPage {
    shell: Shell,
    notice: Option<Notice>,
    file: ReportFile,
    api: String,
    working: bool,
    ready: bool,
    percent: i64,
}

async fn export_page(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let mut conn = state.pool.acquire().await?;
    let file = export::visible(&mut conn, id, Viewer::of(&who).money).await?;
    let st = export::status(&mut conn, file).await?;
    let working = matches!(st.file.status, export::FileStatus::Queued | export::FileStatus::Running);
    let expired = st.ready && st.file.expires_at <= state.clock.now();
    let notice = if expired {
        Some(Notice::info("This report has expired; export it again."))
    } else {
        None
    };
    let p = ExportPage {
        shell: Shell::new(&who, "/admin/reports", &settings.0.branding.company_name),
        notice,
        api: format!("/api/v1/admin/reports/export/{}", st.file.id),
        working,
        ready: st.ready && !expired,
        percent: st.percent.floor() as i64,
        file: st.file,
    };
    page(StatusCode::OK, &p)
}
