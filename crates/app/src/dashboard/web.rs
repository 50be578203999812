//! The dashboard's doors: the page at `/` and `GET /api/v1/admin/reports/dashboard`, both parsing
//! the same query into a [`Choice`], running [`super::build`] and rendering its answer (the
//! page's script asks the API again every `refreshSeconds`); and the view a person keeps
//! ([`super::remembered`]): the page's form (`POST /dashboard/view`) and
//! `GET`/`PUT /api/v1/admin/reports/dashboard/view`, one use case.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::draw::Shape;
use super::remembered::{self, Opening};
use super::view::{cards, Card};
use super::{build, Choice, Dashboard, Section, View, Viewer};
use crate::error::{AppError, FieldError};
use crate::route;
use crate::web::auth::Principal;
use crate::web::extract::{ApiJson, FormPairs};
use crate::web::openapi::Doc;
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub const API: &str = "/api/v1/admin/reports/dashboard";

pub fn routes() -> Vec<RouteSpec> {
    super::health::mark_started();
    vec![
        route!(GET "/", Access::SignedIn, page),
        route!(POST "/dashboard/view", Access::SignedIn, keep_form),
        route!(GET "/api/v1/admin/reports/dashboard", Access::SignedIn, api,
            Doc::new("The dashboard, as the caller may see it")
                .describe("Every signed-in staff member. Each part is present only when the caller's permissions allow it: \
                           redemption cards need `redemptions.read`, money cards and payout charts `disbursements.read`, \
                           batches `batches.read`, codes `promo-codes.read`, alerts a `*.alerts.view` key, sign-ins and \
                           role changes in the feed `audit.logs.read`. Counts come from the hourly rollups; each figure \
                           carries the link of the list it counts. Without `view` (or with `view=custom` and no \
                           `sections`) it is the view the caller keeps (`PUT …/dashboard/view`), else \
                           `analytics.dashboard.defaultView`.")
                .query::<DashboardQuery>()
                .ok::<Dashboard>()),
        route!(GET "/api/v1/admin/reports/dashboard/view", Access::SignedIn, opening_api,
            Doc::new("The view the dashboard opens with for the caller")
                .describe("Their remembered custom view, or the analytics setting's `defaultView`.")
                .ok::<Opening>()),
        route!(PUT "/api/v1/admin/reports/dashboard/view", Access::SignedIn, keep_api,
            Doc::new("Keep the caller's dashboard view")
                .describe("`custom` with at least one part is remembered for the caller on every browser and device; \
                           `overview` or `detailed` forgets a remembered custom view.")
                .body::<ViewBody>()
                .ok::<Opening>()),
    ]
}

/// Which view, and for `custom`, which parts.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[allow(dead_code, reason = "read by hand (`from_raw`); the derive documents the parameters")]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// `overview`, `detailed` or `custom` (default: the caller's kept view, then the analytics
    /// setting `defaultView`).
    #[param(pattern = "^(overview|detailed|custom)$")]
    view: Option<String>,
    /// For `custom`: comma-separated parts (`redemptions`, `money`, `campaign`, `alerts`,
    /// `system`, `charts`, `moreCharts`, `feed`, `actions`).
    #[param(max_length = 200)]
    sections: Option<String>,
}

impl DashboardQuery {
    /// From the query string: a form sends one `sections` per ticked box, a script one
    /// comma-separated list; both are read (empty values count as absent).
    fn from_raw(raw: Option<&str>) -> Self {
        let mut q = DashboardQuery::default();
        let mut sections: Vec<String> = Vec::new();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match (k.as_ref(), v.trim()) {
                (_, "") => {}
                ("view", v) => q.view = Some(v.to_owned()),
                ("sections", v) => sections.push(v.to_owned()),
                _ => {}
            }
        }
        if !sections.is_empty() {
            q.sections = Some(sections.join(","));
        }
        q
    }

    fn asked(&self) -> Result<Asked, AppError> {
        Asked::parse(self.view.as_deref(), self.sections.as_deref().into_iter())
    }
}

/// What a query or a form asked for: a view (none: the one the person opens with) and parts.
#[derive(Debug, Default)]
struct Asked {
    view: Option<View>,
    sections: Vec<Section>,
}

impl Asked {
    /// `sections` may each be a comma-separated list; every bad value is named (422).
    fn parse<'a>(view: Option<&str>, sections: impl Iterator<Item = &'a str>) -> Result<Asked, AppError> {
        let mut errors = Vec::new();
        let view = match view.map(str::trim).filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => View::parse(v).or_else(|| {
                errors.push(FieldError::new("view", "must be overview, detailed or custom"));
                None
            }),
        };
        let mut out = Vec::new();
        for s in sections
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            match Section::parse(s) {
                Some(x) => out.push(x),
                None => errors.push(FieldError::new(
                    "sections",
                    format!(
                        "`{}` is not a part of the dashboard",
                        s.chars().take(40).collect::<String>()
                    ),
                )),
            }
        }
        match errors.is_empty() {
            true => Ok(Asked { view, sections: out }),
            false => Err(AppError::Validation(errors)),
        }
    }

    /// Whether the choice depends on the view the person opens with.
    fn needs_opening(&self) -> bool {
        match self.view {
            None => true,
            Some(v) => v == View::Custom && self.sections.is_empty(),
        }
    }

    /// The choice, `opening` filling in what was not asked (read when [`Self::needs_opening`]).
    fn choice(self, opening: Option<&Opening>) -> Choice {
        match (self.view, opening) {
            (None, Some(o)) => Choice {
                view: o.view,
                sections: if o.remembered {
                    o.sections.clone()
                } else {
                    self.sections
                },
            },
            (Some(View::Custom), Some(o)) if self.sections.is_empty() => Choice {
                view: View::Custom,
                sections: o.sections.clone(),
            },
            (view, _) => Choice {
                view: view.unwrap_or(View::Overview),
                sections: self.sections,
            },
        }
    }
}

async fn opening_of(state: &AppState, who: &Principal) -> Result<Opening, AppError> {
    let default_view = state.settings.get().0.analytics.default_view.clone();
    let mut conn = state.pool.acquire().await?;
    Ok(remembered::opening(&mut conn, who.user_id, &default_view).await?)
}

async fn api(State(state): State<AppState>, who: Principal, RawQuery(raw): RawQuery) -> Result<Response, AppError> {
    let asked = DashboardQuery::from_raw(raw.as_deref()).asked()?;
    let opening = match asked.needs_opening() {
        true => Some(opening_of(&state, &who).await?),
        false => None,
    };
    let d = build(&state, viewer(&who), &asked.choice(opening.as_ref())).await?;
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

/// `PUT /api/v1/admin/reports/dashboard/view`'s body.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = DashboardViewBody)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ViewBody {
    /// `overview`, `detailed` or `custom`.
    #[schema(value_type = View)]
    view: String,
    /// For `custom`: the parts shown (at least one).
    #[serde(default)]
    #[schema(value_type = Vec<Section>)]
    sections: Vec<String>,
}

/// The use case both doors run: keeps the view asked for, in one unit of work.
async fn keep(state: &AppState, who: &Principal, asked: Asked) -> Result<Choice, AppError> {
    let Some(view) = asked.view else {
        return Err(AppError::field("view", "pick overview, detailed or custom"));
    };
    let choice = Choice {
        view,
        sections: asked.sections,
    };
    let mut unit = state.unit().await?;
    remembered::keep(&mut unit, who.user_id, &choice, state.clock.now()).await?;
    unit.commit().await?;
    Ok(choice)
}

async fn opening_api(State(state): State<AppState>, who: Principal) -> Result<Json<Opening>, AppError> {
    Ok(Json(opening_of(&state, &who).await?))
}

async fn keep_api(
    State(state): State<AppState>,
    who: Principal,
    ApiJson(b): ApiJson<ViewBody>,
) -> Result<Json<Opening>, AppError> {
    let asked = Asked::parse(Some(&b.view), b.sections.iter().map(String::as_str))?;
    keep(&state, &who, asked).await?;
    Ok(Json(opening_of(&state, &who).await?))
}

/// The page's view picker: a custom view is remembered and `/` opens with it; another view is
/// shown once and forgets it. Bad input shows the page again with the message beside the picker.
async fn keep_form(State(state): State<AppState>, who: Principal, form: FormPairs) -> Result<Response, AppError> {
    let kept = match Asked::parse(form.get("view"), form.all("sections").into_iter()) {
        Ok(asked) => keep(&state, &who, asked).await,
        Err(e) => Err(e),
    };
    match kept {
        Ok(c) if c.view == View::Custom => Ok(Redirect::to("/").into_response()),
        Ok(c) => Ok(Redirect::to(&format!("/?view={}", c.view.as_str())).into_response()),
        Err(AppError::Validation(f)) => {
            let opening = opening_of(&state, &who).await?;
            let choice = Asked::default().choice(Some(&opening));
            render(
                &state,
                &who,
                &choice,
                &opening,
                Some(messages(f)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

fn messages(f: Vec<FieldError>) -> String {
    f.into_iter().map(|f| f.message).collect::<Vec<_>>().join("; ")
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
    /// The boxes ticked in the picker: the custom view shown, else the remembered one.
    picked: Vec<Section>,
    /// The person's custom view is remembered on the server.
    remembered: bool,
}

impl Page<'_> {
    fn shows(&self, s: impl std::borrow::Borrow<Section>) -> bool {
        self.d.sections.contains(s.borrow())
    }

    fn picks(&self, s: impl std::borrow::Borrow<Section>) -> bool {
        self.picked.contains(s.borrow())
    }

    fn when(&self, t: impl std::borrow::Borrow<chrono::DateTime<chrono::Utc>>) -> String {
        t.borrow()
            .with_timezone(&crate::clock::kigali())
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }
}

/// The signed-in home page: the dashboard. A query it cannot read shows the view the person
/// opens with, with the message beside the view picker.
async fn page(State(state): State<AppState>, who: Principal, RawQuery(raw): RawQuery) -> Result<Response, AppError> {
    let opening = opening_of(&state, &who).await?;
    let (choice, error) = match DashboardQuery::from_raw(raw.as_deref()).asked() {
        Ok(asked) => (asked.choice(Some(&opening)), None),
        Err(AppError::Validation(f)) => (Asked::default().choice(Some(&opening)), Some(messages(f))),
        Err(e) => return Err(e),
    };
    render(&state, &who, &choice, &opening, error, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    who: &Principal,
    choice: &Choice,
    opening: &Opening,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let d = build(state, viewer(who), choice).await?;
    let mut api_query = format!("view={}", d.view.as_str());
    if d.view == View::Custom {
        let keys: Vec<&str> = d.sections.iter().map(|s| s.key()).collect();
        api_query.push_str(&format!("&sections={}", keys.join("%2C")));
    }
    let picked = match (d.view, opening.remembered) {
        (View::Custom, _) | (_, false) => d.sections.clone(),
        (_, true) => opening.sections.clone(),
    };
    let page = Page {
        shell: Shell::new(who, "/", &settings.0.branding.company_name),
        d: &d,
        cards: cards(&d),
        error,
        api_query,
        all_sections: Section::ALL,
        picked,
        remembered: opening.remembered,
    };
    crate::web::pages::html(status, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_not_asked_comes_from_the_view_kept() {
        let kept = Opening {
            view: View::Custom,
            sections: vec![Section::Feed, Section::System],
            remembered: true,
        };
        let asked = Asked::parse(None, std::iter::empty()).unwrap();
        assert!(asked.needs_opening());
        assert_eq!(asked.choice(Some(&kept)).sections, kept.sections);
        let asked = Asked::parse(Some("custom"), std::iter::empty()).unwrap();
        assert_eq!(asked.choice(Some(&kept)).sections, kept.sections);
        let asked = Asked::parse(Some("detailed"), std::iter::empty()).unwrap();
        assert!(!asked.needs_opening());
        assert_eq!(asked.choice(None).view, View::Detailed);
        let asked = Asked::parse(Some("custom"), ["money,feed", "system"].into_iter()).unwrap();
        assert_eq!(
            asked.choice(None).sections,
            [Section::Money, Section::Feed, Section::System]
        );
        match Asked::parse(Some("all"), ["money,secrets"].into_iter()) {
            Err(AppError::Validation(f)) => {
                let named: Vec<&str> = f.iter().map(|f| f.field.as_str()).collect();
                assert_eq!(named, ["view", "sections"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
