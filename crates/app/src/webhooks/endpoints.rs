//! Webhook endpoints: registered, changed, paused and resumed by staff, each change audited in
//! its transaction. The secret is sealed with the settings' [`SecretBox`], bound to the
//! endpoint's id, and never leaves this module.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::emit::{emit_to, Event};
use super::{secret_context, EventType};
use crate::audit::{self, Action};
use crate::crypto::SecretBox;
use crate::error::{AppError, FieldError};
use crate::settings::validate::{is_http_url, production};
use crate::unit::Acting;

/// An endpoint as the API and pages show it: never its secret.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookEndpoint)]
pub struct EndpointView {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub retry_attempts: i32,
    pub enabled: bool,
    /// Set when the system paused it after repeated failures; "resume" clears it.
    pub paused_at: Option<DateTime<Utc>>,
    pub paused_reason: Option<String>,
    /// Deliveries that failed (after their retries) since the last one delivered.
    pub consecutive_failures: i32,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An endpoint as a client sends it (create, or replace with `PUT`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = WebhookEndpointRequest)]
pub struct EndpointInput {
    /// `http(s)://…` (`https` in production).
    pub url: Option<String>,
    /// One or more of `redemption.completed`, `disbursement.completed`, `disbursement.failed`,
    /// `alert.raised`, `test`.
    #[schema(examples(json!(["redemption.completed", "disbursement.completed"])))]
    pub events: Option<Vec<String>>,
    /// 16 to 256 characters; required when creating, left out (or empty) to keep the current one.
    /// Never shown back.
    pub secret: Option<String>,
    /// 0 to 10 (default: the notification settings' `webhookRetryAttempts`).
    pub retry_attempts: Option<i64>,
    /// Default true; false stops deliveries until turned on again.
    pub enabled: Option<bool>,
    /// A note for staff, at most 200 characters.
    pub description: Option<String>,
}

/// An endpoint, checked.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: String,
    pub events: Vec<EventType>,
    pub secret: Option<String>,
    pub retry_attempts: i32,
    pub enabled: bool,
    pub description: String,
}

impl EndpointInput {
    /// Checks every field; a 422 names each bad one. `creating`: the secret is required.
    pub fn parse(&self, creating: bool, default_retries: u32) -> Result<NewEndpoint, AppError> {
        let mut errors = Vec::new();
        let url = self.url.as_deref().map(str::trim).unwrap_or_default().to_owned();
        if url.is_empty() {
            errors.push(FieldError::new("url", "is required"));
        } else if !is_http_url(&url) || url.len() > 2000 {
            errors.push(FieldError::new("url", "must be an http:// or https:// URL"));
        } else if production() && !url.starts_with("https://") {
            errors.push(FieldError::new("url", "must be an https:// URL in production"));
        }
        let mut events = Vec::new();
        match self.events.as_deref() {
            None | Some([]) => errors.push(FieldError::new("events", "choose at least one event")),
            Some(list) => {
                for (i, e) in list.iter().enumerate() {
                    match EventType::parse(e.trim()) {
                        Some(t) if !events.contains(&t) => events.push(t),
                        Some(_) => {}
                        None => errors.push(FieldError::new(
                            format!("events[{i}]"),
                            "is not an event: redemption.completed, disbursement.completed, disbursement.failed, \
                             alert.raised or test",
                        )),
                    }
                }
            }
        }
        let secret = self.secret.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
        match &secret {
            None if creating => errors.push(FieldError::new("secret", "is required")),
            Some(s) if !(16..=256).contains(&s.chars().count()) => {
                errors.push(FieldError::new("secret", "must be 16 to 256 characters"))
            }
            _ => {}
        }
        let retry_attempts = self.retry_attempts.unwrap_or(i64::from(default_retries));
        if !(0..=10).contains(&retry_attempts) {
            errors.push(FieldError::new("retryAttempts", "must be from 0 to 10"));
        }
        let description = self
            .description
            .as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        if description.chars().count() > 200 {
            errors.push(FieldError::new("description", "must be at most 200 characters"));
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(NewEndpoint {
            url,
            events,
            secret,
            retry_attempts: retry_attempts as i32,
            enabled: self.enabled.unwrap_or(true),
            description,
        })
    }
}

const VIEW: &str = "select id, url, events, retry_attempts, enabled, paused_at, paused_reason, consecutive_failures, \
     description, created_at, updated_at from webhook_endpoints";

fn names(events: &[EventType]) -> Vec<&'static str> {
    events.iter().map(|e| e.as_str()).collect()
}

/// What the audit log keeps of an endpoint: no secret.
fn shown(e: &EndpointView) -> serde_json::Value {
    json!({"url": e.url, "events": e.events, "retryAttempts": e.retry_attempts, "enabled": e.enabled,
           "description": e.description})
}

pub async fn list(conn: &mut PgConnection) -> Result<Vec<EndpointView>, sqlx::Error> {
    sqlx::query_as(&format!("{VIEW} order by created_at, id"))
        .fetch_all(conn)
        .await
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<EndpointView, AppError> {
    sqlx::query_as(&format!("{VIEW} where id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("webhook endpoint"))
}

#[tracing::instrument(skip_all, err(Debug))]
pub async fn create(
    conn: &mut PgConnection,
    secrets: &SecretBox,
    new: &NewEndpoint,
    acting: &Acting,
) -> Result<Uuid, AppError> {
    let id = Uuid::new_v4();
    let Some(secret) = new.secret.as_deref() else {
        return Err(AppError::field("secret", "is required"));
    };
    sqlx::query(
        "insert into webhook_endpoints (id, url, events, secret, retry_attempts, enabled, description, created_at, \
         updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(id)
    .bind(&new.url)
    .bind(names(&new.events))
    .bind(secrets.seal(secret, &secret_context(id)))
    .bind(new.retry_attempts)
    .bind(new.enabled)
    .bind(&new.description)
    .bind(acting.now)
    .execute(&mut *conn)
    .await?;
    let after = get(conn, id).await?;
    audit::record(
        conn,
        &acting
            .audit(Action::WebhookEndpointCreated, "webhook_endpoint", id)
            .after(shown(&after)),
        acting.now,
    )
    .await?;
    Ok(id)
}

/// Replaces the endpoint's settings (its secret only when a new one is given).
#[tracing::instrument(skip_all, fields(%id), err(Debug))]
pub async fn update(
    conn: &mut PgConnection,
    secrets: &SecretBox,
    id: Uuid,
    new: &NewEndpoint,
    acting: &Acting,
) -> Result<(), AppError> {
    let before = lock(conn, id).await?;
    sqlx::query(
        "update webhook_endpoints set url = $2, events = $3, secret = coalesce($4, secret), retry_attempts = $5, \
         enabled = $6, description = $7, updated_at = $8 where id = $1",
    )
    .bind(id)
    .bind(&new.url)
    .bind(names(&new.events))
    .bind(new.secret.as_deref().map(|s| secrets.seal(s, &secret_context(id))))
    .bind(new.retry_attempts)
    .bind(new.enabled)
    .bind(&new.description)
    .bind(acting.now)
    .execute(&mut *conn)
    .await?;
    let after = get(conn, id).await?;
    let mut shown_after = shown(&after);
    shown_after["secretReplaced"] = json!(new.secret.is_some());
    audit::record(
        conn,
        &acting
            .audit(Action::WebhookEndpointUpdated, "webhook_endpoint", id)
            .before(shown(&before))
            .after(shown_after),
        acting.now,
    )
    .await?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(%id), err(Debug))]
pub async fn delete(conn: &mut PgConnection, id: Uuid, acting: &Acting) -> Result<(), AppError> {
    let before = lock(conn, id).await?;
    sqlx::query("delete from webhook_endpoints where id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    audit::record(
        conn,
        &acting
            .audit(Action::WebhookEndpointDeleted, "webhook_endpoint", id)
            .before(shown(&before)),
        acting.now,
    )
    .await?;
    Ok(())
}

/// Resumes a paused endpoint: its failure count starts again and the pause alert is closed.
#[tracing::instrument(skip_all, fields(%id), err(Debug))]
pub async fn resume(conn: &mut PgConnection, id: Uuid, acting: &Acting) -> Result<(), AppError> {
    let before = lock(conn, id).await?;
    if before.paused_at.is_none() {
        return Err(AppError::conflict("status", "this endpoint is not paused"));
    }
    sqlx::query(
        "update webhook_endpoints set paused_at = null, paused_reason = null, consecutive_failures = 0, \
         updated_at = $2 where id = $1",
    )
    .bind(id)
    .bind(acting.now)
    .execute(&mut *conn)
    .await?;
    crate::alerts::close(conn, &pause_alert_key(id), acting.user_id(), acting.now).await?;
    audit::record(
        conn,
        &acting
            .audit(Action::WebhookEndpointResumed, "webhook_endpoint", id)
            .before(
                json!({"pausedAt": before.paused_at, "pausedReason": before.paused_reason,
                           "consecutiveFailures": before.consecutive_failures}),
            )
            .after(json!({"pausedAt": null, "consecutiveFailures": 0})),
        acting.now,
    )
    .await?;
    Ok(())
}

/// Queues a `test` event to this endpoint through the outbox. 409 while webhooks are off, or
/// the endpoint is turned off or paused.
#[tracing::instrument(skip_all, fields(%id), err(Debug))]
pub async fn send_test(conn: &mut PgConnection, id: Uuid, acting: &Acting) -> Result<Uuid, AppError> {
    let endpoint = lock(conn, id).await?;
    if !endpoint.enabled {
        return Err(AppError::conflict("enabled", "this endpoint is turned off"));
    }
    if endpoint.paused_at.is_some() {
        return Err(AppError::conflict("status", "this endpoint is paused: resume it first"));
    }
    let event = Event::test(acting.now);
    if emit_to(conn, &event, Some(id), acting.now).await? == 0 {
        return Err(AppError::conflict(
            "webhooksEnabled",
            "webhooks are turned off in the notification settings",
        ));
    }
    audit::record(
        conn,
        &acting
            .audit(Action::WebhookTestQueued, "webhook_endpoint", id)
            .after(json!({"eventId": event.id})),
        acting.now,
    )
    .await?;
    Ok(event.id)
}

/// The dedupe key of the alert raised when the endpoint is paused.
pub(super) fn pause_alert_key(id: Uuid) -> String {
    format!("webhook.paused:{id}")
}

async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<EndpointView, AppError> {
    sqlx::query_as(&format!("{VIEW} where id = $1 for update"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("webhook endpoint"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(e: AppError) -> Vec<String> {
        match e {
            AppError::Validation(v) => v.into_iter().map(|f| f.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_input_names_each_field() {
        let input = EndpointInput {
            url: Some("ftp://example.rw/hook".into()),
            events: Some(vec!["redemption.completed".into(), "payout.done".into()]),
            secret: Some("short".into()),
            retry_attempts: Some(11),
            ..EndpointInput::default()
        };
        let f = fields(input.parse(true, 3).unwrap_err());
        assert_eq!(f, ["url", "events[1]", "secret", "retryAttempts"]);
        let ok = EndpointInput {
            url: Some(" https://example.rw/hook ".into()),
            events: Some(vec!["test".into(), "test".into()]),
            ..EndpointInput::default()
        }
        .parse(false, 4)
        .unwrap();
        assert_eq!(
            (ok.url.as_str(), ok.events.len(), ok.retry_attempts, ok.secret),
            ("https://example.rw/hook", 1, 4, None)
        );
    }
}
