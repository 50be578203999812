//! The analytics retention (settings "Data kept"): old rollups go after `aggregatedDataDays`; with
//! `autoCleanup`, raw USSD logs and sessions after `rawDataDays` — the attempts they counted stay
//! counted, and money and audit rows are never deleted.

use chrono::Duration;
use mbelyco::settings::Category;
use mbelyco::stats::{self, Fact};
use serde_json::json;

use crate::helpers::{now, spawn_app, TestApp, TestDb};
use crate::payout_fixtures::{batch, payout, Spec};
use crate::rollups_recount::run_job;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_drops_old_rollups_and_raw_logs_but_never_money_or_audit_rows() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let b = batch(&app.pool, "Kept", 1000).await;
    let long_ago = now() - Duration::days(400);
    let months_ago = now() - Duration::days(100);
    payout(&app.pool, b, Spec::new("+250788780001", 1000, "completed").at(long_ago)).await;
    payout(
        &app.pool,
        b,
        Spec::new("+250788780002", 1000, "completed").at(months_ago),
    )
    .await;
    // an old wrong code in the USSD log, an old session, and today's dial
    for (session, at) in [("old-1", long_ago), ("old-2", months_ago)] {
        sqlx::query(
            "insert into ussd_interactions (session_id, phone_number, network_code, service_code, input, response, \
             outcome, latency_ms, created_at) values ($1, '+250788780003', '63510', '*789#', '1*ABCD', 'END', \
             'unknown_code', 5, $2)",
        )
        .bind(session)
        .bind(at)
        .execute(&app.pool)
        .await
        .unwrap();
        sqlx::query(
            "insert into ussd_sessions (session_id, phone_number, service_code, started_at, last_seen_at, ended_at) \
             values ($1, '+250788780003', '*789#', $2, $2, $2)",
        )
        .bind(session)
        .bind(at)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    app.hop("today", "+250788780003", "").await;
    let money = |app: &TestApp| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_as::<_, (i64, i64, i64, i64)>(
                "select (select count(*) from redemptions), (select count(*) from disbursements), \
                        (select count(*) from redemption_reversals), (select count(*) from audit_logs)",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let before = money(&app).await;
    let attempts = |app: &TestApp| {
        let pool = app.pool.clone();
        async move {
            let (from, to) = stats::all_time();
            let mut conn = pool.acquire().await.unwrap();
            stats::totals(&mut conn, Fact::Attempt, from, to, None).await.unwrap().n
        }
    };
    assert_eq!(attempts(&app).await, 2);
    let in_all = |app: &TestApp| {
        let pool = app.pool.clone();
        async move {
            let mut conn = pool.acquire().await.unwrap();
            let rows = stats::since_beginning(&mut conn, Fact::Attempt, &[], None)
                .await
                .unwrap();
            rows.iter().map(|r| r.n).sum::<i64>()
        }
    };
    run_job(&app, stats::fold::KIND).await;
    assert_eq!(in_all(&app).await, 2);

    // rollups are kept a year; raw data 30 days, but only once automatic clean-up is on
    app.set_settings(
        Category::Analytics,
        json!({"aggregatedDataDays": 365, "rawDataDays": 30, "autoCleanup": false}),
    )
    .await;
    run_job(&app, stats::retention::KIND).await;
    let old_hours: i64 = sqlx::query_scalar("select count(*) from stats_hourly where hour > '-infinity' and hour < $1")
        .bind(now() - Duration::days(365))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(old_hours, 0, "rollups older than a year are gone");
    assert_eq!(attempts(&app).await, 1, "the year-old attempt left the hours");
    assert_eq!(in_all(&app).await, 2, "… not the totals since the beginning");
    let raw: (i64, i64) =
        sqlx::query_as("select (select count(*) from ussd_interactions), (select count(*) from ussd_sessions)")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(raw, (3, 3), "raw logs stay while clean-up is off");

    app.set_settings(Category::Analytics, json!({"autoCleanup": true}))
        .await;
    run_job(&app, stats::retention::KIND).await;
    let raw: Vec<String> =
        sqlx::query_scalar("select session_id from ussd_interactions union all select session_id from ussd_sessions")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(raw, vec!["today", "today"], "raw logs older than 30 days are gone");
    assert_eq!(attempts(&app).await, 1, "the attempts they counted stay counted");
    let (redemptions, disbursements, reversals, audit) = money(&app).await;
    assert_eq!((redemptions, disbursements, reversals), (before.0, before.1, before.2));
    assert!(audit >= before.3, "no audit row is deleted");
    let paid: (i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where created_at < $1) from disbursements where status = 'completed'",
    )
    .bind(now() - Duration::days(365))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(paid, (2, 1), "the year-old payout itself is still there");
}
