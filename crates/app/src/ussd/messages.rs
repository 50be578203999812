//! Every screen a customer can see, in Ikinyarwanda and English.
//!
//! Built-in wording follows INTEGRATIONS.md part C (the glossary of public Kinyarwanda USSD
//! menus); the welcome, help, error and success texts can be replaced from the USSD settings.
//! Every screen must fit 160 GSM-7 characters after the `CON `/`END ` prefix in both languages:
//! a unit test renders every template with the longest values it can carry and checks that.

use crate::settings::model::UssdSettings;

/// The two languages of the menus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Rw,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "rw" => Some(Lang::Rw),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The settings' default language (Kinyarwanda if it names neither).
    pub fn default_for(settings: &UssdSettings) -> Lang {
        Lang::parse(&settings.default_language).unwrap_or(Lang::Rw)
    }

    /// The language a customer who chose `chosen` is served in: their choice while the menu
    /// offers a choice and supports it, else the default.
    pub fn serving(chosen: Option<Lang>, settings: &UssdSettings) -> Lang {
        match chosen {
            Some(l)
                if offers_language_choice(settings) && settings.supported_languages.iter().any(|s| s == l.as_str()) =>
            {
                l
            }
            _ => Lang::default_for(settings),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Rw => "rw",
            Lang::En => "en",
        }
    }
}

/// Whether the menu offers "Language": switching is on and more than one language is supported.
pub fn offers_language_choice(settings: &UssdSettings) -> bool {
    settings.language_switching_enabled
        && ["rw", "en"]
            .iter()
            .all(|l| settings.supported_languages.iter().any(|s| s == l))
}

/// What a screen says (the prefix is added by the protocol layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg {
    /// The greeting line above the main menu (settings: welcomeMessage); `{service}` is the
    /// settings' service name.
    Welcome,
    /// The main menu's four choices.
    MainMenu,
    /// The main menu when no language choice is offered (settings `languageSwitchingEnabled`
    /// off, or one supported language).
    MainMenuOneLanguage,
    EnterCode,
    EnterCodeToCheck,
    /// The code had a `*` in it (the keypad's separator).
    StarInCode,
    WrongFormat,
    /// The check character does not match: a typing mistake rather than a guess.
    Typo,
    /// A letter no code has (`{char}`: digits are always possible), such as an O typed for a 0.
    NotACode,
    ChooseLanguage,
    /// settings: helpMessage
    Help,
    /// After the built-in help: the number to call (`{phone}`, settings `branding.companyPhone`).
    HelpLine,
    /// After "this code is blocked": the number to call (`{phone}`).
    CallUs,
    /// The next hop came after settings `ussd.inputTimeoutSeconds` or the session is older than
    /// `ussd.sessionTimeoutSeconds`; `{code}` is the service code.
    TimedOut,
    /// The session took more inputs than settings `ussd.maxMenuDepth`; `{code}`.
    TooDeep,
    UnknownCode,
    AlreadyRedeemed,
    Expired,
    Blocked,
    /// A person blocked this phone after a fraud review.
    PhoneBarred,
    /// The batch is blocked, or its promotion is over.
    CampaignClosed,
    TooManyAttempts,
    /// The phone dials more often than settings `security.rateLimiting.ussdRequestsPer…` allow.
    TooManyRequests,
    CustomerLimit,
    /// The wait between two prizes (`{minutes}`, settings
    /// `business.redemption.cooldownPeriodMinutes`) is not over.
    CoolingDown,
    Busy,
    NotMtn,
    /// settings: errorMessage
    Error,
    /// settings: successMessage; `{amount}` and `{currency}` are filled in.
    Success,
    /// A code that can still be redeemed: `{amount}`, `{currency}`, `{date}`.
    CodeValid,
    /// An unknown menu choice.
    UnknownChoice,
    /// Footer of screens that take input: back and home.
    BackHome,
    Goodbye,
}

impl Msg {
    pub const ALL: [Msg; 33] = [
        Msg::Welcome,
        Msg::MainMenu,
        Msg::MainMenuOneLanguage,
        Msg::EnterCode,
        Msg::EnterCodeToCheck,
        Msg::StarInCode,
        Msg::WrongFormat,
        Msg::Typo,
        Msg::NotACode,
        Msg::ChooseLanguage,
        Msg::Help,
        Msg::HelpLine,
        Msg::CallUs,
        Msg::TimedOut,
        Msg::TooDeep,
        Msg::UnknownCode,
        Msg::AlreadyRedeemed,
        Msg::Expired,
        Msg::Blocked,
        Msg::PhoneBarred,
        Msg::CampaignClosed,
        Msg::TooManyAttempts,
        Msg::TooManyRequests,
        Msg::CustomerLimit,
        Msg::CoolingDown,
        Msg::Busy,
        Msg::NotMtn,
        Msg::Error,
        Msg::Success,
        Msg::CodeValid,
        Msg::UnknownChoice,
        Msg::BackHome,
        Msg::Goodbye,
    ];

    /// The built-in text.
    pub fn builtin(self, lang: Lang) -> &'static str {
        use Lang::*;
        match (self, lang) {
            (Msg::Welcome, Rw) => "Murakaza neza kuri {service}",
            (Msg::Welcome, En) => "Welcome to {service}",
            (Msg::MainMenu, Rw) => "1. Injiza kode\n2. Reba kode\n3. Ururimi/Language\n4. Ubufasha",
            (Msg::MainMenu, En) => "1. Redeem a code\n2. Check a code\n3. Language/Ururimi\n4. Help",
            (Msg::MainMenuOneLanguage, Rw) => "1. Injiza kode\n2. Reba kode\n3. Ubufasha",
            (Msg::MainMenuOneLanguage, En) => "1. Redeem a code\n2. Check a code\n3. Help",
            (Msg::EnterCode, Rw) => "Andika kode iri ku irangi ryawe (urugero ABCD-EF26-GH11-JK25):",
            (Msg::EnterCode, En) => "Enter the code from your paint tin (e.g. ABCD-EF26-GH11-JK25):",
            (Msg::EnterCodeToCheck, Rw) => "Andika kode ushaka kureba:",
            (Msg::EnterCodeToCheck, En) => "Enter the code to check:",
            (Msg::StarInCode, Rw) => "Kode ntigira *. Andika inyuguti n'imibare gusa, wongere:",
            (Msg::StarInCode, En) => "A code has no *. Type only its letters and digits, try again:",
            (Msg::WrongFormat, Rw) => "Iyo si kode. Kode igira inyuguti n'imibare 16, nka ABCD-EF26-GH11-JK25. Ongera:",
            (Msg::WrongFormat, En) => {
                "That is not a code. A code has 16 letters and digits, like ABCD-EF26-GH11-JK25. Try again:"
            }
            (Msg::Typo, Rw) => "Hari inyuguti yanditse nabi. Reba kode neza wongere uyandike:",
            (Msg::Typo, En) => "A character is mistyped. Check the code and type it again:",
            (Msg::NotACode, Rw) => "Iyo si kode: nta kode igira inyuguti {char}. Reba kode neza wongere uyandike:",
            (Msg::NotACode, En) => {
                "That is not a code: no code has the letter {char}. Check the code and type it again:"
            }
            (Msg::ChooseLanguage, _) => "Hitamo ururimi / Choose language\n1. Ikinyarwanda\n2. English",
            (Msg::Help, Rw) => "Kode iri mu irangi rya MBELYCO. Kanda 1, andika kode, uhabwe igihembo kuri MTN MoMo.",
            (Msg::Help, En) => {
                "Find the code in your MBELYCO paint tin. Choose 1, type the code, get the prize on MTN MoMo."
            }
            (Msg::HelpLine, Rw) => "Ubufasha: {phone}",
            (Msg::HelpLine, En) => "Help: {phone}",
            (Msg::CallUs, Rw) => "Hamagara {phone} ngo tugufashe.",
            (Msg::CallUs, En) => "Call {phone} for help.",
            (Msg::TimedOut, Rw) => "Igihe cyawe cyarangiye. Hamagara {code} wongere utangire.",
            (Msg::TimedOut, En) => "Your session timed out. Dial {code} to start again.",
            (Msg::TooDeep, Rw) => "Mwakoze intambwe nyinshi cyane. Hamagara {code} wongere utangire.",
            (Msg::TooDeep, En) => "Too many steps in one session. Dial {code} to start again.",
            (Msg::UnknownCode, Rw) => "Iyi kode ntibaho. Reba neza kode iri ku irangi wongere uhamagare.",
            (Msg::UnknownCode, En) => "This code does not exist. Check the code on your tin and dial again.",
            (Msg::AlreadyRedeemed, Rw) => "Iyi kode yamaze gukoreshwa.",
            (Msg::AlreadyRedeemed, En) => "This code has already been used.",
            (Msg::Expired, Rw) => "Igihe cy'iyi kode cyararangiye.",
            (Msg::Expired, En) => "This code has expired.",
            (Msg::Blocked, Rw) => "Iyi kode yahagaritswe.",
            (Msg::Blocked, En) => "This code is blocked.",
            (Msg::PhoneBarred, Rw) => "Tubabarira, iyi nimero ntishobora gukoresha kode ubu.",
            (Msg::PhoneBarred, En) => "Sorry, this number cannot redeem codes at the moment.",
            (Msg::CampaignClosed, Rw) => "Iyi poromosiyo ntikiri gukora.",
            (Msg::CampaignClosed, En) => "This promotion is no longer running.",
            (Msg::TooManyAttempts, Rw) => "Wagerageje inshuro nyinshi. Tegereza gato wongere ugerageze.",
            (Msg::TooManyAttempts, En) => "Too many attempts. Please wait a while and try again.",
            (Msg::TooManyRequests, Rw) => "Mwahamagaye kenshi cyane. Tegereza iminota mike wongere uhamagare.",
            (Msg::TooManyRequests, En) => "You have dialled too often. Please wait a few minutes and dial again.",
            (Msg::CustomerLimit, Rw) => "Wageze ku mubare ntarengwa w'ibihembo. Ongera ugerageze ejo.",
            (Msg::CustomerLimit, En) => "You have reached the prize limit for now. Try again tomorrow.",
            (Msg::CoolingDown, Rw) => {
                "Mwatsindiye igihembo vuba aha. Hagati y'ibihembo bibiri hategerezwa iminota {minutes}. Ongera ugerageze nyuma."
            }
            (Msg::CoolingDown, En) => {
                "You won a prize a short while ago. Prizes are {minutes} minutes apart: please try again later."
            }
            (Msg::Busy, Rw) => "Serivisi ihuze. Ongera ugerageze mu kanya.",
            (Msg::Busy, En) => "Service busy. Please try again in a moment.",
            (Msg::NotMtn, Rw) => {
                "Ibihembo byishyurwa kuri MTN MoMo gusa. Hamagara ukoresheje nimero ya MTN (078 cyangwa 079)."
            }
            (Msg::NotMtn, En) => "Prizes are paid on MTN MoMo only. Please dial from an MTN number (078 or 079).",
            (Msg::Error, Rw) => "Ihangane, habaye ikosa. Ongera ugerageze nyuma.",
            (Msg::Error, En) => "Sorry, something went wrong. Please try again later.",
            (Msg::Success, Rw) => "Murakoze! Mwatsindiye {amount} {currency}. Muzayakira kuri MoMo mu kanya.",
            (Msg::Success, En) => "Congratulations! You won {amount} {currency}. You will receive it on MoMo shortly.",
            (Msg::CodeValid, Rw) => {
                "Iyi kode ni nzima: {amount} {currency}, kugeza {date}. Kanda 1 ku ahabanza uyikoreshe."
            }
            (Msg::CodeValid, En) => {
                "This code is valid: {amount} {currency}, until {date}. Choose 1 on the menu to redeem it."
            }
            (Msg::UnknownChoice, Rw) => "Ibyo wahisemo ntibibaho.",
            (Msg::UnknownChoice, En) => "Unknown choice.",
            (Msg::BackHome, Rw) => "0. Subira inyuma 00. Ahabanza",
            (Msg::BackHome, En) => "0. Back 00. Home",
            (Msg::Goodbye, Rw) => "Murakoze!",
            (Msg::Goodbye, En) => "Thank you!",
        }
    }

    /// The text to show: the settings' wording where it has one for this message, else built in.
    pub fn text(self, lang: Lang, settings: &UssdSettings) -> String {
        self.custom(lang, settings)
            .unwrap_or_else(|| self.builtin(lang).to_owned())
    }

    /// The settings' own wording for this message in `lang`, when they hold one.
    pub fn custom(self, lang: Lang, settings: &UssdSettings) -> Option<String> {
        let custom = match self {
            Msg::Welcome => Some(&settings.welcome_message),
            Msg::Help => Some(&settings.help_message),
            Msg::Error => Some(&settings.error_message),
            Msg::Success => Some(&settings.success_message),
            _ => None,
        };
        let custom = custom.map(|l| match lang {
            Lang::Rw => l.rw.trim(),
            Lang::En => l.en.trim(),
        });
        custom.filter(|c| !c.is_empty()).map(gsm_safe)
    }
}

/// Fills `{name}` placeholders.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}", k = k), v);
    }
    out
}

/// Typographic quotes, dashes and the ellipsis that translators and word processors insert force
/// a screen into UCS-2 (about 80 characters instead of 182): they become their plain GSM-7 forms.
/// Settings refuse any other character outside GSM-7 ([`super::screens::check_settings`]).
pub fn gsm_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{02BC}' | '\u{2032}' => out.push('\''),
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{00AB}' | '\u{00BB}' | '\u{2033}' => out.push('"'),
            '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2212}' => out.push('-'),
            '\u{2026}' => out.push_str("..."),
            '\u{00A0}' | '\u{2007}' | '\u{202F}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
