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
    // text in the brand's colour takes the link colour, which stays readable on the page
    assert_eq!(
        computed(c, "nav#nav a[aria-current=page]", "color").await,
        "rgb(11, 95, 165)"
    );

    // at phone width, with a logo in the header and long contact details in the footer, the page
    // still does not scroll sideways
    app.set_settings(
        Category::Branding,
        json!({
            "companyLogo": wide_logo(),
            "companyTagline": "Quality paints for every wall in every home across the land of a thousand hills",
            "companyWebsite": "https://www.mbelyco-paints-and-coatings-rwanda.example/customer-care/contact",
            "companyEmail": "customer.care.department@mbelyco-paints-and-coatings.example",
            "companyPhone": "+250 788 300 400",
        }),
    )
    .await;
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&app.url("/admin/batches")).await.unwrap();
    let widths = c
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth, \
             document.querySelector('.brand-logo').getBoundingClientRect().height];",
            vec![],
        )
        .await
        .unwrap();
    let (scroll, inner, logo_h) = (
        widths[0].as_f64().unwrap(),
        widths[1].as_f64().unwrap(),
        widths[2].as_f64().unwrap(),
    );
    assert!(scroll <= inner, "the page scrolls sideways: {scroll} > {inner}");
    assert!(
        logo_h > 10.0 && logo_h <= 72.0,
        "the logo shows within the header: {logo_h}"
    );
}

/// A 400 × 100 PNG.
fn wide_logo() -> String {
    use base64::Engine;
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, 400, 100);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header()
            .unwrap()
            .write_image_data(&vec![90u8; 400 * 100 * 3])
            .unwrap();
    }
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}
