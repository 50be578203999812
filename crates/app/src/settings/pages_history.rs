//! A category's history: the versions that changed it (who, when, why, which keys), newest
//! first by pages; the difference between any two versions for this category; and rollback to
//! a version, which restores the whole state of that version (every category) after a
//! confirmation page listing what will change.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::form::{self, Line};
use super::pages::{readable, shell, when, READERS};
use super::registry;
use super::service::{differences, state_at};
use super::{preview_rollback, rollback, Category};
use crate::access::Permission::SystemSettingsUpdate;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{Path, Query};
use crate::web::pages::{html, settle, Notice, Outcome};
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

const PER_PAGE: i64 = 20;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/settings/{category}/history", Access::AnyOf(READERS), history_page),
        route!(GET "/admin/settings/{category}/rollback/{version}", Access::Permission(SystemSettingsUpdate), rollback_page),
        route!(POST "/admin/settings/{category}/rollback/{version}", Access::Permission(SystemSettingsUpdate), roll_back),
    ]
}

struct VersionLine {
    version: i64,
    by: String,
    at: String,
    reason: String,
    rollback_of: Option<i64>,
    keys: Vec<String>,
    latest: bool,
}

#[derive(Template)]
#[template(path = "settings_history.html")]
struct HistoryPage {
    shell: Shell,
    slug: &'static str,
    title: &'static str,
    versions: Vec<VersionLine>,
    /// The cursor of the next (older) page.
    older: Option<i64>,
    can_roll_back: bool,
    /// The two versions compared, and the difference for this category.
    compared: Option<(i64, i64, Vec<Line>)>,
    notice: Option<Notice>,
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    before: Option<i64>,
    a: Option<i64>,
    b: Option<i64>,
    rolled: Option<i64>,
}

type Row = (i64, Option<String>, DateTime<Utc>, Option<String>, Option<i64>, Value);

async fn history_page(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, AppError> {
    let c = readable(&who, &name)?;
    let mut conn = state.pool.acquire().await?;
    let rows: Vec<Row> = sqlx::query_as(
        "select v.version, coalesce(nullif(u.full_name, ''), u.email), v.changed_at, v.reason, v.rollback_of, v.changes \
         from setting_versions v left join users u on u.id = v.changed_by_user_id \
         where exists (select 1 from jsonb_array_elements(v.changes) x where x->>'category' = $1) \
           and ($2::bigint is null or v.version < $2) \
         order by v.version desc limit $3",
    )
    .bind(c.as_str())
    .bind(q.before)
    .bind(PER_PAGE + 1)
    .fetch_all(&mut *conn)
    .await?;
    let latest: i64 = sqlx::query_scalar("select coalesce(max(version), 0) from setting_versions")
        .fetch_one(&mut *conn)
        .await?;
    let more = rows.len() as i64 > PER_PAGE;
    let versions: Vec<VersionLine> = rows
        .into_iter()
        .take(PER_PAGE as usize)
        .map(|(version, by, at, reason, rollback_of, changes)| VersionLine {
            version,
            by: by.unwrap_or_else(|| "the system".into()),
            at: when(at),
            reason: reason.unwrap_or_default(),
            rollback_of,
            keys: changes
                .as_array()
                .into_iter()
                .flatten()
                .filter(|x| x["category"] == c.as_str())
                .filter_map(|x| x["key"].as_str().map(|k| format!("{}.{k}", c.as_str())))
                .collect(),
            latest: version == latest,
        })
        .collect();
    let older = if more { versions.last().map(|v| v.version) } else { None };
    let compared = match (q.a, q.b) {
        (Some(a), Some(b)) => {
            let secrets = state.settings.secrets();
            let (sa, sb) = (
                state_at(&mut conn, secrets, a).await?,
                state_at(&mut conn, secrets, b).await?,
            );
            let diffs: Vec<_> = differences(&sa, &sb)?.into_iter().filter(|d| d.category == c).collect();
            Some((a, b, form::lines(&diffs)))
        }
        _ => None,
    };
    let page = HistoryPage {
        shell: shell(&state, &who),
        slug: c.as_str(),
        title: registry::of(c).title,
        versions,
        older,
        can_roll_back: who.can(SystemSettingsUpdate),
        compared,
        notice: q
            .rolled
            .map(|v| Notice::done(format!("Rolled back: the settings are now version {v}."))),
    };
    html(StatusCode::OK, &page)
}

#[derive(Debug, Deserialize)]
struct VersionPath {
    category: String,
    version: i64,
}

#[derive(Template)]
#[template(path = "settings_rollback.html")]
struct RollbackPage {
    shell: Shell,
    slug: &'static str,
    title: &'static str,
    version: i64,
    lines: Vec<Line>,
    notice: Option<Notice>,
}

async fn render_rollback(
    state: &AppState,
    who: &Principal,
    c: Category,
    version: i64,
    status: StatusCode,
    notice: Option<Notice>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let diffs = preview_rollback(&mut conn, state.settings.secrets(), version).await?;
    let page = RollbackPage {
        shell: shell(state, who),
        slug: c.as_str(),
        title: registry::of(c).title,
        version,
        lines: form::lines(&diffs),
        notice,
    };
    html(status, &page)
}

async fn rollback_page(
    State(state): State<AppState>,
    who: Principal,
    Path(p): Path<VersionPath>,
) -> Result<Response, AppError> {
    let c = readable(&who, &p.category)?;
    render_rollback(&state, &who, c, p.version, StatusCode::OK, None).await
}

async fn roll_back(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(p): Path<VersionPath>,
) -> Result<Response, AppError> {
    let c = readable(&who, &p.category)?;
    let mut unit = state.unit().await?;
    let done = rollback(&mut unit, state.settings.secrets(), p.version, false, &acting).await;
    match settle(unit, done).await? {
        Outcome::Done(out) => {
            state.settings.refresh().await?;
            Ok(Redirect::to(&format!(
                "/admin/settings/{}/history?rolled={}",
                c.as_str(),
                out.version
            ))
            .into_response())
        }
        Outcome::Refused(n) => {
            render_rollback(&state, &who, c, p.version, StatusCode::UNPROCESSABLE_ENTITY, Some(n)).await
        }
    }
}
