//! The settings console in the panel: the index of categories (this file), one generated page
//! per category with its two-step save (`pages_form`), and each category's history with
//! differences and rollback (`pages_history`).
//!
//! Who sees what (ACCESS.md, PRD 2.8): `system.settings.read` reads every category and
//! `system.settings.update` changes it; the payments page is also open to
//! `disbursements.configure` and the branding page to `system.branding.customize`, both to read
//! and change. A reader who may not change a category sees it read-only, with no save button.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};

use super::registry;
use super::Category;
use crate::access::Permission::{self, *};
use crate::error::{AppError, Denied};
use crate::route;
use crate::web::auth::Principal;
use crate::web::pages::html;
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

/// Whoever may read at least one category.
pub(super) const READERS: &[Permission] = &[
    SystemSettingsRead,
    DisbursementsConfigure,
    SystemBrandingCustomize,
    AlertsConfigure,
];
/// Whoever may change at least one category.
pub(super) const UPDATERS: &[Permission] = &[
    SystemSettingsUpdate,
    DisbursementsConfigure,
    SystemBrandingCustomize,
    AlertsConfigure,
];

pub fn routes() -> Vec<RouteSpec> {
    let mut specs = vec![route!(GET "/admin/settings", Access::AnyOf(READERS), index)];
    specs.extend(super::pages_form::routes());
    specs.extend(super::pages_history::routes());
    specs
}

/// The permission that opens this one category besides the settings permissions.
fn also_opens(c: Category) -> Option<Permission> {
    match c {
        Category::Payments => Some(DisbursementsConfigure),
        Category::Branding => Some(SystemBrandingCustomize),
        // the alert delivery channels: routing, recipients, escalation, the SMTP server and SMS
        Category::Notifications => Some(AlertsConfigure),
        _ => None,
    }
}

pub(super) fn may_read(who: &Principal, c: Category) -> bool {
    who.can(SystemSettingsRead) || also_opens(c).is_some_and(|p| who.can(p))
}

pub(super) fn may_update(who: &Principal, c: Category) -> bool {
    who.can(SystemSettingsUpdate) || also_opens(c).is_some_and(|p| who.can(p))
}

/// The category named in the path, if the caller may read it (a 404 for no such category, a
/// 403 naming `system.settings.read` otherwise).
pub(super) fn readable(who: &Principal, name: &str) -> Result<Category, AppError> {
    let c = Category::parse(name).ok_or(AppError::NotFound("settings category"))?;
    if may_read(who, c) {
        Ok(c)
    } else {
        Err(AppError::Forbidden(Denied::Permission(SystemSettingsRead)))
    }
}

pub(super) fn updatable(who: &Principal, name: &str) -> Result<Category, AppError> {
    let c = readable(who, name)?;
    if may_update(who, c) {
        Ok(c)
    } else {
        Err(AppError::Forbidden(Denied::Permission(SystemSettingsUpdate)))
    }
}

pub(super) fn shell(state: &AppState, who: &Principal) -> Shell {
    Shell::new(who, "/admin/settings", &state.settings.get().0.branding.company_name)
}

pub(super) fn when(t: DateTime<Utc>) -> String {
    crate::clock::local_display(t)
}

struct CategoryLine {
    slug: &'static str,
    title: &'static str,
    summary: &'static str,
    /// The last version that changed this category, by whom and when; `None`: still the defaults.
    last: Option<(i64, String, String)>,
    can_update: bool,
}

struct ProcessLine {
    role: String,
    hostname: String,
    pid: i32,
    version: i64,
    current: bool,
    since: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct IndexPage {
    shell: Shell,
    categories: Vec<CategoryLine>,
    version: i64,
    processes: Vec<ProcessLine>,
    /// The notification templates' editor (`crate::templates::pages`) is open to the reader.
    templates: bool,
}

async fn index(State(state): State<AppState>, who: Principal) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let visible: Vec<&registry::CategoryDoc> = registry::all()
        .into_iter()
        .filter(|d| may_read(&who, d.category))
        .collect();
    let names: Vec<&str> = visible.iter().map(|d| d.category.as_str()).collect();
    let last: Vec<(String, i64, Option<String>, DateTime<Utc>)> = sqlx::query_as(
        "select c.name, v.version, coalesce(nullif(u.full_name, ''), u.email), v.changed_at \
         from unnest($1::text[]) c(name) \
         join lateral (select version, changed_by_user_id, changed_at from setting_versions s \
                       where exists (select 1 from jsonb_array_elements(s.changes) x where x->>'category' = c.name) \
                       order by version desc limit 1) v on true \
         left join users u on u.id = v.changed_by_user_id",
    )
    .bind(&names)
    .fetch_all(&mut *conn)
    .await?;
    let categories = visible
        .into_iter()
        .map(|d| CategoryLine {
            slug: d.category.as_str(),
            title: d.title,
            summary: d.summary,
            last: last
                .iter()
                .find(|(n, ..)| n == d.category.as_str())
                .map(|(_, v, who, at)| (*v, who.clone().unwrap_or_else(|| "the system".into()), when(*at))),
            can_update: may_update(&who, d.category),
        })
        .collect();
    let version: i64 = sqlx::query_scalar("select coalesce(max(version), 0) from setting_versions")
        .fetch_one(&mut *conn)
        .await?;
    // a process that has not said anything for 30 s is gone
    let rows: Vec<(String, String, i32, i64, DateTime<Utc>)> = sqlx::query_as(
        "select role, hostname, pid, version, applied_at from settings_applied \
         where seen_at > clock_timestamp() - interval '30 seconds' order by role, hostname, pid",
    )
    .fetch_all(&mut *conn)
    .await?;
    let processes = rows
        .into_iter()
        .map(|(role, hostname, pid, v, at)| ProcessLine {
            role,
            hostname,
            pid,
            version: v,
            current: v == version,
            since: crate::clock::local_display_seconds(at),
        })
        .collect();
    let page = IndexPage {
        shell: shell(&state, &who),
        categories,
        version,
        processes,
        templates: who.can(SystemSettingsRead),
    };
    html(StatusCode::OK, &page)
}
