//! `mbelyco codes generate|export`: the operator's path to the same rules and records as the web.

use mbelyco::batches::NewBatch;
use mbelyco::codes::cli::{self, Target};

use crate::helpers::{spawn_app, TestDb};

fn new_batch(name: &str, n: i64) -> NewBatch {
    NewBatch {
        name: name.into(),
        description: String::new(),
        total_codes: n,
        amount_per_code: 1500,
        expires_at: "2027-06-30".into(),
        assigned_user_id: None,
        generate: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_generates_tops_up_and_exports_with_a_custody_record() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let id = cli::generate(&app.state, Target::New(new_batch("Script run", 30)), 30)
        .await
        .unwrap();
    // a top-up by name, then one past the batch maximum is refused and adds nothing
    cli::generate(&app.state, Target::Existing("Script run".into()), 7)
        .await
        .unwrap();
    let err = cli::generate(&app.state, Target::Existing(id.to_string()), 2_000_000)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("--count must be"), "{err:#}");
    let serials: (i64, i32, i32) =
        sqlx::query_as("select count(*), min(serial), max(serial) from promo_codes where batch_id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(serials, (37, 1, 37));

    let dir = std::env::temp_dir().join(format!("mbelyco-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let pdf = cli::export(&app.state, "Script run", "pdf", None, None, Some(dir.join("s.pdf")))
        .await
        .unwrap();
    let doc = lopdf::Document::load(&pdf).unwrap();
    assert_eq!(doc.get_pages().len(), 4, "37 codes on ⌈37 ÷ 12⌉ sheets");
    let first = doc.extract_text(&[1]).unwrap();
    assert!(first.contains("Script run") && first.contains("Page 1 of 4"), "{first}");
    let csv = cli::export(
        &app.state,
        &id.to_string(),
        "csv",
        Some(13),
        Some(24),
        Some(dir.join("s.csv")),
    )
    .await
    .unwrap();
    let mut rd = csv::Reader::from_path(&csv).unwrap();
    assert_eq!(
        rd.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "code",
            "serial",
            "batch_number",
            "batch_name",
            "amount",
            "currency",
            "status",
            "created",
            "expires"
        ]
    );
    let serials: Vec<i64> = rd.records().map(|r| r.unwrap()[1].parse().unwrap()).collect();
    assert_eq!(
        serials,
        (13..=24).collect::<Vec<_>>(),
        "the second sheet, in serial order"
    );
    let custody: Vec<(String, Option<i32>, Option<i32>, i32)> = sqlx::query_as(
        "select format, serial_from, serial_to, code_count from code_downloads where batch_id = $1 order by created_at, format desc",
    )
    .bind(id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        custody,
        vec![("pdf".into(), None, None, 37), ("csv".into(), Some(13), Some(24), 12)]
    );
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_logs where action = 'codes.downloaded' and entity_id = $1::text",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 2);
    // an unknown batch is a clear error, not a file
    let err = cli::export(&app.state, "No such batch", "csv", None, None, Some(dir.join("x.csv")))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("batchId"), "{err:#}");
    assert!(!dir.join("x.csv").exists());
    std::fs::remove_dir_all(&dir).ok();
}
