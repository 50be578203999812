//! What the workspace's tests share: a headless Chromium (Debian's `chromium` and
//! `chromium-driver`) driven over WebDriver by its own chromedriver, closed when dropped; and a
//! webhook receiver that checks signatures ([`webhooks`]).

pub mod webhooks;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use serde_json::json;

/// A browser session and the chromedriver behind it. Dropping it ends the session (which closes
/// Chromium), stops the driver and removes the profile directory.
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: std::path::PathBuf,
    /// chromedriver's port and the WebDriver session, to end it before the driver goes
    port: u16,
    session: Option<String>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // end the session first: it closes Chromium (killing the driver alone left it running)
        if let Some(id) = &self.session {
            end_session(self.port, id);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Starts chromedriver on a free port and a headless Chromium with a fresh profile, with the
/// flags that keep it from reaching the network on its own.
pub async fn browser() -> Browser {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (apt-get install chromium chromium-driver)");
    // wait until the driver accepts connections
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    static PROFILES: AtomicU64 = AtomicU64::new(0);
    let profile = std::env::temp_dir().join(format!(
        "testkit-chrome-{}-{}",
        std::process::id(),
        PROFILES.fetch_add(1, Ordering::Relaxed)
    ));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--no-first-run",
                "--window-size=1280,900", format!("--user-data-dir={}", profile.display())
            ]
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session starts");
    let session = client.session_id().await.ok().flatten();
    Browser {
        client,
        driver,
        profile,
        port,
        session,
    }
}

/// `DELETE /session/{id}` on chromedriver, blocking (a `Drop` cannot await); waits for the answer,
/// which comes once the browser has quit.
fn end_session(port: u16, id: &str) {
    use std::io::{Read, Write};
    let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if conn.write_all(request.as_bytes()).is_ok() {
        // the answer's first bytes are enough (the driver may keep the connection open)
        let mut answer = [0u8; 1024];
        let _ = conn.read(&mut answer);
    }
}
