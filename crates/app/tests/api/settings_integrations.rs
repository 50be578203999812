//! The integration settings take effect: CORS on `/api` from the live settings, API keys turned
//! off, and the outbound timeout of the SMS client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mbelyco::clock::ManualClock;
use mbelyco::jobs::{self, NewJob};
use mbelyco::settings::Category;
use serde_json::{json, Value};

use crate::helpers::{error_fields, now, spawn_app, TestApp, TestDb};

const PARTNER: &str = "https://partner.example.rw";

async fn preflight(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap()
}

fn allow_origin(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_opens_the_api_to_the_allowed_origins_only_and_follows_the_settings() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let api = "/api/v1/admin/settings/integrations";

    // off by default: even a listed origin would be refused
    let res = preflight(&app, api, PARTNER).await;
    assert_eq!(res.status(), 403);
    assert_eq!(allow_origin(&res), None);

    // an origin must be https://host[:port]
    let res = app
        .put_json(
            &key,
            api,
            &json!({"settings": {"corsEnabled": true, "corsAllowedOrigins": [PARTNER, "https://partner.example.rw/app"]}}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_fields(&body), vec!["integrations.corsAllowedOrigins[1]"]);

    let res = app
        .put_json(
            &key,
            api,
            &json!({"settings": {"corsEnabled": true, "corsAllowedOrigins": [PARTNER]}}),
        )
        .await;
    assert_eq!(res.status(), 200);

    let res = preflight(&app, api, PARTNER).await;
    assert_eq!(res.status(), 204);
    assert_eq!(allow_origin(&res).as_deref(), Some(PARTNER));
    let allowed_headers = res.headers()["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed_headers.contains("authorization"), "{allowed_headers}");
    assert!(res.headers().get("access-control-allow-credentials").is_none());

    // the call itself: answered with the origin, the request id readable by the script
    let res = app
        .client
        .get(app.url(api))
        .bearer_auth(&key)
        .header("origin", PARTNER)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(allow_origin(&res).as_deref(), Some(PARTNER));
    assert!(res.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("x-request-id"));

    // another origin: refused, no CORS header on its calls
    let res = preflight(&app, api, "https://evil.example").await;
    assert_eq!(res.status(), 403);
    assert_eq!(allow_origin(&res), None);
    let res = app
        .client
        .get(app.url(api))
        .bearer_auth(&key)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(allow_origin(&res), None);

    // pages are never opened to other sites
    let res = app
        .client
        .get(app.url("/sign-in"))
        .header("origin", PARTNER)
        .send()
        .await
        .unwrap();
    assert_eq!(allow_origin(&res), None);

    // turned off again: the very next preflight is refused
    app.set_settings(Category::Integrations, json!({"corsEnabled": false}))
        .await;
    let res = preflight(&app, api, PARTNER).await;
    assert_eq!(res.status(), 403);
    assert_eq!(allow_origin(&res), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_turned_off_are_refused_with_a_clear_401_and_sessions_still_work() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let path = "/api/v1/admin/settings/integrations";
    assert_eq!(app.get_as(&key, path).await.status(), 200);

    let browser = app.browser();
    let res = crate::helpers::password_step(
        &browser,
        &app,
        crate::helpers::ADMIN_EMAIL,
        crate::helpers::ADMIN_PASSWORD,
    )
    .await;
    assert_eq!(res.status(), 303);
    crate::helpers::finish_enrolment(&browser, &app).await;

    app.set_settings(Category::Integrations, json!({"apiKeysEnabled": false}))
        .await;
    let res = app.get_as(&key, path).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "urn:mbelyco:problem:api-keys-disabled");
    assert!(
        body["detail"].as_str().unwrap().contains("integrations.apiKeysEnabled"),
        "{body}"
    );
    // the signed-in session is not an API key
    let res = browser.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), 200);

    app.set_settings(Category::Integrations, json!({"apiKeysEnabled": true}))
        .await;
    assert_eq!(app.get_as(&key, path).await.status(), 200, "the key works again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_send_gives_up_after_the_outbound_timeout() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    // a server that takes the connection and never answers
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    crate::sms::configure_sms(&app, &base, "at-key-that-never-gets-an-answer").await;
    app.set_settings(Category::Integrations, json!({"outboundTimeoutSeconds": 2}))
        .await;

    let job = NewJob::new(
        mbelyco::alerts::sms::KIND,
        &json!({"to": "+250788123456", "message": "hello"}),
    )
    .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    jobs::enqueue(&mut conn, &job, now()).await.unwrap();
    drop(conn);

    let worker = crate::sms::worker(&app, Arc::new(ManualClock::new(now())));
    let started = Instant::now();
    worker.run_once().await.unwrap();
    let took = started.elapsed();
    // the default (30 s) would still be waiting; the setting's 2 s is what it waited
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "took {took:?}"
    );
    let (status, error): (String, Option<String>) =
        sqlx::query_as("select status, last_error from jobs where kind = 'sms.send'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(status, "queued", "a timeout is retried");
    let error = error.unwrap_or_default();
    assert!(error.contains("no answer from Africa's Talking within 2s"), "{error}");
}
