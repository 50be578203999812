//! Which templates exist: one per event and channel (each in English and Kinyarwanda), the
//! variables each may use, and its default wording.
//!
//! The defaults are the texts the code sent before templates existed (the USSD end screens of
//! [`Msg::builtin`], the payout SMS of [`crate::alerts::sms::payout_template`]); migration
//! 20261208000042 seeds the same texts, and a test holds the two together. Staff-facing texts
//! (e-mail, and the SMS of alerts and reports) have English wording in both languages until a
//! translator writes the Kinyarwanda.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ussd::messages::{Lang, Msg};

/// How a template reaches people (the table also allows `webhook` and `in_app`, which have no
/// template yet: webhooks carry JSON, in-app alerts their own title).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Ussd,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Ussd => "ussd",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "email" => Some(Channel::Email),
            "sms" => Some(Channel::Sms),
            "ussd" => Some(Channel::Ussd),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Channel::Email => "E-mail",
            Channel::Sms => "SMS",
            Channel::Ussd => "USSD screen",
        }
    }
}

/// What happened, as the editor groups templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    RedemptionSucceeded,
    RedemptionFailed,
    DisbursementSucceeded,
    DisbursementFailed,
    SystemAlert,
    ReportReady,
    /// The system is in maintenance (`crate::maintenance`): the screen every USSD dial gets.
    Maintenance,
}

impl Event {
    pub const ALL: [Event; 7] = [
        Event::RedemptionSucceeded,
        Event::RedemptionFailed,
        Event::DisbursementSucceeded,
        Event::DisbursementFailed,
        Event::SystemAlert,
        Event::ReportReady,
        Event::Maintenance,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Event::RedemptionSucceeded => "Redemption success",
            Event::RedemptionFailed => "Redemption failure",
            Event::DisbursementSucceeded => "Disbursement success",
            Event::DisbursementFailed => "Disbursement failure",
            Event::SystemAlert => "System alert",
            Event::ReportReady => "Report ready",
            Event::Maintenance => "Maintenance",
        }
    }
}

/// A variable a template may name in braces, with the value the preview shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var {
    pub name: &'static str,
    pub sample: &'static str,
    pub about: &'static str,
}

/// Every variable; each template allows some of them ([`Entry::vars`]).
pub const VARS: &[Var] = &[
    Var {
        name: "amount",
        sample: "1,000,000",
        about: "the prize or payout amount",
    },
    Var {
        name: "currency",
        sample: "RWF",
        about: "the currency of the amount",
    },
    Var {
        name: "ref",
        sample: " Ref 12345678901.",
        about: "\" Ref <MoMo transaction id>.\", or nothing when MoMo gave none",
    },
    Var {
        name: "code_masked",
        sample: "ABCD-****-****-JK25",
        about: "the promo code with its middle hidden",
    },
    Var {
        name: "phone_masked",
        sample: "+250788***456",
        about: "the customer's number with its middle hidden",
    },
    Var {
        name: "batch",
        sample: "Rainy season 2026",
        about: "the batch's name",
    },
    Var {
        name: "reason",
        sample: "This code has expired.",
        about: "why it was refused or failed",
    },
    Var {
        name: "minutes",
        sample: "1440",
        about: "the wait between two prizes (business settings)",
    },
    Var {
        name: "title",
        sample: "MoMo balance is low",
        about: "the alert's or report's title",
    },
    Var {
        name: "severity",
        sample: "critical",
        about: "the alert's severity",
    },
    Var {
        name: "details",
        sample: "The MoMo float is 40,000 RWF, below the 100,000 RWF threshold.",
        about: "the alert's explanation",
    },
    Var {
        name: "link",
        sample: "https://promo.mbelyco.rw/admin/alerts/42",
        about: "the panel page to open",
    },
];

pub fn var(name: &str) -> Option<&'static Var> {
    VARS.iter().find(|v| v.name == name)
}

/// Where a template's default wording comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// A USSD end screen's built-in text.
    Screen(Msg),
    /// The payout confirmation SMS.
    Payout,
    /// Its own text, per language: `(subject, body)`.
    Text {
        en: (Option<&'static str>, &'static str),
        rw: (Option<&'static str>, &'static str),
    },
}

/// One template (in both languages).
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub key: &'static str,
    pub channel: Channel,
    pub event: Event,
    /// What it is, for the editor.
    pub title: &'static str,
    /// Who reads it: `customer` or `staff`.
    pub audience: &'static str,
    /// The variables it may name.
    pub vars: &'static [&'static str],
    source: Source,
}

/// A default text: `(subject, body)`.
pub type Wording = (Option<&'static str>, &'static str);

impl Entry {
    /// The wording it has until someone changes it, and after a reset.
    pub fn default(&self, lang: Lang) -> Wording {
        match self.source {
            Source::Screen(msg) => (None, msg.builtin(lang)),
            Source::Payout => (None, crate::alerts::sms::payout_template(lang)),
            Source::Text { en, rw } => match lang {
                Lang::En => en,
                Lang::Rw => rw,
            },
        }
    }

    /// The USSD screen it replaces, if it is one.
    pub fn screen(&self) -> Option<Msg> {
        match self.source {
            Source::Screen(m) => Some(m),
            _ => None,
        }
    }

    pub fn allows(&self, name: &str) -> bool {
        self.vars.contains(&name)
    }

    /// The sample values of its variables, for the preview.
    pub fn samples(&self) -> Vec<(&'static str, &'static str)> {
        self.vars
            .iter()
            .filter_map(|n| var(n).map(|v| (v.name, v.sample)))
            .collect()
    }
}

const fn screen(key: &'static str, title: &'static str, msg: Msg, vars: &'static [&'static str]) -> Entry {
    let event = if matches!(msg, Msg::Success) {
        Event::RedemptionSucceeded
    } else {
        Event::RedemptionFailed
    };
    Entry {
        key,
        channel: Channel::Ussd,
        event,
        title,
        audience: "customer",
        vars,
        source: Source::Screen(msg),
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "a row of the catalogue: each argument is a column"
)]
const fn text(
    key: &'static str,
    channel: Channel,
    event: Event,
    title: &'static str,
    audience: &'static str,
    vars: &'static [&'static str],
    en: Wording,
    rw: Wording,
) -> Entry {
    Entry {
        key,
        channel,
        event,
        title,
        audience,
        vars,
        source: Source::Text { en, rw },
    }
}

const STAFF: &str = "staff";
const CUSTOMER: &str = "customer";
const MONEY: &[&str] = &["amount", "currency"];

/// Every template, in the order the editor lists them.
pub const ENTRIES: &[Entry] = &[
    screen("redemption.succeeded", "Prize won (end of session)", Msg::Success, MONEY),
    text(
        "redemption.succeeded",
        Channel::Sms,
        Event::RedemptionSucceeded,
        "Prize won",
        CUSTOMER,
        &["amount", "currency", "code_masked", "batch"],
        (None, "MBELYCO: Congratulations! You won {amount} {currency}. You will receive it on MoMo shortly."),
        (None, "MBELYCO: Murakoze! Mwatsindiye {amount} {currency}. Muzayakira kuri MoMo mu kanya."),
    ),
    text(
        "redemption.succeeded",
        Channel::Email,
        Event::RedemptionSucceeded,
        "Code redeemed",
        STAFF,
        &["amount", "currency", "code_masked", "phone_masked", "batch"],
        (
            Some("Code {code_masked} redeemed"),
            "{phone_masked} redeemed code {code_masked} of batch {batch} for {amount} {currency}.",
        ),
        (
            Some("Code {code_masked} redeemed"),
            "{phone_masked} redeemed code {code_masked} of batch {batch} for {amount} {currency}.",
        ),
    ),
    screen("redemption.failed.unknown_code", "Unknown code", Msg::UnknownCode, &[]),
    screen("redemption.failed.already_redeemed", "Code already used", Msg::AlreadyRedeemed, &[]),
    screen("redemption.failed.expired", "Code expired", Msg::Expired, &[]),
    screen("redemption.failed.blocked", "Code blocked", Msg::Blocked, &[]),
    screen("redemption.failed.campaign_closed", "Promotion over", Msg::CampaignClosed, &[]),
    screen("redemption.failed.customer_limit", "Prize limit reached", Msg::CustomerLimit, &[]),
    screen("redemption.failed.cooling_down", "Too soon after a prize", Msg::CoolingDown, &["minutes"]),
    screen("redemption.failed.too_many_attempts", "Too many wrong codes", Msg::TooManyAttempts, &[]),
    text(
        "redemption.failed",
        Channel::Sms,
        Event::RedemptionFailed,
        "Code refused",
        CUSTOMER,
        &["code_masked", "reason"],
        (None, "MBELYCO: code {code_masked} was not accepted. {reason}"),
        (None, "MBELYCO: {reason}"),
    ),
    text(
        "redemption.failed",
        Channel::Email,
        Event::RedemptionFailed,
        "Code refused",
        STAFF,
        &["code_masked", "phone_masked", "batch", "reason"],
        (Some("Code {code_masked} refused"), "{phone_masked} tried code {code_masked} of batch {batch}: {reason}"),
        (Some("Code {code_masked} refused"), "{phone_masked} tried code {code_masked} of batch {batch}: {reason}"),
    ),
    Entry {
        key: "disbursement.succeeded",
        channel: Channel::Sms,
        event: Event::DisbursementSucceeded,
        title: "Payout confirmation",
        audience: CUSTOMER,
        vars: &["amount", "currency", "ref"],
        source: Source::Payout,
    },
    text(
        "disbursement.succeeded",
        Channel::Email,
        Event::DisbursementSucceeded,
        "Payout completed",
        STAFF,
        &["amount", "currency", "ref", "code_masked", "phone_masked", "batch"],
        (
            Some("Payout of {amount} {currency} completed"),
            "{amount} {currency} reached {phone_masked} on MoMo for code {code_masked} of batch {batch}.{ref}",
        ),
        (
            Some("Payout of {amount} {currency} completed"),
            "{amount} {currency} reached {phone_masked} on MoMo for code {code_masked} of batch {batch}.{ref}",
        ),
    ),
    text(
        "disbursement.failed",
        Channel::Sms,
        Event::DisbursementFailed,
        "Payout failed",
        CUSTOMER,
        MONEY,
        (
            None,
            "MBELYCO: we could not send {amount} {currency} to your MoMo yet. We are working on it.",
        ),
        (
            None,
            "MBELYCO: Ihangane, habaye ikosa mu kohereza {amount} {currency} kuri MoMo. Turabikurikirana.",
        ),
    ),
    text(
        "disbursement.failed",
        Channel::Email,
        Event::DisbursementFailed,
        "Payout failed",
        STAFF,
        &["amount", "currency", "code_masked", "phone_masked", "batch", "reason"],
        (
            Some("Payout of {amount} {currency} failed"),
            "The payout of {amount} {currency} to {phone_masked} for code {code_masked} (batch {batch}) failed: {reason}",
        ),
        (
            Some("Payout of {amount} {currency} failed"),
            "The payout of {amount} {currency} to {phone_masked} for code {code_masked} (batch {batch}) failed: {reason}",
        ),
    ),
    text(
        "alert.raised",
        Channel::Email,
        Event::SystemAlert,
        "Alert raised",
        STAFF,
        &["title", "severity", "details", "link"],
        (Some("[{severity}] {title}"), "{title}\n\n{details}\n\nOpen it: {link}"),
        (Some("[{severity}] {title}"), "{title}\n\n{details}\n\nOpen it: {link}"),
    ),
    text(
        "alert.raised",
        Channel::Sms,
        Event::SystemAlert,
        "Alert raised",
        STAFF,
        &["title", "severity", "link"],
        (None, "MBELYCO {severity}: {title} {link}"),
        (None, "MBELYCO {severity}: {title} {link}"),
    ),
    text(
        "report.ready",
        Channel::Email,
        Event::ReportReady,
        "Report ready",
        STAFF,
        &["title", "link"],
        (Some("Report ready: {title}"), "The report {title} is ready: {link}"),
        (Some("Report ready: {title}"), "The report {title} is ready: {link}"),
    ),
    text(
        "report.ready",
        Channel::Sms,
        Event::ReportReady,
        "Report ready",
        STAFF,
        &["title", "link"],
        (None, "MBELYCO: report {title} is ready: {link}"),
        (None, "MBELYCO: report {title} is ready: {link}"),
    ),
    text(
        MAINTENANCE_SCREEN,
        Channel::Ussd,
        Event::Maintenance,
        "Under maintenance (every dial, both languages on one screen)",
        CUSTOMER,
        &[],
        (
            None,
            "MBELYCO Promo is under maintenance. Please dial again later. Thank you!",
        ),
        (
            None,
            "MBELYCO Promo iri kuvugururwa. Mwongere muhamagare nyuma. Murakoze!",
        ),
    ),
];

/// The USSD screen of maintenance: its English and Kinyarwanda texts shown one above the other.
pub const MAINTENANCE_SCREEN: &str = "maintenance";

/// The template of `key` on `channel`.
pub fn find(key: &str, channel: Channel) -> Option<&'static Entry> {
    ENTRIES.iter().find(|e| e.key == key && e.channel == channel)
}

/// The template that replaces USSD end screen `msg`, if one does.
pub fn for_screen(msg: Msg) -> Option<&'static Entry> {
    ENTRIES.iter().find(|e| e.screen() == Some(msg))
}

/// The payout confirmation SMS (filled per row by `alerts::sms::queue_payout_sms`).
pub const PAYOUT_SMS: &str = "disbursement.succeeded";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::render::variables;

    #[test]
    fn every_event_has_its_channels_and_defaults_use_only_their_variables() {
        // maintenance speaks to customers on USSD only (staff hear of it by the e-mails of the
        // backup settings)
        for event in Event::ALL.into_iter().filter(|e| *e != Event::Maintenance) {
            for channel in [Channel::Email, Channel::Sms] {
                assert!(
                    ENTRIES.iter().any(|e| e.event == event && e.channel == channel),
                    "{event:?} has no {channel:?} template"
                );
            }
        }
        for e in ENTRIES {
            for v in e.vars {
                assert!(var(v).is_some(), "{}: unknown variable {v}", e.key);
            }
            for lang in [Lang::En, Lang::Rw] {
                let (subject, body) = e.default(lang);
                assert_eq!(
                    subject.is_some(),
                    e.channel == Channel::Email,
                    "{} {:?}",
                    e.key,
                    e.channel
                );
                for name in variables(body).chain(subject.into_iter().flat_map(variables)) {
                    assert!(e.allows(name), "{} {:?}: {{{name}}} is not allowed", e.key, e.channel);
                }
            }
            let same = ENTRIES
                .iter()
                .filter(|x| x.key == e.key && x.channel == e.channel)
                .count();
            assert_eq!(same, 1, "{} {:?} twice", e.key, e.channel);
        }
    }
}
