//! The statuses of a payout, its attempts and its reversals, as the CHECK constraints name them,
//! and why a queued payout is held.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `disbursements.status` (`disbursements_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, Serialize, Deserialize, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum PayoutStatus {
    AwaitingApproval,
    Queued,
    Processing,
    RetryScheduled,
    Completed,
    Failed,
    PayeeInvalid,
}

impl PayoutStatus {
    pub const ALL: [PayoutStatus; 7] = [
        PayoutStatus::AwaitingApproval,
        PayoutStatus::Queued,
        PayoutStatus::Processing,
        PayoutStatus::RetryScheduled,
        PayoutStatus::Completed,
        PayoutStatus::Failed,
        PayoutStatus::PayeeInvalid,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            PayoutStatus::AwaitingApproval => "awaiting_approval",
            PayoutStatus::Queued => "queued",
            PayoutStatus::Processing => "processing",
            PayoutStatus::RetryScheduled => "retry_scheduled",
            PayoutStatus::Completed => "completed",
            PayoutStatus::Failed => "failed",
            PayoutStatus::PayeeInvalid => "payee_invalid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Failed for good: nothing more happens to it unless a person acts.
    pub fn failed_for_good(self) -> bool {
        matches!(self, PayoutStatus::Failed | PayoutStatus::PayeeInvalid)
    }
}

impl fmt::Display for PayoutStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for PayoutStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for PayoutStatus {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

/// `disbursement_attempts.status` (`disbursement_attempts_status_check`): one MoMo reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, Serialize, Deserialize, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    /// Written (with its reference) before the POST.
    Created,
    /// MoMo accepted the POST (202, or 409: it had it already).
    Sent,
    /// MoMo said PENDING; polled with backoff.
    Pending,
    Successful,
    Failed,
    /// The POST's outcome is not known (timeout, 5xx): the status query tells.
    Unknown,
}

impl AttemptStatus {
    pub const ALL: [AttemptStatus; 6] = [
        AttemptStatus::Created,
        AttemptStatus::Sent,
        AttemptStatus::Pending,
        AttemptStatus::Successful,
        AttemptStatus::Failed,
        AttemptStatus::Unknown,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::Created => "created",
            AttemptStatus::Sent => "sent",
            AttemptStatus::Pending => "pending",
            AttemptStatus::Successful => "successful",
            AttemptStatus::Failed => "failed",
            AttemptStatus::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Not resolved yet: the same reference is asked about (or posted again) before any other.
    pub fn unresolved(self) -> bool {
        matches!(
            self,
            AttemptStatus::Created | AttemptStatus::Sent | AttemptStatus::Pending | AttemptStatus::Unknown
        )
    }
}

impl fmt::Display for AttemptStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for AttemptStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// `redemption_reversals.status` (`redemption_reversals_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, Serialize, Deserialize, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ReversalStatus {
    Pending,
    Approved,
    Rejected,
}

impl ReversalStatus {
    pub const ALL: [ReversalStatus; 3] = [
        ReversalStatus::Pending,
        ReversalStatus::Approved,
        ReversalStatus::Rejected,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ReversalStatus::Pending => "pending",
            ReversalStatus::Approved => "approved",
            ReversalStatus::Rejected => "rejected",
        }
    }
}

impl fmt::Display for ReversalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ReversalStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Why a `queued` payout is held back, or an `awaiting_approval` one waits for a person past a
/// limit (`disbursements.held_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, utoipa::ToSchema)]
pub enum HeldReason {
    /// MoMo said NOT_ENOUGH_FUNDS.
    InsufficientFunds,
    /// Our reading of the balance cannot cover it.
    LowBalance,
    /// Today's payout limit is reached.
    DailyLimit,
    /// This month's payout limit would be exceeded: the payout waits for approval.
    MonthlyLimit,
    /// MoMo refuses our configuration.
    MomoConfiguration,
}

impl HeldReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            HeldReason::InsufficientFunds => "insufficient_funds",
            HeldReason::LowBalance => "low_balance",
            HeldReason::DailyLimit => "daily_limit",
            HeldReason::MonthlyLimit => "monthly_limit",
            HeldReason::MomoConfiguration => "momo_configuration",
        }
    }
}

impl fmt::Display for HeldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
