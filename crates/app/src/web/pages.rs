//! Page plumbing: the shared layout data, the friendly error page, and the embedded static files.

use askama::Template;
use axum::extract::{Path, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::error::{AppError, Denied, ErrorPageInfo, FieldError};

/// Renders a page template with a status: the one way every page answers.
pub fn html<T: Template>(status: StatusCode, t: &T) -> Result<Response, AppError> {
    let out = t.render().map_err(|e| AppError::Internal(e.into()))?;
    Ok((status, Html(out)).into_response())
}

/// What kind of notice a page shows above its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// Something the reader asked for was done.
    Done,
    /// Something the reader should know.
    Info,
    /// The reader's request was refused; the text says why.
    Refused,
}

/// A typed notice: its kind and its text, rendered escaped (`{{ notice.text }}`), never `|safe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub text: String,
}

impl Notice {
    pub fn done(text: impl Into<String>) -> Self {
        Self {
            kind: NoticeKind::Done,
            text: text.into(),
        }
    }

    pub fn info(text: impl Into<String>) -> Self {
        Self {
            kind: NoticeKind::Info,
            text: text.into(),
        }
    }

    pub fn refused(text: impl Into<String>) -> Self {
        Self {
            kind: NoticeKind::Refused,
            text: text.into(),
        }
    }

    /// The CSS class of the notice's box (`notice`, `notice info`, `notice refused`).
    pub fn class(&self) -> &'static str {
        match self.kind {
            NoticeKind::Done => "notice",
            NoticeKind::Info => "notice info",
            NoticeKind::Refused => "notice refused",
        }
    }

    /// `alert` for a refusal (read at once by screen readers), `status` otherwise.
    pub fn role(&self) -> &'static str {
        match self.kind {
            NoticeKind::Refused => "alert",
            _ => "status",
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    status: u16,
    detail: &'a str,
    request_id: Option<&'a str>,
    errors: &'a [FieldError],
    sign_in: bool,
}

/// Pages get a friendly HTML page for the same errors the API reports as problem+json.
pub async fn render_error_pages(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|a| a.contains("text/html") || a.contains("*/*"));
    let res = next.run(req).await;
    if is_api || !wants_html {
        return res;
    }
    let Some(info) = res.extensions().get::<ErrorPageInfo>().cloned() else {
        return res;
    };
    let page = ErrorPage {
        title: info.title,
        status: info.status.as_u16(),
        detail: &info.detail,
        request_id: info.request_id.as_deref(),
        errors: &info.errors,
        sign_in: info.status == StatusCode::UNAUTHORIZED,
    };
    match page.render() {
        Ok(html) => {
            let mut out = (info.status, Html(html)).into_response();
            for name in [header::RETRY_AFTER, header::LOCATION, header::ALLOW] {
                if let Some(v) = res.headers().get(&name) {
                    out.headers_mut().insert(name, v.clone());
                }
            }
            out
        }
        Err(_) => res,
    }
}

/// A form's refused fields as a page shows them: each message beside its field
/// (`templates/form.html`'s `field_error`), the form refilled as it was sent.
#[derive(Debug, Default)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// The refused fields of `e`; any other error is passed on (an error page).
    pub fn of(e: AppError) -> Result<Self, AppError> {
        match e {
            AppError::Validation(v) => Ok(Self(v)),
            e => Err(e),
        }
    }

    /// The messages for `field` and its parts (`filters.state`, `recipients[2]`), joined; None
    /// when it was fine.
    pub fn get(&self, field: &str) -> Option<String> {
        let msgs: Vec<&str> = self
            .0
            .iter()
            .filter(|e| {
                e.field
                    .strip_prefix(field)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
            })
            .map(|e| e.message.as_str())
            .collect();
        (!msgs.is_empty()).then(|| msgs.join("; "))
    }

    pub fn extend(&mut self, more: FieldErrors) {
        self.0.extend(more.0);
    }
}

/// What a page tells the user when an action was refused for a reason they can act on
/// (invalid fields, a conflict, a rule); `None` for anything else, which stays an error page.
pub fn refusal_message(e: &AppError) -> Option<String> {
    match e {
        AppError::Validation(errs) => Some(
            errs.iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        AppError::Conflict { message, .. } => Some(message.clone()),
        AppError::Forbidden(Denied::Permission(_)) => None,
        AppError::Forbidden(denied) => Some(denied.detail()),
        AppError::NotFound(what) => Some(format!("The {what} does not exist.")),
        _ => None,
    }
}

const APP_CSS: &str = include_str!("../../static/app.css");
const APP_JS: &str = include_str!("../../static/app.js");

pub async fn static_file(Path(file): Path<String>) -> Result<Response, AppError> {
    let (body, mime) = match file.as_str() {
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        _ => return Err(AppError::RouteNotFound),
    };
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(res)
}

/// A command's outcome as a page shows it: done (and committed), or refused for a reason the
/// person can act on (rolled back), with that reason as a notice.
#[derive(Debug)]
pub enum Outcome<T> {
    Done(T),
    Refused(Notice),
}

impl<T> Outcome<T> {
    /// The notice to show: `done`'s words for the outcome, or the refusal.
    pub fn notice(self, done: impl FnOnce(T) -> String) -> Notice {
        match self {
            Outcome::Done(v) => Notice::done(done(v)),
            Outcome::Refused(n) => n,
        }
    }
}

/// Commits `unit` when the use case that ran in it succeeded; otherwise rolls it back and turns a
/// refusal a person can act on ([`refusal_message`]) into [`Outcome::Refused`]. Anything else
/// stays an error (the error page).
pub async fn settle<T>(unit: crate::unit::Unit, result: Result<T, AppError>) -> Result<Outcome<T>, AppError> {
    match result {
        Ok(v) => {
            unit.commit().await?;
            Ok(Outcome::Done(v))
        }
        Err(e) => match refusal_message(&e) {
            Some(m) => Ok(Outcome::Refused(Notice::refused(m))),
            None => Err(e),
        },
    }
}

/// The status a page answers with when it shows `notice`: 422 for a refusal, 200 otherwise.
pub fn status_for(notice: Option<&Notice>) -> StatusCode {
    match notice {
        Some(n) if n.kind == NoticeKind::Refused => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    }
}
