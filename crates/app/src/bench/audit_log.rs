//! `mbelyco bench audit`: concurrent writers of the audit log, then the chain's sealer and verifier,
//! then the viewer's export and search ([`super::audit_viewer`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::PgPool;

use super::scratch;
use crate::audit::{self, chain, Action, Actor, AuditEvent};
use crate::clock::{self, SharedClock};
use crate::config::Config;

fn event(i: usize) -> AuditEvent {
    AuditEvent::new(Actor::System, Action::SettingsUpdated, "bench", i)
        .before(json!({"value": i}))
        .after(json!({"value": i + 1, "note": "benchmark row"}))
}

/// `rows` appends by `writers` concurrent writers, each row durable when its commit returns:
/// autocommit statements, or explicit transactions (three round trips per row). Returns seconds.
async fn append(
    pool: &PgPool,
    clock: &SharedClock,
    writers: usize,
    rows: usize,
    explicit: bool,
) -> anyhow::Result<f64> {
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..writers {
        let (pool, clock, done) = (pool.clone(), clock.clone(), Arc::clone(&done));
        tasks.spawn(async move {
            let mut conn = pool.acquire().await?;
            loop {
                let i = done.fetch_add(1, Ordering::Relaxed);
                if i >= rows {
                    return Ok::<_, sqlx::Error>(());
                }
                if explicit {
                    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                    audit::record(&mut tx, &event(i), clock.now()).await?;
                    tx.commit().await?;
                } else {
                    audit::record(&mut conn, &event(i), clock.now()).await?;
                }
            }
        });
    }
    let progress = {
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let n = done.load(Ordering::Relaxed).min(rows);
                println!("  {n:>9} rows appended ({:.0}%)", n as f64 * 100.0 / rows as f64);
                if n >= rows {
                    break;
                }
            }
        })
    };
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    progress.abort();
    Ok(started.elapsed().as_secs_f64())
}

/// Audit append throughput with `writers` concurrent writers (one row per transaction, the
/// sealer running alongside as in production), then `audit verify` over `verify_rows` rows.
pub async fn audit(
    config: &Config,
    writers: usize,
    rows: usize,
    verify_rows: usize,
    search_rows: usize,
) -> anyhow::Result<()> {
    let clock: SharedClock = clock::system();
    let s = scratch(config, "audit", writers as u32 + 4).await?;
    let pool = s.pool.clone();

    let stop_sealer = tokio_util::sync::CancellationToken::new();
    let sealer = {
        let (pool, clock, stop) = (pool.clone(), clock.clone(), stop_sealer.clone());
        tokio::spawn(async move {
            let mut sealed = 0u64;
            while !stop.is_cancelled() {
                sealed += chain::seal_pending(&pool, clock.now(), chain::DEFAULT_SEAL_BATCH)
                    .await
                    .unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            sealed
        })
    };
    println!("appending {rows} audit rows with {writers} concurrent writers, each row committed on its own …");
    let append_secs = append(&pool, &clock, writers, rows, false).await?;
    println!("appending {rows} more inside explicit BEGIN … COMMIT transactions, as a use case writes them …");
    let tx_secs = append(&pool, &clock, writers, rows, true).await?;

    stop_sealer.cancel();
    let sealed_live = sealer.await.unwrap_or(0);
    let rest = chain::seal_pending(&pool, clock.now(), chain::DEFAULT_SEAL_BATCH).await?;
    let forks: i64 = sqlx::query_scalar(
        "select count(*) from (select prev_hash from audit_chain group by prev_hash having count(*) > 1) f",
    )
    .fetch_one(&pool)
    .await?;
    let report = chain::verify(&pool).await?;
    let append_rate = rows as f64 / append_secs;
    let tx_rate = rows as f64 / tx_secs;
    println!(
        "  sealed {sealed_live} rows while writing, {rest} after; chain {}",
        if report.is_intact() { "intact" } else { "BROKEN" }
    );

    // top up to verify_rows with set-based inserts, seal, and time the verification
    let have: i64 = sqlx::query_scalar("select count(*) from audit_logs")
        .fetch_one(&pool)
        .await?;
    let mut have = have as usize;
    if verify_rows > have {
        println!("filling to {verify_rows} rows for the verify benchmark …");
    }
    while have < verify_rows {
        let n = (verify_rows - have).min(100_000);
        sqlx::query(
            "with a as ( \
               insert into audit_logs (actor_type, action, entity_type, entity_id, after, created_at) \
               select 'system', 'settings.updated', 'bench', g::text, jsonb_build_object('value', g), $2 \
               from generate_series(1, $1) g returning id, seq, created_at) \
             insert into audit_pending (seq, id, created_at) select seq, id, created_at from a",
        )
        .bind(n as i64)
        .bind(clock.now())
        .execute(&pool)
        .await?;
        let sealed = chain::seal_pending(&pool, clock.now(), chain::DEFAULT_SEAL_BATCH).await?;
        have += n;
        println!("  {have:>9} rows written and sealed ({sealed} this round)");
    }
    let started = Instant::now();
    let big = chain::verify(&pool).await?;
    let verify_secs = started.elapsed().as_secs_f64();
    let viewer = super::audit_viewer::run(&pool, search_rows as i64, clock.now(), 20).await?;

    println!();
    println!("== bench audit ==");
    println!(
        "audit append: {writers} writers, {rows} rows in {append_secs:.2} s = {append_rate:.0} rows/s (goal >= 5000) {}",
        if append_rate >= 5000.0 { "PASS" } else { "MISS" }
    );
    println!("  in explicit transactions: {rows} rows in {tx_secs:.2} s = {tx_rate:.0} rows/s");
    println!(
        "forks: {forks} (goal 0) {}",
        if forks == 0 && report.is_intact() {
            "PASS"
        } else {
            "FAIL"
        }
    );
    println!(
        "audit verify: {} rows in {verify_secs:.2} s (goal <= 10 s) {}{}",
        big.checked,
        if verify_secs <= 10.0 { "PASS" } else { "MISS" },
        if big.is_intact() {
            ""
        } else {
            " — chain reported BROKEN"
        }
    );
    viewer.print();
    s.drop().await;
    Ok(())
}
