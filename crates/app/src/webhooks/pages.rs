//! `/admin/settings/webhooks`: the endpoints and a form to register one; per endpoint its
//! settings, "send test event", "resume" and its delivery log (keyset-paged). The API's use cases,
//! behind forms that work without JavaScript.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::deliveries::{self, DeliveryView, LogAfter};
use super::endpoints::{self, EndpointInput, EndpointView};
use super::EventType;
use crate::access::Permission::*;
use crate::clock::{local_display, local_display_or};
use crate::error::{AppError, FieldError};
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{FormPairs, Path};
use crate::web::pages::{html, FieldErrors};
use crate::web::paging::{decode, encode};
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

const HOME: &str = "/admin/settings/webhooks";
/// Deliveries per page of the log.
const LOG_PAGE: i64 = 50;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/settings/webhooks", Access::Permission(SystemSettingsRead), index),
        route!(POST "/admin/settings/webhooks", Access::Permission(SystemSettingsUpdate), create),
        route!(GET "/admin/settings/webhooks/{id}", Access::Permission(SystemSettingsRead), detail),
        route!(POST "/admin/settings/webhooks/{id}", Access::Permission(SystemSettingsUpdate), update),
        route!(POST "/admin/settings/webhooks/{id}/test", Access::Permission(SystemSettingsUpdate), test),
        route!(POST "/admin/settings/webhooks/{id}/resume", Access::Permission(SystemSettingsUpdate), resume),
        route!(POST "/admin/settings/webhooks/{id}/delete", Access::Permission(SystemSettingsUpdate), delete),
    ]
}

/// The form as filled in (never the secret).
struct FormState {
    url: String,
    events: Vec<String>,
    retry_attempts: String,
    enabled: bool,
    description: String,
}

impl FormState {
    fn of(e: &EndpointView) -> Self {
        Self {
            url: e.url.clone(),
            events: e.events.clone(),
            retry_attempts: e.retry_attempts.to_string(),
            enabled: e.enabled,
            description: e.description.clone(),
        }
    }

    fn blank(retries: u32) -> Self {
        Self {
            url: String::new(),
            events: Vec::new(),
            retry_attempts: retries.to_string(),
            enabled: true,
            description: String::new(),
        }
    }

    fn has(&self, event: &EventType) -> bool {
        self.events.iter().any(|e| e == event.as_str())
    }
}

struct LogLine {
    time: String,
    event: String,
    status: String,
    attempts: String,
    code: String,
    duration: String,
    error: String,
}

fn log_line(d: &DeliveryView) -> LogLine {
    LogLine {
        time: local_display(d.created_at),
        event: d.event_type.clone(),
        status: d.status.clone(),
        attempts: format!("{} of {}", d.attempts, d.max_attempts),
        code: d.last_status_code.map(|c| c.to_string()).unwrap_or_else(|| "—".into()),
        duration: d
            .last_duration_ms
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_else(|| "—".into()),
        error: match (d.status.as_str(), &d.last_error) {
            ("pending", Some(e)) => format!("{e}; next try {}", local_display_or(d.next_attempt_at, "soon")),
            (_, e) => e.clone().unwrap_or_default(),
        },
    }
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct IndexPage {
    shell: Shell,
    enabled: bool,
    can_update: bool,
    endpoints: Vec<EndpointView>,
    events: [EventType; 5],
    form: FormState,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct DetailPage {
    shell: Shell,
    enabled: bool,
    can_update: bool,
    endpoint: EndpointView,
    paused_at: String,
    events: [EventType; 5],
    form: FormState,
    errors: FieldErrors,
    notice: Option<String>,
    log: Vec<LogLine>,
    next: Option<String>,
}

impl IndexPage {
    fn error_for(&self, field: &str) -> Option<String> {
        self.errors.get(field)
    }
}

impl DetailPage {
    fn error_for(&self, field: &str) -> Option<String> {
        self.errors.get(field)
    }
}

/// The form's pairs as the API's input, and as filled in.
fn read_form(pairs: &[(String, String)]) -> (EndpointInput, FormState) {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let events: Vec<String> = pairs
        .iter()
        .filter(|(n, _)| n == "events")
        .map(|(_, v)| v.clone())
        .collect();
    let retries = get("retryAttempts");
    let form = FormState {
        url: get("url"),
        events: events.clone(),
        retry_attempts: retries.clone(),
        enabled: pairs.iter().any(|(n, _)| n == "enabled"),
        description: get("description"),
    };
    let input = EndpointInput {
        url: Some(form.url.clone()),
        events: Some(events),
        secret: Some(get("secret")),
        // not a number: out of range, so the field is named
        retry_attempts: Some(retries.parse().unwrap_or(-1)),
        enabled: Some(form.enabled),
        description: Some(form.description.clone()),
    };
    (input, form)
}

async fn render_index(
    state: &AppState,
    who: &Principal,
    status: StatusCode,
    form: FormState,
    errors: Vec<FieldError>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let settings = state.settings.get();
    let page = IndexPage {
        shell: Shell::new(who, HOME, &settings.0.branding.company_name),
        enabled: super::emit::on(&settings.0),
        can_update: who.can(SystemSettingsUpdate),
        endpoints: endpoints::list(&mut conn).await?,
        events: EventType::ALL,
        form,
        errors: FieldErrors(errors),
    };
    html(status, &page)
}

async fn index(State(state): State<AppState>, who: Principal) -> Result<Response, AppError> {
    // a new endpoint's retries default to the notification settings' `webhookRetryAttempts`
    let retries = state.settings.get().0.notifications.webhook_retry_attempts;
    render_index(&state, &who, StatusCode::OK, FormState::blank(retries), Vec::new()).await
}

async fn create(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    FormPairs(pairs): FormPairs,
) -> Result<Response, AppError> {
    let (input, form) = read_form(&pairs);
    let retries = state.settings.get().0.notifications.webhook_retry_attempts;
    let result = match input.parse(true, retries) {
        Ok(new) => {
            let mut unit = state.unit().await?;
            let id = endpoints::create(&mut unit, state.settings.secrets(), &new, &acting).await?;
            unit.commit().await?;
            Ok(id)
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(id) => Ok(Redirect::to(&format!("{HOME}/{id}")).into_response()),
        Err(AppError::Validation(errors)) => {
            render_index(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct DetailQuery {
    cursor: Option<String>,
    notice: Option<String>,
}

struct Shown {
    status: StatusCode,
    form: Option<FormState>,
    errors: Vec<FieldError>,
    notice: Option<String>,
    cursor: Option<String>,
}

async fn render_detail(state: &AppState, who: &Principal, id: Uuid, shown: Shown) -> Result<Response, AppError> {
    let after: Option<LogAfter> = shown.cursor.as_deref().map(decode).transpose()?;
    let mut conn = state.pool.acquire().await?;
    let endpoint = endpoints::get(&mut conn, id).await?;
    let mut rows = deliveries::list(&mut conn, id, after, LOG_PAGE + 1).await?;
    let next = (rows.len() as i64 > LOG_PAGE).then(|| {
        rows.truncate(LOG_PAGE as usize);
        rows.last()
            .map(|d| encode(&LogAfter(d.created_at, d.id)))
            .unwrap_or_default()
    });
    let settings = state.settings.get();
    let page = DetailPage {
        shell: Shell::new(who, HOME, &settings.0.branding.company_name),
        enabled: super::emit::on(&settings.0),
        can_update: who.can(SystemSettingsUpdate),
        paused_at: local_display_or(endpoint.paused_at, ""),
        form: shown.form.unwrap_or_else(|| FormState::of(&endpoint)),
        endpoint,
        events: EventType::ALL,
        errors: FieldErrors(shown.errors),
        notice: shown.notice,
        log: rows.iter().map(log_line).collect(),
        next,
    };
    html(shown.status, &page)
}

fn notice_text(key: &str) -> Option<String> {
    Some(
        match key {
            "created" => "Endpoint registered.",
            "saved" => "Saved.",
            "test" => "Test event queued: it appears in the log below.",
            "resumed" => "Endpoint resumed.",
            _ => return None,
        }
        .to_owned(),
    )
}

async fn detail(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<DetailQuery>,
) -> Result<Response, AppError> {
    let shown = Shown {
        status: StatusCode::OK,
        form: None,
        errors: Vec::new(),
        notice: q.notice.as_deref().and_then(notice_text),
        cursor: q.cursor,
    };
    render_detail(&state, &who, id, shown).await
}

async fn update(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    FormPairs(pairs): FormPairs,
) -> Result<Response, AppError> {
    let (input, form) = read_form(&pairs);
    let retries = state.settings.get().0.notifications.webhook_retry_attempts;
    let result = match input.parse(false, retries) {
        Ok(new) => {
            let mut unit = state.unit().await?;
            endpoints::update(&mut unit, state.settings.secrets(), id, &new, &acting).await?;
            unit.commit().await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("{HOME}/{id}?notice=saved")).into_response()),
        Err(AppError::Validation(errors)) => {
            let shown = Shown {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                form: Some(form),
                errors,
                notice: None,
                cursor: None,
            };
            render_detail(&state, &who, id, shown).await
        }
        Err(e) => Err(e),
    }
}

/// A refused action (409) on the page: the reason beside the buttons, nothing changed.
async fn action(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    result: Result<(), AppError>,
    done: &str,
) -> Result<Response, AppError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("{HOME}/{id}?notice={done}")).into_response()),
        Err(AppError::Conflict { message, .. }) => {
            let shown = Shown {
                status: StatusCode::CONFLICT,
                form: None,
                errors: vec![FieldError::new("action", message)],
                notice: None,
                cursor: None,
            };
            render_detail(state, who, id, shown).await
        }
        Err(e) => Err(e),
    }
}

async fn test(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    let result = match endpoints::send_test(&mut unit, id, &acting).await {
        Ok(_) => unit.commit().await,
        Err(e) => Err(e),
    };
    action(&state, &who, id, result, "test").await
}

async fn resume(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    let result = match endpoints::resume(&mut unit, id, &acting).await {
        Ok(()) => unit.commit().await,
        Err(e) => Err(e),
    };
    action(&state, &who, id, result, "resumed").await
}

async fn delete(State(state): State<AppState>, acting: Acting, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    endpoints::delete(&mut unit, id, &acting).await?;
    unit.commit().await?;
    Ok(Redirect::to(HOME).into_response())
}
