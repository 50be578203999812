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
