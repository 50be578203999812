//! The code and batch state machines against the database: their statuses are exactly the CHECK
//! constraints', every move of their tables succeeds and leaves its history and audit rows, every
//! other move is refused and changes nothing, and batch expiry leaves one event row per code.

use std::collections::BTreeSet;

use chrono::Duration;
use mbelyco::audit::Action;
use mbelyco::batches::lifecycle::{self as batch_life, BatchStatus};
use mbelyco::codes::lifecycle::{self as code_life, Cause, CodeStatus};
use mbelyco::sql::{Binder, Params};
use mbelyco::unit::Acting;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{now, TestDb};

/// The quoted values of a CHECK constraint (`status = any (array['a'::text, …])`).
async fn check_values(pool: &PgPool, constraint: &str) -> BTreeSet<String> {
    let def: String = sqlx::query_scalar("select pg_get_constraintdef(oid) from pg_constraint where conname = $1")
        .bind(constraint)
        .fetch_one(pool)
        .await
        .unwrap();
    def.split('\'').skip(1).step_by(2).map(str::to_owned).collect()
}

#[tokio::test]
async fn the_status_enums_are_the_check_constraints() {
    let db = TestDb::new().await;
    let codes: BTreeSet<String> = CodeStatus::ALL.iter().map(|s| s.as_str().to_owned()).collect();
    assert_eq!(codes.len(), 6);
    assert_eq!(check_values(&db.pool, "promo_codes_status_check").await, codes);
    // the history's from and to columns hold the same statuses
    assert_eq!(check_values(&db.pool, "promo_code_events_status_check").await, codes);
    let batches: BTreeSet<String> = BatchStatus::ALL.iter().map(|s| s.as_str().to_owned()).collect();
    assert_eq!(batches.len(), 4);
    assert_eq!(check_values(&db.pool, "batches_status_check").await, batches);
    // and they decode from the columns
    let id = batch(&db.pool, "Decode", BatchStatus::Active).await;
    let code = code(&db.pool, id, 1, CodeStatus::Reported).await;
    let (b, c): (BatchStatus, CodeStatus) = sqlx::query_as(
        "select b.status, c.status from promo_codes c join batches b on b.id = c.batch_id where c.id = $1",
    )
    .bind(code)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((b, c), (BatchStatus::Active, CodeStatus::Reported));
}

async fn batch(pool: &PgPool, name: &str, status: BatchStatus) -> Uuid {
    sqlx::query_scalar(
        "insert into batches (name, total_codes, amount_per_code, expiration_date, status, created_at, updated_at) \
         values ($1, 100, 1000, $2, $3, $4, $4) returning id",
    )
    .bind(name)
    .bind(now() + Duration::days(30))
    .bind(status.as_str())
    .bind(now())
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn code(pool: &PgPool, batch: Uuid, serial: i32, status: CodeStatus) -> Uuid {
    sqlx::query_scalar(
        "insert into promo_codes (code, batch_id, serial, amount, status, created_at, expires_at) \
         values ($1, $2, $3, 1000, $4, $5, $6) returning id",
    )
    .bind(format!(
        "{:04}-{:04}-{:04}-BBBB",
        serial,
        rand_part(batch),
        (batch.as_u128() / 10_000 % 10_000) as u32
    ))
    .bind(batch)
    .bind(serial)
    .bind(status.as_str())
    .bind(now())
    .bind(now() + Duration::days(30))
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Four digits from the batch id (and four more in the code), so codes of different batches
/// differ: with four alone, two batches of one test shared them once in 10,000 runs.
fn rand_part(batch: Uuid) -> u32 {
    (batch.as_u128() % 10_000) as u32
}

async fn status_of(pool: &PgPool, id: Uuid) -> CodeStatus {
    sqlx::query_scalar("select status from promo_codes where id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn events_of(pool: &PgPool, id: Uuid) -> Vec<(CodeStatus, CodeStatus, String)> {
    sqlx::query_as("select from_status, to_status, reason from promo_code_events where promo_code_id = $1 order by at")
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn audits_of(pool: &PgPool, entity: Uuid) -> Vec<String> {
    sqlx::query_scalar("select action from audit_logs where entity_id = $1 order by seq")
        .bind(entity.to_string())
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Every pair of code statuses, for `cause`, with whether the table allows it.
fn pairs(cause: Cause) -> Vec<(CodeStatus, CodeStatus, bool)> {
    let mut out = Vec::new();
    for from in CodeStatus::ALL {
        for to in CodeStatus::ALL {
            if from != to {
                out.push((from, to, code_life::allows(from, to, cause)));
            }
        }
    }
    out
}

#[tokio::test]
async fn staff_moves_follow_the_code_table() {
    let db = TestDb::new().await;
    let b = batch(&db.pool, "Staff moves", BatchStatus::Active).await;
    let acting = Acting::system(now());
    let mut serial = 0;
    let mut allowed = 0;
    for (from, to, ok) in pairs(Cause::Staff) {
        serial += 1;
        let id = code(&db.pool, b, serial, from).await;
        let mut tx = db.pool.begin().await.unwrap();
        let m = code_life::Move {
            code_id: id,
            to,
            cause: Cause::Staff,
            reason: "walking the table",
            action: Action::CodeStatusChanged,
        };
        let out = code_life::change(&mut tx, &m, &acting).await.unwrap();
        tx.commit().await.unwrap();
        if ok {
            allowed += 1;
            assert!(
                matches!(out, Ok(code_life::Changed::Moved { from: f, .. }) if f == from),
                "{from} → {to}: {out:?}"
            );
            assert_eq!(status_of(&db.pool, id).await, to);
            assert_eq!(
                events_of(&db.pool, id).await,
                [(from, to, "walking the table".to_owned())]
            );
            assert_eq!(audits_of(&db.pool, id).await, ["code.status_changed"]);
        } else {
            assert_eq!(
                out,
                Err(code_life::Refused::Forbidden { from, to }),
                "{from} → {to} is refused"
            );
            assert_eq!(status_of(&db.pool, id).await, from, "{from} → {to} changes nothing");
            assert!(events_of(&db.pool, id).await.is_empty());
            assert!(audits_of(&db.pool, id).await.is_empty());
        }
    }
    assert_eq!(allowed, 5, "block, unblock, report, activate a report, block a report");
}

#[tokio::test]
async fn bulk_moves_follow_the_code_table() {
    let db = TestDb::new().await;
    let b = batch(&db.pool, "Bulk moves", BatchStatus::Active).await;
    let acting = Acting::system(now());
    for (i, s) in CodeStatus::ALL.iter().enumerate() {
        code(&db.pool, b, i as i32 + 1, *s).await;
    }
    let select = |qb: &mut sqlx::QueryBuilder<'_, sqlx::Postgres>| {
        qb.push(" and c.batch_id = ").push_bind(b);
    };
    let audit = |changed: i64| acting.audit(Action::CodesBulkStatusChanged, "promo_codes", changed);
    // a move the table does not have is refused before anything is written
    let mut tx = db.pool.begin().await.unwrap();
    let every = CodeStatus::ALL;
    let m = code_life::BulkMove {
        to: CodeStatus::Blocked,
        from: &every,
        reason: "everything",
        operation_id: Uuid::new_v4(),
    };
    assert!(code_life::change_selected(&mut tx, select, &m, &acting, audit)
        .await
        .is_err());
    drop(tx);
    let events: i64 = sqlx::query_scalar("select count(*) from promo_code_events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(events, 0);
    // the table's sources move, one event each, one audit row for the operation
    let from = code_life::sources(CodeStatus::Blocked, Cause::Staff);
    let op = Uuid::new_v4();
    let m = code_life::BulkMove {
        to: CodeStatus::Blocked,
        from: &from,
        reason: "lost sheet",
        operation_id: op,
    };
    let mut tx = db.pool.begin().await.unwrap();
    let changed = code_life::change_selected(&mut tx, select, &m, &acting, audit)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(changed, 2, "the active and the reported code");
    let moved: Vec<(CodeStatus, CodeStatus)> = sqlx::query_as(
        "select from_status, to_status from promo_code_events where operation_id = $1 order by from_status",
    )
    .bind(op)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        moved,
        [
            (CodeStatus::Active, CodeStatus::Blocked),
            (CodeStatus::Reported, CodeStatus::Blocked)
        ]
    );
    let statuses: Vec<CodeStatus> =
        sqlx::query_scalar("select status from promo_codes where batch_id = $1 order by serial")
            .bind(b)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    use CodeStatus::*;
    assert_eq!(statuses, [Blocked, Used, Expired, Redeemed, Blocked, Blocked]);
    let bulk: i64 = sqlx::query_scalar("select count(*) from audit_logs where action = 'codes.bulk_status_changed'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(bulk, 1);
}

#[tokio::test]
async fn reversal_payout_and_redemption_moves_follow_the_code_table() {
    let db = TestDb::new().await;
    let b = batch(&db.pool, "System moves", BatchStatus::Active).await;
    let acting = Acting::system(now());
    let mut serial = 0;
    for from in CodeStatus::ALL {
        // a reversal blocks a used code, leaves a blocked one, refuses the rest
        serial += 1;
        let id = code(&db.pool, b, serial, from).await;
        let reversal = Uuid::new_v4();
        let r = code_life::ReversalBlock {
            code_id: id,
            from,
            reversal_id: reversal,
            redemption_id: Uuid::new_v4(),
            reason: "Redemption reversed: test",
        };
        let mut audit = Vec::new();
        let mut tx = db.pool.begin().await.unwrap();
        let out = code_life::block_reversed(&mut tx, &r, &acting, &mut audit).await;
        tx.commit().await.unwrap();
        let ok = code_life::allows(from, CodeStatus::Blocked, Cause::ReversalApproved);
        match from {
            _ if ok => {
                assert!(matches!(out, Ok(true)));
                assert_eq!(status_of(&db.pool, id).await, CodeStatus::Blocked);
                assert_eq!(events_of(&db.pool, id).await.len(), 1);
                assert_eq!(audit.len(), 1);
                assert_eq!(audit[0].action, Action::CodeStatusChanged);
            }
            CodeStatus::Blocked => assert!(matches!(out, Ok(false)) && audit.is_empty()),
            _ => {
                assert!(out.is_err(), "{from} → blocked by a reversal is refused");
                assert_eq!(status_of(&db.pool, id).await, from);
                assert!(events_of(&db.pool, id).await.is_empty() && audit.is_empty());
            }
        }

        // a payout redeems only a used code
        serial += 1;
        let id = code(&db.pool, b, serial, from).await;
        let moved = code_life::mark_paid(&mut db.pool.acquire().await.unwrap(), id, now())
            .await
            .unwrap();
        assert_eq!(
            moved,
            code_life::allows(from, CodeStatus::Redeemed, Cause::PayoutSucceeded)
        );
        let expect = if moved { CodeStatus::Redeemed } else { from };
        assert_eq!(status_of(&db.pool, id).await, expect);

        // the same as the payout's statement fragment
        serial += 1;
        let id = code(&db.pool, b, serial, from).await;
        let mut p = Params::new();
        let (own, [code_id]) = p.take::<1>();
        let paid = code_life::PaidSql::new(&mut p, "paid", "src");
        let sql = format!(
            "with src as (select {code_id}::uuid as promo_code_id), {} select count(*) from src",
            paid.item
        );
        let q = Binder::new(sqlx::query_scalar::<_, i64>(&sql)).at(own, |q| q.bind(id));
        paid.bind(q, now()).finish(p.count()).fetch_one(&db.pool).await.unwrap();
        assert_eq!(status_of(&db.pool, id).await, expect);

        // the redemption's fragment takes only an active code
        serial += 1;
        let id = code(&db.pool, b, serial, from).await;
        let mut p = Params::new();
        let (own, [code_id]) = p.take::<1>();
        let take = code_life::TakeSql::new(&mut p, "c");
        let sql = format!(
            "update promo_codes c set {} where c.id = {code_id} and {}",
            take.set, take.guard
        );
        let q = Binder::new(sqlx::query(&sql)).at(own, |q| q.bind(id));
        let taken = take.bind(q, now()).finish(p.count()).execute(&db.pool).await.unwrap();
        let allowed = code_life::allows(from, CodeStatus::Used, Cause::Redemption);
        assert_eq!(taken.rows_affected() == 1, allowed, "{from} → used");
        assert_eq!(
            status_of(&db.pool, id).await,
            if allowed { CodeStatus::Used } else { from }
        );
    }
}

#[tokio::test]
async fn batch_expiry_leaves_an_event_row_per_expired_code() {
    let db = TestDb::new().await;
    // by the refresh: the expiry date has passed
    let b = batch(&db.pool, "Lapsing", BatchStatus::Active).await;
    let mut ids = Vec::new();
    for (i, s) in CodeStatus::ALL.iter().enumerate() {
        ids.push((code(&db.pool, b, i as i32 + 1, *s).await, *s));
    }
    ids.push((code(&db.pool, b, 7, CodeStatus::Active).await, CodeStatus::Active));
    sqlx::query("update batches set expiration_date = $2 where id = $1")
        .bind(b)
        .bind(now() - Duration::minutes(1))
        .execute(&db.pool)
        .await
        .unwrap();
    let mut conn = db.pool.acquire().await.unwrap();
    let change = mbelyco::batches::refresh_status(&mut conn, b, now(), &Default::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (change.from, change.to, change.codes_expired),
        (BatchStatus::Active, BatchStatus::Expired, 2)
    );
    for (id, was) in &ids {
        let events = events_of(&db.pool, *id).await;
        if *was == CodeStatus::Active {
            assert_eq!(status_of(&db.pool, *id).await, CodeStatus::Expired);
            assert_eq!(events.len(), 1);
            assert_eq!((events[0].0, events[0].1), (CodeStatus::Active, CodeStatus::Expired));
        } else {
            assert_eq!(status_of(&db.pool, *id).await, *was);
            assert!(events.is_empty());
        }
    }
    let ops: i64 = sqlx::query_scalar("select count(distinct operation_id) from promo_code_events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(ops, 1, "one operation for the statement");

    // by hand: the same, the active codes only
    let b = batch(&db.pool, "Set expired", BatchStatus::Blocked).await;
    let active = code(&db.pool, b, 1, CodeStatus::Active).await;
    let blocked = code(&db.pool, b, 2, CodeStatus::Blocked).await;
    let mut tx = db.pool.begin().await.unwrap();
    let after = batch_life::set_by_staff(&mut tx, b, BatchStatus::Expired, &Acting::system(now()))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(after.status, BatchStatus::Expired);
    assert_eq!(events_of(&db.pool, active).await.len(), 1);
    assert!(events_of(&db.pool, blocked).await.is_empty());
}

#[tokio::test]
async fn staff_moves_follow_the_batch_table() {
    let db = TestDb::new().await;
    let acting = Acting::system(now());
    let mut n = 0;
    let mut allowed = 0;
    for from in BatchStatus::ALL {
        for to in BatchStatus::ALL {
            if from == to {
                continue;
            }
            n += 1;
            let b = batch(&db.pool, &format!("Walk {n}"), from).await;
            let mut tx = db.pool.begin().await.unwrap();
            let out = batch_life::set_by_staff(&mut tx, b, to, &acting).await;
            tx.commit().await.unwrap();
            let now_status: BatchStatus = sqlx::query_scalar("select status from batches where id = $1")
                .bind(b)
                .fetch_one(&db.pool)
                .await
                .unwrap();
            if batch_life::allows(from, to, batch_life::Cause::Staff) {
                allowed += 1;
                assert!(out.is_ok(), "{from} → {to}: {out:?}");
                assert_eq!(now_status, to);
                assert_eq!(audits_of(&db.pool, b).await, ["batch.status_changed"]);
            } else {
                assert!(out.is_err(), "{from} → {to} is refused");
                assert_eq!(now_status, from, "{from} → {to} changes nothing");
                assert!(audits_of(&db.pool, b).await.is_empty());
            }
        }
    }
    assert_eq!(allowed, 9);
    // the automatic moves start only from open batches
    for cause in [batch_life::Cause::ExpiryPassed, batch_life::Cause::NothingLeft] {
        for to in BatchStatus::ALL {
            for from in batch_life::sources(to, cause) {
                assert!([BatchStatus::Active, BatchStatus::Blocked].contains(&from));
            }
        }
    }
}
