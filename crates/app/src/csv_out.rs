//! Every CSV the app writes goes through here (payout and redemption exports, reconciliation
//! results, import error reports, the batch's code export): [`safe_cell`] defuses formula
//! injection, and [`CsvOut`] applies it to every cell it writes, so no export can forget it.

use std::borrow::Cow;

/// A cell a spreadsheet would evaluate (`=`, `+`, `-`, `@`, tab or CR first) gets a leading `'`;
/// phone numbers (`+2507…`) and plain numbers (`-5`) stay as they are. Only a sign makes a number:
/// `=250` and `@250` are formulas to a spreadsheet (it would show `250`), so they are guarded too.
pub fn safe_cell(cell: &str) -> Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let numeric = cell.starts_with(['+', '-']) && cell.len() > 1 && cell[1..].bytes().all(|b| b.is_ascii_digit());
    if risky && !numeric {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A CSV writer into memory whose every cell passes [`safe_cell`]. Streams take what it holds
/// so far with [`CsvOut::take`] and send it as one chunk.
pub struct CsvOut {
    w: csv::Writer<Vec<u8>>,
}

impl Default for CsvOut {
    fn default() -> Self {
        Self::new()
    }
}

impl CsvOut {
    pub fn new() -> Self {
        Self {
            w: csv::Writer::from_writer(Vec::with_capacity(64 * 1024)),
        }
    }

    /// Writes one record, each cell made safe.
    pub fn row<I, S>(&mut self, cells: I) -> std::io::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.w
            .write_record(cells.into_iter().map(|c| safe_cell(c.as_ref()).into_owned()))
            .map_err(std::io::Error::other)
    }

    /// What was written so far, leaving the writer empty (ready for the next rows).
    pub fn take(&mut self) -> std::io::Result<Vec<u8>> {
        let full = std::mem::replace(&mut self.w, csv::Writer::from_writer(Vec::with_capacity(64 * 1024)));
        full.into_inner().map_err(|e| std::io::Error::other(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_phone_numbers_kept() {
        assert_eq!(safe_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(safe_cell("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0");
        assert_eq!(safe_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(safe_cell("\t=1"), "'\t=1");
        assert_eq!(safe_cell("\r=1"), "'\r=1");
        assert_eq!(safe_cell("-1+2"), "'-1+2");
        assert_eq!(safe_cell("+250788123456"), "+250788123456");
        assert_eq!(safe_cell("-5"), "-5");
        assert_eq!(safe_cell("@250788123456"), "'@250788123456");
        assert_eq!(safe_cell("=250"), "'=250");
        assert_eq!(safe_cell("-5"), "-5");
        assert_eq!(safe_cell("NOT_ENOUGH_FUNDS"), "NOT_ENOUGH_FUNDS");
        assert_eq!(safe_cell(""), "");
    }

    #[test]
    fn the_writer_makes_every_cell_safe() {
        let mut w = CsvOut::new();
        w.row(["name", "value"]).unwrap();
        w.row(["=1+1", "ok"]).unwrap();
        let first = String::from_utf8(w.take().unwrap()).unwrap();
        w.row(["@x", "-y"]).unwrap();
        let second = String::from_utf8(w.take().unwrap()).unwrap();
        assert_eq!(first, "name,value\n'=1+1,ok\n");
        assert_eq!(second, "'@x,'-y\n");
    }
}
