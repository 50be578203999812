//! The audit log viewer in the admin shell: `/admin/audit` (filters and search that work without
//! script, each refusal beside its field; keyset pages; the chain panel with "verify now" and
//! its progress; the export for holders of `audit.logs.export`) and `/admin/audit/{id}` (one row:
//! its fields, its before/after difference, its chain fields, a link to the entity and to the
//! entity's history). The API's use cases, behind forms.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use super::panel::{self, ChainStatus};
use super::query::{self, AuditDetail, AuditRow, FilterQuery};
use crate::access::Permission::*;
use crate::clock::local_display;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{Path, Query};
use crate::web::pages::{html, FieldErrors};
use crate::web::paging::Paging;
use crate::web::routes::{with_query, Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/audit", Access::Permission(AuditLogsRead), list_page),
        route!(POST "/admin/audit/verify", Access::Permission(AuditLogsConfigure), verify_form),
        route!(GET "/admin/audit/{id}", Access::Permission(AuditLogsRead), detail_page),
    ]
}

/// The filter form's values as typed, so a refused or paged list shows them again.
#[derive(Default)]
struct Values {
    actor: String,
    action: String,
    entity_type: String,
    entity_id: String,
    from: String,
    to: String,
    ip: String,
    request_id: String,
    outcome: String,
    q: String,
}

impl Values {
    fn of(q: &FilterQuery) -> Self {
        let v = |s: &Option<String>| s.clone().unwrap_or_default();
        Values {
            actor: v(&q.actor),
            action: v(&q.action),
            entity_type: v(&q.entity_type),
            entity_id: v(&q.entity_id),
            from: v(&q.from),
            to: v(&q.to),
            ip: v(&q.ip),
            request_id: v(&q.request_id),
            outcome: v(&q.outcome),
            q: v(&q.q),
        }
    }
}

/// One row as the list shows it.
struct Line {
    id: Uuid,
    time: String,
    actor: String,
    action: String,
    entity: String,
    ip: String,
    sealed: bool,
}

impl Line {
    fn of(r: &AuditRow) -> Self {
        Line {
            id: r.id,
            time: local_display(r.created_at),
            actor: r.actor_email.clone().unwrap_or_else(|| r.actor_type.clone()),
            action: r.action.clone(),
            entity: match &r.entity_id {
                Some(id) => format!("{} {id}", r.entity_type),
                None => r.entity_type.clone(),
            },
            ip: r.ip.clone().unwrap_or_default(),
            sealed: r.chain_seq.is_some(),
        }
    }
}

/// The chain panel as the page shows it.
struct Chain {
    sealed: String,
    head: String,
    unsealed: i64,
    last: String,
    intact: Option<bool>,
    running: bool,
    percent: i64,
    done: i64,
    total: i64,
}

impl Chain {
    fn of(s: &ChainStatus) -> Self {
        let running = s
            .job
            .as_ref()
            .is_some_and(|j| matches!(j.status.as_str(), "queued" | "running"));
        let job = s.job.as_ref();
        Chain {
            sealed: match (s.sealed_seq, s.sealed_at) {
                (Some(n), Some(t)) => format!("row {n} (sealed {})", local_display(t)),
                _ => "nothing sealed yet".to_owned(),
            },
            head: s.head_hash.clone().unwrap_or_else(|| "—".to_owned()),
            unsealed: s.unsealed,
            last: match &s.last_verification {
                None => "never verified from the panel".to_owned(),
                Some(v) if v.intact => format!("{}: intact, {} rows checked", local_display(v.finished_at), v.checked),
                Some(v) => format!(
                    "{}: BROKEN at chain position {} — {}",
                    local_display(v.finished_at),
                    v.break_seq.unwrap_or_default(),
                    v.reason.clone().unwrap_or_default()
                ),
            },
            intact: s.last_verification.as_ref().map(|v| v.intact),
            running,
            percent: s.percent.unwrap_or(0.0) as i64,
            done: job.and_then(|j| j.progress_done).unwrap_or(0),
            total: job.and_then(|j| j.progress_total).unwrap_or(0),
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct ListPage {
    shell: Shell,
    errors: FieldErrors,
    rows: Vec<Line>,
    v: Values,
    next: Option<String>,
    first: Option<String>,
    filter_pairs: Vec<(&'static str, String)>,
    chain: Chain,
    can_export: bool,
    can_verify: bool,
}

impl ListPage {
    fn error_for(&self, field: &str) -> Option<String> {
        self.errors.get(field)
    }
}

async fn list_page(
    State(state): State<AppState>,
    who: Principal,
    paging: Result<Paging, AppError>,
    Query(q): Query<FilterQuery>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let mut conn = state.pool.acquire().await?;
    let filter_pairs = q.pairs();
    let had_cursor = paging.as_ref().is_ok_and(|p| p.cursor.is_some());
    let parsed = paging.and_then(|p| Ok((q.parse()?, p.position::<query::Position>()?, p)));
    let (rows, next, errors) = match parsed {
        Ok((f, after, paging)) => {
            let rows = query::list(&mut conn, &f, after, paging.fetch()).await?;
            let page = paging.page(rows, |r| (r.created_at, r.seq));
            (page.data, page.next, FieldErrors::default())
        }
        Err(e) => (Vec::new(), None, FieldErrors::of(e)?),
    };
    let chain = Chain::of(&panel::status(&mut conn).await?);
    drop(conn);
    let status = if errors.0.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let here = with_query("/admin/audit", &filter_pairs);
    let page = ListPage {
        shell: Shell::new(&who, "/admin/audit", &settings.0.branding.company_name),
        errors,
        rows: rows.iter().map(Line::of).collect(),
        v: Values::of(&q),
        next,
        first: had_cursor.then_some(here),
        filter_pairs,
        chain,
        can_export: who.can(AuditLogsExport),
        can_verify: who.can(AuditLogsConfigure),
    };
    html(status, &page)
}

/// "Verify now": queues the job, then back to the panel, which follows its progress.
async fn verify_form(State(state): State<AppState>, acting: Acting) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    panel::request(&mut unit, &acting).await?;
    unit.commit().await?;
    Ok(Redirect::to("/admin/audit#chain").into_response())
}

/// One field of the difference as the page shows it.
struct Change {
    field: String,
    before: String,
    after: String,
    changed: bool,
}

#[derive(Template)]
#[template(path = "audit_row.html")]
struct DetailPage {
    shell: Shell,
    d: AuditDetail,
    time: String,
    sealed_at: String,
    changes: Vec<Change>,
    /// The details as a table (metadata, top-level keys).
    metadata: Vec<(String, String)>,
    history: Option<String>,
    /// Every row written under the same request.
    request_href: Option<String>,
}

fn shown(v: &Option<serde_json::Value>) -> String {
    match v {
        None => "—".to_owned(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

async fn detail_page(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let mut conn = state.pool.acquire().await?;
    let d = query::detail(&mut conn, id).await?;
    drop(conn);
    let metadata = match &d.metadata {
        serde_json::Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), shown(&Some(v.clone())))).collect(),
        serde_json::Value::Null => Vec::new(),
        other => vec![("value".to_owned(), other.to_string())],
    };
    let history = d.row.entity_id.as_ref().map(|e| {
        with_query(
            "/admin/audit",
            &[("entityType", d.row.entity_type.clone()), ("entityId", e.clone())],
        )
    });
    let request_href = d
        .row
        .request_id
        .as_ref()
        .map(|r| with_query("/admin/audit", &[("requestId", r.clone())]));
    let page = DetailPage {
        request_href,
        shell: Shell::new(&who, "/admin/audit", &settings.0.branding.company_name),
        time: local_display(d.row.created_at),
        sealed_at: d.sealed_at.map(local_display).unwrap_or_else(|| "not yet".to_owned()),
        changes: d
            .changes
            .iter()
            .map(|c| Change {
                field: c.field.clone(),
                before: shown(&c.before),
                after: shown(&c.after),
                changed: c.changed,
            })
            .collect(),
        metadata,
        history,
        d,
    };
    html(StatusCode::OK, &page)
}

/// The "History" link an entity's page shows to holders of `audit.logs.read`.
pub fn history_link(who: &Principal, entity_type: &str, entity_id: impl ToString) -> Option<String> {
    who.can(AuditLogsRead).then(|| {
        with_query(
            "/admin/audit",
            &[
                ("entityType", entity_type.to_owned()),
                ("entityId", entity_id.to_string()),
            ],
        )
    })
}
