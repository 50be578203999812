//! Staff administration over HTTP. API keys so far: a Super Administrator creates a key bound
//! to a role, with an expiry (shown once), lists and revokes them. A key is minted only for a
//! role whose every permission the minter holds.

use crate::web::extract::Form;
use crate::web::extract::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
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
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/auth/me", Access::SignedIn, me),
        route!(POST "/api/v1/auth/logout", Access::OwnAccount, logout),
        route!(GET "/api/v1/admin/api-keys", Access::Permission(SystemIntegrationsManage), list_keys),
        route!(POST "/api/v1/admin/api-keys", Access::Permission(SystemIntegrationsManage), create_key),
        route!(DELETE "/api/v1/admin/api-keys/{id}", Access::Permission(SystemIntegrationsManage), revoke_key),
        route!(GET "/admin/api-keys", Access::Permission(SystemIntegrationsManage), keys_page),
        route!(POST "/admin/api-keys", Access::Permission(SystemIntegrationsManage), create_key_form),
        route!(POST "/admin/api-keys/{id}/revoke", Access::Permission(SystemIntegrationsManage), revoke_key_form),
    ]
}

struct KeyRow {
    id: Uuid,
    name: String,
    prefix: String,
    role: String,
    expires: String,
    last_used: String,
    revoked: bool,
}

#[derive(askama::Template)]
#[template(path = "api_keys.html")]
struct KeysPage {
    shell: Shell,
    keys: Vec<KeyRow>,
    roles: Vec<(Uuid, String)>,
    new_key: Option<String>,
    error: Option<String>,
}

async fn render_keys(
    state: &AppState,
    who: &Principal,
    status: StatusCode,
    new_key: Option<String>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let fmt = |t: Option<DateTime<Utc>>| crate::clock::local_display_or(t, "never");
    let keys = api_keys::list(&mut conn)
        .await?
        .into_iter()
        .map(|k| KeyRow {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            role: k.role,
            expires: fmt(k.expires_at),
            last_used: fmt(k.last_used_at),
            revoked: k.revoked_at.is_some(),
        })
        .collect();
    let roles: Vec<(Uuid, String)> = sqlx::query_as("select id, name from roles where name <> $1 order by name")
        .bind(crate::access::CUSTOMER)
        .fetch_all(&mut *conn)
        .await?;
    let settings = state.settings.get();
    let page = KeysPage {
        shell: Shell::new(who, "/admin/api-keys", &settings.0.branding.company_name),
        keys,
        roles,
        new_key,
        error,
    };
    let html = askama::Template::render(&page).map_err(|e| AppError::Internal(e.into()))?;
    Ok((status, Html(html)).into_response())
}

async fn keys_page(State(state): State<AppState>, who: Principal) -> Result<Response, AppError> {
    render_keys(&state, &who, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
pub struct KeyForm {
    name: String,
    role_id: Uuid,
    days: String,
}

async fn create_key_form(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    Form(form): Form<KeyForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let Some(days) = form.days.trim().parse::<i64>().ok().filter(|d| (1..=366).contains(d)) else {
        return render_keys(
            &state,
            &who,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some("Valid for: a whole number of days from 1 to 366.".into()),
        )
        .await;
    };
    let mut tx = state.pool.begin().await?;
    match api_keys::ensure_can_mint(&mut tx, form.role_id, &who.permissions).await {
        Ok(()) => {}
        Err(AppError::Forbidden(missing)) => {
            drop(tx);
            let msg = format!("You cannot create a key for this role: it grants `{missing}`, which you do not hold.");
            return render_keys(&state, &who, StatusCode::FORBIDDEN, None, Some(msg)).await;
        }
        Err(e) => return Err(e),
    }
    match api_keys::create(
        &mut tx,
        who.user_id,
        &form.name,
        form.role_id,
        now + chrono::Duration::days(days),
        who.actor(),
        meta,
        now,
    )
    .await
    {
        Ok(key) => {
            tx.commit().await?;
            render_keys(&state, &who, StatusCode::CREATED, Some(key.key), None).await
        }
        Err(e) => match crate::web::pages::refusal_message(&e) {
            Some(msg) => render_keys(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, None, Some(msg)).await,
            None => Err(e),
        },
    }
}

async fn revoke_key_form(
    State(state): State<AppState>,
    who: Principal,
    meta: RequestMeta,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let mut tx = state.pool.begin().await?;
    api_keys::revoke(&mut tx, id, who.actor(), meta, state.clock.now()).await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/api-keys").into_response())
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

/// Ends the calling session (API clients using the session cookie; API keys have no session).
async fn logout(State(state): State<AppState>, who: Principal, meta: RequestMeta) -> Result<StatusCode, AppError> {
    let Some(id) = who.session_id() else {
        return Err(AppError::BadRequest(
            "an API key has no session to end; revoke the key instead".into(),
        ));
    };
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    super::session::revoke(&mut tx, id, who.user_id, "signed out", now).await?;
    crate::audit::record(
        &mut tx,
        &crate::audit::AuditEvent::new(who.actor(), crate::audit::Action::AuthSignedOut, "user", who.user_id)
            .meta(meta),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
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
    api_keys::ensure_can_mint(&mut tx, body.role_id, &who.permissions).await?;
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
