//! Sending scheduled reports: the outbox and its job.
//!
//! - **The run row comes first.** Every minute a scheduler pass ([`enqueue_due`]) writes, for
//!   each schedule (and each built-in schedule the analytics settings turn on), the run of the
//!   latest period that is due (`report_runs`, status `queued`) and its `reports.schedule_send`
//!   job in the same transaction. The row's unique key (schedule, period) means a period gets one
//!   run, however many workers pass and however often.
//! - **The job sends.** [`SendHandler`] builds the report for the run's period, renders it and
//!   e-mails it over SMTP (`identity::mail::deliver`), outside any transaction; the run becomes
//!   `sent` (audited), or `failed` with the error, and the job retries with backoff. A run
//!   already `sent` is never sent again.
//! - **A schedule acts as its owner.** Its report is built only while the person who made it
//!   still holds `reports.read` (and `disbursements.read` for money); otherwise the run fails
//!   saying so, without retrying.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::custom::Definition;
use super::model::{DayRange, Kind, Report};
use super::schedule::{self, Delivery, Format, Frequency, RunStatus, RunView};
use super::schedule_render::{self, Failure};
use crate::access::{self, Permission};
use crate::audit::{self, Action};
use crate::clock::SharedClock;
use crate::identity::mail;
use crate::jobs::{self, JobContext, JobError, JobHandler, NewJob};
use crate::settings::SettingsStore;
use crate::unit::Acting;

pub const SEND_KIND: &str = "reports.schedule_send";
/// Attempts at one run's e-mail before its job gives up (backoff 10 s, 20 s, 40 s, …).
pub const MAX_ATTEMPTS: i32 = 6;
/// The built-in schedule sends these reports.
pub const BUILTIN_KINDS: [Kind; 3] = [Kind::Batches, Kind::Financial, Kind::Engagement];

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    run_id: Uuid,
}

/// A schedule as the pass sees it.
struct Due {
    key: String,
    schedule_id: Option<Uuid>,
    frequency: Frequency,
    recipients: Vec<String>,
    format: Format,
    delivery: Delivery,
}

/// The `schedule_key` of the settings' built-in schedule of `f`.
pub fn builtin_key(f: Frequency) -> String {
    format!("builtin:{f}")
}

/// One pass: writes the run (and its job) of the latest due period of every schedule that has
/// none yet. Returns the runs written.
pub async fn enqueue_due(
    pool: &PgPool,
    settings: &SettingsStore,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let mut due = Vec::new();
    {
        let s = settings.get();
        let a = &s.0.analytics;
        let format = Format::parse(&a.report_default_format).unwrap_or(Format::Pdf);
        if !a.schedule_recipients.is_empty() {
            for (on, f) in [
                (a.schedule_daily, Frequency::Daily),
                (a.schedule_weekly, Frequency::Weekly),
                (a.schedule_monthly, Frequency::Monthly),
            ] {
                if on {
                    due.push(Due {
                        key: builtin_key(f),
                        schedule_id: None,
                        frequency: f,
                        recipients: a.schedule_recipients.clone(),
                        format,
                        delivery: Delivery::Attach,
                    });
                }
            }
        }
    }
    let rows: Vec<(Uuid, Frequency, Vec<String>, Format, Delivery)> =
        sqlx::query_as("select id, frequency, recipients, format, delivery from report_schedules")
            .fetch_all(pool)
            .await?;
    due.extend(
        rows.into_iter()
            .map(|(id, frequency, recipients, format, delivery)| Due {
                key: id.to_string(),
                schedule_id: Some(id),
                frequency,
                recipients,
                format,
                delivery,
            }),
    );
    let mut written = Vec::new();
    for d in due {
        let period = d.frequency.latest_due(now);
        let mut tx = pool.begin().await?;
        let id: Option<Uuid> = sqlx::query_scalar(
            "insert into report_runs (id, schedule_key, schedule_id, frequency, period_from, period_to, status, \
             recipients, format, delivery, created_at) values ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $10) \
             on conflict (schedule_key, period_from) do nothing returning id",
        )
        .bind(Uuid::now_v7())
        .bind(&d.key)
        .bind(d.schedule_id)
        .bind(d.frequency)
        .bind(period.from)
        .bind(period.to)
        .bind(&d.recipients)
        .bind(d.format)
        .bind(d.delivery)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else { continue };
        let job = NewJob::new(SEND_KIND, &Payload { run_id: id })
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?
            .unique(id.to_string())
            .max_attempts(MAX_ATTEMPTS);
        jobs::enqueue(&mut tx, &job, now).await?;
        tx.commit().await?;
        written.push(id);
    }
    Ok(written)
}

/// Runs [`enqueue_due`] every minute until `shutdown`.
pub async fn schedule(pool: PgPool, clock: SharedClock, settings: Arc<SettingsStore>, shutdown: CancellationToken) {
    loop {
        match enqueue_due(&pool, &settings, clock.now()).await {
            Ok(runs) if !runs.is_empty() => tracing::info!(runs = runs.len(), "scheduled reports queued"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "queueing scheduled reports failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

/// Sends one run's e-mail (`reports.schedule_send`).
pub struct SendHandler {
    pub settings: Arc<SettingsStore>,
    /// Where the panel is reached (`PUBLIC_BASE_URL`), for the links of `delivery: link`.
    pub base_url: String,
}

#[async_trait]
impl JobHandler for SendHandler {
    fn kind(&self) -> &'static str {
        SEND_KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let p: Payload = ctx.payload()?;
        let mut conn = ctx.pool.acquire().await?;
        let run = match schedule::run(&mut conn, p.run_id).await {
            Ok(r) => r,
            Err(crate::error::AppError::NotFound(_)) => {
                return Err(JobError::Permanent(anyhow::anyhow!("report run {} is gone", p.run_id)))
            }
            Err(e) => return Err(JobError::Retryable(anyhow::anyhow!("{e}"))),
        };
        if run.status == RunStatus::Sent {
            return Ok(Some(json!({"runId": run.id, "skipped": "already sent"})));
        }
        let now = ctx.clock.now();
        let settings = self.settings.get();
        let composed = compose(&mut conn, &run, &settings.0, &self.base_url, now).await;
        // no connection held while the SMTP server answers
        drop(conn);
        let outcome = match composed {
            Ok((subject, body, files)) => mail::deliver(&settings.0, &run.recipients, &subject, body, &files)
                .await
                .map_err(Failure::Retry),
            Err(f) => Err(f),
        };
        match outcome {
            Ok(()) => {
                mark_sent(&ctx.pool, &run, now).await?;
                Ok(Some(json!({"runId": run.id, "sent": run.recipients.len()})))
            }
            Err(f) => {
                sqlx::query(
                    "update report_runs set status = 'failed', attempts = attempts + 1, error = $2 \
                     where id = $1 and status <> 'sent'",
                )
                .bind(run.id)
                .bind(f.message().chars().take(1000).collect::<String>())
                .execute(&ctx.pool)
                .await?;
                Err(match f {
                    Failure::Retry(m) => JobError::Retryable(anyhow::anyhow!(m)),
                    Failure::Give(m) => JobError::Permanent(anyhow::anyhow!(m)),
                })
            }
        }
    }
}

async fn mark_sent(pool: &PgPool, run: &RunView, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "update report_runs set status = 'sent', attempts = attempts + 1, error = null, sent_at = $2 where id = $1",
    )
    .bind(run.id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &Acting::system(now)
            .audit(Action::ScheduledReportSent, "report_run", run.id)
            .after(json!({
                "schedule": run.schedule_key,
                "periodFrom": run.period_from,
                "periodTo": run.period_to,
                "recipients": run.recipients,
                "format": run.format,
            })),
        now,
    )
    .await?;
    tx.commit().await
}

/// The e-mail of a run: subject, text and the report files (attached, or linked).
async fn compose(
    conn: &mut PgConnection,
    run: &RunView,
    settings: &crate::settings::Settings,
    base_url: &str,
    now: DateTime<Utc>,
) -> Result<(String, String, Vec<mail::Attachment>), Failure> {
    let range = DayRange {
        from: run.period_from,
        to: run.period_to,
    };
    let by = format!("Schedule: {}", run.frequency);
    let company = &settings.branding.company_name;
    let period = if range.from == range.to {
        range.from.to_string()
    } else {
        format!("{} – {}", range.from, range.to)
    };
    let footer = format!(
        "This e-mail is sent by the {} schedule of MBELYCO Promo.",
        run.frequency
    );
    if run.delivery == Delivery::Link {
        let files = linked_files(conn, run, range, &by, settings, now).await?;
        let titles: Vec<&str> = files.iter().map(|(k, _)| k.title()).collect();
        let links: Vec<String> = files
            .iter()
            .map(|(k, id)| {
                format!(
                    "- {}: {}/admin/reports/export/{id}",
                    k.title(),
                    base_url.trim_end_matches('/')
                )
            })
            .collect();
        let subject = format!("{company}: {} ({period})", titles.join(", "));
        let body = format!(
            "Hello,\n\nThe {} {} of {period} (Kigali days), as {}, can be downloaded here once made (sign in; the \
             files are kept {} days):\n\n{}\n\n{footer}\n",
            run.frequency,
            if files.len() == 1 { "report" } else { "reports" },
            run.format.as_str().to_uppercase(),
            settings.analytics.report_data_days,
            links.join("\n"),
        );
        return Ok((subject, body, Vec::new()));
    }
    let reports = reports_of(conn, run, range, &by, now).await?;
    let mut files = Vec::new();
    for r in &reports {
        files.push(schedule_render::render(r, run.format, settings)?);
    }
    let titles: Vec<&str> = reports.iter().map(|r| r.title.as_str()).collect();
    let subject = format!("{company}: {} ({period})", titles.join(", "));
    let body = format!(
        "Hello,\n\nAttached: the {} {} of {period} (Kigali days), as {}.\n\n{}\n\n{footer}\n",
        run.frequency,
        if reports.len() == 1 { "report" } else { "reports" },
        run.format.as_str().to_uppercase(),
        files
            .iter()
            .map(|f| format!("- {}", f.file_name))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    Ok((subject, body, files))
}

/// The built-in kinds a run sends: the settings' three, or its schedule's one (while its owner
/// may still read it).
async fn kinds_of(conn: &mut PgConnection, run: &RunView) -> Result<Vec<Kind>, Failure> {
    let Some(schedule_id) = run.schedule_id else {
        if run.schedule_key.starts_with("builtin:") {
            return Ok(BUILTIN_KINDS.to_vec());
        }
        return Err(Failure::Give("the schedule was deleted".into()));
    };
    let s = schedule::get(conn, schedule_id).await?;
    let kind = Kind::parse_builtin(&s.report_kind)
        .ok_or_else(|| Failure::Give("a custom report is attached, not linked".into()))?;
    may_send(conn, &s, kind == Kind::Financial).await?;
    Ok(vec![kind])
}

/// The report files a linked run points at: made (export jobs queued, audited) on its first
/// attempt and kept on the run, so a retry links the same files.
async fn linked_files(
    conn: &mut PgConnection,
    run: &RunView,
    range: DayRange,
    by: &str,
    settings: &crate::settings::Settings,
    now: DateTime<Utc>,
) -> Result<Vec<(Kind, Uuid)>, Failure> {
    let kinds = kinds_of(conn, run).await?;
    let made: Vec<(Uuid, String)> = sqlx::query_as(
        "select f.id, f.kind from report_runs r join report_files f on f.id = any(r.files) where r.id = $1",
    )
    .bind(run.id)
    .fetch_all(&mut *conn)
    .await?;
    if !made.is_empty() {
        return Ok(made
            .into_iter()
            .filter_map(|(id, k)| Kind::parse_builtin(&k).map(|k| (k, id)))
            .collect());
    }
    let format = match run.format {
        Format::Csv => crate::codes::export::Format::Csv,
        Format::Pdf => crate::codes::export::Format::Pdf,
    };
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let mut out = Vec::new();
    for kind in kinds {
        let cmd = super::export::ExportCmd {
            report: super::export::Exported::Builtin(super::Spec {
                kind,
                range,
                batch: None,
            }),
            format,
        };
        let file = super::export::request(
            &mut tx,
            &cmd,
            &super::Viewer::system(by),
            &settings.analytics,
            &Acting::system(now),
        )
        .await?;
        out.push((kind, file.id));
    }
    let ids: Vec<Uuid> = out.iter().map(|(_, id)| *id).collect();
    sqlx::query("update report_runs set files = $2 where id = $1")
        .bind(run.id)
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(out)
}

/// A schedule acts as its owner: refused once they no longer hold `reports.read` (and
/// `disbursements.read` for money).
async fn may_send(conn: &mut PgConnection, s: &schedule::ScheduleView, money: bool) -> Result<(), Failure> {
    let held = access::effective_permissions(conn, s.owner_id).await?;
    if !held.contains(&Permission::ReportsRead) || (money && !held.contains(&Permission::DisbursementsRead)) {
        return Err(Failure::Give(format!(
            "{} no longer may read this report, so it is not sent",
            s.owner_name
        )));
    }
    Ok(())
}

/// The report(s) of a run: the built-in schedule's three, or the schedule's one, built for the
/// run's period while its owner may still read it.
async fn reports_of(
    conn: &mut PgConnection,
    run: &RunView,
    range: DayRange,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Report>, Failure> {
    let Some(schedule_id) = run.schedule_id else {
        if run.schedule_key.starts_with("builtin:") {
            let mut out = Vec::new();
            for kind in BUILTIN_KINDS {
                out.push(schedule_render::build_builtin(conn, kind, range, by, now).await?);
            }
            return Ok(out);
        }
        return Err(Failure::Give("the schedule was deleted".into()));
    };
    let s = schedule::get(conn, schedule_id).await?;
    let definition: Option<Definition> = match s.custom_report_id {
        Some(id) => sqlx::query_scalar::<_, sqlx::types::Json<Definition>>(
            "select definition from custom_reports where id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|d| d.0),
        None => None,
    };
    let money = match (&definition, Kind::parse_builtin(&s.report_kind)) {
        (Some(d), _) => d.is_financial(),
        (None, Some(k)) => k == Kind::Financial,
        (None, None) => return Err(Failure::Give("the schedule's report is gone".into())),
    };
    may_send(conn, &s, money).await?;
    let report = match (definition, Kind::parse_builtin(&s.report_kind)) {
        (Some(def), _) => {
            let heading = super::custom_build::Heading {
                title: &s.report_name,
                generated_by: by,
                now,
                max_points: usize::MAX,
            };
            super::custom_build::build(conn, &def, range, &heading).await?
        }
        (None, Some(kind)) => schedule_render::build_builtin(conn, kind, range, by, now).await?,
        (None, None) => return Err(Failure::Give("the schedule's report is gone".into())),
    };
    Ok(vec![report])
}
