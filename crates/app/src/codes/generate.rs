//! Bulk generation: codes are made in rounds of up to 100,000, streamed with `COPY` into a
//! staging table, filtered against every code already stored, and moved into `promo_codes` with
//! consecutive serials; the few collisions are simply made again (decisions 0008, 0009). Runs as the `codes.generate`
//! job with progress, or directly (CLI, benchmarks).

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::format::{Alphabet, Generator};
use crate::audit::{self, Action, Actor, AuditEvent};
use crate::jobs::{JobContext, JobError, JobHandler};

pub const KIND: &str = "codes.generate";
pub const ROUND: usize = 100_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateJob {
    pub batch_id: Uuid,
    pub count: i64,
    pub requested_by: Option<Uuid>,
}

/// What a generation run did.
#[derive(Debug, Clone, Copy, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub generated: i64,
    pub collisions_regenerated: i64,
    pub first_serial: i64,
    pub last_serial: i64,
}

async fn stage(conn: &mut PgConnection, codes: &[String]) -> Result<(), sqlx::Error> {
    // (quietly: "already exists" is the normal case after the first round on a connection)
    sqlx::query("set local client_min_messages = warning")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "create temp table if not exists code_staging (ord int4 not null, id uuid not null, code text collate \"C\" not null) \
         on commit delete rows",
    )
    .execute(&mut *conn)
    .await?;
    let mut buf = String::with_capacity(codes.len() * 64);
    for (i, c) in codes.iter().enumerate() {
        // time-ordered ids: the primary key grows at its right edge instead of at random pages
        let id = Uuid::now_v7();
        buf.push_str(&format!("{i}\t{id}\t{c}\n"));
    }
    let mut copy = conn.copy_in_raw("copy code_staging (ord, id, code) from stdin").await?;
    copy.send(buf.into_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// Adds up to `codes.len()` new codes to the batch in one transaction and returns how many were
/// new (the rest already existed somewhere and must be made again), and the serial range added.
///
/// Serials follow the order the codes were made in (print order reveals nothing), while rows go
/// into the table sorted by code, so the unique index is filled in one ordered pass instead of
/// at a random page per row.
///
/// A round first goes in unfiltered: a code that already exists (odds of about one in a billion
/// per code) fails the unique index, and the round is undone and returned as `None`. The caller
/// then sends it again with `filter`, which keeps only codes not stored anywhere, probing the
/// unique index code by code (a hash anti-join would read the whole table on every round).
async fn insert_round(
    conn: &mut PgConnection,
    batch_id: Uuid,
    codes: &[String],
    filter: bool,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Option<(i64, i64, i64)>, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    // serialises rounds of the same batch (top-ups), so serials stay consecutive
    let (amount, currency, expires, next_serial): (i64, String, DateTime<Utc>, i64) = sqlx::query_as(
        "select b.amount_per_code, b.currency, b.expiration_date, \
           (coalesce((select max(serial) from promo_codes where batch_id = b.id), 0) + 1)::int8 \
         from batches b where b.id = $1 for update",
    )
    .bind(batch_id)
    .fetch_one(&mut *tx)
    .await?;
    stage(&mut tx, codes).await?;
    if filter {
        sqlx::query("set local enable_hashjoin = off").execute(&mut *tx).await?;
        sqlx::query("set local enable_mergejoin = off")
            .execute(&mut *tx)
            .await?;
    }
    let fresh = if filter {
        "where not exists (select 1 from promo_codes p where p.code = s.code)"
    } else {
        ""
    };
    let inserted = sqlx::query(&format!(
        "insert into promo_codes (id, code, batch_id, serial, amount, currency, status, created_at, expires_at) \
         select id, code, $1, $2 + n - 1, $3, $4, 'active', $5, $6 from ( \
           select s.id, s.code, row_number() over (order by s.ord) as n from code_staging s {fresh}) fresh \
         order by code"
    ))
    .bind(batch_id)
    .bind(next_serial)
    .bind(amount)
    .bind(&currency)
    .bind(now)
    .bind(expires)
    .execute(&mut *tx)
    .await;
    let inserted = match inserted {
        Ok(r) => r.rows_affected() as i64,
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("promo_codes_code_key") => {
            tx.rollback().await?;
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let max_serial = next_serial + inserted - 1;
    if inserted > 0 {
        // audited with the codes it added, and queued for the search index, in the same transaction
        sqlx::query("update batches set total_codes = greatest(total_codes, $2), updated_at = $3 where id = $1")
            .bind(batch_id)
            .bind(max_serial as i32)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let event = AuditEvent::new(actor, Action::CodesGenerated, "batch", batch_id)
            .after(json!({"serialFrom": next_serial, "serialTo": max_serial, "count": inserted}));
        audit::record(&mut tx, &event, now).await?;
        super::search_index::enqueue(&mut tx, batch_id, next_serial, max_serial, now).await?;
    }
    tx.commit().await?;
    Ok(Some((inserted, next_serial, max_serial)))
}

/// Stores `codes` (distinct, well formed) in the batch with the next consecutive serials and
/// returns (how many were new, first serial, last serial); codes already stored anywhere are
/// left out, for the caller to make again.
pub async fn insert_codes(
    conn: &mut PgConnection,
    batch_id: Uuid,
    codes: &[String],
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<(i64, i64, i64), sqlx::Error> {
    match insert_round(conn, batch_id, codes, false, actor, now).await? {
        Some(r) => Ok(r),
        // a code of this round exists already (or a concurrent writer just stored it): send the
        // round again keeping only the new ones
        None => Ok(insert_round(conn, batch_id, codes, true, actor, now)
            .await?
            .unwrap_or((0, 0, -1))),
    }
}

/// Generates `count` new codes into the batch, calling `progress(done, total)` after each round.
#[allow(clippy::too_many_arguments)]
pub async fn run<F, Fut>(
    pool: &PgPool,
    batch_id: Uuid,
    count: i64,
    actor: Actor,
    alphabet: Alphabet,
    checksum: bool,
    now: DateTime<Utc>,
    mut progress: F,
) -> Result<Summary, sqlx::Error>
where
    F: FnMut(i64, i64) -> Fut,
    Fut: std::future::Future<Output = Result<(), sqlx::Error>>,
{
    let rng = rand::rngs::StdRng::from_rng(rand::rngs::OsRng)
        .map_err(|e| sqlx::Error::Protocol(format!("no CSPRNG: {e}")))?;
    let mut generator = Generator::new(alphabet, checksum, now, rng);
    let mut conn = pool.acquire().await?;
    let mut summary = Summary::default();
    let mut done = 0i64;
    while done < count {
        let want = ((count - done) as usize).min(ROUND);
        let mut seen = HashSet::with_capacity(want);
        let mut round = Vec::with_capacity(want);
        while round.len() < want {
            let code = generator.next_code().as_str().to_owned();
            if seen.insert(code.clone()) {
                round.push(code);
            } else {
                summary.collisions_regenerated += 1;
            }
        }
        let (inserted, first, last) = insert_codes(&mut conn, batch_id, &round, actor, now).await?;
        if inserted > 0 {
            if summary.first_serial == 0 {
                summary.first_serial = first;
            }
            summary.last_serial = last;
        }
        summary.collisions_regenerated += want as i64 - inserted;
        done += inserted;
        progress(done, count).await?;
    }
    summary.generated = done;
    Ok(summary)
}

/// The `codes.generate` job; it reads the code settings in force when it runs.
pub struct Handler {
    pub settings: std::sync::Arc<crate::settings::SettingsStore>,
}

#[async_trait]
impl JobHandler for Handler {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let job: GenerateJob = ctx.payload()?;
        let s = self.settings.get();
        let cg = &s.0.business.code_generation;
        let alphabet =
            Alphabet::new(&cg.character_set).map_err(|e| JobError::Permanent(anyhow::anyhow!("character set: {e}")))?;
        let actor = job.requested_by.map_or(Actor::System, |user_id| Actor::User {
            user_id,
            session_id: None,
        });
        let progress_ctx = ctx.clone();
        let summary = run(
            &ctx.pool,
            job.batch_id,
            job.count,
            actor,
            alphabet,
            cg.include_checksum,
            ctx.clock.now(),
            |done, total| {
                let c = progress_ctx.clone();
                async move {
                    c.progress(done, total, Some("generating codes"))
                        .await
                        .map_err(|e| sqlx::Error::Protocol(e.to_string()))
                }
            },
        )
        .await?;
        Ok(Some(json!(summary)))
    }
}
