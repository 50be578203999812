//! The payment settings take effect (issue #20): the monthly payout limit sends a payout to a
//! person for approval, with an alert; the per-customer monthly limit refuses the redemption.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use mbelyco::clock::ManualClock;
use mbelyco::disbursement::worker::PayoutWorker;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::TestDb;
use crate::payout_fixtures::{self, person_with_key, Spec};
use crate::payouts::{instant, ready, redeem, start_momo};

/// The start of this Kigali month, and a time in this Kigali month on a later Kigali day than
/// that start (tomorrow when it is still this month, else now: the month's last day).
fn month_start_and_a_later_day() -> (DateTime<Utc>, DateTime<Utc>) {
    let kigali = mbelyco::clock::kigali();
    let now = crate::helpers::now();
    let local = now.with_timezone(&kigali);
    let start = kigali
        .with_ymd_and_hms(local.year(), local.month(), 1, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let tomorrow = now + Duration::days(1);
    let later = if tomorrow.with_timezone(&kigali).month() == local.month() {
        tomorrow
    } else {
        now
    };
    (start, later)
}

async fn statuses(pool: &sqlx::PgPool) -> Vec<(String, i64)> {
    sqlx::query_as("select status, count(*) from disbursements group by status order by status")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payout_over_the_monthly_limit_waits_for_approval_with_an_alert_and_is_paid_once_approved() {
    let db = TestDb::new().await;
    let momo = start_momo(instant()).await;
    // the day's limit would let all of it through; the month's would not
    let limits = json!({
        "perUserDailyLimit": 1000, "perUserMonthlyLimit": 1000,
        "dailyTransactionLimit": 2500, "monthlyTransactionLimit": 2500,
    });
    let (app, key) = ready(&db, &momo, limits).await;
    let (month_start, later) = month_start_and_a_later_day();
    // 1,000 RWF paid earlier this month, on another day
    let earlier = payout_fixtures::batch(&db.pool, "Earlier this month", 1000).await;
    payout_fixtures::payout(
        &db.pool,
        earlier,
        Spec::new("+250788100001", 1000, "completed").at(month_start),
    )
    .await;
    redeem(&app, &key, 2, "month").await;

    let w = PayoutWorker::new(
        app.pool.clone(),
        Arc::clone(&app.state.settings),
        Arc::new(ManualClock::new(later)),
        "w-month",
    );
    w.run_until_idle().await.unwrap();
    assert_eq!(
        statuses(&db.pool).await,
        vec![("awaiting_approval".to_owned(), 1), ("completed".to_owned(), 2)],
        "1,000 + 1,000 fit the month's 2,500; the next 1,000 waits for a person"
    );
    assert_eq!(momo.sim.transfers().len(), 1, "the waiting payout was not sent");
    let (id, held): (Uuid, Option<String>) =
        sqlx::query_as("select id, held_reason from disbursements where status = 'awaiting_approval'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(held.as_deref(), Some("monthly_limit"));
    let (title, audience): (String, String) =
        sqlx::query_as("select title, audience from alerts where kind = 'payout.held' and status <> 'resolved'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(title.contains("month"), "{title}");
    assert_eq!(audience, "financial.alerts.view");
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_logs where action = 'disbursement.held' and entity_id = $1::text \
           and after->>'status' = 'awaiting_approval'",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    // the payouts page says why it waits
    let html = app.get_as(&key, "/admin/disbursements").await.text().await.unwrap();
    assert!(html.contains("payout limit: approve to pay it anyway"), "{html}");

    // a Financial Administrator approves it: it is paid although the month is over its limit
    let (_, fa) = person_with_key(&app, "fa-month@mbelyco.test", "Financial Administrator").await;
    let res = app
        .post_as(&fa, &format!("/api/v1/admin/disbursements/{id}/approve"))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    w.run_until_idle().await.unwrap();
    assert_eq!(statuses(&db.pool).await, vec![("completed".to_owned(), 3)]);
    assert_eq!(momo.sim.transfers().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redemption_over_the_customers_monthly_limit_is_refused_and_the_code_stays_usable() {
    let db = TestDb::new().await;
    let momo = start_momo(instant()).await;
    let limits = json!({"perUserDailyLimit": 1000, "perUserMonthlyLimit": 1500});
    let (app, key) = ready(&db, &momo, limits).await;
    let (month_start, _) = month_start_and_a_later_day();
    let phone = "+250788100002";
    // this customer won 1,000 RWF earlier this month
    let earlier = payout_fixtures::batch(&db.pool, "Earlier this month", 1000).await;
    payout_fixtures::payout(&db.pool, earlier, Spec::new(phone, 1000, "completed").at(month_start)).await;
    let batch = app.generated_batch(&key, "Monthly cap", 1, "w-cap").await;
    let code = app.batch_codes(&batch).await.remove(0);
    let answer = app.hop("cap-1", phone, &format!("1*{code}")).await;
    assert!(answer.starts_with("END "), "{answer}");
    let (status, payouts): (String, i64) =
        sqlx::query_as("select (select status from promo_codes where code = $1), (select count(*) from disbursements)")
            .bind(&code)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), payouts),
        ("active", 1),
        "refused: nothing taken, nothing to pay"
    );
    let refused: i64 = sqlx::query_scalar("select count(*) from ussd_interactions where outcome = 'customer_limit'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(refused, 1);
}
