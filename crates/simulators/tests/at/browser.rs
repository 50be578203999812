//! The web phone in a real headless Chromium (over WebDriver): dial, answer with the keypad and
//! the entry field, see the app's text shown literally, and the session in the list.

use std::time::Duration;

use fantoccini::{Client, Locator};
use simulators::at::{router, Gateway};

use crate::fake_app::FakeApp;

use testkit::browser;

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .expect(css)
        .click()
        .await
        .expect("click");
}

/// Waits until the text of `css` satisfies `done` (the page updates after an API call).
async fn wait_for_text(c: &Client, css: &str, done: impl Fn(&str) -> bool) -> String {
    let mut shown = String::new();
    for _ in 0..200 {
        shown = c.find(Locator::Css(css)).await.expect(css).text().await.expect("text");
        if done(&shown) {
            return shown;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{css} shows {shown:?}");
}

async fn wait_for_screen(c: &Client, expected: &str) {
    wait_for_text(c, "#screen-text", |shown| shown == expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_dials_and_answers_on_the_web_phone() {
    let app = FakeApp::start(0).await;
    let gateway = Gateway::new(app.config()).expect("gateway");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the phone");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router(gateway)).await.expect("phone serves") });
    let b = browser().await;
    let c = &b.client;

    c.goto(&format!("{base}/")).await.expect("page");
    c.find(Locator::Css("#network option[value='63514']"))
        .await
        .expect("Airtel")
        .click()
        .await
        .expect("select");
    click(c, "#dial").await;
    wait_for_screen(c, "Welcome to MBELYCO\n1. Redeem a code\n2. Help").await;

    click(c, "#keypad [data-key='1']").await;
    click(c, "#keypad [data-key='#']").await;
    wait_for_screen(c, "Enter your code").await;

    c.find(Locator::Css("#entry"))
        .await
        .expect("entry")
        .send_keys("K9")
        .await
        .expect("type");
    click(c, "#send").await;
    wait_for_screen(c, "Code K9 redeemed").await;
    assert_eq!(
        c.find(Locator::Css("#dial"))
            .await
            .expect("dial")
            .attr("disabled")
            .await
            .expect("attr"),
        None,
        "the phone is idle again"
    );

    let texts: Vec<String> = app.hops().into_iter().map(|hop| hop.request.text).collect();
    assert_eq!(texts, ["", "1", "1*K9"]);
    assert!(app.hops().iter().all(|hop| hop.request.network_code == "63514"));

    // The app's text is shown as text, never as markup.
    click(c, "#dial").await;
    wait_for_screen(c, "Welcome to MBELYCO\n1. Redeem a code\n2. Help").await;
    c.find(Locator::Css("#entry"))
        .await
        .expect("entry")
        .send_keys("10")
        .await
        .expect("type");
    click(c, "#send").await;
    wait_for_screen(c, "<img src=x id=injected> & <b>bold</b>").await;
    assert!(
        c.find(Locator::Css("#injected")).await.is_err(),
        "no element was created from the app's text"
    );

    click(c, "#cancel").await;
    wait_for_screen(c, "You hung up.").await;
    wait_for_text(c, "#sessions", |list| {
        list.contains("Incomplete") && list.contains("Success")
    })
    .await;
}
