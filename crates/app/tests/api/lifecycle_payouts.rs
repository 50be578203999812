//! The payout and redemption state machines against the database: each typed status is exactly
//! the set its CHECK constraint allows, every move the transition tables list is made and
//! recorded, and every move they do not list is refused with nothing written.

use std::collections::BTreeSet;

use chrono::Duration;
use mbelyco::audit::{Action, Actor, AuditEvent};
use mbelyco::disbursement::state::{
    self, AttemptStatus, Change, ClaimDue, Completion, Move, MoveError, PayoutStatus, Release, ReversalStatus, Trigger,
    TRANSITIONS,
};
use mbelyco::redemption::lifecycle::{self, RedemptionStatus};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{now, TestDb};
use crate::payout_fixtures::{batch, payout, status_of, Payout, Spec};

const LEASE: &str = "lifecycle-test";

/// The values a `status in (…)` CHECK constraint allows.
async fn check_values(pool: &PgPool, constraint: &str) -> BTreeSet<String> {
    let def: String = sqlx::query_scalar("select pg_get_constraintdef(oid) from pg_constraint where conname = $1")
        .bind(constraint)
        .fetch_one(pool)
        .await
        .unwrap();
    def.split('\'').skip(1).step_by(2).map(str::to_owned).collect()
}

fn names<'a>(all: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    all.into_iter().map(str::to_owned).collect()
}

#[tokio::test]
async fn each_status_enum_is_its_check_constraint() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    assert_eq!(
        names(PayoutStatus::ALL.iter().map(|s| s.as_str())),
        check_values(pool, "disbursements_status_check").await
    );
    assert_eq!(
        names(AttemptStatus::ALL.iter().map(|s| s.as_str())),
        check_values(pool, "disbursement_attempts_status_check").await
    );
    assert_eq!(
        names(ReversalStatus::ALL.iter().map(|s| s.as_str())),
        check_values(pool, "redemption_reversals_status_check").await
    );
    assert_eq!(
        names(RedemptionStatus::ALL.iter().map(|s| s.as_str())),
        check_values(pool, "redemptions_status_check").await
    );
    // the database's text decodes into each variant, and serde uses the same names
    for s in PayoutStatus::ALL {
        let back: PayoutStatus = sqlx::query_scalar("select $1::text")
            .bind(s.as_str())
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(back, s);
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
    }
    for s in AttemptStatus::ALL {
        let back: AttemptStatus = sqlx::query_scalar("select $1::text")
            .bind(s.as_str())
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(back, s);
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
    }
    for s in ReversalStatus::ALL {
        let back: ReversalStatus = sqlx::query_scalar("select $1::text")
            .bind(s.as_str())
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(back, s);
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
    }
    for s in RedemptionStatus::ALL {
        let back: RedemptionStatus = sqlx::query_scalar("select $1::text")
            .bind(s.as_str())
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(back, s);
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
    }
}

/// A payout in `status`, held by this test's lease and due (so every kind of move can find it).
async fn payout_in(pool: &PgPool, b: Uuid, status: PayoutStatus) -> Payout {
    let p = payout(pool, b, Spec::new("+250788100200", 1000, status.as_str())).await;
    sqlx::query(
        "update disbursements set lease_owner = $2, next_attempt_at = now() - interval '1 minute', \
           updated_at = now() - interval '1 hour' where id = $1",
    )
    .bind(p.id)
    .bind(LEASE)
    .execute(pool)
    .await
    .unwrap();
    p
}

async fn audit_rows(pool: &PgPool, entity: Uuid) -> i64 {
    sqlx::query_scalar("select count(*) from audit_logs where entity_id = $1")
        .bind(entity.to_string())
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The row as a move could change it.
async fn snapshot(pool: &PgPool, id: Uuid) -> serde_json::Value {
    sqlx::query_scalar("select to_jsonb(d) from disbursements d where id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A change that `by` makes into `to` (the columns besides the status).
fn change_for(to: PayoutStatus, by: Trigger, person: Uuid) -> Option<Change<'static>> {
    Some(match by {
        Trigger::Settle => Change::Release(Release {
            to,
            lease_owner: LEASE,
            next: now() + Duration::minutes(1),
            error: Some(("TEST", "a test move")),
            held: None,
            uncount: false,
        }),
        Trigger::Approve => Change::Approve { approver: person },
        Trigger::Reject => Change::Reject {
            code: "rejected",
            message: "a test move",
        },
        Trigger::Retry => Change::Requeue { max_attempts: 4 },
        Trigger::ChangePayee => Change::NewPayee {
            msisdn: "250788100201",
            max_attempts: 4,
        },
        Trigger::Reverse => Change::Close,
        // the claim and the completion have their own statements
        Trigger::Claim | Trigger::Success => return None,
    })
}

fn marker(id: Uuid) -> AuditEvent {
    AuditEvent::new(Actor::System, Action::DisbursementApproved, "disbursement", id).metadata(json!({"test": true}))
}

#[derive(Debug, sqlx::FromRow)]
#[allow(dead_code, reason = "the claim's columns, read whole")]
struct Claimed {
    id: Uuid,
    redemption_id: Uuid,
    msisdn: String,
    amount: i64,
    currency: String,
    attempts: i32,
    max_attempts: i32,
    payee_checked: bool,
    reference_id: Option<Uuid>,
    attempt_status: Option<AttemptStatus>,
    polls: Option<i32>,
}

async fn person(pool: &PgPool, p: &Payout) -> Uuid {
    sqlx::query_scalar("select user_id from redemptions where id = $1")
        .bind(p.redemption_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_payout_move_the_table_lists_is_made_and_recorded() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let b = batch(pool, "lifecycle", 1000).await;
    for &(from, to, by) in TRANSITIONS {
        let p = payout_in(pool, b, from).await;
        let before = audit_rows(pool, p.id).await;
        let mut conn = pool.acquire().await.unwrap();
        match by {
            Trigger::Claim => {
                let due = ClaimDue {
                    from: &[from],
                    lease_owner: LEASE,
                    limit: 1000,
                    now: now(),
                    lease_until: now() + Duration::minutes(5),
                };
                let claimed: Vec<Claimed> = state::claim(pool, due).await.unwrap();
                assert!(claimed.iter().any(|c| c.id == p.id), "{from} → {to} by {by:?}");
                // the claim's history is the lease it takes
                let owner: Option<String> = sqlx::query_scalar("select lease_owner from disbursements where id = $1")
                    .bind(p.id)
                    .fetch_one(pool)
                    .await
                    .unwrap();
                assert_eq!(owner.as_deref(), Some(LEASE));
            }
            Trigger::Success => {
                let reference = crate::payout_fixtures::attempt(pool, p.id, 1, "pending", None, json!({})).await;
                let body = json!({"status": "SUCCESSFUL"});
                let done = state::complete(
                    &mut conn,
                    Completion {
                        id: p.id,
                        reference,
                        financial_transaction_id: Some(&format!("9{}", &p.id.simple().to_string()[..8])),
                        response: &body,
                        now: now(),
                    },
                )
                .await
                .unwrap();
                assert!(done.is_some(), "{from} → {to} by {by:?}");
                // its history: the attempt is resolved, the redemption and the code follow
                let (attempt, redemption, code): (String, String, String) = sqlx::query_as(
                    "select a.status, r.status, c.status from disbursement_attempts a, redemptions r, promo_codes c \
                     where a.reference_id = $1 and r.id = $2 and c.id = $3",
                )
                .bind(reference)
                .bind(p.redemption_id)
                .bind(p.code_id)
                .fetch_one(pool)
                .await
                .unwrap();
                assert_eq!(attempt, "successful");
                assert_eq!(redemption, "completed");
                assert_eq!(code, "redeemed");
            }
            _ => {
                let person = person(pool, &p).await;
                let change = change_for(to, by, person).unwrap();
                let moved = state::transition(
                    &mut conn,
                    Move {
                        id: p.id,
                        from: &[from],
                        change,
                        audit: vec![marker(p.id)],
                        now: now(),
                    },
                )
                .await
                .unwrap();
                assert_eq!(moved.map(|d| d.status), Some(to), "{from} → {to} by {by:?}");
                assert_eq!(audit_rows(pool, p.id).await, before + 1, "{from} → {to} audited");
            }
        }
        drop(conn);
        assert_eq!(status_of(pool, p.id).await, to.as_str(), "{from} → {to} by {by:?}");
    }
}

#[tokio::test]
async fn every_payout_move_the_table_does_not_list_is_refused_and_changes_nothing() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let b = batch(pool, "lifecycle", 1000).await;
    let triggers = [
        Trigger::Settle,
        Trigger::Approve,
        Trigger::Reject,
        Trigger::Retry,
        Trigger::ChangePayee,
        Trigger::Reverse,
    ];
    for from in PayoutStatus::ALL {
        let p = payout_in(pool, b, from).await;
        let person = person(pool, &p).await;
        let row = snapshot(pool, p.id).await;
        let audited = audit_rows(pool, p.id).await;
        for to in PayoutStatus::ALL {
            for by in triggers {
                if state::allowed(from, to, by) {
                    continue;
                }
                let Some(change) = change_for(to, by, person) else {
                    continue;
                };
                if change.to() != to {
                    continue; // this trigger only ever makes one kind of move
                }
                let mut conn = pool.acquire().await.unwrap();
                let refused = state::transition(
                    &mut conn,
                    Move {
                        id: p.id,
                        from: &[from],
                        change,
                        audit: vec![marker(p.id)],
                        now: now(),
                    },
                )
                .await;
                assert!(
                    matches!(refused, Err(MoveError::Forbidden { .. })),
                    "{from} → {to} by {by:?} must be refused: {refused:?}"
                );
            }
        }
        // the claim and the completion refuse too
        if !state::allowed(from, PayoutStatus::Processing, Trigger::Claim) {
            let due = ClaimDue {
                from: &[from],
                lease_owner: LEASE,
                limit: 1000,
                now: now(),
                lease_until: now() + Duration::minutes(5),
            };
            let refused = state::claim::<Claimed>(pool, due).await;
            assert!(matches!(refused, Err(MoveError::Forbidden { .. })), "claim from {from}");
        }
        if !state::allowed(from, PayoutStatus::Completed, Trigger::Success) {
            let reference = crate::payout_fixtures::attempt(pool, p.id, 1, "pending", None, json!({})).await;
            let body = json!({});
            let mut conn = pool.acquire().await.unwrap();
            let done = state::complete(
                &mut conn,
                Completion {
                    id: p.id,
                    reference,
                    financial_transaction_id: Some("1"),
                    response: &body,
                    now: now(),
                },
            )
            .await
            .unwrap();
            assert!(done.is_none(), "completion from {from}");
        }
        assert_eq!(
            snapshot(pool, p.id).await,
            row,
            "nothing changed on a payout that is {from}"
        );
        assert_eq!(audit_rows(pool, p.id).await, audited, "nothing audited for {from}");
    }
}

#[tokio::test]
async fn a_listed_move_of_a_row_that_is_elsewhere_writes_nothing() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let b = batch(pool, "lifecycle", 1000).await;
    // the table allows failed → queued by a retry; the row is queued already
    let p = payout_in(pool, b, PayoutStatus::Queued).await;
    let row = snapshot(pool, p.id).await;
    let mut conn = pool.acquire().await.unwrap();
    let moved = state::transition(
        &mut conn,
        Move {
            id: p.id,
            from: &[PayoutStatus::Failed],
            change: Change::Requeue { max_attempts: 4 },
            audit: vec![marker(p.id)],
            now: now(),
        },
    )
    .await
    .unwrap();
    assert!(moved.is_none());
    // another worker's lease: the worker's release finds nothing to move
    let q = payout_in(pool, b, PayoutStatus::Processing).await;
    let moved = state::transition(
        &mut conn,
        Move {
            id: q.id,
            from: &[PayoutStatus::Processing],
            change: Change::Release(Release {
                to: PayoutStatus::Failed,
                lease_owner: "someone-else",
                next: now(),
                error: None,
                held: None,
                uncount: false,
            }),
            audit: vec![marker(q.id)],
            now: now(),
        },
    )
    .await
    .unwrap();
    assert!(moved.is_none());
    drop(conn);
    assert_eq!(snapshot(pool, p.id).await, row);
    assert_eq!(status_of(pool, q.id).await, "processing");
    assert_eq!(audit_rows(pool, p.id).await, 0);
    assert_eq!(audit_rows(pool, q.id).await, 0);
}

async fn redemption_in(pool: &PgPool, b: Uuid, status: RedemptionStatus) -> Uuid {
    let p = payout(pool, b, Spec::new("+250788100300", 1000, "failed")).await;
    sqlx::query("update redemptions set status = $2 where id = $1")
        .bind(p.redemption_id)
        .bind(status.as_str())
        .execute(pool)
        .await
        .unwrap();
    p.redemption_id
}

async fn redemption_row(pool: &PgPool, id: Uuid) -> serde_json::Value {
    sqlx::query_scalar("select to_jsonb(r) from redemptions r where id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn redemption_marker(id: Uuid) -> AuditEvent {
    AuditEvent::new(Actor::System, Action::RedemptionReversed, "redemption", id).metadata(json!({"test": true}))
}

#[tokio::test]
async fn every_redemption_move_the_table_lists_is_made_and_recorded() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let b = batch(pool, "lifecycle", 1000).await;
    for &(from, to, by) in lifecycle::TRANSITIONS {
        let id = redemption_in(pool, b, from).await;
        let mut conn = pool.acquire().await.unwrap();
        let moved = lifecycle::transition(
            &mut conn,
            lifecycle::Move {
                id,
                from: &[from],
                to,
                by,
                error: (to == RedemptionStatus::Failed).then_some(("TEST", "a test move")),
                audit: vec![redemption_marker(id)],
                now: now(),
            },
        )
        .await
        .unwrap();
        drop(conn);
        assert!(moved, "{from} → {to} by {by:?}");
        let status: String = sqlx::query_scalar("select status from redemptions where id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(status, to.as_str());
        assert_eq!(audit_rows(pool, id).await, 1, "{from} → {to} audited");
    }
}

#[tokio::test]
async fn every_redemption_move_the_table_does_not_list_is_refused_and_changes_nothing() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let b = batch(pool, "lifecycle", 1000).await;
    let triggers = [
        lifecycle::Trigger::Paid,
        lifecycle::Trigger::PayoutFailed,
        lifecycle::Trigger::Requeued,
        lifecycle::Trigger::Reversed,
    ];
    for from in RedemptionStatus::ALL {
        let id = redemption_in(pool, b, from).await;
        let row = redemption_row(pool, id).await;
        for to in RedemptionStatus::ALL {
            for by in triggers {
                if lifecycle::allowed(from, to, by) {
                    continue;
                }
                let mut conn = pool.acquire().await.unwrap();
                let refused = lifecycle::transition(
                    &mut conn,
                    lifecycle::Move {
                        id,
                        from: &[from],
                        to,
                        by,
                        error: None,
                        audit: vec![redemption_marker(id)],
                        now: now(),
                    },
                )
                .await;
                assert!(
                    matches!(refused, Err(lifecycle::MoveError::Forbidden { .. })),
                    "{from} → {to} by {by:?} must be refused: {refused:?}"
                );
            }
        }
        assert_eq!(
            redemption_row(pool, id).await,
            row,
            "nothing changed on a redemption that is {from}"
        );
        assert_eq!(audit_rows(pool, id).await, 0);
    }
}
