//! Faults and refusals, and how the client classifies them (A5, A8, A11, A13, A16).

use std::time::Duration;

use momo::{Client, ClientConfig, ErrorClass, MomoError, Status};
use reqwest::StatusCode;
use simulators::momo::{Faults, SimConfig};
use uuid::Uuid;

use crate::helpers::{fast_config, payout, spawn, until_final, TestSim};

async fn put_faults(sim: &TestSim, faults: serde_json::Value) {
    let response = reqwest::Client::new()
        .put(sim.url("/sim/faults"))
        .json(&faults)
        .send()
        .await
        .expect("PUT /sim/faults");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_timeout_after_the_transfer_was_created_is_ambiguous_and_the_status_query_finds_it() {
    let sim = spawn(fast_config()).await;
    let mut config = sim.provisioned_config().await;
    config.timeout = Duration::from_millis(500);
    let client = Client::new(config).expect("client");
    put_faults(&sim, serde_json::json!({"timeoutAfterCreateRate": 1.0, "hangMs": 3000})).await;

    let reference = Uuid::new_v4();
    let error = client
        .transfer(reference, &payout(300, "250788123456"), None)
        .await
        .expect_err("no answer in time");
    assert!(matches!(error, MomoError::Timeout { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Ambiguous);

    put_faults(&sim, serde_json::json!({})).await;
    let found = until_final(&client, reference).await;
    assert_eq!(found.status, Status::Successful, "the transfer existed all along");
    let again = client
        .transfer(reference, &payout(300, "250788123456"), None)
        .await
        .expect_err("re-POST of the same reference");
    assert!(matches!(again, MomoError::Duplicate { .. }));
    assert_eq!(sim.sim.transfers().len(), 1, "paid once");
}

#[tokio::test]
async fn a_connection_dropped_after_the_transfer_was_created_is_ambiguous_and_the_transfer_exists() {
    let sim = spawn(fast_config()).await;
    let client = sim.client().await;
    put_faults(&sim, serde_json::json!({"dropAfterCreateRate": 1.0})).await;
    let reference = Uuid::new_v4();
    let error = client
        .transfer(reference, &payout(300, "250788123456"), None)
        .await
        .expect_err("the connection closes without an answer");
    assert!(matches!(error, MomoError::Network { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Ambiguous);
    put_faults(&sim, serde_json::json!({})).await;
    assert_eq!(until_final(&client, reference).await.status, Status::Successful);
    assert_eq!(sim.sim.transfers().len(), 1);
}

#[tokio::test]
async fn server_faults_are_classified_and_create_nothing() {
    let sim = spawn(fast_config()).await;
    let client = sim.client().await;
    client.balance().await.expect("token fetched before the faults");

    sim.sim.set_faults(Faults {
        error_500_rate: 1.0,
        ..Faults::default()
    });
    let reference = Uuid::new_v4();
    let error = client
        .transfer(reference, &payout(10, "250788123456"), None)
        .await
        .expect_err("500");
    assert_eq!(error.reason_code(), Some("INTERNAL_PROCESSING_ERROR"));
    assert_eq!(
        error.class(),
        ErrorClass::Ambiguous,
        "a 500 on the POST may hide a transfer"
    );
    assert_eq!(client.balance().await.expect_err("500").class(), ErrorClass::Retryable);

    sim.sim.set_faults(Faults {
        error_503_rate: 1.0,
        ..Faults::default()
    });
    let error = client
        .transfer(reference, &payout(10, "250788123456"), None)
        .await
        .expect_err("503");
    assert_eq!(error.class(), ErrorClass::Retryable);

    sim.sim.set_faults(Faults {
        rate_429: 1.0,
        ..Faults::default()
    });
    let error = client.transfer_status(reference).await.expect_err("429");
    assert!(matches!(error, MomoError::Http { status: 429, .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Retryable);

    sim.sim.set_faults(Faults::default());
    let error = client.transfer_status(reference).await.expect_err("never created");
    assert!(matches!(error, MomoError::NotFound { .. }));
    assert!(sim.sim.transfers().is_empty());
}

#[tokio::test]
async fn latency_is_added_to_business_calls() {
    let sim = spawn(fast_config()).await;
    let client = sim.client().await;
    client.balance().await.expect("token");
    put_faults(&sim, serde_json::json!({"latencyMs": 300})).await;
    let started = std::time::Instant::now();
    client.balance().await.expect("slow balance");
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn wrong_credentials_environment_or_currency_are_configuration_errors() {
    let sim = spawn(fast_config()).await;
    let good = sim.provisioned_config().await;

    let wrong_key = Client::new(ClientConfig {
        api_key: "not-the-key".to_owned().into(),
        ..good.clone()
    })
    .expect("client");
    let error = wrong_key.balance().await.expect_err("401 on token");
    assert!(matches!(error, MomoError::Http { status: 401, .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Configuration);

    let collection_key = Client::new(ClientConfig {
        subscription_key: "a-collection-key".to_owned().into(),
        ..good.clone()
    })
    .expect("client");
    assert_eq!(
        collection_key.balance().await.expect_err("401").class(),
        ErrorClass::Configuration
    );

    let wrong_env = Client::new(ClientConfig {
        target_environment: "mtnrwanda".to_owned(),
        ..good.clone()
    })
    .expect("client");
    let error = wrong_env
        .balance()
        .await
        .expect_err("500 NOT_ALLOWED_TARGET_ENVIRONMENT");
    assert_eq!(error.reason_code(), Some("NOT_ALLOWED_TARGET_ENVIRONMENT"));
    assert_eq!(error.class(), ErrorClass::Configuration);

    let client = Client::new(good).expect("client");
    let rwf = momo::TransferRequest::new(10, "RWF", "r", "250788123456", "promo", "promo").expect("valid");
    let error = client
        .transfer(Uuid::new_v4(), &rwf, None)
        .await
        .expect_err("sandbox is EUR only");
    assert_eq!(error.reason_code(), Some("INVALID_CURRENCY"));
    assert_eq!(error.class(), ErrorClass::Configuration);
    assert!(sim.sim.transfers().is_empty());
}

#[tokio::test]
async fn the_client_refuses_what_momo_would_reject_without_sending_it() {
    let sim = spawn(fast_config()).await;
    let client = sim.client().await;
    let mut request = payout(10, "250788123456");
    request.payee_note = Some("n'amafaranga".to_owned());
    let error = client
        .transfer(Uuid::new_v4(), &request, None)
        .await
        .expect_err("apostrophe");
    assert!(matches!(error, MomoError::Invalid(_)));
    assert_eq!(error.class(), ErrorClass::Terminal);
    let error = client
        .transfer(Uuid::now_v7(), &payout(10, "250788123456"), None)
        .await
        .expect_err("not v4");
    assert_eq!(error.class(), ErrorClass::Terminal);
    assert_eq!(sim.sim.tokens_issued(), 0, "nothing was sent");
}

/// What a careless client would send, straight over HTTP: MoMo's 400s (A13, A15.4).
#[tokio::test]
async fn the_simulator_answers_malformed_requests_with_400() {
    let sim = spawn(fast_config()).await;
    let config = sim.provisioned_config().await;
    let http = reqwest::Client::new();
    let key = sim.sim.config().subscription_key.clone();
    let with_body = http
        .post(sim.url("/disbursement/token/"))
        .basic_auth(
            &config.api_user,
            Some(secrecy::ExposeSecret::expose_secret(&config.api_key)),
        )
        .header("Ocp-Apim-Subscription-Key", &key)
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .expect("token with a body");
    assert_eq!(with_body.status(), StatusCode::BAD_REQUEST, "A4: no body on /token");

    let token: serde_json::Value = http
        .post(sim.url("/disbursement/token/"))
        .basic_auth(
            &config.api_user,
            Some(secrecy::ExposeSecret::expose_secret(&config.api_key)),
        )
        .header("Ocp-Apim-Subscription-Key", &key)
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token body");
    assert_eq!(token["token_type"], "access_token");
    assert_eq!(token["expires_in"], 3600);
    let bearer = token["access_token"].as_str().expect("token").to_owned();
    let transfer = |reference: String, body: serde_json::Value| {
        http.post(sim.url("/disbursement/v1_0/transfer"))
            .bearer_auth(&bearer)
            .header("Ocp-Apim-Subscription-Key", &key)
            .header("X-Target-Environment", "sandbox")
            .header("X-Reference-Id", reference)
            .json(&body)
            .send()
    };
    let good = serde_json::json!({"amount":"10","currency":"EUR","externalId":"x",
        "payee":{"partyIdType":"MSISDN","partyId":"250788123456"},"payerMessage":"hi","payeeNote":"hi"});
    let mut apostrophe = good.clone();
    apostrophe["payeeNote"] = "n'amafaranga".into();
    let mut decimals = good.clone();
    decimals["amount"] = "10.50".into();
    let mut long = good.clone();
    long["payerMessage"] = "x".repeat(161).into();
    for (label, reference, body) in [
        ("apostrophe", Uuid::new_v4().to_string(), apostrophe),
        ("decimals", Uuid::new_v4().to_string(), decimals),
        ("long note", Uuid::new_v4().to_string(), long),
        ("not a v4 reference", Uuid::now_v7().to_string(), good.clone()),
        ("not a uuid", "123".to_owned(), good.clone()),
    ] {
        let response = transfer(reference, body).await.expect("transfer");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{label}");
    }
    let accepted = transfer(Uuid::new_v4().to_string(), good).await.expect("transfer");
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    assert!(accepted.text().await.expect("body").is_empty(), "202 has an empty body");
}

#[tokio::test]
async fn reprovisioning_the_same_api_user_is_409() {
    let sim = spawn(SimConfig::default()).await;
    let http = reqwest::Client::new();
    let id = Uuid::new_v4().to_string();
    let create = || {
        http.post(sim.url("/v1_0/apiuser"))
            .header("X-Reference-Id", &id)
            .header("Ocp-Apim-Subscription-Key", &sim.sim.config().subscription_key)
            .json(&serde_json::json!({"providerCallbackHost": "localhost"}))
            .send()
    };
    assert_eq!(create().await.expect("first").status(), StatusCode::CREATED);
    let second = create().await.expect("second");
    assert_eq!(second.status(), StatusCode::CONFLICT);
    let body: serde_json::Value = second.json().await.expect("body");
    assert_eq!(body["code"], "RESOURCE_ALREADY_EXIST");
}

#[tokio::test]
async fn an_unreachable_momo_is_retryable_even_for_a_transfer() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let client = Client::new(ClientConfig::new(closed, "key", "user", "secret", "sandbox")).expect("client");
    let error = client
        .transfer(Uuid::new_v4(), &payout(10, "250788123456"), None)
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, MomoError::Connect { .. }), "{error:?}");
    assert_eq!(
        error.class(),
        ErrorClass::Retryable,
        "a request never sent cannot have created a transfer"
    );
}
