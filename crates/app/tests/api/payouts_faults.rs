//! The fault-injection suite: worker processes killed with SIGKILL mid-flight, MoMo timing out
//! after it accepted, 500/503/429, connections cut after the transfer was created, callbacks
//! duplicated and late, database connections cut under the worker — and at the end every payout
//! is terminal or waiting for a person, both ledgers agree to the franc, no reference paid twice
//! and no redemption paid twice.

use std::time::Duration;

use rand::Rng;
use serde_json::json;
use simulators::momo::{Faults, SimConfig};

use crate::helpers::TestDb;
use crate::payouts::{books_agree, make_due, ready, redeem, start_momo, worker};

/// `mbelyco worker` against the test database, as production runs it.
fn worker_process(db: &TestDb) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_mbelyco"))
        .arg("worker")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &db.url)
        .env("APP_ENV", "test")
        .env("SECRET_KEY", crate::helpers::TEST_SECRET_KEY)
        .env("RUST_LOG", "warn")
        .env(
            "DATA_DIR",
            std::env::temp_dir().join(format!("mbelyco-chaos-{}", uuid::Uuid::new_v4())),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the worker starts")
}

/// Every lease a killed process held is over (time passing beyond the lease), and every waiting
/// payout is due.
async fn after_a_crash(pool: &sqlx::PgPool) {
    sqlx::query(
        "update disbursements set lease_owner = null, lease_expires_at = now() - interval '1 second', \
         next_attempt_at = now() - interval '1 second' where status = 'processing'",
    )
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_workers_flaky_momo_and_cut_connections_never_pay_twice_or_lose_a_payout() {
    let db = TestDb::new().await;
    let mut config = SimConfig::rwanda();
    config.settle_after = Duration::from_millis(300);
    config.callbacks = simulators::momo::CallbackMode::Once;
    config.duplicate_callbacks = true;
    config.callback_delay = Duration::from_millis(700);
    let momo = start_momo(config).await;
    let (app, key) = ready(
        &db,
        &momo,
        json!({"requestTimeoutSeconds": 1, "circuitBreakerFailures": 100}),
    )
    .await;
    app.set_settings(
        mbelyco::settings::Category::Payments,
        json!({"callbackBaseUrl": app.base}),
    )
    .await;
    let ids = redeem(&app, &key, 60, "chaos").await;
    assert_eq!(ids.len(), 60);
    let faults = Faults {
        error_500_rate: 0.1,
        error_503_rate: 0.05,
        rate_429: 0.1,
        timeout_after_create_rate: 0.1,
        hang_ms: 1_500,
        drop_after_create_rate: 0.05,
        ..Faults::default()
    };
    momo.sim.set_faults(faults.clone());

    let mut rng = rand::thread_rng();
    let (mut kills, mut cuts) = (0, 0);
    for round in 0..16 {
        let mut child = worker_process(&db);
        tokio::time::sleep(Duration::from_millis(rng.gen_range(300..1200))).await;
        if round % 4 == 3 {
            // the database goes away under the worker (as in a server restart): every connection cut
            let cut: i64 = sqlx::query_scalar(
                "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity \
                 where datname = current_database() and pid <> pg_backend_pid()) t",
            )
            .fetch_one(&app.pool)
            .await
            .unwrap_or(0);
            cuts += 1;
            let _ = cut;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        kills += 1;
        after_a_crash(&app.pool).await;
    }
    // MoMo heals; one last worker settles whatever is left
    momo.sim.set_faults(Faults::default());
    let w = worker(&app, "final");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        after_a_crash(&app.pool).await;
        make_due(&app).await;
        w.run_until_idle().await.unwrap();
        let open: i64 = sqlx::query_scalar(
            "select count(*) from disbursements where status not in ('completed', 'failed', 'payee_invalid')",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if open == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{open} payouts never settled");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (completed, attempts): (i64, i64) = sqlx::query_as(
        "select (select count(*) from disbursements where status = 'completed'), (select count(*) from disbursement_attempts)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    // with no FAILED answers injected, every payout ends paid
    assert_eq!(completed, 60);
    books_agree(&app, &momo).await;
    let injected = momo.sim.faults_injected();
    println!(
        "fault injection: {kills} worker processes killed with SIGKILL, {cuts} database connection cuts, \
         {injected} MoMo faults (500/503/429/timeout after create/connection cut), duplicated and late callbacks; \
         {attempts} attempts for 60 payouts"
    );
    assert!(
        kills + cuts + injected >= 40,
        "the suite injected too few faults: {}",
        kills + cuts + injected
    );
}
