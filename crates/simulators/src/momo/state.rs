//! The simulator's state and how each ledger event changes it: the same code rebuilds the state
//! at start and applies each change as it happens, so memory and file cannot disagree.

use std::collections::HashMap;
use std::time::Instant;

use momo::Status;
use uuid::Uuid;

use super::callbacks::CallbackAttempt;
use super::config::Faults;
use super::ledger::{Event, Ledger, LedgerError};
use super::transfer::TransferRecord;

#[derive(Default)]
pub(super) struct State {
    pub(super) users: HashMap<String, ApiUser>,
    pub(super) tokens: HashMap<String, Grant>,
    pub(super) tokens_issued: u64,
    /// Faults injected so far (429/500/503 answers, answers held or cut after a create).
    pub(super) faults_injected: u64,
    pub(super) transfers: HashMap<Uuid, TransferRecord>,
    /// Reference ids in acceptance order, for listings and the statement.
    pub(super) order: Vec<Uuid>,
    pub(super) balance: u64,
    pub(super) faults: Faults,
    pub(super) callbacks: Vec<CallbackAttempt>,
    pub(super) ledger: Option<Ledger>,
}

#[derive(Clone)]
pub(crate) struct ApiUser {
    pub(crate) callback_host: String,
    pub(super) keys: Vec<String>,
}

pub(super) struct Grant {
    pub(super) api_user: String,
    pub(super) expires_at: Instant,
}

impl State {
    /// Writes `event` to the ledger, if there is one.
    pub(super) fn record(&mut self, event: Event) -> Result<(), LedgerError> {
        match &mut self.ledger {
            Some(ledger) => ledger.append(&event),
            None => Ok(()),
        }
    }

    /// Applies `event` to the in-memory state (at start, from the ledger; afterwards, as it happens).
    pub(super) fn replay(&mut self, event: Event) {
        match event {
            Event::Opened { balance, .. } => self.balance = balance,
            Event::ApiUser {
                api_user,
                callback_host,
            } => {
                self.users.insert(
                    api_user,
                    ApiUser {
                        callback_host,
                        keys: Vec::new(),
                    },
                );
            }
            Event::ApiKey { api_user, api_key } => {
                if let Some(user) = self.users.get_mut(&api_user) {
                    user.keys.push(api_key);
                }
            }
            Event::Transfer(record) => {
                self.order.push(record.reference_id);
                self.transfers.insert(record.reference_id, *record);
            }
            Event::Settled {
                reference_id,
                at,
                status,
                reason,
                financial_transaction_id,
            } => {
                // Only the first settlement counts: replaying is idempotent even if two
                // processes shared a data directory.
                if let Some(transfer) = self
                    .transfers
                    .get_mut(&reference_id)
                    .filter(|t| t.status == Status::Pending)
                {
                    if status == Status::Successful {
                        let amount = transfer.request.amount.parse().unwrap_or(0);
                        self.balance = self.balance.saturating_sub(amount);
                    }
                    transfer.status = status;
                    transfer.reason = reason;
                    transfer.financial_transaction_id = financial_transaction_id;
                    transfer.settled_at = Some(at);
                }
            }
            Event::TopUp { amount, .. } => self.balance = self.balance.saturating_add(amount),
        }
    }
}
