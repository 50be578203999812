//! The `alerts.escalate` job, once a minute: a critical alert still open (nobody acknowledged it)
//! `alertEscalation.minutes` after it was raised is escalated by the system
//! ([`crate::alerts::lifecycle::escalate_overdue`]: level up, timeline, audit) and sent to the
//! next tier, every active Super Administrator ([`super::queue_to_tier`]); while an escalated
//! alert stays unresolved — acknowledged or not — it is sent to them again every
//! `alertEscalation.followUpMinutes`. A snoozed alert waits for its snooze to end. Each alert is
//! moved in its own transaction, on its row locked and checked again, so two workers running the
//! job at once escalate it once and send each follow-up once.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::{queue_to_tier, Reason};
use crate::alerts::lifecycle;
use crate::jobs::{JobContext, JobError, JobHandler};
use crate::settings::SettingsStore;

pub const KIND: &str = "alerts.escalate";
/// Alerts looked at per run and step (the rest wait a minute).
const LIMIT: i64 = 200;

/// What one run did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Escalated {
    pub escalated: usize,
    pub follow_ups: usize,
    pub deliveries: u64,
}

/// Escalates the overdue critical alerts and sends the follow-ups due at `now`.
pub async fn run(
    pool: &PgPool,
    minutes: u32,
    follow_up_minutes: u32,
    now: DateTime<Utc>,
) -> Result<Escalated, sqlx::Error> {
    let mut out = Escalated::default();
    let overdue_since = now - Duration::minutes(i64::from(minutes));
    let overdue: Vec<Uuid> = sqlx::query_scalar(
        "select id from alerts \
         where severity = 'critical' and status = 'open' and auto_escalated_at is null and created_at <= $1 \
           and (snoozed_until is null or snoozed_until <= $2) \
         order by created_at limit $3",
    )
    .bind(overdue_since)
    .bind(now)
    .bind(LIMIT)
    .fetch_all(pool)
    .await?;
    for id in overdue {
        let mut tx = pool.begin().await?;
        if lifecycle::escalate_overdue(&mut tx, id, minutes, overdue_since, now).await? {
            out.escalated += 1;
            out.deliveries += queue_to_tier(&mut tx, id, Reason::Escalated, 0, now).await?;
        }
        tx.commit().await?;
    }
    let follow_up_since = now - Duration::minutes(i64::from(follow_up_minutes));
    let due: Vec<Uuid> = sqlx::query_scalar(
        "select id from alerts \
         where severity = 'critical' and status <> 'resolved' and auto_escalated_at is not null \
           and coalesce(followed_up_at, auto_escalated_at) <= $1 \
           and (snoozed_until is null or snoozed_until <= $2) \
         order by created_at limit $3",
    )
    .bind(follow_up_since)
    .bind(now)
    .bind(LIMIT)
    .fetch_all(pool)
    .await?;
    for id in due {
        let mut tx = pool.begin().await?;
        if let Some(round) = lifecycle::follow_up_due(&mut tx, id, follow_up_since, now).await? {
            out.follow_ups += 1;
            out.deliveries += queue_to_tier(&mut tx, id, Reason::FollowUp, round, now).await?;
        }
        tx.commit().await?;
    }
    Ok(out)
}

/// Runs `alerts.escalate` jobs.
pub struct Handler {
    pub settings: Arc<SettingsStore>,
}

#[async_trait]
impl JobHandler for Handler {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let e = self.settings.get().0.notifications.alert_escalation.clone();
        let done = run(&ctx.pool, e.minutes, e.follow_up_minutes, ctx.clock.now()).await?;
        Ok(Some(json!(done)))
    }
}
