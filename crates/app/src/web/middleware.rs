//! Cross-cutting request handling: the request id scope and access log, metrics, security
//! headers, and turning a panic into a 500 problem with the request id.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::{AppState, REQUEST_ID_HEADER};
use crate::error::{AppError, REQUEST_ID};

/// The access log's target, so a filter can turn it up or down on its own (`access=debug`).
pub const ACCESS_LOG: &str = "access";

/// Runs the request inside its request-id scope and span, logs it, and records metrics.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let res = REQUEST_ID
        .scope(request_id, next.run(req).instrument(span.clone()))
        .await;
    let secs = started.elapsed().as_secs_f64();
    let status = res.status().as_u16();
    state.metrics.observe(&method, &route, status, secs);
    let latency_ms = secs * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(target: ACCESS_LOG, status, latency_ms, "request failed");
        } else if state.config.is_production() {
            tracing::info!(target: ACCESS_LOG, status, latency_ms, "request");
        } else {
            // a quiet console outside production: the start-up lines (where to sign in, the
            // first password) stay on screen; `RUST_LOG=info,access=debug` shows every request
            tracing::debug!(target: ACCESS_LOG, status, latency_ms, "request");
        }
    });
    res
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
     frame-ancestors 'none'";

pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    res
}

use axum::http::HeaderName;

pub fn panic_response(_err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    AppError::Internal(anyhow::anyhow!("a request handler panicked")).into_response()
}
