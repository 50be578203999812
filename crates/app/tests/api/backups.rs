//! Database backups (issue #23 item 4): backup → verified restore against both storages (a
//! folder under DATA_DIR and a real S3-compatible server, moto), a changed byte caught by the
//! verification with an alert, a restore by the CLI into another database, the live database
//! refused without --force, and the permission.

use std::process::Stdio;

use mbelyco::backup::{Storage, StorageKind};
use mbelyco::settings::Category;
use serde_json::{json, Value};

use crate::helpers::*;

/// The S3 endpoint of the tests: `MBELYCO_TEST_S3` (scripts/test starts moto and sets it), else
/// a moto server started here from `target/moto-venv` (scripts/test installs it). Never skipped.
pub(crate) fn s3_endpoint() -> (String, Option<std::process::Child>) {
    if let Ok(url) = std::env::var("MBELYCO_TEST_S3") {
        return (url, None);
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let moto = root.join("target/moto-venv/bin/moto_server");
    assert!(
        moto.exists(),
        "the S3 tests need an S3 server: run scripts/test (it installs moto and sets MBELYCO_TEST_S3), or \
         `python3 -m venv target/moto-venv && target/moto-venv/bin/pip install 'moto[server]'`, or set \
         MBELYCO_TEST_S3=http://127.0.0.1:PORT to a running one"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    (format!("http://127.0.0.1:{port}"), Some(child))
}

/// Makes the bucket (moto takes an unsigned request) once the server answers.
pub(crate) async fn make_bucket(endpoint: &str, bucket: &str) {
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if let Ok(res) = client.put(format!("{endpoint}/{bucket}")).send().await {
            assert!(res.status().is_success(), "bucket created: {}", res.status());
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the S3 server at {endpoint} does not answer");
}

/// Backs up through the API as the admin key, runs the job, returns the backup.
async fn back_up(app: &TestApp, key: &str) -> Value {
    let res = app.post_as(key, "/api/v1/admin/backups").await;
    assert_eq!(res.status(), 202);
    let job_id = res.json::<Value>().await.unwrap()["jobId"].as_i64().unwrap();
    app.worker("backup-test").drain().await.unwrap();
    let (status, error): (String, Option<String>) =
        sqlx::query_as("select status::text, last_error from jobs where id = $1")
            .bind(job_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(status, "succeeded", "the backup job: {error:?}");
    let list: Value = app.get_as(key, "/api/v1/admin/backups").await.json().await.unwrap();
    list["data"][0].clone()
}

async fn alert_status(app: &TestApp) -> Option<String> {
    sqlx::query_scalar("select status::text from alerts where kind = 'backup.failed' order by created_at desc limit 1")
        .fetch_optional(&app.pool)
        .await
        .unwrap()
}

fn storage(app: &TestApp, kind: StorageKind) -> Storage {
    let settings = app.state.settings.get();
    Storage::open(kind, &settings.0.backup, &app.state.config.data_dir).unwrap()
}

/// `mbelyco backup …` against the test's database, with the app's DATA_DIR and SECRET_KEY.
fn cli(db: &TestDb, app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mbelyco"))
        .arg("backup")
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("SECRET_KEY", TEST_SECRET_KEY)
        .env("DATA_DIR", &app.state.config.data_dir)
        .env("APP_ENV", "test")
        .env("LOG_LEVEL", "warn")
        .output()
        .unwrap()
}

/// The whole round trip on one storage: backup → listed with counts → verified by a restore →
/// restored by the CLI into another database with the data → one byte flipped in the stored
/// object fails the verification and raises the alert → the next good backup resolves it.
async fn round_trip(db: &TestDb, app: &TestApp, kind: StorageKind) {
    let key = app.api_key("Super Administrator").await;
    app.generated_batch(&key, "Backed up", 40, "gen").await;

    let b = back_up(app, &key).await;
    let id = b["id"].as_str().unwrap().to_owned();
    assert_eq!(b["status"], "succeeded", "{b}");
    assert_eq!(b["storage"], kind.as_str());
    assert_eq!(
        (b["compressed"].clone(), b["encrypted"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(b["counts"]["promo_codes"], 40, "counted in the dump's snapshot: {b}");
    assert!(b["sizeBytes"].as_i64().unwrap() > 1000);
    assert_eq!(b["verifyStatus"], "passed", "{}", b["verifyDetail"]);
    assert_eq!(b["verifyDetail"]["restoredCounts"]["promo_codes"], 40);
    assert_eq!(b["verifyDetail"]["auditChain"]["firstBreak"], Value::Null);
    let audited: Vec<String> = sqlx::query_scalar(
        "select action from audit_logs where entity_type = 'backup' and entity_id = $1 order by created_at",
    )
    .bind(&id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, ["backup.created", "backup.verified"]);

    // the stored object is encrypted: no plain pg_dump header in it
    let object_key = b["objectKey"].as_str().unwrap();
    let stored = storage(app, kind).get_all(object_key).await.unwrap();
    assert!(stored.starts_with(b"MBKUP01\n"));
    assert!(
        !stored.windows(5).any(|w| w == b"PGDMP"),
        "the dump is not in the clear"
    );

    // the download is the stored file, audited
    let res = app.get_as(&key, &format!("/api/v1/admin/backups/{id}/download")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["x-backup-sha256"].to_str().unwrap(),
        b["sha256"].as_str().unwrap()
    );
    assert_eq!(res.bytes().await.unwrap().to_vec(), stored);

    // restore by the CLI into another database
    let other = format!("{}_copy", db.url.rsplit('/').next().unwrap());
    let out = cli(db, app, &["restore", &id, "--into", &other]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let other_url = mbelyco::config::with_database(&db.url, &other).unwrap();
    let copy = mbelyco::db::connect_url(&other_url, 1).await.unwrap();
    let codes: i64 = sqlx::query_scalar("select count(*) from promo_codes")
        .fetch_one(&copy)
        .await
        .unwrap();
    copy.close().await;
    use sqlx::migrate::MigrateDatabase;
    sqlx::Postgres::force_drop_database(&other_url).await.unwrap();
    assert_eq!(codes, 40, "the restored copy has the data");

    // over the live database: refused without --force, saying what it would replace
    let live = db.url.rsplit('/').next().unwrap().to_owned();
    let out = cli(db, app, &["restore", &id, "--into", &live]);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("is the live database") && said.contains("promo_codes"),
        "{said}"
    );
    assert!(
        said.lines()
            .any(|l| l.contains("promo_codes") && l.contains(" 40 rows")),
        "{said}"
    );

    // one byte flipped in the stored object: the verification fails and raises the alert
    let mut flipped = stored.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x01;
    storage(app, kind).put(object_key, flipped).await.unwrap();
    let out = cli(db, app, &["verify", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    let b: Value = app
        .get_as(&key, &format!("/api/v1/admin/backups/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["data"]["verifyStatus"], "failed");
    assert!(
        b["data"]["verifyDetail"]["error"].as_str().unwrap().contains("damaged"),
        "{}",
        b["data"]["verifyDetail"]
    );
    assert_eq!(alert_status(app).await.as_deref(), Some("open"));

    // the next backup, verified, resolves it
    let next = back_up(app, &key).await;
    assert_eq!(next["verifyStatus"], "passed");
    assert_eq!(alert_status(app).await.as_deref(), Some("resolved"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_restore_verify_in_the_data_directory() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    round_trip(&db, &app, StorageKind::Local).await;
    let b: String = sqlx::query_scalar("select object_key from backups order by started_at limit 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        app.state.config.data_dir.join(&b).exists(),
        "stored under DATA_DIR/backups"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_restore_verify_in_s3() {
    let (endpoint, mut moto) = s3_endpoint();
    let bucket = format!("mbelyco-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    make_bucket(&endpoint, &bucket).await;
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.set_settings(
        Category::Backup,
        json!({"storageType": "s3", "s3Endpoint": endpoint, "s3Bucket": bucket, "s3Region": "us-east-1",
               "s3AccessKeyId": "testing", "s3SecretAccessKey": "testing", "s3Prefix": "nightly"}),
    )
    .await;
    round_trip(&db, &app, StorageKind::S3).await;
    // the object is in the bucket under the prefix, as S3 lists it
    let listing = reqwest::get(format!("{endpoint}/{bucket}?list-type=2&prefix=nightly/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(listing.matches("<Key>nightly/").count(), 2, "{listing}");
    if let Some(m) = moto.as_mut() {
        let _ = m.kill();
        let _ = m.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_need_the_backup_permission() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    for role in ["Viewer", "Batch Manager"] {
        let key = app.api_key(role).await;
        assert_eq!(app.get_as(&key, "/api/v1/admin/backups").await.status(), 403, "{role}");
        assert_eq!(app.post_as(&key, "/api/v1/admin/backups").await.status(), 403, "{role}");
    }
    let jobs: i64 = sqlx::query_scalar("select count(*) from jobs where kind = 'backup.create'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 0, "nothing queued by a refused caller");
    let admin = app.api_key("Super Administrator").await;
    assert_eq!(app.get_as(&admin, "/api/v1/admin/backups").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_is_due_per_the_frequency_and_old_ones_expire() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let t = now();
    assert!(mbelyco::backup::create::is_due(None, "daily", t));
    assert!(!mbelyco::backup::create::is_due(
        Some(t - chrono::Duration::hours(2)),
        "daily",
        t
    ));
    assert!(mbelyco::backup::create::is_due(
        Some(t - chrono::Duration::hours(2)),
        "hourly",
        t
    ));
    assert!(!mbelyco::backup::create::is_due(
        Some(t - chrono::Duration::days(6)),
        "weekly",
        t
    ));

    // disabled: the schedule queues nothing
    let run_schedule = || async {
        let mut conn = app.pool.acquire().await.unwrap();
        let job = mbelyco::jobs::NewJob::new(mbelyco::backup::jobs::SCHEDULE, &json!({})).unwrap();
        mbelyco::jobs::enqueue(&mut conn, &job, now()).await.unwrap();
        drop(conn);
        app.worker("schedule-test").drain().await.unwrap();
    };
    // a backup whose job is gone (its worker killed mid-dump) is failed, with the alert
    sqlx::query(
        "insert into backups (id, job_id, started_at, status, storage, object_key, compressed, encrypted) \
         values ($1, -1, $2, 'running', 'local', 'backups/x.dump', true, true)",
    )
    .bind(uuid::Uuid::new_v4())
    .bind(t - chrono::Duration::hours(1))
    .execute(&app.pool)
    .await
    .unwrap();
    run_schedule().await;
    let (status, error): (String, Option<String>) =
        sqlx::query_as("select status, error from backups where job_id = -1")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(status, "failed", "{error:?}");
    assert_eq!(alert_status(&app).await.as_deref(), Some("open"));
    sqlx::query("delete from backups where job_id = -1")
        .execute(&app.pool)
        .await
        .unwrap();
    let count = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from backups where status = 'succeeded'")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    assert_eq!(count().await, 0);
    app.set_settings(
        Category::Backup,
        json!({"databaseBackupEnabled": true, "databaseBackupRetentionDays": 1}),
    )
    .await;
    run_schedule().await;
    assert_eq!(count().await, 1, "due: made (and verified) by the schedule");
    run_schedule().await;
    assert_eq!(count().await, 1, "not due again within the day");

    // two days later: the old one goes… unless it is the newest verified one
    sqlx::query("update backups set started_at = started_at - interval '2 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    run_schedule().await;
    let states: Vec<String> = sqlx::query_scalar("select status::text from backups order by started_at")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        states,
        ["succeeded", "succeeded"],
        "the newest verified is kept while the new one is made"
    );
    sqlx::query("update backups set started_at = started_at - interval '2 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    // the newer of the two is now the newest verified one; the older expires
    run_schedule().await;
    let rows: Vec<(String, String)> =
        sqlx::query_as("select status::text, object_key from backups order by started_at")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(rows[0].0, "expired", "{rows:?}");
    assert!(!app.state.config.data_dir.join(&rows[0].1).exists(), "its file deleted");
    assert!(app.state.config.data_dir.join(&rows[1].1).exists());
}
