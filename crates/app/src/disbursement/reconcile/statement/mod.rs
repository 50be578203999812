//! MoMo statement files: read as they stream in, checked line by line, stored for runs.
//!
//! Two layouts are accepted, told apart by the header (column names are matched without case,
//! spaces, `_`, `-` or `.`):
//!
//! - **simulator** — what the MoMo simulator's `GET /sim/statement.csv` writes (and what an
//!   operator can build from MoMo's API): `date, reference, financialTransactionId, externalId,
//!   msisdn, amount, currency, status, reason`. `reference` is the `X-Reference-Id`.
//! - **mtn_portal** — the transaction-history export of MTN's partner portal as we understand it:
//!   `Id` (MoMo's ledger id, our `financialTransactionId`), `External Transaction Id`, `Date`,
//!   `Status`, `To` (e.g. `FRI:250788123456/MSISDN`), `Amount` (debits may be negative),
//!   `Currency`, and others that are ignored. It has no reference id, so its lines are matched by
//!   ledger id, then by external id.
//!
//! The date column may also be called `created` (as the simulator once wrote it), `Transaction
//! Date`, `Date Time`, `Creation Date` and the like ([`DATE_NAMES`]). A header without the needed
//! columns is refused with the columns it has and those it needs.
//!
//! Required: a date, an amount, a status, and at least one of reference / ledger id / external
//! id per line. Dates are RFC 3339, or `YYYY-MM-DD HH:MM[:SS]` / `DD/MM/YYYY HH:MM[:SS]` read as
//! Kigali time. Amounts are whole units (`1,000`, `1000.00` and `-1000` are fine). Statuses map
//! to `SUCCESSFUL` (successful, success, completed), `FAILED` (failed, rejected, timeout,
//! cancelled, error) and `PENDING` (pending, ongoing, created, in progress). A reference (or a
//! ledger id) appearing twice is an error. Every bad line is reported with its line number as an
//! editor counts it; nothing is stored unless the whole file is good.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::clock::kigali;

/// At most this many bad lines are reported (the count covers them all).
pub const MAX_REPORTED_ERRORS: usize = 50;
/// Upload cap.
pub const MAX_STATEMENT_BYTES: usize = 64 * 1024 * 1024;
/// The longest line (record) accepted: a longer one is a quote never closed, not a statement.
const MAX_RECORD_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    Simulator,
    MtnPortal,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Simulator => "simulator",
            Layout::MtnPortal => "mtn_portal",
        }
    }
}

/// One checked line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub line: u32,
    pub occurred_at: DateTime<Utc>,
    pub reference_id: Option<Uuid>,
    pub financial_transaction_id: Option<String>,
    pub external_id: Option<String>,
    pub msisdn: Option<String>,
    pub amount: i64,
    pub currency: Option<String>,
    pub status: &'static str,
    pub reason: Option<String>,
}

/// A line that is not valid, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    pub line: u32,
    pub message: String,
}

#[derive(Debug, Clone, Copy, Default)]
struct Columns {
    date: Option<usize>,
    reference: Option<usize>,
    ftid: Option<usize>,
    external: Option<usize>,
    msisdn: Option<usize>,
    amount: Option<usize>,
    currency: Option<usize>,
    status: Option<usize>,
    reason: Option<usize>,
}

fn normalise(name: &str) -> String {
    name.trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.' | '/'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The names a statement's date column goes by (normalised): the simulator's `date` (and its
/// older `created`), MTN's portal and statement exports (`Date`, `Transaction Date`, `Date Time`,
/// `Created`, `Creation Date`, `Initiated`, …).
const DATE_NAMES: [&str; 17] = [
    "date",
    "created",
    "createdat",
    "createdon",
    "creationdate",
    "datecreated",
    "datetime",
    "dateandtime",
    "transactiondate",
    "transactiondatetime",
    "transactiontime",
    "txndate",
    "initiated",
    "initiatedat",
    "completedat",
    "timestamp",
    "time",
];

/// What a header must name, as the refusal says it.
const NEEDED: &str = "a date (`date`, `created`, `Date`, `Transaction Date`, `Date Time`, …), `amount`, `status`, \
     and a reference (`reference`, `financialTransactionId`/`Id` or `externalId`/`External Transaction Id`)";

impl Columns {
    fn from_header(header: &[String]) -> Result<(Self, Layout), String> {
        let names: Vec<String> = header.iter().map(|n| normalise(n)).collect();
        let find = |aliases: &[&str]| names.iter().position(|n| aliases.contains(&n.as_str()));
        let c = Columns {
            date: find(&DATE_NAMES),
            reference: find(&["reference", "referenceid", "xreferenceid", "transactionreference"]),
            ftid: find(&["financialtransactionid", "id", "transactionid", "financialid"]),
            external: find(&["externalid", "externaltransactionid", "externalreference"]),
            msisdn: find(&[
                "msisdn",
                "to",
                "payee",
                "partyid",
                "receiver",
                "tomsisdn",
                "payeemsisdn",
            ]),
            amount: find(&["amount"]),
            currency: find(&["currency", "amountcurrency"]),
            status: find(&["status", "transactionstatus"]),
            reason: find(&["reason", "information", "errorreason", "failurereason"]),
        };
        let mut missing = Vec::new();
        if c.date.is_none() {
            missing.push("date");
        }
        if c.amount.is_none() {
            missing.push("amount");
        }
        if c.status.is_none() {
            missing.push("status");
        }
        if c.reference.is_none() && c.ftid.is_none() && c.external.is_none() {
            missing.push("reference");
        }
        if let Some((last, init)) = missing.split_last() {
            let list = if init.is_empty() {
                (*last).to_owned()
            } else {
                format!("{} or {last}", init.join(", "))
            };
            let found: Vec<String> = header
                .iter()
                .map(|h| h.trim().trim_start_matches('\u{feff}'))
                .filter(|h| !h.is_empty())
                .take(40)
                .map(|h| format!("`{}`", clip(h)))
                .collect();
            return Err(format!(
                "the header has no {list} column, so this is not a MoMo statement. Found columns: {}. Needed: {NEEDED}",
                if found.is_empty() {
                    "none".to_owned()
                } else {
                    found.join(", ")
                },
            ));
        }
        let layout = if c.reference.is_some() {
            Layout::Simulator
        } else {
            Layout::MtnPortal
        };
        Ok((c, layout))
    }
}

fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%Y %H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .and_then(|n| n.and_local_timezone(kigali()).single())
    .map(|t| t.with_timezone(&Utc))
}

/// `1,000`, `1000.00`, `-1000`, `RWF 1000` → 1000; fractions of a unit are an error.
fn parse_amount(s: &str) -> Result<i64, String> {
    let cleaned: String = s
        .trim()
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .chars()
        .filter(|c| !matches!(c, ',' | ' ' | '\u{a0}' | '+'))
        .collect();
    let cleaned = cleaned.trim_start_matches('-');
    let (whole, frac) = cleaned.split_once('.').unwrap_or((cleaned, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("amount `{}` is not a number", clip(s)));
    }
    if !frac.bytes().all(|b| b == b'0') {
        return Err(format!("amount `{}` is not whole units", clip(s)));
    }
    match whole.parse::<i64>() {
        Ok(0) => Err("amount is zero".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("amount `{}` is too large", clip(s))),
    }
}

fn parse_status(s: &str) -> Option<&'static str> {
    match normalise(s).as_str() {
        "successful" | "success" | "completed" | "succeeded" => Some("SUCCESSFUL"),
        "failed" | "rejected" | "timeout" | "cancelled" | "canceled" | "error" => Some("FAILED"),
        "pending" | "ongoing" | "created" | "inprogress" | "processing" => Some("PENDING"),
        _ => None,
    }
}

/// The phone number in `250788123456`, `+250788123456` or `FRI:250788123456/MSISDN`.
fn parse_msisdn(s: &str) -> Option<String> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|run| (9..=15).contains(&run.len()))
        .max_by_key(|run| run.len())
        .map(str::to_owned)
}

fn clip(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// Reads a statement as it arrives: [`Parser::feed`] takes each chunk and returns the lines it
/// completed; [`Parser::finish`] the rest. A record ends at a line break outside quotes, so a
/// chunk boundary anywhere (inside a field, between `\r` and `\n`) is fine.
#[derive(Debug, Default)]
pub struct Parser {
    pending: Vec<u8>,
    /// The line number of `pending`'s first byte.
    line: u32,
    /// How much of `pending` has been scanned for record ends, whether that point is inside
    /// quotes, and the end of the last complete record found (0: none yet).
    scanned: usize,
    in_quotes: bool,
    record_end: usize,
    started: bool,
    columns: Option<(Columns, Layout)>,
    seen_refs: HashMap<Uuid, u32>,
    seen_ftids: HashMap<String, u32>,
    errors: Vec<LineError>,
    error_count: usize,
    lines: u32,
    fatal: bool,
}

impl Parser {
    pub fn new() -> Self {
        Self {
            line: 1,
            ..Self::default()
        }
    }

    pub fn layout(&self) -> Option<Layout> {
        self.columns.map(|(_, l)| l)
    }

    /// Good lines so far.
    pub fn line_count(&self) -> u32 {
        self.lines
    }

    /// Bad lines so far (all of them; [`Parser::errors`] keeps the first 50).
    pub fn error_count(&self) -> usize {
        self.error_count
    }

    pub fn errors(&self) -> &[LineError] {
        &self.errors
    }

    fn error(&mut self, line: u32, message: String) {
        self.error_count += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(LineError { line, message });
        }
    }

    /// Takes the next chunk; returns the good lines it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Line> {
        self.pending.extend_from_slice(chunk);
        self.drain(false)
    }

    /// The end of the file: the last line (without a final line break) and the verdict.
    pub fn finish(&mut self) -> Vec<Line> {
        let lines = self.drain(true);
        if self.columns.is_none() && !self.fatal {
            self.fatal = true;
            self.error(1, "the file is empty".to_owned());
        } else if self.lines == 0 && self.error_count == 0 {
            self.error(self.line, "the file has no transactions under its header".to_owned());
        }
        lines
    }

    /// Parses every complete record in `pending` (all of it at the end).
    fn drain(&mut self, at_end: bool) -> Vec<Line> {
        if self.fatal {
            self.pending.clear();
            return Vec::new();
        }
        // the end of the last complete record: a '\n' outside quotes (each byte scanned once)
        for (i, b) in self.pending.iter().enumerate().skip(self.scanned) {
            match b {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => self.record_end = i + 1,
                _ => {}
            }
        }
        self.scanned = self.pending.len();
        let end = if at_end { self.pending.len() } else { self.record_end };
        if end == 0 {
            if self.pending.len() > MAX_RECORD_BYTES {
                self.error(
                    self.line,
                    "the line is longer than 64 KB (a quote that is never closed?)".to_owned(),
                );
                self.fatal = true;
                self.pending.clear();
            }
            return Vec::new();
        }
        self.scanned -= end;
        self.record_end = 0;
        let rest = self.pending.split_off(end);
        let mut data = std::mem::replace(&mut self.pending, rest);
        if !self.started {
            // the first record is whole here, so a byte-order mark is too
            self.started = true;
            if data.starts_with(b"\xEF\xBB\xBF") {
                data.drain(..3);
            }
        }
        let first_line = self.line;
        self.line += data.iter().filter(|b| **b == b'\n').count() as u32;
        self.parse_records(&data, first_line)
    }

    fn parse_records(&mut self, data: &[u8], first_line: u32) -> Vec<Line> {
        let mut out = Vec::new();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(data);
        let mut rec = csv::ByteRecord::new();
        // line numbers from byte offsets (the reader's own count drifts after CRLF and blank lines)
        let mut at = 0usize;
        let mut line = first_line;
        loop {
            match reader.read_byte_record(&mut rec) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    let n = e
                        .position()
                        .map_or(line, |p| first_line + p.line().saturating_sub(1) as u32);
                    self.error(n, format!("the line cannot be read as CSV: {e}"));
                    self.fatal = true;
                    break;
                }
            }
            let mut offset = rec.position().map_or(0, |p| p.byte() as usize);
            while matches!(data.get(offset), Some(b'\r' | b'\n')) {
                offset += 1;
            }
            let offset = offset.min(data.len());
            if offset > at {
                line += data[at..offset].iter().filter(|b| **b == b'\n').count() as u32;
                at = offset;
            }
            if rec.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                continue;
            }
            let Ok(fields) = rec
                .iter()
                .map(|f| std::str::from_utf8(f).map(|s| s.trim().to_owned()))
                .collect::<Result<Vec<String>, _>>()
            else {
                self.error(line, "the line is not UTF-8 text".to_owned());
                if self.columns.is_none() {
                    self.fatal = true;
                    break;
                }
                continue;
            };
            match self.columns {
                None => match Columns::from_header(&fields) {
                    Ok(c) => self.columns = Some(c),
                    Err(message) => {
                        self.error(line, message);
                        self.fatal = true;
                        break;
                    }
                },
                Some((columns, _)) => match self.check(&columns, &fields, line) {
                    Ok(l) => {
                        self.lines += 1;
                        out.push(l);
                    }
                    Err(message) => self.error(line, message),
                },
            }
        }
        out
    }

    fn check(&mut self, c: &Columns, fields: &[String], line: u32) -> Result<Line, String> {
        let get = |i: Option<usize>| {
            i.and_then(|i| fields.get(i))
                .map(String::as_str)
                .filter(|s| !s.is_empty())
        };
        let mut problems = Vec::new();
        let occurred_at = match get(c.date) {
            None => {
                problems.push("the date is empty".to_owned());
                None
            }
            Some(d) => {
                let t = parse_date(d);
                if t.is_none() {
                    problems.push(format!("date `{}` is not RFC 3339 or YYYY-MM-DD HH:MM:SS", clip(d)));
                }
                t
            }
        };
        let reference_id = match get(c.reference) {
            None => None,
            Some(r) => match Uuid::parse_str(r) {
                Ok(id) => Some(id),
                Err(_) => {
                    problems.push(format!("reference `{}` is not a UUID", clip(r)));
                    None
                }
            },
        };
        let ftid = get(c.ftid).map(str::to_owned);
        let external_id = get(c.external).map(str::to_owned);
        if get(c.reference).is_none() && ftid.is_none() && external_id.is_none() {
            problems.push(if c.reference.is_some() {
                "the reference is empty".to_owned()
            } else {
                "the line names no transaction (financialTransactionId or externalId)".to_owned()
            });
        }
        let amount = match get(c.amount) {
            None => {
                problems.push("the amount is empty".to_owned());
                None
            }
            Some(a) => match parse_amount(a) {
                Ok(n) => Some(n),
                Err(e) => {
                    problems.push(e);
                    None
                }
            },
        };
        let status = match get(c.status) {
            None => {
                problems.push("the status is empty".to_owned());
                None
            }
            Some(s) => {
                let st = parse_status(s);
                if st.is_none() {
                    problems.push(format!("status `{}` is not SUCCESSFUL, FAILED or PENDING", clip(s)));
                }
                st
            }
        };
        let currency = get(c.currency).map(str::to_ascii_uppercase);
        if let Some(cur) = &currency {
            if cur.len() != 3 || !cur.bytes().all(|b| b.is_ascii_alphabetic()) {
                problems.push(format!("currency `{}` is not a 3-letter code", clip(cur)));
            }
        }
        if let Some(r) = reference_id {
            if let Some(first) = self.seen_refs.get(&r) {
                problems.push(format!("reference {r} is also on line {first}"));
            }
        } else if let Some(f) = &ftid {
            if let Some(first) = self.seen_ftids.get(f) {
                problems.push(format!("transaction {} is also on line {first}", clip(f)));
            }
        }
        let (Some(occurred_at), Some(amount), Some(status), true) = (occurred_at, amount, status, problems.is_empty())
        else {
            return Err(problems.join("; "));
        };
        match reference_id {
            Some(r) => {
                self.seen_refs.insert(r, line);
            }
            None => {
                if let Some(f) = &ftid {
                    self.seen_ftids.insert(f.clone(), line);
                }
            }
        }
        Ok(Line {
            line,
            occurred_at,
            reference_id,
            financial_transaction_id: ftid.map(|f| f.chars().take(100).collect()),
            external_id: external_id.map(|e| e.chars().take(200).collect()),
            msisdn: get(c.msisdn).and_then(parse_msisdn),
            amount,
            currency,
            status,
            reason: get(c.reason).map(|r| r.chars().take(300).collect()),
        })
    }
}

#[cfg(test)]
mod tests;
