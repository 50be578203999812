//! Request limits per caller: settings `security.rateLimiting.apiRequestsPerMinute` and
//! `…PerHour` (and the same pair under `integrations`; the stricter holds) count every request
//! an API key or a signed-in session makes, in fixed windows kept in PostgreSQL by
//! [`crate::ratelimit`], so all processes share them. `integrations.apiRateLimitingEnabled`
//! turns them off. Over the limit: 429 with `Retry-After`.

use super::auth::{Principal, Via};
use super::AppState;
use crate::error::AppError;

/// Counts one request of `who` and refuses it when a window is full.
pub async fn check(state: &AppState, who: &Principal) -> Result<(), AppError> {
    let settings = state.settings.get();
    let s = &settings.0;
    if !s.integrations.api_rate_limiting_enabled {
        return Ok(());
    }
    let rl = &s.security.rate_limiting;
    let per_minute = rl.api_requests_per_minute.min(s.integrations.api_requests_per_minute);
    let per_hour = rl.api_requests_per_hour.min(s.integrations.api_requests_per_hour);
    let key = match &who.via {
        Via::ApiKey { id } => format!("api:key:{id}"),
        Via::Session { id, .. } => format!("api:session:{id}"),
    };
    let now = state.clock.now();
    let mut conn = state.pool.acquire().await?;
    for (window, max) in [(60, per_minute), (3600, per_hour)] {
        let max = i32::try_from(max).unwrap_or(i32::MAX);
        crate::ratelimit::hit(&mut conn, &key, window, max, now)
            .await?
            .or_refuse()?;
    }
    Ok(())
}

/// Counts one file upload (a code import, a statement) of `user` against
/// `security.rateLimiting.fileUploadsPerHour`.
pub async fn upload(conn: &mut sqlx::PgConnection, state: &AppState, user: uuid::Uuid) -> Result<(), AppError> {
    let settings = state.settings.get();
    let max = settings.0.security.rate_limiting.file_uploads_per_hour;
    let max = i32::try_from(max).unwrap_or(i32::MAX);
    crate::ratelimit::hit(conn, &format!("upload:user:{user}"), 3600, max, state.clock.now())
        .await?
        .or_refuse()
}
