//! SMS to customers through Africa's Talking's SMS API: the payout confirmation ("you received
//! 5,000 RWF on MoMo…") in the customer's language, sent by the `sms.send` job.
//!
//! [`queue_payout_sms`] runs inside the payout worker's completion transaction, so a confirmation
//! is queued exactly when the payout is recorded as completed; one statement queues a whole batch.
//! The job sends with the AT credentials of the USSD settings (`africasTalkingApiKey`,
//! `africasTalkingUsername`, `africasTalkingBaseUrl`) and the sender ID of the notification
//! settings. Failures AT or the network may get over retry with the queue's backoff; failures only
//! a person can fix (the key, the sender ID, the balance) retry too and raise an alert; a number or
//! text AT refused for good ends the job at once. A message AT accepted is recorded with its
//! `messageId` ([`super::sms_delivery`]) for AT's delivery reports. Nothing here is audited: an SMS
//! changes no money or code; outcomes are logged.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use africastalking::sms::{Client, ClientConfig, ErrorClass, SmsError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{NewAlert, Severity};
use crate::access::Permission;
use crate::jobs::{self, JobContext, JobError, JobHandler};
use crate::settings::model::Settings;
use crate::settings::SettingsStore;
use crate::telemetry::mask_phone;
use crate::ussd::messages::Lang;

/// The job kind that sends one SMS.
pub const KIND: &str = "sms.send";
/// Attempts before a send is dead: with the queue's backoff (10 s doubling) about 21 minutes.
pub const MAX_ATTEMPTS: i32 = 8;
/// Above the bulk jobs (code generation, indexing), so confirmations do not wait behind them.
const PRIORITY: i16 = 5;

/// The payout confirmation's default wording, per language (the notification template
/// `disbursement.succeeded` / `sms` starts as this; [`queue_payout_sms`] reads the template).
/// `{amount}` is written with thousands separators,
/// `{ref}` is ` Ref <MoMo transaction id>.` or nothing. Only GSM-7 characters and no apostrophes
/// (INTEGRATIONS.md C3), so it stays one SMS: a test renders the longest values against 160.
pub fn payout_template(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "MBELYCO: you received {amount} {currency} on MoMo for your promo code.{ref} Thank you!",
        Lang::Rw => "MBELYCO: mwakiriye {amount} {currency} kuri MoMo kubera kode ya poromosiyo.{ref} Murakoze!",
    }
}

/// The confirmation as [`queue_payout_sms`] writes it (the SQL fills the same template).
pub fn payout_message(lang: Lang, amount: i64, currency: &str, momo_transaction_id: Option<&str>) -> String {
    let reference = momo_transaction_id.map(|id| format!(" Ref {id}.")).unwrap_or_default();
    payout_template(lang)
        .replace("{amount}", &crate::codes::pages::thousands(amount))
        .replace("{currency}", currency)
        .replace("{ref}", &reference)
}

/// One SMS to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsJob {
    /// E.164 with the `+`.
    pub to: String,
    pub message: String,
    /// The redemption it confirms, when it is a payout confirmation.
    #[serde(default)]
    pub redemption_id: Option<Uuid>,
}

/// Queues one `sms.send` job per completed payout of `redemption_ids`, in one statement: the
/// customer's number and language from `customers`, the amount, currency and MoMo transaction id
/// from `disbursements`, the wording from the `disbursement.succeeded` SMS template of the
/// customer's language (`notification_templates`; [`payout_template`] when it has no row). Only
/// payouts recorded as completed get one; a redemption whose confirmation is already queued or
/// being sent is skipped. Queues nothing while SMS is not
/// configured (no Africa's Talking API key in the USSD settings) or is turned off in the
/// notification settings. Returns how many were queued.
///
/// Call it in the transaction that marks the payouts completed. It reads the two settings rows
/// directly (whether the key is set, not its value) so the caller needs no settings handle and no
/// second round trip.
pub async fn queue_payout_sms(
    conn: &mut PgConnection,
    redemption_ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    if redemption_ids.is_empty() {
        return Ok(0);
    }
    let queued: Option<(i64, String)> = sqlx::query_as(
        r#"with queued as (
             insert into jobs (kind, payload, status, priority, max_attempts, run_at, unique_key, created_at, updated_at)
             select $2,
                    jsonb_build_object(
                      'to', c.msisdn,
                      'message', replace(replace(replace(
                          coalesce(t.body, case c.language when 'en' then $3 else $4 end),
                          '{amount}', to_char(d.amount, 'FM9,999,999,999,999,999,999')),
                          '{currency}', d.currency),
                          '{ref}', coalesce(' Ref ' || d.momo_transaction_id || '.', '')),
                      'redemptionId', r.id),
                    'queued', $5, $6, $7, 'payout:' || r.id::text, $7, $7
             from redemptions r
             join customers c on c.id = r.customer_id
             join disbursements d on d.redemption_id = r.id
             left join notification_templates t
               on t.key = $9 and t.channel = 'sms' and t.locale = case c.language when 'en' then 'en' else 'rw' end
             where r.id = any($1)
               and d.status = 'completed'
               and exists (select 1 from system_settings s
                           where s.category = 'ussd' and s.key = 'africasTalkingApiKey')
               and not exists (select 1 from system_settings s
                               where s.category = 'notifications' and s.key = 'smsEnabled'
                                 and s.value = 'false'::jsonb)
             on conflict (kind, unique_key) where unique_key is not null and status in ('queued', 'running')
             do nothing
             returning 1)
           select count(*), pg_notify($8, $2)::text from queued having count(*) > 0"#,
    )
    .bind(redemption_ids)
    .bind(KIND)
    .bind(payout_template(Lang::En))
    .bind(payout_template(Lang::Rw))
    .bind(PRIORITY)
    .bind(MAX_ATTEMPTS)
    .bind(now)
    .bind(jobs::READY_CHANNEL)
    .bind(crate::templates::catalogue::PAYOUT_SMS)
    .fetch_optional(&mut *conn)
    .await?;
    let n = queued.map_or(0, |(n, _)| u64::try_from(n).unwrap_or(0));
    tracing::debug!(requested = redemption_ids.len(), queued = n, "payout SMS queued");
    Ok(n)
}

/// The Africa's Talking SMS client for the settings it was built from, rebuilt when they change;
/// shared by the payout SMS and the alert deliveries (`super::delivery::send`).
#[derive(Default)]
pub struct AtClient {
    slot: Mutex<Option<(i64, Client)>>,
}

impl AtClient {
    /// The client for `settings` (`version`); `None` without an API key. The key, username and
    /// base URL are the USSD settings', the timeout the integration settings' outbound timeout.
    pub fn get(&self, settings: &Settings, version: i64) -> Result<Option<Client>, SmsError> {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((v, client)) = slot.as_ref() {
            if *v == version {
                return Ok(Some(client.clone()));
            }
        }
        let u = &settings.ussd;
        let Some(key) = u.africas_talking_api_key.expose() else {
            *slot = None;
            return Ok(None);
        };
        let mut config = ClientConfig::new(&u.africas_talking_base_url, &u.africas_talking_username, key);
        // the longest one call to AT may take: the outbound timeout of the integration settings
        config.timeout = Duration::from_secs(u64::from(settings.integrations.outbound_timeout_seconds));
        let client = Client::new(config)?;
        *slot = Some((version, client.clone()));
        Ok(Some(client))
    }
}

/// The sender ID of the notification settings, when one is set.
pub fn sender_id(settings: &Settings) -> Option<&str> {
    Some(settings.notifications.sms_sender_id.trim()).filter(|s| !s.is_empty())
}

/// Runs `sms.send` jobs.
pub struct Handler {
    pub settings: Arc<SettingsStore>,
    client: AtClient,
}

impl Handler {
    pub fn new(settings: Arc<SettingsStore>) -> Self {
        Self {
            settings,
            client: AtClient::default(),
        }
    }
}

#[async_trait]
impl JobHandler for Handler {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<Option<Value>, JobError> {
        let job: SmsJob = ctx.payload()?;
        let current = self.settings.get();
        let (settings, version) = (&current.0, current.1);
        let to = mask_phone(&job.to);
        if !settings.notifications.sms_enabled {
            tracing::info!(%to, "SMS not sent: turned off in the notification settings");
            return Ok(Some(
                json!({"skipped": "SMS is turned off in the notification settings"}),
            ));
        }
        let client = match self.client.get(settings, version) {
            Ok(Some(client)) => client,
            Ok(None) => {
                return Err(JobError::Retryable(anyhow::anyhow!(
                    "SMS is not configured: set the Africa's Talking API key in the USSD settings"
                )))
            }
            Err(e) => return Err(self.failed(&ctx, &to, e).await),
        };
        let sender = sender_id(settings);
        match client.send_one(&job.to, &job.message, sender).await {
            Ok(sent) => {
                tracing::info!(%to, message_id = sent.message_id().unwrap_or(""), cost = sent.cost.as_deref().unwrap_or(""), redemption = ?job.redemption_id, "SMS sent");
                if let Some(message_id) = sent.message_id() {
                    // kept for the delivery reports; the SMS is out, so a failure here is logged,
                    // never retried (a retry would send it again)
                    let recorded = async {
                        let mut conn = ctx.pool.acquire().await?;
                        super::sms_delivery::record_sent(
                            &mut conn,
                            message_id,
                            job.redemption_id,
                            &job.to,
                            ctx.clock.now(),
                        )
                        .await
                    }
                    .await;
                    if let Err(e) = recorded {
                        tracing::error!(%to, message_id, error = %e, "SMS sent but its messageId was not recorded");
                    }
                }
                Ok(Some(json!({
                    "messageId": sent.message_id(),
                    "status": sent.outcome().name(),
                    "cost": sent.cost,
                    "parts": sent.message_parts,
                })))
            }
            Err(e) => Err(self.failed(&ctx, &to, e).await),
        }
    }
}

impl Handler {
    /// Logs a failed send and says whether the queue should try again; a configuration fault also
    /// raises an alert for the people who can fix it.
    async fn failed(&self, ctx: &JobContext, to: &str, error: SmsError) -> JobError {
        let class = error.class();
        let reason = anyhow::anyhow!("{error}");
        match class {
            ErrorClass::Terminal => {
                tracing::warn!(%to, error = %error, "SMS refused for good");
                JobError::Permanent(reason)
            }
            ErrorClass::Retryable => {
                tracing::warn!(%to, attempt = ctx.attempt, error = %error, "SMS not sent; will retry");
                JobError::Retryable(reason)
            }
            ErrorClass::Configuration => {
                tracing::error!(%to, attempt = ctx.attempt, error = %error, "SMS not sent: Africa's Talking configuration");
                let alert = NewAlert::new(
                    "sms.configuration",
                    Severity::Warning,
                    Permission::AlertsRead,
                    "Customer SMS are not being sent",
                )
                .body(format!(
                    "Africa's Talking refused an SMS: {error}. Check the Africa's Talking API key and username \
                     (USSD settings), the SMS sender ID (notification settings) and the account balance; \
                     waiting messages are retried."
                ))
                .dedupe("sms.configuration");
                let raised = async {
                    let mut conn = ctx.pool.acquire().await?;
                    super::raise(&mut conn, &alert, ctx.clock.now()).await
                }
                .await;
                if let Err(e) = raised {
                    tracing::error!(error = %e, "raising the SMS configuration alert failed");
                }
                JobError::Retryable(reason)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use africastalking::gsm7::gsm7_length;

    use super::*;

    #[test]
    fn the_confirmation_reads_well_in_both_languages() {
        assert_eq!(
            payout_message(Lang::En, 5000, "RWF", Some("123456789")),
            "MBELYCO: you received 5,000 RWF on MoMo for your promo code. Ref 123456789. Thank you!"
        );
        assert_eq!(
            payout_message(Lang::Rw, 5000, "RWF", Some("123456789")),
            "MBELYCO: mwakiriye 5,000 RWF kuri MoMo kubera kode ya poromosiyo. Ref 123456789. Murakoze!"
        );
        assert_eq!(
            payout_message(Lang::En, 1000, "RWF", None),
            "MBELYCO: you received 1,000 RWF on MoMo for your promo code. Thank you!"
        );
    }

    #[test]
    fn the_longest_confirmation_fits_one_gsm7_sms_without_apostrophes() {
        // far beyond any promo amount (the settings cap payouts at 1,000,000), a 20-character
        // reference (MoMo's are about 10 digits) and a 3-letter currency
        for lang in [Lang::En, Lang::Rw] {
            let text = payout_message(lang, 9_999_999_999, "RWF", Some("12345678901234567890"));
            let length = gsm7_length(&text).unwrap_or(usize::MAX);
            assert!(length <= 160, "{lang:?} is {length} characters: {text}");
            assert!(!text.contains('\''), "no apostrophes: {text}");
            assert!(!payout_template(lang).contains('\''));
        }
    }

    #[test]
    fn jobs_round_trip_and_tolerate_a_missing_redemption() {
        let job: SmsJob = serde_json::from_value(json!({"to": "+250788123456", "message": "hi"})).expect("parses");
        assert_eq!(job.redemption_id, None);
        let back: SmsJob = serde_json::from_value(serde_json::to_value(&job).expect("serialises")).expect("parses");
        assert_eq!(back, job);
    }
}
