//! Audit retention (issue #23 item 3): monthly partitions; a month past
//! `security.audit.retentionDays` is archived with its chain fields (a file that verifies offline)
//! and dropped, and `audit verify` still passes on what remains — on a clock eight years ahead.

use chrono::Duration;
use mbelyco::audit::{self, chain, retention, Action, Actor, AuditEvent};
use serde_json::json;
use sqlx::PgPool;

use crate::audit_viewer::verify_file;
use crate::helpers::{now, spawn_app, TestDb};

async fn write(pool: &PgPool, what: &str, n: usize, at: chrono::DateTime<chrono::Utc>) {
    for i in 0..n {
        let mut tx = pool.begin().await.unwrap();
        let e = AuditEvent::new(Actor::System, Action::BatchCreated, "batch", format!("{what}-{i}"))
            .after(json!({"n": i, "what": what}));
        audit::record(&mut tx, &e, at).await.unwrap();
        tx.commit().await.unwrap();
    }
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_past_retention_is_archived_and_dropped_and_the_chain_still_verifies() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let app = spawn_app(pool.clone()).await;
    let t0 = now();
    let this_month = retention::Month::of(t0).name();
    let folder = tempfile_dir();

    // rows are written into this month's partition
    write(&pool, "old", 25, t0).await;
    let part: String = sqlx::query_scalar("select tableoid::regclass::text from audit_logs where entity_id = 'old-0'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(part, this_month);

    // the hourly job is registered and, at today's date, archives nothing
    {
        let mut conn = pool.acquire().await.unwrap();
        let job = mbelyco::jobs::NewJob::new(retention::KIND, &json!({})).unwrap();
        mbelyco::jobs::enqueue(&mut conn, &job, t0).await.unwrap();
    }
    app.worker("w-retention").drain().await.unwrap();
    assert_eq!(count(&pool, "select count(*) from audit_archives").await, 0);
    let status: String = sqlx::query_scalar("select status from jobs where kind = 'audit.retention'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "succeeded");

    // eight years later
    let later = t0 + Duration::days(8 * 365 + 2);
    assert!(retention::ensure_partitions(&pool, later).await.unwrap().is_empty());

    // rows still waiting to be sealed hold their month back
    let done = retention::run(&pool, &folder, None, 2557, later).await.unwrap();
    assert!(
        done.iter().all(|a| a.partition != this_month),
        "a month with unsealed rows is not archived: {done:?}"
    );
    assert_eq!(
        count(&pool, "select count(*) from audit_logs where entity_id like 'old-%'").await,
        25
    );

    chain::seal_pending(&pool, later, chain::DEFAULT_SEAL_BATCH)
        .await
        .unwrap();
    let before: i64 = sqlx::query_scalar("select count(*) from audit_logs where tableoid = $1::regclass")
        .bind(&this_month)
        .fetch_one(&pool)
        .await
        .unwrap();
    let done = retention::run(&pool, &folder, None, 2557, later).await.unwrap();
    let archived = done
        .iter()
        .find(|a| a.partition == this_month)
        .unwrap_or_else(|| panic!("this month is archived: {done:?}"));
    assert_eq!(archived.rows, before);
    assert!(archived.rows >= 25);

    // gone from the database, the partition too
    assert_eq!(
        count(&pool, "select count(*) from audit_logs where entity_id like 'old-%'").await,
        0
    );
    let exists: Option<String> = sqlx::query_scalar("select to_regclass($1)::text")
        .bind(&this_month)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(exists, None, "the partition is dropped");

    // the archive: recorded, the right size and hash, and it verifies offline
    let (file, size, sha): (String, i64, String) =
        sqlx::query_as("select file_path, size_bytes, sha256 from audit_archives where partition_name = $1")
            .bind(&this_month)
            .fetch_one(&pool)
            .await
            .unwrap();
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(bytes.len() as i64, size);
    use sha2::Digest;
    assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), sha);
    let (ok, out) = verify_file(std::path::Path::new(&file));
    assert!(ok, "{out}");
    assert!(out.contains(&format!("OK: {} rows", archived.rows)), "{out}");
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_logs where action = 'audit.archived' and after->>'partition' = $1",
    )
    .bind(&this_month)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audited, 1, "the archiving is audited");

    // the chain still verifies: archived positions checked by their links
    chain::seal_pending(&pool, later, chain::DEFAULT_SEAL_BATCH)
        .await
        .unwrap();
    let r = chain::verify(&pool).await.unwrap();
    assert!(r.is_intact(), "{:?}", r.first_break);
    assert_eq!(r.archived as i64, archived.rows);

    // and new rows chain on
    write(&pool, "new", 5, later).await;
    chain::seal_pending(&pool, later, chain::DEFAULT_SEAL_BATCH)
        .await
        .unwrap();
    let r = chain::verify(&pool).await.unwrap();
    assert!(r.is_intact(), "{:?}", r.first_break);

    // a row deleted after the archived ones is still found
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("set local session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("delete from audit_logs where entity_id = 'new-2'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let b = chain::verify(&pool)
        .await
        .unwrap()
        .first_break
        .expect("the deletion is found");
    assert!(b.reason.contains("missing"), "{}", b.reason);
}

/// A folder of its own under the system's temporary directory.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mbelyco-audit-archive-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_backups_in_s3_the_archive_is_copied_to_the_bucket_before_the_month_is_dropped() {
    let (endpoint, mut moto) = crate::backups::s3_endpoint();
    let bucket = format!("mbelyco-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    crate::backups::make_bucket(&endpoint, &bucket).await;
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let t0 = now();
    let this_month = retention::Month::of(t0).name();
    write(&pool, "old", 10, t0).await;
    chain::seal_pending(&pool, t0, chain::DEFAULT_SEAL_BATCH).await.unwrap();

    let settings = mbelyco::settings::model::BackupSettings {
        storage_type: "s3".into(),
        s3_endpoint: endpoint.clone(),
        s3_bucket: bucket.clone(),
        s3_region: "us-east-1".into(),
        s3_access_key_id: "test".into(),
        s3_secret_access_key: mbelyco::settings::Secret(Some(secrecy::SecretString::from("test".to_owned()))),
        s3_prefix: "vault".into(),
        ..Default::default()
    };
    let folder = tempfile_dir();
    let offsite = retention::Offsite::of(&settings, &folder).unwrap().expect("S3 chosen");
    let later = t0 + Duration::days(8 * 365 + 2);
    let done = retention::run(&pool, &folder, Some(&offsite), 2557, later)
        .await
        .unwrap();
    let archived = done.iter().find(|a| a.partition == this_month).expect("archived");
    let key = format!("vault/audit-archive/{this_month}.jsonl.gz");
    assert_eq!(archived.file, format!("s3://{bucket}/{key}"));
    let stored = offsite.storage.get_all(&key).await.unwrap();
    let local = std::fs::read(folder.join(format!("{this_month}.jsonl.gz"))).unwrap();
    assert_eq!(stored, local, "the bucket holds the verified archive");
    use sha2::Digest;
    assert_eq!(hex::encode(sha2::Sha256::digest(&stored)), archived.sha256);
    assert!(chain::verify(&pool).await.unwrap().is_intact());
    if let Some(m) = moto.as_mut() {
        let _ = m.kill();
    }
}
