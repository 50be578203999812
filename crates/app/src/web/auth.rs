//! Who is calling: a session cookie (full or half-way through sign-in), a session's bearer token
//! (`mbs_…`, decision 0030), an API key, or nobody; and CSRF protection for browser requests
//! that change state.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use chrono::Duration;
use uuid::Uuid;

use super::AppState;
use crate::access::{self, Permission};
use crate::audit::Actor;
use crate::error::{AppError, Denied};
use crate::identity::session::{self, Stage};

pub const CSRF_COOKIE: &str = "mb_csrf";
pub const CSRF_FIELD: &str = "_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A fully authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub via: Via,
    pub permissions: Arc<BTreeSet<Permission>>,
}

#[derive(Debug, Clone)]
pub enum Via {
    /// A signed-in session: its cookie (a browser), or its token in `Authorization: Bearer`
    /// (`bearer`, a script; not ambient, so no CSRF token is asked of it).
    Session {
        id: Uuid,
        csrf_token: String,
        bearer: bool,
    },
    ApiKey {
        id: Uuid,
    },
}

impl Principal {
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    pub fn require(&self, p: Permission) -> Result<(), AppError> {
        if self.can(p) {
            Ok(())
        } else {
            Err(AppError::Forbidden(Denied::Permission(p)))
        }
    }

    pub fn actor(&self) -> Actor {
        match &self.via {
            Via::Session { id, .. } => Actor::User {
                user_id: self.user_id,
                session_id: Some(*id),
            },
            Via::ApiKey { id } => Actor::ApiKey {
                user_id: self.user_id,
                key_id: *id,
            },
        }
    }

    pub fn session_id(&self) -> Option<Uuid> {
        match &self.via {
            Via::Session { id, .. } => Some(*id),
            Via::ApiKey { .. } => None,
        }
    }

    pub fn csrf_token(&self) -> &str {
        match &self.via {
            Via::Session { csrf_token, .. } => csrf_token,
            Via::ApiKey { .. } => "",
        }
    }
}

/// The caller of a request.
#[derive(Debug, Clone)]
pub enum Auth {
    Anonymous,
    /// Signed in with a password; the second factor is still owed (or being enrolled).
    Partial(session::Current),
    Full(Principal),
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|raw| {
            cookie::Cookie::split_parse(raw.to_owned())
                .filter_map(Result::ok)
                .find(|c| c.name() == name)
                .map(|c| c.value().to_owned())
        })
}

/// Where to go after signing in: `next` only when it is a path on this site, else `/`. The one
/// check for every place `next` is read or written (sign-in, second factor, enrolment, the
/// redirect to sign-in). A path is one `/` followed by anything but `/` or `\`, in printable
/// ASCII (no space), with no backslash, and stays so once percent-decoded (no `%09`, `%0A`, `%2F%2F`…):
/// browsers drop tabs and newlines and read `\` as `/`, so `/\t/evil.example` is another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.bytes().all(|c| c.is_ascii_graphic())
                && !n.starts_with("/sign-")
                && is_local_path(n)
                && is_local_path(&percent_encoding::percent_decode_str(n).decode_utf8_lossy()) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn is_local_path(s: &str) -> bool {
    let b = s.as_bytes();
    b.first() == Some(&b'/')
        && !matches!(b.get(1), Some(b'/' | b'\\'))
        && !s.contains('\\')
        && !s.chars().any(char::is_control)
        && s.len() <= 2048
}

/// Resolves the caller from `Authorization: Bearer` (a session token or an API key) or the
/// session cookie.
pub async fn resolve(state: &AppState, headers: &HeaderMap) -> Result<Auth, AppError> {
    let now = state.clock.now();
    let mut conn = state.pool.acquire().await?;
    let idle = Duration::minutes(i64::from(state.settings.get().0.security.idle_timeout_minutes));
    if let Some(key) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        if let Some(token) = key.trim().strip_prefix(session::BEARER_PREFIX) {
            // only a complete session: a challenge or an enrolment session is no bearer
            return match session::lookup(&mut conn, token, idle, now).await? {
                Some(current) if current.stage == Stage::Full => {
                    Ok(Auth::Full(session_principal(&mut conn, current, true).await?))
                }
                _ => Err(AppError::Unauthorized),
            };
        }
        if !state.settings.get().0.integrations.api_keys_enabled {
            // said plainly: the key may be good, but keys are off (sessions still work)
            return Err(AppError::ApiKeysDisabled);
        }
        return match crate::identity::api_keys::authenticate(&mut conn, key.trim(), now).await? {
            Some(k) => Ok(Auth::Full(Principal {
                user_id: k.user_id,
                email: k.email,
                name: k.name,
                via: Via::ApiKey { id: k.key_id },
                permissions: Arc::new(k.permissions),
            })),
            // a wrong key is an error, never a silent fall-back to anonymous
            None => Err(AppError::Unauthorized),
        };
    }
    let Some(token) = cookie_value(headers, session::COOKIE) else {
        return Ok(Auth::Anonymous);
    };
    let Some(current) = session::lookup(&mut conn, &token, idle, now).await? else {
        return Ok(Auth::Anonymous);
    };
    if current.stage != Stage::Full {
        return Ok(Auth::Partial(current));
    }
    Ok(Auth::Full(session_principal(&mut conn, current, false).await?))
}

/// The principal of a complete session, with its user's permissions now: the same for its
/// cookie and its bearer token.
async fn session_principal(
    conn: &mut sqlx::PgConnection,
    current: session::Current,
    bearer: bool,
) -> Result<Principal, AppError> {
    let permissions = access::effective_permissions(conn, current.user_id).await?;
    Ok(Principal {
        user_id: current.user_id,
        email: current.email,
        name: current.full_name,
        via: Via::Session {
            id: current.id,
            csrf_token: current.csrf_token,
            bearer,
        },
        permissions: Arc::new(permissions),
    })
}

fn is_unsafe(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The origin the panel is served from, and the request's own host, are the allowed origins.
fn origin_ok(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // no Origin: only a same-origin fetch metadata header (or none at all, e.g. old clients)
        return headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_none_or(|s| s == "same-origin" || s == "none");
    };
    if origin == state.config.public_base_url {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    origin == format!("http://{host}") || origin == format!("https://{host}")
}

/// Finds the submitted CSRF token: header, query string, or url-encoded form field (the body is
/// read and put back).
async fn submitted_token(req: &mut Request) -> Result<Option<String>, AppError> {
    if let Some(v) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return Ok(Some(v.to_owned()));
    }
    if let Some(q) = req.uri().query() {
        if let Some(v) = form_value(q.as_bytes(), CSRF_FIELD) {
            return Ok(Some(v));
        }
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok(None);
    }
    let body = std::mem::take(req.body_mut());
    let bytes = axum::body::to_bytes(body, 2 * 1024 * 1024)
        .await
        .map_err(|_| AppError::BadRequest("the form is too large".into()))?;
    let token = form_value(&bytes, CSRF_FIELD);
    *req.body_mut() = axum::body::Body::from(bytes);
    Ok(token)
}

fn form_value(raw: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(raw)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Browser requests that change state must come from our own pages: the Origin must be ours and
/// the request must carry the session's CSRF token (or, before sign-in, the token in the
/// `mb_csrf` cookie). API-key and bearer-session calls are not browser requests (a browser never
/// adds an `Authorization` header on its own) and are exempt.
pub async fn check_csrf(state: &AppState, caller: &Auth, req: &mut Request) -> Result<(), AppError> {
    if !is_unsafe(req.method()) {
        return Ok(());
    }
    let expected = match caller {
        Auth::Full(p) => match &p.via {
            Via::ApiKey { .. } | Via::Session { bearer: true, .. } => return Ok(()),
            Via::Session { csrf_token, .. } => csrf_token.clone(),
        },
        Auth::Partial(s) => s.csrf_token.clone(),
        Auth::Anonymous => cookie_value(req.headers(), CSRF_COOKIE).unwrap_or_default(),
    };
    if !origin_ok(state, req.headers()) {
        return Err(AppError::Forbidden(Denied::CrossOrigin));
    }
    let given = submitted_token(req).await?.unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(&given, &expected) {
        return Err(AppError::Forbidden(Denied::CsrfToken));
    }
    Ok(())
}

/// The guard of the pre-auth JSON API (sign-in, registration), in place of the anonymous
/// double-submit token a script cannot have (decision 0030): a state-changing call must be
/// `application/json` — a page of another site can send that only after a CORS preflight, which
/// this app answers only for the origins the integration settings allow (`web::cors`) — and, when
/// a browser names its Origin, that Origin must be ours, whatever CORS allows.
pub fn check_public_json(state: &AppState, method: &Method, headers: &HeaderMap) -> Result<(), AppError> {
    if !is_unsafe(method) {
        return Ok(());
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(AppError::UnsupportedMediaType);
    }
    if !origin_ok(state, headers) {
        return Err(AppError::Forbidden(Denied::CrossOrigin));
    }
    Ok(())
}

/// Handlers take the caller from the request (the route table already checked access).
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Auth>() {
            Some(Auth::Full(p)) => Ok(p.clone()),
            _ => Err(AppError::Unauthorized),
        }
    }
}

/// A session half-way through sign-in.
pub struct PartialSession(pub session::Current);

impl<S: Send + Sync> FromRequestParts<S> for PartialSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Auth>() {
            Some(Auth::Partial(s)) => Ok(PartialSession(s.clone())),
            _ => Err(AppError::Unauthorized),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_only_a_path_on_this_site() {
        for ok in [
            "/",
            "/account",
            "/admin/codes?q=a%20b&page=2",
            "/admin/batches/1#x",
            "/x?n=%C3%A9",
        ] {
            assert_eq!(safe_next(Some(ok)), ok);
        }
        for bad in [
            "",
            "evil.example",
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/\t/evil.example",
            "/%09/evil.example",
            "/\n/x",
            "/a\r\nSet-Cookie: x=1",
            "/%0d%0aSet-Cookie:x",
            "/%2F/evil.example",
            "/%5Cevil.example",
            "/a\\b",
            "/\u{85}x",
            "/sign-in",
            "/a b",
            "/é",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
