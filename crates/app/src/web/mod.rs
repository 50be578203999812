//! The web layer: router assembly, middleware (request ids, metrics, security headers, error
//! pages), and the system endpoints. Capability routes live in their modules' `api.rs` and
//! `pages.rs` and are merged here.

pub mod auth;
pub mod brand;
pub mod brand_css;
pub mod chart;
mod cors;
pub mod denials;
mod edge;
pub mod extract;
pub mod metrics;
mod middleware;
pub mod openapi;
mod openapi_pages;
pub mod pages;
pub mod paging;
pub mod quota;
pub mod routes;
pub mod shell;
pub mod staff_ips;
pub mod system;

use std::sync::Arc;

use axum::http::HeaderName;
use axum::Router;
use sqlx::PgPool;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::clock::SharedClock;
use crate::config::Config;
use crate::error::AppError;
use crate::settings::SettingsStore;

pub use self::metrics::Metrics;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub settings: Arc<SettingsStore>,
    /// The notification templates (USSD end screens among them), kept current like the settings.
    pub templates: Arc<crate::templates::TemplateStore>,
    pub clock: SharedClock,
    pub metrics: Arc<Metrics>,
    pub keys: Arc<crate::crypto::Keys>,
}

impl AppState {
    /// Begins a unit of work: one transaction, with its after-commit wake-ups.
    pub async fn unit(&self) -> Result<crate::unit::Unit, AppError> {
        crate::unit::Unit::begin(&self.pool).await
    }
}

/// Every route of the app, with the access each needs.
pub fn all_routes() -> Vec<routes::RouteSpec> {
    let mut specs = system::routes();
    specs.extend(crate::dashboard::web::routes());
    specs.extend(openapi_pages::routes());
    specs.extend(brand::routes());
    specs.extend(crate::identity::pages::routes());
    specs.extend(crate::identity::account_pages::routes());
    specs.extend(crate::settings::api::routes());
    specs.extend(crate::settings::pages::routes());
    specs.extend(crate::templates::api::routes());
    specs.extend(crate::templates::pages::routes());
    specs.extend(crate::identity::admin::routes());
    specs.extend(crate::identity::signin_api::routes());
    specs.extend(crate::identity::users_api::routes());
    specs.extend(crate::identity::users_pages::routes());
    specs.extend(crate::batches::api::routes());
    specs.extend(crate::batches::pages::routes());
    specs.extend(crate::codes::api::routes());
    specs.extend(crate::codes::pages::routes());
    specs.extend(crate::codes::import_api::routes());
    specs.extend(crate::codes::import_page::routes());
    specs.extend(crate::ussd::api::routes());
    specs.extend(crate::ussd::pages::routes());
    specs.extend(crate::disbursement::callback::routes());
    specs.extend(crate::disbursement::api::routes());
    specs.extend(crate::disbursement::pages::routes());
    specs.extend(crate::disbursement::reconcile::api::routes());
    specs.extend(crate::disbursement::reconcile::pages::routes());
    specs.extend(crate::alerts::api::routes());
    specs.extend(crate::alerts::rules::custom_api::routes());
    specs.extend(crate::alerts::rules::custom_pages::routes());
    specs.extend(crate::reports::custom_api::routes());
    specs.extend(crate::reports::custom_pages::routes());
    specs.extend(crate::reports::schedule_api::routes());
    specs.extend(crate::reports::schedule_pages::routes());
    specs.extend(crate::reports::api::routes());
    specs.extend(crate::reports::pages::routes());
    specs.extend(crate::webhooks::routes());
    specs.extend(crate::audit::routes());
    specs.extend(crate::backup::web::routes());
    specs
}

pub fn router(state: AppState) -> Router {
    let (router, table) = routes::build(all_routes());
    let authz_state = state.clone();
    router
        .fallback(|| async { AppError::RouteNotFound })
        .layer(axum::middleware::from_fn(move |req, next| {
            routes::authorize(Arc::clone(&table), authz_state.clone(), req, next)
        }))
        .layer(axum::middleware::from_fn_with_state(state.clone(), staff_ips::guard))
        .layer(axum::middleware::from_fn(edge::guard_input))
        .layer(axum::middleware::from_fn(edge::problem_errors))
        .layer(axum::middleware::from_fn(pages::render_error_pages))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::maintenance::web::scope,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), brand::scope))
        .layer(axum::middleware::from_fn(middleware::security_headers))
        .layer(axum::middleware::from_fn_with_state(state.clone(), cors::cors))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            middleware::panic_response,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::observe))
        .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
        .layer(axum::extract::DefaultBodyLimit::max(2 * 1024 * 1024))
        .with_state(state)
}
