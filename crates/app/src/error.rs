//! The one application error type, [`AppError`], and how it is shown.
//!
//! Services return `Result<T, AppError>` (or their own small error converted into it); handlers
//! return it unchanged. On `/api/*` it renders as RFC 9457 `application/problem+json` with the
//! field paths that failed validation; for pages, the web layer turns the same response into a
//! friendly HTML page (`web::pages::error_pages`). Unexpected causes are logged with the request
//! id and never shown: the client sees a generic message and that id.
//! `anyhow` belongs in the CLI and the worker shell; it enters here only as `Internal`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::access::Permission;

pub type Result<T, E = AppError> = std::result::Result<T, E>;

tokio::task_local! {
    /// The current request's id, set by the request-id middleware for the request's whole future.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// One field that failed validation. `field` is a dotted path into the request body
/// (`payments.maxRetryAttempts`, `items[2].code`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why a request was refused (403): a missing permission, or a rule that no permission lifts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The caller does not hold this permission.
    Permission(Permission),
    /// A state-changing request sent from another site (its `Origin` is not ours).
    CrossOrigin,
    /// A state-changing form without this session's CSRF token, or with a stale one.
    CsrfToken,
    /// An account page: only its owner, signed in with a browser, acts on it (never an API key).
    BrowserSessionOnly,
    /// Self-registration is switched off.
    RegistrationClosed,
    /// Role change requests are decided by a Super Administrator only.
    SuperAdminOnly,
    /// The person who asked for a role change cannot also decide it.
    SecondSuperAdmin,
    /// A gateway callback without the configured secret, or from an address not listed.
    GatewaySecret,
    /// A route the access table does not declare: denied to everyone.
    Undeclared,
}

impl Denied {
    /// The refusal in words meant for a person (problem+json `detail`, the error page, a notice).
    pub fn detail(self) -> String {
        match self {
            Denied::Permission(p) => format!(
                "This needs the permission `{}` ({}), which you do not hold.",
                p.key(),
                p.description()
            ),
            Denied::CrossOrigin => {
                "This request was sent from another site, so it was refused. Use the forms of this site.".to_owned()
            }
            Denied::CsrfToken => {
                "This form has expired or did not come from this site. Reload the page and try again.".to_owned()
            }
            Denied::BrowserSessionOnly => {
                "Only the account's owner, signed in with a browser, can do this; an API key cannot.".to_owned()
            }
            Denied::RegistrationClosed => {
                "Registration is closed. Ask an administrator to create an account for you.".to_owned()
            }
            Denied::SuperAdminOnly => "Only a Super Administrator decides role changes.".to_owned(),
            Denied::SecondSuperAdmin => {
                "A second Super Administrator must decide this request: you cannot decide a change you asked for."
                    .to_owned()
            }
            Denied::GatewaySecret => {
                "This callback is open only to the gateway: its secret (or its address) is not the one configured."
                    .to_owned()
            }
            Denied::Undeclared => "This address is not open to anyone.".to_owned(),
        }
    }

    /// The permission missing, when that is the reason.
    pub fn permission(self) -> Option<Permission> {
        match self {
            Denied::Permission(p) => Some(p),
            _ => None,
        }
    }
}

/// Short, for logs and one-line outcomes: `needs users.read`, or the rule.
impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Denied::Permission(p) => write!(f, "needs {}", p.key()),
            Denied::CrossOrigin => f.write_str("cross-origin request"),
            Denied::CsrfToken => f.write_str("missing or wrong CSRF token"),
            Denied::BrowserSessionOnly => f.write_str("needs a signed-in browser session"),
            Denied::RegistrationClosed => f.write_str("registration is closed"),
            Denied::SuperAdminOnly => f.write_str("only a Super Administrator decides role changes"),
            Denied::SecondSuperAdmin => f.write_str("a second Super Administrator must decide"),
            Denied::GatewaySecret => f.write_str("wrong gateway secret or address"),
            Denied::Undeclared => f.write_str("undeclared route"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("authentication required")]
    Unauthorized,
    /// An API key, while API keys are turned off (`integrations.apiKeysEnabled`).
    #[error("API keys are turned off")]
    ApiKeysDisabled,
    #[error("forbidden: {0}")]
    Forbidden(Denied),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("no such route")]
    RouteNotFound,
    /// The path exists but not with this method; `allow` lists the methods it has.
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("conflict: {message}")]
    Conflict { message: String, field: Option<String> },
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    #[error("service busy: {0}")]
    Busy(String),
    /// The system is in maintenance (`crate::maintenance`): changes wait until it ends.
    #[error("in maintenance")]
    Maintenance { retry_after_secs: u64, detail: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Conflict {
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Unauthorized | AppError::ApiKeysDisabled => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) | AppError::RouteNotFound => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Busy(_) | AppError::Maintenance { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "validation",
            AppError::BadRequest(_) => "bad-request",
            AppError::UnsupportedMediaType => "unsupported-media-type",
            AppError::Unauthorized => "unauthenticated",
            AppError::ApiKeysDisabled => "api-keys-disabled",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "record-not-found",
            AppError::RouteNotFound => "route-not-found",
            AppError::MethodNotAllowed { .. } => "method-not-allowed",
            AppError::Conflict { .. } => "conflict",
            AppError::RateLimited { .. } => "rate-limited",
            AppError::Busy(_) => "busy",
            AppError::Maintenance { .. } => "maintenance",
            AppError::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "Some fields are not valid",
            AppError::BadRequest(_) => "The request could not be understood",
            AppError::UnsupportedMediaType => "Unsupported content type",
            AppError::Unauthorized => "Sign-in required",
            AppError::ApiKeysDisabled => "API keys are turned off",
            AppError::Forbidden(_) => "Not allowed",
            AppError::NotFound(_) => "Record not found",
            AppError::RouteNotFound => "No such page or endpoint",
            AppError::MethodNotAllowed { .. } => "Method not allowed",
            AppError::Conflict { .. } => "Conflict with the current state",
            AppError::RateLimited { .. } => "Too many requests",
            AppError::Busy(_) => "Busy, try again",
            AppError::Maintenance { .. } => "Under maintenance",
            AppError::Internal(_) => "Something went wrong on our side",
        }
    }

    fn detail(&self) -> String {
        match self {
            AppError::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("Check these fields: {}.", fields.join(", "))
            }
            AppError::BadRequest(m) => m.clone(),
            AppError::UnsupportedMediaType => "Send the body as application/json.".to_owned(),
            AppError::Unauthorized => "Sign in to continue.".to_owned(),
            AppError::ApiKeysDisabled => "API keys are turned off in the integration settings \
                                          (integrations.apiKeysEnabled). Sign in, or ask an administrator to turn \
                                          them on."
                .to_owned(),
            AppError::Forbidden(denied) => denied.detail(),
            AppError::NotFound(what) => format!("The {what} does not exist."),
            AppError::RouteNotFound => "There is no page or endpoint at this address.".to_owned(),
            AppError::MethodNotAllowed { allow } => format!("This address answers only {allow}."),
            AppError::Conflict { message, .. } => message.clone(),
            AppError::RateLimited { retry_after_secs } => {
                format!("Try again in {retry_after_secs} seconds.")
            }
            AppError::Busy(m) => m.clone(),
            AppError::Maintenance { detail, .. } => detail.clone(),
            AppError::Internal(_) => {
                "An unexpected error occurred. Quote the request id if you contact support.".to_owned()
            }
        }
    }
}

/// RFC 9457 problem details.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Attached to error responses so the page layer can render the same error as HTML.
#[derive(Debug, Clone)]
pub struct ErrorPageInfo {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
    pub request_id: Option<String>,
    pub errors: Vec<FieldError>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let request_id = current_request_id();
        match &self {
            AppError::Internal(cause) => {
                tracing::error!(request_id = request_id.as_deref().unwrap_or("-"), error = ?cause, "internal error")
            }
            other => tracing::debug!(status = status.as_u16(), error = %other, "request refused"),
        }
        let errors = match &self {
            AppError::Validation(e) => e.clone(),
            AppError::Conflict {
                field: Some(f),
                message,
            } => vec![FieldError::new(f.clone(), message.clone())],
            _ => Vec::new(),
        };
        let mut res = problem_response(status, self.slug(), self.title(), self.detail(), errors);
        match &self {
            AppError::RateLimited { retry_after_secs } | AppError::Maintenance { retry_after_secs, .. } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            AppError::MethodNotAllowed { allow } => {
                if let Ok(v) = HeaderValue::from_str(allow) {
                    res.headers_mut().insert(header::ALLOW, v);
                }
            }
            AppError::Forbidden(Denied::Permission(p)) => {
                // for `web::denials`, which audits the refusal wherever it was decided
                res.extensions_mut().insert(MissingPermission(*p));
            }
            _ => {}
        }
        res
    }
}

/// On a 403 response refused for want of a permission: which one (read by `web::denials`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingPermission(pub Permission);

/// An `application/problem+json` response (and the page layer's [`ErrorPageInfo`]) for `status`.
pub fn problem_response(
    status: StatusCode,
    slug: &str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldError>,
) -> Response {
    let request_id = current_request_id();
    let problem = Problem {
        type_uri: format!("urn:mbelyco:problem:{slug}"),
        title,
        status: status.as_u16(),
        detail,
        request_id: request_id.clone(),
        errors,
    };
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res.extensions_mut().insert(ErrorPageInfo {
        status,
        title: problem.title,
        detail: problem.detail,
        request_id,
        errors: problem.errors,
    });
    res
}

/// PostgreSQL error codes the application reacts to.
pub mod pg_codes {
    pub const UNIQUE_VIOLATION: &str = "23505";
    pub const FOREIGN_KEY_VIOLATION: &str = "23503";
    pub const CHECK_VIOLATION: &str = "23514";
    pub const LOCK_NOT_AVAILABLE: &str = "55P03";
    pub const QUERY_CANCELED: &str = "57014";
    pub const SERIALIZATION_FAILURE: &str = "40001";
    pub const DEADLOCK_DETECTED: &str = "40P01";
}

/// The name of the constraint a database error violated, if any.
pub fn violated_constraint(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}

/// A constraint name and the error the client should see when it is violated.
pub type ConstraintError<'a> = (&'a str, fn() -> AppError);

/// Maps a named constraint violation to a client error; anything else stays a server error.
pub fn on_constraint(err: sqlx::Error, map: &[ConstraintError<'_>]) -> AppError {
    if let Some(name) = violated_constraint(&err) {
        if let Some((_, f)) = map.iter().find(|(c, _)| *c == name) {
            return f();
        }
    }
    AppError::from(err)
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if let Some(code) = db.code() {
                if code == pg_codes::LOCK_NOT_AVAILABLE || code == pg_codes::QUERY_CANCELED {
                    return AppError::Busy("The record is busy; try again in a moment.".to_owned());
                }
            }
        }
        if matches!(err, sqlx::Error::PoolTimedOut) {
            return AppError::Busy("The service is busy; try again in a moment.".to_owned());
        }
        AppError::Internal(anyhow::Error::new(err))
    }
}

/// One line for a terminal: the field problems, the conflict, or the error itself.
pub fn describe(e: &AppError) -> String {
    match e {
        AppError::Validation(errs) => errs
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        AppError::Conflict { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_json(res: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn validation_is_problem_json_with_fields() {
        let res = AppError::Validation(vec![FieldError::new("ussd.maxAttemptsPerMinute", "must be at least 1")])
            .into_response();
        assert_eq!(res.status(), 422);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/problem+json");
        let v = body_json(res).await;
        assert_eq!(v["status"], 422);
        assert_eq!(v["errors"][0]["field"], "ussd.maxAttemptsPerMinute");
    }

    #[tokio::test]
    async fn internal_errors_hide_the_cause_and_carry_the_request_id() {
        let res = REQUEST_ID
            .scope("req-123".to_owned(), async {
                AppError::Internal(anyhow::anyhow!("password=hunter2 connection reset")).into_response()
            })
            .await;
        assert_eq!(res.status(), 500);
        let v = body_json(res).await;
        assert_eq!(v["requestId"], "req-123");
        assert!(!v.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn missing_route_and_missing_record_differ() {
        let a = body_json(AppError::RouteNotFound.into_response()).await;
        let b = body_json(AppError::NotFound("batch").into_response()).await;
        assert_ne!(a["type"], b["type"]);
    }
}
