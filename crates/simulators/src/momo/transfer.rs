//! One transfer as the simulator keeps it, and how it is shown to clients (status body, callback).

use chrono::{DateTime, Utc};
use momo::{Reason, Status, TransferRequest, TransferStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::config::ReasonMode;
use super::sandbox::reason_message;

/// How a transfer will end, decided when it is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Plan {
    /// SUCCESSFUL if the balance covers it when due, else FAILED NOT_ENOUGH_FUNDS.
    Succeed,
    /// FAILED with this reason (a test number or an inactive payee).
    Fail { reason: Option<String> },
}

/// A transfer in the simulator's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferRecord {
    /// The client's `X-Reference-Id`.
    pub reference_id: Uuid,
    /// The API user whose token created it.
    pub api_user: String,
    pub request: TransferRequest,
    pub callback_url: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it leaves PENDING; `None` stays PENDING for ever (46733123453, "ongoing").
    pub due_at: Option<DateTime<Utc>>,
    pub plan: Plan,
    pub status: Status,
    /// The A7 code of a FAILED transfer.
    pub reason: Option<String>,
    /// MoMo's ledger id, set when it succeeds.
    pub financial_transaction_id: Option<String>,
    pub settled_at: Option<DateTime<Utc>>,
}

impl TransferRecord {
    /// The status body as MoMo's `GET …/transfer/{ref}` returns it (A6).
    pub fn to_status(&self) -> TransferStatus {
        TransferStatus {
            amount: self.request.amount.clone(),
            currency: self.request.currency.clone(),
            financial_transaction_id: self.financial_transaction_id.clone(),
            external_id: self.request.external_id.clone(),
            payee: self.request.payee.clone(),
            payer_message: self.request.payer_message.clone(),
            payee_note: self.request.payee_note.clone(),
            status: self.status.clone(),
            reason: self.reason.as_ref().map(|code| Reason {
                code: code.clone(),
                message: Some(reason_message(code).to_owned()),
            }),
        }
    }

    /// The status body as JSON, with `reason` in the configured shape (A15.7).
    pub(crate) fn render(&self, mode: ReasonMode) -> Value {
        let mut body = serde_json::to_value(self.to_status()).unwrap_or(Value::Null);
        if let Value::Object(fields) = &mut body {
            match (mode, &self.reason) {
                (ReasonMode::Object, _) | (_, None) => {}
                (ReasonMode::String, Some(code)) => {
                    fields.insert("reason".to_owned(), Value::String(code.clone()));
                }
                (ReasonMode::Omitted, Some(_)) => {
                    fields.remove("reason");
                }
            }
        }
        body
    }

    /// The payee's number.
    pub fn msisdn(&self) -> &str {
        &self.request.payee.party_id
    }
}
