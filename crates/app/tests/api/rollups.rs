//! Figures from rollups, never from scans (issue #21 item 2, decision 0039): a mixed workload
//! through the real paths — redemptions over USSD (wrong codes, a typo, a returning customer, two
//! networks and both languages), payouts completing, failing and `payee_invalid` through the
//! worker and the MoMo simulator, an approved reversal, a batch's expiry, and payouts stored at
//! chosen times either side of a Kigali midnight — then every fact of `stats_hourly`, before and
//! after a fold, against a recount written independently as GROUP BY over the base tables.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use mbelyco::settings::Category;
use mbelyco::stats::{self, Bucket, Dim, Fact, Query};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::TestDb;
use crate::payout_fixtures::{batch, payout, person_with_key, Spec};
use crate::payouts::{instant, make_due, ready, start_momo, worker};
use crate::rollups_recount::{
    code_counts_agree, code_hop, english, in_all, over_all_hours, recount, rollups, run_job, total,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_rollup_agrees_with_a_recount_after_a_mixed_workload_and_a_fold() {
    let db = TestDb::new().await;
    let mut sim = instant();
    sim.inactive = vec!["250788770009".into()];
    let momo = start_momo(sim).await;
    let (app, key) = ready(&db, &momo, json!({"maxRetryAttempts": 0})).await;
    app.set_settings(
        Category::Business,
        json!({"redemption": {"allowMultipleRedemptions": true, "maxRedemptionsPerUser": 0, "cooldownPeriodMinutes": 0}}),
    )
    .await;
    let a = app.generated_batch(&key, "Rollups A", 6, "w-a").await;
    let a_codes = app.batch_codes(&a).await;

    // redemptions: through MTN's gateway code, Airtel's, and none; in Kinyarwanda and English
    let (p1, p2, p3, p4, p9) = (
        "+250788770001",
        "+250788770002",
        "+250788770003",
        "+250788770004",
        "+250788770009",
    );
    english(&app, p2, "63514").await;
    let won = |s: &str| s.starts_with("END Murakoze!") || s.starts_with("END Congratulations!");
    for (session, phone, network, code) in [
        ("r1", p1, "63510", &a_codes[0]),
        ("r2", p2, "63514", &a_codes[1]),
        ("r3", p3, "", &a_codes[2]),
        ("r4", p4, "63510", &a_codes[3]),
        ("r9", p9, "63510", &a_codes[4]),
        // the same customer again: returning
        ("r1b", p1, "63514", &a_codes[5]),
    ] {
        let answer = code_hop(&app, session, phone, network, "1", code).await;
        assert!(won(&answer), "{session}: {answer}");
    }
    // wrong codes: unknown, not a code, already redeemed; a check that finds a good code
    assert!(code_hop(&app, "x1", p3, "63510", "1", "ABCD-EF26-GH22-JK25")
        .await
        .starts_with("END"));
    assert!(code_hop(&app, "x2", p3, "", "1", "OBCD-EF26-GH22-JK25")
        .await
        .starts_with("CON"));
    assert!(code_hop(&app, "x3", p2, "63514", "1", &a_codes[0])
        .await
        .starts_with("END"));

    // a second batch with check characters, so a typo is told from a guess; one redemption
    app.set_settings(Category::Business, json!({"codeGeneration": {"includeChecksum": true}}))
        .await;
    let b = app.generated_batch(&key, "Rollups B", 3, "w-b").await;
    let b_codes = app.batch_codes(&b).await;
    assert!(won(
        &code_hop(&app, "r5", "+250788770005", "63510", "1", &b_codes[0]).await
    ));
    let mut typo = b_codes[1].clone().into_bytes();
    typo[0] = if typo[0] == b'A' { b'B' } else { b'A' };
    let typo = String::from_utf8(typo).unwrap();
    assert!(code_hop(&app, "x4", p3, "63510", "1", &typo).await.starts_with("CON"));
    assert!(code_hop(&app, "x5", p3, "63510", "2", &b_codes[2])
        .await
        .starts_with("END"));

    // payouts: p4's to the sandbox number whose transfers fail (no retries: failed for good),
    // p9's wallet is inactive (payee_invalid), the rest are paid
    sqlx::query(
        "update disbursements d set msisdn = '46733123462', payee_checked_at = now() from redemptions r \
         where r.id = d.redemption_id and r.phone_number = $1",
    )
    .bind(p4)
    .execute(&app.pool)
    .await
    .unwrap();
    worker(&app, "pay").run_until_idle().await.unwrap();
    make_due(&app).await;
    worker(&app, "pay2").run_until_idle().await.unwrap();
    let states: Vec<(String, i64)> =
        sqlx::query_as("select status, count(*) from disbursements group by status order by status")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        states,
        vec![
            ("completed".to_owned(), 5),
            ("failed".to_owned(), 1),
            ("payee_invalid".to_owned(), 1)
        ]
    );

    // the failed payout's redemption is reversed by two people
    let failed: Uuid = sqlx::query_scalar("select redemption_id from disbursements where status = 'failed'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let (_, ann) = person_with_key(&app, "ann@mbelyco.test", "Financial Administrator").await;
    let (_, bob) = person_with_key(&app, "bob@mbelyco.test", "Financial Administrator").await;
    let path = format!("/api/v1/admin/redemptions/{failed}/reversal");
    let res = app.post_json(&ann, &path, &json!({"reason": "Paid in cash"})).await;
    assert_eq!(res.status(), 201);
    let res = app
        .post_json(&bob, &format!("{path}/approve"), &json!({"note": "Receipt seen"}))
        .await;
    assert_eq!(res.status(), 200);

    // batch B's expiry passes; the refresh job expires it with its unredeemed codes
    sqlx::query("update batches set expiration_date = now() - interval '1 day' where id = $1::uuid")
        .bind(&b)
        .execute(&app.pool)
        .await
        .unwrap();
    run_job(&app, mbelyco::batches::refresh::KIND).await;
    let expired: i64 =
        sqlx::query_scalar("select count(*) from promo_codes where batch_id = $1::uuid and status = 'expired'")
            .bind(&b)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(expired, 2);
    code_counts_agree(&app).await;

    // payouts stored at chosen times: either side of a Kigali midnight (22:00 UTC), one failed
    let c = batch(&app.pool, "Rollups C", 700).await;
    let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    payout(
        &app.pool,
        c,
        Spec::new("+250788770006", 700, "completed")
            .at(t("2026-11-30T21:30:00Z"))
            .paid_after(95),
    )
    .await;
    payout(
        &app.pool,
        c,
        Spec::new("+250788770006", 700, "completed")
            .at(t("2026-11-30T22:10:00Z"))
            .paid_after(7),
    )
    .await;
    payout(
        &app.pool,
        c,
        Spec::new("+250788770007", 700, "failed").at(t("2026-11-30T22:40:00Z")),
    )
    .await;

    // the triggers the bench can switch off are exactly the rollups'
    let mut triggers: Vec<(String, String)> = sqlx::query_as(
        "select tgrelid::regclass::text, tgname::text from pg_trigger where tgname like '%stats%' and not tgisinternal",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    triggers.sort();
    let mut listed: Vec<(String, String)> = stats::TRIGGERS
        .iter()
        .map(|(t, n)| (t.to_string(), n.to_string()))
        .collect();
    listed.sort();
    assert_eq!(triggers, listed);

    // every fact, exactly, before any fold; and "in all" from the deltas alone
    let counted = recount(&app).await;
    assert_eq!(rollups(&app).await, counted);
    assert_eq!(in_all(&app).await, over_all_hours(&counted));
    // what a person would read off it
    assert_eq!(total(&counted, "redemption", |_| true), (10, 6000 + 1000 + 2100));
    assert_eq!(total(&counted, "redemption", |k| k.6 == "returning"), (2, 1700));
    assert_eq!(total(&counted, "redemption", |k| k.5 == "en"), (1, 1000));
    assert_eq!(total(&counted, "redemption", |k| k.4 == "63514"), (2, 2000));
    assert_eq!(total(&counted, "paid", |_| true), (7, 5000 + 1400));
    assert_eq!(total(&counted, "payout", |k| k.3 == "payee_invalid"), (1, 1000));
    assert_eq!(total(&counted, "reversal", |_| true), (1, 1000));
    assert_eq!(total(&counted, "redemption_state", |k| k.3 == "reversed"), (1, 1000));
    for wrong in ["unknown_code", "not_a_code", "already_redeemed", "typo", "code_valid"] {
        assert_eq!(total(&counted, "attempt", |k| k.3 == wrong).0, 1, "{wrong}");
    }
    assert_eq!(total(&counted, "attempt", |k| k.3 == "redeemed").0, 7);

    // the fold leaves one row per key and the same figures
    let unfolded: i64 = sqlx::query_scalar("select count(*) from stats_hourly where not folded")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(unfolded > 0);
    run_job(&app, stats::fold::KIND).await;
    let (rows, unfolded): (i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where not folded) from stats_hourly where hour > '-infinity'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((rows, unfolded), (counted.len() as i64, 0));
    assert_eq!(rollups(&app).await, counted);
    assert_eq!(in_all(&app).await, over_all_hours(&counted), "from the all-time tier");

    // more after the fold (a deltas row on top of folded ones) still adds up
    assert!(code_hop(&app, "x6", p1, "63510", "1", "OBCD-EF26-GH33-JK25")
        .await
        .starts_with("CON"));
    let counted = recount(&app).await;
    assert_eq!(rollups(&app).await, counted);
    assert_eq!(in_all(&app).await, over_all_hours(&counted), "tier and deltas");
    run_job(&app, stats::fold::KIND).await;
    assert_eq!(in_all(&app).await, over_all_hours(&counted), "the tier's second fold");
    let tier_keys: (i64, i64) = sqlx::query_as(
        "select count(*), count(distinct (fact, batch_id, state, network, language, segment)) \
         from stats_hourly where hour = '-infinity'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(tier_keys.0, tier_keys.1, "one tier row per key");

    // a rebuild from the base tables (after a bulk load with the triggers off) gives the same
    let mut conn = app.pool.acquire().await.unwrap();
    stats::fold::rebuild(&mut conn).await.unwrap();
    assert_eq!(rollups(&app).await, counted);
    assert_eq!(in_all(&app).await, over_all_hours(&counted));
    drop(conn);

    // the reading API: Kigali days of 24 UTC hours from 22:00, and grouping
    let mut conn = app.pool.acquire().await.unwrap();
    let nov30 = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let (from, to) = stats::kigali_days(nov30, nov30 + Duration::days(1));
    let days = stats::series(&mut conn, &Query::new(Fact::Paid, from, to).bucket(Bucket::KigaliDay))
        .await
        .unwrap();
    let by_day: Vec<(Option<DateTime<Utc>>, i64, i64, i64)> =
        days.iter().map(|r| (r.at, r.n, r.amount, r.ms)).collect();
    assert_eq!(
        by_day,
        vec![
            (Some(t("2026-11-29T22:00:00Z")), 1, 700, 95_000),
            (Some(t("2026-11-30T22:00:00Z")), 1, 700, 7_000)
        ]
    );
    let day_recount: Vec<(DateTime<Utc>, i64)> = sqlx::query_as(
        "select (date_trunc('day', created_at at time zone 'Africa/Kigali') at time zone 'Africa/Kigali'), count(*)::int8 \
         from redemptions where created_at >= $1 and created_at < $2 group by 1 order by 1",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let day_rows = stats::series(
        &mut conn,
        &Query::new(Fact::Redemption, from, to).bucket(Bucket::KigaliDay),
    )
    .await
    .unwrap();
    let day_rows: Vec<(DateTime<Utc>, i64)> = day_rows.iter().map(|r| (r.at.unwrap(), r.n)).collect();
    assert_eq!(day_rows, day_recount);

    let (all_from, all_to) = stats::all_time();
    let segments = stats::series(
        &mut conn,
        &Query::new(Fact::Redemption, all_from, all_to).group(&[Dim::Segment]),
    )
    .await
    .unwrap();
    let segments: Vec<(Option<String>, i64)> = segments.into_iter().map(|r| (r.segment, r.n)).collect();
    assert_eq!(
        segments,
        vec![(Some("new".to_owned()), 8), (Some("returning".to_owned()), 2)]
    );
    let per_batch = stats::series(
        &mut conn,
        &Query::new(Fact::Payout, all_from, all_to)
            .group(&[Dim::State])
            .batch(Some(a.parse().unwrap())),
    )
    .await
    .unwrap();
    let per_batch: Vec<(Option<String>, Option<Uuid>, i64)> =
        per_batch.into_iter().map(|r| (r.state, r.batch_id, r.n)).collect();
    assert_eq!(
        per_batch,
        vec![
            (Some("completed".to_owned()), None, 4),
            (Some("failed".to_owned()), None, 1),
            (Some("payee_invalid".to_owned()), None, 1)
        ]
    );
    let hourly = stats::series(
        &mut conn,
        &Query::new(Fact::Attempt, all_from, all_to)
            .bucket(Bucket::Hour)
            .group(&[Dim::State, Dim::Network]),
    )
    .await
    .unwrap();
    let typos: i64 = hourly
        .iter()
        .filter(|r| r.state.as_deref() == Some("typo") && r.network.as_deref() == Some("63510"))
        .map(|r| r.n)
        .sum();
    assert_eq!(typos, 1);
    let paid = stats::totals(&mut conn, Fact::Paid, all_from, all_to, None)
        .await
        .unwrap();
    assert_eq!((paid.n, paid.amount), (7, 6400));
}
