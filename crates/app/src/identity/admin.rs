//! Staff administration over HTTP. API keys so far: a Super Administrator creates a key bound
//! to a role, with an expiry (shown once), lists and revokes them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::api_keys;
use crate::access::Permission::SystemIntegrationsManage;
use crate::audit::RequestMeta;
use crate::error::AppError;
use crate::route;
use crate::web::auth::Principal;
use crate::web::extract::ApiJson;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/auth/me", Access::SignedIn, me),
        route!(GET "/api/v1/admin/api-keys", Access::Permission(SystemIntegrationsManage), list_keys),
        route!(POST "/api/v1/admin/api-keys", Access::Permission(SystemIntegrationsManage), create_key),
        route!(DELETE "/api/v1/admin/api-keys/{id}", Access::Permission(SystemIntegrationsManage), revoke_key),
    ]
}

async fn me(who: Principal) -> Json<Value> {
    let mut perms: Vec<&str> = who.permissions.iter().map(|p| p.key()).collect();
    perms.sort_unstable();
    Json(json!({
        "id": who.user_id,
        "email": who.email,
        "name": who.name,
        "via": match who.via { crate::web::auth::Via::Session { .. } => "session", crate::web::auth::Via::ApiKey { .. } => "api_key" },
        "permissions": perms,
    }))
}

async fn list_keys(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(json!({"apiKeys": api_keys::list(&mut conn).await?})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateKey {
    name: String,
    role_id: Uuid,
    expires_at: DateTime<Utc>,
}

async fn create_key(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    ApiJson(body): ApiJson<CreateKey>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let key = api_keys::create(
        &mut tx,
        who.user_id,
        &body.name,
        body.role_id,
        body.expires_at,
        who.actor(),
        meta,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"id": key.id, "prefix": key.prefix, "key": key.key, "note": "This key is shown once. Store it now."}),
        ),
    ))
}

async fn revoke_key(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    let mut tx = state.pool.begin().await?;
    api_keys::revoke(&mut tx, id, who.actor(), meta, state.clock.now()).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
