//! The route table: every route the app serves, with the access it needs. The router is built
//! from this table and nothing else, and `authorize` checks each request against it, so a route
//! without a declared permission cannot exist and anything unmatched is denied.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::MethodRouter;
use axum::Router;

use super::auth::{self, Auth};
use super::AppState;
use crate::access::Permission;
use crate::error::{AppError, Denied};

/// What a route needs from the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (sign-in page, health, static files).
    Public,
    /// Anyone, through the pre-auth JSON API (sign-in, registration): a state-changing call must
    /// be `application/json` and any browser Origin ours, in place of the anonymous form's
    /// double-submit token (decision 0030).
    PublicJson,
    /// A gateway or provider callback, authenticated by a secret in its URL (no session, no CSRF).
    Webhook,
    /// A signed-in staff member half way through sign-in (second factor owed or being enrolled).
    PartialSession,
    /// Any fully signed-in staff member (the home page, who am I).
    SignedIn,
    /// A person's own account (its page, password, sessions, two-factor, signing out): only with
    /// a signed-in browser session, never with an API key.
    OwnAccount,
    /// A signed-in staff member (or API key) holding this permission.
    Permission(Permission),
    /// … holding any one of these (a settings page open to two keys, say).
    AnyOf(&'static [Permission]),
    /// … holding every one of these (financial reports: `reports.read` and `disbursements.read`).
    AllOf(&'static [Permission]),
}

pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub router: MethodRouter<AppState>,
    /// The OpenAPI description (every `/api/v1` route has one; see `web::openapi`).
    pub doc: Option<super::openapi::Doc>,
}

/// `route!(GET "/path", access, handler)`; API routes add their documentation,
/// `route!(GET "/api/v1/…", access, handler, Doc::new("…").query::<Q>().ok::<R>())`.
#[macro_export]
macro_rules! route {
    ($method:ident $path:literal, $access:expr, $handler:expr) => {
        $crate::route!(@spec $method $path, $access, $handler, None)
    };
    ($method:ident $path:literal, $access:expr, $handler:expr, $doc:expr) => {
        $crate::route!(@spec $method $path, $access, $handler, Some($doc))
    };
    (@spec $method:ident $path:literal, $access:expr, $handler:expr, $doc:expr) => {
        $crate::web::routes::RouteSpec {
            method: ::axum::http::Method::$method,
            path: $path,
            access: $access,
            router: ::axum::routing::on(::axum::routing::MethodFilter::$method, $handler),
            doc: $doc,
        }
    };
}

pub type AccessTable = HashMap<(Method, &'static str), Access>;

/// Builds the router and the access table from the specs.
pub fn build(specs: Vec<RouteSpec>) -> (Router<AppState>, Arc<AccessTable>) {
    let mut table = AccessTable::new();
    let mut by_path: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for spec in specs {
        let previous = table.insert((spec.method.clone(), spec.path), spec.access);
        assert!(
            previous.is_none(),
            "route declared twice: {} {}",
            spec.method,
            spec.path
        );
        match by_path.iter_mut().find(|(p, _)| *p == spec.path) {
            Some((_, r)) => {
                let merged = std::mem::take(r).merge(spec.router);
                *r = merged;
            }
            None => by_path.push((spec.path, spec.router)),
        }
    }
    let mut router = Router::new();
    for (path, r) in by_path {
        router = router.route(path, r);
    }
    (router, Arc::new(table))
}

/// Resolves who is calling, checks the route's access, and hands the caller to the handler.
pub async fn authorize(table: Arc<AccessTable>, state: AppState, mut req: Request, next: Next) -> Response {
    let Some(path) = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()) else {
        // unmatched: the fallback answers 404
        return next.run(req).await;
    };
    let method = if req.method() == Method::HEAD {
        Method::GET
    } else {
        req.method().clone()
    };
    let access = table
        .iter()
        .find(|((m, p), _)| *m == method && *p == path)
        .map(|(_, a)| *a);
    let Some(access) = access else {
        return method_not_allowed(&table, &path, &method);
    };
    match access {
        Access::Webhook => return next.run(req).await,
        Access::Public => {
            // anonymous forms (sign-in, registration) carry the double-submit token
            if let Err(e) = auth::check_csrf(&state, &Auth::Anonymous, &mut req).await {
                return e.into_response();
            }
            return next.run(req).await;
        }
        Access::PublicJson => {
            if let Err(e) = auth::check_public_json(&state, req.method(), req.headers()) {
                return e.into_response();
            }
            return next.run(req).await;
        }
        _ => {}
    }
    let caller = match auth::resolve(&state, req.headers()).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let is_api = path.starts_with("/api/");
    let denied_anonymous = || -> Response {
        if is_api {
            AppError::Unauthorized.into_response()
        } else {
            let next_path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let next_path = auth::safe_next(Some(next_path));
            Redirect::to(&with_query("/sign-in", &[("next", next_path)])).into_response()
        }
    };
    match (&access, &caller) {
        (Access::PartialSession, Auth::Partial(_)) => {}
        (Access::PartialSession, Auth::Full(_)) => return Redirect::to("/").into_response(),
        (Access::PartialSession, _) => return Redirect::to("/sign-in").into_response(),
        (_, Auth::Partial(_)) if !is_api => return Redirect::to("/sign-in/verify").into_response(),
        (_, Auth::Anonymous) | (_, Auth::Partial(_)) => return denied_anonymous(),
        (Access::SignedIn, Auth::Full(_)) => {}
        (Access::OwnAccount, Auth::Full(who)) => {
            if who.session_id().is_none() {
                return AppError::Forbidden(Denied::BrowserSessionOnly).into_response();
            }
        }
        (Access::Permission(p), Auth::Full(who)) => {
            if !who.can(*p) {
                return refuse(&state, who, &method, &path, *p, super::denials::meta_of(&req)).await;
            }
        }
        (Access::AllOf(ps), Auth::Full(who)) => {
            if let Some(p) = ps.iter().find(|p| !who.can(**p)) {
                return refuse(&state, who, &method, &path, *p, super::denials::meta_of(&req)).await;
            }
        }
        (Access::AnyOf(ps), Auth::Full(who)) => {
            if !ps.iter().any(|p| who.can(*p)) {
                let Some(p) = ps.first() else {
                    return AppError::Forbidden(Denied::Undeclared).into_response();
                };
                return refuse(&state, who, &method, &path, *p, super::denials::meta_of(&req)).await;
            }
        }
        (Access::Public | Access::PublicJson | Access::Webhook, _) => {}
    }
    if let Err(e) = auth::check_csrf(&state, &caller, &mut req).await {
        return e.into_response();
    }
    if let Auth::Full(who) = &caller {
        if let Err(e) = super::quota::check(&state, who).await {
            return e.into_response();
        }
    }
    // in maintenance, changes wait (decision 0054): decided here once, for every route
    if let Some(e) = crate::maintenance::web::refuse(&method, &path, req.uri().path()) {
        return e.into_response();
    }
    let Auth::Full(who) = caller else {
        req.extensions_mut().insert(caller);
        return next.run(req).await;
    };
    let meta = super::denials::meta_of(&req);
    req.extensions_mut().insert(Auth::Full(who.clone()));
    let res = next.run(req).await;
    // the handler refused for a permission (`Principal::require`): audited like the table's refusals
    if let Some(super::denials::MissingPermission(p)) = res.extensions().get().copied() {
        super::denials::record(&state, &who, &method, &path, p, meta).await;
    }
    res
}

/// 403 for want of `missing`, audited (`web::denials`).
async fn refuse(
    state: &AppState,
    who: &auth::Principal,
    method: &Method,
    path: &str,
    missing: Permission,
    meta: crate::audit::RequestMeta,
) -> Response {
    super::denials::record(state, who, method, path, missing, meta).await;
    AppError::Forbidden(Denied::Permission(missing)).into_response()
}

/// A declared path asked with a method it does not have: 405 naming the methods it has. (The
/// router is built from the table, so a matched path always has at least one declared method;
/// anything else would be a bug and stays denied.)
fn method_not_allowed(table: &AccessTable, path: &str, method: &Method) -> Response {
    let mut methods: Vec<&str> = table
        .keys()
        .filter(|(_, p)| *p == path)
        .map(|(m, _)| m.as_str())
        .collect();
    if methods.is_empty() {
        tracing::error!(%method, %path, "route without a declared access rule: denied");
        return AppError::Forbidden(Denied::Undeclared).into_response();
    }
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    methods.sort_unstable();
    AppError::MethodNotAllowed {
        allow: methods.join(", "),
    }
    .into_response()
}

/// `path?query`, the query serialized by `serde_urlencoded` from a struct, a slice of pairs or a
/// map (a `None` field is left out); `path` alone when nothing is left. A `/` stays readable in
/// the query (RFC 3986 allows it there: `/sign-in?next=/account`).
pub fn with_query(path: &str, query: &impl serde::Serialize) -> String {
    let q = query_string(query);
    if q.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{q}")
    }
}

/// The query string alone (no `?`), as [`with_query`] writes it.
pub fn query_string(query: &impl serde::Serialize) -> String {
    match serde_urlencoded::to_string(query) {
        Ok(q) => q.replace("%2F", "/"),
        Err(e) => {
            tracing::error!(error = %e, "a query that does not serialize: left out");
            String::new()
        }
    }
}

/// Everything but the RFC 3986 unreserved characters, escaped.
const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// One path segment (an id a person may have typed), percent-encoded; also RFC 8187's
/// `filename*=UTF-8''…` value.
pub fn path_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_serialized_and_empty_ones_left_out() {
        assert_eq!(
            with_query("/sign-in", &[("next", "/account")]),
            "/sign-in?next=/account"
        );
        assert_eq!(with_query("/a", &[("q", "x y&z"), ("n", "1")]), "/a?q=x+y%26z&n=1");
        assert_eq!(with_query("/a", &[("q", None::<&str>)]), "/a");
        assert_eq!(query_string(&[("a", Some("1")), ("b", None)]), "a=1");
        assert_eq!(path_segment("ATUid_1/x y"), "ATUid_1%2Fx%20y");
    }
}
