//! Reports (PRD 2.6, issue #21): the campaign's figures for finance and marketing, built from the
//! hourly rollups (`crate::stats`) into one document model ([`model::Report`]) that the HTML
//! view, CSV, PDF and scheduled e-mails all render.
//!
//! [`build`] is the one entry: a [`Spec`] (which report, which Kigali days, which batch) and a
//! [`Viewer`] (whose name it carries, whether it may show money) give a [`model::Report`]. The
//! builders (`build_*`) read only the rollups ([`source`]), `batch_code_counts` and the small
//! tables (batches, reconciliation runs); the renderers never query.

pub mod api;
mod build_batches;
mod build_engagement;
mod build_financial;
pub mod csv;
pub mod custom;
pub mod custom_api;
pub mod custom_build;
pub mod custom_pages;
pub mod custom_store;
pub mod custom_terms;
pub mod export;
pub mod format;
mod html;
pub mod model;
pub mod pages;
pub mod pdf;
pub mod schedule;
pub mod schedule_api;
pub mod schedule_input;
pub mod schedule_pages;
pub mod schedule_render;
pub mod schedule_run;
pub mod source;
pub mod spec;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

pub use spec::{Spec, Viewer};

use crate::error::{AppError, Denied};
use model::{Kind, Report};

/// Builds the report `spec` asks for, as `viewer` may see it, stamped `now`.
pub async fn build(conn: &mut PgConnection, spec: &Spec, viewer: &Viewer) -> Result<Report, AppError> {
    let at = now(conn).await?;
    build_at(conn, spec, viewer, at).await
}

/// [`build`] with the generation time given (the caller's clock).
pub async fn build_at(
    conn: &mut PgConnection,
    spec: &Spec,
    viewer: &Viewer,
    at: DateTime<Utc>,
) -> Result<Report, AppError> {
    if spec.kind.needs_money() && !viewer.money {
        return Err(AppError::Forbidden(Denied::Permission(
            crate::access::Permission::DisbursementsRead,
        )));
    }
    if let Some(b) = spec.batch {
        crate::batches::get(conn, b).await.map_err(|e| match e {
            AppError::NotFound(_) => AppError::field("batchId", "no such batch"),
            e => e,
        })?;
    }
    let mut report = match spec.kind {
        Kind::Batches => build_batches::build(conn, spec, viewer).await?,
        Kind::Financial => build_financial::build(conn, spec).await?,
        Kind::Engagement => build_engagement::build(conn, spec, at).await?,
        Kind::Custom => {
            return Err(AppError::field(
                "kind",
                "a custom report is built from its saved definition",
            ))
        }
    };
    report.generated_by = viewer.name.clone();
    report.generated_at = at;
    Ok(report)
}

/// The database's clock, for callers without one (a schedule's e-mail).
async fn now(conn: &mut PgConnection) -> Result<DateTime<Utc>, AppError> {
    Ok(sqlx::query_scalar("select now()").fetch_one(conn).await?)
}

/// A report with nothing in it yet, to be filled by a builder.
fn empty(spec: &Spec, filters: Vec<String>) -> Report {
    Report {
        kind: spec.kind,
        title: spec.kind.title().to_owned(),
        range: spec.range,
        filters,
        generated_by: String::new(),
        generated_at: DateTime::<Utc>::UNIX_EPOCH,
        sections: Vec::new(),
    }
}

/// Batch numbers and names for the rows that name a batch (a few hundred at most).
async fn batch_names(
    conn: &mut PgConnection,
    ids: &[uuid::Uuid],
) -> Result<std::collections::HashMap<uuid::Uuid, (i64, String)>, AppError> {
    let rows: Vec<(uuid::Uuid, i64, String)> =
        sqlx::query_as("select id, batch_number, name from batches where id = any($1)")
            .bind(ids)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|(id, n, name)| (id, (n, name))).collect())
}

/// "Batch: 12 Spring 2027" for the filters line.
async fn batch_filter(conn: &mut PgConnection, spec: &Spec) -> Result<Vec<String>, AppError> {
    let Some(b) = spec.batch else {
        return Ok(Vec::new());
    };
    let names = batch_names(conn, &[b]).await?;
    Ok(names
        .get(&b)
        .map(|(n, name)| vec![format!("Batch: {n} {name}")])
        .unwrap_or_default())
}
