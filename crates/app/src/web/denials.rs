//! Requests refused for want of a permission, in the audit log (`access.denied`): who asked,
//! for which route, the permission missing, and the request id — whether the route table refused
//! it (`routes::authorize`) or the handler did (`Principal::require`, seen on the response as
//! [`MissingPermission`]).
//!
//! Bounded so that nobody can flood the chain with refusals (decision 0055): only a signed-in
//! caller can be refused for a permission (anonymous callers get 401 and are not recorded here),
//! and of one caller's refusals at most the first per route per minute is written, and at most
//! [`PER_CALLER_PER_MINUTE`] a minute in all. Each row says how many refusals of that caller on
//! that route the previous minute saw, so a sustained probe stays visible as a count. The
//! counting is in `rate_limits` (shared by every process, swept by housekeeping).

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, Method};
use serde_json::json;

use super::auth::Principal;
use super::AppState;
use crate::access::Permission;
use crate::audit::{self, Action, AuditEvent, RequestMeta};
use crate::error::current_request_id;
pub use crate::error::MissingPermission;

/// The most `access.denied` rows one caller adds to the log in a minute.
pub const PER_CALLER_PER_MINUTE: i32 = 20;

/// The request's address, user agent and id, taken before the request is handed on.
pub fn meta_of(req: &Request) -> RequestMeta {
    RequestMeta {
        ip: req
            .extensions()
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
        request_id: current_request_id(),
    }
}

/// Records one refusal, within the bounds above. A failure to record is logged, never turned
/// into another answer: the caller is refused either way.
pub async fn record(
    state: &AppState,
    who: &Principal,
    method: &Method,
    route: &str,
    missing: Permission,
    meta: RequestMeta,
) {
    if let Err(e) = try_record(state, who, method, route, missing, meta).await {
        tracing::warn!(error = %e, route, permission = missing.key(), "could not audit a refused request");
    }
}

async fn try_record(
    state: &AppState,
    who: &Principal,
    method: &Method,
    route: &str,
    missing: Permission,
    meta: RequestMeta,
) -> Result<(), sqlx::Error> {
    let now = state.clock.now();
    let target = format!("{method} {route}");
    let mut tx = state.pool.begin().await?;
    let (this_minute, previous_minute) =
        crate::ratelimit::count_fixed(&mut tx, &format!("denied:{}:{target}", who.user_id), 60, now).await?;
    if this_minute > 1 {
        // counted (for the next minute's row), not written
        return tx.commit().await;
    }
    let (written, _) = crate::ratelimit::count_fixed(&mut tx, &format!("denied:{}", who.user_id), 60, now).await?;
    if written > PER_CALLER_PER_MINUTE {
        return tx.commit().await;
    }
    let event = AuditEvent::new(who.actor(), Action::AccessDenied, "route", &target)
        .metadata(json!({
            "method": method.as_str(),
            "route": route,
            "permission": missing.key(),
            "refusedPreviousMinute": previous_minute,
        }))
        .meta(meta);
    audit::record(&mut tx, &event, now).await?;
    tx.commit().await
}
