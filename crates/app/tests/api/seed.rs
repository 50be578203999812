//! Start-up seeding: the permission catalogue, the predefined roles, the first administrator.

use mbelyco::access::{self, Permission};
use sqlx::PgPool;

use crate::helpers::{build_state, now, TestDb, ADMIN_EMAIL, ADMIN_PASSWORD};

async fn role_keys(pool: &PgPool, role: &str) -> Vec<String> {
    sqlx::query_scalar(
        "select p.key from roles r join role_permissions rp on rp.role_id = r.id join permissions p on p.id = rp.permission_id \
         where r.name = $1 order by p.key",
    )
    .bind(role)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogue_and_roles_are_seeded_once() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    build_state(&pool).await;
    let n: i64 = sqlx::query_scalar("select count(*) from permissions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n as usize, Permission::ALL.len());
    let roles: Vec<String> = sqlx::query_scalar("select name from roles order by name")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        roles,
        [
            "Batch Manager",
            "Customer",
            "Financial Administrator",
            "Super Administrator",
            "Support Agent",
            "Viewer"
        ]
    );
    assert_eq!(
        role_keys(&pool, "Super Administrator").await.len(),
        Permission::ALL.len()
    );
    assert_eq!(
        role_keys(&pool, "Viewer").await,
        [
            "alerts.read",
            "batches.read",
            "promo-codes.read",
            "redemptions.read",
            "reports.read"
        ]
    );
    assert!(role_keys(&pool, "Customer").await.is_empty());
    let fin = role_keys(&pool, "Financial Administrator").await;
    assert!(fin.contains(&"disbursements.reconcile".to_owned()) && !fin.contains(&"batches.create".to_owned()));

    // a Super Admin's edit survives the next start-up
    sqlx::query(
        "delete from role_permissions where role_id = (select id from roles where name = 'Viewer') \
                 and permission_id = (select id from permissions where key = 'reports.read')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let audits_before: i64 = sqlx::query_scalar("select count(*) from audit_logs")
        .fetch_one(&pool)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    let report = access::seed(&mut tx, now()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(report, access::SeedReport::default(), "nothing to do the second time");
    assert!(!role_keys(&pool, "Viewer").await.contains(&"reports.read".to_owned()));
    let audits_after: i64 = sqlx::query_scalar("select count(*) from audit_logs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audits_before, audits_after, "a no-op seed writes no audit row");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_super_admin_is_created_once_and_audited() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    build_state(&pool).await;
    build_state(&pool).await;
    let admins: Vec<(String, String)> = sqlx::query_as(
        "select u.email::text, u.password_hash from users u join user_role_assignments a on a.user_id = u.id \
         join roles r on r.id = a.role_id where r.name = 'Super Administrator'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(admins.len(), 1);
    assert_eq!(admins[0].0, ADMIN_EMAIL);
    assert!(admins[0].1.starts_with("$argon2id$"));
    assert!(mbelyco::identity::password::verify(
        &ADMIN_PASSWORD.to_owned().into(),
        &admins[0].1
    ));
    let actions: Vec<String> =
        sqlx::query_scalar("select action from audit_logs where entity_type = 'user' order by seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(actions, ["user.created", "user.role_assigned", "system.bootstrapped"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn financial_rows_cannot_be_deleted_under_their_dependants() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    build_state(&pool).await;
    let t = now();
    let batch: uuid::Uuid = sqlx::query_scalar(
        "insert into batches (name, total_codes, amount_per_code, expiration_date, created_at, updated_at) \
         values ('Rainy season', 1, 1000, $1 + interval '30 days', $1, $1) returning id",
    )
    .bind(t)
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into promo_codes (code, batch_id, serial, amount, created_at) values ('ABCD-EF26-GH11-JK25', $1, 1, 1000, $2)",
    )
    .bind(batch)
    .bind(t)
    .execute(&pool)
    .await
    .unwrap();
    let err = sqlx::query("delete from batches where id = $1")
        .bind(batch)
        .execute(&pool)
        .await
        .unwrap_err();
    assert_eq!(
        mbelyco::error::violated_constraint(&err),
        Some("promo_codes_batch_id_fkey")
    );
    // a code for a batch that does not exist is refused by the same name
    let orphan = sqlx::query(
        "insert into promo_codes (code, batch_id, serial, amount, created_at) values ('ABCD-EF26-GH11-JK26', $1, 1, 1000, $2)",
    )
    .bind(uuid::Uuid::new_v4())
    .bind(t)
    .execute(&pool)
    .await
    .unwrap_err();
    assert_eq!(
        mbelyco::error::violated_constraint(&orphan),
        Some("promo_codes_batch_id_fkey")
    );
    // nor can a code move to another batch
    let moved = sqlx::query("update promo_codes set batch_id = $1")
        .bind(uuid::Uuid::new_v4())
        .execute(&pool)
        .await
        .unwrap_err();
    assert_eq!(
        mbelyco::error::violated_constraint(&moved),
        Some("promo_codes_batch_id_fkey")
    );
    // a duplicate code is refused by name, and money is never a float
    let dup = sqlx::query("insert into promo_codes (code, batch_id, serial, amount, created_at) values ('ABCD-EF26-GH11-JK25', $1, 2, 1000, $2)")
        .bind(batch)
        .bind(t)
        .execute(&pool)
        .await
        .unwrap_err();
    assert_eq!(mbelyco::error::violated_constraint(&dup), Some("promo_codes_code_key"));
    let bad_status = sqlx::query("update promo_codes set status = 'paid'")
        .execute(&pool)
        .await
        .unwrap_err();
    assert_eq!(
        mbelyco::error::violated_constraint(&bad_status),
        Some("promo_codes_status_check")
    );
    let money_types: Vec<String> = sqlx::query_scalar(
        "select data_type from information_schema.columns where table_schema = 'public' \
         and column_name in ('amount', 'amount_per_code') group by data_type",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(money_types, ["bigint"]);
}
