//! What the subscriber sees after a hop, and what the gateway found wrong with the app's answer.

use std::fmt;
use std::time::Duration;

use africastalking::gsm7::{Encoding, ScreenCheck, GSM7_HARD_LIMIT, SOFT_LIMIT, UCS2_HARD_LIMIT};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

/// What the handset shows when the gateway ends a session on an app error: the app's text is lost.
pub const GENERIC_ERROR: &str = "Connection problem or invalid MMI code.";

/// The kind of screen the handset shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ScreenKind {
    /// `CON`: a menu waiting for input.
    Con,
    /// `END`: a final message; the session is over.
    End,
    /// The gateway ended the session because of the app (see the violations); the handset shows
    /// [`GENERIC_ERROR`].
    Error,
}

/// Something wrong with an answer. Fatal ones end the session as `Failed` (B3, B10.2–3); the
/// others are warnings the subscriber may or may not notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// The app could not be reached or the connection broke.
    Transport(String),
    /// No complete answer within the deadline.
    DeadlineExceeded(Duration),
    /// An HTTP status other than 200.
    Status(u16),
    /// The body does not start with `CON ` or `END `.
    BadPrefix(String),
    /// More than one USSD screen can carry.
    TooLong { chars: usize, encoding: Encoding },
    /// Longer than the 160-character house budget.
    OverSoftLimit { chars: usize },
    /// Characters outside GSM-7, which force UCS-2 and may not render.
    NonGsm7(Vec<char>),
    /// A `Content-Type` other than `text/plain`.
    ContentType(String),
    /// Fault injection: the duplicate delivery of a hop got a different answer.
    DuplicateMismatch,
}

impl Violation {
    /// Whether AT ends the session over it.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Transport(_)
                | Self::DeadlineExceeded(_)
                | Self::Status(_)
                | Self::BadPrefix(_)
                | Self::TooLong { .. }
        )
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(error) => write!(f, "could not reach the app: {error}"),
            Self::DeadlineExceeded(deadline) => write!(f, "the app did not answer within {} ms", deadline.as_millis()),
            Self::Status(status) => write!(f, "the app answered HTTP {status}, not 200"),
            Self::BadPrefix(start) => {
                write!(
                    f,
                    "the answer must start with \"CON \" or \"END \", it starts with {start:?}"
                )
            }
            Self::TooLong {
                chars,
                encoding: Encoding::Gsm7,
            } => {
                write!(
                    f,
                    "{chars} GSM-7 characters: a USSD screen carries at most {GSM7_HARD_LIMIT}"
                )
            }
            Self::TooLong {
                chars,
                encoding: Encoding::Ucs2,
            } => {
                write!(
                    f,
                    "{chars} UCS-2 characters: a USSD screen carries at most {UCS2_HARD_LIMIT}"
                )
            }
            Self::OverSoftLimit { chars } => write!(f, "{chars} characters: keep a screen within {SOFT_LIMIT}"),
            Self::NonGsm7(chars) => {
                let list: String = chars.iter().collect();
                write!(f, "characters outside GSM-7 force UCS-2 and may not render: {list}")
            }
            Self::ContentType(content_type) => write!(f, "Content-Type is {content_type:?}, expected text/plain"),
            Self::DuplicateMismatch => f.write_str("the duplicate delivery of this hop got a different answer"),
        }
    }
}

/// Shown to people and the control API as `{ "fatal": …, "message": … }`.
impl Serialize for Violation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("Violation", 2)?;
        state.serialize_field("fatal", &self.is_fatal())?;
        state.serialize_field("message", &self.to_string())?;
        state.end()
    }
}

/// The warnings a screen's text earns (the fatal length check included).
pub(crate) fn text_violations(check: &ScreenCheck) -> Vec<Violation> {
    let mut found = Vec::new();
    if check.over_hard_limit {
        found.push(Violation::TooLong {
            chars: check.chars,
            encoding: check.encoding,
        });
    } else if check.over_soft_limit {
        found.push(Violation::OverSoftLimit { chars: check.chars });
    }
    if !check.non_gsm7.is_empty() {
        found.push(Violation::NonGsm7(check.non_gsm7.clone()));
    }
    found
}

/// Fault injection: how the second delivery of a hop was answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateReport {
    /// Same status and byte-identical body as the first delivery.
    pub identical: bool,
    /// The second answer: its body, or what went wrong.
    pub second_answer: String,
}

/// One screen on the handset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Screen {
    pub kind: ScreenKind,
    /// What the handset shows (the app's text without its prefix, or [`GENERIC_ERROR`]).
    pub text: String,
    /// The cost of the app's text, when there was a readable answer.
    pub check: Option<ScreenCheck>,
    /// Everything wrong with the answer, fatal first.
    pub violations: Vec<Violation>,
    /// Present when duplicate delivery was on.
    pub duplicate: Option<DuplicateReport>,
    /// 1 for the dial, then one more per input.
    pub hop: u32,
}

impl Screen {
    /// Whether the session waits for more input.
    pub fn is_open(&self) -> bool {
        self.kind == ScreenKind::Con
    }

    /// The violation that ended the session, if one did.
    pub fn fatal(&self) -> Option<&Violation> {
        self.violations.iter().find(|violation| violation.is_fatal())
    }

    /// The non-fatal findings.
    pub fn warnings(&self) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(|violation| !violation.is_fatal())
    }
}
