//! Settings over HTTP: read (secrets masked), change one category, list versions, roll back.
//! Payment settings are also open to `disbursements.configure` (ACCESS.md).

use crate::web::extract::{Path, Query};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{rollback, update, versions, view, Category};
use crate::access::Permission::{DisbursementsConfigure, SystemSettingsRead, SystemSettingsUpdate};
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::extract::ApiJson;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

const PAYMENTS_READ: &[crate::access::Permission] = &[SystemSettingsRead, DisbursementsConfigure];
const PAYMENTS_UPDATE: &[crate::access::Permission] = &[SystemSettingsUpdate, DisbursementsConfigure];

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/admin/settings", Access::Permission(SystemSettingsRead), all),
        route!(GET "/api/v1/admin/settings/versions", Access::Permission(SystemSettingsRead), list_versions),
        route!(POST "/api/v1/admin/settings/versions/{version}/rollback", Access::Permission(SystemSettingsUpdate), roll_back),
        route!(GET "/api/v1/admin/settings/payments", Access::AnyOf(PAYMENTS_READ), get_payments),
        route!(PUT "/api/v1/admin/settings/payments", Access::AnyOf(PAYMENTS_UPDATE), put_payments),
        route!(GET "/api/v1/admin/settings/{category}", Access::Permission(SystemSettingsRead), get_one),
        route!(PUT "/api/v1/admin/settings/{category}", Access::Permission(SystemSettingsUpdate), put_one),
    ]
}

fn category(name: &str) -> Result<Category, AppError> {
    Category::parse(name).ok_or(AppError::NotFound("settings category"))
}

async fn all(State(state): State<AppState>) -> Json<Value> {
    let current = state.settings.get();
    let mut out = Map::new();
    for c in Category::ALL {
        out.insert(c.as_str().to_owned(), view(&current.0, c));
    }
    Json(json!({"version": current.1, "settings": out}))
}

async fn get_one(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, AppError> {
    let c = category(&name)?;
    let current = state.settings.get();
    Ok(Json(
        json!({"version": current.1, "category": c.as_str(), "settings": view(&current.0, c)}),
    ))
}

async fn get_payments(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    get_one(State(state), Path("payments".to_owned())).await
}

/// `{"settings": {key: value, …}, "reason": "…"}` — only the keys to change.
#[derive(Deserialize)]
pub struct ChangeBody {
    settings: Map<String, Value>,
    reason: Option<String>,
}

async fn change(state: AppState, acting: Acting, c: Category, body: ChangeBody) -> Result<Json<Value>, AppError> {
    let mut unit = state.unit().await?;
    let out = update(
        &mut unit,
        state.settings.secrets(),
        c,
        body.settings,
        body.reason,
        &acting,
    )
    .await?;
    unit.commit().await?;
    // this process sees its own change at once; others within seconds
    state.settings.refresh().await?;
    let current = state.settings.get();
    Ok(Json(json!({
        "version": out.version,
        "changed": out.changed_keys,
        "category": c.as_str(),
        "settings": view(&current.0, c),
    })))
}

async fn put_one(
    State(state): State<AppState>,
    acting: Acting,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<ChangeBody>,
) -> Result<Json<Value>, AppError> {
    let c = category(&name)?;
    change(state, acting, c, body).await
}

async fn put_payments(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(body): ApiJson<ChangeBody>,
) -> Result<Json<Value>, AppError> {
    change(state, acting, Category::Payments, body).await
}

#[derive(Deserialize)]
pub struct Limit {
    limit: Option<i64>,
}

async fn list_versions(State(state): State<AppState>, Query(q): Query<Limit>) -> Result<Json<Value>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let list = versions(&mut conn, q.limit.unwrap_or(50).clamp(1, 500)).await?;
    Ok(Json(json!({"versions": list})))
}

async fn roll_back(
    State(state): State<AppState>,
    acting: Acting,
    Path(version): Path<i64>,
) -> Result<Json<Value>, AppError> {
    let mut unit = state.unit().await?;
    let out = rollback(&mut unit, state.settings.secrets(), version, &acting).await?;
    unit.commit().await?;
    state.settings.refresh().await?;
    Ok(Json(
        json!({"version": out.version, "changed": out.changed_keys, "rollbackOf": version}),
    ))
}
