//! Sending one delivery (`webhook.deliver` jobs): a JSON POST signed with the endpoint's secret,
//! made with no transaction open; the attempt, and what it leads to, recorded after it in one
//! transaction.
//!
//! Headers: `X-Mbelyco-Event`, `X-Mbelyco-Delivery` (the delivery's id), `X-Mbelyco-Timestamp`
//! (unix seconds) and `X-Mbelyco-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
//! A 2xx answer delivers it; anything else is retried with the queue's exponential backoff until
//! the endpoint's retries are spent, then the delivery is `failed`; [`super::PAUSE_AFTER`] failed
//! deliveries in a row pause the endpoint and raise an alert.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::PgConnection;
use uuid::Uuid;

use super::emit::KIND;
use super::endpoints::pause_alert_key;
use super::{secret_context, PAUSE_AFTER};
use crate::access::Permission;
use crate::alerts::{NewAlert, Severity};
use crate::audit::{self, Action};
use crate::jobs::{backoff, JobContext, JobError, JobHandler};
use crate::settings::SettingsStore;
use crate::unit::Acting;

/// `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`: what the receiver recomputes.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliverJob {
    delivery_id: Uuid,
}

#[derive(sqlx::FromRow)]
struct Due {
    event_type: String,
    payload: Value,
    status: String,
    attempts: i32,
    max_attempts: i32,
    endpoint_id: Uuid,
    url: String,
    secret: String,
    enabled: bool,
    paused: bool,
}

/// How one attempt went.
enum Attempt {
    Delivered(u16),
    Failed(Option<u16>, String),
}

/// Runs `webhook.deliver` jobs.
pub struct Handler {
    pub settings: Arc<SettingsStore>,
    client: reqwest::Client,
}

impl Handler {
    pub fn new(settings: Arc<SettingsStore>) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("MBELYCO-Promo-Webhooks/1")
            .build()
            .unwrap_or_default();
        Self { settings, client }
    }
}

#[async_trait]
impl JobHandler for Handler {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let job: DeliverJob = ctx.payload()?;
        let id = job.delivery_id;
        let due: Option<Due> = sqlx::query_as(
            "select d.event_type, d.payload, d.status, d.attempts, d.max_attempts, e.id as endpoint_id, e.url, \
                    e.secret, e.enabled, e.paused_at is not null as paused \
             from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id where d.id = $1",
        )
        .bind(id)
        .fetch_optional(&ctx.pool)
        .await?;
        let Some(due) = due else {
            return Ok(Some(json!({"skipped": "the endpoint was deleted"})));
        };
        if due.status != "pending" {
            return Ok(Some(json!({"skipped": format!("already {}", due.status)})));
        }
        let current = self.settings.get();
        let settings = &current.0;
        let stop = if !settings.notifications.webhooks_enabled {
            Some("webhooks are turned off in the notification settings")
        } else if !due.enabled {
            Some("the endpoint is turned off")
        } else if due.paused {
            Some("the endpoint is paused")
        } else {
            None
        };
        if let Some(reason) = stop {
            cancel(&ctx, id, reason).await?;
            return Ok(Some(json!({"cancelled": reason})));
        }
        let secret = match self
            .settings
            .secrets()
            .open(&due.secret, &secret_context(due.endpoint_id))
        {
            Ok(s) => s,
            Err(e) => {
                let failed = Attempt::Failed(None, format!("the endpoint's secret: {e}; set it again"));
                return self.record(&ctx, id, &due, failed, 0, true).await;
            }
        };
        let body = serde_json::to_vec(&due.payload).map_err(|e| JobError::Permanent(e.into()))?;
        let timestamp = ctx.clock.now().timestamp();
        let sig = signature(secrecy::ExposeSecret::expose_secret(&secret), timestamp, &body);
        let timeout = Duration::from_secs(u64::from(settings.integrations.outbound_timeout_seconds.clamp(1, 60)));
        let started = Instant::now();
        let answer = self
            .client
            .post(&due.url)
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Mbelyco-Event", &due.event_type)
            .header("X-Mbelyco-Delivery", id.to_string())
            .header("X-Mbelyco-Timestamp", timestamp.to_string())
            .header("X-Mbelyco-Signature", sig)
            .body(body)
            .send()
            .await;
        let ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let attempt = match answer {
            Ok(r) if r.status().is_success() => Attempt::Delivered(r.status().as_u16()),
            Ok(r) => Attempt::Failed(Some(r.status().as_u16()), format!("answered HTTP {}", r.status())),
            // without the URL: it may carry a token of the integrator's
            Err(e) => Attempt::Failed(None, e.without_url().to_string()),
        };
        let last_try = ctx.attempt >= due.max_attempts;
        self.record(&ctx, id, &due, attempt, ms, last_try).await
    }
}

impl Handler {
    /// Records the attempt; a failure with retries left asks the queue to try again after its
    /// backoff.
    async fn record(
        &self,
        ctx: &JobContext,
        id: Uuid,
        due: &Due,
        attempt: Attempt,
        ms: i32,
        last_try: bool,
    ) -> Result<Option<Value>, JobError> {
        let now = ctx.clock.now();
        let mut tx = ctx.pool.begin().await?;
        let out = match attempt {
            Attempt::Delivered(code) => {
                sqlx::query(
                    "update webhook_deliveries set status = 'delivered', attempts = attempts + 1, last_status_code = $2, \
                     last_error = null, last_duration_ms = $3, next_attempt_at = null, finished_at = $4, updated_at = $4 \
                     where id = $1",
                )
                .bind(id)
                .bind(i32::from(code))
                .bind(ms)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query("update webhook_endpoints set consecutive_failures = 0 where id = $1")
                    .bind(due.endpoint_id)
                    .execute(&mut *tx)
                    .await?;
                tracing::info!(delivery = %id, event = %due.event_type, code, ms, "webhook delivered");
                Ok(Some(json!({"delivered": code})))
            }
            Attempt::Failed(code, error) => {
                let spent = last_try || due.attempts + 1 >= due.max_attempts;
                let next = (!spent).then(|| now + chrono::Duration::from_std(backoff(ctx.attempt)).unwrap_or_default());
                sqlx::query(
                    "update webhook_deliveries set status = $2, attempts = attempts + 1, last_status_code = $3, \
                     last_error = $4, last_duration_ms = $5, next_attempt_at = $6, \
                     finished_at = case when $2::text = 'failed' then $7 end, updated_at = $7 where id = $1",
                )
                .bind(id)
                .bind(if spent { "failed" } else { "pending" })
                .bind(code.map(i32::from))
                .bind(&error)
                .bind(ms)
                .bind(next)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if spent {
                    tracing::warn!(delivery = %id, event = %due.event_type, error = %error, "webhook failed for good");
                    count_failure(&mut tx, due.endpoint_id, now).await?;
                    Ok(Some(json!({"failed": error})))
                } else {
                    tracing::info!(delivery = %id, event = %due.event_type, error = %error, "webhook not delivered; will retry");
                    Err(JobError::Retryable(anyhow::anyhow!("{error}")))
                }
            }
        };
        tx.commit().await?;
        out
    }
}

/// Counts a failed delivery against its endpoint; the [`PAUSE_AFTER`]th in a row pauses it, with
/// its audit row and an alert for the people who watch the system.
async fn count_failure(conn: &mut PgConnection, endpoint: Uuid, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let paused: Option<(String, i32)> = sqlx::query_as(
        "update webhook_endpoints set consecutive_failures = consecutive_failures + 1, \
           paused_at = case when consecutive_failures + 1 >= $2::int4 and paused_at is null then $3 else paused_at end, \
           paused_reason = case when consecutive_failures + 1 >= $2::int4 and paused_at is null \
                                then 'the last ' || $2::int4::text || ' deliveries failed' else paused_reason end \
         where id = $1 returning url, consecutive_failures, coalesce(paused_at = $3, false) as paused_now",
    )
    .bind(endpoint)
    .bind(PAUSE_AFTER)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?
    .and_then(|(url, n, paused_now): (String, i32, bool)| paused_now.then_some((url, n)));
    let Some((url, failures)) = paused else {
        return Ok(());
    };
    tracing::warn!(%endpoint, failures, "webhook endpoint paused");
    audit::record(
        conn,
        &Acting::system(now)
            .audit(Action::WebhookEndpointPaused, "webhook_endpoint", endpoint)
            .after(json!({"pausedAt": now, "consecutiveFailures": failures})),
        now,
    )
    .await?;
    let host = reqwest::Url::parse(&url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let alert = NewAlert::new(
        "webhook.endpoint_paused",
        Severity::Warning,
        Permission::SystemAlertsView,
        format!("Webhooks to {host} are paused"),
    )
    .body(format!(
        "The last {failures} deliveries to this endpoint failed after all their retries, so no more are sent. \
         Check the delivery log, fix the receiver, then resume the endpoint."
    ))
    .subject("webhook_endpoint", endpoint)
    .dedupe(pause_alert_key(endpoint));
    crate::alerts::raise(conn, &alert, now).await?;
    Ok(())
}

/// A delivery that will not be sent (webhooks off, endpoint off or paused).
async fn cancel(ctx: &JobContext, id: Uuid, reason: &str) -> Result<(), sqlx::Error> {
    let now = ctx.clock.now();
    sqlx::query(
        "update webhook_deliveries set status = 'cancelled', last_error = $2, next_attempt_at = null, finished_at = $3, \
         updated_at = $3 where id = $1 and status = 'pending'",
    )
    .bind(id)
    .bind(reason)
    .bind(now)
    .execute(&ctx.pool)
    .await?;
    tracing::info!(delivery = %id, reason, "webhook cancelled");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // RFC-style check against a value computed independently (openssl dgst -sha256 -hmac)
        let sig = super::signature("key", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            sig,
            "sha256=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03"
        );
        assert_ne!(sig, super::signature("other", 1_700_000_000, br#"{"a":1}"#));
        assert_ne!(sig, super::signature("key", 1_700_000_001, br#"{"a":1}"#));
    }
}
