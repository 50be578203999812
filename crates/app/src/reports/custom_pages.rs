//! `/admin/reports/custom`: the custom report builder (dataset, dimensions, measures, filters,
//! range), its result (drawn by the reports' one HTML view, `report_view.html`), and the saved
//! reports one sees (one's own and the shared ones). "Run" is a GET (a result can be
//! bookmarked); "Save" posts the same form; a saved report is exported as a file (CSV or PDF)
//! by the reports' export job.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use super::custom::{Dataset, Definition, DefinitionInput, Dimension, FiltersInput, Measure, RangeInput, RangeSpec};
use super::custom_api::{self, reader, RunCustom};
use super::custom_store::{self, SavedReport};
use super::export::{self, ExportCmd, Exported};
use super::html::{self as view, ViewBlock, ViewSection};
use super::model::Report;
use crate::access::Permission::*;
use crate::clock::local_display;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{FormPairs, Path};
use crate::web::pages::{html, FieldErrors};
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

const HOME: &str = "/admin/reports/custom";

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/reports/custom", Access::Permission(ReportsRead), page),
        route!(POST "/admin/reports/custom", Access::Permission(ReportsCreate), save),
        route!(GET "/admin/reports/custom/{id}", Access::Permission(ReportsRead), saved_page),
        route!(POST "/admin/reports/custom/{id}/delete", Access::Permission(ReportsCreate), delete),
        route!(POST "/admin/reports/custom/{id}/export", Access::Permission(ReportsExport), export_saved),
    ]
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct SavedLine {
    pub id: Uuid,
    pub name: String,
    pub dataset: &'static str,
    pub owner: String,
    pub shared: bool,
    pub mine: bool,
    pub created: String,
}

/// The form as the reader filled it in.
#[derive(Default)]
pub struct FormState {
    pub dataset: String,
    pub dims: Vec<String>,
    pub measures: Vec<String>,
    pub batch: String,
    pub state: String,
    pub network: String,
    pub language: String,
    pub last: String,
    pub from: String,
    pub to: String,
    pub name: String,
    pub shared: bool,
}

impl FormState {
    fn of(f: &FormPairs) -> Self {
        let all = |k: &str| -> Vec<String> { f.all(k).into_iter().map(str::to_owned).collect() };
        Self {
            dataset: f.trimmed("dataset"),
            dims: all("dim"),
            measures: all("measure"),
            batch: f.trimmed("batch"),
            state: f.trimmed("state"),
            network: f.trimmed("network"),
            language: f.trimmed("language"),
            last: f.trimmed("last"),
            from: f.trimmed("from"),
            to: f.trimmed("to"),
            name: f.trimmed("name"),
            shared: f.trimmed("shared") == "on",
        }
    }

    fn of_definition(d: &Definition) -> Self {
        let (last, from, to) = match d.range {
            RangeSpec::Last { days } => (days.to_string(), String::new(), String::new()),
            RangeSpec::Days { from, to } => (String::new(), from.to_string(), to.to_string()),
        };
        Self {
            dataset: d.dataset.as_str().into(),
            dims: d.dimensions.iter().map(|x| x.as_str().to_owned()).collect(),
            measures: d.measures.iter().map(|x| x.as_str().to_owned()).collect(),
            batch: d.filters.batch.map(|b| b.to_string()).unwrap_or_default(),
            state: d.filters.state.clone().unwrap_or_default(),
            network: d.filters.network.clone().unwrap_or_default(),
            language: d.filters.language.clone().unwrap_or_default(),
            last,
            from,
            to,
            ..Self::default()
        }
    }

    fn input(&self) -> DefinitionInput {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        DefinitionInput {
            dataset: opt(&self.dataset),
            dimensions: Some(self.dims.clone()),
            measures: Some(self.measures.clone()),
            filters: Some(FiltersInput {
                batch: opt(&self.batch),
                state: opt(&self.state),
                network: opt(&self.network),
                language: opt(&self.language),
            }),
            range: Some(match self.last.parse::<u32>() {
                Ok(n) => RangeInput {
                    last: Some(n),
                    ..RangeInput::default()
                },
                Err(_) => RangeInput {
                    last: None,
                    from: opt(&self.from),
                    to: opt(&self.to),
                },
            }),
        }
    }
}

/// What the page shows below the builder: the refused fields, the report run (and the saved
/// report it came from).
#[derive(Default)]
struct Shown {
    errors: FieldErrors,
    report: Option<Report>,
    current: Option<SavedLine>,
}

#[derive(Template)]
#[template(path = "report_custom.html")]
struct CustomPage {
    shell: Shell,
    form: FormState,
    datasets: Vec<Choice>,
    dims: Vec<Choice>,
    measures: Vec<Choice>,
    batches: Vec<Choice>,
    errors: FieldErrors,
    saved: Vec<SavedLine>,
    report: Option<Report>,
    /// The report as the reports' HTML view draws it.
    sections: Vec<ViewSection>,
    can_save: bool,
    can_export: bool,
    formats: Vec<(&'static str, bool)>,
    money: bool,
    /// The saved report shown, when one is.
    current: Option<SavedLine>,
}

fn line(s: &SavedReport) -> SavedLine {
    SavedLine {
        id: s.id,
        name: s.name.clone(),
        dataset: s.definition.dataset.label(),
        owner: s.owner_name.clone(),
        shared: s.shared,
        mine: s.mine,
        created: local_display(s.created_at),
    }
}

async fn render(
    state: &AppState,
    who: &Principal,
    status: StatusCode,
    form: FormState,
    shown: Shown,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let saved = custom_store::list(&mut conn, &reader(who), None, 100).await?;
    let batches: Vec<(Uuid, String)> =
        sqlx::query_as("select id, name from batches order by created_at desc limit 200")
            .fetch_all(&mut *conn)
            .await?;
    let money = who.can(DisbursementsRead);
    let choice = |value: &str, label: &str, selected: bool| Choice {
        value: value.into(),
        label: label.into(),
        selected,
    };
    let settings = state.settings.get();
    let page = CustomPage {
        shell: Shell::new(who, HOME, &settings.0.branding.company_name),
        datasets: Dataset::ALL
            .iter()
            .filter(|d| money || !d.is_financial())
            .map(|d| choice(d.as_str(), d.label(), form.dataset == d.as_str()))
            .collect(),
        dims: Dimension::ALL
            .iter()
            .map(|d| choice(d.as_str(), d.label(), form.dims.iter().any(|x| x == d.as_str())))
            .collect(),
        measures: Measure::ALL
            .iter()
            .filter(|m| money || **m == Measure::Count)
            .map(|m| choice(m.as_str(), m.label(), form.measures.iter().any(|x| x == m.as_str())))
            .collect(),
        batches: batches
            .into_iter()
            .map(|(id, name)| {
                let id = id.to_string();
                let selected = form.batch == id;
                choice(&id, &name, selected)
            })
            .collect(),
        form,
        errors: shown.errors,
        saved: saved.iter().map(line).collect(),
        sections: shown.report.as_ref().map(view::sections).unwrap_or_default(),
        report: shown.report,
        can_save: who.can(ReportsCreate),
        can_export: who.can(ReportsExport),
        formats: export::format_choices(&settings.0.analytics),
        money,
        current: shown.current,
    };
    html(status, &page)
}

/// The builder; with `dataset=` in the query, the report it defines.
async fn page(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    RawQuery(q): RawQuery,
) -> Result<Response, AppError> {
    let pairs = FormPairs(
        form_urlencoded::parse(q.unwrap_or_default().as_bytes())
            .into_owned()
            .collect(),
    );
    if pairs.get("dataset").is_none() {
        let form = FormState {
            last: "7".into(),
            ..FormState::default()
        };
        return render(&state, &who, StatusCode::OK, form, Shown::default()).await;
    }
    let form = FormState::of(&pairs);
    let cmd = match form.input().parse() {
        Ok(definition) => RunCustom { definition, save: None },
        Err(e) => {
            let errors = FieldErrors::of(e)?;
            let shown = Shown {
                errors,
                ..Shown::default()
            };
            return render(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, form, shown).await;
        }
    };
    let (report, _) = custom_api::run_custom(&state, &who, &cmd, &acting).await?;
    let shown = Shown {
        report: Some(report),
        ..Shown::default()
    };
    render(&state, &who, StatusCode::OK, form, shown).await
}

/// Saves the form's definition and opens it.
async fn save(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    pairs: FormPairs,
) -> Result<Response, AppError> {
    let form = FormState::of(&pairs);
    let parsed = form.input().parse();
    let name = custom_store::check_name(Some(&form.name));
    let cmd = match (parsed, name) {
        (Ok(definition), Ok(name)) => RunCustom {
            definition,
            save: Some((name, form.shared)),
        },
        (a, b) => {
            let mut errors = a.err().map(FieldErrors::of).transpose()?.unwrap_or_default();
            errors.extend(b.err().map(FieldErrors::of).transpose()?.unwrap_or_default());
            let shown = Shown {
                errors,
                ..Shown::default()
            };
            return render(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, form, shown).await;
        }
    };
    let (_, id) = custom_api::run_custom(&state, &who, &cmd, &acting).await?;
    let id = id.ok_or_else(|| AppError::Internal(anyhow::anyhow!("a saved report has no id")))?;
    Ok(Redirect::to(&format!("{HOME}/{id}")).into_response())
}

/// A saved report, run now, with its definition in the form (and `errors` beside its fields).
async fn show_saved(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    status: StatusCode,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    let (saved, report) = custom_api::run_saved(state, who, id).await?;
    let shown = Shown {
        errors,
        report: Some(report),
        current: Some(line(&saved)),
    };
    render(state, who, status, FormState::of_definition(&saved.definition), shown).await
}

async fn saved_page(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    show_saved(&state, &who, id, StatusCode::OK, FieldErrors::default()).await
}

/// Exports a saved report as a file (the reports' export job), then follows it on its page.
async fn export_saved(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    pairs: FormPairs,
) -> Result<Response, AppError> {
    let cmd = export::parse_format(pairs.get("format"), &state.settings.get().0.analytics).map(|format| ExportCmd {
        report: Exported::Custom(id),
        format,
    });
    match super::pages::start_export(&state, &who, &acting, cmd).await? {
        Ok(res) => Ok(res),
        Err(errors) => show_saved(&state, &who, id, StatusCode::UNPROCESSABLE_ENTITY, errors).await,
    }
}

async fn delete(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    custom_store::delete(&mut unit, &reader(&who), id, &acting).await?;
    unit.commit().await?;
    Ok(Redirect::to(HOME).into_response())
}
