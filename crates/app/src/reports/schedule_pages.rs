//! `/admin/reports/schedules`: the schedules (made here, and the built-in one of the analytics
//! settings), a form to make one, and every recorded run (sent, failed, retried).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use super::custom_api::reader;
use super::custom_store;
use super::schedule::{self, Format, RunView, ScheduleInput, ScheduleView};
use super::schedule_api::create_schedule;
use crate::access::Permission::*;
use crate::clock::{local_display, local_display_or};
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{FormPairs, Path};
use crate::web::pages::{html, FieldErrors};
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

const HOME: &str = "/admin/reports/schedules";

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/reports/schedules", Access::Permission(ReportsRead), page),
        route!(POST "/admin/reports/schedules", Access::Permission(ReportsCreate), create),
        route!(POST "/admin/reports/schedules/{id}/delete", Access::Permission(ReportsCreate), delete),
    ]
}

struct ScheduleLine {
    id: Uuid,
    report: String,
    frequency: String,
    recipients: String,
    format: String,
    delivery: String,
    owner: String,
    mine: bool,
}

struct RunLine {
    schedule: String,
    period: String,
    status: String,
    attempts: i32,
    error: String,
    created: String,
    sent: String,
}

/// The form as filled in.
#[derive(Default)]
struct FormState {
    report: String,
    frequency: String,
    recipients: String,
    format: String,
    delivery: String,
}

#[derive(Template)]
#[template(path = "report_schedules.html")]
struct SchedulesPage {
    shell: Shell,
    can_create: bool,
    money: bool,
    builtin: Vec<String>,
    builtin_recipients: String,
    customs: Vec<(Uuid, String)>,
    form: FormState,
    errors: FieldErrors,
    schedules: Vec<ScheduleLine>,
    runs: Vec<RunLine>,
    can_settings: bool,
}

fn schedule_line(s: &ScheduleView, me: Uuid) -> ScheduleLine {
    ScheduleLine {
        id: s.id,
        report: s.report_name.clone(),
        frequency: s.frequency.to_string(),
        recipients: s.recipients.join(", "),
        format: s.format.as_str().to_uppercase(),
        delivery: s.delivery.to_string(),
        owner: s.owner_name.clone(),
        mine: s.owner_id == me,
    }
}

fn run_line(r: &RunView, names: &std::collections::HashMap<Uuid, String>) -> RunLine {
    RunLine {
        schedule: match r.schedule_id {
            Some(id) => names.get(&id).cloned().unwrap_or_else(|| "a schedule".into()),
            None if r.schedule_key.starts_with("builtin:") => format!("Built-in {} report", r.frequency),
            None => "a deleted schedule".into(),
        },
        period: if r.period_from == r.period_to {
            r.period_from.to_string()
        } else {
            format!("{} – {}", r.period_from, r.period_to)
        },
        status: r.status.to_string(),
        attempts: r.attempts,
        error: r.error.clone().unwrap_or_default(),
        created: local_display(r.created_at),
        sent: local_display_or(r.sent_at, "—"),
    }
}

async fn render(
    state: &AppState,
    who: &Principal,
    status: StatusCode,
    form: FormState,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let schedules = schedule::list(&mut conn, None, 200).await?;
    let runs = schedule::runs(&mut conn, None, None, 100).await?;
    let customs = custom_store::list(&mut conn, &reader(who), None, 200).await?;
    let names = schedules
        .iter()
        .map(|s| (s.id, format!("{} ({})", s.report_name, s.frequency)))
        .collect();
    let settings = state.settings.get();
    let a = &settings.0.analytics;
    let builtin = [
        (a.schedule_daily, "daily"),
        (a.schedule_weekly, "weekly"),
        (a.schedule_monthly, "monthly"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, f)| f.to_string())
    .collect();
    let page = SchedulesPage {
        shell: Shell::new(who, HOME, &settings.0.branding.company_name),
        can_create: who.can(ReportsCreate),
        money: who.can(DisbursementsRead),
        builtin,
        builtin_recipients: a.schedule_recipients.join(", "),
        customs: customs.into_iter().map(|c| (c.id, c.name)).collect(),
        form,
        errors,
        schedules: schedules.iter().map(|s| schedule_line(s, who.user_id)).collect(),
        runs: runs.iter().map(|r| run_line(r, &names)).collect(),
        can_settings: who.can(SystemSettingsRead),
    };
    html(status, &page)
}

async fn page(State(state): State<AppState>, who: Principal) -> Result<Response, AppError> {
    let form = FormState {
        format: state.settings.get().0.analytics.report_default_format.clone(),
        ..FormState::default()
    };
    render(&state, &who, StatusCode::OK, form, FieldErrors::default()).await
}

async fn create(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    pairs: FormPairs,
) -> Result<Response, AppError> {
    let form = FormState {
        report: pairs.trimmed("report"),
        frequency: pairs.trimmed("frequency"),
        recipients: pairs.trimmed("recipients"),
        format: pairs.trimmed("format"),
        delivery: pairs.trimmed("delivery"),
    };
    // `custom:<id>` picks a saved report; the others name a built-in one
    let (report, custom) = match form.report.strip_prefix("custom:") {
        Some(id) => (None, Some(id.to_owned())),
        None => (Some(form.report.clone()), None),
    };
    let input = ScheduleInput {
        report,
        custom_report_id: custom,
        frequency: Some(form.frequency.clone()),
        recipients: Some(
            form.recipients
                .split([',', ';', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        format: Some(form.format.clone()),
        delivery: Some(form.delivery.clone()),
    };
    let result = match input.parse(&state.settings.get().0.analytics.report_default_format) {
        Ok(new) => create_schedule(&state, &who, &new, &acting).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to(HOME).into_response()),
        Err(e) => {
            render(
                &state,
                &who,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                FieldErrors::of(e)?,
            )
            .await
        }
    }
}

async fn delete(State(state): State<AppState>, acting: Acting, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    schedule::delete(&mut unit, id, &acting).await?;
    unit.commit().await?;
    Ok(Redirect::to(HOME).into_response())
}

impl Format {
    /// For the form's select.
    pub fn options() -> [(&'static str, &'static str); 2] {
        [("pdf", "PDF"), ("csv", "CSV")]
    }
}
