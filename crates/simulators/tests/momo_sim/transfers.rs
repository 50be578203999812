//! The happy path, tokens, duplicates, funds, the sandbox test numbers and the account-holder check.

use std::time::Duration;

use momo::{ApiUserInfo, Client, ErrorClass, MomoError, Status};
use simulators::momo::sandbox::{TransferOutcome, TRANSFER_NUMBERS};
use simulators::momo::{ReasonMode, SimConfig};
use uuid::Uuid;

use crate::helpers::{assert_failed, fast_config, pay, payout, spawn, until_final};

#[tokio::test]
async fn provision_token_transfer_pending_then_successful() {
    let sim = spawn(fast_config()).await;
    let config = sim.provisioned_config().await;
    let info: ApiUserInfo = reqwest::Client::new()
        .get(sim.url(&format!("/v1_0/apiuser/{}", config.api_user)))
        .header("Ocp-Apim-Subscription-Key", &sim.sim.config().subscription_key)
        .send()
        .await
        .expect("user info")
        .json()
        .await
        .expect("user info body");
    assert_eq!(info.provider_callback_host, "localhost");
    assert_eq!(info.target_environment, "sandbox");

    let client = Client::new(config).expect("client");
    let before: u64 = client
        .balance()
        .await
        .expect("balance")
        .available_balance
        .parse()
        .expect("number");
    let reference = Uuid::new_v4();
    let accepted = client
        .transfer(reference, &payout(5000, "250788123456"), None)
        .await
        .expect("202");
    assert_eq!(accepted.reference_id, reference);

    let first = client.transfer_status(reference).await.expect("status");
    assert_eq!(first.status, Status::Pending);
    assert_eq!(first.financial_transaction_id, None);

    let done = until_final(&client, reference).await;
    assert_eq!(done.status, Status::Successful);
    assert_eq!(done.amount, "5000");
    assert_eq!(done.external_id, "redemption-1");
    assert_eq!(done.payee.party_id, "250788123456");
    assert!(done.financial_transaction_id.is_some_and(|id| id.len() == 10));
    assert_eq!(done.reason, None);

    let after: u64 = client
        .balance()
        .await
        .expect("balance")
        .available_balance
        .parse()
        .expect("number");
    assert_eq!(after, before - 5000);
    assert_eq!(sim.sim.tokens_issued(), 1, "one token serves every call");
}

#[tokio::test]
async fn token_is_refreshed_before_expiry() {
    let sim = spawn(SimConfig {
        token_ttl: Duration::from_secs(4),
        ..fast_config()
    })
    .await;
    let client = sim.client().await;
    client.balance().await.expect("balance with the first token");
    client.balance().await.expect("same token");
    assert_eq!(sim.sim.tokens_issued(), 1);
    // The 4 s token is replaced after half its life (the 60 s margin, capped at half).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    client.balance().await.expect("balance with a refreshed token");
    assert_eq!(sim.sim.tokens_issued(), 2);
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_retries() {
    let sim = spawn(fast_config()).await;
    let client = sim.client().await;
    client.balance().await.expect("balance");
    sim.sim.revoke_tokens();
    client.balance().await.expect("balance after the token was revoked");
    assert_eq!(sim.sim.tokens_issued(), 2);

    sim.sim.revoke_tokens();
    let reference = Uuid::new_v4();
    client
        .transfer(reference, &payout(100, "250788123456"), None)
        .await
        .expect("transfer retried with a fresh token");
    assert_eq!(sim.sim.transfers().len(), 1, "exactly one transfer recorded");
}

#[tokio::test]
async fn a_reused_reference_is_409_and_the_first_transfer_stands() {
    let sim = spawn(fast_config()).await;
    let client = sim.client().await;
    let reference = Uuid::new_v4();
    client
        .transfer(reference, &payout(700, "250788123456"), None)
        .await
        .expect("202");
    let error = client
        .transfer(reference, &payout(900, "250788999999"), None)
        .await
        .expect_err("409");
    assert!(matches!(error, MomoError::Duplicate { reference_id } if reference_id == reference));
    assert_eq!(error.class(), ErrorClass::Ambiguous);
    let status = until_final(&client, reference).await;
    assert_eq!((status.amount.as_str(), status.status), ("700", Status::Successful));
    assert_eq!(sim.sim.transfers().len(), 1);
}

#[tokio::test]
async fn an_empty_account_fails_transfers_with_not_enough_funds_until_topped_up() {
    let sim = spawn(SimConfig {
        starting_balance: 1000,
        ..fast_config()
    })
    .await;
    let client = sim.client().await;
    let (_, first) = pay(&client, 800, "250788123456").await;
    assert_eq!(first.status, Status::Successful);
    let (_, second) = pay(&client, 800, "250788123456").await;
    assert_failed(&second, Some("NOT_ENOUGH_FUNDS"));
    assert_eq!(client.balance().await.expect("balance").available_balance, "200");

    let topped: serde_json::Value = reqwest::Client::new()
        .post(sim.url("/sim/balance/top-up"))
        .json(&serde_json::json!({"amount": 5000}))
        .send()
        .await
        .expect("top-up")
        .json()
        .await
        .expect("top-up body");
    assert_eq!(topped["availableBalance"], "5200");
    let (_, third) = pay(&client, 800, "250788123456").await;
    assert_eq!(third.status, Status::Successful);
}

/// Every A12 transfer number, read through each `reason` shape the simulator can send.
#[tokio::test]
async fn sandbox_test_numbers_end_as_documented_in_every_reason_shape() {
    for mode in [ReasonMode::Object, ReasonMode::String, ReasonMode::Omitted] {
        let sim = spawn(SimConfig {
            reason_mode: mode,
            ..fast_config()
        })
        .await;
        let client = sim.client().await;
        let mut sent = Vec::new();
        for (msisdn, label, outcome) in TRANSFER_NUMBERS {
            let reference = Uuid::new_v4();
            client
                .transfer(reference, &payout(10, msisdn), None)
                .await
                .expect("202");
            sent.push((reference, label, outcome));
        }
        let mut ongoing = Vec::new();
        for (reference, label, outcome) in sent {
            match outcome {
                TransferOutcome::Succeed | TransferOutcome::Delayed => {
                    assert_eq!(
                        until_final(&client, reference).await.status,
                        Status::Successful,
                        "{label}"
                    );
                }
                TransferOutcome::Fail(reason) => {
                    let status = until_final(&client, reference).await;
                    let expected = if mode == ReasonMode::Omitted { None } else { reason };
                    assert_failed(&status, expected);
                }
                TransferOutcome::Ongoing => ongoing.push(reference),
            }
        }
        // Checked last, once every other number (the delayed one included) has settled.
        for reference in ongoing {
            assert_eq!(
                client.transfer_status(reference).await.expect("status").status,
                Status::Pending
            );
        }
    }
}

#[tokio::test]
async fn the_delayed_number_stays_pending_longer_than_an_ordinary_one() {
    let sim = spawn(SimConfig {
        delayed_settle_after: Duration::from_secs(2),
        ..fast_config()
    })
    .await;
    let client = sim.client().await;
    let delayed = Uuid::new_v4();
    client
        .transfer(delayed, &payout(10, "46733123454"), None)
        .await
        .expect("202");
    let (_, ordinary) = pay(&client, 10, "250788123456").await;
    assert_eq!(ordinary.status, Status::Successful);
    assert_eq!(
        client.transfer_status(delayed).await.expect("status").status,
        Status::Pending
    );
    assert_eq!(until_final(&client, delayed).await.status, Status::Successful);
}

#[tokio::test]
async fn account_holder_check_reports_inactive_and_unknown_numbers_as_false() {
    let sim = spawn(SimConfig {
        inactive: vec!["250788000001".to_owned(), "25072*".to_owned()],
        ..fast_config()
    })
    .await;
    let client = sim.client().await;
    assert!(client.account_active("250788123456").await.expect("active"));
    assert!(!client.account_active("250788000001").await.expect("listed"));
    assert!(!client.account_active("250722123456").await.expect("by prefix"));
    assert!(!client.account_active("46733123450").await.expect("sandbox NotFound"));
    assert!(!client.account_active("46733123451").await.expect("sandbox NotActive"));
    let not_allowed = client.account_active("46733123452").await.expect_err("NotAllowed");
    assert_eq!(not_allowed.class(), ErrorClass::Configuration);
    let unavailable = client
        .account_active("46733123455")
        .await
        .expect_err("ServiceUnavailable");
    assert_eq!(unavailable.class(), ErrorClass::Retryable);

    let (_, status) = pay(&client, 10, "250722123456").await;
    assert_failed(&status, Some("PAYEE_NOT_ALLOWED_TO_RECEIVE"));
}

#[tokio::test]
async fn an_unknown_reference_is_not_found() {
    let sim = spawn(fast_config()).await;
    let client = sim.client().await;
    let error = client.transfer_status(Uuid::new_v4()).await.expect_err("404");
    assert!(matches!(error, MomoError::NotFound { .. }), "{error:?}");
    assert_eq!(error.reason_code(), Some("RESOURCE_NOT_FOUND"));
}
