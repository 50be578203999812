//! Every screen a customer can see, put together from the messages, and the check that the USSD
//! settings' own texts keep every screen they appear in within one GSM-7 screen (issue 17,
//! item 13).

use africastalking::gsm7;

use super::menu::State;
use super::messages::{fill, offers_language_choice, Lang, Msg};
use crate::error::FieldError;
use crate::redemption::Refusal;
use crate::settings::model::Settings;
use crate::templates::catalogue::for_screen;
use crate::templates::{Channel, Templates};

/// An end screen's text: the USSD settings' own wording where they hold one (`successMessage`),
/// else the notification template that replaces the screen, else the built-in text (decision
/// 0045).
pub fn end_text(msg: Msg, lang: Lang, settings: &Settings, templates: &Templates) -> String {
    if let Some(own) = msg.custom(lang, &settings.ussd) {
        return own;
    }
    match for_screen(msg).and_then(|e| templates.get(e.key, Channel::Ussd, lang)) {
        Some(t) => t.body.clone(),
        None => msg.builtin(lang).to_owned(),
    }
}

pub fn refusal_text(r: Refusal, lang: Lang, settings: &Settings, templates: &Templates) -> String {
    let msg = match r {
        Refusal::UnknownCode => Msg::UnknownCode,
        Refusal::AlreadyRedeemed => Msg::AlreadyRedeemed,
        Refusal::Expired => Msg::Expired,
        Refusal::Blocked => Msg::Blocked,
        Refusal::CampaignClosed => Msg::CampaignClosed,
        Refusal::CustomerLimit => Msg::CustomerLimit,
        Refusal::CoolingDown => Msg::CoolingDown,
        Refusal::TooManyAttempts(_) => Msg::TooManyAttempts,
        Refusal::Mistyped => Msg::Typo,
        Refusal::Barred => Msg::PhoneBarred,
    };
    let text = end_text(msg, lang, settings, templates);
    match msg {
        // who to call about a blocked code or phone: the company's number, when there is one
        Msg::Blocked | Msg::PhoneBarred => with_phone(text, Msg::CallUs, lang, settings),
        Msg::CoolingDown => {
            let minutes = settings.business.redemption.cooldown_period_minutes.to_string();
            fill(&text, &[("minutes", &minutes)])
        }
        _ => text,
    }
}

/// `text` and, when settings `branding.companyPhone` is set, `line` with the number.
fn with_phone(text: String, line: Msg, lang: Lang, settings: &Settings) -> String {
    let phone = settings.branding.company_phone.trim();
    if phone.is_empty() {
        return text;
    }
    let line = fill(&line.text(lang, &settings.ussd), &[("phone", phone)]);
    format!("{text} {line}")
}

/// The screen ending a session that waited too long or went too deep: dial again.
pub fn start_again(msg: Msg, lang: Lang, settings: &Settings) -> String {
    fill(
        &msg.text(lang, &settings.ussd),
        &[("code", settings.ussd.service_code.trim())],
    )
}

/// A state's screen (without the prefix).
pub fn screen(state: State, unknown_choice: bool, lang: Lang, settings: &Settings) -> String {
    let u = &settings.ussd;
    let head = if unknown_choice {
        Msg::UnknownChoice.text(lang, u)
    } else {
        fill(&Msg::Welcome.text(lang, u), &[("service", u.service_name.trim())])
    };
    let menu = if offers_language_choice(u) {
        Msg::MainMenu
    } else {
        Msg::MainMenuOneLanguage
    };
    // the built-in help names the number to call; a custom help text says what it says
    let help = || {
        let text = Msg::Help.text(lang, u);
        let custom = match lang {
            Lang::Rw => &u.help_message.rw,
            Lang::En => &u.help_message.en,
        };
        if custom.trim().is_empty() {
            with_phone(text, Msg::HelpLine, lang, settings)
        } else {
            text
        }
    };
    match state {
        State::Home | State::Restart => format!("{head}\n{}", menu.text(lang, u)),
        State::EnterCode => with_footer(Msg::EnterCode.text(lang, u), lang, settings),
        State::EnterCodeToCheck => with_footer(Msg::EnterCodeToCheck.text(lang, u), lang, settings),
        State::Language if unknown_choice => format!("{head}\n{}", Msg::ChooseLanguage.text(lang, u)),
        State::Language => Msg::ChooseLanguage.text(lang, u),
        State::Help => with_footer(help(), lang, settings),
    }
}

pub fn with_footer(text: String, lang: Lang, settings: &Settings) -> String {
    format!("{text}\n{}", Msg::BackHome.text(lang, &settings.ussd))
}

/// The widest values a screen's placeholders can take: the largest amount settings allow, the
/// currency, a full date and one letter.
fn widest_values(settings: &Settings) -> [(&'static str, String); 5] {
    [
        ("amount", settings.payments.max_amount.to_string()),
        ("currency", settings.payments.currency.clone()),
        ("date", "30/12/2027".to_owned()),
        ("char", "W".to_owned()),
        ("code", settings.ussd.service_code.clone()),
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
        Refusal::CoolingDown,
        Refusal::Barred,
    ] {
        out.push(refusal_text(r, lang, settings, &Templates::default()));
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
    for msg in [Msg::TimedOut, Msg::TooDeep] {
        out.push(start_again(msg, lang, settings));
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

/// What is wrong with `text` as the `name` screen, if anything: a character GSM-7 cannot carry,
/// or more than the house budget of 160 septets.
fn screen_problem(lang: Lang, name: &str, text: &str) -> Option<String> {
    let language = language_name(lang);
    let check = gsm7::screen_check(text);
    if !check.non_gsm7.is_empty() {
        let chars: String = check.non_gsm7.iter().map(|c| format!("“{c}” ")).collect();
        return Some(format!(
            "{language}: {}cannot be sent in GSM-7 (the {name} screen would be {} UCS-2 characters); use plain letters",
            chars, check.chars
        ));
    }
    check.over_soft_limit.then(|| {
        format!(
            "{language}: makes the {name} screen {} GSM-7 septets; a USSD screen holds at most {}",
            check.chars,
            gsm7::SOFT_LIMIT
        )
    })
}

/// Each custom message, in each language it is set in, rendered on every screen it appears in
/// (after the GSM-7 forms of typographic quotes, dashes and `…` are put in): a character GSM-7
/// cannot carry, or a screen over the house budget of 160 septets, is a problem of that field
/// and language. The service name (on the welcome screen) and the company's phone number (on
/// the help and blocked-code screens) are checked the same way.
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
            if let Some(m) = screens_of(msg, lang, settings)
                .into_iter()
                .find_map(|(name, text)| screen_problem(lang, name, &text))
            {
                out.push(FieldError::new(&field, m));
            }
        }
    }
    let phone = !settings.branding.company_phone.trim().is_empty();
    // (a screen already too long for its custom text is that text's problem)
    for (field, applies, text_field) in [
        ("ussd.serviceName", true, "ussd.welcomeMessage"),
        ("branding.companyPhone", phone, "ussd.helpMessage"),
    ] {
        if !applies || out.iter().any(|e| e.field.starts_with(text_field)) {
            continue;
        }
        let problem = [Lang::En, Lang::Rw].into_iter().find_map(|lang| {
            let screens = match field {
                "ussd.serviceName" => vec![("home", screen(State::Home, false, lang, settings))],
                _ => vec![
                    ("help", screen(State::Help, false, lang, settings)),
                    (
                        "blocked code",
                        refusal_text(Refusal::Blocked, lang, settings, &Templates::default()),
                    ),
                ],
            };
            screens
                .into_iter()
                .find_map(|(name, text)| screen_problem(lang, name, &text))
        });
        if let Some(m) = problem {
            out.push(FieldError::new(field, m));
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
        // the built-in texts with the longest service name settings allow, a phone number to call,
        // and the menu without the language choice
        let mut phone = Settings::default();
        phone.ussd.service_name = "S".repeat(40);
        phone.branding.company_phone = "+250 788 123 456".into();
        let mut one = phone.clone();
        one.ussd.language_switching_enabled = false;
        let variants = [Settings::default(), phone, one];
        let all = |lang| -> Vec<String> { variants.iter().flat_map(|s| every_screen(lang, s)).collect() };
        for lang in [Lang::Rw, Lang::En] {
            let screens = all(lang);
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
                    all(lang).iter().any(|s| s.contains(&head)),
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
