//! An endpoint's delivery log, newest first, keyset-paged.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

/// One delivery as the log shows it (its payload stays in the database).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookDelivery)]
pub struct DeliveryView {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    /// `pending`, `delivered`, `failed` (retries spent) or `cancelled` (webhooks or the endpoint
    /// turned off before it was sent).
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The keyset position of the log.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct LogAfter(pub DateTime<Utc>, pub Uuid);

pub async fn list(
    conn: &mut PgConnection,
    endpoint: Uuid,
    after: Option<LogAfter>,
    limit: i64,
) -> Result<Vec<DeliveryView>, sqlx::Error> {
    let (at, id) = after.map_or((None, None), |a| (Some(a.0), Some(a.1)));
    sqlx::query_as(
        "select id, event_id, event_type, status, attempts, max_attempts, next_attempt_at, last_status_code, \
                last_error, last_duration_ms, created_at, finished_at \
         from webhook_deliveries where endpoint_id = $1 \
           and ($2::timestamptz is null or (created_at, id) < ($2, $3)) \
         order by created_at desc, id desc limit $4",
    )
    .bind(endpoint)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await
}
