//! The e-mails of the maintenance window (backup settings `maintenanceNotify`): "before" a fixed
//! lead time ahead of the window (the `maintenance.notify_before` job, enqueued by
//! [`super::schedule`]), "after" when its tasks have run and "on failure" when one failed (sent by
//! [`super::job`] after its commit). Through `identity::mail::deliver`, never inside a
//! transaction.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::runs::{Outcome, RunStatus, TaskResult};
use crate::identity::mail;
use crate::jobs::{JobContext, JobError, JobHandler};
use crate::settings::model::Settings;
use crate::settings::SettingsStore;

pub const BEFORE_KIND: &str = "maintenance.notify_before";

/// How long before the window the "before" e-mail goes out.
pub const LEAD_MINUTES: i64 = 30;

/// The window the notice is about.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BeforePayload {
    pub window_start: DateTime<Utc>,
}

/// Sends the "before" e-mail.
pub struct Before {
    pub settings: Arc<SettingsStore>,
}

#[async_trait]
impl JobHandler for Before {
    fn kind(&self) -> &'static str {
        BEFORE_KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let p: BeforePayload = ctx.payload()?;
        let settings = self.settings.get();
        let s = &settings.0;
        let n = &s.backup.maintenance_notify;
        if !n.before || n.recipients.is_empty() {
            return Ok(Some(
                json!({"sent": 0, "why": "the \"before\" e-mail is off or has no recipients"}),
            ));
        }
        let end = p.window_start + super::window::duration(&s.backup);
        let subject = format!(
            "Maintenance at {} (Kigali time)",
            crate::clock::local_display(p.window_start)
        );
        let body = format!(
            "MBELYCO Promo goes into maintenance\nfrom {} to {} (Kigali time).\n\n\
             Meanwhile USSD dials get a maintenance message,\nchanges in the panel and the admin API \
             are refused (503)\nand no new MoMo transfer starts; payouts already\nunder way are still \
             resolved.\n\nTasks: {}.\n",
            crate::clock::local_display(p.window_start),
            crate::clock::local_display(end),
            planned(s),
        );
        mail::deliver(s, &n.recipients, &subject, body, &[])
            .await
            .map_err(|e| JobError::Retryable(anyhow::anyhow!(e)))?;
        Ok(Some(json!({"sent": n.recipients.len()})))
    }
}

fn planned(s: &Settings) -> String {
    let t = &s.backup.maintenance_tasks;
    let names: Vec<&str> = [
        (t.cleanup_logs, "clean up the USSD logs"),
        (t.optimize_database, "VACUUM ANALYZE"),
        (t.update_statistics, "ANALYZE"),
    ]
    .into_iter()
    .filter_map(|(on, n)| on.then_some(n))
    .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// After a run: the "after" e-mail (if on), or the "on failure" one when a task failed (if on;
/// else the "after" one tells of it). Returns how many e-mails went out (0 or 1); a failure to send
/// is logged, the run stays recorded.
pub async fn after_run(s: &Settings, window_start: DateTime<Utc>, status: RunStatus, tasks: &[TaskResult]) -> u32 {
    let n = &s.backup.maintenance_notify;
    let failed = status == RunStatus::Failed;
    let send = if failed { n.on_failure || n.after } else { n.after };
    if !send || n.recipients.is_empty() {
        return 0;
    }
    let subject = if failed {
        format!(
            "Maintenance of {} (Kigali time): a task failed",
            crate::clock::local_display(window_start)
        )
    } else {
        format!(
            "Maintenance of {} (Kigali time) done",
            crate::clock::local_display(window_start)
        )
    };
    let lines: Vec<String> = tasks
        .iter()
        .map(|t| {
            let outcome = match t.outcome {
                Outcome::Succeeded => "done",
                Outcome::Failed => "FAILED",
                Outcome::Skipped => "skipped",
            };
            format!("- {}: {outcome} in {} ms.\n  {}", t.task, t.duration_ms, t.detail)
        })
        .collect();
    let body = format!(
        "The maintenance tasks of the window opening\n{} (Kigali time) ran:\n\n{}\n\n\
         The last runs are on the status page.\n",
        crate::clock::local_display(window_start),
        lines.join("\n")
    );
    match mail::deliver(s, &n.recipients, &subject, body, &[]).await {
        Ok(()) => 1,
        Err(e) => {
            tracing::warn!(error = %e, "the maintenance e-mail could not be sent");
            0
        }
    }
}
