//! The alerts console in a real Chromium at phone width: an alert is raised, the shell's badge
//! shows it (live), a person acknowledges and resolves it, and its timeline shows each step.

use std::time::Duration;

use fantoccini::{Client, Locator};
use mbelyco::access::Permission;
use mbelyco::alerts::{self, NewAlert, Severity};

use crate::browser::{fill, sign_in_with_totp, staff_with_totp, submit, text};
use crate::helpers::{now, spawn_app, TestDb};

use testkit::browser;

const PW: &str = "correct pony staple battery";

async fn no_sideways_scroll(c: &Client, at: &str) {
    let overflow: bool = c
        .execute(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth",
            vec![],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap();
    assert!(!overflow, "{at} fits a 390 px screen");
}

/// Waits until the badge shows `n` (the page polls every 5 s).
async fn badge_shows(c: &Client, n: &str) {
    for _ in 0..160 {
        let shown = c
            .execute(
                "const m = document.getElementById('alerts-menu'); \
                 return m && !m.hidden ? document.getElementById('alerts-count').textContent : '';",
                vec![],
            )
            .await
            .unwrap();
        if shown.as_str() == Some(n) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the badge never showed {n}: {}", c.source().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_an_alert_is_raised_shown_on_the_badge_acknowledged_and_resolved_with_its_timeline() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let secret = staff_with_totp(&app, "fa@mbelyco.test", PW, "Financial Administrator").await;
    let b = browser().await;
    let c = &b.client;
    c.set_window_size(390, 844).await.unwrap();
    sign_in_with_totp(c, &app, "fa@mbelyco.test", PW, &secret).await;
    c.goto(&app.url("/admin/alerts")).await.unwrap();
    assert!(text(c, "#alerts").await.contains("No alerts match."));

    // raised while the page is open: the badge picks it up through the live loop
    let alert = NewAlert::new(
        "momo.low_balance",
        Severity::Critical,
        Permission::FinancialAlertsView,
        "The MoMo balance is low",
    )
    .body("Top up the disbursement account")
    .dedupe("momo.low_balance");
    let mut conn = app.pool.acquire().await.unwrap();
    alerts::raise(&mut conn, &alert, now()).await.unwrap();
    drop(conn);
    badge_shows(c, "1").await;
    let critical = c
        .execute(
            "return document.getElementById('alerts-menu').classList.contains('critical')",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(critical.as_bool(), Some(true), "a critical alert turns the badge red");

    // to the alert from the list
    c.goto(&app.url("/admin/alerts")).await.unwrap();
    no_sideways_scroll(c, "the alerts list").await;
    submit(c, "#alerts li a[href^='/admin/alerts/']").await;
    assert_eq!(text(c, "main h1").await, "The MoMo balance is low");
    assert_eq!(text(c, "#alert-state").await, "open");
    submit(c, "#acknowledge-form button").await;
    assert_eq!(text(c, "#alert-state").await, "acknowledged");
    // resolving without a note is refused beside the field (the browser's own check aside)
    c.execute(
        "document.getElementById('resolve-note').removeAttribute('required')",
        vec![],
    )
    .await
    .unwrap();
    submit(c, "#resolve button").await;
    assert!(text(c, "#note-error").await.contains("required"));
    assert_eq!(text(c, "#alert-state").await, "acknowledged");
    fill(c, "#resolve-note", "Topped up the float with 2,000,000 RWF").await;
    submit(c, "#resolve button").await;
    assert_eq!(text(c, "#alert-state").await, "resolved");
    assert_eq!(
        text(c, "#resolution-note").await,
        "Topped up the float with 2,000,000 RWF"
    );
    let mut steps = Vec::new();
    for li in c.find_all(Locator::Css("#alert-timeline li")).await.unwrap() {
        steps.push(li.attr("data-kind").await.unwrap().unwrap_or_default());
    }
    assert_eq!(steps, ["raised", "acknowledged", "resolved"]);
    let timeline = text(c, "#alert-timeline").await;
    assert!(timeline.contains("Test User"), "who acted: {timeline}");
    assert!(timeline.contains("Topped up the float"), "{timeline}");
    no_sideways_scroll(c, "the alert's page").await;
    // the badge empties
    badge_shows(c, "").await;
}
