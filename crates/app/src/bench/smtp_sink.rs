//! A minimal SMTP server on 127.0.0.1 for the bench and the tests: it speaks enough SMTP for
//! lettre (no TLS, no authentication), accepts any number of connections, and keeps each message
//! it accepted with the moment it answered `250` to its data. With [`Mode::Refuse`] it answers
//! every `MAIL FROM` with `554`, as a server that will not take mail.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How the sink answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    Refuse,
}

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// The `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The message as sent (headers and body), dot-stuffing undone.
    pub data: String,
    pub accepted_at: Instant,
}

/// A running sink; it stops when dropped.
pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    refused: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    pub async fn start(mode: Mode) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(0));
        let (r, f) = (Arc::clone(&received), Arc::clone(&refused));
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (r, f) = (Arc::clone(&r), Arc::clone(&f));
                tokio::spawn(async move {
                    let _ = session(sock, mode, r, f).await;
                });
            }
        });
        Ok(Self {
            port,
            received,
            refused,
            task,
        })
    }

    /// The messages accepted so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many `MAIL FROM` were refused.
    pub fn refused(&self) -> usize {
        *self.refused.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn session(
    sock: TcpStream,
    mode: Mode,
    received: Arc<Mutex<Vec<Received>>>,
    refused: Arc<Mutex<usize>>,
) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut lines = BufReader::new(r).lines();
    w.write_all(b"220 sink ESMTP\r\n").await?;
    let (mut to, mut data, mut in_data) = (Vec::new(), String::new(), false);
    while let Some(line) = lines.next_line().await? {
        if in_data {
            if line == "." {
                in_data = false;
                received.lock().unwrap_or_else(PoisonError::into_inner).push(Received {
                    to: std::mem::take(&mut to),
                    data: std::mem::take(&mut data),
                    accepted_at: Instant::now(),
                });
                w.write_all(b"250 queued\r\n").await?;
            } else {
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                data.push('\n');
            }
            continue;
        }
        let cmd = line.to_ascii_uppercase();
        if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
            w.write_all(b"250-sink\r\n250 8BITMIME\r\n").await?;
        } else if cmd.starts_with("MAIL FROM") && mode == Mode::Refuse {
            *refused.lock().unwrap_or_else(PoisonError::into_inner) += 1;
            w.write_all(b"554 5.7.1 no mail accepted here\r\n").await?;
        } else if cmd.starts_with("RCPT TO") {
            let addr = line.get(7..).unwrap_or("").trim().trim_start_matches(':').trim();
            to.push(addr.trim_matches(|c| c == '<' || c == '>').to_owned());
            w.write_all(b"250 ok\r\n").await?;
        } else if cmd.starts_with("DATA") {
            in_data = true;
            w.write_all(b"354 go ahead\r\n").await?;
        } else if cmd.starts_with("QUIT") {
            w.write_all(b"221 bye\r\n").await?;
            break;
        } else {
            w.write_all(b"250 ok\r\n").await?;
        }
    }
    Ok(())
}
