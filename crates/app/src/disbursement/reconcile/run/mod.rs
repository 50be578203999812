//! A run as a background job: read the period's disbursements page by page, ask MoMo about every
//! attempt's reference (paced under the status-query rate), lay the statement's lines beside
//! them, store one item per disbursement plus one per statement line that matches nothing, then
//! complete (counts, audit, an alert when something disagrees) in one transaction.
//!
//! A run that is interrupted (worker stopped, lease lost) starts again from the beginning on the
//! job's next attempt: its items are deleted first, so a run never holds half of two passes.

mod items;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use self::items::{insert_items, item_for, missing_here_item, ItemRow};
use super::compare::{self, Asked, AttemptCheck, OurAttempt, OurPayout, Source, TheirTransfer};
use super::model::Kind;
use super::service::{self, RunStatus};
use crate::access::Permission;
use crate::alerts::{self, NewAlert, Severity};
use crate::audit::{self, Action, Actor, AuditEvent};
use crate::clock::kigali;
use crate::jobs::{JobContext, JobError, JobHandler, NewJob};
use crate::settings::SettingsStore;

pub const KIND: &str = "disbursements.reconcile";
pub const DAILY_KIND: &str = "disbursements.reconcile_daily";
/// Attempts of a run's job before the run is marked failed.
pub const MAX_JOB_ATTEMPTS: i32 = 3;
/// Disbursements read, queried and stored per step (one progress update each).
const PAGE: i64 = 50;
/// Status queries in flight at once (each still waits for its slot of the shared status-query budget).
const IN_FLIGHT: usize = 4;
/// Tries per reference when MoMo answers with a retryable error (429, 5xx, timeout).
const TRIES: u32 = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunJob {
    pub run_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyJob {
    pub day: NaiveDate,
}

/// Runs the `disbursements.reconcile` job: the run named in the payload.
pub struct RunHandler {
    pub settings: Arc<SettingsStore>,
}

#[async_trait]
impl JobHandler for RunHandler {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let job: RunJob = ctx.payload()?;
        guarded(&ctx, &self.settings, job.run_id).await
    }
}

/// [`execute`], marking the run failed when the job will not be tried again.
pub(super) async fn guarded(
    ctx: &JobContext,
    settings: &SettingsStore,
    run_id: Uuid,
) -> Result<Option<Value>, JobError> {
    match execute(ctx, settings, run_id).await {
        Ok(v) => Ok(v),
        Err(e) => {
            let last = matches!(e, JobError::Permanent(_)) || ctx.attempt >= MAX_JOB_ATTEMPTS;
            if last && !ctx.shutdown.is_cancelled() {
                fail(&ctx.pool, run_id, &e.to_string(), ctx.clock.now()).await?;
            }
            Err(e)
        }
    }
}

/// Marks a running run failed (audited as its completion).
pub async fn fail(pool: &PgPool, run_id: Uuid, error: &str, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let n = sqlx::query(
        "update reconciliation_runs set status = 'failed', error = $2, finished_at = $3 \
         where id = $1 and status = 'running'",
    )
    .bind(run_id)
    .bind(error)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n > 0 {
        audit::record(
            &mut tx,
            &AuditEvent::new(
                Actor::System,
                Action::ReconciliationCompleted,
                "reconciliation_run",
                run_id,
            )
            .after(json!({"status": "failed", "error": error})),
            now,
        )
        .await?;
        super::daily::alert_died(&mut tx, run_id, error, now).await?;
    }
    tx.commit().await
}

#[derive(sqlx::FromRow)]
struct RunRow {
    status: RunStatus,
    period_from: DateTime<Utc>,
    period_to: DateTime<Utc>,
    statement_id: Option<Uuid>,
    query_momo: bool,
}

/// A statement line in the run's period with what it matched here.
#[derive(sqlx::FromRow)]
struct LineRow {
    line: i32,
    occurred_at: DateTime<Utc>,
    reference_id: Option<Uuid>,
    financial_transaction_id: Option<String>,
    external_id: Option<String>,
    msisdn: Option<String>,
    amount: i64,
    currency: Option<String>,
    status: String,
    reason: Option<String>,
    matched_disbursement: Option<Uuid>,
    matched_reference: Option<Uuid>,
}

impl LineRow {
    fn transfer(&self) -> TheirTransfer {
        TheirTransfer {
            source: Source::Statement,
            reference_id: self.reference_id.or(self.matched_reference),
            status: self.status.clone(),
            amount: Some(self.amount),
            amount_text: self.amount.to_string(),
            currency: self.currency.clone().unwrap_or_default(),
            financial_transaction_id: self.financial_transaction_id.clone(),
            external_id: self.external_id.clone(),
            msisdn: self.msisdn.clone(),
            reason: self.reason.clone(),
            line: Some(self.line),
            occurred_at: Some(self.occurred_at),
        }
    }
}

/// Each line of the statement in the period, matched (at most once) by reference, else by
/// MoMo's ledger id (an attempt's, then a disbursement's), else by external id (our disbursement
/// or redemption id).
const LINES: &str = r#"
    select l.line, l.occurred_at, l.reference_id, l.financial_transaction_id, l.external_id, l.msisdn,
           l.amount, l.currency, l.status, l.reason,
           m.disbursement_id as matched_disbursement, m.reference_id as matched_reference
    from reconciliation_statement_lines l
    left join lateral (
        (select a.disbursement_id, a.reference_id, 1 as rank from disbursement_attempts a
          where a.reference_id = l.reference_id)
        union all
        (select a.disbursement_id, a.reference_id, 2 from disbursement_attempts a
          where l.reference_id is null and a.financial_transaction_id = l.financial_transaction_id)
        union all
        (select d.id, d.momo_reference, 3 from disbursements d
          where l.reference_id is null and d.momo_transaction_id = l.financial_transaction_id)
        union all
        (select d.id, null::uuid, 4 from disbursements d
          where l.reference_id is null and l.external_uuid is not null
            and (d.id = l.external_uuid or d.redemption_id = l.external_uuid))
        order by rank limit 1
    ) m on true
    where l.statement_id = $1 and l.occurred_at >= $2 and l.occurred_at < $3
    order by l.line"#;

const PAYOUT_COLUMNS: &str = "d.id as disbursement_id, d.redemption_id, d.status, d.amount, d.currency, d.msisdn, \
     d.attempts, d.momo_reference, d.momo_transaction_id, d.error_code, d.created_at, d.disbursed_at, \
     r.status as redemption_status, r.amount as redemption_amount, r.currency as redemption_currency, \
     r.phone_number, c.code, r.batch_id, r.created_at as redemption_created_at, \
     r.completed_at as redemption_completed_at";

const ATTEMPTS: &str = "select disbursement_id, attempt_no, reference_id, status, http_status, momo_status, \
     financial_transaction_id, error_code, created_at, sent_at, resolved_at \
     from disbursement_attempts where disbursement_id = any($1) order by disbursement_id, attempt_no";

struct Pass<'a> {
    ctx: &'a JobContext,
    run_id: Uuid,
    client: Option<momo::Client>,
    /// status queries a second, from the budget every process shares
    rate: u32,
    queries: AtomicU32,
    threshold: chrono::Duration,
    now: DateTime<Utc>,
    /// Statement lines by the disbursement they matched.
    lines: HashMap<Uuid, Vec<LineRow>>,
    checked: i64,
    total: i64,
}

/// MoMo refused in a way no retry fixes (credentials, environment): the run stops.
struct Abort(String);

impl Pass<'_> {
    /// What MoMo says about `reference`, retrying what may pass.
    async fn ask(&self, client: &momo::Client, reference: Uuid) -> Result<Asked, Abort> {
        let mut tries = 0;
        loop {
            tries += 1;
            if crate::disbursement::budget::acquire(&self.ctx.pool, self.rate)
                .await
                .is_err()
            {
                return Ok(Asked::Failed {
                    error: "the database did not answer for the status-query budget".into(),
                });
            }
            self.queries.fetch_add(1, Ordering::Relaxed);
            match client.transfer_status(reference).await {
                Ok(s) => {
                    return Ok(Asked::Found {
                        transfer: TheirTransfer::from_status(reference, &s),
                    })
                }
                Err(momo::MomoError::NotFound { .. }) => return Ok(Asked::NotFound),
                Err(e) => match e.class() {
                    momo::ErrorClass::Configuration => {
                        return Err(Abort(format!("MoMo refused the status query: {e}")))
                    }
                    momo::ErrorClass::Retryable | momo::ErrorClass::Ambiguous if tries < TRIES => {
                        tokio::time::sleep(Duration::from_millis(500 * u64::from(tries))).await;
                    }
                    _ => return Ok(Asked::Failed { error: e.to_string() }),
                },
            }
        }
    }

    async fn step(&mut self, payouts: Vec<OurPayout>) -> Result<(), JobError> {
        if payouts.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = payouts.iter().map(|p| p.disbursement_id).collect();
        let attempts: Vec<OurAttempt> = sqlx::query_as(ATTEMPTS).bind(&ids).fetch_all(&self.ctx.pool).await?;
        let mut answers: HashMap<Uuid, Asked> = HashMap::new();
        if let Some(client) = &self.client {
            let refs: Vec<Uuid> = attempts.iter().map(|a| a.reference_id).collect();
            let this = &*self;
            let mut asked = futures::stream::iter(refs)
                .map(|r| async move { (r, this.ask(client, r).await) })
                .buffer_unordered(IN_FLIGHT);
            while let Some((r, outcome)) = asked.next().await {
                match outcome {
                    Ok(a) => {
                        answers.insert(r, a);
                    }
                    Err(Abort(message)) => return Err(JobError::Permanent(anyhow::anyhow!(message))),
                }
            }
        }
        let mut by_disbursement: HashMap<Uuid, Vec<OurAttempt>> = HashMap::new();
        for a in attempts {
            by_disbursement.entry(a.disbursement_id).or_default().push(a);
        }
        let mut rows = Vec::with_capacity(payouts.len());
        for p in &payouts {
            let attempts = by_disbursement.remove(&p.disbursement_id).unwrap_or_default();
            let lines = self.lines.remove(&p.disbursement_id).unwrap_or_default();
            let refs: HashSet<Uuid> = attempts.iter().map(|a| a.reference_id).collect();
            let checks: Vec<AttemptCheck> = attempts
                .into_iter()
                .map(|a| AttemptCheck {
                    query: answers.remove(&a.reference_id).unwrap_or(Asked::NotAsked),
                    lines: lines
                        .iter()
                        .filter(|l| l.matched_reference == Some(a.reference_id))
                        .map(LineRow::transfer)
                        .collect(),
                    attempt: a,
                })
                .collect();
            let loose: Vec<TheirTransfer> = lines
                .iter()
                .filter(|l| l.matched_reference.is_none_or(|r| !refs.contains(&r)))
                .map(LineRow::transfer)
                .collect();
            let findings = compare::classify(p, &checks, &loose, self.now, self.threshold);
            rows.push(item_for(p, &checks, &loose, findings));
        }
        let mut tx = self.ctx.pool.begin().await?;
        insert_items(&mut tx, self.run_id, &rows, self.now).await?;
        self.checked += payouts.len() as i64;
        sqlx::query("update reconciliation_runs set checked_count = $2, queries_made = $3 where id = $1")
            .bind(self.run_id)
            .bind(self.checked as i32)
            .bind(self.queries.load(Ordering::Relaxed) as i32)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.ctx
            .progress(self.checked, self.total, Some("comparing with MoMo"))
            .await?;
        if self.ctx.shutdown.is_cancelled() {
            return Err(JobError::Retryable(anyhow::anyhow!(
                "the worker is stopping; the run starts again on the next attempt"
            )));
        }
        Ok(())
    }
}

/// Does the run: compares, stores items, completes. Returns the job's result summary.
pub async fn execute(ctx: &JobContext, settings: &SettingsStore, run_id: Uuid) -> Result<Option<Value>, JobError> {
    let pool = &ctx.pool;
    let run: RunRow = sqlx::query_as(
        "select status, period_from, period_to, statement_id, query_momo from reconciliation_runs where id = $1",
    )
    .bind(run_id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| JobError::Permanent(anyhow::anyhow!("reconciliation run {run_id} does not exist")))?;
    if run.status != RunStatus::Running {
        return Ok(Some(json!({"runId": run_id, "skipped": run.status})));
    }
    let snapshot = settings.get();
    let payments = &snapshot.0.payments;
    let client = if run.query_momo {
        Some(crate::disbursement::momo_client(payments).ok_or_else(|| {
            JobError::Permanent(anyhow::anyhow!(
                "MoMo is not configured in the payment settings, so its status cannot be queried"
            ))
        })?)
    } else {
        None
    };
    let now = ctx.clock.now();
    sqlx::query("delete from reconciliation_items where run_id = $1")
        .bind(run_id)
        .execute(pool)
        .await?;
    sqlx::query(
        "update reconciliation_runs set started_at = $2, job_id = $3, checked_count = 0, queries_made = 0 where id = $1",
    )
    .bind(run_id)
    .bind(now)
    .bind(ctx.id)
    .execute(pool)
    .await?;

    // the statement's lines in the period, each matched to what it is here (or nothing)
    let mut lines: HashMap<Uuid, Vec<LineRow>> = HashMap::new();
    let mut unmatched = Vec::new();
    if let Some(statement_id) = run.statement_id {
        let mut rows = sqlx::query_as::<_, LineRow>(LINES)
            .bind(statement_id)
            .bind(run.period_from)
            .bind(run.period_to)
            .fetch(pool);
        while let Some(row) = rows.next().await {
            let row = row?;
            match row.matched_disbursement {
                Some(d) => lines.entry(d).or_default().push(row),
                None => unmatched.push(row),
            }
        }
    }
    // disbursements outside the period that a line of the period names
    let named: Vec<Uuid> = lines.keys().copied().collect();
    let extra: Vec<Uuid> = sqlx::query_scalar(
        "select id from disbursements where id = any($1) and not (created_at >= $2 and created_at < $3) order by id",
    )
    .bind(&named)
    .bind(run.period_from)
    .bind(run.period_to)
    .fetch_all(pool)
    .await?;
    let in_period: i64 =
        sqlx::query_scalar("select count(*) from disbursements where created_at >= $1 and created_at < $2")
            .bind(run.period_from)
            .bind(run.period_to)
            .fetch_one(pool)
            .await?;
    let mut pass = Pass {
        ctx,
        run_id,
        client,
        rate: payments.status_queries_per_second,
        queries: AtomicU32::new(0),
        threshold: super::pending_threshold(payments),
        now,
        lines,
        checked: 0,
        total: in_period + extra.len() as i64 + unmatched.len() as i64,
    };
    ctx.progress(0, pass.total.max(1), Some("comparing with MoMo")).await?;

    let mut after: Option<(DateTime<Utc>, Uuid)> = None;
    loop {
        let (at, id) = after.unwrap_or((run.period_from - chrono::Duration::seconds(1), Uuid::nil()));
        let page: Vec<OurPayout> = sqlx::query_as(&format!(
            "select {PAYOUT_COLUMNS} from disbursements d join redemptions r on r.id = d.redemption_id \
             join promo_codes c on c.id = r.promo_code_id \
             where d.created_at >= $1 and d.created_at < $2 and (d.created_at, d.id) > ($3, $4) \
             order by d.created_at, d.id limit $5"
        ))
        .bind(run.period_from)
        .bind(run.period_to)
        .bind(at)
        .bind(id)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        let Some(last) = page.last() else { break };
        after = Some((last.created_at, last.disbursement_id));
        pass.step(page).await?;
    }
    for chunk in extra.chunks(PAGE as usize) {
        let page: Vec<OurPayout> = sqlx::query_as(&format!(
            "select {PAYOUT_COLUMNS} from disbursements d join redemptions r on r.id = d.redemption_id \
             join promo_codes c on c.id = r.promo_code_id where d.id = any($1) order by d.created_at, d.id"
        ))
        .bind(chunk)
        .fetch_all(pool)
        .await?;
        pass.step(page).await?;
    }
    for chunk in unmatched.chunks(PAGE as usize) {
        let rows: Vec<ItemRow> = chunk.iter().map(missing_here_item).collect();
        let mut tx = pool.begin().await?;
        insert_items(&mut tx, run_id, &rows, now).await?;
        tx.commit().await?;
        pass.checked += chunk.len() as i64;
        ctx.progress(pass.checked, pass.total, Some("listing what only MoMo has"))
            .await?;
    }
    let queries = pass.queries.load(Ordering::Relaxed);
    let summary = complete(pool, run_id, pass.checked, queries, ctx.clock.now()).await?;
    Ok(Some(summary))
}

/// Completes the run in one transaction: counts, status, audit, and an alert for the financial
/// administrators when anything disagrees.
async fn complete(
    pool: &PgPool,
    run_id: Uuid,
    checked: i64,
    queries: u32,
    now: DateTime<Utc>,
) -> Result<Value, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let counts: Vec<(String, i64)> =
        sqlx::query_as("select kind, count(*) from reconciliation_items where run_id = $1 group by kind")
            .bind(run_id)
            .fetch_all(&mut *tx)
            .await?;
    let counts: HashMap<String, i64> = counts.into_iter().collect();
    let discrepancies: i64 = counts
        .iter()
        .filter(|(k, _)| k.as_str() != Kind::Match.as_str())
        .map(|(_, n)| n)
        .sum();
    let checked_disbursements: i64 = counts
        .iter()
        .filter(|(k, _)| k.as_str() != Kind::MissingHere.as_str())
        .map(|(_, n)| n)
        .sum();
    sqlx::query(
        "update reconciliation_runs set status = 'completed', counts = $2, checked_count = $3, \
         discrepancy_count = $4, queries_made = $5, finished_at = $6 where id = $1",
    )
    .bind(run_id)
    .bind(json!(counts))
    .bind(checked_disbursements as i32)
    .bind(discrepancies as i32)
    .bind(queries as i32)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let summary = json!({
        "runId": run_id,
        "status": "completed",
        "checked": checked,
        "discrepancies": discrepancies,
        "statusQueries": queries,
        "counts": counts,
    });
    audit::record(
        &mut tx,
        &AuditEvent::new(
            Actor::System,
            Action::ReconciliationCompleted,
            "reconciliation_run",
            run_id,
        )
        .after(summary.clone()),
        now,
    )
    .await?;
    if discrepancies > 0 {
        let orphans: i64 = Kind::ALL
            .iter()
            .filter(|k| k.is_orphan() || **k == Kind::MissingHere)
            .map(|k| counts.get(k.as_str()).copied().unwrap_or(0))
            .sum();
        let severity = if orphans > 0 {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let alert = NewAlert::new(
            "reconciliation.discrepancies",
            severity,
            Permission::FinancialAlertsView,
            format!("Reconciliation found {discrepancies} discrepancies"),
        )
        .body(format!(
            "{discrepancies} of {checked} items disagree with MoMo ({orphans} orphaned). Open the run to review them."
        ))
        .subject("reconciliation_run", run_id)
        .dedupe(format!("reconciliation:{run_id}"));
        alerts::raise(&mut tx, &alert, now).await?;
    }
    tx.commit().await?;
    Ok(summary)
}

/// The daily job for the Kigali day before `now`, due at 01:00 Kigali (payouts of the day's last
/// minutes have settled by then).
pub fn daily_job(now: DateTime<Utc>) -> NewJob {
    let today = now.with_timezone(&kigali()).date_naive();
    daily_job_for(today.pred_opt().unwrap_or(today))
}

/// The daily job for the Kigali `day`, due at 01:00 Kigali the day after.
pub fn daily_job_for(day: NaiveDate) -> NewJob {
    let (_, today_start) = service::kigali_day(day);
    NewJob {
        kind: DAILY_KIND,
        payload: json!(DailyJob { day }),
        run_at: Some(today_start + chrono::Duration::hours(1)),
        priority: -5,
        max_attempts: 10,
        unique_key: Some(day.to_string()),
        created_by: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daily_job_covers_yesterday_in_kigali_and_waits_for_one_oclock() {
        // 23:30 UTC on the 25th is 01:30 on the 26th in Kigali
        let now = DateTime::parse_from_rfc3339("2026-11-25T23:30:00Z").unwrap().to_utc();
        let job = daily_job(now);
        assert_eq!(job.unique_key.as_deref(), Some("2026-11-25"));
        assert_eq!(job.run_at.unwrap().to_rfc3339(), "2026-11-25T23:00:00+00:00");
        assert_eq!(job.payload, json!({"day": "2026-11-25"}));
    }
}
