//! The dashboard's two doors: the page at `/` and `GET /api/v1/admin/reports/dashboard`. Both
//! parse the same query into a [`Choice`], run [`super::build`] and render its answer; the page's
//! script asks the API again every `refreshSeconds`.

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::draw::Shape;
use super::view::{cards, Card};
use super::{build, Choice, Dashboard, Section, View, Viewer};
use crate::error::AppError;
use crate::route;
use crate::web::auth::Principal;
use crate::web::extract::Query;
use crate::web::openapi::Doc;
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub const API: &str = "/api/v1/admin/reports/dashboard";

pub fn routes() -> Vec<RouteSpec> {
    super::health::mark_started();
    vec![
        route!(GET "/", Access::SignedIn, page),
        route!(GET "/api/v1/admin/reports/dashboard", Access::SignedIn, api,
            Doc::new("The dashboard, as the caller may see it")
                .describe("Every signed-in staff member. Each part is present only when the caller's permissions allow it: \
                           redemption cards need `redemptions.read`, money cards and payout charts `disbursements.read`, \
                           batches `batches.read`, codes `promo-codes.read`, alerts a `*.alerts.view` key, sign-ins and \
                           role changes in the feed `audit.logs.read`. Counts come from the hourly rollups; each figure \
                           carries the link of the list it counts. `view` defaults to `analytics.dashboard.defaultView`.")
                .query::<DashboardQuery>()
                .ok::<Dashboard>()),
    ]
}

/// Which view, and for `custom`, which parts.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// `overview`, `detailed` or `custom` (default: the analytics setting `defaultView`).
    #[param(pattern = "^(overview|detailed|custom)$")]
    view: Option<String>,
    /// For `custom`: comma-separated parts (`redemptions`, `money`, `campaign`, `alerts`,
    /// `system`, `charts`, `moreCharts`, `feed`, `actions`).
    #[param(max_length = 200)]
    sections: Option<String>,
}

impl DashboardQuery {
    /// The choice, or a 422 naming the parameter.
    fn choice(&self, default_view: &str) -> Result<Choice, AppError> {
        let view = match self.view.as_deref() {
            Some(v) => View::parse(v).ok_or_else(|| AppError::field("view", "must be overview, detailed or custom"))?,
            None => View::parse(default_view).unwrap_or(View::Overview),
        };
        let mut sections = Vec::new();
        for s in self.sections.as_deref().unwrap_or("").split(',').map(str::trim) {
            if s.is_empty() {
                continue;
            }
            let Some(x) = Section::parse(s) else {
                return Err(AppError::field(
                    "sections",
                    format!(
                        "`{}` is not a part of the dashboard",
                        s.chars().take(40).collect::<String>()
                    ),
                ));
            };
            sections.push(x);
        }
        Ok(Choice { view, sections })
    }
}

async fn api(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<DashboardQuery>,
) -> Result<Response, AppError> {
    let choice = q.choice(&state.settings.get().0.analytics.default_view)?;
    let d = build(&state, viewer(&who), &choice).await?;
    let mut res = Json(d).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

fn viewer(who: &Principal) -> Viewer<'_> {
    Viewer {
        user_id: who.user_id,
        permissions: &who.permissions,
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Page<'a> {
    shell: Shell,
    d: &'a Dashboard,
    cards: Vec<Card>,
    error: Option<String>,
    /// The query the script asks the API with (the same view).
    api_query: String,
    all_sections: [Section; 9],
}

impl Page<'_> {
    fn shows(&self, s: impl std::borrow::Borrow<Section>) -> bool {
        self.d.sections.contains(s.borrow())
    }

    fn when(&self, t: impl std::borrow::Borrow<chrono::DateTime<chrono::Utc>>) -> String {
        t.borrow()
            .with_timezone(&crate::clock::kigali())
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }
}

/// The signed-in home page: the dashboard. A query it cannot read shows the default view with
/// the message beside the view picker.
async fn page(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<DashboardQuery>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let default_view = &settings.0.analytics.default_view;
    let (choice, error) = match q.choice(default_view) {
        Ok(c) => (c, None),
        Err(e) => (
            DashboardQuery::default().choice(default_view)?,
            Some(match e {
                AppError::Validation(f) => f.into_iter().map(|f| f.message).collect::<Vec<_>>().join("; "),
                other => other.to_string(),
            }),
        ),
    };
    let d = build(&state, viewer(&who), &choice).await?;
    let mut api_query = format!("view={}", d.view.as_str());
    if d.view == View::Custom {
        let keys: Vec<&str> = d.sections.iter().map(|s| s.key()).collect();
        api_query.push_str(&format!("&sections={}", keys.join("%2C")));
    }
    let page = Page {
        shell: Shell::new(&who, "/", &settings.0.branding.company_name),
        d: &d,
        cards: cards(&d),
        error,
        api_query,
        all_sections: Section::ALL,
    };
    crate::web::pages::html(StatusCode::OK, &page)
}
