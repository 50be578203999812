use super::*;

const HEADER: &str = "date,reference,financialTransactionId,externalId,msisdn,amount,currency,status,reason\n";

fn run(data: &[u8], chunk: usize) -> (Parser, Vec<Line>) {
    let mut p = Parser::new();
    let mut lines = Vec::new();
    for c in data.chunks(chunk.max(1)) {
        lines.extend(p.feed(c));
    }
    lines.extend(p.finish());
    (p, lines)
}

#[test]
fn the_simulators_statement_reads_in_any_chunking() {
    let file = format!(
        "\u{feff}{HEADER}2026-11-25T08:00:00Z,6f1c1f5e-0a8b-4c43-9d2b-3f3b1e0f8a01,1234567890,d-1,250788000001,1000,RWF,SUCCESSFUL,\r\n\r\n\
         2026-11-25T08:01:00Z,7f1c1f5e-0a8b-4c43-9d2b-3f3b1e0f8a02,,d-2,250788000002,2000,RWF,FAILED,\"NOT_ENOUGH_FUNDS, really\"\n"
    );
    for chunk in [1, 2, 3, 7, 64, 10_000] {
        let (p, lines) = run(file.as_bytes(), chunk);
        assert!(p.errors().is_empty(), "chunk {chunk}: {:?}", p.errors());
        assert_eq!(p.layout(), Some(Layout::Simulator));
        assert_eq!(lines.len(), 2, "chunk {chunk}");
        assert_eq!((lines[0].line, lines[1].line), (2, 4), "chunk {chunk}");
        assert_eq!(lines[0].amount, 1000);
        assert_eq!(lines[0].financial_transaction_id.as_deref(), Some("1234567890"));
        assert_eq!(lines[1].status, "FAILED");
        assert_eq!(lines[1].reason.as_deref(), Some("NOT_ENOUGH_FUNDS, really"));
    }
}

#[test]
fn the_portal_layout_reads_by_ledger_id() {
    let file = "Id,External Transaction Id,Date,Status,Type,From,To,Amount,Currency,Fee\n\
                8801,3f9a…,2026-11-25 10:00:00,Successful,TRANSFER,FRI:12345/MM,FRI:250788123456/MSISDN,\"-1,000.00\",RWF,0\n";
    let (p, lines) = run(file.as_bytes(), 5);
    assert!(p.errors().is_empty(), "{:?}", p.errors());
    assert_eq!(p.layout(), Some(Layout::MtnPortal));
    let l = &lines[0];
    assert_eq!(l.financial_transaction_id.as_deref(), Some("8801"));
    assert_eq!(l.msisdn.as_deref(), Some("250788123456"));
    assert_eq!((l.amount, l.status), (1000, "SUCCESSFUL"));
    // Kigali local time
    assert_eq!(l.occurred_at.to_rfc3339(), "2026-11-25T08:00:00+00:00");
}

#[test]
fn every_bad_line_is_named() {
    let file = format!(
        "{HEADER}2026-11-25T08:00:00Z,6f1c1f5e-0a8b-4c43-9d2b-3f3b1e0f8a01,1,,,1000,RWF,SUCCESSFUL,\n\
         yesterday,6f1c1f5e-0a8b-4c43-9d2b-3f3b1e0f8a09,2,,,1000,RWF,SUCCESSFUL,\n\
         2026-11-25T08:00:00Z,not-a-uuid,3,,,1000,RWF,SUCCESSFUL,\n\
         2026-11-25T08:00:00Z,6f1c1f5e-0a8b-4c43-9d2b-3f3b1e0f8a03,4,,,10.50,RWF,SUCCESSFUL,\n\
         2026-11-25T08:00:00Z,6f1c1f5e-0a8b-4c43-9d2b-3f3b1e0f8a04,5,,,1000,RWF,MAYBE,\n\
         2026-11-25T08:00:00Z,6f1c1f5e-0a8b-4c43-9d2b-3f3b1e0f8a01,6,,,1000,RWF,FAILED,\n"
    );
    let (p, _) = run(file.as_bytes(), 13);
    let got: Vec<(u32, &str)> = p.errors().iter().map(|e| (e.line, e.message.as_str())).collect();
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(got[0].0, 3);
    assert!(got[0].1.starts_with("date `yesterday`"));
    assert_eq!(got[1].0, 4);
    assert!(got[1].1.contains("not a UUID"));
    assert!(got[2].1.contains("not whole units"));
    assert!(got[3].1.contains("status `MAYBE`"));
    assert_eq!(
        got[4],
        (7, "reference 6f1c1f5e-0a8b-4c43-9d2b-3f3b1e0f8a01 is also on line 2")
    );
}

#[test]
fn a_quote_never_closed_stops_at_its_line_instead_of_reading_on() {
    let mut file =
        format!("{HEADER}2026-11-25T08:00:00Z,6f1c1f5e-0a8b-4c43-9d2b-3f3b1e0f8a01,1,,,1000,RWF,SUCCESSFUL,\n");
    file.push_str("2026-11-25T08:00:00Z,\"6f1c1f5e");
    file.push_str(&"x,".repeat(40_000));
    let (p, lines) = run(file.as_bytes(), 4096);
    assert_eq!(lines.len(), 1);
    assert_eq!(p.errors().len(), 1);
    assert_eq!(p.errors()[0].line, 3);
    assert!(p.errors()[0].message.contains("longer than 64 KB"));
}

#[test]
fn the_date_column_goes_by_the_names_statements_use() {
    for name in [
        "created",
        "Created At",
        "Transaction Date",
        "Date Time",
        "Date/Time",
        "Creation Date",
    ] {
        let file = format!(
            "{name},reference,amount,status\n2026-11-25T08:00:00Z,6f1c1f5e-0a8b-4c43-9d2b-3f3b1e0f8a01,1000,SUCCESSFUL\n"
        );
        let (p, lines) = run(file.as_bytes(), 64);
        assert!(p.errors().is_empty(), "{name}: {:?}", p.errors());
        assert_eq!(lines.len(), 1, "{name}");
    }
}

#[test]
fn a_file_without_the_columns_or_lines_is_refused_at_its_first_line() {
    let (p, _) = run(b"code,amount\nABC,1\n", 4);
    assert_eq!(p.errors()[0].line, 1);
    let message = &p.errors()[0].message;
    assert!(message.contains("has no date, status or reference column"), "{message}");
    assert!(message.contains("Found columns: `code`, `amount`."), "{message}");
    assert!(message.contains("Needed: a date"), "{message}");
    let (p, _) = run(b"", 4);
    assert_eq!(p.errors()[0].message, "the file is empty");
    let (p, _) = run(HEADER.as_bytes(), 4);
    assert!(p.errors()[0].message.contains("no transactions"));
}
