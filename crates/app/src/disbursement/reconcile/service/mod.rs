//! The use cases behind the API and pages: store an uploaded statement (streamed, checked line by
//! line), start a run, resolve an item. Each owns its transaction and audits in it.

mod upload;

pub use upload::{store_statement, upload_message, upload_problem, UploadError};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::Kind;
use super::run::{RunJob, KIND, MAX_JOB_ATTEMPTS};
use crate::audit::{self, Action, Actor, AuditEvent};
use crate::clock::kigali;
use crate::error::{AppError, FieldError};
use crate::jobs::{self, NewJob};
use crate::settings::Settings;
use crate::unit::Acting;

/// The longest period one run covers.
pub const MAX_PERIOD_DAYS: i64 = 93;
/// Statement lines written per statement.
const LINE_BATCH: usize = 1000;

/// `reconciliation_runs.status` (`reconciliation_runs_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Completed,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for RunStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The start and end (exclusive) of a Kigali calendar day.
pub fn kigali_day(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(kigali()).single())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    };
    (start(day), start(day.succ_opt().unwrap_or(day)))
}

/// A period bound as sent: `YYYY-MM-DD` (a Kigali day; an end day is included whole) or an
/// RFC 3339 instant.
pub fn parse_bound(field: &str, text: &str, end: bool) -> Result<DateTime<Utc>, FieldError> {
    let t = text.trim();
    if let Ok(instant) = DateTime::parse_from_rfc3339(t) {
        return Ok(instant.with_timezone(&Utc));
    }
    match NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        Ok(day) => {
            let (start, next) = kigali_day(day);
            Ok(if end { next } else { start })
        }
        Err(_) => Err(FieldError::new(
            field,
            "must be a day (YYYY-MM-DD, Kigali) or an RFC 3339 time",
        )),
    }
}

/// What starting a run needs, checked.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub statement_id: Option<Uuid>,
    pub query_momo: bool,
    pub scheduled: bool,
    pub job_id: Option<i64>,
}

/// A start request as sent (API body or page form).
#[derive(Debug, Clone, Default)]
pub struct StartRequest {
    pub from: Option<String>,
    pub to: Option<String>,
    pub statement_id: Option<String>,
    pub query_momo: Option<bool>,
}

impl StartRequest {
    /// Checks every field at once.
    pub fn check(&self, settings: &Settings, now: DateTime<Utc>) -> Result<NewRun, AppError> {
        let mut errors = Vec::new();
        let bound = |field: &str, v: &Option<String>, end: bool, errors: &mut Vec<FieldError>| match v
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => {
                errors.push(FieldError::new(field, "is required"));
                None
            }
            Some(t) => parse_bound(field, t, end).map_err(|e| errors.push(e)).ok(),
        };
        let from = bound("from", &self.from, false, &mut errors);
        let to = bound("to", &self.to, true, &mut errors);
        if let (Some(f), Some(t)) = (from, to) {
            if f >= t {
                errors.push(FieldError::new("to", "must be after `from`"));
            } else if (t - f).num_days() > MAX_PERIOD_DAYS {
                errors.push(FieldError::new(
                    "to",
                    format!("a run covers at most {MAX_PERIOD_DAYS} days"),
                ));
            }
            if f > now {
                errors.push(FieldError::new("from", "is in the future"));
            }
        }
        let statement_id = match self.statement_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => match s.parse::<Uuid>() {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.push(FieldError::new("statementId", "is not a statement id"));
                    None
                }
            },
        };
        let query_momo = self.query_momo.unwrap_or(true);
        if query_momo && crate::disbursement::momo_client(&settings.payments).is_none() {
            errors.push(FieldError::new(
                "queryMomo",
                "MoMo is not configured in the payment settings; upload MoMo's statement and compare with it alone",
            ));
        }
        if !query_momo && statement_id.is_none() && self.statement_id.as_deref().is_none_or(|s| s.trim().is_empty()) {
            errors.push(FieldError::new(
                "statementId",
                "without status queries a run needs MoMo's statement to compare with",
            ));
        }
        match (from, to, errors.is_empty()) {
            (Some(from), Some(to), true) => Ok(NewRun {
                from,
                to,
                statement_id,
                query_momo,
                scheduled: false,
                job_id: None,
            }),
            _ => Err(AppError::Validation(errors)),
        }
    }
}

pub enum InsertRunError {
    /// Another run is in progress.
    Busy,
    Db(sqlx::Error),
}

impl From<sqlx::Error> for InsertRunError {
    fn from(e: sqlx::Error) -> Self {
        if crate::error::violated_constraint(&e) == Some("reconciliation_runs_one_running_idx") {
            InsertRunError::Busy
        } else {
            InsertRunError::Db(e)
        }
    }
}

/// Why a run whose job is gone failed.
pub const ABANDONED: &str = "its job stopped before the run finished";

/// Fails runs still marked running whose job is gone (dead, cancelled or deleted), so they no
/// longer block new runs; returns them (the caller raises the alert, see `daily::abandon_stale`).
pub async fn abandon_stale(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<Vec<Uuid>, sqlx::Error> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "update reconciliation_runs r set status = 'failed', finished_at = $1, error = $2 \
         where r.status = 'running' and r.job_id is not null and not exists ( \
           select 1 from jobs j where j.id = r.job_id and j.status in ('queued', 'running')) \
         returning r.id",
    )
    .bind(now)
    .bind(ABANDONED)
    .fetch_all(&mut *conn)
    .await?;
    for id in &ids {
        audit::record(
            conn,
            &AuditEvent::new(Actor::System, Action::ReconciliationCompleted, "reconciliation_run", id)
                .after(json!({"status": "failed", "error": ABANDONED})),
            now,
        )
        .await?;
    }
    Ok(ids)
}

/// Inserts a running run and audits its start (same transaction).
pub async fn insert_run(conn: &mut PgConnection, run: &NewRun, acting: &Acting) -> Result<Uuid, InsertRunError> {
    let (actor, now) = (acting.actor, acting.now);
    let source = match (run.query_momo, run.statement_id.is_some()) {
        (true, true) => "status_query_and_statement",
        (false, _) => "statement",
        (true, false) => "status_query",
    };
    // a savepoint, so a refused insert leaves the caller's transaction usable
    let mut sp = sqlx::Connection::begin(&mut *conn).await?;
    let id: Uuid = sqlx::query_scalar(
        "insert into reconciliation_runs (started_by_user_id, source, status, period_from, period_to, statement_id, \
           query_momo, trigger, job_id, created_at) \
         values ($1, $2, 'running', $3, $4, $5, $6, $7, $8, $9) returning id",
    )
    .bind(actor.user_id())
    .bind(source)
    .bind(run.from)
    .bind(run.to)
    .bind(run.statement_id)
    .bind(run.query_momo)
    .bind(if run.scheduled { "scheduled" } else { "manual" })
    .bind(run.job_id)
    .bind(now)
    .fetch_one(&mut *sp)
    .await?;
    sp.commit().await?;
    audit::record(
        conn,
        &acting
            .audit(Action::ReconciliationStarted, "reconciliation_run", id)
            .after(json!({
                "periodFrom": run.from,
                "periodTo": run.to,
                "statementId": run.statement_id,
                "queryMomo": run.query_momo,
                "source": source,
                "trigger": if run.scheduled { "scheduled" } else { "manual" },
            })),
        now,
    )
    .await?;
    Ok(id)
}

/// Starts a run: the run row, its job and the audit row commit together. 409 while another run
/// is in progress; 422 for a statement that does not exist.
pub async fn start(conn: &mut PgConnection, run: NewRun, acting: &Acting) -> Result<(Uuid, i64), AppError> {
    let (actor, now) = (acting.actor, acting.now);
    if let Some(sid) = run.statement_id {
        let exists: bool = sqlx::query_scalar("select exists (select 1 from reconciliation_statements where id = $1)")
            .bind(sid)
            .fetch_one(&mut *conn)
            .await?;
        if !exists {
            return Err(AppError::field("statementId", "no such statement"));
        }
    }
    super::daily::abandon_stale(conn, now).await?;
    let id = match insert_run(conn, &run, acting).await {
        Ok(id) => id,
        Err(InsertRunError::Busy) => {
            return Err(AppError::conflict(
                "from",
                "another reconciliation run is in progress; wait for it to finish",
            ))
        }
        Err(InsertRunError::Db(e)) => return Err(e.into()),
    };
    let job = NewJob::new(KIND, &RunJob { run_id: id })
        .map_err(|e| AppError::Internal(e.into()))?
        .unique(id.to_string())
        .max_attempts(MAX_JOB_ATTEMPTS)
        .created_by(actor.user_id());
    let job_id = jobs::enqueue(conn, &job, now)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the run's job already exists")))?;
    sqlx::query("update reconciliation_runs set job_id = $2 where id = $1")
        .bind(id)
        .bind(job_id)
        .execute(&mut *conn)
        .await?;
    Ok((id, job_id))
}

/// `{note}`: what was done about a discrepancy (the API's body, the page's form).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveCmd {
    /// What was done about it (3 to 2000 characters).
    pub note: String,
}

impl From<&crate::web::extract::FormPairs> for ResolveCmd {
    fn from(form: &crate::web::extract::FormPairs) -> Self {
        ResolveCmd {
            note: form.get("note").unwrap_or_default().to_owned(),
        }
    }
}

/// Resolves a discrepancy with a note (audited).
pub async fn resolve(conn: &mut PgConnection, item_id: Uuid, note: &str, acting: &Acting) -> Result<(), AppError> {
    let (actor, meta, now) = (acting.actor, acting.meta.clone(), acting.now);
    let note = note.trim();
    if note.chars().count() < 3 {
        return Err(AppError::field("note", "say what was done (at least 3 characters)"));
    }
    if note.chars().count() > 2000 {
        return Err(AppError::field("note", "at most 2000 characters"));
    }
    type Row = (
        Uuid,
        String,
        Option<DateTime<Utc>>,
        Option<Uuid>,
        Option<Uuid>,
        RunStatus,
    );
    let row: Option<Row> = sqlx::query_as(
        "select i.run_id, i.kind, i.resolved_at, i.disbursement_id, i.reference_id, r.status \
         from reconciliation_items i join reconciliation_runs r on r.id = i.run_id where i.id = $1 for update of i",
    )
    .bind(item_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((run_id, kind, resolved_at, disbursement_id, reference_id, run_status)) = row else {
        return Err(AppError::NotFound("reconciliation item"));
    };
    if kind == Kind::Match.as_str() {
        return Err(AppError::conflict("note", "a matched item needs no resolution"));
    }
    if let Some(at) = resolved_at {
        return Err(AppError::conflict(
            "note",
            format!("this item was already resolved on {}", crate::clock::local_display(at)),
        ));
    }
    if run_status == RunStatus::Running {
        return Err(AppError::conflict("note", "the run is still in progress"));
    }
    sqlx::query(
        "update reconciliation_items set resolved_at = $2, resolution = $3, resolved_by_user_id = $4 where id = $1",
    )
    .bind(item_id)
    .bind(now)
    .bind(note)
    .bind(actor.user_id())
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        &AuditEvent::new(
            actor,
            Action::ReconciliationItemResolved,
            "reconciliation_item",
            item_id,
        )
        .before(json!({"kind": kind, "resolved": false}))
        .after(json!({"resolved": true, "resolution": note}))
        .metadata(json!({"runId": run_id, "disbursementId": disbursement_id, "referenceId": reference_id}))
        .meta(meta),
        now,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_kigali_days_and_the_end_day_is_included() {
        let from = parse_bound("from", "2026-11-25", false).unwrap();
        let to = parse_bound("to", "2026-11-25", true).unwrap();
        assert_eq!(from.to_rfc3339(), "2026-11-24T22:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-11-25T22:00:00+00:00");
        assert!(parse_bound("from", "25/11/2026", false).is_err());
        assert_eq!(
            parse_bound("from", "2026-11-25T08:00:00Z", false).unwrap().to_rfc3339(),
            "2026-11-25T08:00:00+00:00"
        );
    }
}
