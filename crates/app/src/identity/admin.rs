//! Staff administration over HTTP. API keys so far: a Super Administrator creates a key bound
//! to a role, with an expiry (shown once), lists and revokes them. A key is minted only for a
//! role whose every permission the minter holds.

use crate::web::extract::Form;
use crate::web::extract::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::api_keys::{self, KeyView, NewApiKey};
use crate::access::Permission::SystemIntegrationsManage;
use crate::error::{AppError, Denied};
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::ApiJson;
use crate::web::openapi::Doc;
use crate::web::pages::Notice;
use crate::web::paging::{Page, PageQuery, Paging};
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/auth/me", Access::SignedIn, me,
            Doc::new("Who is calling, and what they may do").ok::<Me>()),
        route!(POST "/api/v1/auth/logout", Access::OwnAccount, logout,
            Doc::new("End the calling session")
                .describe("An API key has no session to end (400): revoke the key instead.")
                .no_content()
                .problems(&[400])),
        route!(GET "/api/v1/admin/api-keys", Access::Permission(SystemIntegrationsManage), list_keys,
            Doc::new("List API keys, newest first")
                .describe("Revoked and expired keys are listed too. The keys themselves are never shown again.")
                .query::<PageQuery>()
                .page::<KeyView>()),
        route!(POST "/api/v1/admin/api-keys", Access::Permission(SystemIntegrationsManage), create_key,
            Doc::new("Create an API key (shown once)")
                .describe("Only for a role whose every permission you hold (403 naming the one you lack).")
                .body::<NewApiKey>()
                .created::<CreatedKey>()),
        route!(DELETE "/api/v1/admin/api-keys/{id}", Access::Permission(SystemIntegrationsManage), revoke_key,
            Doc::new("Revoke an API key")
                .describe("404 when there is no such key or it is already revoked.")
                .no_content()),
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
    notice: Option<Notice>,
}

async fn render_keys(
    state: &AppState,
    who: &Principal,
    status: StatusCode,
    new_key: Option<String>,
    notice: Option<Notice>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let fmt = |t: Option<DateTime<Utc>>| crate::clock::local_display_or(t, "never");
    let keys = api_keys::list(&mut conn, None, None)
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
        notice,
    };
    crate::web::pages::html(status, &page)
}

async fn keys_page(State(state): State<AppState>, who: Principal) -> Result<Response, AppError> {
    render_keys(&state, &who, StatusCode::OK, None, None).await
}

/// The keys page's form: a name, a role and how many days the key lives.
#[derive(Deserialize)]
pub struct KeyForm {
    name: String,
    role_id: Uuid,
    days: String,
}

impl KeyForm {
    /// The key to mint, expiring `days` after `now`; `None` unless days is 1 to 366.
    fn into_new_key(self, now: DateTime<Utc>) -> Option<NewApiKey> {
        let days = self.days.trim().parse::<i64>().ok().filter(|d| (1..=366).contains(d))?;
        Some(NewApiKey {
            name: self.name,
            role_id: self.role_id,
            expires_at: now + chrono::Duration::days(days),
        })
    }
}

/// The keys page's words for a refused key; `None` for an error that stays an error page.
fn key_refusal(e: &AppError) -> Option<(StatusCode, String)> {
    match e {
        AppError::Forbidden(Denied::Permission(missing)) => Some((
            StatusCode::FORBIDDEN,
            format!(
                "You cannot create a key for this role: it grants `{}`, which you do not hold.",
                missing.key()
            ),
        )),
        other => crate::web::pages::refusal_message(other).map(|m| (StatusCode::UNPROCESSABLE_ENTITY, m)),
    }
}

async fn create_key_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Form(form): Form<KeyForm>,
) -> Result<Response, AppError> {
    let Some(new) = form.into_new_key(acting.now) else {
        let notice = Notice::refused("Valid for: a whole number of days from 1 to 366.");
        return render_keys(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, None, Some(notice)).await;
    };
    let mut unit = state.unit().await?;
    match api_keys::mint(&mut unit, who.user_id, &who.permissions, &new, &acting).await {
        Ok(key) => {
            unit.commit().await?;
            render_keys(&state, &who, StatusCode::CREATED, Some(key.key), None).await
        }
        Err(e) => match key_refusal(&e) {
            Some((status, text)) => render_keys(&state, &who, status, None, Some(Notice::refused(text))).await,
            None => Err(e),
        },
    }
}

async fn revoke_key_form(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    api_keys::revoke(&mut unit, id, &acting).await?;
    unit.commit().await?;
    Ok(Redirect::to("/admin/api-keys").into_response())
}

/// `/auth/me`'s answer: the caller.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    /// The user's id (an API key answers for its owner).
    id: Uuid,
    email: String,
    name: String,
    /// How the call was authenticated: `session` (the cookie), `session_token` (a bearer
    /// session token from sign-in) or `api_key`.
    via: &'static str,
    /// The permission keys the caller holds, sorted.
    permissions: Vec<&'static str>,
}

async fn me(who: Principal) -> Json<Me> {
    let mut perms: Vec<&str> = who.permissions.iter().map(|p| p.key()).collect();
    perms.sort_unstable();
    Json(Me {
        id: who.user_id,
        email: who.email,
        name: who.name,
        via: match who.via {
            crate::web::auth::Via::Session { bearer: false, .. } => "session",
            crate::web::auth::Via::Session { bearer: true, .. } => "session_token",
            crate::web::auth::Via::ApiKey { .. } => "api_key",
        },
        permissions: perms,
    })
}

/// Ends the calling session (API clients using the session cookie; API keys have no session).
async fn logout(State(state): State<AppState>, who: Principal, acting: Acting) -> Result<StatusCode, AppError> {
    let Some(id) = who.session_id() else {
        return Err(AppError::BadRequest(
            "an API key has no session to end; revoke the key instead".into(),
        ));
    };
    let mut unit = state.unit().await?;
    super::account::sign_out(&mut unit, who.user_id, Some(id), &acting).await?;
    unit.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_keys(State(state): State<AppState>, paging: Paging) -> Result<Json<Page<KeyView>>, AppError> {
    let after = paging.position()?;
    let mut conn = state.pool.acquire().await?;
    let keys = api_keys::list(&mut conn, after, Some(paging.fetch())).await?;
    Ok(Json(paging.page(keys, |k| (k.created_at, k.id))))
}

/// A new key: the only time the key itself is shown.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    id: Uuid,
    /// The visible part, by which the list names the key.
    prefix: String,
    /// The whole key, for `Authorization: Bearer …`. Store it now.
    key: String,
    note: &'static str,
}

async fn create_key(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    ApiJson(new): ApiJson<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedKey>), AppError> {
    let mut unit = state.unit().await?;
    let key = api_keys::mint(&mut unit, who.user_id, &who.permissions, &new, &acting).await?;
    unit.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            id: key.id,
            prefix: key.prefix,
            key: key.key,
            note: "This key is shown once. Store it now.",
        }),
    ))
}

async fn revoke_key(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    let mut unit = state.unit().await?;
    api_keys::revoke(&mut unit, id, &acting).await?;
    unit.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
