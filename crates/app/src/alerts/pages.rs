//! The alerts console in the admin shell: `/admin/alerts` (filters and search that work without
//! script, keyset pages, quick actions, the CSV export for holders of `alerts.export`, a link to
//! the fraud review queue) and `/admin/alerts/{id}` (the alert, what it is about, its timeline,
//! and the forms of the lifecycle's commands). The forms run the API's use cases
//! ([`super::api_admin::run`]); a refusal is shown beside its field and changes nothing.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::console::{self, AlertDetail, AlertRow, FilterQuery, SEVERITIES, STATES};
use super::lifecycle::{Command, Status, SNOOZE_HOURS};
use crate::access::Permission::*;
use crate::clock::local_display;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{FormPairs, Path, Query};
use crate::web::pages::{html, refusal_message};
use crate::web::paging::Paging;
use crate::web::routes::{with_query, Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/alerts", Access::Permission(AlertsRead), list_page),
        route!(GET "/admin/alerts/{id}", Access::Permission(AlertsRead), detail_page),
        route!(POST "/admin/alerts/{id}/acknowledge", Access::Permission(AlertsAcknowledge), acknowledge_form),
        route!(POST "/admin/alerts/{id}/resolve", Access::Permission(AlertsAcknowledge), resolve_form),
        route!(POST "/admin/alerts/{id}/escalate", Access::Permission(AlertsEscalate), escalate_form),
        route!(POST "/admin/alerts/{id}/snooze", Access::Permission(AlertsAcknowledge), snooze_form),
    ]
}

/// What the reader may do with alerts.
struct Can {
    ack: bool,
    escalate: bool,
    export: bool,
    fraud: bool,
}

impl Can {
    fn of(who: &Principal) -> Self {
        Can {
            ack: who.can(AlertsAcknowledge),
            escalate: who.can(AlertsEscalate),
            export: who.can(AlertsExport),
            fraud: who.can(FraudAlertsView),
        }
    }
}

/// One alert as the list and the detail page show it.
struct Line {
    id: Uuid,
    kind: String,
    severity: String,
    title: String,
    body: String,
    /// `open`, `acknowledged`, `snoozed` or `resolved`.
    state: &'static str,
    raised: String,
    last_seen: String,
    occurrences: i32,
    escalation_level: i32,
    open: bool,
    unresolved: bool,
    snoozed_until: String,
}

impl Line {
    fn of(a: &AlertRow, now: DateTime<Utc>) -> Self {
        let snoozed = a.snoozed(now);
        Line {
            id: a.id,
            kind: a.kind.clone(),
            severity: a.severity.clone(),
            title: a.title.clone(),
            body: a.body.clone(),
            state: if snoozed { "snoozed" } else { a.status.as_str() },
            raised: local_display(a.created_at),
            last_seen: local_display(a.last_seen_at),
            occurrences: a.occurrences,
            escalation_level: a.escalation_level,
            open: a.status == Status::Open,
            unresolved: a.status != Status::Resolved,
            snoozed_until: a
                .snoozed_until
                .filter(|_| snoozed)
                .map(local_display)
                .unwrap_or_default(),
        }
    }
}

/// The filter form's values as typed, so a refused or paged list shows them again.
struct Values {
    kind: String,
    severity: String,
    state: String,
    from: String,
    to: String,
    q: String,
}

impl Values {
    fn of(q: &FilterQuery) -> Self {
        let v = |s: &Option<String>| s.clone().unwrap_or_default();
        Values {
            kind: v(&q.kind),
            severity: v(&q.severity),
            state: v(&q.state),
            from: v(&q.from),
            to: v(&q.to),
            q: v(&q.q),
        }
    }
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct ListPage {
    shell: Shell,
    error: Option<String>,
    rows: Vec<Line>,
    v: Values,
    states: &'static [&'static str],
    severities: &'static [&'static str],
    kinds: Vec<String>,
    next: Option<String>,
    first: Option<String>,
    back: String,
    filter_pairs: Vec<(&'static str, String)>,
    can: Can,
}

async fn list_page(
    State(state): State<AppState>,
    who: Principal,
    paging: Result<Paging, AppError>,
    Query(q): Query<FilterQuery>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let now = state.clock.now();
    let audiences = super::audiences(who.permissions.iter());
    let mut conn = state.pool.acquire().await?;
    let kinds: Vec<String> =
        sqlx::query_scalar("select distinct kind from alerts where audience = any($1) order by kind limit 100")
            .bind(&audiences)
            .fetch_all(&mut *conn)
            .await?;
    let filter_pairs = q.pairs();
    let had_cursor = paging.as_ref().is_ok_and(|p| p.cursor.is_some());
    let parsed = paging.and_then(|p| Ok((q.parse()?, p.position::<console::Position>()?, p)));
    let (rows, next, error) = match parsed {
        Ok((f, after, paging)) => {
            let rows = console::list(&mut conn, &audiences, &f, after, paging.fetch(), now).await?;
            let page = paging.page(rows, |r| (r.created_at, r.id));
            (page.data, page.next, None)
        }
        Err(e) => (Vec::new(), None, Some(refusal_message(&e).ok_or(e)?)),
    };
    drop(conn);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let here = with_query("/admin/alerts", &filter_pairs);
    let page = ListPage {
        shell: Shell::new(&who, "/admin/alerts", &settings.0.branding.company_name),
        error,
        rows: rows.iter().map(|a| Line::of(a, now)).collect(),
        states: STATES,
        severities: SEVERITIES,
        kinds,
        next,
        first: had_cursor.then(|| here.clone()),
        back: here,
        filter_pairs,
        can: Can::of(&who),
        v: Values::of(&q),
    };
    html(status, &page)
}

#[derive(Template)]
#[template(path = "alert.html")]
struct DetailPage {
    shell: Shell,
    a: Line,
    audience: String,
    subject: Option<String>,
    href: Option<String>,
    acknowledged: Option<String>,
    resolved: Option<String>,
    note: Option<String>,
    escalated: Option<String>,
    timeline: Vec<Step>,
    can: Can,
    notice: Option<String>,
    /// A refusal of one form: `(field, message)`; shown beside that field.
    refused: Option<(String, String)>,
    snooze_hours: [u32; 3],
    typed_note: String,
}

struct Step {
    kind: String,
    at: String,
    who: String,
    note: String,
    detail: String,
}

fn steps(d: &AlertDetail) -> Vec<Step> {
    d.timeline
        .iter()
        .map(|e| {
            let detail = match e.kind.as_str() {
                "delivery" => format!(
                    "{} to {}: {}",
                    e.channel.as_deref().unwrap_or(""),
                    e.recipient.as_deref().unwrap_or(""),
                    e.outcome.as_deref().unwrap_or("")
                ),
                "escalated" => format!("level {}", e.detail["level"]),
                "snoozed" => e.detail["until"]
                    .as_str()
                    .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                    .map(|t| format!("until {}", local_display(t)))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            Step {
                kind: e.kind.clone(),
                at: local_display(e.at),
                who: e.actor.clone().unwrap_or_else(|| "the system".to_owned()),
                note: e.note.clone().unwrap_or_default(),
                detail,
            }
        })
        .collect()
}

async fn render_detail(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    status: StatusCode,
    notice: Option<String>,
    refused: Option<(String, String)>,
    typed_note: String,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let now = state.clock.now();
    let mut conn = state.pool.acquire().await?;
    let d = console::detail(&mut conn, who, id).await?;
    drop(conn);
    let a = &d.alert;
    let page = DetailPage {
        shell: Shell::new(who, "/admin/alerts", &settings.0.branding.company_name),
        audience: a.audience.clone(),
        subject: match (&a.subject_type, &a.subject_id) {
            (Some(t), Some(s)) => Some(format!("{t} {s}")),
            _ => None,
        },
        href: d.href.clone(),
        acknowledged: a.acknowledged_at.map(|t| {
            format!(
                "{} by {}",
                local_display(t),
                a.acknowledged_by.as_deref().unwrap_or("the system")
            )
        }),
        resolved: a.resolved_at.map(|t| {
            format!(
                "{} by {}",
                local_display(t),
                a.resolved_by.as_deref().unwrap_or("the system")
            )
        }),
        note: a.resolution_note.clone(),
        escalated: a
            .escalated_at
            .map(|t| format!("level {} at {}", a.escalation_level, local_display(t))),
        timeline: steps(&d),
        a: Line::of(a, now),
        can: Can::of(who),
        notice,
        refused,
        snooze_hours: SNOOZE_HOURS,
        typed_note,
    };
    html(status, &page)
}

async fn detail_page(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    render_detail(&state, &who, id, StatusCode::OK, None, None, String::new()).await
}

/// Runs a form's command: back to where the form came from (a path of ours), or the refusal
/// beside its field on the alert's page. An alert the reader may not see stays a 404.
async fn submit(
    state: &AppState,
    who: &Principal,
    acting: &Acting,
    id: Uuid,
    form: &FormPairs,
    cmd: Result<Command, AppError>,
) -> Result<Response, AppError> {
    let typed = form.get("note").unwrap_or_default().to_owned();
    let result = match cmd {
        Ok(cmd) => super::api_admin::run(state, who, acting, id, &cmd).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            let back = crate::web::auth::safe_next(form.get("back"));
            let to = if back.starts_with("/admin/") {
                back
            } else {
                format!("/admin/alerts/{id}")
            };
            Ok(Redirect::to(&to).into_response())
        }
        Err(AppError::NotFound(w)) => Err(AppError::NotFound(w)),
        Err(e) => {
            let status = e.status();
            let field = match &e {
                AppError::Validation(errs) => errs.first().map(|f| f.field.clone()),
                AppError::Conflict { field, .. } => field.clone(),
                _ => None,
            };
            let message = refusal_message(&e).ok_or(e)?;
            let refused = Some((field.unwrap_or_else(|| "status".to_owned()), message));
            render_detail(state, who, id, status, None, refused, typed).await
        }
    }
}

async fn acknowledge_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    submit(&state, &who, &acting, id, &form, Ok(Command::Acknowledge)).await
}

async fn resolve_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let cmd = Command::resolve(form.get("note"));
    submit(&state, &who, &acting, id, &form, cmd).await
}

async fn escalate_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let cmd = Command::escalate(form.get("note"));
    submit(&state, &who, &acting, id, &form, cmd).await
}

async fn snooze_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let cmd = Command::snooze(form.get("hours"));
    submit(&state, &who, &acting, id, &form, cmd).await
}
