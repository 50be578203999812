//! Every screen a customer can see, put together from the messages, and the check that the USSD
//! settings' own texts keep every screen they appear in within one GSM-7 screen (issue 17,
//! item 13).

use africastalking::gsm7;

use super::menu::State;
use super::messages::{fill, Lang, Msg};
use crate::error::FieldError;
use crate::redemption::Refusal;
use crate::settings::model::Settings;

pub fn refusal_text(r: Refusal, lang: Lang, settings: &Settings) -> String {
    let msg = match r {
        Refusal::UnknownCode => Msg::UnknownCode,
        Refusal::AlreadyRedeemed => Msg::AlreadyRedeemed,
        Refusal::Expired => Msg::Expired,
        Refusal::Blocked => Msg::Blocked,
        Refusal::CampaignClosed => Msg::CampaignClosed,
        Refusal::CustomerLimit => Msg::CustomerLimit,
        Refusal::TooManyAttempts(_) => Msg::TooManyAttempts,
        Refusal::Mistyped => Msg::Typo,
    };
    msg.text(lang, &settings.ussd)
}

/// A state's screen (without the prefix).
pub fn screen(state: State, unknown_choice: bool, lang: Lang, settings: &Settings) -> String {
    let u = &settings.ussd;
    let head = if unknown_choice {
        Msg::UnknownChoice.text(lang, u)
    } else {
        Msg::Welcome.text(lang, u)
    };
    match state {
        State::Home => format!("{head}\n{}", Msg::MainMenu.text(lang, u)),
        State::EnterCode => with_footer(Msg::EnterCode.text(lang, u), lang, settings),
        State::EnterCodeToCheck => with_footer(Msg::EnterCodeToCheck.text(lang, u), lang, settings),
        State::Language if unknown_choice => format!("{head}\n{}", Msg::ChooseLanguage.text(lang, u)),
        State::Language => Msg::ChooseLanguage.text(lang, u),
        State::Help => with_footer(Msg::Help.text(lang, u), lang, settings),
    }
}

pub fn with_footer(text: String, lang: Lang, settings: &Settings) -> String {
    format!("{text}\n{}", Msg::BackHome.text(lang, &settings.ussd))
}

/// The widest values a screen's placeholders can take: the largest amount settings allow, the
/// currency, a full date and one letter.
fn widest_values(settings: &Settings) -> [(&'static str, String); 4] {
    [
        ("amount", settings.payments.max_amount.to_string()),
        ("currency", settings.payments.currency.clone()),
        ("date", "30/12/2027".to_owned()),
        ("char", "W".to_owned()),
    ]
}

fn filled(msg: Msg, lang: Lang, settings: &Settings) -> String {
    let values = widest_values(settings);
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    fill(&msg.text(lang, &settings.ussd), &values)
}

/// Every screen a customer can be shown in `lang`, with the widest values filled in: the budget
/// test reads them all.
pub fn every_screen(lang: Lang, settings: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    for state in [
        State::Home,
        State::EnterCode,
        State::EnterCodeToCheck,
        State::Language,
        State::Help,
    ] {
        for unknown in [false, true] {
            out.push(screen(state, unknown, lang, settings));
        }
    }
    for msg in [Msg::StarInCode, Msg::WrongFormat, Msg::Typo, Msg::NotACode] {
        out.push(with_footer(filled(msg, lang, settings), lang, settings));
    }
    for r in [
        Refusal::UnknownCode,
        Refusal::AlreadyRedeemed,
        Refusal::Expired,
        Refusal::Blocked,
        Refusal::CampaignClosed,
        Refusal::CustomerLimit,
    ] {
        out.push(refusal_text(r, lang, settings));
    }
    for msg in [
        Msg::TooManyAttempts,
        Msg::TooManyRequests,
        Msg::Busy,
        Msg::NotMtn,
        Msg::Error,
        Msg::Goodbye,
        Msg::Success,
        Msg::CodeValid,
    ] {
        out.push(filled(msg, lang, settings));
    }
    out
}

/// The messages settings can replace, with their setting's name.
const CUSTOM: [(Msg, &str); 4] = [
    (Msg::Welcome, "ussd.welcomeMessage"),
    (Msg::Help, "ussd.helpMessage"),
    (Msg::Error, "ussd.errorMessage"),
    (Msg::Success, "ussd.successMessage"),
];

/// The screens `msg` appears on, by name, with the widest values filled in.
fn screens_of(msg: Msg, lang: Lang, settings: &Settings) -> Vec<(&'static str, String)> {
    match msg {
        Msg::Welcome => vec![("home", screen(State::Home, false, lang, settings))],
        Msg::Help => vec![("help", screen(State::Help, false, lang, settings))],
        Msg::Error => vec![("error", filled(Msg::Error, lang, settings))],
        Msg::Success => vec![("success", filled(Msg::Success, lang, settings))],
        _ => Vec::new(),
    }
}

fn language_name(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "English",
        Lang::Rw => "Kinyarwanda",
    }
}

/// Each custom message, in each language it is set in, rendered on every screen it appears in
/// (after the GSM-7 forms of typographic quotes, dashes and `…` are put in): a character GSM-7
/// cannot carry, or a screen over the house budget of 160 septets, is a problem of that field
/// and language.
pub fn check_settings(settings: &Settings) -> Vec<FieldError> {
    let u = &settings.ussd;
    let mut out = Vec::new();
    for (msg, field) in CUSTOM {
        let custom = match msg {
            Msg::Welcome => &u.welcome_message,
            Msg::Help => &u.help_message,
            Msg::Error => &u.error_message,
            _ => &u.success_message,
        };
        for (lang, own) in [(Lang::En, &custom.en), (Lang::Rw, &custom.rw)] {
            if own.trim().is_empty() {
                continue;
            }
            let field = format!("{field}.{}", lang.as_str());
            let language = language_name(lang);
            for (name, text) in screens_of(msg, lang, settings) {
                let check = gsm7::screen_check(&text);
                if !check.non_gsm7.is_empty() {
                    let chars: String = check.non_gsm7.iter().map(|c| format!("“{c}” ")).collect();
                    out.push(FieldError::new(
                        &field,
                        format!(
                            "{language}: {}cannot be sent in GSM-7 (the {name} screen would be {} UCS-2 characters); \
                             use plain letters",
                            chars, check.chars
                        ),
                    ));
                    break;
                }
                if check.over_soft_limit {
                    out.push(FieldError::new(
                        &field,
                        format!(
                            "{language}: makes the {name} screen {} GSM-7 septets; a USSD screen holds at most {}",
                            check.chars,
                            gsm7::SOFT_LIMIT
                        ),
                    ));
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::model::Localized;

    #[test]
    fn every_screen_fits_160_gsm7_characters_in_both_languages() {
        let settings = Settings::default();
        for lang in [Lang::Rw, Lang::En] {
            let screens = every_screen(lang, &settings);
            assert!(screens.len() >= 25);
            for s in screens {
                let check = gsm7::screen_check(&s);
                assert!(
                    check.non_gsm7.is_empty(),
                    "{lang:?} non GSM-7 {:?} in {s:?}",
                    check.non_gsm7
                );
                assert!(!check.over_soft_limit, "{lang:?} {} characters: {s:?}", check.chars);
                assert!(!s.contains('{'), "unfilled placeholder in {s:?}");
            }
        }
        // every message is used by some screen
        for msg in Msg::ALL {
            for lang in [Lang::Rw, Lang::En] {
                let text = msg.builtin(lang);
                let first_line = text.lines().next().unwrap_or_default();
                let head: String = first_line.chars().take_while(|c| *c != '{').collect();
                assert!(
                    every_screen(lang, &settings).iter().any(|s| s.contains(&head)),
                    "{msg:?} {lang:?} is never shown"
                );
            }
        }
    }

    fn with(msg: Msg, en: &str, rw: &str) -> Settings {
        let mut s = Settings::default();
        let l = Localized {
            en: en.into(),
            rw: rw.into(),
        };
        match msg {
            Msg::Welcome => s.ussd.welcome_message = l,
            Msg::Help => s.ussd.help_message = l,
            Msg::Error => s.ussd.error_message = l,
            _ => s.ussd.success_message = l,
        }
        s
    }

    #[test]
    fn custom_texts_are_checked_on_every_screen_they_appear_on() {
        for (msg, _) in CUSTOM {
            let s = with(msg, "Short and plain {amount} {currency}", "Bigufi {amount}");
            assert_eq!(check_settings(&s), vec![]);
            for lang in [Lang::En, Lang::Rw] {
                let all = every_screen(lang, &s);
                for (_, screen) in screens_of(msg, lang, &s) {
                    assert!(all.contains(&screen), "{msg:?}: {screen:?} is not a screen");
                }
            }
        }
        // the home screen adds the menu to the welcome text: 120 characters do not fit
        let s = with(Msg::Welcome, &"w".repeat(120), "");
        let e = check_settings(&s);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].field, "ussd.welcomeMessage.en");
        assert!(
            e[0].message.contains("English") && e[0].message.contains("181 GSM-7 septets"),
            "{e:?}"
        );
        // the largest amount settings allow is the amount a success screen can show
        let mut s = with(
            Msg::Success,
            "",
            &format!("{} {{amount}} {{currency}}", "a".repeat(148)),
        );
        assert_eq!(check_settings(&s), vec![]);
        s.payments.max_amount = 10_000_000;
        let e = check_settings(&s);
        assert_eq!(e[0].field, "ussd.successMessage.rw");
        assert!(
            e[0].message.contains("Kinyarwanda") && e[0].message.contains("161 GSM-7"),
            "{e:?}"
        );
    }

    #[test]
    fn typographic_characters_become_gsm7_and_others_are_refused() {
        let s = with(Msg::Help, "Call us \u{2014} \u{201C}any time\u{201D}\u{2026}", "");
        assert_eq!(check_settings(&s), vec![]);
        assert_eq!(
            screen(State::Help, false, Lang::En, &s),
            "Call us - \"any time\"...\n0. Back 00. Home"
        );
        let s = with(Msg::Error, "", "Ihangane 😔");
        let e = check_settings(&s);
        assert_eq!(e[0].field, "ussd.errorMessage.rw");
        assert!(e[0].message.contains("😔"), "{e:?}");
    }
}
