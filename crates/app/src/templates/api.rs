//! Templates over HTTP: list, read, change, reset, and the preview the editor calls as the text
//! is typed. Reading needs `system.settings.read`, changing `system.settings.update`.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::service::{self, Preview, PreviewRequest, TemplateChange, TemplateView};
use crate::access::Permission::{SystemSettingsRead, SystemSettingsUpdate};
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::extract::{ApiJson, Path};
use crate::web::openapi::Doc;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

const KEY: &str = "The template's event key: redemption.succeeded, redemption.failed, redemption.failed.<reason> \
                   (USSD), disbursement.succeeded, disbursement.failed, alert.raised or report.ready";
const CHANNEL: &str = "email, sms or ussd";
const LOCALE: &str = "en or rw";

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/admin/notification-templates", Access::Permission(SystemSettingsRead), list,
            Doc::new("Every notification template, in both languages")
                .ok::<TemplateList>()),
        route!(POST "/api/v1/admin/notification-templates/preview", Access::Permission(SystemSettingsRead), preview,
            Doc::new("A template's text filled with sample values, and what it costs")
                .describe("Nothing is saved. SMS: the encoding (GSM-7 or UCS-2) and how many messages it is sent as \
                           (160 / 153 per part in GSM-7, 70 / 67 in UCS-2). USSD: the screen's limit (182 GSM-7, 80 \
                           UCS-2). `problems` lists what a save would refuse.")
                .body::<PreviewRequest>()
                .ok::<Preview>()),
        route!(GET "/api/v1/admin/notification-templates/{key}/{channel}/{locale}", Access::Permission(SystemSettingsRead), get_one,
            Doc::new("One notification template")
                .path::<String>("key", KEY)
                .path::<String>("channel", CHANNEL)
                .path::<String>("locale", LOCALE)
                .ok::<TemplateView>()),
        route!(PUT "/api/v1/admin/notification-templates/{key}/{channel}/{locale}", Access::Permission(SystemSettingsUpdate), put_one,
            Doc::new("Change a notification template")
                .describe("422 naming `subject` or `body` for an unknown `{variable}`, an e-mail without a subject, \
                           or a USSD screen that is not GSM-7 or longer than one screen. Audited with the text before \
                           and after.")
                .path::<String>("key", KEY)
                .path::<String>("channel", CHANNEL)
                .path::<String>("locale", LOCALE)
                .body::<TemplateChange>()
                .ok::<TemplateView>()),
        route!(POST "/api/v1/admin/notification-templates/{key}/{channel}/{locale}/reset", Access::Permission(SystemSettingsUpdate), reset,
            Doc::new("Put a notification template's default wording back")
                .path::<String>("key", KEY)
                .path::<String>("channel", CHANNEL)
                .path::<String>("locale", LOCALE)
                .ok::<TemplateView>()),
    ]
}

/// Every template.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    pub data: Vec<TemplateView>,
}

async fn list(State(state): State<AppState>) -> Result<Json<TemplateList>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(TemplateList {
        data: service::list(&mut conn).await?,
    }))
}

async fn get_one(
    State(state): State<AppState>,
    Path((key, channel, locale)): Path<(String, String, String)>,
) -> Result<Json<TemplateView>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(service::get(&mut conn, &key, &channel, &locale).await?))
}

async fn put_one(
    State(state): State<AppState>,
    acting: Acting,
    Path((key, channel, locale)): Path<(String, String, String)>,
    ApiJson(change): ApiJson<TemplateChange>,
) -> Result<Json<TemplateView>, AppError> {
    let mut unit = state.unit().await?;
    let saved = service::save(&mut unit, &key, &channel, &locale, &change, &acting).await?;
    unit.commit().await?;
    refresh(&state).await;
    Ok(Json(saved))
}

async fn reset(
    State(state): State<AppState>,
    acting: Acting,
    Path((key, channel, locale)): Path<(String, String, String)>,
) -> Result<Json<TemplateView>, AppError> {
    let mut unit = state.unit().await?;
    let saved = service::reset(&mut unit, &key, &channel, &locale, &acting).await?;
    unit.commit().await?;
    refresh(&state).await;
    Ok(Json(saved))
}

async fn preview(ApiJson(req): ApiJson<PreviewRequest>) -> Result<Json<Preview>, AppError> {
    Ok(Json(service::preview(&req)?))
}

/// This process takes its own save in at once (the others within seconds, by NOTIFY or poll).
pub(super) async fn refresh(state: &AppState) {
    if let Err(e) = state.templates.refresh().await {
        tracing::warn!(error = %e, "templates refresh after a save failed");
    }
}
