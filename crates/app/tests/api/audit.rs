//! The audit log: in-transaction recording, append-only enforcement, the hash chain under
//! concurrency, and tamper detection by `audit verify` (library and binary).

use mbelyco::audit::{self, chain, Action, Actor, AuditEvent};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{now, TestDb};

fn event(i: usize) -> AuditEvent {
    AuditEvent::new(Actor::System, Action::BatchCreated, "batch", i).after(json!({"n": i}))
}

async fn write(pool: &PgPool, n: usize) {
    for i in 0..n {
        let mut tx = pool.begin().await.unwrap();
        audit::record(&mut tx, &event(i), now()).await.unwrap();
        tx.commit().await.unwrap();
    }
}

async fn seal(pool: &PgPool) -> u64 {
    chain::seal_pending(pool, now(), chain::DEFAULT_SEAL_BATCH)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_is_part_of_the_callers_transaction() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let mut tx = pool.begin().await.unwrap();
    audit::record(&mut tx, &event(1), now()).await.unwrap();
    tx.rollback().await.unwrap();
    let n: i64 = sqlx::query_scalar("select count(*) from audit_logs where entity_type = 'batch'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 0, "a rolled-back change leaves no audit row");

    let mut tx = pool.begin().await.unwrap();
    let id = audit::record(&mut tx, &event(2), now()).await.unwrap();
    tx.commit().await.unwrap();
    let action: String = sqlx::query_scalar("select action from audit_logs where id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(action, "batch.created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_writers_make_one_unforked_chain() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..50 {
        let pool = pool.clone();
        tasks.spawn(async move {
            for i in 0..20 {
                let mut tx = pool.begin().await.unwrap();
                audit::record(&mut tx, &event(w * 100 + i), now()).await.unwrap();
                tx.commit().await.unwrap();
            }
        });
    }
    // seal while the writers are still writing, as the worker does
    let sealer = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut total = 0;
            for _ in 0..20 {
                total += chain::seal_pending(&pool, now(), 50).await.unwrap();
                tokio::task::yield_now().await;
            }
            total
        })
    };
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    sealer.await.unwrap();
    seal(&pool).await;

    let total: i64 = sqlx::query_scalar("select count(*) from audit_logs where entity_type = 'batch'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(total, 1000);
    let forks: i64 = sqlx::query_scalar(
        "select count(*) from (select prev_hash from audit_chain group by prev_hash having count(*) > 1) f",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(forks, 0);
    let (min, max, n): (i64, i64, i64) =
        sqlx::query_as("select min(chain_seq), max(chain_seq), count(*) from audit_chain")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((min, max), (1, n), "positions 1..n with no gaps");
    let report = chain::verify(&pool).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checked as i64, n);
    assert_eq!(report.unsealed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_delete_and_truncate_are_refused() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    write(&pool, 3).await;
    seal(&pool).await;
    for sql in [
        "update audit_logs set action = 'x' where entity_id = '1'",
        "delete from audit_logs where entity_id = '2'",
        "truncate audit_logs cascade",
        "update audit_chain set integrity_hash = '\\x00' where chain_seq = 1",
        "delete from audit_chain where chain_seq = 3",
        "truncate audit_chain",
        "delete from audit_chain_heads",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert!(chain::verify(&pool).await.unwrap().is_intact());
}

/// Runs `sql` with every trigger and foreign key switched off, as someone with raw superuser
/// access to the database could.
async fn tamper(pool: &PgPool, sql: &str) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("set local session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::raw_sql(sql).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

async fn chain_of_ten(pool: &PgPool) {
    write(pool, 10).await;
    // two seal rounds, so there are intermediate chain heads too
    chain::seal_pending(pool, now(), 6).await.unwrap();
    seal(pool).await;
    assert!(chain::verify(pool).await.unwrap().is_intact());
}

async fn seq_of(pool: &PgPool, entity_id: &str) -> i64 {
    sqlx::query_scalar(
        "select c.chain_seq from audit_chain c join audit_logs a on a.id = c.audit_id \
         where a.entity_type = 'batch' and a.entity_id = $1",
    )
    .bind(entity_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_row_is_named() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    chain_of_ten(&pool).await;
    let target = seq_of(&pool, "4").await;
    tamper(
        &pool,
        "update audit_logs set after = '{\"n\": 4000}' where entity_type = 'batch' and entity_id = '4'",
    )
    .await;
    let r = chain::verify(&pool).await.unwrap();
    let b = r.first_break.expect("tampering detected");
    assert_eq!(b.chain_seq, target);
    assert!(b.reason.contains("content changed"), "{}", b.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_row_is_found() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    chain_of_ten(&pool).await;
    let target = seq_of(&pool, "6").await;
    tamper(
        &pool,
        "delete from audit_logs where entity_type = 'batch' and entity_id = '6'",
    )
    .await;
    let b = chain::verify(&pool)
        .await
        .unwrap()
        .first_break
        .expect("tampering detected");
    assert_eq!(b.chain_seq, target);
    assert!(b.reason.contains("missing"), "{}", b.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordered_rows_are_found() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    chain_of_ten(&pool).await;
    let (a, b) = (seq_of(&pool, "2").await, seq_of(&pool, "3").await);
    // swap two rows' positions (and their seals), keeping each row's own hashes
    tamper(
        &pool,
        &format!(
            "update audit_chain set chain_seq = case chain_seq when {a} then 1000001 when {b} then 1000002 end where chain_seq in ({a}, {b}); \
             update audit_chain set chain_seq = case chain_seq when 1000001 then {b} when 1000002 then {a} end where chain_seq in (1000001, 1000002)"
        ),
    )
    .await;
    let br = chain::verify(&pool)
        .await
        .unwrap()
        .first_break
        .expect("tampering detected");
    assert_eq!(br.chain_seq, a.min(b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_cut_off_the_end_are_found() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    chain_of_ten(&pool).await;
    tamper(
        &pool,
        "delete from audit_logs where id in (select audit_id from audit_chain where chain_seq >= 9); \
         delete from audit_chain where chain_seq >= 9",
    )
    .await;
    let b = chain::verify(&pool)
        .await
        .unwrap()
        .first_break
        .expect("tampering detected");
    assert!(b.reason.contains("removed from the end"), "{}", b.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_inserted_around_the_chain_is_found() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    chain_of_ten(&pool).await;
    // written straight into the table, not through `record`: it never enters the chain
    sqlx::query("insert into audit_logs (actor_type, action, entity_type, entity_id, created_at) values ('system', 'batch.created', 'batch', 'forged', $1)")
        .bind(now())
        .execute(&pool)
        .await
        .unwrap();
    seal(&pool).await;
    let b = chain::verify(&pool)
        .await
        .unwrap()
        .first_break
        .expect("tampering detected");
    assert!(b.reason.contains("outside the chain"), "{}", b.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_command_exits_non_zero_on_tampering() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    chain_of_ten(&pool).await;
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_mbelyco"))
            .args(["audit", "verify"])
            .env("DATABASE_URL", db.url.clone())
            .env("SECRET_KEY", "test-secret-key-0123456789abcdef-0123456789")
            .output()
            .unwrap()
    };
    let ok = run();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(out.contains("checked 10 rows") && out.contains("intact"), "{out}");

    let target = seq_of(&pool, "7").await;
    tamper(
        &pool,
        "update audit_logs set action = 'batch.deleted' where entity_type = 'batch' and entity_id = '7'",
    )
    .await;
    let bad = run();
    assert_eq!(bad.status.code(), Some(1));
    let out = String::from_utf8_lossy(&bad.stdout);
    assert!(out.contains(&format!("chain position {target}")), "{out}");
    assert!(out.contains("TAMPERING DETECTED"), "{out}");
}
