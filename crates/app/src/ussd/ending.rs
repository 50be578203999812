//! When a session ends before the customer is done: the hop came too long after the previous one
//! (settings `ussd.inputTimeoutSeconds`), the session has lasted too long
//! (`ussd.sessionTimeoutSeconds`), or it has taken more inputs than `ussd.maxMenuDepth`. The hop
//! that finds it so is answered `END` politely, with the code to dial again; nothing it typed is
//! applied, and whatever comes next on that session starts over at the welcome screen
//! ([`super::menu::State::Restart`]).

use chrono::{DateTime, Duration, Utc};

use super::messages::Msg;
use crate::settings::model::UssdSettings;

/// The session as the hop found it (before this hop touched it).
#[derive(Debug, Clone, Copy)]
pub struct Before {
    /// A new session: nothing to time out.
    pub inserted: bool,
    /// The previous hop's time.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// When the session (or its latest start-over) began.
    pub started_at: Option<DateTime<Utc>>,
    /// Inputs taken since then.
    pub depth: i32,
}

/// Why this hop ends the session, if it does: [`Msg::TimedOut`] or [`Msg::TooDeep`].
pub fn ends(u: &UssdSettings, before: &Before, new_inputs: usize, now: DateTime<Utc>) -> Option<Msg> {
    if !before.inserted {
        let idle = before.last_seen_at.map(|t| now - t);
        let age = before.started_at.map(|t| now - t);
        let over = |d: Option<Duration>, secs: u32| d.is_some_and(|d| d > Duration::seconds(i64::from(secs)));
        if over(idle, u.input_timeout_seconds) || over(age, u.session_timeout_seconds) {
            return Some(Msg::TimedOut);
        }
    }
    let depth = i64::from(before.depth.max(0)) + new_inputs as i64;
    (depth > i64::from(u.max_menu_depth)).then_some(Msg::TooDeep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::seconds(secs)
    }

    #[test]
    fn timeouts_and_depth() {
        let u = UssdSettings {
            input_timeout_seconds: 30,
            session_timeout_seconds: 180,
            max_menu_depth: 4,
            ..UssdSettings::default()
        };
        let b = Before {
            inserted: false,
            last_seen_at: Some(at(100)),
            started_at: Some(at(0)),
            depth: 2,
        };
        assert_eq!(ends(&u, &b, 1, at(130)), None, "30 s is still in time");
        assert_eq!(ends(&u, &b, 1, at(131)), Some(Msg::TimedOut));
        let long = Before {
            last_seen_at: Some(at(170)),
            ..b
        };
        assert_eq!(ends(&u, &long, 1, at(181)), Some(Msg::TimedOut), "the whole session");
        assert_eq!(ends(&u, &b, 2, at(110)), None, "4 inputs");
        assert_eq!(ends(&u, &b, 3, at(110)), Some(Msg::TooDeep));
        // a new session cannot time out, but an extended dial can be too deep
        let new = Before {
            inserted: true,
            last_seen_at: Some(at(0)),
            started_at: Some(at(0)),
            depth: 0,
        };
        assert_eq!(ends(&u, &new, 4, at(1000)), None);
        assert_eq!(ends(&u, &new, 5, at(1000)), Some(Msg::TooDeep));
    }
}
