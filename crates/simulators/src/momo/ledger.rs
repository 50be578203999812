//! The simulator's memory across restarts: an append-only JSON-lines file in `--data-dir`,
//! replayed at start. A transfer accepted before a restart keeps its status, its due time and
//! its place in the statement; the balance is rebuilt from the events.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use momo::Status;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::transfer::TransferRecord;

/// The file name inside the data directory.
pub const LEDGER_FILE: &str = "momo-ledger.jsonl";

/// One line of the ledger.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub(crate) enum Event {
    /// The ledger's first line: the account's opening balance.
    Opened {
        balance: u64,
        at: DateTime<Utc>,
    },
    #[serde(rename_all = "camelCase")]
    ApiUser {
        api_user: String,
        callback_host: String,
    },
    #[serde(rename_all = "camelCase")]
    ApiKey {
        api_user: String,
        api_key: String,
    },
    Transfer(Box<TransferRecord>),
    #[serde(rename_all = "camelCase")]
    Settled {
        reference_id: Uuid,
        at: DateTime<Utc>,
        status: Status,
        reason: Option<String>,
        financial_transaction_id: Option<String>,
    },
    TopUp {
        amount: u64,
        at: DateTime<Utc>,
    },
}

/// The open ledger file.
#[derive(Debug)]
pub(crate) struct Ledger {
    file: File,
    path: PathBuf,
}

/// A ledger that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("ledger {path} line {line}: {source}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
}

impl Ledger {
    /// Opens (creating) the ledger in `dir` and returns the events already in it. A torn last line
    /// (a crash mid-write) is skipped; a bad line before the end is an error, not silently lost data.
    pub(crate) fn open(dir: &Path) -> Result<(Self, Vec<Event>), LedgerError> {
        let path = dir.join(LEDGER_FILE);
        let io_error = |source| LedgerError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io_error)?;
        let mut events = Vec::new();
        if path.exists() {
            let lines: Vec<String> = BufReader::new(File::open(&path).map_err(io_error)?)
                .lines()
                .collect::<Result<_, _>>()
                .map_err(io_error)?;
            let last = lines.len();
            for (index, line) in lines.iter().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str(line) {
                    Ok(event) => events.push(event),
                    Err(error) if index + 1 == last => {
                        tracing::warn!(path = %path.display(), %error, "skipping a torn last ledger line");
                    }
                    Err(source) => {
                        return Err(LedgerError::Corrupt {
                            path,
                            line: index + 1,
                            source,
                        })
                    }
                }
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_error)?;
        Ok((Self { file, path }, events))
    }

    /// Appends one event as a line and flushes it.
    pub(crate) fn append(&mut self, event: &Event) -> Result<(), LedgerError> {
        let mut line = serde_json::to_vec(event).map_err(|source| LedgerError::Corrupt {
            path: self.path.clone(),
            line: 0,
            source,
        })?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.flush())
            .map_err(|source| LedgerError::Io {
                path: self.path.clone(),
                source,
            })
    }
}
