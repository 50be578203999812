//! The line-by-line part of the CSV import (no database): the header, each line's format,
//! check character, repeat and amount, with line numbers as the file has them.

use std::collections::HashMap;

use serde::Serialize;

use super::format::{self, Alphabet};
use crate::error::AppError;
use crate::settings::Settings;

/// Rejected values are kept this long in the report.
const MAX_VALUE_CHARS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[schema(as = ImportMode)]
pub enum Mode {
    AllOrNothing,
    ValidRows,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "all_or_nothing" => Some(Mode::AllOrNothing),
            "valid_rows" => Some(Mode::ValidRows),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::AllOrNothing => "all_or_nothing",
            Mode::ValidRows => "valid_rows",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an import ended (`code_imports_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ImportStatus {
    /// Every line imported.
    Imported,
    /// The valid lines imported, the others rejected.
    Partial,
    /// Nothing imported.
    Rejected,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Imported => "imported",
            ImportStatus::Partial => "partial",
            ImportStatus::Rejected => "rejected",
        }
    }
}

impl std::fmt::Display for ImportStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rejected line of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ImportRejectedLine)]
pub struct Rejected {
    pub line: u64,
    pub value: String,
    pub reason: String,
}

/// A line that passed the checks that need no database.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: u64,
    pub code: String,
    pub raw: String,
    pub amount: i64,
}

/// What the file holds after the line-by-line checks.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<Row>,
    pub rejected: Vec<Rejected>,
    /// Data lines (blank lines not counted).
    pub total: u64,
}

/// The rules lines are checked against (from settings and the batch).
pub struct Rules {
    /// Set when the check character is on.
    pub check: Option<Alphabet>,
    /// The character set: a code with a letter outside it (digits aside) is refused, since the
    /// USSD menu answers such a code "that is not a code" without looking it up.
    pub alphabet: Option<Alphabet>,
    pub min_amount: i64,
    pub max_amount: i64,
    pub default_amount: i64,
}

impl Rules {
    /// The settings' rules; check characters are checked when the setting is on now or the
    /// batch's codes carry them (`batch_checks`, recorded when the batch was made).
    pub fn from_settings(s: &Settings, default_amount: i64, batch_checks: bool) -> Result<Self, AppError> {
        let cg = &s.business.code_generation;
        let alphabet =
            Alphabet::new(&cg.character_set).map_err(|e| AppError::Internal(anyhow::anyhow!("character set: {e}")))?;
        let check = (cg.include_checksum || batch_checks).then(|| alphabet.clone());
        Ok(Self {
            check,
            alphabet: Some(alphabet),
            min_amount: s.payments.min_amount,
            max_amount: s.payments.max_amount,
            default_amount,
        })
    }
}

/// How far an import has got (for the CLI's progress lines).
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    Read(u64),
    Validated { valid: u64, rejected: u64 },
    Inserted(u64),
}

/// A value as it can be stored and shown: at most 100 characters, control characters (NUL,
/// which PostgreSQL text cannot hold, among them) as `?`.
pub fn clip(s: &str) -> String {
    s.chars()
        .take(MAX_VALUE_CHARS)
        .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
        .collect()
}

/// Line numbers as a person counts them in an editor. The CSV reader's own line count is off
/// after CRLF and blank lines, so a record's line is found from its byte offset: skip the line
/// ends in front of it, then count the newlines before it (incrementally, so O(file) in all).
struct Lines<'a> {
    data: &'a [u8],
    at: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, at: 0, line: 1 }
    }

    fn line_of(&mut self, mut offset: usize) -> u64 {
        while matches!(self.data.get(offset), Some(b'\r' | b'\n')) {
            offset += 1;
        }
        let offset = offset.min(self.data.len());
        if offset > self.at {
            self.line += self.data[self.at..offset].iter().filter(|b| **b == b'\n').count() as u64;
            self.at = offset;
        }
        self.line
    }
}

fn field_str(rec: &csv::ByteRecord, i: Option<usize>) -> Result<&str, ()> {
    match i.and_then(|i| rec.get(i)) {
        None => Ok(""),
        Some(b) => std::str::from_utf8(b).map(str::trim).map_err(|_| ()),
    }
}

/// Reads and checks the file line by line (no database). A file that cannot be read as a CSV
/// with a `code` column is a field error on `file`.
pub fn parse_csv(data: &[u8], rules: &Rules, progress: &mut dyn FnMut(Progress)) -> Result<Parsed, AppError> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::field("file", "the file is empty"));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(data);
    let headers = reader
        .byte_headers()
        .map_err(|e| AppError::field("file", format!("the header line cannot be read: {e}")))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| std::str::from_utf8(h).is_ok_and(|h| h.trim().eq_ignore_ascii_case(name)))
    };
    let Some(code_col) = column("code") else {
        return Err(AppError::field(
            "file",
            "the first line must be a header naming a `code` column (and optionally `amount`)",
        ));
    };
    let amount_col = column("amount");
    let mut out = Parsed::default();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut rec = csv::ByteRecord::new();
    let mut lines = Lines::new(data);
    loop {
        match reader.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(AppError::field("file", format!("the file cannot be read as CSV: {e}"))),
        }
        let line = lines.line_of(rec.position().map_or(0, |p| p.byte() as usize));
        if rec.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue; // a blank line (or only separators)
        }
        out.total += 1;
        if out.total % 10_000 == 0 {
            progress(Progress::Read(out.total));
        }
        let mut reject = |value: &str, reason: String| {
            out.rejected.push(Rejected {
                line,
                value: clip(value),
                reason,
            })
        };
        let Ok(raw) = field_str(&rec, Some(code_col)) else {
            reject("", "the line is not valid UTF-8 text".into());
            continue;
        };
        if raw.is_empty() {
            reject(raw, "the code is empty".into());
            continue;
        }
        let code = match format::parse(raw) {
            Ok(c) => c,
            Err(e) => {
                reject(raw, format!("bad format: {e}"));
                continue;
            }
        };
        if let Some(c) = rules.alphabet.as_ref().and_then(|a| a.foreign(&code)) {
            reject(
                raw,
                format!("bad format: no code has the letter {c} (not in the character set)"),
            );
            continue;
        }
        if let Some(alphabet) = &rules.check {
            if !code.check_ok(alphabet) {
                reject(raw, "wrong check character (a typo?)".into());
                continue;
            }
        }
        let code = code.as_str().to_owned();
        if let Some(first) = seen.get(&code) {
            reject(raw, format!("duplicate: the same code is on line {first}"));
            continue;
        }
        seen.insert(code.clone(), line);
        let amount = match field_str(&rec, amount_col) {
            Ok("") => rules.default_amount,
            Ok(a) => match a.parse::<i64>() {
                Ok(n) if (rules.min_amount..=rules.max_amount).contains(&n) => n,
                _ => {
                    reject(
                        a,
                        format!(
                            "bad amount: must be whole francs from {} to {}",
                            rules.min_amount, rules.max_amount
                        ),
                    );
                    continue;
                }
            },
            Err(()) => {
                reject("", "bad amount: not valid UTF-8 text".into());
                continue;
            }
        };
        out.rows.push(Row {
            line,
            code,
            raw: raw.to_owned(),
            amount,
        });
    }
    progress(Progress::Read(out.total));
    if out.total == 0 {
        return Err(AppError::field("file", "the file has no lines under its header"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            check: None,
            alphabet: None,
            min_amount: 100,
            max_amount: 50_000,
            default_amount: 1000,
        }
    }

    fn parse(data: &str) -> Parsed {
        parse_csv(data.as_bytes(), &rules(), &mut |_| {}).unwrap()
    }

    #[test]
    fn bom_crlf_quotes_and_blank_lines() {
        let p = parse("\u{feff}\"code\",amount\r\n\"abcd ef26 gh11 jk25\",\"2000\"\r\n\r\nWXYZ-EF26-GH11-JK25,\r\n");
        assert_eq!(p.total, 2);
        assert!(p.rejected.is_empty(), "{:?}", p.rejected);
        assert_eq!(p.rows[0].code, "ABCD-EF26-GH11-JK25");
        assert_eq!((p.rows[0].line, p.rows[0].amount), (2, 2000));
        assert_eq!(
            (p.rows[1].line, p.rows[1].amount),
            (4, 1000),
            "blank line 3 skipped, numbering kept"
        );
    }

    #[test]
    fn a_quoted_field_over_two_lines_keeps_later_numbers_right() {
        let p = parse("code,note\nABCD-EF26-GH11-JK25,\"two\nlines\"\n  \nABCD*\n");
        assert_eq!(p.rows[0].line, 2);
        assert_eq!(p.rejected[0].line, 5);
        assert_eq!(p.total, 2);
    }

    #[test]
    fn each_bad_line_is_named_with_its_reason() {
        let p = parse(
            "amount,code\n1000,ABCD-EF26-GH11-JK25\n1000,ABCD*EF26\n5,WXYZ-EF26-GH11-JK25\n1000,abcdef26gh11jk25\n,\n1000,\n",
        );
        let got: Vec<(u64, &str)> = p.rejected.iter().map(|r| (r.line, r.reason.as_str())).collect();
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got[0].0 == 3 && got[0].1.starts_with("bad format"));
        assert!(got[1].0 == 4 && got[1].1.starts_with("bad amount"));
        assert_eq!(got[2], (5, "duplicate: the same code is on line 2"));
        assert_eq!(got[3], (7, "the code is empty"));
        assert_eq!(p.total, 5, "the line of separators only is blank");
    }

    #[test]
    fn a_file_without_a_code_column_or_rows_is_refused() {
        assert!(parse_csv(b"serial,amount\n1,2\n", &rules(), &mut |_| {}).is_err());
        assert!(parse_csv(b"code\n\n", &rules(), &mut |_| {}).is_err());
        assert!(parse_csv(b"", &rules(), &mut |_| {}).is_err());
    }
}
