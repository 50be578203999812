//! The ledger survives a restart, and the statement lists what was paid (reconciliation, DESIGN §5).

use std::path::PathBuf;

use momo::Status;
use simulators::momo::{SimConfig, STATEMENT_HEADER};
use uuid::Uuid;

use crate::helpers::{fast_config, pay, payout, spawn, until_final};

fn temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("momo-sim-test-{}", Uuid::new_v4()))
}

#[tokio::test]
async fn transfers_balance_and_api_users_survive_a_restart() {
    let dir = temp_dir();
    let config = SimConfig {
        data_dir: Some(dir.clone()),
        starting_balance: 10_000,
        ..fast_config()
    };
    let first = spawn(config.clone()).await;
    let client_config = first.provisioned_config().await;
    let client = momo::Client::new(client_config.clone()).expect("client");
    let (paid, _) = pay(&client, 4000, "250788123456").await;
    let pending = Uuid::new_v4();
    client
        .transfer(pending, &payout(1000, "250788123456"), None)
        .await
        .expect("202 just before the restart");
    drop(first);

    let second = spawn(config).await;
    let client = momo::Client::new(momo::ClientConfig {
        base_url: second.base_url.clone(),
        ..client_config
    })
    .expect("client for the restarted simulator");
    let status = client
        .transfer_status(paid)
        .await
        .expect("the API user and the transfer survived");
    assert_eq!(status.status, Status::Successful);
    assert!(status.financial_transaction_id.is_some());
    assert_eq!(until_final(&client, pending).await.status, Status::Successful);
    assert_eq!(client.balance().await.expect("balance").available_balance, "5000");
    assert_eq!(second.sim.transfers().len(), 2);
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[tokio::test]
async fn the_statement_lists_every_transfer_for_reconciliation() {
    let sim = spawn(fast_config()).await;
    let client = sim.client().await;
    let (paid, paid_status) = pay(&client, 1200, "250788123456").await;
    let (failed, _) = pay(&client, 300, "46733123455").await;

    let csv = reqwest::get(sim.url("/sim/statement.csv"))
        .await
        .expect("statement")
        .text()
        .await
        .expect("statement body");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], STATEMENT_HEADER.join(","));
    assert_eq!(lines.len(), 3, "{csv}");
    let row = |reference: Uuid| -> Vec<String> {
        let line = lines
            .iter()
            .find(|l| l.contains(&reference.to_string()))
            .expect("a row");
        line.split(',').map(str::to_owned).collect()
    };
    let paid_row = row(paid);
    assert_eq!(
        paid_row[2..9],
        [
            paid_status.financial_transaction_id.clone().expect("id"),
            "redemption-1".into(),
            "250788123456".into(),
            "1200".into(),
            "EUR".into(),
            "SUCCESSFUL".into(),
            String::new()
        ]
    );
    let failed_row = row(failed);
    assert_eq!(failed_row[7..9], ["FAILED".to_owned(), "NOT_ENOUGH_FUNDS".to_owned()]);

    let today = paid_row[0][..10].to_owned();
    let same_day = reqwest::get(sim.url(&format!("/sim/statement.csv?from={today}&to={today}")))
        .await
        .expect("statement")
        .text()
        .await
        .expect("body");
    assert_eq!(same_day.lines().count(), 3);
    let later = reqwest::get(sim.url("/sim/statement.csv?from=2999-01-01"))
        .await
        .expect("statement")
        .text()
        .await
        .expect("body");
    assert_eq!(later.lines().count(), 1, "header only");
    let bad = reqwest::get(sim.url("/sim/statement.csv?from=yesterday"))
        .await
        .expect("statement");
    assert_eq!(bad.status(), reqwest::StatusCode::BAD_REQUEST);
}
