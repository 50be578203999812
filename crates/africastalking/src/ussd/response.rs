//! The app's plain-text answer to a hop: `CON …` keeps the session open, `END …` closes it (B3).

use std::fmt;

/// The `Content-Type` AT expects on the answer.
pub const RESPONSE_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// What the app shows the subscriber: a menu waiting for input, or a final message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UssdResponse {
    /// Show the text and wait for the next input.
    Con(String),
    /// Show the text and close the session.
    End(String),
}

/// Why an answer is not a USSD response; AT ends the session when it sees one (B11.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error("the answer must start with \"CON \" or \"END \" (capitals, one space), it starts with {0:?}")]
    BadPrefix(String),
}

impl UssdResponse {
    /// The body to send: the prefix, one space, the text.
    pub fn render(&self) -> String {
        match self {
            Self::Con(text) => format!("CON {text}"),
            Self::End(text) => format!("END {text}"),
        }
    }

    /// Reads an answer as strictly as AT does: `CON ` or `END ` exactly, in capitals.
    pub fn parse(body: &str) -> Result<Self, ResponseError> {
        if let Some(text) = body.strip_prefix("CON ") {
            Ok(Self::Con(text.to_owned()))
        } else if let Some(text) = body.strip_prefix("END ") {
            Ok(Self::End(text.to_owned()))
        } else {
            Err(ResponseError::BadPrefix(body.chars().take(12).collect()))
        }
    }

    /// The text shown on the handset, without the prefix.
    pub fn text(&self) -> &str {
        match self {
            Self::Con(text) | Self::End(text) => text,
        }
    }

    /// Whether this answer closes the session.
    pub fn is_end(&self) -> bool {
        matches!(self, Self::End(_))
    }
}

impl fmt::Display for UssdResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_parses_both_kinds() {
        for response in [
            UssdResponse::Con("1. Redeem\n2. Help".into()),
            UssdResponse::End("Thanks".into()),
        ] {
            assert_eq!(UssdResponse::parse(&response.render()), Ok(response));
        }
        assert_eq!(UssdResponse::Con("Menu".into()).render(), "CON Menu");
        assert_eq!(UssdResponse::parse("END "), Ok(UssdResponse::End(String::new())));
    }

    #[test]
    fn rejects_what_at_rejects() {
        for body in ["con Menu", "CON", "CONMenu", "END\nBye", " CON Menu", "", "Menu"] {
            assert!(UssdResponse::parse(body).is_err(), "{body:?} should be rejected");
        }
    }
}
