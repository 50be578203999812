//! What a reconciliation finds: the item kinds, gravest first, with the words staff read.

use serde::Serialize;

/// The kind of a reconciliation item. An item is one disbursement (or one MoMo transaction we
/// have no record of); its kind is the gravest of its findings ([`Kind::rank`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// MoMo paid a reference we do not count as paid (a failed or pending payout here, or a
    /// second payout of a disbursement already completed): money left without our record of it.
    SuccessfulAtMomoNotHere,
    /// We count the payout as paid, but MoMo does not know its reference at all.
    PaidHereUnknownToMomo,
    /// MoMo has a transaction that matches nothing of ours (only a statement can show this).
    MissingHere,
    /// MoMo's amount (or currency) differs from ours, or the redemption's from the disbursement's.
    AmountMismatch,
    /// MoMo's status disagrees with ours (paid here but FAILED or PENDING there; FAILED there and
    /// still pending here; …), or the redemption's status disagrees with its disbursement's.
    StatusMismatch,
    /// MoMo acknowledged the transfer once (202, a status, a ledger id), but does not know it now.
    MissingAtMomo,
    /// Not paid because the payee has no active MoMo wallet (`payee_invalid`): the prize is still
    /// owed until a person gives the payout another number.
    UnpaidPayeeInvalid,
    /// Still not final, longer than the threshold ([`super::pending_threshold`]).
    PendingTooLong,
    /// MoMo could not be asked (errors after retries) and no statement line stood in.
    Unchecked,
    /// Both sides agree.
    Match,
}

impl Kind {
    /// Every kind, gravest first (the order of lists, charts and the CSV).
    pub const ALL: [Kind; 10] = [
        Kind::SuccessfulAtMomoNotHere,
        Kind::PaidHereUnknownToMomo,
        Kind::MissingHere,
        Kind::AmountMismatch,
        Kind::StatusMismatch,
        Kind::MissingAtMomo,
        Kind::UnpaidPayeeInvalid,
        Kind::PendingTooLong,
        Kind::Unchecked,
        Kind::Match,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SuccessfulAtMomoNotHere => "successful_at_momo_not_here",
            Kind::PaidHereUnknownToMomo => "paid_here_unknown_to_momo",
            Kind::MissingHere => "missing_here",
            Kind::AmountMismatch => "amount_mismatch",
            Kind::StatusMismatch => "status_mismatch",
            Kind::MissingAtMomo => "missing_at_momo",
            Kind::UnpaidPayeeInvalid => "unpaid_payee_invalid",
            Kind::PendingTooLong => "pending_too_long",
            Kind::Unchecked => "unchecked",
            Kind::Match => "match",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }

    /// How staff read it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::SuccessfulAtMomoNotHere => "Successful at MoMo, not here",
            Kind::PaidHereUnknownToMomo => "Paid here, unknown to MoMo",
            Kind::MissingHere => "Missing here",
            Kind::AmountMismatch => "Amount mismatch",
            Kind::StatusMismatch => "Status mismatch",
            Kind::MissingAtMomo => "Missing at MoMo",
            Kind::UnpaidPayeeInvalid => "Unpaid: no MoMo wallet",
            Kind::PendingTooLong => "Pending too long",
            Kind::Unchecked => "Could not check",
            Kind::Match => "Matched",
        }
    }

    /// Orphans: money or a payout that one side has and the other does not account for.
    pub fn is_orphan(self) -> bool {
        matches!(
            self,
            Kind::SuccessfulAtMomoNotHere | Kind::PaidHereUnknownToMomo | Kind::PendingTooLong
        )
    }

    /// Lower is graver.
    pub fn rank(self) -> usize {
        Kind::ALL.iter().position(|k| *k == self).unwrap_or(Kind::ALL.len())
    }

    pub fn is_discrepancy(self) -> bool {
        self != Kind::Match
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn kinds_round_trip_and_rank_gravest_first() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert!(Kind::SuccessfulAtMomoNotHere.rank() < Kind::Match.rank());
        assert_eq!(Kind::parse("nope"), None);
        assert!(!Kind::Match.is_discrepancy());
    }
}
