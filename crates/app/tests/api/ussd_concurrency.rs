//! A code pays once under contention, and nothing a gateway can send breaks the protocol or
//! changes a code it should not.

use std::collections::HashMap;

use futures::stream::{self, StreamExt};
use proptest::prelude::*;

use crate::helpers::{spawn_app, TestApp, TestDb};

async fn ready(db: &TestDb) -> (TestApp, String) {
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let key = app.api_key("Super Administrator").await;
    (app, key)
}

/// One attempt as a single hop: an extended dial that arrives with "redeem" and the code filled in.
async fn attempt(app: &TestApp, session: &str, phone: &str, code: &str) -> String {
    app.hop(session, phone, &format!("1*{code}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_phones_racing_for_one_code_make_one_winner() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    let batch = app.generated_batch(&key, "Race", 1, "w-race").await;
    let code = app.batch_codes(&batch).await.remove(0);
    let answers: Vec<String> = stream::iter(0..200)
        .map(|i| {
            let (app, code) = (&app, &code);
            async move { attempt(app, &format!("race-{i}"), &format!("+25078810{i:04}"), code).await }
        })
        .buffer_unordered(200)
        .collect()
        .await;
    let mut tally: HashMap<&str, usize> = HashMap::new();
    for a in &answers {
        let kind = if a.starts_with("END Murakoze! Mwatsindiye 1000 RWF") {
            "won"
        } else if a == "END Iyi kode yamaze gukoreshwa." {
            "used"
        } else if a == "END Serivisi ihuze. Ongera ugerageze mu kanya." {
            "busy"
        } else {
            panic!("unexpected answer {a:?}")
        };
        *tally.entry(kind).or_default() += 1;
    }
    assert_eq!(tally.get("won"), Some(&1), "{tally:?}");
    let (redemptions, disbursements, used): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from redemptions), (select count(*) from disbursements), \
                (select count(*) from promo_codes where status = 'used')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((redemptions, disbursements, used), (1, 1, 1));
    // each first dial registered its customer, audited with the redemption in one statement
    let (registered, redeemed, pending): (i64, i64, i64) = sqlx::query_as(
        "select count(*) filter (where action = 'customer.registered'), \
                count(*) filter (where action = 'redemption.created'), \
                (select count(*) from audit_pending) from audit_logs",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((registered, redeemed), (200, 1));
    assert!(pending >= 201, "every new audit row waits for the sealer: {pending}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_attempts_over_a_thousand_codes_redeem_each_once() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    let batch = app.generated_batch(&key, "Crowd", 1000, "w-crowd").await;
    let codes = app.batch_codes(&batch).await;
    // every code is tried ten times, from 2,500 phones (four attempts each: under the per-minute limit)
    let answers: Vec<String> = stream::iter(0..10_000usize)
        .map(|i| {
            let (app, code) = (&app, &codes[(i * 7919) % 1000]);
            async move { attempt(app, &format!("crowd-{i}"), &format!("+25079{:07}", i % 2500), code).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let won = answers.iter().filter(|a| a.starts_with("END Murakoze!")).count();
    let (redemptions, distinct_codes, used): (i64, i64, i64) = sqlx::query_as(
        "select count(*), count(distinct promo_code_id), \
                (select count(*) from promo_codes where status = 'used') from redemptions",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((redemptions, distinct_codes, used), (1000, 1000, 1000));
    assert_eq!(won, 1000);
    let others: Vec<&String> = answers
        .iter()
        .filter(|a| !a.starts_with("END Murakoze!") && a.as_str() != "END Iyi kode yamaze gukoreshwa.")
        .collect();
    assert!(others.is_empty(), "{:?}", &others[..others.len().min(5)]);
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        // keypad-like: digits, *, #, letters
        "[0-9A-Za-z*#]{0,40}",
        // anything at all, Unicode included
        any::<String>(),
        // very long input
        "[0-9*]{500,3000}",
        // menu paths ending in something odd
        "(1|2|3|4|0|00)(\\*(1|2|3|4|0|00|[A-Z0-9 -]{0,20}|\\*)){0,6}",
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_text_gets_a_well_formed_answer_and_changes_no_code() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    let batch = app.generated_batch(&key, "Fuzz", 20, "w-fuzz").await;
    // every case dials from one phone: lift its dialling limits, so each text reaches the menu
    app.set_settings(
        mbelyco::settings::Category::Security,
        serde_json::json!({"rateLimiting": {"ussdRequestsPerMinute": 10_000, "ussdRequestsPerHour": 100_000}}),
    )
    .await;
    let before: Vec<(String, String)> = sqlx::query_as("select code, status from promo_codes order by code")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let _ = batch;
    let handle = tokio::runtime::Handle::current();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let n = std::sync::atomic::AtomicU32::new(0);
    runner
        .run(&(any_text(), any::<bool>()), |(text, continued)| {
            let session = format!("fuzz-{}", n.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            let body = tokio::task::block_in_place(|| {
                handle.block_on(async {
                    if continued {
                        // the same text as a later hop of a session
                        app.hop(&session, "+250788555555", "").await;
                    }
                    app.hop(&session, "+250788555555", &text).await
                })
            });
            prop_assert!(body.starts_with("CON ") || body.starts_with("END "), "{:?}", body);
            let check = africastalking::gsm7::screen_check(&body[4..]);
            prop_assert!(!check.over_soft_limit && check.non_gsm7.is_empty(), "{:?}", body);
            Ok(())
        })
        .unwrap();
    let after: Vec<(String, String)> = sqlx::query_as("select code, status from promo_codes order by code")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(before, after);
    let redemptions: i64 = sqlx::query_scalar("select count(*) from redemptions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(redemptions, 0);
}
