//! How a hop ends: the screen the customer sees and the outcome the interaction log and the
//! metrics record.

use crate::redemption::Refusal;

/// How a hop ended, as the interaction log (`ussd_interactions.outcome`) and the metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A menu screen.
    Menu,
    LanguageSet,
    StarInCode,
    WrongFormat,
    /// A character no code has (answered without a lookup).
    NotACode,
    Exit,
    Redeemed,
    CodeValid,
    /// The phone is over its dialling limits.
    TooManyRequests,
    /// The hop came after the input or session timeout: ended, to start over.
    TimedOut,
    /// The session took more inputs than the menu depth allows: ended, to start over.
    TooDeep,
    /// The same hop again: the same answer, nothing done.
    Repeat,
    /// A lock wait ran out: try again.
    Busy,
    Error,
    WrongServiceCode,
    BadPhone,
    NotMtn,
    /// A redemption or a check refused.
    Refused(Refusal),
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Menu => "menu",
            Outcome::LanguageSet => "language_set",
            Outcome::StarInCode => "star_in_code",
            Outcome::WrongFormat => "wrong_format",
            Outcome::NotACode => "not_a_code",
            Outcome::Exit => "exit",
            Outcome::Redeemed => "redeemed",
            Outcome::CodeValid => "code_valid",
            Outcome::TooManyRequests => "too_many_requests",
            Outcome::TimedOut => "timed_out",
            Outcome::TooDeep => "too_deep",
            Outcome::Repeat => "repeat",
            Outcome::Busy => "busy",
            Outcome::Error => "error",
            Outcome::WrongServiceCode => "wrong_service_code",
            Outcome::BadPhone => "bad_phone",
            Outcome::NotMtn => "not_mtn",
            Outcome::Refused(r) => r.outcome(),
        }
    }
}

/// What the customer sees, and how the hop ended for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `CON …` or `END …`
    pub body: String,
    pub outcome: Outcome,
}

impl Answer {
    pub(super) fn con(text: String, outcome: Outcome) -> Self {
        Answer {
            body: format!("CON {text}"),
            outcome,
        }
    }

    pub(super) fn end(text: String, outcome: Outcome) -> Self {
        Answer {
            body: format!("END {text}"),
            outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redemption::limits::ATTEMPTS;
    use crate::redemption::Limited;

    #[test]
    fn the_outcomes_counted_as_attempts_are_outcomes() {
        let refusals = [
            Refusal::UnknownCode,
            Refusal::AlreadyRedeemed,
            Refusal::Expired,
            Refusal::Blocked,
            Refusal::CampaignClosed,
            Refusal::CustomerLimit,
            Refusal::CoolingDown,
            Refusal::TooManyAttempts(Limited::Crossed),
            Refusal::TooManyAttempts(Limited::Blocked),
            Refusal::Mistyped,
            Refusal::Barred,
        ];
        let mut all: Vec<Outcome> = vec![
            Outcome::Menu,
            Outcome::LanguageSet,
            Outcome::StarInCode,
            Outcome::WrongFormat,
            Outcome::NotACode,
            Outcome::Exit,
            Outcome::Redeemed,
            Outcome::CodeValid,
            Outcome::TooManyRequests,
            Outcome::TimedOut,
            Outcome::TooDeep,
            Outcome::Repeat,
            Outcome::Busy,
            Outcome::Error,
            Outcome::WrongServiceCode,
            Outcome::BadPhone,
            Outcome::NotMtn,
        ];
        all.extend(refusals.map(Outcome::Refused));
        let names: Vec<&str> = all.iter().map(|o| o.as_str()).collect();
        for a in ATTEMPTS {
            assert!(names.contains(a), "{a} is no hop outcome");
        }
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "each outcome has its own name");
    }
}
