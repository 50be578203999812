//! The notifications settings as the console shows them (issue #22): the e-mail keys by the one
//! sender of e-mail, the SMS keys by the payout SMS and the alert deliveries, the webhook keys by
//! the webhooks, the alert switches and thresholds by the alert rules, the routing, recipients
//! and escalation by the alert deliveries (decision 0050).

use super::{key, CategoryDoc, Effect::*, Input::*, Item, Section};
use crate::settings::Category;

/// The one way the app sends e-mail.
const MAIL: super::Effect = Applied {
    by: &["identity/mail.rs"],
};
/// Whether a channel is on, as the alert deliveries route.
const ROUTING: super::Effect = Applied {
    by: &["alerts/delivery/routing.rs"],
};
/// The payout worker's balance guard raises the low-balance alert.
const GUARDS: super::Effect = Applied {
    by: &["disbursement/worker/guards.rs"],
};
/// The `alerts.evaluate` job's windowed rules.
const EVALUATE: super::Effect = Applied {
    by: &["alerts/rules/evaluate.rs"],
};

pub(super) static DOC: CategoryDoc = CategoryDoc {
    category: Category::Notifications,
    title: "Notifications",
    summary: "How the system tells people things: e-mail through an SMTP server, SMS, webhooks, and the \
              alerts administrators receive.",
    sections: &[
        Section {
            title: "E-mail",
            keys: &[
                key!("emailEnabled", "Send e-mail", "Sends notification e-mails (alerts, set-up links, registration notices, scheduled reports) through the SMTP server below. Off: alerts queue no e-mail at all.", Toggle, Applied { by: &["identity/mail.rs", "alerts/delivery/routing.rs"] }),
                key!("smtpHost", "SMTP server", "Host name of the mail server, e.g. smtp.example.rw. Required when e-mail is on.", Text { max: 255 }, Applied { by: &["identity/mail.rs", "alerts/delivery/routing.rs"] }),
                key!("smtpPort", "SMTP port", "Port of the mail server: 587 for STARTTLS, 465 for TLS.", Number { min: 1, max: 65535, unit: "" }, MAIL),
                key!("smtpUsername", "SMTP user name", "The account the system signs in to the mail server with.", Text { max: 255 }, MAIL),
                key!("smtpPassword", "SMTP password", "The password of that account; stored encrypted, never shown.", Secret, MAIL),
                key!("smtpSecurity", "Connection security", "How the connection to the mail server is protected.", Select(&["starttls", "tls", "none"]), MAIL),
                key!("fromEmail", "Sender address", "The address e-mails come from. Required when e-mail is on.", Email, Applied { by: &["identity/mail.rs", "alerts/delivery/routing.rs"] }),
                key!("fromName", "Sender name", "The name e-mails come from.", Text { max: 100 }, MAIL),
                key!("replyTo", "Reply-to address", "Where replies go; empty: to the sender address.", Email, MAIL),
            ],
        },
        Section {
            title: "SMS",
            keys: &[
                key!("smsEnabled", "Send SMS", "Sends SMS through Africa's Talking (payout confirmations, alerts) with the API key of the USSD settings. Off: alerts queue no SMS and waiting customer SMS are not sent.", Toggle, Applied { by: &["alerts/sms.rs", "alerts/delivery/routing.rs", "alerts/delivery/send.rs"] }),
                key!("smsSenderId", "Sender ID", "The name SMS appear from (at most 11 characters, registered with the provider); empty: the provider's default.", Text { max: 11 }, Applied { by: &["alerts/sms.rs"] }),
            ],
        },
        Section {
            title: "Webhooks",
            keys: &[
                key!("webhooksEnabled", "Send webhooks", "Posts the events each endpoint subscribes to (Webhooks page, beside these settings), signed with the endpoint's secret. Off: no event is queued and waiting ones are not sent.", Toggle, Applied { by: &["webhooks/emit.rs", "webhooks/send.rs"] }),
                key!("webhookRetryAttempts", "Retries of a new endpoint", "How many times a failed webhook is tried again, unless an endpoint says otherwise (each endpoint has its own, 0–10).", Number { min: 0, max: 10, unit: "" }, Applied { by: &["webhooks/pages.rs"] }),
            ],
        },
        Section {
            title: "Alerts",
            keys: &[
                key!("lowBalanceAlert.enabled", "Low balance alert", "Alerts the people who watch financial alerts when the payout worker reads a MoMo balance below the threshold.", Toggle, GUARDS),
                key!("lowBalanceAlert.threshold", "Low balance threshold", "The balance below which the alert is raised (the dashboard's low/not-low mark is the payment settings' own threshold).", Number { min: 0, max: 1_000_000_000, unit: "RWF" }, GUARDS),
                key!("lowBalanceAlert.recipients", "Low balance recipients", "Who receives it by e-mail, besides the panel and the alert recipients below (when the routing sends its severity by e-mail).", List { item: Item::Email, max: 20 }, ROUTING),
                key!("highFailureRateAlert.enabled", "Payout failure alert", "Alerts the people who watch financial alerts when too many of the last hour's finished payouts failed (judged from 10 finished payouts on, once a minute).", Toggle, EVALUATE),
                key!("highFailureRateAlert.threshold", "Failure rate threshold", "The share of failed payouts over the last hour above which the alert is raised.", Number { min: 1, max: 100, unit: "%" }, EVALUATE),
                key!("highFailureRateAlert.recipients", "Payout failure recipients", "Who receives it by e-mail, besides the panel and the alert recipients below (when the routing sends its severity by e-mail).", List { item: Item::Email, max: 20 }, ROUTING),
                key!("systemDownAlert.enabled", "System down alert", "Alerts the people who watch system alerts when a worker stops beating or the oldest due job waits more than 5 minutes.", Toggle, EVALUATE),
                key!("systemDownAlert.threshold", "Down for", "How long a part must be down, beyond the 30 s of a missed heartbeat or the 5 minutes of a waiting job, before the alert is raised (0: at once).", Number { min: 0, max: 1440, unit: "minutes" }, EVALUATE),
                key!("systemDownAlert.recipients", "System down recipients", "Who receives it by e-mail, besides the panel and the alert recipients below (when the routing sends its severity by e-mail).", List { item: Item::Email, max: 20 }, ROUTING),
            ],
        },
        Section {
            title: "Alert delivery",
            keys: &[
                key!("alertRouting.critical", "Critical alerts go by", "The channels a new critical alert is sent on (email, sms), besides the panel. A channel turned off above sends nothing.", List { item: Item::Select(&["email", "sms"]), max: 2 }, ROUTING),
                key!("alertRouting.warning", "Warnings go by", "The channels a new warning is sent on (email, sms), besides the panel.", List { item: Item::Select(&["email", "sms"]), max: 2 }, ROUTING),
                key!("alertRouting.info", "Information goes by", "The channels a new information alert is sent on (email, sms), besides the panel; none: the panel only.", List { item: Item::Select(&["email", "sms"]), max: 2 }, ROUTING),
                key!("alertRecipients.emails", "Alert e-mail recipients", "Addresses that receive every alert the routing sends by e-mail.", List { item: Item::Email, max: 20 }, ROUTING),
                key!("alertRecipients.phones", "Alert SMS recipients", "Rwandan mobile numbers (+2507…) that receive every alert the routing sends by SMS.", List { item: Item::Text { max: 13 }, max: 20 }, ROUTING),
                key!("alertEscalation.minutes", "Escalate after", "A critical alert nobody acknowledged this long after it was raised is escalated and sent to every active Super Administrator (e-mail, and SMS to their number), on the channels of critical alerts.", Number { min: 1, max: 1440, unit: "minutes" }, Applied { by: &["alerts/delivery/escalate.rs"] }),
                key!("alertEscalation.followUpMinutes", "Remind every", "An escalated alert still unresolved (even acknowledged) is sent to the Super Administrators again this often.", Number { min: 5, max: 10080, unit: "minutes" }, Applied { by: &["alerts/delivery/escalate.rs"] }),
            ],
        },
    ],
};
