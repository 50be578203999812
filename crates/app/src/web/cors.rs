//! CORS for `/api` only, from the live integration settings (`integrations.corsEnabled`,
//! `integrations.corsAllowedOrigins`), read on each request so a change applies at once.
//!
//! A script on an allowed origin may call the API with an API key or a session token in
//! `Authorization`; credentials (cookies) are never allowed cross-origin, so the panel's
//! session stays same-origin. A preflight from any other origin, or while CORS is off, is
//! refused (403) and no CORS header is ever sent for it. Pages are never opened to other origins.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::error::problem_response;

const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE";
const ALLOW_HEADERS: &str = "authorization, content-type, idempotency-key, x-request-id";
const EXPOSE_HEADERS: &str = "x-request-id, retry-after, location, content-disposition, allow";
/// How long a browser may keep a preflight's answer.
const MAX_AGE_SECONDS: &str = "600";

/// The request's `Origin` when CORS is on and it is one of the allowed origins.
fn allowed_origin(state: &AppState, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    let settings = state.settings.get();
    let i = &settings.0.integrations;
    let listed = i.cors_allowed_origins.iter().any(|o| o.eq_ignore_ascii_case(text));
    (i.cors_enabled && listed).then(|| origin.clone())
}

pub async fn cors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/") || !req.headers().contains_key(header::ORIGIN) {
        return next.run(req).await;
    }
    let allowed = allowed_origin(&state, req.headers());
    let preflight =
        req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let Some(origin) = allowed else {
            let mut res = problem_response(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Not allowed",
                "This origin may not call the API from a browser: it is not in the integration settings' \
                 allowed origins (integrations.corsAllowedOrigins), or CORS is off."
                    .to_owned(),
                Vec::new(),
            );
            res.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("origin"));
            return res;
        };
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE_SECONDS),
        );
        h.insert(header::VARY, HeaderValue::from_static("origin"));
        return res;
    }
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = allowed {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
    res
}
