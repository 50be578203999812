//! Spawning the simulator on port 0 and a client provisioned against it.

use std::time::Duration;

use futures::FutureExt as _;
use momo::{Client, ClientConfig, Status, TransferRequest, TransferStatus};
use simulators::momo::{serve_with, MomoSim, SimConfig};
use tokio::task::JoinHandle;
use uuid::Uuid;

/// A running simulator; the server stops when this is dropped.
pub struct TestSim {
    pub sim: MomoSim,
    pub base_url: String,
    server: JoinHandle<()>,
}

impl Drop for TestSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Test timing: transfers settle quickly.
pub fn fast_config() -> SimConfig {
    SimConfig {
        settle_after: Duration::from_millis(150),
        delayed_settle_after: Duration::from_millis(600),
        ..SimConfig::default()
    }
}

pub async fn spawn(config: SimConfig) -> TestSim {
    let sim = MomoSim::new(config).expect("simulator opens");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base_url = format!("http://{}", listener.local_addr().expect("address"));
    let server = tokio::spawn(serve_with(sim.clone(), listener).map(|served| served.expect("serve")));
    TestSim { sim, base_url, server }
}

impl TestSim {
    /// A client configuration with the simulator's subscription key and environment, no user yet.
    pub fn bare_config(&self) -> ClientConfig {
        let config = self.sim.config();
        let mut client = ClientConfig::new(
            &self.base_url,
            &config.subscription_key,
            "",
            "",
            &config.target_environment,
        );
        client.timeout = Duration::from_secs(5);
        client
    }

    /// A sandbox user provisioned through the API (A3), with `localhost` as its callback host.
    pub async fn provisioned_config(&self) -> ClientConfig {
        momo::sandbox::provision(&self.bare_config(), "localhost")
            .await
            .expect("provisioning")
    }

    pub async fn client(&self) -> Client {
        Client::new(self.provisioned_config().await).expect("client")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

pub fn payout(amount: u64, msisdn: &str) -> TransferRequest {
    TransferRequest::new(amount, "EUR", "redemption-1", msisdn, "MBELYCO promo", "Murakoze").expect("valid request")
}

/// Polls the status until it is final (or fails the test after 5 s).
pub async fn until_final(client: &Client, reference: Uuid) -> TransferStatus {
    for _ in 0..100 {
        let status = client.transfer_status(reference).await.expect("status query");
        if status.status.is_final() {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("transfer {reference} did not settle");
}

/// Sends a transfer and waits for its final status.
pub async fn pay(client: &Client, amount: u64, msisdn: &str) -> (Uuid, TransferStatus) {
    let reference = Uuid::new_v4();
    client
        .transfer(reference, &payout(amount, msisdn), None)
        .await
        .expect("transfer accepted");
    (reference, until_final(client, reference).await)
}

pub fn reason_code(status: &TransferStatus) -> Option<&str> {
    status.reason.as_ref().map(|reason| reason.code.as_str())
}

pub fn assert_failed(status: &TransferStatus, reason: Option<&str>) {
    assert_eq!(status.status, Status::Failed, "{status:?}");
    assert_eq!(reason_code(status), reason, "{status:?}");
}
