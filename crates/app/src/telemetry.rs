//! Logging, set up once per process: structured `tracing`, JSON in production; plain text
//! elsewhere, coloured only on a terminal. Outside production each request is logged at DEBUG
//! (target `access`), so the console shows what happens, not every page load.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, prelude::*, EnvFilter};

use crate::config::LogFormat;

pub fn init(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    // try_init: a second call (tests) keeps the first subscriber
    let _ = match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .with_ansi(false)
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(
                fmt::layer()
                    .compact()
                    .with_target(false)
                    .with_ansi(colours(std::io::stdout().is_terminal())),
            )
            .try_init(),
    };
}

/// Colours only for a person at a terminal: a pipe, a file or a log collector gets plain text.
/// `NO_COLOR` (any value, <https://no-color.org>) turns them off on a terminal too.
fn colours(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Masks a phone number for logs: `+250788123456` → `+250788***456`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 6 {
        return "***".to_owned();
    }
    let head: String = chars[..chars.len() - 6].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}***{tail}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn phone_numbers_are_masked() {
        assert_eq!(super::mask_phone("+250788123456"), "+250788***456");
        assert_eq!(super::mask_phone("123"), "***");
    }
}
