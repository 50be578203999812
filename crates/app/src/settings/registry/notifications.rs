//! The notifications settings as the console shows them. Issue #22 (alerts and notifications)
//! applies them; the alert switches and thresholds are applied (the alert rules), the delivery
//! keys (e-mail, SMS, webhooks, recipients) come with delivery.

use super::{key, CategoryDoc, Effect::*, Input::*, Item, Section};
use crate::settings::Category;

const LATER: super::Effect = Later { issue: 22 };
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
                key!("emailEnabled", "Send e-mail", "Sends notification e-mails through the SMTP server below.", Toggle, LATER),
                key!("smtpHost", "SMTP server", "Host name of the mail server, e.g. smtp.example.rw. Required when e-mail is on.", Text { max: 255 }, LATER),
                key!("smtpPort", "SMTP port", "Port of the mail server: 587 for STARTTLS, 465 for TLS.", Number { min: 1, max: 65535, unit: "" }, LATER),
                key!("smtpUsername", "SMTP user name", "The account the system signs in to the mail server with.", Text { max: 255 }, LATER),
                key!("smtpPassword", "SMTP password", "The password of that account; stored encrypted, never shown.", Secret, LATER),
                key!("smtpSecurity", "Connection security", "How the connection to the mail server is protected.", Select(&["starttls", "tls", "none"]), LATER),
                key!("fromEmail", "Sender address", "The address e-mails come from. Required when e-mail is on.", Email, LATER),
                key!("fromName", "Sender name", "The name e-mails come from.", Text { max: 100 }, LATER),
                key!("replyTo", "Reply-to address", "Where replies go; empty: to the sender address.", Email, LATER),
            ],
        },
        Section {
            title: "SMS",
            keys: &[
                key!("smsEnabled", "Send SMS", "Sends SMS notifications through Africa's Talking.", Toggle, LATER),
                key!("smsSenderId", "Sender ID", "The name SMS appear from (at most 11 characters, registered with the provider); empty: the provider's default.", Text { max: 11 }, LATER),
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
                key!("lowBalanceAlert.recipients", "Low balance recipients", "Who receives it by e-mail, besides the panel.", List { item: Item::Email, max: 20 }, LATER),
                key!("highFailureRateAlert.enabled", "Payout failure alert", "Alerts the people who watch financial alerts when too many of the last hour's finished payouts failed (judged from 10 finished payouts on, once a minute).", Toggle, EVALUATE),
                key!("highFailureRateAlert.threshold", "Failure rate threshold", "The share of failed payouts over the last hour above which the alert is raised.", Number { min: 1, max: 100, unit: "%" }, EVALUATE),
                key!("highFailureRateAlert.recipients", "Payout failure recipients", "Who receives it by e-mail, besides the panel.", List { item: Item::Email, max: 20 }, LATER),
                key!("systemDownAlert.enabled", "System down alert", "Alerts the people who watch system alerts when a worker stops beating or the oldest due job waits more than 5 minutes.", Toggle, EVALUATE),
                key!("systemDownAlert.threshold", "Down for", "How long a part must be down, beyond the 30 s of a missed heartbeat or the 5 minutes of a waiting job, before the alert is raised (0: at once).", Number { min: 0, max: 1440, unit: "minutes" }, EVALUATE),
                key!("systemDownAlert.recipients", "System down recipients", "Who receives it by e-mail, besides the panel.", List { item: Item::Email, max: 20 }, LATER),
            ],
        },
    ],
};
