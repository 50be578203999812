//! `/admin/alerts/rules`: the custom alert rules — the list with what each last read, a form to
//! make one (errors beside their fields), the same form to change one, an enabled switch and
//! delete. The page and the API share the use cases of [`super::custom_api`].

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use super::custom::{self, Comparison, Metric, RuleInput, RuleView, CHANNELS, SEVERITIES};
use super::custom_api::{create_rule, delete_rule, sees_recipients, shown, update_rule};
use crate::access::Permission::*;
use crate::clock::local_display_or;
use crate::error::{AppError, FieldError};
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{FormPairs, Path};
use crate::web::pages::{html, FieldErrors};
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

const HOME: &str = "/admin/alerts/rules";

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/alerts/rules", Access::Permission(AlertsRead), page),
        route!(POST "/admin/alerts/rules", Access::Permission(AlertsCreate), create),
        route!(GET "/admin/alerts/rules/{id}", Access::Permission(AlertsRead), edit_page),
        route!(POST "/admin/alerts/rules/{id}", Access::Permission(AlertsUpdate), update),
        route!(POST "/admin/alerts/rules/{id}/toggle", Access::Permission(AlertsUpdate), toggle),
        route!(POST "/admin/alerts/rules/{id}/delete", Access::Permission(AlertsDelete), delete),
    ]
}

/// The form as filled in.
#[derive(Default)]
struct FormState {
    name: String,
    metric: String,
    comparison: String,
    threshold: String,
    window_minutes: String,
    severity: String,
    channels: Vec<String>,
    recipients: String,
    enabled: bool,
}

impl FormState {
    fn of(r: &RuleView) -> Self {
        Self {
            name: r.name.clone(),
            metric: r.metric.clone(),
            comparison: r.comparison.clone(),
            threshold: r.threshold.to_string(),
            window_minutes: r.window_minutes.to_string(),
            severity: r.severity.clone(),
            channels: r.channels.clone(),
            recipients: r.recipients.join(", "),
            enabled: r.enabled,
        }
    }

    fn from_pairs(pairs: &[(String, String)]) -> Self {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        };
        Self {
            name: get("name"),
            metric: get("metric"),
            comparison: get("comparison"),
            threshold: get("threshold"),
            window_minutes: get("windowMinutes"),
            severity: get("severity"),
            channels: pairs
                .iter()
                .filter(|(n, _)| n == "channels")
                .map(|(_, v)| v.clone())
                .collect(),
            recipients: get("recipients"),
            enabled: pairs.iter().any(|(n, v)| n == "enabled" && v != "false"),
        }
    }

    /// The form as the API's body; a number that does not parse is named here.
    fn input(&self) -> Result<RuleInput, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut number = |field: &str, v: &str| match v.replace([',', ' ', '_'], "").parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(FieldError::new(field, "give a whole number"));
                None
            }
        };
        let threshold = number("threshold", &self.threshold);
        let window = number("windowMinutes", &self.window_minutes);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(RuleInput {
            name: Some(self.name.clone()),
            metric: Some(self.metric.clone()),
            comparison: Some(self.comparison.clone()),
            threshold,
            window_minutes: window,
            severity: Some(self.severity.clone()),
            channels: Some(self.channels.clone()),
            recipients: Some(
                self.recipients
                    .split([',', ';', '\n'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            enabled: Some(self.enabled),
        })
    }
}

struct RuleLine {
    id: Uuid,
    name: String,
    condition: String,
    severity: String,
    channels: String,
    recipients: String,
    enabled: bool,
    last: String,
}

#[derive(Template)]
#[template(path = "alert_rules.html")]
struct RulesPage {
    shell: Shell,
    can_create: bool,
    can_update: bool,
    can_delete: bool,
    show_recipients: bool,
    /// The rule the form changes (none: the form makes a new one).
    editing: Option<Uuid>,
    form: FormState,
    errors: FieldErrors,
    rules: Vec<RuleLine>,
    metrics: Vec<(&'static str, &'static str)>,
    comparisons: Vec<(&'static str, &'static str)>,
    severities: &'static [&'static str],
    channels: &'static [&'static str],
}

impl RulesPage {
    fn error_for(&self, field: &str) -> Option<String> {
        self.errors.get(field)
    }

    fn checked(&self, channel: &str) -> bool {
        self.form.channels.iter().any(|c| c == channel)
    }
}

fn line(r: &RuleView) -> RuleLine {
    let metric = Metric::parse(&r.metric);
    let label: &str = match metric {
        Some(m) => m.label(),
        None => &r.metric,
    };
    let symbol = Comparison::parse(&r.comparison).map_or("?", Comparison::symbol);
    let window = if metric.is_some_and(Metric::windowed) {
        format!(" over {} min", r.window_minutes)
    } else {
        String::new()
    };
    RuleLine {
        id: r.id,
        name: r.name.clone(),
        condition: format!("{label} {symbol} {}{window}", r.threshold),
        severity: r.severity.clone(),
        channels: r.channels.join(", "),
        recipients: r.recipients.join(", "),
        enabled: r.enabled,
        last: match r.last_value {
            Some(v) => format!("{v} at {}", local_display_or(r.last_evaluated_at, "—")),
            None => "not read yet".to_owned(),
        },
    }
}

async fn render(
    state: &AppState,
    who: &Principal,
    status: StatusCode,
    editing: Option<Uuid>,
    form: FormState,
    errors: Vec<FieldError>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let rules = custom::list(&mut conn).await?;
    let settings = state.settings.get();
    let page = RulesPage {
        shell: Shell::new(who, HOME, &settings.0.branding.company_name),
        can_create: who.can(AlertsCreate),
        can_update: who.can(AlertsUpdate),
        can_delete: who.can(AlertsDelete),
        show_recipients: sees_recipients(who),
        editing,
        form,
        errors: FieldErrors(errors),
        rules: rules.into_iter().map(|r| line(&shown(who, r))).collect(),
        metrics: Metric::ALL.iter().map(|m| (m.key(), m.label())).collect(),
        comparisons: Comparison::ALL.iter().map(|c| (c.key(), c.symbol())).collect(),
        severities: &SEVERITIES,
        channels: &CHANNELS,
    };
    html(status, &page)
}

fn blank() -> FormState {
    FormState {
        comparison: "gt".into(),
        window_minutes: "60".into(),
        severity: "warning".into(),
        channels: vec!["in_app".into()],
        enabled: true,
        ..FormState::default()
    }
}

async fn page(State(state): State<AppState>, who: Principal) -> Result<Response, AppError> {
    render(&state, &who, StatusCode::OK, None, blank(), Vec::new()).await
}

async fn edit_page(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let rule = {
        let mut conn = state.pool.acquire().await?;
        shown(&who, custom::get(&mut conn, id).await?)
    };
    render(&state, &who, StatusCode::OK, Some(id), FormState::of(&rule), Vec::new()).await
}

/// Runs `act` on the form's input; a validation error shows the form again with the messages
/// beside the fields, and nothing changes.
async fn submit(
    state: &AppState,
    who: &Principal,
    editing: Option<Uuid>,
    form: FormState,
    acting: &Acting,
) -> Result<Response, AppError> {
    let result = match form.input() {
        Err(errors) => Err(AppError::Validation(errors)),
        Ok(input) => match editing {
            None => create_rule(state, &input, acting).await,
            Some(id) => update_rule(state, id, &input, acting).await,
        },
    };
    match result {
        Ok(_) => Ok(Redirect::to(HOME).into_response()),
        Err(AppError::Validation(errors)) => {
            render(state, who, StatusCode::UNPROCESSABLE_ENTITY, editing, form, errors).await
        }
        Err(AppError::Conflict { message, field }) => {
            let errors = vec![FieldError::new(field.unwrap_or_else(|| "name".into()), message)];
            render(state, who, StatusCode::CONFLICT, editing, form, errors).await
        }
        Err(e) => Err(e),
    }
}

async fn create(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    FormPairs(pairs): FormPairs,
) -> Result<Response, AppError> {
    submit(&state, &who, None, FormState::from_pairs(&pairs), &acting).await
}

async fn update(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    FormPairs(pairs): FormPairs,
) -> Result<Response, AppError> {
    submit(&state, &who, Some(id), FormState::from_pairs(&pairs), &acting).await
}

/// Switches a rule on or off (an audited update).
async fn toggle(State(state): State<AppState>, acting: Acting, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    let r = custom::get(&mut unit, id).await?;
    let mut form = FormState::of(&r);
    form.enabled = !r.enabled;
    let input = form.input().map_err(AppError::Validation)?.parse()?;
    custom::update(&mut unit, id, &input, &acting).await?;
    unit.commit().await?;
    Ok(Redirect::to(HOME).into_response())
}

async fn delete(State(state): State<AppState>, acting: Acting, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    delete_rule(&state, id, &acting).await?;
    Ok(Redirect::to(HOME).into_response())
}
