//! Bringing the system up: database, migrations, seeds, first administrator, settings; then the
//! web server and/or the worker, until a shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::config::{Config, SecretSource};
use crate::crypto::Keys;
use crate::jobs::{self, Registry, Worker, WorkerOptions};
use crate::settings::SettingsStore;
use crate::web::{AppState, Metrics};

/// Everything a role (web, worker) needs, ready to run.
pub struct Prepared {
    pub state: AppState,
}

/// Creates the database if missing, migrates, seeds and bootstraps; fails with a one-line
/// reason before anything starts listening.
pub async fn prepare(config: Config, clock: SharedClock) -> anyhow::Result<Prepared> {
    if let SecretSource::Generated(path) = &config.secret_source {
        tracing::warn!(
            path = %path.display(),
            "SECRET_KEY is not set: using a generated key kept in this file. Set SECRET_KEY in production."
        );
    }
    if crate::db::ensure_database(&config).await? {
        tracing::info!("created the database");
    }
    let pool = crate::db::connect(&config).await?;
    crate::db::migrate(&pool).await?;
    let state = build_state(pool, config, clock).await?;
    Ok(Prepared { state })
}

/// Seeds, bootstraps the first administrator and loads settings on an already migrated pool.
/// Tests call this with the pool `#[sqlx::test]` gives them.
pub async fn build_state(pool: PgPool, config: Config, clock: SharedClock) -> anyhow::Result<AppState> {
    let mut tx = pool.begin().await?;
    let seeded = crate::access::seed(&mut tx, clock.now())
        .await
        .context("seeding permissions and roles failed")?;
    if !seeded.roles_created.is_empty() {
        tracing::info!(roles = ?seeded.roles_created, permissions = seeded.permissions_added, "seeded the permission catalogue and roles");
    }
    let boot = crate::identity::bootstrap_admin(
        &mut tx,
        config.admin_email.as_deref(),
        config.admin_password.as_ref(),
        clock.now(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("creating the first administrator failed: {e}"))?;
    tx.commit().await?;
    if let Some(b) = boot {
        match &b.generated_password {
            Some(pw) => println!(
                "\n  First Super Administrator created.\n    email:    {}\n    password: {}\n  This password is shown once. Sign in and enrol two-factor authentication.\n",
                b.email,
                pw.expose_secret()
            ),
            None => println!("\n  First Super Administrator created: {} (password from ADMIN_PASSWORD)\n", b.email),
        }
    }
    let keys = Keys::derive(&config.secret_key);
    crate::settings::validate::set_production(config.app_env == crate::config::AppEnv::Production);
    let settings = SettingsStore::load(pool.clone(), keys.settings.clone()).await?;
    let templates = crate::templates::TemplateStore::load(pool.clone()).await?;
    Ok(AppState {
        pool,
        config: Arc::new(config),
        settings,
        templates,
        clock,
        metrics: Arc::new(Metrics::default()),
        keys: Arc::new(keys),
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received");
}

/// Serves HTTP until `shutdown`, then finishes in-flight requests.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let latency = tokio::spawn(crate::monitor::latency::report(
        state.pool.clone(),
        state.clock.clone(),
        Arc::clone(&state.metrics),
        shutdown.clone(),
    ));
    let app = crate::web::router(state);
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
    .context("the web server failed");
    if served.is_ok() {
        // stopped by `shutdown`: the reporter removes this process's row
        let _ = latency.await;
    } else {
        latency.abort();
    }
    served
}

/// The job kinds this build runs.
pub fn registry(state: &AppState) -> Registry {
    let backups = Arc::new(crate::backup::Env::new(state.pool.clone(), &state.config));
    let registry = Registry::new()
        .register(crate::jobs::housekeeping::Housekeeping)
        .register(crate::batches::refresh::RefreshStatus {
            settings: Arc::clone(&state.settings),
        })
        .register(crate::codes::generate::Handler {
            settings: Arc::clone(&state.settings),
        })
        .register(crate::codes::search_index::Handler)
        .register(crate::stats::fold::Fold)
        .register(crate::alerts::rules::evaluate::Handler {
            settings: Arc::clone(&state.settings),
        })
        .register(crate::stats::retention::Retention {
            settings: Arc::clone(&state.settings),
        })
        .register(crate::alerts::sms::Handler::new(Arc::clone(&state.settings)))
        .register(crate::alerts::delivery::send::Handler::new(
            Arc::clone(&state.settings),
            Arc::clone(&state.templates),
            state.config.public_base_url.clone(),
        ))
        .register(crate::alerts::delivery::escalate::Handler {
            settings: Arc::clone(&state.settings),
        })
        .register(crate::webhooks::send::Handler::new(Arc::clone(&state.settings)))
        .register(crate::reports::schedule_run::SendHandler {
            settings: Arc::clone(&state.settings),
            base_url: state.config.public_base_url.clone(),
        })
        .register(crate::reports::export::job::Handler {
            settings: Arc::clone(&state.settings),
            data_dir: state.config.data_dir.clone(),
        })
        .register(crate::reports::export::job::Retention {
            data_dir: state.config.data_dir.clone(),
        })
        .register(crate::monitor::job::Handler {
            settings: Arc::clone(&state.settings),
            data_dir: state.config.data_dir.clone(),
        })
        .register(crate::audit::panel::Handler)
        .register(crate::audit::retention::Handler {
            settings: Arc::clone(&state.settings),
            data_dir: state.config.data_dir.clone(),
        })
        .register(crate::maintenance::job::Handler {
            settings: Arc::clone(&state.settings),
        })
        .register(crate::maintenance::notify::Before {
            settings: Arc::clone(&state.settings),
        })
        .register(crate::backup::jobs::Create {
            env: Arc::clone(&backups),
            settings: Arc::clone(&state.settings),
        })
        .register(crate::backup::jobs::Schedule {
            env: backups,
            settings: Arc::clone(&state.settings),
        });
    crate::disbursement::reconcile::register(registry, &state.settings)
}

/// The worker role: job runner, audit sealer, scheduler and heartbeat, until `shutdown`.
pub async fn run_worker(state: AppState, shutdown: CancellationToken) -> anyhow::Result<()> {
    let opts = WorkerOptions {
        concurrency: state.config.worker_concurrency,
        shutdown_grace: Duration::from_secs(state.config.shutdown_grace_secs),
        ..WorkerOptions::default()
    };
    let worker_id = opts.worker_id.clone();
    let payout_worker_id = format!("{worker_id}-payouts");
    let worker = Arc::new(Worker::new(
        state.pool.clone(),
        registry(&state),
        state.clock.clone(),
        opts,
    ));
    let runner = tokio::spawn(Arc::clone(&worker).run(shutdown.clone()));
    let sealer = tokio::spawn(audit_sealer(state.pool.clone(), state.clock.clone(), shutdown.clone()));
    let beats = tokio::spawn(heartbeat(
        state.pool.clone(),
        state.clock.clone(),
        worker_id,
        shutdown.clone(),
    ));
    let scheduler = tokio::spawn(jobs::housekeeping::schedule(
        state.pool.clone(),
        state.clock.clone(),
        shutdown.clone(),
    ));
    let batch_status = tokio::spawn(crate::batches::refresh::schedule(
        state.pool.clone(),
        state.clock.clone(),
        shutdown.clone(),
    ));
    let rollups = tokio::spawn(crate::stats::fold::schedule(
        state.pool.clone(),
        state.clock.clone(),
        shutdown.clone(),
    ));
    let alert_rules = tokio::spawn(crate::alerts::rules::evaluate::schedule(
        state.pool.clone(),
        state.clock.clone(),
        shutdown.clone(),
    ));
    let alert_delivery = tokio::spawn(crate::alerts::delivery::send::schedule(
        state.pool.clone(),
        state.clock.clone(),
        shutdown.clone(),
    ));
    let payouts = crate::disbursement::worker::PayoutWorker::new(
        state.pool.clone(),
        Arc::clone(&state.settings),
        state.clock.clone(),
        payout_worker_id,
    );
    let payouts = tokio::spawn(payouts.run(shutdown.clone(), Duration::from_secs(state.config.shutdown_grace_secs)));
    let reconciliation = tokio::spawn(crate::disbursement::reconcile::daily::schedule(
        state.pool.clone(),
        state.clock.clone(),
        Arc::clone(&state.settings),
        shutdown.clone(),
    ));
    let reports = tokio::spawn(crate::reports::schedule_run::schedule(
        state.pool.clone(),
        state.clock.clone(),
        Arc::clone(&state.settings),
        shutdown.clone(),
    ));
    let report_retention = tokio::spawn(crate::reports::export::job::schedule(
        state.pool.clone(),
        state.clock.clone(),
        shutdown.clone(),
    ));
    let monitor = tokio::spawn(crate::monitor::job::schedule(
        state.pool.clone(),
        state.clock.clone(),
        shutdown.clone(),
    ));
    let maintenance = tokio::spawn(crate::maintenance::schedule::schedule(
        state.pool.clone(),
        state.clock.clone(),
        Arc::clone(&state.settings),
        shutdown.clone(),
    ));
    let audit_retention = tokio::spawn(crate::audit::retention::schedule(
        state.pool.clone(),
        state.clock.clone(),
        shutdown.clone(),
    ));
    let backups = tokio::spawn(crate::backup::jobs::schedule(
        state.pool.clone(),
        state.clock.clone(),
        shutdown.clone(),
    ));
    let _ = tokio::join!(
        maintenance,
        audit_retention,
        backups,
        monitor,
        runner,
        sealer,
        beats,
        scheduler,
        batch_status,
        rollups,
        alert_rules,
        alert_delivery,
        payouts,
        reconciliation,
        reports,
        report_retention
    );
    Ok(())
}

/// Seals audit rows into the hash chain about once a second.
async fn audit_sealer(pool: PgPool, clock: SharedClock, shutdown: CancellationToken) {
    loop {
        match crate::audit::chain::seal_pending(&pool, clock.now(), crate::audit::chain::DEFAULT_SEAL_BATCH).await {
            Ok(n) if n > 0 => tracing::debug!(rows = n, "sealed audit rows"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "audit sealing failed; will retry"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    // seal what was written before stopping
    let _ = crate::audit::chain::seal_pending(&pool, clock.now(), crate::audit::chain::DEFAULT_SEAL_BATCH).await;
}

async fn heartbeat(pool: PgPool, clock: SharedClock, worker_id: String, shutdown: CancellationToken) {
    let started = clock.now();
    let host = crate::jobs::runner_hostname();
    loop {
        let r = sqlx::query(
            "insert into worker_heartbeats (worker_id, hostname, pid, started_at, beat_at) values ($1, $2, $3, $4, $5) \
             on conflict (worker_id) do update set beat_at = excluded.beat_at",
        )
        .bind(&worker_id)
        .bind(&host)
        .bind(std::process::id() as i32)
        .bind(started)
        .bind(clock.now())
        .execute(&pool)
        .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "worker heartbeat failed");
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
    let _ = sqlx::query("delete from worker_heartbeats where worker_id = $1")
        .bind(&worker_id)
        .execute(&pool)
        .await;
}
