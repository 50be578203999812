//! The menu as a pure state machine: where the customer is, what they typed, where they go next.
//!
//! Africa's Talking sends the whole input history (`1*2*…`) on every hop. The session keeps its
//! state and the text it last answered (DESIGN.md §4, INTEGRATIONS.md B4), so only the newest
//! input is interpreted here: a `*` typed inside a code stays part of that input and is refused
//! with its own message instead of silently becoming extra menu levels. `0` goes back and `00`
//! goes home from every screen; `0` on the home screen says goodbye.
//!
//! A typed code is checked here only for what needs no database: its format, and characters no
//! code can have. Whether a wrong check character is a typo depends on the batch the code would
//! belong to, so that is decided after the lookup ([`crate::redemption::look`]).

use crate::codes::format::{self, Alphabet, ParseError, PromoCode};

use super::messages::Lang;
use super::transcript;

/// Where the customer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Home,
    EnterCode,
    EnterCodeToCheck,
    Language,
    Help,
    /// The session ended on a timeout or its depth: whatever comes next starts over at the
    /// welcome screen.
    Restart,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Home => "home",
            State::EnterCode => "enter_code",
            State::EnterCodeToCheck => "enter_check",
            State::Language => "language",
            State::Help => "help",
            State::Restart => "restart",
        }
    }

    pub fn parse(s: &str) -> State {
        match s {
            "enter_code" => State::EnterCode,
            "enter_check" => State::EnterCodeToCheck,
            "language" => State::Language,
            "help" => State::Help,
            "restart" => State::Restart,
            _ => State::Home,
        }
    }
}

/// Why a typed code was not taken (the customer is asked again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retype {
    Star,
    Format,
    /// A character no code has (outside the character set and the date digits); the first one.
    NotACode(char),
}

/// What the input leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Show a state's screen; `unknown_choice` prefixes "Unknown choice".
    Show { state: State, unknown_choice: bool },
    /// Ask for the code again, saying why.
    Retype { state: State, why: Retype },
    /// Redeem this code (ends the session).
    Redeem(PromoCode),
    /// Tell the customer what this code is worth (ends the session).
    Check(PromoCode),
    /// Remember the language and show the home screen in it.
    SetLanguage(Lang),
    /// `0` on the home screen.
    Exit,
}

/// Applies one input (the part after the last hop's text) to a state. `languages`: the menu
/// offers the language choice (as 3; help is then 4, else 3).
pub fn step(state: State, input: &str, alphabet: &Alphabet, languages: bool) -> Next {
    let input = input.trim().trim_end_matches('#').trim();
    let show = |state| Next::Show {
        state,
        unknown_choice: false,
    };
    if input == "00" || state == State::Restart {
        return show(State::Home);
    }
    if input == "0" {
        return match state {
            State::Home => Next::Exit,
            _ => show(State::Home),
        };
    }
    match state {
        State::Home => match input {
            "1" => show(State::EnterCode),
            "2" => show(State::EnterCodeToCheck),
            "3" if languages => show(State::Language),
            "3" => show(State::Help),
            "4" if languages => show(State::Help),
            // an empty first input (or a bare re-send) is the home screen again
            "" => show(State::Home),
            _ => Next::Show {
                state: State::Home,
                unknown_choice: true,
            },
        },
        State::EnterCode | State::EnterCodeToCheck => match read_code(input, alphabet) {
            Ok(code) if state == State::EnterCode => Next::Redeem(code),
            Ok(code) => Next::Check(code),
            Err(why) => Next::Retype { state, why },
        },
        State::Language => match input {
            "1" => Next::SetLanguage(Lang::Rw),
            "2" => Next::SetLanguage(Lang::En),
            _ => Next::Show {
                state: State::Language,
                unknown_choice: true,
            },
        },
        State::Help => show(State::Help),
        // answered above
        State::Restart => show(State::Home),
    }
}

/// A code as typed on a keypad: lower case, spaces and missing dashes are fine; `*` is not, and
/// neither is a character that no code has: a letter or digit outside the character set, other
/// than the date's digits (an `O` typed for a `0`, say).
pub fn read_code(input: &str, alphabet: &Alphabet) -> Result<PromoCode, Retype> {
    let code = format::parse(input).map_err(|e| match e {
        ParseError::Star => Retype::Star,
        ParseError::Length | ParseError::Characters => Retype::Format,
    })?;
    if let Some(c) = alphabet.foreign(&code) {
        return Err(Retype::NotACode(c));
    }
    Ok(code)
}

/// The new input of a hop: `text` minus the text already answered in this session, which the
/// session keeps masked ([`transcript::mask`]): the answered text is as many `*`-separated parts
/// as the stored one, and masks to it. A gateway that sends only the latest input (some operators
/// do) is taken as it comes.
pub fn new_input<'a>(previous: Option<&str>, text: &'a str) -> &'a str {
    let Some(p) = previous.filter(|p| !p.is_empty()) else {
        return text;
    };
    let parts = p.split('*').count();
    match text.match_indices('*').nth(parts - 1) {
        Some((at, _)) if transcript::mask(&text[..at]) == p => &text[at + 1..],
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alphabet() -> Alphabet {
        Alphabet::new("ABCDEFGHJKLMNPQRSTUVWXYZ23456789").expect("alphabet")
    }

    fn go(state: State, input: &str) -> Next {
        step(state, input, &alphabet(), true)
    }

    #[test]
    fn home_choices_lead_to_their_screens() {
        let show = |state| Next::Show {
            state,
            unknown_choice: false,
        };
        assert_eq!(go(State::Home, "1"), show(State::EnterCode));
        assert_eq!(go(State::Home, "2"), show(State::EnterCodeToCheck));
        assert_eq!(go(State::Home, "3"), show(State::Language));
        assert_eq!(go(State::Home, "4"), show(State::Help));
        assert_eq!(
            go(State::Home, "7"),
            Next::Show {
                state: State::Home,
                unknown_choice: true
            }
        );
        assert_eq!(go(State::Home, "0"), Next::Exit);
    }

    #[test]
    fn without_the_language_choice_help_is_3() {
        let a = alphabet();
        let show = |state| Next::Show {
            state,
            unknown_choice: false,
        };
        assert_eq!(step(State::Home, "3", &a, false), show(State::Help));
        assert_eq!(
            step(State::Home, "4", &a, false),
            Next::Show {
                state: State::Home,
                unknown_choice: true
            }
        );
        // after a timeout, whatever is typed shows the welcome screen
        assert_eq!(step(State::Restart, "1", &a, true), show(State::Home));
    }

    #[test]
    fn back_and_home_work_everywhere() {
        for s in [State::EnterCode, State::EnterCodeToCheck, State::Language, State::Help] {
            for key in ["0", "00"] {
                assert_eq!(
                    go(s, key),
                    Next::Show {
                        state: State::Home,
                        unknown_choice: false
                    }
                );
            }
        }
    }

    #[test]
    fn codes_are_read_as_typed_on_a_keypad() {
        let want = format::parse("ABCD-EF26-GH11-JK25").expect("code");
        for typed in ["abcdef26gh11jk25", "ABCD EF26 GH11 JK25", "abcd-ef26-gh11-jk25#"] {
            assert_eq!(go(State::EnterCode, typed), Next::Redeem(want.clone()), "{typed}");
        }
        assert_eq!(go(State::EnterCodeToCheck, "abcdef26gh11jk25"), Next::Check(want));
        assert_eq!(
            go(State::EnterCode, "ABCD*EF26GH11JK25"),
            Next::Retype {
                state: State::EnterCode,
                why: Retype::Star
            }
        );
        assert_eq!(
            go(State::EnterCode, "ABCD"),
            Next::Retype {
                state: State::EnterCode,
                why: Retype::Format
            }
        );
        assert_eq!(
            go(State::EnterCode, "ÀBCD-EF26-GH11-JK25"),
            Next::Retype {
                state: State::EnterCode,
                why: Retype::Format
            }
        );
    }

    #[test]
    fn a_wrong_check_character_is_left_to_the_lookup() {
        // whether it is a typo depends on the batch the code would belong to (issue 17, item 12)
        let a = alphabet();
        let mut g = format::Generator::new(a.clone(), true, chrono::DateTime::UNIX_EPOCH, rand::rngs::OsRng);
        let good = g.next_code();
        let mut bad = good.as_str().to_owned().into_bytes();
        bad[0] = if bad[0] == b'A' { b'B' } else { b'A' };
        let bad = format::parse(std::str::from_utf8(&bad).expect("ascii")).expect("code");
        assert!(!bad.check_ok(&a));
        assert_eq!(step(State::EnterCode, bad.as_str(), &a, true), Next::Redeem(bad));
    }

    #[test]
    fn characters_no_code_has_are_not_a_code() {
        // O and I are not in the character set; 0 and 1 only in the date
        assert_eq!(
            go(State::EnterCode, "OBCD-EF26-GH11-JK25"),
            Next::Retype {
                state: State::EnterCode,
                why: Retype::NotACode('O')
            }
        );
        assert_eq!(
            go(State::EnterCodeToCheck, "abcd ef26 gi11 jk25"),
            Next::Retype {
                state: State::EnterCodeToCheck,
                why: Retype::NotACode('I')
            }
        );
        // digits are fine anywhere (dates); the lookup tells the rest
        let code = format::parse("ABCD-EF06-GH10-JK25").expect("code");
        assert_eq!(go(State::EnterCode, "ABCD-EF06-GH10-JK25"), Next::Redeem(code));
    }

    #[test]
    fn language_choice() {
        assert_eq!(go(State::Language, "1"), Next::SetLanguage(Lang::Rw));
        assert_eq!(go(State::Language, "2"), Next::SetLanguage(Lang::En));
    }

    #[test]
    fn only_the_newest_input_is_read() {
        // the session keeps the answered text masked
        let stored = |t: &str| transcript::mask(t);
        assert_eq!(new_input(None, ""), "");
        assert_eq!(new_input(Some(""), "1"), "1");
        assert_eq!(
            new_input(Some(&stored("1")), "1*ABCD*EF26GH11JK25"),
            "ABCD*EF26GH11JK25"
        );
        assert_eq!(new_input(Some(&stored("1*X")), "1*X*0"), "0");
        assert_eq!(
            new_input(
                Some(&stored("1*ABCD*EF26GH11JK25")),
                "1*ABCD*EF26GH11JK25*abcdef26gh11jk25"
            ),
            "abcdef26gh11jk25"
        );
        // an operator that sends only the latest input
        assert_eq!(new_input(Some(&stored("1")), "2"), "2");
        assert_eq!(new_input(Some(&stored("1*X")), "3*4*5"), "3*4*5");
    }
}
