//! Who receives an alert, on which channel, from the notification settings.
//!
//! A new alert goes, on the channels `alertRouting.<severity>` names, to the addresses of
//! `alertRecipients.emails` and of the per-kind list (`lowBalanceAlert.recipients` for
//! `momo.low_balance`, `highFailureRateAlert.recipients` for `financial.failure_rate`,
//! `systemDownAlert.recipients` for `system.worker_down` and `system.queue_stalled`) by e-mail,
//! and to `alertRecipients.phones` by SMS; a custom rule's alert also goes to the rule's own
//! recipients on the rule's own channels. A channel that is off writes nothing: e-mail needs
//! `emailEnabled` with an SMTP server and a sender address, SMS needs `smsEnabled` and an Africa's
//! Talking API key (USSD settings). The settings are read as stored, in the caller's transaction,
//! so what a committed raise queues is what the committed settings say.

use serde_json::{Map, Value};
use sqlx::PgConnection;

use super::Channel;
use crate::alerts::Severity;
use crate::settings::model::NotificationSettings;

/// The notification settings as stored, and whether SMS can be sent at all.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    pub notifications: NotificationSettings,
    /// An Africa's Talking API key is set (its value is not read here).
    pub sms_configured: bool,
}

impl Stored {
    /// Reads the stored notification settings (secrets left out: routing needs none) over their
    /// defaults, and whether the Africa's Talking key is set, in one statement.
    pub async fn read(conn: &mut PgConnection) -> Result<Self, sqlx::Error> {
        let rows: Vec<(String, String, Value)> = sqlx::query_as(
            "select category, key, value from system_settings \
             where (category = 'notifications' and not is_secret) \
                or (category = 'ussd' and key = 'africasTalkingApiKey')",
        )
        .fetch_all(conn)
        .await?;
        let mut sms_configured = false;
        let mut merged = match serde_json::to_value(NotificationSettings::default()) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        merged.remove("smtpPassword");
        for (category, key, value) in rows {
            if category == "ussd" {
                sms_configured = true;
            } else if merged.contains_key(&key) {
                merged.insert(key, value);
            }
        }
        let notifications = serde_json::from_value(Value::Object(merged)).unwrap_or_else(|e| {
            tracing::error!(error = %e, "stored notification settings do not parse; routing alerts with the defaults");
            NotificationSettings::default()
        });
        Ok(Self {
            notifications,
            sms_configured,
        })
    }

    /// Whether `channel` is on: turned on, and able to send.
    pub fn on(&self, channel: Channel) -> bool {
        let n = &self.notifications;
        match channel {
            Channel::Email => n.email_enabled && !n.smtp_host.trim().is_empty() && !n.from_email.is_empty(),
            Channel::Sms => n.sms_enabled && self.sms_configured,
        }
    }

    /// The channels routed for `severity` that are on.
    pub fn channels(&self, severity: Severity) -> Vec<Channel> {
        let r = &self.notifications.alert_routing;
        let names = match severity {
            Severity::Critical => &r.critical,
            Severity::Warning => &r.warning,
            Severity::Info => &r.info,
        };
        let mut out: Vec<Channel> = names.iter().filter_map(|c| Channel::parse(c)).collect();
        out.dedup();
        out.retain(|c| self.on(*c));
        out
    }
}

/// The per-kind e-mail list of the settings' alert switches that `kind` belongs to.
fn kind_list<'a>(n: &'a NotificationSettings, kind: &str) -> &'a [String] {
    match kind {
        "momo.low_balance" => &n.low_balance_alert.recipients,
        "financial.failure_rate" => &n.high_failure_rate_alert.recipients,
        "system.worker_down" | "system.queue_stalled" => &n.system_down_alert.recipients,
        _ => &[],
    }
}

fn push_once(out: &mut Vec<(Channel, String)>, channel: Channel, recipient: &str) {
    let recipient = recipient.trim();
    if recipient.is_empty() {
        return;
    }
    if !out
        .iter()
        .any(|(c, r)| *c == channel && r.eq_ignore_ascii_case(recipient))
    {
        out.push((channel, recipient.to_owned()));
    }
}

/// The deliveries of a new alert of `kind` and `severity`.
pub fn route(s: &Stored, kind: &str, severity: Severity) -> Vec<(Channel, String)> {
    let n = &s.notifications;
    let mut out = Vec::new();
    for channel in s.channels(severity) {
        match channel {
            Channel::Email => {
                for e in n.alert_recipients.emails.iter().chain(kind_list(n, kind)) {
                    push_once(&mut out, channel, e);
                }
            }
            Channel::Sms => {
                for p in &n.alert_recipients.phones {
                    push_once(&mut out, channel, p);
                }
            }
        }
    }
    out
}

/// Adds the own deliveries of a custom rule's alert: its recipients on the rule's `channels`
/// that are on (e-mail to its addresses, SMS to its `+…` numbers); `in_app` and `webhook` go
/// their own ways.
pub fn add_rule(s: &Stored, out: &mut Vec<(Channel, String)>, channels: &[String], recipients: &[String]) {
    for channel in channels.iter().filter_map(|c| Channel::parse(c)) {
        if !s.on(channel) {
            continue;
        }
        for r in recipients {
            let fits = match channel {
                Channel::Email => r.contains('@'),
                Channel::Sms => r.starts_with('+'),
            };
            if fits {
                push_once(out, channel, r);
            }
        }
    }
}

/// The deliveries of an escalation or follow-up to `admins` (`(email, phone)`): on the channels
/// routed for critical alerts, by e-mail to each and by SMS to each Rwandan mobile number.
pub fn tier(s: &Stored, admins: &[(String, Option<String>)]) -> Vec<(Channel, String)> {
    let mut out = Vec::new();
    for channel in s.channels(Severity::Critical) {
        for (email, phone) in admins {
            match channel {
                Channel::Email => push_once(&mut out, channel, email),
                Channel::Sms => {
                    if let Some(p) = phone
                        .as_deref()
                        .filter(|p| crate::redemption::phone::is_rwandan_mobile(p))
                    {
                        push_once(&mut out, channel, p);
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> Stored {
        let mut n = NotificationSettings {
            email_enabled: true,
            smtp_host: "127.0.0.1".into(),
            from_email: "promo@mbelyco.test".into(),
            ..NotificationSettings::default()
        };
        n.alert_recipients.emails = vec!["ops@mbelyco.test".into()];
        n.alert_recipients.phones = vec!["+250788000111".into()];
        n.low_balance_alert.recipients = vec!["money@mbelyco.test".into(), "OPS@mbelyco.test".into()];
        Stored {
            notifications: n,
            sms_configured: true,
        }
    }

    #[test]
    fn critical_goes_by_email_and_sms_warning_by_email_info_nowhere() {
        let s = stored();
        let critical = route(&s, "momo.low_balance", Severity::Critical);
        assert_eq!(
            critical,
            vec![
                (Channel::Email, "ops@mbelyco.test".to_owned()),
                (Channel::Email, "money@mbelyco.test".to_owned()),
                (Channel::Sms, "+250788000111".to_owned()),
            ],
            "the per-kind list joins the general one, each address once"
        );
        let warning = route(&s, "payout.failed", Severity::Warning);
        assert_eq!(warning, vec![(Channel::Email, "ops@mbelyco.test".to_owned())]);
        assert!(route(&s, "payout.failed", Severity::Info).is_empty());
    }

    #[test]
    fn a_channel_that_is_off_or_unconfigured_routes_nothing() {
        let mut s = stored();
        s.notifications.sms_enabled = false;
        assert!(route(&s, "x", Severity::Critical)
            .iter()
            .all(|(c, _)| *c == Channel::Email));
        s.notifications.email_enabled = false;
        assert!(route(&s, "x", Severity::Critical).is_empty());
        let mut s = stored();
        s.sms_configured = false;
        s.notifications.smtp_host.clear();
        assert!(route(&s, "x", Severity::Critical).is_empty());
    }

    #[test]
    fn a_custom_rule_adds_its_own_recipients_on_its_own_channels_that_are_on() {
        let mut s = stored();
        let mut to = route(&s, "custom.rule", Severity::Info);
        assert!(to.is_empty());
        let channels = vec!["in_app".to_owned(), "email".to_owned(), "sms".to_owned()];
        let recipients = vec![
            "rule@mbelyco.test".to_owned(),
            "+250788123123".to_owned(),
            "OPS@mbelyco.test".to_owned(),
        ];
        add_rule(&s, &mut to, &channels, &recipients);
        assert_eq!(
            to,
            vec![
                (Channel::Email, "rule@mbelyco.test".to_owned()),
                (Channel::Email, "OPS@mbelyco.test".to_owned()),
                (Channel::Sms, "+250788123123".to_owned()),
            ]
        );
        s.notifications.sms_enabled = false;
        let mut to = Vec::new();
        add_rule(&s, &mut to, &channels, &recipients);
        assert!(to.iter().all(|(c, _)| *c == Channel::Email), "{to:?}");
    }

    #[test]
    fn the_tier_gets_email_and_sms_to_valid_numbers_only() {
        let s = stored();
        let admins = vec![
            ("root@mbelyco.test".to_owned(), Some("+250788999000".to_owned())),
            ("two@mbelyco.test".to_owned(), Some("0788".to_owned())),
            ("three@mbelyco.test".to_owned(), None),
        ];
        let to = tier(&s, &admins);
        assert_eq!(to.iter().filter(|(c, _)| *c == Channel::Email).count(), 3);
        assert_eq!(
            to.iter().filter(|(c, _)| *c == Channel::Sms).collect::<Vec<_>>(),
            vec![&(Channel::Sms, "+250788999000".to_owned())]
        );
    }
}
