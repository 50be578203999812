//! `/api/v1/admin/webhooks`: the endpoints, their delivery logs, "send test event" and "resume".
//! Reading needs `system.settings.read`; every change `system.settings.update` (ACCESS.md: the
//! webhooks are part of the notification settings).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::deliveries::{self, DeliveryView, LogAfter};
use super::endpoints::{self, EndpointInput, EndpointView, NewEndpoint};
use crate::access::Permission::*;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::extract::{ApiJson, Path};
use crate::web::openapi::Doc;
use crate::web::paging::{Page, PageQuery, Paging};
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/admin/webhooks", Access::Permission(SystemSettingsRead), list,
            Doc::new("List webhook endpoints").ok::<EndpointList>()),
        route!(POST "/api/v1/admin/webhooks", Access::Permission(SystemSettingsUpdate), create,
            Doc::new("Register a webhook endpoint")
                .describe("Events are posted as JSON `{id, type, createdAt, data}` with the headers \
                           `X-Mbelyco-Event`, `X-Mbelyco-Delivery`, `X-Mbelyco-Timestamp` (unix seconds) and \
                           `X-Mbelyco-Signature: sha256=<hex HMAC-SHA256(secret, \"<timestamp>.<body>\")>`. A non-2xx \
                           answer is retried with exponential backoff up to `retryAttempts` times; after 5 failed \
                           deliveries in a row the endpoint is paused and an alert raised. Nothing is sent while \
                           `webhooksEnabled` is off in the notification settings. The secret is never shown back.")
                .body::<EndpointInput>()
                .created::<EndpointView>()),
        route!(GET "/api/v1/admin/webhooks/{id}", Access::Permission(SystemSettingsRead), get,
            Doc::new("One webhook endpoint").ok::<EndpointView>()),
        route!(PUT "/api/v1/admin/webhooks/{id}", Access::Permission(SystemSettingsUpdate), update,
            Doc::new("Replace a webhook endpoint's settings")
                .describe("Leave `secret` out (or empty) to keep the current one.")
                .body::<EndpointInput>()
                .ok::<EndpointView>()),
        route!(DELETE "/api/v1/admin/webhooks/{id}", Access::Permission(SystemSettingsUpdate), delete,
            Doc::new("Delete a webhook endpoint and its delivery log").no_content()),
        route!(GET "/api/v1/admin/webhooks/{id}/deliveries", Access::Permission(SystemSettingsRead), log,
            Doc::new("An endpoint's deliveries, newest first")
                .query::<PageQuery>()
                .page::<DeliveryView>()),
        route!(POST "/api/v1/admin/webhooks/{id}/test", Access::Permission(SystemSettingsUpdate), test,
            Doc::new("Send a test event to the endpoint")
                .describe("Queues a `test` event through the same outbox as real events. 409 while webhooks are \
                           off in the notification settings, or the endpoint is turned off or paused.")
                .accepted::<TestQueued>()
                .problems(&[409])),
        route!(POST "/api/v1/admin/webhooks/{id}/resume", Access::Permission(SystemSettingsUpdate), resume,
            Doc::new("Resume a paused endpoint")
                .describe("409 when it is not paused.")
                .ok::<EndpointView>()
                .problems(&[409])),
    ]
}

#[derive(Serialize, ToSchema)]
#[schema(as = WebhookEndpointList)]
pub struct EndpointList {
    pub data: Vec<EndpointView>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookTestQueued)]
pub struct TestQueued {
    /// The `id` the test event carries.
    pub event_id: Uuid,
}

fn parse(state: &AppState, body: &EndpointInput, creating: bool) -> Result<NewEndpoint, AppError> {
    body.parse(creating, state.settings.get().0.notifications.webhook_retry_attempts)
}

async fn view(state: &AppState, id: Uuid) -> Result<EndpointView, AppError> {
    let mut conn = state.pool.acquire().await?;
    endpoints::get(&mut conn, id).await
}

async fn list(State(state): State<AppState>) -> Result<Json<EndpointList>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(EndpointList {
        data: endpoints::list(&mut conn).await?,
    }))
}

async fn create(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(body): ApiJson<EndpointInput>,
) -> Result<Response, AppError> {
    let new = parse(&state, &body, true)?;
    let mut unit = state.unit().await?;
    let id = endpoints::create(&mut unit, state.settings.secrets(), &new, &acting).await?;
    unit.commit().await?;
    Ok((StatusCode::CREATED, Json(view(&state, id).await?)).into_response())
}

async fn get(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<EndpointView>, AppError> {
    Ok(Json(view(&state, id).await?))
}

async fn update(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<EndpointInput>,
) -> Result<Json<EndpointView>, AppError> {
    let new = parse(&state, &body, false)?;
    let mut unit = state.unit().await?;
    endpoints::update(&mut unit, state.settings.secrets(), id, &new, &acting).await?;
    unit.commit().await?;
    Ok(Json(view(&state, id).await?))
}

async fn delete(State(state): State<AppState>, acting: Acting, Path(id): Path<Uuid>) -> Result<StatusCode, AppError> {
    let mut unit = state.unit().await?;
    endpoints::delete(&mut unit, id, &acting).await?;
    unit.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn log(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    paging: Paging,
) -> Result<Json<Page<DeliveryView>>, AppError> {
    let after = paging.position::<LogAfter>()?;
    let mut conn = state.pool.acquire().await?;
    endpoints::get(&mut conn, id).await?;
    let rows = deliveries::list(&mut conn, id, after, paging.fetch()).await?;
    Ok(Json(paging.page(rows, |d| LogAfter(d.created_at, d.id))))
}

async fn test(State(state): State<AppState>, acting: Acting, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    let event_id = endpoints::send_test(&mut unit, id, &acting).await?;
    unit.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(TestQueued { event_id })).into_response())
}

async fn resume(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Json<EndpointView>, AppError> {
    let mut unit = state.unit().await?;
    endpoints::resume(&mut unit, id, &acting).await?;
    unit.commit().await?;
    Ok(Json(view(&state, id).await?))
}
