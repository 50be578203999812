//! The edge of the app: what every request passes before any handler sees it.
//!
//! - [`guard_input`]: the path parameters and the query string, percent-decoded, must not hold a
//!   NUL character (PostgreSQL text cannot), and paging numbers have bounds; a violation is a
//!   422 naming the parameter. Bodies are checked by the extractors (`web::extract`).
//! - [`problem_errors`]: an error response that is not already a problem (axum's own rejections,
//!   a bare 405/413, a handler's plain-text refusal) becomes `application/problem+json`, so no
//!   error on any route is plain text (pages then render it as the HTML error page).

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::extract::nul_error;
use crate::error::{problem_response, AppError, ErrorPageInfo};

/// Query parameters that count rows or pages; larger values would only overflow an offset.
const PAGING_PARAMS: &[&str] = &["page", "perPage", "per_page", "limit", "offset"];
/// The largest page number or page size any list accepts.
pub const MAX_PAGING_VALUE: i64 = 1_000_000;

pub async fn guard_input(req: Request, next: Next) -> Response {
    if let Err(e) = check_path(&req).and_then(|()| check_query(req.uri().query().unwrap_or(""))) {
        return e.into_response();
    }
    next.run(req).await
}

/// Each path segment matched by a `{param}` of the route, decoded, names its parameter.
fn check_path(req: &Request) -> Result<(), AppError> {
    let Some(template) = req.extensions().get::<MatchedPath>() else {
        return Ok(());
    };
    let actual = req.uri().path().split('/');
    for (pattern, segment) in template.as_str().split('/').zip(actual) {
        let Some(name) = pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) else {
            continue;
        };
        let name = name.trim_start_matches('*');
        let decoded: Vec<u8> = percent_encoding::percent_decode_str(segment).collect();
        match std::str::from_utf8(&decoded) {
            Ok(s) if !s.contains('\0') => {}
            Ok(_) => return Err(nul_error(name)),
            Err(_) => return Err(AppError::field(name, "is not valid UTF-8")),
        }
    }
    Ok(())
}

fn check_query(query: &str) -> Result<(), AppError> {
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k.contains('\0') || v.contains('\0') {
            return Err(nul_error(&k));
        }
        if PAGING_PARAMS.contains(&k.as_ref()) {
            if let Ok(n) = v.trim().parse::<i128>() {
                if n.unsigned_abs() > MAX_PAGING_VALUE as u128 {
                    return Err(AppError::field(
                        k.into_owned(),
                        format!("must be a number from 0 to {MAX_PAGING_VALUE}"),
                    ));
                }
            } else if v.trim().len() > 20 && v.trim().bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                return Err(AppError::field(k.into_owned(), "is too large"));
            }
        }
    }
    Ok(())
}

/// Error responses that are not problems yet become problems with the same status and headers.
pub async fn problem_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if status.as_u16() < 400 || res.extensions().get::<ErrorPageInfo>().is_some() {
        return res;
    }
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !(content_type.is_empty() || content_type.starts_with("text/plain")) {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("The request failed").to_owned()
    } else {
        text.chars().take(500).collect()
    };
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), %detail, "a bare server error reached the edge");
    }
    let title = status.canonical_reason().unwrap_or("Request failed");
    let mut out = problem_response(status, &format!("http-{}", status.as_u16()), title, detail, Vec::new());
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}
