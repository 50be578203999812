//! The settings console in a real Chromium (issue #20): change a value, see the preview, give a
//! reason, save, see the effect, find it in the history, roll back — for payments, USSD and
//! branding.

use fantoccini::{Client, Locator};
use mbelyco::settings::Category;
use serde_json::json;

use crate::browser::{fill, sign_in_with_totp, staff_with_totp, submit, text};
use crate::helpers::{spawn_app, TestApp, TestDb};

use testkit::browser;

const PW: &str = "correct pony staple battery";

async fn sign_in_boss(c: &Client, app: &TestApp) {
    let secret = staff_with_totp(app, "boss@mbelyco.test", PW, "Super Administrator").await;
    sign_in_with_totp(c, app, "boss@mbelyco.test", PW, &secret).await;
}

async fn value(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// The preview's text, after the form is sent.
async fn review(c: &Client) -> String {
    submit(c, "#settings-save").await;
    text(c, "#preview").await
}

async fn confirm(c: &Client, reason: &str) {
    fill(c, "#reason", reason).await;
    submit(c, "#settings-confirm").await;
    assert!(text(c, "#page-notice").await.starts_with("Saved as version"));
}

/// From a category's history, follows a row's rollback `link` to the confirmation page and
/// confirms; returns what the confirmation said would change.
async fn roll_back(c: &Client, app: &TestApp, category: &str, row: i64, link: &str) -> String {
    c.goto(&app.url(&format!("/admin/settings/{category}/history")))
        .await
        .unwrap();
    submit(c, &format!("tr[data-version='{row}'] a.{link}")).await;
    let listed = text(c, "#rollback-preview").await;
    submit(c, "#rollback-confirm").await;
    assert!(text(c, "#page-notice").await.starts_with("Rolled back"));
    listed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_settings_payments_change_preview_save_history_and_roll_back() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.set_settings(Category::Payments, json!({"maxAmount": 900_000}))
        .await;
    let b = browser().await;
    let c = &b.client;
    sign_in_boss(c, &app).await;
    // at phone width
    c.set_window_size(390, 1400).await.unwrap();
    c.goto(&app.url("/admin/settings/payments")).await.unwrap();
    fill(c, "input[name='payments.maxAmount']", "50000").await;
    let preview = review(c).await;
    assert!(
        preview.contains("payments.maxAmount") && preview.contains("900,000") && preview.contains("→ 50,000"),
        "{preview}"
    );
    assert_eq!(app.state.settings.get().0.payments.max_amount, 900_000, "not saved yet");
    confirm(c, "Smaller prizes this quarter").await;
    assert_eq!(value(c, "input[name='payments.maxAmount']").await, "50000");
    assert_eq!(app.state.settings.get().0.payments.max_amount, 50_000);
    let overflow: bool = c
        .execute(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth",
            vec![],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap();
    assert!(!overflow, "the page fits a 390 px screen");

    c.goto(&app.url("/admin/settings/payments/history")).await.unwrap();
    let latest = text(c, "tr[data-version='2']").await;
    assert!(
        latest.contains("Smaller prizes this quarter") && latest.contains("payments.maxAmount"),
        "{latest}"
    );
    let listed = roll_back(c, &app, "payments", 1, "rollback-link").await;
    assert!(
        listed.contains("50,000 → 900,000") || listed.contains("50,000 RWF → 900,000 RWF"),
        "{listed}"
    );
    assert_eq!(app.state.settings.get().0.payments.max_amount, 900_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_settings_ussd_welcome_text_reaches_the_dial_and_rolls_back() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    app.set_settings(Category::Ussd, json!({"defaultLanguage": "en"})).await;
    let phone = "+250788123456";
    // the home screen's first line, as the gateway shows it before any change
    let welcome = |screen: &str| screen.lines().next().unwrap_or_default().to_owned();
    let before = welcome(&app.hop("s1", phone, "").await);
    assert!(before.starts_with("CON "), "{before}");
    let b = browser().await;
    let c = &b.client;
    sign_in_boss(c, &app).await;
    c.goto(&app.url("/admin/settings/ussd")).await.unwrap();
    fill(c, "textarea[name='ussd.welcomeMessage.en']", "Karibu to MBELYCO Paints").await;
    let preview = review(c).await;
    assert!(
        preview.contains("ussd.welcomeMessage") && preview.contains("Karibu to MBELYCO Paints"),
        "{preview}"
    );
    confirm(c, "Paints campaign").await;
    // the gateway's next dial shows it
    let home = app.hop("s2", phone, "").await;
    assert!(home.starts_with("CON Karibu to MBELYCO Paints\n"), "{home}");

    roll_back(c, &app, "ussd", 2, "rollback-link").await;
    assert_eq!(welcome(&app.hop("s3", phone, "").await), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_settings_branding_name_and_colour_show_in_the_panel_and_roll_back() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let b = browser().await;
    let c = &b.client;
    sign_in_boss(c, &app).await;
    c.goto(&app.url("/admin/settings/branding")).await.unwrap();
    // the colour picker writes the hex beside it
    let picked = c
        .execute(
            "const p = document.querySelector('input[type=color][data-color-for=\"f-branding-primaryColor\"]'); \
             p.value = '#112233'; p.dispatchEvent(new Event('input')); \
             return document.querySelector(\"input[name='branding.primaryColor']\").value",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(picked, json!("#112233"));
    fill(c, "input[name='branding.companyName']", "Kigali Paints Ltd").await;
    fill(c, "input[name='branding.primaryColor']", "#aa3300").await;
    let preview = review(c).await;
    assert!(
        preview.contains("branding.companyName") && preview.contains("“Kigali Paints Ltd”"),
        "{preview}"
    );
    assert!(
        preview.contains("branding.primaryColor") && preview.contains("#aa3300"),
        "{preview}"
    );
    confirm(c, "Rebrand").await;
    assert_eq!(value(c, "input[name='branding.primaryColor']").await, "#aa3300");
    // the panel carries the new name
    c.goto(&app.url("/")).await.unwrap();
    assert!(c.title().await.unwrap().contains("Kigali Paints Ltd"));

    let listed = roll_back(c, &app, "branding", 2, "rollback-before-link").await;
    assert!(listed.contains("“Kigali Paints Ltd” → “MBELYCO Paints”"), "{listed}");
    c.goto(&app.url("/")).await.unwrap();
    assert!(!c.title().await.unwrap().contains("Kigali Paints Ltd"));
}
