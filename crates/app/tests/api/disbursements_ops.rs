//! What people do with payouts, through the API: approve or reject a held payout, retry a failed
//! one (single and bulk), change the payee of a `payee_invalid` one, and the two-person reversal
//! of a redemption whose payout failed for good. Each transition and its refusals: the wrong
//! state is a 409, a missing permission a 403, bad input a 422 naming the field — and then
//! nothing changed; every change is audited.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{error_fields, spawn_app, TestApp, TestDb};
use crate::payout_fixtures::{audits, batch, payout, person_with_key, status_of, Spec};

const PHONE: &str = "+250788123456";

async fn body(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let v = res.json().await.unwrap_or(Value::Null);
    (status, v)
}

/// The disbursement row's changeable columns, to show nothing changed.
async fn snapshot(app: &TestApp, id: Uuid) -> Value {
    sqlx::query_scalar(
        "select to_jsonb(d) - 'updated_at' || jsonb_build_object('r', r.status, 'c', c.status) \
         from disbursements d join redemptions r on r.id = d.redemption_id \
         join promo_codes c on c.id = r.promo_code_id where d.id = $1",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_payout_from_ussd_is_approved_once_and_audited() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    // every payout above 500 RWF waits for a Financial Administrator
    app.set_settings(
        mbelyco::settings::Category::Payments,
        json!({"manualApprovalRequired": true, "approvalThreshold": 500}),
    )
    .await;
    let root = app.api_key("Super Administrator").await;
    let batch = app.generated_batch(&root, "Held payouts", 2, "w-held").await;
    let code = app.batch_codes(&batch).await.remove(0);
    app.hop("ATUid_held", PHONE, "").await;
    app.hop("ATUid_held", PHONE, "1").await;
    app.hop("ATUid_held", PHONE, &format!("1*{code}")).await;
    let id: Uuid = sqlx::query_scalar("select id from disbursements")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status_of(&app.pool, id).await, "awaiting_approval");

    let path = format!("/api/v1/admin/disbursements/{id}/approve");
    let before = snapshot(&app, id).await;
    for role in ["Viewer", "Batch Manager", "Support Agent"] {
        let key = app.api_key(role).await;
        assert_eq!(app.post_as(&key, &path).await.status(), 403, "{role}");
    }
    assert_eq!(snapshot(&app, id).await, before, "refused: nothing changed");

    let (fa_user, fa) = person_with_key(&app, "fa@mbelyco.test", "Financial Administrator").await;
    let (status, v) = body(app.post_as(&fa, &path).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["status"], "queued");
    let (approved_by, approved_at, due): (
        Option<Uuid>,
        Option<chrono::DateTime<chrono::Utc>>,
        chrono::DateTime<chrono::Utc>,
    ) = sqlx::query_as("select approved_by_user_id, approved_at, next_attempt_at from disbursements where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(approved_by, Some(fa_user));
    assert!(approved_at.is_some());
    assert!(due <= crate::helpers::now(), "due at once");
    let (actor, before, after): (Option<Uuid>, Value, Value) = sqlx::query_as(
        "select actor_user_id, before, after from audit_logs where action = 'disbursement.approved' and entity_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(actor, Some(fa_user));
    assert_eq!(
        (before["status"].as_str(), after["status"].as_str()),
        (Some("awaiting_approval"), Some("queued"))
    );

    // a second approval is a transition the state machine does not have
    let queued = snapshot(&app, id).await;
    let (status, v) = body(app.post_as(&fa, &path).await).await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(error_fields(&v), ["status"]);
    assert_eq!(snapshot(&app, id).await, queued);
    assert_eq!(audits(&app.pool, "disbursement.approved").await, 1);
    // an unknown payout is a 404
    let res = app
        .post_as(&fa, &format!("/api/v1/admin/disbursements/{}/approve", Uuid::new_v4()))
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_needs_a_reason_fails_the_redemption_and_is_never_retried() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let b = batch(&app.pool, "Reject", 150_000).await;
    let p = payout(&app.pool, b, Spec::new(PHONE, 150_000, "awaiting_approval")).await;
    let (_, fa) = person_with_key(&app, "fa@mbelyco.test", "Financial Administrator").await;
    let path = format!("/api/v1/admin/disbursements/{}/reject", p.id);
    let before = snapshot(&app, p.id).await;
    let (status, v) = body(app.post_json(&fa, &path, &json!({"reason": " "})).await).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(error_fields(&v), ["reason"]);
    let (status, v) = body(app.post_json(&fa, &path, &json!({"reason": "x", "extra": 1})).await).await;
    assert_eq!(status, 422, "unknown fields are named: {v}");
    assert_eq!(snapshot(&app, p.id).await, before);

    let (status, v) = body(
        app.post_json(&fa, &path, &json!({"reason": "Customer is a staff member"}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (d, code, r, r_code): (String, String, String, Option<String>) = sqlx::query_as(
        "select d.status || '/' || d.error_code, c.status, r.status, r.error_code from disbursements d \
         join redemptions r on r.id = d.redemption_id join promo_codes c on c.id = r.promo_code_id where d.id = $1",
    )
    .bind(p.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (d.as_str(), code.as_str(), r.as_str(), r_code.as_deref()),
        ("failed/rejected", "used", "failed", Some("rejected"))
    );
    let reason: String = sqlx::query_scalar(
        "select metadata->>'reason' from audit_logs where action = 'disbursement.rejected' and entity_id = $1",
    )
    .bind(p.id.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(reason, "Customer is a staff member");
    // rejected for good: no retry brings it back
    let retry = format!("/api/v1/admin/disbursements/{}/retry", p.id);
    let (status, v) = body(app.post_json(&fa, &retry, &json!({"reason": "try again"})).await).await;
    assert_eq!(status, 409, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("rejected"), "{v}");
    assert_eq!(status_of(&app.pool, p.id).await, "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_only_takes_a_failed_payout_and_gives_it_a_fresh_budget_from_settings() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.set_settings(mbelyco::settings::Category::Payments, json!({"maxRetryAttempts": 5}))
        .await;
    let b = batch(&app.pool, "Retry", 1000).await;
    let failed = payout(&app.pool, b, Spec::new(PHONE, 1000, "failed")).await;
    let queued = payout(&app.pool, b, Spec::new("+250788000111", 1000, "queued")).await;
    let completed = payout(&app.pool, b, Spec::new("+250788000112", 1000, "completed")).await;
    let (_, fa) = person_with_key(&app, "fa@mbelyco.test", "Financial Administrator").await;
    let support = app.api_key("Support Agent").await;
    let path = |id: Uuid| format!("/api/v1/admin/disbursements/{id}/retry");
    let before = snapshot(&app, failed.id).await;
    assert_eq!(
        app.post_json(&support, &path(failed.id), &json!({"reason": "please"}))
            .await
            .status(),
        403
    );
    let (status, v) = body(app.post_json(&fa, &path(failed.id), &json!({})).await).await;
    assert_eq!((status, error_fields(&v)), (422, vec!["reason"]));
    assert_eq!(snapshot(&app, failed.id).await, before);
    for other in [queued.id, completed.id] {
        let snap = snapshot(&app, other).await;
        let (status, v) = body(
            app.post_json(&fa, &path(other), &json!({"reason": "MoMo is back"}))
                .await,
        )
        .await;
        assert_eq!(status, 409, "{v}");
        assert_eq!(error_fields(&v), ["status"]);
        assert_eq!(snapshot(&app, other).await, snap);
    }

    let (status, v) = body(
        app.post_json(&fa, &path(failed.id), &json!({"reason": "MoMo is back"}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (st, attempts, max, err, r_status, code): (String, i32, i32, Option<String>, String, String) = sqlx::query_as(
        "select d.status, d.attempts, d.max_attempts, d.error_code, r.status, c.status from disbursements d \
         join redemptions r on r.id = d.redemption_id join promo_codes c on c.id = r.promo_code_id where d.id = $1",
    )
    .bind(failed.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (st.as_str(), attempts, max, err, r_status.as_str(), code.as_str()),
        ("queued", 0, 6, None, "pending", "used")
    );
    let n: i64 = sqlx::query_scalar("select count(*) from disbursement_attempts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        n, 0,
        "a retry never makes an attempt (and so never a MoMo reference) itself"
    );
    let (before, meta): (Value, Value) = sqlx::query_as(
        "select before, metadata from audit_logs where action = 'disbursement.retried' and entity_id = $1",
    )
    .bind(failed.id.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(before["errorCode"], "NOT_ENOUGH_FUNDS");
    assert_eq!(meta["reason"], "MoMo is back");
    // the same through the redemptions tree (ACCESS.md: POST /redemptions/{id}/retry)
    let res = app
        .post_json(
            &fa,
            &format!("/api/v1/admin/redemptions/{}/retry", failed.redemption_id),
            &json!({"reason": "again"}),
        )
        .await;
    assert_eq!(res.status(), 409, "it is queued now");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_retry_retries_the_failed_and_reports_the_rest() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let b = batch(&app.pool, "Bulk", 1000).await;
    let f1 = payout(&app.pool, b, Spec::new(PHONE, 1000, "failed")).await;
    let f2 = payout(&app.pool, b, Spec::new("+250788000201", 1000, "failed")).await;
    let done = payout(&app.pool, b, Spec::new("+250788000202", 1000, "completed")).await;
    let (_, fa) = person_with_key(&app, "fa@mbelyco.test", "Financial Administrator").await;
    let path = "/api/v1/admin/disbursements/bulk/retry";
    let (status, v) = body(app.post_json(&fa, path, &json!({"ids": [], "reason": ""})).await).await;
    assert_eq!((status, error_fields(&v)), (422, vec!["ids", "reason"]));
    let (status, v) = body(
        app.post_json(&fa, path, &json!({"ids": [f1.id, f1.id], "reason": "again"}))
            .await,
    )
    .await;
    assert_eq!((status, error_fields(&v)), (422, vec!["ids"]));
    assert_eq!(status_of(&app.pool, f1.id).await, "failed");

    let ghost = Uuid::new_v4();
    let (status, v) = body(
        app.post_json(
            &fa,
            path,
            &json!({"ids": [f1.id, done.id, f2.id, ghost], "reason": "MoMo outage over"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["retried"], 2);
    let outcomes: Vec<(&str, &str)> = v["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["id"].as_str().unwrap(), o["outcome"].as_str().unwrap()))
        .collect();
    let (s1, s2, s3, s4) = (
        f1.id.to_string(),
        done.id.to_string(),
        f2.id.to_string(),
        ghost.to_string(),
    );
    assert_eq!(
        outcomes,
        [
            (s1.as_str(), "retried"),
            (s2.as_str(), "refused"),
            (s3.as_str(), "retried"),
            (s4.as_str(), "not_found")
        ]
    );
    assert_eq!(status_of(&app.pool, f1.id).await, "queued");
    assert_eq!(status_of(&app.pool, f2.id).await, "queued");
    assert_eq!(status_of(&app.pool, done.id).await, "completed");
    let ops: Vec<Option<String>> = sqlx::query_scalar(
        "select metadata->>'operationId' from audit_logs where action = 'disbursement.retried' order by seq",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(ops.len(), 2);
    assert!(
        ops[0].is_some() && ops[0] == ops[1],
        "one operation id for the bulk retry: {ops:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payee_invalid_payout_goes_to_another_mtn_number_the_customer_gave() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let b = batch(&app.pool, "Payee", 1000).await;
    let p = payout(&app.pool, b, Spec::new(PHONE, 1000, "payee_invalid")).await;
    let queued = payout(&app.pool, b, Spec::new("+250788000301", 1000, "queued")).await;
    sqlx::query("update disbursements set payee_checked_at = now() where id = $1")
        .bind(p.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let (_, fa) = person_with_key(&app, "fa@mbelyco.test", "Financial Administrator").await;
    let path = |id: Uuid| format!("/api/v1/admin/disbursements/{id}/payee");
    let before = snapshot(&app, p.id).await;
    let cases = [
        (json!({"msisdn": "07x", "reason": "Called support"}), vec!["msisdn"]),
        (
            json!({"msisdn": "0721234567", "reason": "Called support"}),
            vec!["msisdn"],
        ),
        (json!({"msisdn": "", "reason": ""}), vec!["msisdn", "reason"]),
        (
            json!({"msisdn": "0788123456", "reason": "Called support"}),
            vec!["msisdn"],
        ),
    ];
    for (input, fields) in cases {
        let (status, v) = body(app.put_json(&fa, &path(p.id), &input).await).await;
        assert_eq!(status, 422, "{input}: {v}");
        assert_eq!(error_fields(&v), fields, "{input}");
    }
    assert_eq!(snapshot(&app, p.id).await, before, "refused: nothing changed");
    let (status, v) = body(
        app.put_json(
            &fa,
            &path(queued.id),
            &json!({"msisdn": "0791234567", "reason": "Called support"}),
        )
        .await,
    )
    .await;
    assert_eq!((status, error_fields(&v)), (409, vec!["status"]));

    let (status, v) = body(
        app.put_json(
            &fa,
            &path(p.id),
            &json!({"msisdn": "+250 791 234 567", "reason": "Customer called support"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (st, msisdn, checked): (String, String, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("select status, msisdn, payee_checked_at from disbursements where id = $1")
            .bind(p.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (st.as_str(), msisdn.as_str(), checked),
        ("queued", "250791234567", None)
    );
    let (before, after, meta): (Value, Value, Value) = sqlx::query_as(
        "select before, after, metadata from audit_logs where action = 'disbursement.payee_changed' and entity_id = $1",
    )
    .bind(p.id.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(before["msisdn"], "250788123456");
    assert_eq!(after["msisdn"], "250791234567");
    assert_eq!(meta["reason"], "Customer called support");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reversal_is_asked_by_one_person_and_approved_by_another() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let b = batch(&app.pool, "Reverse", 1000).await;
    let p = payout(&app.pool, b, Spec::new(PHONE, 1000, "failed")).await;
    let paid = payout(&app.pool, b, Spec::new("+250788000401", 1000, "completed")).await;
    let (asker, ann) = person_with_key(&app, "ann@mbelyco.test", "Financial Administrator").await;
    let (decider, bob) = person_with_key(&app, "bob@mbelyco.test", "Financial Administrator").await;
    let r = |id: Uuid, what: &str| format!("/api/v1/admin/redemptions/{id}/reversal{what}");

    // only a payout that failed for good
    let (status, v) = body(
        app.post_json(&ann, &r(paid.redemption_id, ""), &json!({"reason": "mistake"}))
            .await,
    )
    .await;
    assert_eq!((status, error_fields(&v)), (409, vec!["status"]));
    let (status, v) = body(
        app.post_json(&ann, &r(p.redemption_id, ""), &json!({"reason": ""}))
            .await,
    )
    .await;
    assert_eq!((status, error_fields(&v)), (422, vec!["reason"]));
    let viewer = app.api_key("Viewer").await;
    assert_eq!(
        app.post_json(&viewer, &r(p.redemption_id, ""), &json!({"reason": "mistake"}))
            .await
            .status(),
        403
    );

    let (status, v) = body(
        app.post_json(
            &ann,
            &r(p.redemption_id, ""),
            &json!({"reason": "Wallet closed; customer paid in cash"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["data"]["status"], "pending");
    let (status, v) = body(
        app.post_json(&bob, &r(p.redemption_id, ""), &json!({"reason": "again"}))
            .await,
    )
    .await;
    assert_eq!(
        (status, error_fields(&v)),
        (409, vec!["reversal"]),
        "one pending request at a time"
    );
    // while it waits, the payout is neither retried nor given another payee
    let (status, _) = body(
        app.post_json(
            &bob,
            &format!("/api/v1/admin/disbursements/{}/retry", p.id),
            &json!({"reason": "retry"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 409);

    // the person who asked cannot decide
    let before = snapshot(&app, p.id).await;
    for what in ["/approve", "/reject"] {
        let (status, v) = body(
            app.post_json(&ann, &r(p.redemption_id, what), &json!({"note": "self-service"}))
                .await,
        )
        .await;
        assert_eq!(status, 409, "{what}: {v}");
        assert_eq!(error_fields(&v), ["reversal"]);
        assert!(v["detail"].as_str().unwrap().contains("second person"), "{v}");
    }
    assert_eq!(snapshot(&app, p.id).await, before);

    let (status, v) = body(
        app.post_json(
            &bob,
            &r(p.redemption_id, "/approve"),
            &json!({"note": "Cash receipt seen"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["status"], "approved");
    let (d, r_status, code, why): (String, String, String, Value) = sqlx::query_as(
        "select d.status, r.status, c.status, c.metadata from disbursements d join redemptions r on r.id = d.redemption_id \
         join promo_codes c on c.id = r.promo_code_id where d.id = $1",
    )
    .bind(p.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (d.as_str(), r_status.as_str(), code.as_str()),
        ("failed", "reversed", "blocked")
    );
    assert_eq!(why["blockedBecause"], "redemption reversed");
    let (from, to, reason, by): (String, String, String, Option<Uuid>) = sqlx::query_as(
        "select from_status, to_status, reason, actor_user_id from promo_code_events where promo_code_id = $1",
    )
    .bind(p.code_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((from.as_str(), to.as_str(), by), ("used", "blocked", Some(decider)));
    assert!(reason.contains("Wallet closed"), "{reason}");
    let (requested_by, decided_by): (Uuid, Option<Uuid>) =
        sqlx::query_as("select requested_by_user_id, decided_by_user_id from redemption_reversals")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((requested_by, decided_by), (asker, Some(decider)));
    for action in [
        "redemption.reversal_requested",
        "redemption.reversed",
        "code.status_changed",
    ] {
        assert_eq!(audits(&app.pool, action).await, 1, "{action}");
    }
    // reversed for good: no retry, no second reversal
    let (status, _) = body(
        app.post_json(
            &bob,
            &format!("/api/v1/admin/disbursements/{}/retry", p.id),
            &json!({"reason": "retry"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = body(
        app.post_json(&ann, &r(p.redemption_id, ""), &json!({"reason": "again"}))
            .await,
    )
    .await;
    assert_eq!(status, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_reversal_needs_a_note_and_changes_nothing_else() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let b = batch(&app.pool, "Reverse no", 1000).await;
    let p = payout(&app.pool, b, Spec::new(PHONE, 1000, "payee_invalid")).await;
    let (_, ann) = person_with_key(&app, "ann@mbelyco.test", "Financial Administrator").await;
    let (_, bob) = person_with_key(&app, "bob@mbelyco.test", "Financial Administrator").await;
    let r = |what: &str| format!("/api/v1/admin/redemptions/{}/reversal{what}", p.redemption_id);
    let (status, v) = body(app.post_json(&bob, &r("/approve"), &json!({})).await).await;
    assert_eq!(
        (status, error_fields(&v)),
        (409, vec!["reversal"]),
        "nothing to decide yet"
    );
    let (status, _) = body(app.post_json(&ann, &r(""), &json!({"reason": "No other number"})).await).await;
    assert_eq!(status, 201);
    let before = snapshot(&app, p.id).await;
    let (status, v) = body(app.post_json(&bob, &r("/reject"), &json!({})).await).await;
    assert_eq!((status, error_fields(&v)), (422, vec!["note"]));
    let (status, v) = body(
        app.post_json(&bob, &r("/reject"), &json!({"note": "The customer will call back"}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["status"], "rejected");
    assert_eq!(
        snapshot(&app, p.id).await,
        before,
        "payout, redemption and code as they were"
    );
    assert_eq!(audits(&app.pool, "redemption.reversal_rejected").await, 1);
    // and the payee can be changed again now nothing is pending
    let res = app
        .put_json(
            &ann,
            &format!("/api/v1/admin/disbursements/{}/payee", p.id),
            &json!({"msisdn": "0791234567", "reason": "Customer called back"}),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payouts_page_shows_the_readers_open_alerts_and_an_alert_can_be_acknowledged() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let mut tx = app.pool.begin().await.unwrap();
    use mbelyco::access::Permission;
    use mbelyco::alerts::{raise, NewAlert, Severity};
    let financial = NewAlert::new(
        "payout.failed",
        Severity::Critical,
        Permission::FinancialAlertsView,
        "Payout failed for good",
    )
    .body("NOT_ENOUGH_FUNDS after 4 attempts");
    let system = NewAlert::new(
        "system.disk",
        Severity::Warning,
        Permission::SystemAlertsView,
        "Disk nearly full",
    );
    raise(&mut tx, &financial, crate::helpers::now()).await.unwrap();
    raise(&mut tx, &system, crate::helpers::now()).await.unwrap();
    tx.commit().await.unwrap();
    let (_, fa) = person_with_key(&app, "fa@mbelyco.test", "Financial Administrator").await;
    let res = app.get_as(&fa, "/admin/disbursements").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Payout failed for good"),
        "the Financial Administrator sees financial alerts"
    );
    assert!(!html.contains("Disk nearly full"), "and not system ones");
    let id: Uuid = sqlx::query_scalar("select id from alerts where kind = 'payout.failed'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let res = app
        .post_form(&fa, &format!("/admin/alerts/{id}/acknowledge"), &[("x", "y")])
        .await;
    assert_eq!(res.status(), 303);
    let html = app.get_as(&fa, "/admin/disbursements").await.text().await.unwrap();
    assert!(!html.contains("Payout failed for good"));
    assert_eq!(audits(&app.pool, "alert.acknowledged").await, 1);
    // an alert for another audience cannot be acknowledged from here
    let sys: Uuid = sqlx::query_scalar("select id from alerts where kind = 'system.disk'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let res = app
        .post_form(&fa, &format!("/admin/alerts/{sys}/acknowledge"), &[("x", "y")])
        .await;
    assert_eq!(res.status(), 404);
    // a Viewer may not open the payouts pages at all
    let viewer = app.api_key("Viewer").await;
    assert_eq!(app.get_as(&viewer, "/admin/disbursements").await.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_support_agent_gives_a_payee_invalid_payout_the_number_the_customer_gave() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let b = batch(&app.pool, "Support", 1000).await;
    let p = payout(&app.pool, b, Spec::new(PHONE, 1000, "payee_invalid")).await;
    let (_, agent) = person_with_key(&app, "agent@mbelyco.test", "Support Agent").await;
    let (_, viewer) = person_with_key(&app, "viewer@mbelyco.test", "Viewer").await;
    let page = format!("/admin/redemptions/{}", p.redemption_id);
    let form = format!("{page}/payee");

    // the agent sees the form on the redemption (the payout pages stay closed to them)
    let html = app.get_as(&agent, &page).await.text().await.unwrap();
    assert!(html.contains("id=\"payee-form\""), "{html}");
    assert_eq!(
        app.get_as(&agent, &format!("/admin/disbursements/{}", p.id))
            .await
            .status(),
        403
    );
    // a viewer reads the redemption but gets no form, and cannot post it
    let html = app.get_as(&viewer, &page).await.text().await.unwrap();
    assert!(!html.contains("id=\"payee-form\""));
    let res = app
        .post_form(
            &viewer,
            &form,
            &[("msisdn", "0791234567"), ("reason", "Called support")],
        )
        .await;
    assert_eq!(res.status(), 403);

    // an Airtel number is refused on the page, and nothing changes
    let res = app
        .post_form(&agent, &form, &[("msisdn", "0731234567"), ("reason", "Called support")])
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"action-error\""), "{html}");
    assert!(html.contains("0731234567"), "the form keeps what was typed");
    let (st, msisdn): (String, String) = sqlx::query_as("select status, msisdn from disbursements where id = $1")
        .bind(p.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((st.as_str(), msisdn.as_str()), ("payee_invalid", "250788123456"));

    // the MTN number the customer gave: queued again for that number, audited
    let res = app
        .post_form(
            &agent,
            &form,
            &[("msisdn", "0791234567"), ("reason", "Customer called support")],
        )
        .await;
    assert!(
        res.status().is_success() || res.status().is_redirection(),
        "{}",
        res.status()
    );
    let (st, msisdn): (String, String) = sqlx::query_as("select status, msisdn from disbursements where id = $1")
        .bind(p.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((st.as_str(), msisdn.as_str()), ("queued", "250791234567"));
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_logs where action = 'disbursement.payee_changed' and entity_id = $1",
    )
    .bind(p.id.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    // and the API route is theirs too: the payout is no longer payee_invalid, so it is refused
    let res = app
        .put_json(
            &agent,
            &format!("/api/v1/admin/disbursements/{}/payee", p.id),
            &json!({"msisdn": "0791234568", "reason": "Called again"}),
        )
        .await;
    assert_eq!(res.status(), 409);
}
