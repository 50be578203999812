//! The brand in a real browser: a primary colour set through the settings colours the panel's
//! header and buttons on the next page load, with the page's CSP in force.

use fantoccini::Client;
use mbelyco::settings::Category;
use serde_json::{json, Value};

use crate::browser::{sign_in_with_totp, staff_with_totp};
use crate::helpers::{spawn_app, TestDb};
use testkit::browser;

async fn computed(c: &Client, css: &str, property: &str) -> String {
    let script = format!("return getComputedStyle(document.querySelector('{css}')).getPropertyValue('{property}');");
    match c.execute(&script, vec![]).await.unwrap() {
        Value::String(s) => s,
        other => panic!("{css} {property}: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_branding_primary_colour_and_sidebar_width_show_on_the_next_page_load() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let pw = "correct pony staple battery";
    let secret = staff_with_totp(&app, "brand@mbelyco.test", pw, "Super Administrator").await;
    let b = browser().await;
    let c = &b.client;
    sign_in_with_totp(c, &app, "brand@mbelyco.test", pw, &secret).await;
    c.goto(&app.url("/admin/batches")).await.unwrap();
    // the defaults: the panel looks as it always did
    assert_eq!(computed(c, ".topbar", "background-color").await, "rgb(11, 95, 165)");
    assert_eq!(computed(c, ".topbar .brand", "color").await, "rgb(255, 255, 255)");
    assert_eq!(computed(c, "nav#nav", "width").await, "220px");
    assert_eq!(computed(c, "body", "background-color").await, "rgb(248, 250, 252)");

    app.set_settings(
        Category::Branding,
        json!({"primaryColor": "#FDE68A", "sidebarWidth": 300, "headerHeight": 72}),
    )
    .await;
    c.goto(&app.url("/admin/batches")).await.unwrap();
    assert_eq!(computed(c, ".topbar", "background-color").await, "rgb(253, 230, 138)");
    assert_eq!(computed(c, ".topbar", "height").await, "72px");
    assert_eq!(computed(c, "nav#nav", "width").await, "300px");
    // a light primary gets dark text on it, so the header still reads
    assert_eq!(computed(c, ".topbar .brand", "color").await, "rgb(17, 24, 39)");
    assert_eq!(
        computed(c, "button[type=submit]:not(.link-button)", "background-color").await,
        "rgb(253, 230, 138)",
        "primary buttons follow the brand"
    );
}
