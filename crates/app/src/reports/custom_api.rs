//! `/api/v1/admin/reports/custom`: run a custom report (and save it with `save`), list the saved
//! ones a person sees, get one (run now), delete one's own. Reading needs `reports.read`, saving
//! and deleting `reports.create`; money (a payout dataset or an amount) also needs
//! `disbursements.read` (ACCESS.md).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::custom::{Definition, DefinitionInput, FiltersInput, RangeInput};
use super::custom_build::{self, Heading};
use super::custom_store::{self, After, Reader, SavedReport};
use super::model::Report;
use crate::access::Permission::*;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{ApiJson, Path};
use crate::web::openapi::Doc;
use crate::web::paging::{Page, PageQuery, Paging};
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(POST "/api/v1/admin/reports/custom", Access::Permission(ReportsRead), run,
            Doc::new("Run a custom report (and save it)")
                .describe("Counts one dataset of the hourly rollups (`redemptions`, `payouts`, `paid`, `attempts`, \
                           `reversals`) by up to three dimensions over Kigali days, with filters. The answer is the \
                           report: headline figures, a chart and a table. `save: true` with a `name` also stores the \
                           definition as the caller's (`reports.create`; `shared` lets others with `reports.read` \
                           see it). Money (payouts, paid, reversals or an amount) needs `disbursements.read`.")
                .body::<CustomBody>()
                .ok::<CustomAnswer>()
                .problems(&[403])),
        route!(GET "/api/v1/admin/reports/custom", Access::Permission(ReportsRead), list,
            Doc::new("List saved custom reports: one's own and the shared ones, newest first")
                .query::<PageQuery>()
                .page::<SavedReport>()),
        route!(GET "/api/v1/admin/reports/custom/{id}", Access::Permission(ReportsRead), get,
            Doc::new("One saved custom report, run now")
                .ok::<CustomAnswer>()),
        route!(DELETE "/api/v1/admin/reports/custom/{id}", Access::Permission(ReportsCreate), delete,
            Doc::new("Delete one's own saved custom report (and its schedules)")
                .describe("409 for another person's shared report.")
                .no_content()
                .problems(&[409])),
    ]
}

/// A definition to run, and whether to save it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CustomReportRequest)]
pub struct CustomBody {
    /// `redemptions`, `payouts`, `paid`, `attempts` or `reversals`.
    #[schema(examples("payouts"))]
    pub dataset: Option<String>,
    /// Up to three of `day`, `hour`, `batch`, `state`, `network`, `language`, `segment`.
    #[schema(examples(json!(["day", "state"])))]
    pub dimensions: Option<Vec<String>>,
    /// `count`, `amount`, `averageTime`; default `count`.
    pub measures: Option<Vec<String>>,
    pub filters: Option<FiltersInput>,
    pub range: Option<RangeInput>,
    /// Also store the definition (needs `reports.create` and a `name`).
    pub save: Option<bool>,
    /// The saved report's name.
    pub name: Option<String>,
    /// Others with `reports.read` see it (default false).
    pub shared: Option<bool>,
}

impl CustomBody {
    pub fn definition(&self) -> DefinitionInput {
        DefinitionInput {
            dataset: self.dataset.clone(),
            dimensions: self.dimensions.clone(),
            measures: self.measures.clone(),
            filters: self.filters.clone(),
            range: self.range.clone(),
        }
    }
}

/// A report, and the saved definition it came from (when saved).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CustomReportAnswer)]
pub struct CustomAnswer {
    /// The report document: title, range, filters, sections of figures, charts and tables.
    #[schema(value_type = Object)]
    pub report: Report,
    pub saved: Option<SavedReport>,
}

/// What a run asks: the checked definition, and the name and sharing when it is to be saved.
pub struct RunCustom {
    pub definition: Definition,
    pub save: Option<(String, bool)>,
}

impl RunCustom {
    /// Checks the body at the edge: the definition, and the name when saving.
    pub fn parse(body: &CustomBody) -> Result<Self, AppError> {
        let definition = body.definition().parse();
        let save = match body.save {
            Some(true) => {
                Some(custom_store::check_name(body.name.as_deref()).map(|n| (n, body.shared.unwrap_or(false))))
            }
            _ => None,
        };
        match (definition, save.transpose()) {
            (Ok(definition), Ok(save)) => Ok(Self { definition, save }),
            (Err(AppError::Validation(mut a)), Err(AppError::Validation(b))) => {
                a.extend(b);
                Err(AppError::Validation(a))
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }
}

/// The reader behind a request.
pub fn reader(who: &Principal) -> Reader {
    Reader {
        user_id: who.user_id,
        financial: who.can(DisbursementsRead),
    }
}

/// Money needs `disbursements.read` as well.
pub fn may_run(who: &Principal, def: &Definition) -> Result<(), AppError> {
    if def.is_financial() {
        who.require(DisbursementsRead)?;
    }
    Ok(())
}

/// Runs a definition (and saves it) in one unit of work: the use case the API and the page share.
pub async fn run_custom(
    state: &AppState,
    who: &Principal,
    cmd: &RunCustom,
    acting: &Acting,
) -> Result<(Report, Option<Uuid>), AppError> {
    may_run(who, &cmd.definition)?;
    if cmd.save.is_some() {
        who.require(ReportsCreate)?;
    }
    let mut unit = state.unit().await?;
    let title = cmd
        .save
        .as_ref()
        .map_or_else(|| default_title(&cmd.definition), |(n, _)| n.clone());
    let report = build(&mut unit, state, &cmd.definition, &title, &who.name, acting.now).await?;
    let saved = match &cmd.save {
        Some((name, shared)) => Some(custom_store::save(&mut unit, name, *shared, &cmd.definition, acting).await?),
        None => None,
    };
    unit.commit().await?;
    Ok((report, saved))
}

/// "Payouts by day and state".
pub fn default_title(def: &Definition) -> String {
    let dims: Vec<&str> = def.dimensions.iter().map(|d| d.as_str()).collect();
    match dims.as_slice() {
        [] => def.dataset.label().to_owned(),
        [one] => format!("{} by {one}", def.dataset.label()),
        [init @ .., last] => format!("{} by {} and {last}", def.dataset.label(), init.join(", ")),
    }
}

/// Builds the report of a definition over its own range at `now`, as the analytics settings
/// want it shown (charts or not).
pub async fn build(
    conn: &mut sqlx::PgConnection,
    state: &AppState,
    def: &Definition,
    title: &str,
    by: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Report, AppError> {
    let settings = state.settings.get();
    let analytics = &settings.0.analytics;
    let heading = Heading {
        title,
        generated_by: by,
        now,
        max_points: analytics.max_data_points as usize,
    };
    let report = custom_build::build(conn, def, def.range.resolve(now), &heading).await?;
    Ok(super::export::job::with_settings(
        report,
        analytics.report_include_charts,
    ))
}

/// A saved report `who` sees, run now: the use case the API's `GET …/custom/{id}` and the page
/// share.
pub async fn run_saved(state: &AppState, who: &Principal, id: Uuid) -> Result<(SavedReport, Report), AppError> {
    let mut conn = state.pool.acquire().await?;
    let saved = custom_store::get(&mut conn, &reader(who), id).await?;
    may_run(who, &saved.definition)?;
    let report = build(
        &mut conn,
        state,
        &saved.definition,
        &saved.name,
        &who.name,
        state.clock.now(),
    )
    .await?;
    Ok((saved, report))
}

async fn run(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    ApiJson(body): ApiJson<CustomBody>,
) -> Result<Response, AppError> {
    let cmd = RunCustom::parse(&body)?;
    let (report, saved) = run_custom(&state, &who, &cmd, &acting).await?;
    let saved = match saved {
        Some(id) => Some(custom_store::get(&mut *state.pool.acquire().await?, &reader(&who), id).await?),
        None => None,
    };
    Ok(Json(CustomAnswer { report, saved }).into_response())
}

async fn list(
    State(state): State<AppState>,
    who: Principal,
    paging: Paging,
) -> Result<Json<Page<SavedReport>>, AppError> {
    let after = paging.position::<After>()?;
    let mut conn = state.pool.acquire().await?;
    let rows = custom_store::list(&mut conn, &reader(&who), after, paging.fetch()).await?;
    Ok(Json(paging.page(rows, |r| After(r.created_at, r.id))))
}

async fn get(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<CustomAnswer>, AppError> {
    let (saved, report) = run_saved(&state, &who, id).await?;
    Ok(Json(CustomAnswer {
        report,
        saved: Some(saved),
    }))
}

async fn delete(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    let mut unit = state.unit().await?;
    custom_store::delete(&mut unit, &reader(&who), id, &acting).await?;
    unit.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
