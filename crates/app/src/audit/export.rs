//! The audit export and its offline verification (decision 0052).
//!
//! [`stream`] writes the sealed rows the filters select, in chain order, from a cursor through a
//! small channel (never the whole export in memory), as CSV (cells through [`crate::csv_out`]) or
//! JSON lines. Each row carries what the chain hashes, exactly as it hashes it (JSON as
//! PostgreSQL's jsonb text, times to the microsecond), with its chain position, its
//! predecessor's hash and its hash, so [`verify_export`] (`mbelyco audit verify --file`) can
//! recompute every hash and link without the database.

use std::io::BufRead;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgPool, QueryBuilder};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::chain::{row_hash, CanonRow, CANON_COLUMNS, GENESIS};
use super::query::{push_filter, Filter};
use crate::codes::export::Chunks;
use crate::csv_out::CsvOut;
use crate::error::AppError;

/// CSV for people, JSON lines for `mbelyco audit verify --file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    pub fn parse(s: Option<&str>) -> Result<Format, AppError> {
        match s.map(str::trim).unwrap_or("") {
            "" | "jsonl" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            _ => Err(AppError::field("format", "must be jsonl or csv")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Jsonl => "application/x-ndjson",
        }
    }
}

/// One row of an export: its chain fields and its content as hashed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExportLine {
    pub chain_seq: i64,
    /// The predecessor's hash, hex (64 zeros before the first row).
    pub prev_hash: String,
    /// sha256(prevHash ‖ chainSeq ‖ the row's fields), hex.
    pub hash: String,
    pub id: Uuid,
    /// RFC 3339, UTC, to the microsecond.
    pub created_at: String,
    pub actor_type: String,
    pub actor_user_id: Option<Uuid>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub session_id: Option<Uuid>,
    /// As PostgreSQL prints an `inet` (`10.0.0.1/32`).
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// JSON text exactly as hashed.
    pub before: Option<String>,
    pub after: Option<String>,
    pub metadata: String,
}

/// The CSV header: the JSON line's fields, in order.
pub const CSV_HEADER: [&str; 17] = [
    "chain_seq",
    "prev_hash",
    "hash",
    "id",
    "created_at",
    "actor_type",
    "actor_user_id",
    "action",
    "entity_type",
    "entity_id",
    "session_id",
    "ip",
    "user_agent",
    "request_id",
    "before",
    "after",
    "metadata",
];

#[derive(FromRow)]
struct Sealed {
    chain_seq: i64,
    prev_hash: Vec<u8>,
    integrity_hash: Vec<u8>,
    #[sqlx(flatten)]
    canon: CanonRow,
}

impl ExportLine {
    fn of(s: Sealed) -> Self {
        let c = s.canon;
        ExportLine {
            chain_seq: s.chain_seq,
            prev_hash: hex::encode(s.prev_hash),
            hash: hex::encode(s.integrity_hash),
            id: c.id,
            created_at: c.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            actor_type: c.actor_type,
            actor_user_id: c.actor_user_id,
            action: c.action,
            entity_type: c.entity_type,
            entity_id: c.entity_id,
            session_id: c.session_id,
            ip: c.ip,
            user_agent: c.user_agent,
            request_id: c.request_id,
            before: c.before,
            after: c.after,
            metadata: c.metadata,
        }
    }

    fn cells(&self) -> [String; 17] {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        let u = |v: &Option<Uuid>| v.map(|u| u.to_string()).unwrap_or_default();
        [
            self.chain_seq.to_string(),
            self.prev_hash.clone(),
            self.hash.clone(),
            self.id.to_string(),
            self.created_at.clone(),
            self.actor_type.clone(),
            u(&self.actor_user_id),
            self.action.clone(),
            self.entity_type.clone(),
            o(&self.entity_id),
            u(&self.session_id),
            o(&self.ip),
            o(&self.user_agent),
            o(&self.request_id),
            o(&self.before),
            o(&self.after),
            self.metadata.clone(),
        ]
    }

    /// The row as the chain hashes it; `None` when the time does not parse.
    fn canon(&self) -> Option<CanonRow> {
        let created_at = DateTime::parse_from_rfc3339(&self.created_at).ok()?.with_timezone(&Utc);
        Some(CanonRow {
            id: self.id,
            created_at,
            actor_type: self.actor_type.clone(),
            actor_user_id: self.actor_user_id,
            action: self.action.clone(),
            entity_type: self.entity_type.clone(),
            entity_id: self.entity_id.clone(),
            session_id: self.session_id,
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
            before: self.before.clone(),
            after: self.after.clone(),
            metadata: self.metadata.clone(),
        })
    }
}

/// Rows per chunk sent down the channel.
const CHUNK_ROWS: usize = 1000;

/// Streams the sealed rows `filter` selects, in chain order (rows not yet sealed are left out:
/// they have no chain fields yet).
pub fn stream(pool: PgPool, filter: Filter, format: Format) -> Chunks {
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        let result = async {
            let mut qb = QueryBuilder::new(format!(
                "select c.chain_seq, c.prev_hash, c.integrity_hash, {CANON_COLUMNS} \
                 from audit_chain c join audit_logs a on a.id = c.audit_id where true"
            ));
            push_filter(&mut qb, &filter);
            qb.push(" order by c.chain_seq");
            let mut conn = pool.acquire().await?;
            let mut rows = qb.build_query_as::<Sealed>().fetch(&mut *conn);
            let mut csv = CsvOut::new();
            let mut buf: Vec<u8> = Vec::with_capacity(256 * 1024);
            if format == Format::Csv {
                csv.row(CSV_HEADER)?;
            }
            let mut n = 0usize;
            while let Some(row) = rows.next().await.transpose()? {
                let line = ExportLine::of(row);
                match format {
                    Format::Csv => csv.row(line.cells())?,
                    Format::Jsonl => {
                        serde_json::to_writer(&mut buf, &line).map_err(std::io::Error::other)?;
                        buf.push(b'\n');
                    }
                }
                n += 1;
                if n % CHUNK_ROWS == 0 {
                    let chunk = match format {
                        Format::Csv => csv.take()?,
                        Format::Jsonl => std::mem::replace(&mut buf, Vec::with_capacity(256 * 1024)),
                    };
                    if tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                        return Ok(());
                    }
                }
            }
            let last = match format {
                Format::Csv => csv.take()?,
                Format::Jsonl => buf,
            };
            let _ = tx.send(Ok(Bytes::from(last))).await;
            Ok::<_, anyhow::Error>(())
        }
        .await;
        if let Err(err) = result {
            tracing::error!(error = %err, "audit export failed mid-stream");
            let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
        }
    });
    rx
}

/// What an intact export holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineReport {
    pub rows: u64,
    pub first_seq: i64,
    pub last_seq: i64,
    /// The last row's hash: compare it with the chain head the panel shows.
    pub last_hash: String,
    /// Places where the export skips chain positions (a filtered export); the rows on either side
    /// are each still checked against the hash they name.
    pub gaps: u64,
}

/// The first row of an export that fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineBreak {
    /// 1-based line of the file.
    pub line: u64,
    pub chain_seq: Option<i64>,
    pub id: Option<Uuid>,
    pub reason: String,
}

impl std::fmt::Display for OfflineBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(s) = self.chain_seq {
            write!(f, ", chain position {s}")?;
        }
        if let Some(id) = self.id {
            write!(f, ", row {id}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

fn hash32(s: &str) -> Option<Vec<u8>> {
    hex::decode(s).ok().filter(|b| b.len() == 32)
}

/// Recomputes every row's hash of a JSON-lines export and checks each link to the row before.
/// `Ok(Err(…))` names the first row that fails; `Err` is a read error.
pub fn verify_export(r: impl BufRead) -> std::io::Result<Result<OfflineReport, OfflineBreak>> {
    let mut report: Option<OfflineReport> = None;
    let mut prev: Option<(i64, Vec<u8>)> = None;
    for (i, line) in r.lines().enumerate() {
        let line = line?;
        let no = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fail = |seq: Option<i64>,
                    id: Option<Uuid>,
                    reason: String|
         -> std::io::Result<Result<OfflineReport, OfflineBreak>> {
            Ok(Err(OfflineBreak {
                line: no,
                chain_seq: seq,
                id,
                reason,
            }))
        };
        let row: ExportLine = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => return fail(None, None, format!("not a row of an audit export ({e})")),
        };
        let (seq, id) = (Some(row.chain_seq), Some(row.id));
        let (Some(prev_hash), Some(hash)) = (hash32(&row.prev_hash), hash32(&row.hash)) else {
            return fail(seq, id, "prevHash and hash must be 64 hex digits".into());
        };
        let Some(canon) = row.canon() else {
            return fail(seq, id, "createdAt is not an RFC 3339 time".into());
        };
        let mut gap = false;
        match &prev {
            None if row.chain_seq == 1 && prev_hash != GENESIS => {
                return fail(seq, id, "the first row of the chain must follow 64 zeros".into());
            }
            None => {}
            Some((p_seq, _)) if row.chain_seq <= *p_seq => {
                return fail(
                    seq,
                    id,
                    format!("out of order: position {} after {p_seq}", row.chain_seq),
                );
            }
            Some((p_seq, p_hash)) if row.chain_seq == p_seq + 1 && *p_hash != prev_hash => {
                return fail(
                    seq,
                    id,
                    "link broken: prevHash does not match the previous row's hash".into(),
                );
            }
            Some((p_seq, _)) => gap = row.chain_seq != p_seq + 1,
        }
        if row_hash(&prev_hash, row.chain_seq, &canon)[..] != hash[..] {
            return fail(
                seq,
                id,
                "content changed: the row's hash does not match its fields".into(),
            );
        }
        let r = report.get_or_insert(OfflineReport {
            rows: 0,
            first_seq: row.chain_seq,
            last_seq: row.chain_seq,
            last_hash: String::new(),
            gaps: 0,
        });
        r.rows += 1;
        r.last_seq = row.chain_seq;
        r.last_hash = row.hash.clone();
        r.gaps += u64::from(gap);
        prev = Some((row.chain_seq, hash));
    }
    Ok(report.ok_or(OfflineBreak {
        line: 0,
        chain_seq: None,
        id: None,
        reason: "the file holds no rows".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<ExportLine> {
        let mut prev = GENESIS.to_vec();
        (1..=n)
            .map(|seq| {
                let c = CanonRow {
                    id: Uuid::from_u128(seq as u128),
                    created_at: DateTime::from_timestamp(1_700_000_000 + seq, 123_456_000).unwrap(),
                    actor_type: "system".into(),
                    actor_user_id: None,
                    action: "batch.created".into(),
                    entity_type: "batch".into(),
                    entity_id: Some(format!("b{seq}")),
                    session_id: None,
                    ip: Some("10.0.0.1/32".into()),
                    user_agent: None,
                    request_id: None,
                    before: None,
                    after: Some(r#"{"name": "Holiday"}"#.into()),
                    metadata: "{}".into(),
                };
                let h = row_hash(&prev, seq, &c);
                ExportLine::of(Sealed {
                    chain_seq: seq,
                    prev_hash: std::mem::replace(&mut prev, h.to_vec()),
                    integrity_hash: h.to_vec(),
                    canon: c,
                })
            })
            .collect()
    }

    fn file(lines: &[ExportLine]) -> String {
        lines.iter().map(|l| serde_json::to_string(l).unwrap() + "\n").collect()
    }

    #[test]
    fn an_intact_export_passes_and_a_changed_one_names_the_row() {
        let lines = chain(5);
        let ok = verify_export(file(&lines).as_bytes()).unwrap().unwrap();
        assert_eq!((ok.rows, ok.first_seq, ok.last_seq, ok.gaps), (5, 1, 5, 0));
        assert_eq!(ok.last_hash, lines[4].hash);

        let mut changed = lines.clone();
        changed[2].after = Some(r#"{"name": "Holidaz"}"#.into());
        let bad = verify_export(file(&changed).as_bytes()).unwrap().unwrap_err();
        assert_eq!((bad.line, bad.chain_seq), (3, Some(3)));
        assert!(bad.reason.contains("content changed"), "{bad}");

        let mut removed = lines.clone();
        removed.remove(0);
        let partial = verify_export(file(&removed).as_bytes()).unwrap().unwrap();
        assert_eq!((partial.first_seq, partial.rows), (2, 4));
        let mut gap = lines.clone();
        gap.remove(2);
        assert_eq!(verify_export(file(&gap).as_bytes()).unwrap().unwrap().gaps, 1);
    }
}
