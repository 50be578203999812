//! Bulk generation: codes are made in rounds of up to 100,000 and copied straight into
//! `promo_codes` (sorted by code, serials in the order they were made), two rounds side by side on
//! their own connections and committed in serial order, so serials stay consecutive; the rare
//! round that meets a stored code is done again with a filter (decisions 0008, 0010, 0015). Runs
//! as the `codes.generate` job with progress, or directly (CLI, benchmarks).

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
    /// The number of codes the batch holds when this job is done: a retry after a crash (the
    /// rounds committed before it stay) makes only what is still missing.
    #[serde(default)]
    pub until_count: Option<i64>,
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

/// The advisory lock that keeps a batch's serials consecutive: one generation run or import at a
/// time adds codes to a batch. Held by a transaction, so nothing can leave it held.
pub const SERIAL_LOCK: &str = "select pg_advisory_xact_lock(hashtextextended('codes.serials:' || $1::text, 0))";

/// Rounds written side by side (on their own connections), then committed in serial order.
const PARALLEL: usize = 2;

/// How a round's first attempt went.
enum Tried {
    /// Every code went in; the transaction is open, waiting to be committed in serial order.
    Staged(sqlx::Transaction<'static, sqlx::Postgres>),
    /// A code already existed (or arrived meanwhile): undone, to be done again with a filter.
    Collided,
}

/// One round: `codes` get serials `first ..`, made in this order.
struct Round {
    first: i64,
    codes: Vec<String>,
}

/// Moves staged codes into `promo_codes` with serials from `first` on, in the order they were
/// made, and returns how many went in. Rows go into the table sorted by code, so the unique index
/// is filled in one ordered pass instead of at a random page per row; serials follow generation
/// order (print order reveals nothing). With `filter`, codes stored anywhere already are left
/// out, probing the unique index code by code (a hash anti-join would read the whole table).
async fn move_staged(
    conn: &mut PgConnection,
    batch_id: Uuid,
    first: i64,
    filter: bool,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let fresh = if filter {
        sqlx::query("set local enable_hashjoin = off")
            .execute(&mut *conn)
            .await?;
        sqlx::query("set local enable_mergejoin = off")
            .execute(&mut *conn)
            .await?;
        "where not exists (select 1 from promo_codes p where p.code = s.code)"
    } else {
        ""
    };
    let done = sqlx::query(&format!(
        "insert into promo_codes (id, code, batch_id, serial, amount, currency, status, created_at, expires_at) \
         select fresh.id, fresh.code, b.id, $2 + fresh.n - 1, b.amount_per_code, b.currency, 'active', $3, b.expiration_date \
         from batches b, ( \
           select s.id, s.code, row_number() over (order by s.ord) as n from code_staging s {fresh}) fresh \
         where b.id = $1 \
         order by fresh.code"
    ))
    .bind(batch_id)
    .bind(first)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if filter {
        sqlx::query("truncate code_staging").execute(&mut *conn).await?;
    }
    Ok(done.rows_affected() as i64)
}

fn code_collision(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.constraint() == Some("promo_codes_code_key"))
}

/// A round's first attempt, unfiltered (a stored code has odds of about one in a billion): the
/// codes are copied straight into `promo_codes`, sorted by code so the unique index is filled in
/// one ordered pass, with serials in the order they were made (print order reveals nothing). The
/// transaction stays open for the caller to finish in serial order.
async fn try_round(pool: &PgPool, batch_id: Uuid, round: &Round, now: DateTime<Utc>) -> Result<Tried, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (amount, currency, expires): (i64, String, DateTime<Utc>) =
        sqlx::query_as("select amount_per_code, currency, expiration_date from batches where id = $1")
            .bind(batch_id)
            .fetch_one(&mut *tx)
            .await?;
    let mut order: Vec<(&str, i64)> = round
        .codes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), round.first + i as i64))
        .collect();
    order.sort_unstable();
    // binary COPY: PostgreSQL parses no text (the two timestamps' text form alone cost a tenth of
    // its time in a round)
    let mut rows = BinaryCopy::new(order.len() * 110);
    let (created, expires) = (BinaryCopy::timestamp(now), BinaryCopy::timestamp(expires));
    for (code, serial) in order {
        // time-ordered ids, made in code order: the primary key grows at its right edge
        rows.row(9)
            .field(Uuid::now_v7().as_bytes())
            .field(code.as_bytes())
            .field(batch_id.as_bytes())
            .field(&(serial as i32).to_be_bytes())
            .field(&amount.to_be_bytes())
            .field(currency.as_bytes())
            .field(b"active")
            .field(&created)
            .field(&expires);
    }
    let copied: Result<u64, sqlx::Error> = async {
        let mut copy = tx
            .copy_in_raw(
                "copy promo_codes (id, code, batch_id, serial, amount, currency, status, created_at, expires_at) \
                 from stdin with (format binary)",
            )
            .await?;
        copy.send(rows.finish()).await?;
        copy.finish().await
    }
    .await;
    match copied {
        Ok(_) => Ok(Tried::Staged(tx)),
        Err(e) if code_collision(&e) => {
            tx.rollback().await?;
            Ok(Tried::Collided)
        }
        Err(e) => Err(e),
    }
}

/// A round that collided, done again: codes stored anywhere are left out and made again until
/// the round has all its serials. Returns the open transaction and how many codes were made again.
async fn redo_round(
    pool: &PgPool,
    batch_id: Uuid,
    round: &Round,
    generator: &mut Generator<rand::rngs::StdRng>,
    taken: &mut HashSet<String>,
    now: DateTime<Utc>,
) -> Result<(sqlx::Transaction<'static, sqlx::Postgres>, i64), sqlx::Error> {
    let want = round.codes.len() as i64;
    let mut remade = 0i64;
    for _ in 0..20 {
        let mut tx = pool.begin().await?;
        let mut codes = round.codes.clone();
        let mut done = 0i64;
        let outcome: Result<(), sqlx::Error> = async {
            while done < want {
                stage(&mut tx, &codes).await?;
                done += move_staged(&mut tx, batch_id, round.first + done, true, now).await?;
                let short = (want - done) as usize;
                remade += short as i64;
                codes = fresh_codes(generator, taken, short, &mut remade);
            }
            Ok(())
        }
        .await;
        match outcome {
            Ok(()) => return Ok((tx, remade)),
            // a concurrent writer stored one of them meanwhile: once more
            Err(e) if code_collision(&e) => tx.rollback().await?,
            Err(e) => return Err(e),
        }
    }
    Err(sqlx::Error::Protocol(
        "codes keep colliding: the code space is nearly full; widen the character set".into(),
    ))
}

/// `n` codes not made before in this run.
fn fresh_codes(
    generator: &mut Generator<rand::rngs::StdRng>,
    taken: &mut HashSet<String>,
    n: usize,
    collisions: &mut i64,
) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let code = generator.next_code().as_str().to_owned();
        if taken.insert(code.clone()) {
            out.push(code);
        } else {
            *collisions += 1;
        }
    }
    out
}

/// Commits a round after recording it: the batch's size, the audit row, and the search-index job
/// for its serials (in the same transaction, so committed codes always become searchable).
async fn finish_round(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    batch_id: Uuid,
    round: &Round,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let last = round.first + round.codes.len() as i64 - 1;
    sqlx::query("update batches set total_codes = greatest(total_codes, $2), updated_at = $3 where id = $1")
        .bind(batch_id)
        .bind(last as i32)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let event = AuditEvent::new(actor, Action::CodesGenerated, "batch", batch_id)
        .after(json!({"serialFrom": round.first, "serialTo": last, "count": round.codes.len()}));
    audit::record(&mut tx, &event, now).await?;
    super::search_index::enqueue(&mut tx, batch_id, round.first, last, now).await?;
    tx.commit().await
}

/// What a generation run writes with: which batch, by whom, with which alphabet and whether
/// its codes carry a check character, and when.
#[derive(Debug, Clone)]
pub struct Spec {
    pub batch_id: Uuid,
    pub actor: Actor,
    pub alphabet: Alphabet,
    pub checksum: bool,
    pub now: DateTime<Utc>,
}

/// A run's fixed context, once its alphabet went into the generator.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    pool: &'a PgPool,
    batch_id: Uuid,
    actor: Actor,
    now: DateTime<Utc>,
}

impl Spec {
    fn start(self, pool: &PgPool) -> Result<(Ctx<'_>, Generator<rand::rngs::StdRng>), sqlx::Error> {
        let rng = rand::rngs::StdRng::from_rng(rand::rngs::OsRng)
            .map_err(|e| sqlx::Error::Protocol(format!("no CSPRNG: {e}")))?;
        let ctx = Ctx {
            pool,
            batch_id: self.batch_id,
            actor: self.actor,
            now: self.now,
        };
        Ok((ctx, Generator::new(self.alphabet, self.checksum, self.now, rng)))
    }
}

/// Finishes a tried round in its turn (a collided one is done again first) and commits it;
/// returns how many codes were made again.
async fn settle_round(
    c: Ctx<'_>,
    round: &Round,
    tried: Tried,
    generator: &mut Generator<rand::rngs::StdRng>,
    taken: &mut HashSet<String>,
) -> Result<i64, sqlx::Error> {
    let Ctx {
        pool,
        batch_id,
        actor,
        now,
    } = c;
    let (tx, remade) = match tried {
        Tried::Staged(tx) => (tx, 0),
        Tried::Collided => redo_round(pool, batch_id, round, generator, taken, now).await?,
    };
    finish_round(tx, batch_id, round, actor, now).await?;
    Ok(remade)
}

/// Adds the given codes (made elsewhere) to the batch as one round, as a generation run would:
/// serials follow on, and any code already stored anywhere is left out and made again by a fresh
/// generator with these settings.
pub async fn add_round(pool: &PgPool, spec: Spec, codes: Vec<String>) -> Result<Summary, sqlx::Error> {
    let (c, mut generator) = spec.start(pool)?;
    let (batch_id, now) = (c.batch_id, c.now);
    let mut guard = pool.begin().await?;
    sqlx::query(SERIAL_LOCK).bind(batch_id).execute(&mut *guard).await?;
    let first = next_serial(&mut guard, batch_id).await?;
    let mut taken: HashSet<String> = codes.iter().cloned().collect();
    let round = Round { first, codes };
    let tried = try_round(pool, batch_id, &round, now).await?;
    let remade = settle_round(c, &round, tried, &mut generator, &mut taken).await?;
    guard.commit().await?;
    Ok(Summary {
        generated: round.codes.len() as i64,
        collisions_regenerated: remade,
        first_serial: first,
        last_serial: first + round.codes.len() as i64 - 1,
    })
}

/// The batch's next serial (the batch must exist).
async fn next_serial(conn: &mut PgConnection, batch_id: Uuid) -> Result<i64, sqlx::Error> {
    let (exists, next): (bool, i64) = sqlx::query_as(
        "select exists (select 1 from batches where id = $1), \
           (coalesce((select max(serial) from promo_codes where batch_id = $1), 0) + 1)::int8",
    )
    .bind(batch_id)
    .fetch_one(&mut *conn)
    .await?;
    if exists {
        Ok(next)
    } else {
        Err(sqlx::Error::RowNotFound)
    }
}

/// Generates `count` codes into the batch in rounds of [`ROUND`], calling `progress(done, total)`
/// after each round. Rounds are written [`PARALLEL`] at a time on their own connections and
/// committed in serial order (a failed round rolls back the ones after it), so serials stay
/// consecutive whatever happens; one run or import per batch at a time (an advisory lock).
pub async fn run<F, Fut>(pool: &PgPool, spec: Spec, count: i64, mut progress: F) -> Result<Summary, sqlx::Error>
where
    F: FnMut(i64, i64) -> Fut,
    Fut: std::future::Future<Output = Result<(), sqlx::Error>>,
{
    let (c, mut generator) = spec.start(pool)?;
    // the lock's own transaction, open for the whole run (dropped on any exit: the lock goes)
    let mut guard = pool.begin().await?;
    sqlx::query(SERIAL_LOCK).bind(c.batch_id).execute(&mut *guard).await?;
    let summary = generate_locked(c, &mut guard, count, &mut generator, &mut progress).await?;
    guard.commit().await?;
    Ok(summary)
}

async fn generate_locked<F, Fut>(
    c: Ctx<'_>,
    guard: &mut PgConnection,
    count: i64,
    generator: &mut Generator<rand::rngs::StdRng>,
    progress: &mut F,
) -> Result<Summary, sqlx::Error>
where
    F: FnMut(i64, i64) -> Fut,
    Fut: std::future::Future<Output = Result<(), sqlx::Error>>,
{
    let (pool, batch_id, now) = (c.pool, c.batch_id, c.now);
    let next = next_serial(guard, batch_id).await?;
    // a small pool (a test, say) writes one round at a time
    let parallel = if pool.options().get_max_connections() >= 4 {
        PARALLEL
    } else {
        1
    };
    let mut summary = Summary {
        first_serial: if count > 0 { next } else { 0 },
        last_serial: next - 1,
        ..Summary::default()
    };
    let mut done = 0i64;
    while done < count {
        // the codes of the next rounds, unique among themselves
        let mut taken = HashSet::with_capacity(ROUND * parallel);
        let mut rounds = Vec::with_capacity(parallel);
        let mut first = next + done;
        while rounds.len() < parallel && first < next + count {
            let want = ((next + count - first) as usize).min(ROUND);
            let codes = fresh_codes(generator, &mut taken, want, &mut summary.collisions_regenerated);
            rounds.push(Round { first, codes });
            first += want as i64;
        }
        let tried = futures::future::join_all(rounds.iter().map(|r| try_round(pool, batch_id, r, now))).await;
        // committed in serial order; an error drops (rolls back) every later open round
        let mut open = Vec::with_capacity(tried.len());
        for t in tried {
            open.push(t?);
        }
        for (round, t) in rounds.iter().zip(open) {
            summary.collisions_regenerated += settle_round(c, round, t, generator, &mut taken).await?;
            done += round.codes.len() as i64;
            summary.last_serial = round.first + round.codes.len() as i64 - 1;
            progress(done, count).await?;
        }
    }
    summary.generated = done;
    Ok(summary)
}

/// Whether a batch's codes carry a check character: recorded when the batch was made, so a
/// top-up makes codes like the batch's first ones whatever the setting says now.
pub async fn batch_checks(pool: &PgPool, batch_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select check_character from batches where id = $1")
        .bind(batch_id)
        .fetch_optional(pool)
        .await
        .map(|c| c.unwrap_or(false))
}

/// The `codes.generate` job; it reads the character set in force when it runs, and the batch's
/// check character.
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
        let mut count = job.count;
        if let Some(until) = job.until_count {
            let have: i64 = sqlx::query_scalar("select count(*) from promo_codes where batch_id = $1")
                .bind(job.batch_id)
                .fetch_one(&ctx.pool)
                .await?;
            count = count.min(until - have).max(0);
        }
        let checksum = batch_checks(&ctx.pool, job.batch_id).await?;
        let progress_ctx = ctx.clone();
        let spec = Spec {
            batch_id: job.batch_id,
            actor,
            alphabet,
            checksum,
            now: ctx.clock.now(),
        };
        let summary = run(&ctx.pool, spec, count, |done, total| {
            let c = progress_ctx.clone();
            async move {
                c.progress(done, total, Some("generating codes"))
                    .await
                    .map_err(|e| sqlx::Error::Protocol(e.to_string()))
            }
        })
        .await?;
        Ok(Some(json!(summary)))
    }
}

/// Rows in PostgreSQL's binary `COPY` format: a header, then per row its field count and each
/// field as a length and its bytes in the column type's binary form, then a trailer.
struct BinaryCopy(Vec<u8>);

impl BinaryCopy {
    fn new(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity + 21);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        BinaryCopy(buf)
    }

    fn row(&mut self, fields: i16) -> &mut Self {
        self.0.extend_from_slice(&fields.to_be_bytes());
        self
    }

    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.0.extend_from_slice(bytes);
        self
    }

    /// A `timestamptz`: microseconds since 2000-01-01 00:00 UTC.
    fn timestamp(t: DateTime<Utc>) -> [u8; 8] {
        const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
        (t.timestamp_micros() - PG_EPOCH_MICROS).to_be_bytes()
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&(-1i16).to_be_bytes());
        self.0
    }
}
