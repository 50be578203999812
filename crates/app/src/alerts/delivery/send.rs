//! The `alerts.deliver` job: sends due deliveries of the outbox.
//!
//! A run claims up to [`BATCH`] due rows at a time (`FOR UPDATE SKIP LOCKED` in a short
//! statement that counts the attempt and sets a lease, so two workers never send one row), sends
//! each with no transaction open — e-mail through [`crate::identity::mail::deliver`], SMS through
//! Africa's Talking ([`crate::alerts::sms::AtClient`]) — in the words of the `alert.raised`
//! template, then records the outcome and its timeline row in one transaction. It goes on until
//! nothing is due (at most [`PER_RUN`] rows; then it wakes another run). A sender that dies
//! mid-send lets its rows go when the lease passes: a message may then go twice, never not at all.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{backoff, target, Channel, Move, Reason, Status, KIND, MAX_ATTEMPTS};
use crate::alerts::sms::{sender_id, AtClient};
use crate::alerts::timeline::{self, Delivery};
use crate::clock::SharedClock;
use crate::jobs::{JobContext, JobError, JobHandler};
use crate::settings::{Settings, SettingsStore};
use crate::telemetry::mask_phone;
use crate::templates::{self, catalogue, TemplateStore};
use crate::ussd::messages::Lang;

/// Rows claimed at a time.
const BATCH: i64 = 20;
/// Rows one run sends before it hands over to a fresh run.
const PER_RUN: usize = 500;
/// How long a claimed row is a sender's: beyond any send's timeout.
const LEASE: chrono::Duration = chrono::Duration::minutes(5);
/// The template of every alert message.
const TEMPLATE: &str = "alert.raised";

/// A claimed row, with what the message says.
#[derive(Debug, sqlx::FromRow)]
struct Claimed {
    id: i64,
    alert_id: Uuid,
    channel: Channel,
    recipient: String,
    reason: Reason,
    attempts: i32,
    title: String,
    body: String,
    severity: String,
    escalation_minutes: Option<i32>,
}

/// How one attempt went.
enum Outcome {
    Sent(Value),
    /// Worth trying again.
    Retry(String),
    /// No point trying again (a refused number, an address that cannot be written, the channel off).
    Permanent(String),
}

/// Runs `alerts.deliver` jobs.
pub struct Handler {
    pub settings: Arc<SettingsStore>,
    pub templates: Arc<TemplateStore>,
    /// `PUBLIC_BASE_URL`, for the link to the alert.
    pub base_url: String,
    at: AtClient,
}

impl Handler {
    pub fn new(settings: Arc<SettingsStore>, templates: Arc<TemplateStore>, base_url: String) -> Self {
        Self {
            settings,
            templates,
            base_url,
            at: AtClient::default(),
        }
    }
}

#[async_trait]
impl JobHandler for Handler {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let (mut sent, mut retrying, mut failed) = (0, 0, 0);
        let mut done = 0;
        while done < PER_RUN {
            let now = ctx.clock.now();
            let rows = claim(&ctx.pool, now).await?;
            if rows.is_empty() {
                break;
            }
            done += rows.len();
            for row in rows {
                let outcome = self.send(&row).await;
                match record(&ctx.pool, &row, outcome, ctx.clock.now()).await? {
                    Status::Sent => sent += 1,
                    Status::Queued => retrying += 1,
                    Status::Failed => failed += 1,
                }
            }
        }
        if done >= PER_RUN {
            let now = ctx.clock.now();
            let mut conn = ctx.pool.acquire().await?;
            super::wake_at(&mut conn, now, now).await?;
        }
        Ok(Some(json!({"sent": sent, "retrying": retrying, "failed": failed})))
    }
}

/// Claims up to [`BATCH`] due rows: counts the attempt and takes the lease, in one statement.
async fn claim(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<Claimed>, sqlx::Error> {
    sqlx::query_as(
        r#"update alert_deliveries d
           set attempts = d.attempts + 1, locked_until = $2, updated_at = $1
           from (select id from alert_deliveries
                 where status = 'queued' and next_attempt_at <= $1 and (locked_until is null or locked_until <= $1)
                 order by next_attempt_at, id
                 limit $3
                 for update skip locked) due, alerts a
           where d.id = due.id and a.id = d.alert_id
           returning d.id, d.alert_id, d.channel, d.recipient, d.reason, d.attempts, a.title, a.body, a.severity,
                     case when a.auto_escalated_at is not null
                          then (extract(epoch from a.auto_escalated_at - a.created_at) / 60)::int4 end
                       as escalation_minutes"#,
    )
    .bind(now)
    .bind(now + LEASE)
    .bind(BATCH)
    .fetch_all(pool)
    .await
}

impl Handler {
    async fn send(&self, row: &Claimed) -> Outcome {
        let current = self.settings.get();
        let (settings, version) = (&current.0, current.1);
        let link = format!("{}/admin/alerts/{}", self.base_url.trim_end_matches('/'), row.alert_id);
        let title = match (row.reason, row.escalation_minutes) {
            (Reason::Raised, _) => row.title.clone(),
            (Reason::Escalated, Some(m)) => format!("Not acknowledged after {m} minutes: {}", row.title),
            (Reason::Escalated, None) => format!("Escalated: {}", row.title),
            (Reason::FollowUp, _) => format!("Still unresolved: {}", row.title),
        };
        let details = if row.body.is_empty() {
            row.title.as_str()
        } else {
            row.body.as_str()
        };
        let values = [
            ("title", title.as_str()),
            ("severity", row.severity.as_str()),
            ("details", details),
            ("link", link.as_str()),
        ];
        match row.channel {
            Channel::Email => {
                let (subject, body) = self.wording(templates::Channel::Email);
                let subject = templates::render(subject.as_deref().unwrap_or("[{severity}] {title}"), &values);
                let body = templates::render(&body, &values);
                email(settings, &row.recipient, &subject, body).await
            }
            Channel::Sms => {
                let (_, text) = self.wording(templates::Channel::Sms);
                let text = templates::render(&text, &values);
                self.sms(settings, version, &row.recipient, &text).await
            }
        }
    }

    /// The stored (or default) English wording of the alert template on `channel`: staff read it.
    fn wording(&self, channel: templates::Channel) -> (Option<String>, String) {
        let stored = self.templates.get();
        if let Some(t) = stored.get(TEMPLATE, channel, Lang::En) {
            return (t.subject.clone(), t.body.clone());
        }
        catalogue::find(TEMPLATE, channel)
            .map(|e| {
                let (subject, body) = e.default(Lang::En);
                (subject.map(str::to_owned), body.to_owned())
            })
            .unwrap_or_default()
    }

    async fn sms(&self, settings: &Settings, version: i64, to: &str, text: &str) -> Outcome {
        use africastalking::sms::ErrorClass;
        if !settings.notifications.sms_enabled {
            return Outcome::Permanent("SMS is turned off in the notification settings".into());
        }
        let client = match self.at.get(settings, version) {
            Ok(Some(c)) => c,
            Ok(None) => {
                return Outcome::Permanent(
                    "SMS is not configured: set the Africa's Talking API key in the USSD settings".into(),
                )
            }
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        match client.send_one(to, text, sender_id(settings)).await {
            Ok(sent) => Outcome::Sent(json!({
                "messageId": sent.message_id(),
                "status": sent.outcome().name(),
                "parts": sent.message_parts,
            })),
            Err(e) => match e.class() {
                ErrorClass::Terminal => Outcome::Permanent(e.to_string()),
                ErrorClass::Retryable | ErrorClass::Configuration => Outcome::Retry(e.to_string()),
            },
        }
    }
}

async fn email(settings: &Settings, to: &str, subject: &str, body: String) -> Outcome {
    if !crate::identity::mail::email_enabled(settings) {
        return Outcome::Permanent("e-mail is off or not configured in the notification settings".into());
    }
    if to.parse::<lettre::message::Mailbox>().is_err() {
        return Outcome::Permanent(format!("{to} is not an e-mail address"));
    }
    match crate::identity::mail::deliver(settings, &[to.to_owned()], subject, body, &[]).await {
        Ok(()) => Outcome::Sent(json!({})),
        Err(e) => Outcome::Retry(e),
    }
}

/// Records how the attempt went — the row's move and its timeline row — in one transaction, and
/// wakes the sender for a retry. Returns the row's status after it.
async fn record(pool: &PgPool, row: &Claimed, outcome: Outcome, now: DateTime<Utc>) -> Result<Status, sqlx::Error> {
    let (m, error, mut detail) = match outcome {
        Outcome::Sent(d) => (Move::Accepted, None, d),
        Outcome::Retry(e) if row.attempts < MAX_ATTEMPTS => (Move::RetryLater, Some(e), json!({})),
        Outcome::Retry(e) | Outcome::Permanent(e) => (Move::GiveUp, Some(e), json!({})),
    };
    let Some(to) = target(Status::Queued, m) else {
        return Ok(Status::Queued);
    };
    let next = (to == Status::Queued).then(|| now + backoff(row.attempts));
    let mut tx = pool.begin().await?;
    let moved = sqlx::query(
        "update alert_deliveries set status = $2, locked_until = null, last_error = $3, \
           next_attempt_at = coalesce($4, next_attempt_at), sent_at = case when $2::text = 'sent' then $5 end, \
           updated_at = $5 \
         where id = $1 and status = 'queued'",
    )
    .bind(row.id)
    .bind(to)
    .bind(error.as_deref())
    .bind(next)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(to);
    }
    if let Value::Object(d) = &mut detail {
        d.insert("reason".into(), json!(row.reason.as_str()));
        d.insert("attempt".into(), json!(row.attempts));
        if let Some(e) = &error {
            d.insert("error".into(), json!(e));
        }
        if let Some(at) = next {
            d.insert("nextAttemptAt".into(), json!(at));
        }
    }
    let shown = match row.channel {
        Channel::Email => row.recipient.clone(),
        Channel::Sms => mask_phone(&row.recipient),
    };
    let outcome = match m {
        Move::Accepted => "sent",
        Move::RetryLater => "retrying",
        Move::GiveUp => "failed",
    };
    timeline::record_delivery(
        &mut tx,
        row.alert_id,
        &Delivery {
            channel: row.channel.as_str(),
            recipient: &shown,
            outcome,
            detail,
        },
        now,
    )
    .await?;
    if let Some(at) = next {
        super::wake_at(&mut tx, at, now).await?;
    }
    tx.commit().await?;
    match m {
        Move::Accepted => {
            tracing::info!(alert = %row.alert_id, channel = row.channel.as_str(), to = %shown, "alert delivered")
        }
        _ => {
            tracing::warn!(alert = %row.alert_id, channel = row.channel.as_str(), to = %shown, attempt = row.attempts, error = error.as_deref().unwrap_or(""), outcome, "alert not delivered")
        }
    }
    Ok(to)
}

/// Runs `alerts.deliver` once a minute too (retries whose wake-up was lost, rows of a sender
/// that died), and `alerts.escalate` ([`super::escalate`]); every worker's scheduler agrees on
/// one run of each per minute.
pub async fn schedule(pool: PgPool, clock: SharedClock, shutdown: CancellationToken) {
    let deliver = crate::jobs::housekeeping::schedule_periodic(
        pool.clone(),
        clock.clone(),
        shutdown.clone(),
        "alert deliveries",
        crate::jobs::housekeeping::every_minute(KIND, 4, 3),
    );
    let escalate = crate::jobs::housekeeping::schedule_periodic(
        pool,
        clock,
        shutdown,
        "alert escalation",
        crate::jobs::housekeeping::every_minute(super::escalate::KIND, 4, 3),
    );
    tokio::join!(deliver, escalate);
}
