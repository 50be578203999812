//! The state machines of identity, access and jobs: each status enum is the database's CHECK
//! constraint's set, and the role change request moves only as its table allows.

use std::collections::BTreeSet;

use mbelyco::access::roles::{self, Change, Decision, RequestStatus, RoleChange};
use mbelyco::audit::Actor;
use mbelyco::error::AppError;
use mbelyco::identity::registrations::ApprovalStatus;
use mbelyco::jobs::JobStatus;
use mbelyco::unit::Acting;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{now, spawn_app, TestDb, ADMIN_EMAIL};

/// The quoted values of a CHECK constraint (`status in ('a', 'b')`).
async fn constraint_values(pool: &PgPool, name: &str) -> BTreeSet<String> {
    let def: String = sqlx::query_scalar("select pg_get_constraintdef(oid) from pg_constraint where conname = $1")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap();
    def.split('\'').skip(1).step_by(2).map(str::to_owned).collect()
}

/// `names` are the CHECK constraint's set, and each decodes (sqlx) to the variant of that name.
async fn matches_constraint<T>(pool: &PgPool, constraint: &str, names: &[(T, &str)])
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + PartialEq + std::fmt::Debug + Copy,
    T: Send + Unpin,
{
    let ours: BTreeSet<String> = names.iter().map(|(_, n)| (*n).to_owned()).collect();
    assert_eq!(ours, constraint_values(pool, constraint).await, "{constraint}");
    for (variant, name) in names {
        let decoded: T = sqlx::query_scalar("select $1::text")
            .bind(*name)
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(decoded, *variant, "{constraint}: {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_status_enum_is_its_check_constraint() {
    let db = TestDb::new().await;
    let jobs: Vec<_> = JobStatus::ALL.iter().map(|s| (*s, s.as_str())).collect();
    matches_constraint(&db.pool, "jobs_status_check", &jobs).await;
    let approvals: Vec<_> = ApprovalStatus::ALL.iter().map(|s| (*s, s.as_str())).collect();
    matches_constraint(&db.pool, "users_approval_status_check", &approvals).await;
    let requests: Vec<_> = RequestStatus::ALL.iter().map(|s| (*s, s.as_str())).collect();
    matches_constraint(&db.pool, "role_change_requests_status_check", &requests).await;
    let changes = [(Change::Assign, "assign"), (Change::Revoke, "revoke")];
    matches_constraint(&db.pool, "role_change_requests_action_check", &changes).await;
}

fn person(user_id: Uuid) -> Acting {
    Acting::new(
        Actor::User {
            user_id,
            session_id: None,
        },
        Default::default(),
        now(),
    )
}

async fn request_row(pool: &PgPool, id: Uuid) -> (RequestStatus, Option<Uuid>, Option<chrono::DateTime<chrono::Utc>>) {
    sqlx::query_as("select status, decided_by_user_id, decided_at from role_change_requests where id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_request_moves_only_as_its_table_allows() {
    let db = TestDb::new().await;
    let _app = spawn_app(db.pool.clone()).await;
    let pool = &db.pool;
    let admin: Uuid = sqlx::query_scalar("select id from users where email = $1")
        .bind(ADMIN_EMAIL)
        .fetch_one(pool)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    let second = mbelyco::identity::NewStaff {
        email: "second@mbelyco.test",
        full_name: "Second Admin",
        password: None,
        roles: &[mbelyco::access::SUPER_ADMIN],
    };
    let other = mbelyco::identity::create_staff(&mut tx, &second, &Acting::system(now()))
        .await
        .unwrap();
    let viewer = mbelyco::access::role_id(&mut tx, "Viewer").await.unwrap().unwrap();
    let rc = RoleChange {
        user_id: other,
        role_id: viewer,
        change: Change::Assign,
    };
    let out = roles::request(&mut tx, rc, &person(admin)).await.unwrap();
    tx.commit().await.unwrap();
    let roles::Requested::Pending { request_id: id } = out else {
        panic!("two Super Administrators: the change waits for the second ({out:?})");
    };
    assert_eq!(request_row(pool, id).await.0, RequestStatus::Pending);

    // every pair of statuses: the allowed moves happen, the others are refused and change nothing
    for from in RequestStatus::ALL {
        for to in RequestStatus::ALL {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("update role_change_requests set status = $2, decided_by_user_id = null, decided_at = null where id = $1")
                .bind(id)
                .bind(from.as_str())
                .execute(&mut *tx)
                .await
                .unwrap();
            let moved = roles::move_request(&mut tx, id, to, Some(other), now()).await;
            tx.commit().await.unwrap();
            let (status, decided_by, decided_at) = request_row(pool, id).await;
            if from.can_move_to(to) {
                assert_eq!(moved.unwrap(), from, "{from} → {to}");
                assert_eq!((status, decided_by), (to, Some(other)), "{from} → {to}");
                assert!(decided_at.is_some());
            } else {
                assert!(
                    matches!(moved, Err(AppError::Conflict { .. })),
                    "{from} → {to}: {moved:?}"
                );
                assert_eq!(
                    (status, decided_by, decided_at),
                    (from, None, None),
                    "{from} → {to} changed the row"
                );
            }
        }
    }

    // through the use case: approved once, a later rejection is refused and changes nothing
    sqlx::query("update role_change_requests set status = 'pending', decided_by_user_id = null, decided_at = null where id = $1")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    roles::decide(&mut tx, id, Decision::Approve, &person(other))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let approved = request_row(pool, id).await;
    assert_eq!(approved.0, RequestStatus::Approved);
    let audit_rows = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from audit_logs where entity_id = $1")
            .bind(id.to_string())
            .fetch_one(pool)
            .await
            .unwrap()
    };
    let audited = audit_rows().await;
    let mut tx = pool.begin().await.unwrap();
    let again = roles::decide(&mut tx, id, Decision::Reject, &person(other)).await;
    tx.commit().await.unwrap();
    assert!(matches!(again, Err(AppError::Conflict { .. })), "{again:?}");
    assert_eq!(
        request_row(pool, id).await,
        approved,
        "the refused move changed nothing"
    );
    assert_eq!(audit_rows().await, audited, "and audited nothing");
    let holds: bool =
        sqlx::query_scalar("select exists (select 1 from user_role_assignments where user_id = $1 and role_id = $2)")
            .bind(other)
            .bind(viewer)
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(holds, "the approval applied the role");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_retries_only_a_dead_or_cancelled_job() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let job = mbelyco::jobs::NewJob::new("lifecycle.test", &serde_json::json!({})).unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let id = mbelyco::jobs::enqueue(&mut conn, &job, now()).await.unwrap().unwrap();
    drop(conn);
    for from in JobStatus::ALL {
        sqlx::query("update jobs set status = $2, attempts = 1, locked_by = 'w', lease_expires_at = $3 where id = $1")
            .bind(id)
            .bind(from.as_str())
            .bind(now())
            .execute(pool)
            .await
            .unwrap();
        let mut tx = pool.begin().await.unwrap();
        let retried = mbelyco::jobs::retry(&mut tx, id, &Acting::system(now())).await;
        tx.commit().await.unwrap();
        let (status, attempts): (JobStatus, i32) = sqlx::query_as("select status, attempts from jobs where id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
        if matches!(from, JobStatus::Dead | JobStatus::Cancelled) {
            assert!(from.can_move_to(JobStatus::Queued));
            assert_eq!(retried.unwrap().status, JobStatus::Queued, "{from}");
            assert_eq!((status, attempts), (JobStatus::Queued, 0), "{from}");
        } else {
            assert!(matches!(retried, Err(AppError::Conflict { .. })), "{from}: {retried:?}");
            assert_eq!(
                (status, attempts),
                (from, 1),
                "a refused retry of a {from} job changed it"
            );
        }
    }
}
