//! Maintenance on the web side: the state of the request's moment in reach of the layout (the
//! banner on every page of the shell, like `web::brand::current`), and the one rule of which
//! requests wait (checked by `web::routes::authorize` after the caller's access).

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};

use super::window::{self, Window};
use crate::error::AppError;
use crate::web::AppState;

/// The maintenance state when the request arrived.
#[derive(Debug, Clone, Copy)]
struct Moment {
    window: Option<Window>,
    now: DateTime<Utc>,
}

tokio::task_local! {
    static CURRENT: Moment;
}

/// Runs the request with the maintenance state of its moment in reach.
pub async fn scope(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let now = state.clock.now();
    let window = window::current(&state.settings.get().0.backup, now);
    CURRENT.scope(Moment { window, now }, next.run(req)).await
}

/// What the shell's banner says.
#[derive(Debug, Clone)]
pub struct Banner {
    pub what: String,
    pub until: String,
}

/// The banner of the request being answered, while the system is in maintenance.
pub fn banner() -> Option<Banner> {
    let m = CURRENT.try_with(|m| *m).ok()?;
    let w = m.window?;
    Some(Banner {
        what: format!("The system is in maintenance ({}).", w.reason.label()),
        until: format!(
            "Changes are refused {}; USSD dials get a maintenance message and no new payout starts.",
            w.until_text()
        ),
    })
}

/// 503 with `Retry-After` when the system is in maintenance and the request would change
/// something: any method but GET/HEAD/OPTIONS under `/api/v1/admin/` and on the panel's pages
/// (`matched`, the route's declared path; `path`, the request's). Signing in and out and the backup
/// settings (where maintenance is switched off) pass.
pub fn refuse(method: &Method, matched: &str, path: &str) -> Option<AppError> {
    let m = CURRENT.try_with(|m| *m).ok()?;
    let w = m.window?;
    if !blocked(method, matched, path) {
        return None;
    }
    Some(AppError::Maintenance {
        retry_after_secs: w.retry_after_secs(m.now),
        detail: format!(
            "The system is in maintenance ({}) {}: changes are refused until then. Try again later.",
            w.reason.label(),
            w.until_text()
        ),
    })
}

/// Whether a request of `method` on route `matched` (asked as `path`) waits for maintenance to end.
pub fn blocked(method: &Method, matched: &str, path: &str) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let signing = matched == "/sign-out" || matched.starts_with("/sign-in") || matched.starts_with("/api/v1/auth/");
    let backup_settings = path == "/admin/settings/backup"
        || path.starts_with("/admin/settings/backup/")
        || (path == "/api/v1/admin/settings/backup" && *method == Method::PUT);
    if signing || backup_settings {
        return false;
    }
    matched.starts_with("/api/v1/admin/") || !matched.starts_with("/api/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_wait_but_reading_signing_and_the_backup_settings_do_not() {
        let (get, post, put, delete) = (Method::GET, Method::POST, Method::PUT, Method::DELETE);
        assert!(blocked(&post, "/api/v1/admin/batches", "/api/v1/admin/batches"));
        assert!(blocked(
            &delete,
            "/api/v1/admin/batches/{id}",
            "/api/v1/admin/batches/x"
        ));
        assert!(blocked(&post, "/admin/batches", "/admin/batches"));
        assert!(blocked(
            &put,
            "/api/v1/admin/settings/{category}",
            "/api/v1/admin/settings/ussd"
        ));
        assert!(blocked(&post, "/admin/settings/{category}", "/admin/settings/ussd"));
        assert!(!blocked(&get, "/api/v1/admin/batches", "/api/v1/admin/batches"));
        assert!(!blocked(&post, "/sign-out", "/sign-out"));
        assert!(!blocked(&post, "/sign-in/verify", "/sign-in/verify"));
        assert!(!blocked(&post, "/api/v1/auth/refresh", "/api/v1/auth/refresh"));
        assert!(!blocked(
            &put,
            "/api/v1/admin/settings/backup",
            "/api/v1/admin/settings/backup"
        ));
        assert!(!blocked(&post, "/admin/settings/{category}", "/admin/settings/backup"));
        assert!(!blocked(
            &post,
            "/admin/settings/{category}/confirm",
            "/admin/settings/backup/confirm"
        ));
        // the settings *export* shares the path but not the method: it waits
        assert!(blocked(
            &post,
            "/api/v1/admin/settings/backup",
            "/api/v1/admin/settings/backup"
        ));
        // webhooks and the gateway are not the admin API
        assert!(!blocked(&post, "/api/v1/ussd/handle", "/api/v1/ussd/handle"));
    }
}
