//! The items a run stores: one per disbursement (with MoMo's side and the findings) and one per
//! statement line that matches nothing here.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::LineRow;
use crate::disbursement::reconcile::compare::{
    self, Asked, AttemptCheck, Finding, OurAttempt, OurPayout, TheirTransfer,
};
use crate::disbursement::reconcile::model::Kind;

/// An item row to store.
pub(super) struct ItemRow {
    disbursement_id: Option<Uuid>,
    redemption_id: Option<Uuid>,
    reference_id: Option<Uuid>,
    kind: Kind,
    ours: Option<Value>,
    theirs: Value,
    findings: Vec<Finding>,
    amount: Option<i64>,
    msisdn: Option<String>,
    statement_line: Option<i32>,
}

/// MoMo's side of the principal reference, for lists and the CSV.
fn principal_view(checks: &[AttemptCheck], reference: Option<Uuid>, loose: &[TheirTransfer]) -> Value {
    let Some(c) = checks.iter().find(|c| Some(c.attempt.reference_id) == reference) else {
        return loose.first().map_or(Value::Null, |t| json!(t));
    };
    match (&c.query, c.lines.first()) {
        (Asked::Found { transfer }, _) => json!(transfer),
        (_, Some(line)) => json!(line),
        (Asked::Failed { error }, None) => json!({"status": "UNCHECKED", "error": error}),
        (Asked::NotFound, None) => json!({"status": "NOT_FOUND", "source": "status_query"}),
        (Asked::NotAsked, None) => json!({"status": "NOT_FOUND", "source": "statement"}),
    }
}

pub(super) fn item_for(
    p: &OurPayout,
    checks: &[AttemptCheck],
    loose: &[TheirTransfer],
    findings: Vec<Finding>,
) -> ItemRow {
    let reference = compare::principal_reference(p, checks, &findings);
    let attempts: Vec<&OurAttempt> = checks.iter().map(|c| &c.attempt).collect();
    let ours = json!({
        "redemption": {
            "id": p.redemption_id,
            "status": p.redemption_status,
            "amount": p.redemption_amount,
            "currency": p.redemption_currency,
            "phoneNumber": p.phone_number,
            "code": p.code,
            "batchId": p.batch_id,
            "createdAt": p.redemption_created_at,
            "completedAt": p.redemption_completed_at,
        },
        "disbursement": {
            "id": p.disbursement_id,
            "status": p.status,
            "amount": p.amount,
            "currency": p.currency,
            "msisdn": p.msisdn,
            "attempts": p.attempts,
            "momoReference": p.momo_reference,
            "momoTransactionId": p.momo_transaction_id,
            "errorCode": p.error_code,
            "createdAt": p.created_at,
            "disbursedAt": p.disbursed_at,
        },
        "attempts": attempts,
    });
    let transfers: Vec<Value> = checks
        .iter()
        .map(|c| {
            json!({
                "referenceId": c.attempt.reference_id,
                "attemptNo": c.attempt.attempt_no,
                "query": c.query,
                "statementLines": c.lines,
            })
        })
        .collect();
    let theirs = json!({
        "momo": principal_view(checks, reference, loose),
        "transfers": transfers,
        "looseLines": loose,
    });
    ItemRow {
        disbursement_id: Some(p.disbursement_id),
        redemption_id: Some(p.redemption_id),
        reference_id: reference,
        kind: compare::kind_of(&findings),
        ours: Some(ours),
        theirs,
        findings,
        amount: Some(p.amount),
        msisdn: Some(p.msisdn.clone()),
        statement_line: checks
            .iter()
            .find(|c| Some(c.attempt.reference_id) == reference)
            .and_then(|c| c.lines.first())
            .and_then(|l| l.line),
    }
}

pub(super) fn missing_here_item(l: &LineRow) -> ItemRow {
    let t = l.transfer();
    let message = format!(
        "MoMo's statement (line {}) has a {} transfer of {} {} to {} ({}) that matches nothing here",
        l.line,
        l.status,
        l.amount,
        l.currency.as_deref().unwrap_or(""),
        l.msisdn.as_deref().unwrap_or("an unknown number"),
        match (&l.reference_id, &l.financial_transaction_id) {
            (Some(r), _) => format!("reference {r}"),
            (None, Some(f)) => format!("MoMo transaction {f}"),
            (None, None) => format!("external id {}", l.external_id.as_deref().unwrap_or("?")),
        }
    );
    ItemRow {
        disbursement_id: None,
        redemption_id: None,
        reference_id: l.reference_id,
        kind: Kind::MissingHere,
        ours: None,
        theirs: json!({"momo": t, "transfers": [], "looseLines": [t]}),
        findings: vec![Finding {
            kind: Kind::MissingHere,
            reference_id: l.reference_id,
            message,
        }],
        amount: Some(l.amount),
        msisdn: l.msisdn.clone(),
        statement_line: Some(l.line),
    }
}

pub(super) async fn insert_items(
    conn: &mut PgConnection,
    run_id: Uuid,
    rows: &[ItemRow],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut qb = sqlx::QueryBuilder::new(
        "insert into reconciliation_items (run_id, disbursement_id, redemption_id, reference_id, kind, ours, theirs, \
         findings, amount, msisdn, statement_line, created_at) ",
    );
    qb.push_values(rows, |mut b, r| {
        b.push_bind(run_id)
            .push_bind(r.disbursement_id)
            .push_bind(r.redemption_id)
            .push_bind(r.reference_id)
            .push_bind(r.kind.as_str())
            .push_bind(r.ours.clone())
            .push_bind(r.theirs.clone())
            .push_bind(json!(r.findings))
            .push_bind(r.amount)
            .push_bind(r.msisdn.clone())
            .push_bind(r.statement_line)
            .push_bind(now);
    });
    qb.build().execute(conn).await?;
    Ok(())
}
