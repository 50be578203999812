//! The job queue: run, progress, retry with backoff, dead jobs, dedupe, expired leases, shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mbelyco::clock::{ManualClock, SharedClock};
use mbelyco::jobs::{self, JobContext, JobError, JobHandler, NewJob, Registry, Worker, WorkerOptions};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::TestDb;
use tokio_util::sync::CancellationToken;

struct Count(Arc<AtomicUsize>);

#[async_trait]
impl JobHandler for Count {
    fn kind(&self) -> &'static str {
        "test.count"
    }
    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let n: u64 = ctx.payload::<Value>()?["n"].as_u64().unwrap_or(0);
        for i in 1..=n {
            ctx.progress(i as i64, n as i64, Some("counting")).await?;
        }
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(Some(json!({"counted": n})))
    }
}

struct Flaky;

#[async_trait]
impl JobHandler for Flaky {
    fn kind(&self) -> &'static str {
        "test.flaky"
    }
    async fn run(&self, _ctx: JobContext) -> Result<Option<Value>, JobError> {
        Err(JobError::Retryable(anyhow::anyhow!("upstream unavailable")))
    }
}

struct Slow;

#[async_trait]
impl JobHandler for Slow {
    fn kind(&self) -> &'static str {
        "test.slow"
    }
    async fn run(&self, _ctx: JobContext) -> Result<Option<Value>, JobError> {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(None)
    }
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(crate::helpers::now()))
}

fn worker(pool: &PgPool, clock: SharedClock, id: &str, counter: Arc<AtomicUsize>) -> Worker {
    let registry = Registry::new().register(Count(counter)).register(Flaky).register(Slow);
    let opts = WorkerOptions {
        worker_id: id.into(),
        concurrency: 2,
        lease: Duration::from_secs(30),
        poll_interval: Duration::from_millis(50),
        shutdown_grace: Duration::from_millis(100),
    };
    Worker::new(pool.clone(), registry, clock, opts)
}

async fn enqueue(pool: &PgPool, job: NewJob, clock: &ManualClock) -> Option<i64> {
    let mut conn = pool.acquire().await.unwrap();
    use mbelyco::clock::Clock;
    jobs::enqueue(&mut conn, &job, clock.now()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_reports_progress_and_keeps_its_result() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let c = clock();
    let counter = Arc::new(AtomicUsize::new(0));
    let w = worker(&pool, c.clone(), "w1", counter.clone());
    let id = enqueue(&pool, NewJob::new("test.count", &json!({"n": 4})).unwrap(), &c)
        .await
        .unwrap();
    assert_eq!(w.drain().await.unwrap(), 1);
    assert_eq!(counter.load(Ordering::SeqCst), 1);
    let view = jobs::get(&mut pool.acquire().await.unwrap(), id).await.unwrap();
    assert_eq!(view.status, "succeeded");
    assert_eq!((view.progress_done, view.progress_total), (Some(4), Some(4)));
    assert_eq!(view.percent(), Some(100.0));
    assert_eq!(view.result, Some(json!({"counted": 4})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_back_off_then_die_and_can_be_retried() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let c = clock();
    let w = worker(&pool, c.clone(), "w1", Arc::default());
    let id = enqueue(
        &pool,
        NewJob::new("test.flaky", &json!({})).unwrap().max_attempts(2),
        &c,
    )
    .await
    .unwrap();
    assert_eq!(w.run_once().await.unwrap(), Some(id));
    let v = jobs::get(&mut pool.acquire().await.unwrap(), id).await.unwrap();
    assert_eq!((v.status.as_str(), v.attempts), ("queued", 1));
    assert_eq!(v.last_error.as_deref(), Some("upstream unavailable"));
    // not due before its backoff
    assert_eq!(w.run_once().await.unwrap(), None);
    c.advance(chrono::Duration::seconds(11));
    assert_eq!(w.run_once().await.unwrap(), Some(id));
    let v = jobs::get(&mut pool.acquire().await.unwrap(), id).await.unwrap();
    assert_eq!((v.status.as_str(), v.attempts), ("dead", 2), "kept for inspection");
    assert_eq!(
        jobs::list_dead(&mut pool.acquire().await.unwrap(), 10)
            .await
            .unwrap()
            .len(),
        1
    );

    let mut tx = pool.begin().await.unwrap();
    use mbelyco::clock::Clock;
    let v = jobs::retry(&mut tx, id, &mbelyco::unit::Acting::system(c.now()))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((v.status.as_str(), v.attempts), ("queued", 0));
    let audited: i64 = sqlx::query_scalar("select count(*) from audit_logs where action = 'job.retried'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audited, 1);
    let mut tx = pool.begin().await.unwrap();
    assert!(
        jobs::retry(&mut tx, id, &mbelyco::unit::Acting::system(c.now()))
            .await
            .is_err(),
        "only dead jobs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_key_dedupes_while_queued() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let c = clock();
    let job = || NewJob::new("test.count", &json!({"n": 1})).unwrap().unique("batch-42");
    let first = enqueue(&pool, job(), &c).await;
    assert!(first.is_some());
    assert_eq!(enqueue(&pool, job(), &c).await, None);
    worker(&pool, c.clone(), "w1", Arc::default()).drain().await.unwrap();
    assert!(
        enqueue(&pool, job(), &c).await.is_some(),
        "after it finished, a new one may run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_workers_lease_expires_and_another_worker_resumes() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let c = clock();
    let id = enqueue(&pool, NewJob::new("test.count", &json!({"n": 1})).unwrap(), &c)
        .await
        .unwrap();
    // worker A claims it and "crashes": simulate by claiming directly, never finishing
    sqlx::query("update jobs set status = 'running', attempts = 1, locked_by = 'dead-worker', lease_expires_at = $2 where id = $1")
        .bind(id)
        .bind(crate::helpers::now() + chrono::Duration::seconds(30))
        .execute(&pool)
        .await
        .unwrap();
    let counter = Arc::new(AtomicUsize::new(0));
    let b = worker(&pool, c.clone(), "w2", counter.clone());
    assert_eq!(b.reap_expired().await.unwrap(), 0, "lease still valid");
    assert_eq!(b.run_once().await.unwrap(), None);
    c.advance(chrono::Duration::seconds(31));
    assert_eq!(b.reap_expired().await.unwrap(), 1);
    assert_eq!(b.run_once().await.unwrap(), Some(id));
    assert_eq!(counter.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_releases_what_it_holds() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let c = clock();
    let id = enqueue(&pool, NewJob::new("test.slow", &json!({})).unwrap(), &c)
        .await
        .unwrap();
    let w = Arc::new(worker(&pool, c.clone(), "w1", Arc::default()));
    let stop = CancellationToken::new();
    let handle = tokio::spawn(Arc::clone(&w).run(stop.clone()));
    // wait until it is running
    for _ in 0..100 {
        let v = jobs::get(&mut pool.acquire().await.unwrap(), id).await.unwrap();
        if v.status == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .expect("stops after its grace period")
        .unwrap();
    let v = jobs::get(&mut pool.acquire().await.unwrap(), id).await.unwrap();
    assert_eq!(v.status, "queued", "released, not lost");
    assert_eq!(v.attempts, 0, "the interrupted attempt does not count");
    assert_eq!(v.last_error.as_deref(), Some("interrupted by worker shutdown"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_workers_never_run_a_job_twice() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let c = clock();
    for i in 0..40 {
        enqueue(&pool, NewJob::new("test.count", &json!({"n": 1, "i": i})).unwrap(), &c).await;
    }
    let counter = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for w in 0..4 {
        let wk = worker(&pool, c.clone(), &format!("w{w}"), counter.clone());
        set.spawn(async move { wk.drain().await.unwrap() });
    }
    let mut ran = 0;
    while let Some(n) = set.join_next().await {
        ran += n.unwrap();
    }
    assert_eq!(ran, 40);
    assert_eq!(counter.load(Ordering::SeqCst), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_wakes_on_notify_not_on_its_poll() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let c = clock();
    let counter = Arc::new(AtomicUsize::new(0));
    let registry = Registry::new().register(Count(counter.clone()));
    // a poll interval far longer than the test: only NOTIFY can wake it
    let opts = WorkerOptions {
        worker_id: "sleepy".into(),
        poll_interval: Duration::from_secs(3600),
        ..WorkerOptions::default()
    };
    let w = Arc::new(Worker::new(pool.clone(), registry, c.clone(), opts));
    let stop = CancellationToken::new();
    let handle = tokio::spawn(Arc::clone(&w).run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await; // idle, listening
    enqueue(&pool, NewJob::new("test.count", &json!({"n": 1})).unwrap(), &c).await;
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while counter.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    stop.cancel();
    handle.await.unwrap();
    assert!(waited.is_ok(), "the job ran without waiting for the hour-long poll");
}
