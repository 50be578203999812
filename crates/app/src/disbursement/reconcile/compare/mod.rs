//! The comparison itself, without I/O: one disbursement (with its redemption and attempts) against
//! what MoMo said about each attempt's reference (status query, statement lines), giving every
//! disagreement as a [`Finding`]. The rules are listed in the module documentation
//! ([`super`]); each arm here says which one it is.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::model::Kind;
use crate::disbursement::state::{AttemptStatus, PayoutStatus};
use crate::redemption::lifecycle::RedemptionStatus;

/// Our side: a disbursement and its redemption, as the run reads them.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct OurPayout {
    pub disbursement_id: Uuid,
    pub redemption_id: Uuid,
    pub status: PayoutStatus,
    pub amount: i64,
    pub currency: String,
    pub msisdn: String,
    pub attempts: i32,
    pub momo_reference: Option<Uuid>,
    pub momo_transaction_id: Option<String>,
    pub error_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub disbursed_at: Option<DateTime<Utc>>,
    pub redemption_status: RedemptionStatus,
    pub redemption_amount: i64,
    pub redemption_currency: String,
    pub phone_number: String,
    pub code: String,
    pub batch_id: Uuid,
    pub redemption_created_at: DateTime<Utc>,
    pub redemption_completed_at: Option<DateTime<Utc>>,
}

/// One attempt (one MoMo `X-Reference-Id`) as we recorded it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct OurAttempt {
    pub disbursement_id: Uuid,
    pub attempt_no: i32,
    pub reference_id: Uuid,
    pub status: AttemptStatus,
    pub http_status: Option<i32>,
    pub momo_status: Option<String>,
    pub financial_transaction_id: Option<String>,
    pub error_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Where MoMo's side of a transaction was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    StatusQuery,
    Statement,
}

/// A transaction as MoMo shows it (status body or statement line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TheirTransfer {
    pub source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<Uuid>,
    /// `PENDING`, `SUCCESSFUL`, `FAILED` (or what MoMo wrote, upper-cased).
    pub status: String,
    /// Whole units when MoMo's amount reads as one.
    pub amount: Option<i64>,
    /// The amount as MoMo wrote it.
    pub amount_text: String,
    pub currency: String,
    pub financial_transaction_id: Option<String>,
    pub external_id: Option<String>,
    pub msisdn: Option<String>,
    pub reason: Option<String>,
    /// The statement's line number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
}

impl TheirTransfer {
    /// A status query's answer.
    pub fn from_status(reference_id: Uuid, s: &momo::TransferStatus) -> Self {
        Self {
            source: Source::StatusQuery,
            reference_id: Some(reference_id),
            status: s.status.as_str().to_ascii_uppercase(),
            amount: whole_amount(&s.amount),
            amount_text: s.amount.clone(),
            currency: s.currency.clone(),
            financial_transaction_id: s.financial_transaction_id.clone().filter(|t| !t.is_empty()),
            external_id: Some(s.external_id.clone()).filter(|t| !t.is_empty()),
            msisdn: Some(s.payee.party_id.clone()).filter(|t| !t.is_empty()),
            reason: s.reason.as_ref().map(|r| r.code.clone()),
            line: None,
            occurred_at: None,
        }
    }

    fn describe(&self) -> String {
        match (self.source, self.line) {
            (Source::Statement, Some(line)) => format!("the statement (line {line})"),
            (Source::Statement, None) => "the statement".to_owned(),
            (Source::StatusQuery, _) => "MoMo's status query".to_owned(),
        }
    }
}

/// `"5000"`, `"5000.00"`, `5000` as whole units; anything else `None`.
pub fn whole_amount(text: &str) -> Option<i64> {
    let t = text.trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if !frac.bytes().all(|b| b == b'0') {
        return None;
    }
    whole.parse::<i64>().ok()
}

/// What the status query of one reference gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Asked {
    /// The run does not query MoMo (statement only).
    NotAsked,
    Found {
        transfer: TheirTransfer,
    },
    /// 404: MoMo has no transfer with this reference.
    NotFound,
    /// No usable answer after the retries.
    Failed {
        error: String,
    },
}

/// One attempt with everything MoMo said about its reference.
#[derive(Debug, Clone)]
pub struct AttemptCheck {
    pub attempt: OurAttempt,
    pub query: Asked,
    /// Statement lines for this reference (or its ledger id).
    pub lines: Vec<TheirTransfer>,
}

/// One disagreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub kind: Kind,
    pub reference_id: Option<Uuid>,
    pub message: String,
}

impl Finding {
    fn new(kind: Kind, reference_id: Option<Uuid>, message: String) -> Self {
        Self {
            kind,
            reference_id,
            message,
        }
    }
}

/// The gravest kind among `findings` (a match when there are none).
pub fn kind_of(findings: &[Finding]) -> Kind {
    findings
        .iter()
        .map(|f| f.kind)
        .min_by_key(|k| k.rank())
        .unwrap_or(Kind::Match)
}

/// The reference an item is about: its gravest finding's, else the one the payout completed
/// with, else the latest attempt's.
pub fn principal_reference(p: &OurPayout, checks: &[AttemptCheck], findings: &[Finding]) -> Option<Uuid> {
    let kind = kind_of(findings);
    findings
        .iter()
        .filter(|f| f.kind == kind)
        .find_map(|f| f.reference_id)
        .or(p.momo_reference)
        .or_else(|| {
            checks
                .iter()
                .max_by_key(|c| c.attempt.attempt_no)
                .map(|c| c.attempt.reference_id)
        })
}

/// What MoMo's side of one reference is, all sources together: the status query when it found
/// the transfer; otherwise the first statement line; otherwise "not found" (asked and 404, or a
/// statement-only run without a line), or "could not check".
enum View<'a> {
    Found(&'a TheirTransfer),
    NotFound,
    Unchecked(&'a str),
}

fn view(c: &AttemptCheck) -> View<'_> {
    match (&c.query, c.lines.first()) {
        (Asked::Found { transfer }, _) => View::Found(transfer),
        (_, Some(line)) => View::Found(line),
        (Asked::NotFound | Asked::NotAsked, None) => View::NotFound,
        (Asked::Failed { error }, None) => View::Unchecked(error),
    }
}

fn hours(d: Duration) -> String {
    let minutes = d.num_minutes().max(0);
    if minutes < 120 {
        format!("{minutes} minutes")
    } else {
        format!("{} hours", minutes / 60)
    }
}

/// Compares one disbursement with MoMo. `loose` are statement lines that name this disbursement
/// (by external id) but none of its references. `threshold` is how long a payout may stay
/// unfinished.
pub fn classify(
    p: &OurPayout,
    checks: &[AttemptCheck],
    loose: &[TheirTransfer],
    now: DateTime<Utc>,
    threshold: Duration,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let completed = p.status == PayoutStatus::Completed;
    let unfinished = matches!(
        p.status,
        PayoutStatus::Queued | PayoutStatus::Processing | PayoutStatus::RetryScheduled
    );

    // Rule R: the redemption and its disbursement agree with each other.
    if p.redemption_amount != p.amount || p.redemption_currency != p.currency {
        out.push(Finding::new(
            Kind::AmountMismatch,
            None,
            format!(
                "the redemption is for {} {} but its disbursement pays {} {}",
                p.redemption_amount, p.redemption_currency, p.amount, p.currency
            ),
        ));
    }
    match (p.redemption_status, completed) {
        (RedemptionStatus::Completed, false) => out.push(Finding::new(
            Kind::StatusMismatch,
            None,
            format!("the redemption is completed but its payout is {}", p.status),
        )),
        (r @ (RedemptionStatus::Pending | RedemptionStatus::Failed | RedemptionStatus::Reversed), true) => {
            out.push(Finding::new(
                Kind::StatusMismatch,
                None,
                format!("the payout completed but the redemption is {r}"),
            ))
        }
        _ => {}
    }

    let mut paid_here_any = false;
    for c in checks {
        let a = &c.attempt;
        let r = a.reference_id;
        let paid_here = a.status == AttemptStatus::Successful || (completed && p.momo_reference == Some(r));
        paid_here_any |= paid_here;
        // MoMo acknowledged this reference at some point: it answered 202, a status or a ledger id.
        let acknowledged = matches!(a.status, AttemptStatus::Pending | AttemptStatus::Successful)
            || a.http_status == Some(202)
            || a.momo_status.is_some()
            || a.financial_transaction_id.is_some();
        let our_ftid = a
            .financial_transaction_id
            .as_deref()
            .or(if p.momo_reference == Some(r) {
                p.momo_transaction_id.as_deref()
            } else {
                None
            });

        // Rule A: every MoMo source's amount and currency equal ours.
        let sources = match &c.query {
            Asked::Found { transfer } => std::iter::once(transfer).chain(c.lines.iter()).collect::<Vec<_>>(),
            _ => c.lines.iter().collect(),
        };
        for t in &sources {
            if t.amount != Some(p.amount) || (!t.currency.is_empty() && !t.currency.eq_ignore_ascii_case(&p.currency)) {
                out.push(Finding::new(
                    Kind::AmountMismatch,
                    Some(r),
                    format!(
                        "{} has {} {} for reference {r}; we pay {} {}",
                        t.describe(),
                        t.amount_text,
                        t.currency,
                        p.amount,
                        p.currency
                    ),
                ));
            }
        }

        match view(c) {
            View::Found(t) => match t.status.as_str() {
                "SUCCESSFUL" if !paid_here => {
                    // Rule O1: MoMo paid a reference we do not count as paid.
                    let message = if completed {
                        format!(
                            "MoMo paid reference {r} ({}) as well, but this payout completed through {}: paid twice",
                            t.financial_transaction_id.as_deref().unwrap_or("no ledger id"),
                            p.momo_reference
                                .map_or_else(|| "another reference".to_owned(), |m| m.to_string())
                        )
                    } else {
                        format!(
                            "MoMo paid reference {r} ({}) but here the payout is {} and the attempt {}",
                            t.financial_transaction_id.as_deref().unwrap_or("no ledger id"),
                            p.status,
                            a.status
                        )
                    };
                    out.push(Finding::new(Kind::SuccessfulAtMomoNotHere, Some(r), message));
                }
                "SUCCESSFUL" => {
                    // Rule S1: the same payout, the same ledger id.
                    if let (Some(ours), Some(theirs)) = (our_ftid, t.financial_transaction_id.as_deref()) {
                        if ours != theirs {
                            out.push(Finding::new(
                                Kind::StatusMismatch,
                                Some(r),
                                format!("we recorded MoMo transaction {ours} for reference {r}; MoMo has {theirs}"),
                            ));
                        }
                    }
                }
                "FAILED" if paid_here => out.push(Finding::new(
                    // Rule S2: paid here, failed there.
                    Kind::StatusMismatch,
                    Some(r),
                    format!(
                        "we count reference {r} as paid; {} says FAILED{}",
                        t.describe(),
                        t.reason.as_deref().map(|x| format!(" ({x})")).unwrap_or_default()
                    ),
                )),
                "FAILED" if a.status != AttemptStatus::Failed => out.push(Finding::new(
                    // Rule S3: final there, still open here.
                    Kind::StatusMismatch,
                    Some(r),
                    format!("{} says FAILED; the attempt is still {} here", t.describe(), a.status),
                )),
                "FAILED" => {}
                other if paid_here => out.push(Finding::new(
                    // Rule S2 again: paid here, not (yet) there.
                    Kind::StatusMismatch,
                    Some(r),
                    format!("we count reference {r} as paid; {} says {other}", t.describe()),
                )),
                other if a.status == AttemptStatus::Failed => out.push(Finding::new(
                    // Rule S4: given up here while MoMo may still pay.
                    Kind::StatusMismatch,
                    Some(r),
                    format!(
                        "the attempt failed here but {} says {other}: MoMo may still pay it",
                        t.describe()
                    ),
                )),
                other if now - a.created_at > threshold => out.push(Finding::new(
                    // Rule O3 for one reference.
                    Kind::PendingTooLong,
                    Some(r),
                    format!("MoMo has kept reference {r} {other} for {}", hours(now - a.created_at)),
                )),
                _ => {}
            },
            View::NotFound if paid_here => out.push(Finding::new(
                // Rule O2: paid here, unknown there.
                Kind::PaidHereUnknownToMomo,
                Some(r),
                format!(
                    "we count reference {r} as paid{}; MoMo has no transfer with this reference",
                    our_ftid.map(|f| format!(" (MoMo transaction {f})")).unwrap_or_default()
                ),
            )),
            View::NotFound if acknowledged => out.push(Finding::new(
                // Rule M1: MoMo took it once and does not know it now.
                Kind::MissingAtMomo,
                Some(r),
                format!(
                    "MoMo acknowledged reference {r} ({}) but has no transfer with it",
                    a.momo_status
                        .as_deref()
                        .map(|s| format!("status {s}"))
                        .or_else(|| a.http_status.map(|h| format!("HTTP {h}")))
                        .unwrap_or_else(|| format!("attempt {}", a.status))
                ),
            )),
            // Never acknowledged and unknown: it never landed, as we recorded.
            View::NotFound => {}
            View::Unchecked(error) => out.push(Finding::new(
                Kind::Unchecked,
                Some(r),
                format!("reference {r} could not be checked: {error}"),
            )),
        }
    }

    // Rule O1 for statement lines that name this disbursement but none of its references.
    for t in loose {
        if t.amount != Some(p.amount) {
            out.push(Finding::new(
                Kind::AmountMismatch,
                t.reference_id,
                format!(
                    "{} has {} {} for this disbursement; we pay {} {}",
                    t.describe(),
                    t.amount_text,
                    t.currency,
                    p.amount,
                    p.currency
                ),
            ));
        }
        let ours =
            completed && t.financial_transaction_id.is_some() && t.financial_transaction_id == p.momo_transaction_id;
        if t.status == "SUCCESSFUL" && !ours {
            out.push(Finding::new(
                Kind::SuccessfulAtMomoNotHere,
                t.reference_id,
                format!(
                    "{} shows a SUCCESSFUL payout ({}) for this disbursement that no attempt of ours accounts for",
                    t.describe(),
                    t.financial_transaction_id.as_deref().unwrap_or("no ledger id")
                ),
            ));
        }
    }

    // Rule O2 without a reference: completed here with no attempt we count as paid.
    if completed && !paid_here_any {
        out.push(Finding::new(
            Kind::PaidHereUnknownToMomo,
            p.momo_reference,
            "the payout is completed here but no attempt of it was paid".to_owned(),
        ));
    }
    // Rule U: the payee has no active MoMo wallet, so nothing was paid and the prize is owed.
    if p.status == PayoutStatus::PayeeInvalid && !out.iter().any(|f| f.kind == Kind::SuccessfulAtMomoNotHere) {
        out.push(Finding::new(
            Kind::UnpaidPayeeInvalid,
            p.momo_reference,
            format!(
                "unpaid: +{} has no active MoMo wallet{}; the payout waits for another number",
                p.msisdn,
                p.error_code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
            ),
        ));
    }
    // Rule O3: still not final after the threshold (unless MoMo already paid it, which O1 says).
    let age = now - p.created_at;
    if unfinished
        && age > threshold
        && !out
            .iter()
            .any(|f| matches!(f.kind, Kind::SuccessfulAtMomoNotHere | Kind::PendingTooLong))
    {
        out.push(Finding::new(
            Kind::PendingTooLong,
            None,
            format!("the payout is still {} after {}", p.status, hours(age)),
        ));
    }
    out
}

#[cfg(test)]
mod tests;
