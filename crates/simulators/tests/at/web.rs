//! The web phone and its JSON control API, driven over HTTP like the page does.

use serde_json::{json, Value};
use simulators::at::{router, Gateway};

use crate::fake_app::FakeApp;

/// Serves the web phone for `gateway` on a free port and returns its base URL.
async fn spawn_phone(gateway: Gateway) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the phone");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router(gateway)).await.expect("phone serves") });
    base
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let response = client.post(url).json(&body).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test]
async fn the_page_is_a_handset_with_its_own_script_under_a_strict_csp() {
    let app = FakeApp::start(0).await;
    let base = spawn_phone(Gateway::new(app.config()).expect("gateway")).await;
    let client = reqwest::Client::new();

    let page = client.get(format!("{base}/")).send().await.expect("page");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = page.text().await.expect("html");
    for needle in [
        "id=\"keypad\"",
        "data-key=\"#\"",
        "id=\"network\"",
        "63514",
        "id=\"duplicate\"",
        "id=\"abandon\"",
        "id=\"prefill\"",
        "src=\"/phone.js\"",
    ] {
        assert!(html.contains(needle), "page lacks {needle}");
    }
    assert!(!html.contains("<script>"), "no inline script");

    let script = client.get(format!("{base}/phone.js")).send().await.expect("script");
    assert!(script.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/javascript"));
    let js = script.text().await.expect("js");
    assert!(!js.contains("innerHTML"), "app text is never parsed as HTML");
}

#[tokio::test]
async fn a_session_driven_through_the_api_reaches_success() {
    let app = FakeApp::start(0).await;
    let gateway = Gateway::new(app.config()).expect("gateway");
    let base = spawn_phone(gateway.clone()).await;
    let client = reqwest::Client::new();

    let (status, step) = post(
        &client,
        format!("{base}/api/sessions"),
        json!({"phone": "+250788123456", "network": "99999"}),
    )
    .await;
    assert_eq!(status, 200, "{step}");
    assert_eq!(step["screen"]["kind"], "Con");
    let id = step["session"]["id"].as_str().expect("an id").to_owned();

    let (_, step) = post(
        &client,
        format!("{base}/api/sessions/{id}/input"),
        json!({"input": "1"}),
    )
    .await;
    assert_eq!(step["screen"]["text"], "Enter your code");
    let (_, step) = post(
        &client,
        format!("{base}/api/sessions/{id}/input"),
        json!({"input": "K9"}),
    )
    .await;
    assert_eq!(step["screen"]["kind"], "End");
    assert_eq!(step["session"]["open"], false);

    let (status, error) = post(
        &client,
        format!("{base}/api/sessions/{id}/input"),
        json!({"input": "1"}),
    )
    .await;
    assert_eq!(status, 409, "{error}");

    gateway
        .session(&id)
        .expect("recent")
        .event_delivery()
        .await
        .expect("events URL set");
    let sessions: Value = client
        .get(format!("{base}/api/sessions"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("JSON");
    let listed = &sessions[0];
    assert_eq!(listed["id"], id.as_str());
    assert_eq!(listed["status"], "Success");
    assert_eq!(listed["networkCode"], "99999");
    assert_eq!(listed["hops"].as_array().expect("hops").len(), 3);
    assert_eq!(listed["hops"][2]["text"], "1*K9");
    assert_eq!(listed["event"]["event"]["status"], "Success");
    assert_eq!(listed["event"]["delivered"], true);
    assert_eq!(app.hops()[0].request.network_code, "99999");
}

#[tokio::test]
async fn the_api_applies_the_fault_switches_and_cancels() {
    let app = FakeApp::start(0).await;
    let base = spawn_phone(Gateway::new(app.config()).expect("gateway")).await;
    let client = reqwest::Client::new();

    let (_, step) = post(
        &client,
        format!("{base}/api/sessions"),
        json!({"phone": "+250788123456", "duplicateDelivery": true, "extendedDial": "1", "abandon": true}),
    )
    .await;
    assert_eq!(step["screen"]["text"], "Enter your code");
    assert_eq!(step["screen"]["duplicate"]["identical"], true);
    assert_eq!(step["session"]["open"], false, "abandoned as soon as the screen showed");
    assert_eq!(step["session"]["status"], "Incomplete");
    assert_eq!(app.hops().len(), 2);

    let (_, step) = post(
        &client,
        format!("{base}/api/sessions"),
        json!({"phone": "+250788123456"}),
    )
    .await;
    let id = step["session"]["id"].as_str().expect("an id").to_owned();
    let (status, session) = post(&client, format!("{base}/api/sessions/{id}/cancel"), json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(session["status"], "Incomplete");

    let (status, error) = post(&client, format!("{base}/api/sessions"), json!({"phone": "0788123456"})).await;
    assert_eq!(status, 422);
    assert!(error["error"].as_str().expect("message").contains("E.164"));
    let (status, _) = post(
        &client,
        format!("{base}/api/sessions/ATUid_nope/input"),
        json!({"input": "1"}),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_page_says_what_the_simulator_is_and_links_its_useful_pages() {
    let app = FakeApp::start(0).await;
    let base = spawn_phone(Gateway::new(app.config()).expect("gateway")).await;
    let client = reqwest::Client::new();
    let html = client
        .get(format!("{base}/"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(html.contains("id=\"about\""), "the page says what it stands in for");
    assert!(html.contains("stands in for a customer's phone"), "{html}");
    for link in ["/sim/sms", "/api/sessions", "/sim/sms/faults", "/api/config"] {
        assert!(html.contains(&format!("<a href=\"{link}\">")), "links {link}");
        let res = client.get(format!("{base}{link}")).send().await.expect("request");
        assert_eq!(res.status(), 200, "{link} answers");
    }
}
