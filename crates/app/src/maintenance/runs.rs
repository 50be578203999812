//! The record of the window's runs (`maintenance_runs`): written by [`super::job`], read by the
//! backup settings page.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

/// A run's state (`maintenance_runs_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    /// At least one task failed (the others still ran).
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }
}

/// What one task did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    /// Turned off in the settings.
    Skipped,
}

/// One task of a run, as stored in `maintenance_runs.tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    pub task: String,
    pub outcome: Outcome,
    pub duration_ms: i64,
    pub detail: String,
}

/// A run as the panel lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Run {
    pub id: i64,
    pub window_start: DateTime<Utc>,
    pub status: RunStatus,
    pub tasks: sqlx::types::Json<Vec<TaskResult>>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Run {
    pub fn finished_text(&self) -> String {
        crate::clock::local_display_or(self.finished_at, "—")
    }

    pub fn window_text(&self) -> String {
        crate::clock::local_display(self.window_start)
    }

    /// "cleanup_logs succeeded in 12 ms, …" (what each task did, without its details: the status
    /// page is public).
    pub fn tasks_text(&self) -> String {
        self.tasks
            .0
            .iter()
            .map(|t| match t.outcome {
                Outcome::Succeeded => format!("{} succeeded in {} ms", t.task, t.duration_ms),
                Outcome::Failed => format!("{} failed after {} ms", t.task, t.duration_ms),
                Outcome::Skipped => format!("{} skipped", t.task),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The newest `limit` runs.
pub async fn latest(conn: &mut PgConnection, limit: i64) -> Result<Vec<Run>, sqlx::Error> {
    sqlx::query_as(
        "select id, window_start, status, tasks, started_at, finished_at from maintenance_runs \
         order by started_at desc limit $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}
