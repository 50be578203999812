//! The template editor in a real Chromium at phone width: the live preview follows the text as it
//! is typed (encoding and SMS count, an unknown variable beside the field), then a save.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::json;

use crate::browser::{fill, sign_in_with_totp, staff_with_totp, submit, text};
use crate::helpers::{spawn_app, TestDb};

use testkit::browser;

const PW: &str = "correct pony staple battery";

/// The text of `css` once it contains `want` (the preview answers after a short pause); the last
/// text seen after 10 s otherwise.
async fn wait_for(c: &Client, css: &str, want: &str) -> String {
    let mut seen = String::new();
    for _ in 0..100 {
        let v = c
            .execute(
                "const e = document.querySelector(arguments[0]); return e && !e.hidden ? e.textContent : '';",
                vec![json!(css)],
            )
            .await
            .unwrap();
        seen = v.as_str().unwrap_or("").trim().to_owned();
        if seen.contains(want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_templates_live_preview_at_phone_width_then_save() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let secret = staff_with_totp(&app, "boss@mbelyco.test", PW, "Super Administrator").await;
    let b = browser().await;
    let c = &b.client;
    sign_in_with_totp(c, &app, "boss@mbelyco.test", PW, &secret).await;
    c.set_window_size(390, 1400).await.unwrap();

    // from the settings index to the list, to the Kinyarwanda payout SMS
    c.goto(&app.url("/admin/settings")).await.unwrap();
    submit(c, "#templates-link a").await;
    assert!(text(c, "h1").await.contains("Notification templates"));
    submit(c, "a[href='/admin/settings/templates/disbursement.succeeded/sms/rw']").await;
    assert!(text(c, "#preview-cost").await.contains("GSM-7"), "seeded preview");
    assert!(text(c, "#preview-body").await.contains("mwakiriye 1,000,000 RWF"));

    // typing a curly apostrophe: UCS-2, and two messages for 75 characters
    fill(
        c,
        "#template-body",
        &format!("MBELYCO: you’ve got {{amount}} {{currency}}. {}", "a".repeat(40)),
    )
    .await;
    let cost = wait_for(c, "#preview-cost", "UCS-2").await;
    assert_eq!(cost, "UCS-2: 75 characters, 2 SMS (67 characters each)");
    assert!(wait_for(c, "#preview-nongsm", "’").await.contains("’"));
    assert!(wait_for(c, "#preview-body", "1,000,000 RWF")
        .await
        .contains("you’ve got 1,000,000 RWF"));

    // an unknown variable is named beside the field as it is typed
    fill(c, "#template-body", "MBELYCO: {amount} {currency} {prize}").await;
    let problem = wait_for(c, "p.field-error[data-field='body']", "{prize}").await;
    assert!(problem.contains("Unknown variable {prize}"), "{problem}");
    assert!(wait_for(c, "#preview-cost", "GSM-7").await.starts_with("GSM-7"));

    // the page does not scroll sideways at 390 px
    let overflow: bool = c
        .execute(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth",
            vec![],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap();
    assert!(!overflow, "the editor fits 390 px");

    // saving the refused text shows the same message and keeps what was typed
    submit(c, "#template-form button[type=submit]").await;
    assert!(text(c, "p.field-error[data-field='body']").await.contains("{prize}"));
    // a good text saves
    fill(
        c,
        "#template-body",
        "MBELYCO: mwakiriye {amount} {currency}.{ref} Murakoze!",
    )
    .await;
    submit(c, "#template-form button[type=submit]").await;
    assert_eq!(text(c, "#page-notice").await, "Saved.");
    let body: String = sqlx::query_scalar(
        "select body from notification_templates where key = 'disbursement.succeeded' and channel = 'sms' and locale = 'rw'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(body, "MBELYCO: mwakiriye {amount} {currency}.{ref} Murakoze!");
    // and can be reset to the default
    c.execute("window.confirm = () => true;", vec![]).await.unwrap();
    submit(c, "#template-reset button").await;
    assert_eq!(text(c, "#page-notice").await, "Saved.");
    assert!(
        c.find(Locator::Css("#template-reset")).await.is_err(),
        "the default again"
    );
}
