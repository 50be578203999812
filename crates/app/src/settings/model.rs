//! The typed settings, one struct per category of PRD 2.8, with the PRD's defaults.
//!
//! Keys are camelCase as the PRD writes them. Secret fields are [`Secret`]: decrypted in memory
//! for the code that needs them, masked whenever serialised.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret setting (API key, password). Serialises as a mask, never as the value.
#[derive(Clone, Default)]
pub struct Secret(pub Option<SecretString>);

impl Secret {
    pub fn expose(&self) -> Option<&str> {
        self.0.as_ref().map(|s| s.expose_secret())
    }

    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_set() { "Secret(set)" } else { "Secret(unset)" })
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.expose() {
            Some(v) => s.serialize_str(&crate::crypto::mask(v)),
            None => s.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        Ok(Secret(v.filter(|s| !s.is_empty()).map(SecretString::from)))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    pub en: String,
    pub rw: String,
}

impl Localized {
    fn empty() -> Self {
        Self {
            en: String::new(),
            rw: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrandingSettings {
    pub company_name: String,
    /// A `data:image/png;base64,…` or `data:image/svg+xml;base64,…` URL; empty = built-in logo.
    pub company_logo: String,
    pub company_favicon: String,
    pub company_tagline: String,
    pub company_website: String,
    pub company_email: String,
    pub company_phone: String,
    pub primary_color: String,
    pub secondary_color: String,
    pub accent_color: String,
    pub background_color: String,
    pub text_color: String,
    pub link_color: String,
    pub success_color: String,
    pub warning_color: String,
    pub error_color: String,
    pub primary_font: String,
    pub secondary_font: String,
    pub heading_font: String,
    pub body_font_size: u32,
    pub heading_font_size: u32,
    pub sidebar_width: u32,
    pub header_height: u32,
    pub border_radius: u32,
    pub box_shadow: String,
    pub custom_css: String,
}

impl Default for BrandingSettings {
    fn default() -> Self {
        Self {
            company_name: "MBELYCO Paints".into(),
            company_logo: String::new(),
            company_favicon: String::new(),
            company_tagline: "Quality paints, rewarded".into(),
            company_website: String::new(),
            company_email: String::new(),
            company_phone: String::new(),
            primary_color: "#0B5FA5".into(),
            secondary_color: "#1F2937".into(),
            accent_color: "#F59E0B".into(),
            background_color: "#F8FAFC".into(),
            text_color: "#111827".into(),
            link_color: "#0B5FA5".into(),
            success_color: "#15803D".into(),
            warning_color: "#B45309".into(),
            error_color: "#B91C1C".into(),
            primary_font: "system-ui".into(),
            secondary_font: "system-ui".into(),
            heading_font: "system-ui".into(),
            body_font_size: 15,
            heading_font_size: 22,
            sidebar_width: 240,
            header_height: 56,
            border_radius: 6,
            box_shadow: "0 1px 3px rgba(0,0,0,0.12)".into(),
            custom_css: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UssdSettings {
    pub service_code: String,
    pub service_name: String,
    pub service_description: String,
    pub default_language: String,
    pub supported_languages: Vec<String>,
    pub language_switching_enabled: bool,
    /// Empty texts fall back to the built-in messages.
    pub welcome_message: Localized,
    pub help_message: Localized,
    pub error_message: Localized,
    pub success_message: Localized,
    pub max_menu_depth: u32,
    pub session_timeout_seconds: u32,
    pub input_timeout_seconds: u32,
    pub max_attempts_per_minute: u32,
    pub max_attempts_per_hour: u32,
    pub max_attempts_per_day: u32,
    pub block_duration_minutes: u32,
    pub africas_talking_api_key: Secret,
    pub africas_talking_username: String,
    pub africas_talking_environment: String,
    pub africas_talking_base_url: String,
    /// The secret in the USSD callback URL that authenticates the gateway.
    pub endpoint_secret: Secret,
    /// Gateway addresses allowed to call the USSD endpoint; empty = any.
    pub ip_allowlist: Vec<String>,
}

impl Default for UssdSettings {
    fn default() -> Self {
        Self {
            service_code: "*789#".into(),
            service_name: "MBELYCO Promo".into(),
            service_description: "Redeem MBELYCO paint promo codes for MoMo cash".into(),
            default_language: "rw".into(),
            supported_languages: vec!["rw".into(), "en".into()],
            language_switching_enabled: true,
            welcome_message: Localized::empty(),
            help_message: Localized::empty(),
            error_message: Localized::empty(),
            success_message: Localized::empty(),
            max_menu_depth: 5,
            session_timeout_seconds: 180,
            input_timeout_seconds: 30,
            max_attempts_per_minute: 5,
            max_attempts_per_hour: 20,
            max_attempts_per_day: 50,
            block_duration_minutes: 30,
            africas_talking_api_key: Secret::default(),
            africas_talking_username: "sandbox".into(),
            africas_talking_environment: "sandbox".into(),
            africas_talking_base_url: "https://api.sandbox.africastalking.com".into(),
            endpoint_secret: Secret::default(),
            ip_allowlist: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PaymentSettings {
    pub momo_base_url: String,
    pub momo_api_user: Secret,
    pub momo_api_key: Secret,
    pub momo_subscription_key: Secret,
    pub momo_target_environment: String,
    /// Where MoMo calls back: this app's public base URL, whose host must be the API user's
    /// `providerCallbackHost` (A10). Empty: no `X-Callback-Url`, the worker polls.
    pub callback_base_url: String,
    pub currency: String,
    /// Whole francs.
    pub min_amount: i64,
    pub max_amount: i64,
    pub auto_retry_enabled: bool,
    /// Retries after the first attempt (PRD: default 3, at most 5).
    pub max_retry_attempts: u32,
    /// Minutes before each retry.
    pub retry_delay_minutes: Vec<u32>,
    pub manual_approval_required: bool,
    /// Amounts above this wait for a Financial Administrator.
    pub approval_threshold: i64,
    pub daily_transaction_limit: i64,
    pub monthly_transaction_limit: i64,
    pub per_user_daily_limit: i64,
    pub per_user_monthly_limit: i64,
    /// Payouts in flight at once (each waits on MoMo for most of its time).
    pub worker_concurrency: u32,
    /// MoMo calls per second for payouts: transfers, their first status check, payee checks and
    /// status checks a callback asked for.
    pub requests_per_second: u32,
    /// Repeated status queries of PENDING transfers, kept under MoMo's 10 per second (decision 0014).
    pub status_queries_per_second: u32,
    pub low_balance_threshold: i64,
    pub request_timeout_seconds: u32,
    pub circuit_breaker_failures: u32,
    pub circuit_breaker_cooldown_seconds: u32,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        Self {
            momo_base_url: "https://sandbox.momodeveloper.mtn.com".into(),
            momo_api_user: Secret::default(),
            momo_api_key: Secret::default(),
            momo_subscription_key: Secret::default(),
            momo_target_environment: "sandbox".into(),
            callback_base_url: String::new(),
            currency: "RWF".into(),
            min_amount: 100,
            max_amount: 1_000_000,
            auto_retry_enabled: true,
            max_retry_attempts: 3,
            retry_delay_minutes: vec![1, 5, 15, 30, 60],
            manual_approval_required: true,
            approval_threshold: 100_000,
            daily_transaction_limit: 50_000_000,
            monthly_transaction_limit: 1_000_000_000,
            per_user_daily_limit: 200_000,
            per_user_monthly_limit: 1_000_000,
            worker_concurrency: 128,
            requests_per_second: 400,
            status_queries_per_second: 8,
            low_balance_threshold: 500_000,
            request_timeout_seconds: 30,
            circuit_breaker_failures: 5,
            circuit_breaker_cooldown_seconds: 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CodeGeneration {
    /// Characters for the random X positions; the default leaves out 0/O and 1/I.
    pub character_set: String,
    /// Replace the last random character with a check character, so a typo is told from a guess.
    pub include_checksum: bool,
}

impl Default for CodeGeneration {
    fn default() -> Self {
        Self {
            character_set: crate::codes::format::DEFAULT_ALPHABET.into(),
            include_checksum: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Expiration {
    pub default_expiration_days: u32,
    pub max_expiration_days: u32,
    pub min_expiration_days: u32,
    pub auto_expire_enabled: bool,
    pub grace_period_hours: u32,
}

impl Default for Expiration {
    fn default() -> Self {
        Self {
            default_expiration_days: 90,
            max_expiration_days: 730,
            min_expiration_days: 1,
            auto_expire_enabled: true,
            grace_period_hours: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct BatchManagement {
    pub max_codes_per_batch: u32,
    /// 0 = no limit.
    pub max_batches_per_user: u32,
    pub auto_assign_enabled: bool,
}

impl Default for BatchManagement {
    fn default() -> Self {
        Self {
            max_codes_per_batch: 1_000_000,
            max_batches_per_user: 0,
            auto_assign_enabled: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RedemptionRules {
    /// May one customer redeem more than one code?
    pub allow_multiple_redemptions: bool,
    /// Per customer per day; 0 = no limit.
    pub max_redemptions_per_user: u32,
    pub cooldown_period_minutes: u32,
    pub fraud_detection_enabled: bool,
    /// Wrong codes from one phone within a day before it is flagged.
    pub wrong_code_flag_threshold: u32,
}

impl Default for RedemptionRules {
    fn default() -> Self {
        Self {
            allow_multiple_redemptions: true,
            max_redemptions_per_user: 10,
            cooldown_period_minutes: 0,
            fraud_detection_enabled: true,
            wrong_code_flag_threshold: 5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BusinessSettings {
    pub code_generation: CodeGeneration,
    pub expiration: Expiration,
    pub batch_management: BatchManagement,
    pub redemption: RedemptionRules,
    /// How long a redemption waits for a row lock before answering "busy" (PRD 5.1: 30 s).
    pub lock_timeout_seconds: u32,
}

impl Default for BusinessSettings {
    fn default() -> Self {
        Self {
            code_generation: CodeGeneration::default(),
            expiration: Expiration::default(),
            batch_management: BatchManagement::default(),
            redemption: RedemptionRules::default(),
            lock_timeout_seconds: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Registration {
    pub admin_registration_enabled: bool,
    pub require_approval: bool,
    pub default_role: String,
    pub registration_message: String,
    pub approval_notification_email: String,
    pub max_registrations_per_hour: u32,
    pub max_registrations_per_day: u32,
}

impl Default for Registration {
    fn default() -> Self {
        Self {
            admin_registration_enabled: false,
            require_approval: true,
            default_role: "Viewer".into(),
            registration_message: String::new(),
            approval_notification_email: String::new(),
            max_registrations_per_hour: 5,
            max_registrations_per_day: 20,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RateLimiting {
    pub api_requests_per_minute: u32,
    pub api_requests_per_hour: u32,
    /// USSD hops per phone, menus included (PRD 2.8); an over-limit dial gets a polite END.
    pub ussd_requests_per_minute: u32,
    pub ussd_requests_per_hour: u32,
    pub login_attempts_per_minute: u32,
    pub file_uploads_per_hour: u32,
    pub downloads_per_hour: u32,
}

impl Default for RateLimiting {
    fn default() -> Self {
        Self {
            api_requests_per_minute: 600,
            api_requests_per_hour: 20_000,
            // a person needs a few seconds per screen: 60 a minute is several sessions at once
            ussd_requests_per_minute: 60,
            ussd_requests_per_hour: 600,
            login_attempts_per_minute: 10,
            file_uploads_per_hour: 30,
            downloads_per_hour: 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AuditSettings {
    pub log_failed_attempts: bool,
    pub retention_days: u32,
    pub real_time_alerts: bool,
}

impl Default for AuditSettings {
    fn default() -> Self {
        // 7 years (PRD 5.2)
        Self {
            log_failed_attempts: true,
            retention_days: 2557,
            real_time_alerts: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecuritySettings {
    /// Absolute session lifetime (PRD: 24 h).
    pub session_timeout_minutes: u32,
    pub idle_timeout_minutes: u32,
    pub max_login_attempts: u32,
    pub lockout_duration_minutes: u32,
    pub password_min_length: u32,
    /// 0 = passwords do not expire (NIST SP 800-63B advises against forced rotation).
    pub password_max_age_days: u32,
    pub two_factor_required: bool,
    pub registration: Registration,
    pub rate_limiting: RateLimiting,
    pub ip_allowlist: Vec<String>,
    pub ip_blocklist: Vec<String>,
    pub audit: AuditSettings,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            session_timeout_minutes: 24 * 60,
            idle_timeout_minutes: 30,
            max_login_attempts: 5,
            lockout_duration_minutes: 15,
            password_min_length: 12,
            password_max_age_days: 0,
            two_factor_required: true,
            registration: Registration::default(),
            rate_limiting: RateLimiting::default(),
            ip_allowlist: Vec::new(),
            ip_blocklist: Vec::new(),
            audit: AuditSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AlertThreshold {
    pub enabled: bool,
    pub threshold: i64,
    pub recipients: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NotificationSettings {
    pub email_enabled: bool,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_username: String,
    pub smtp_password: Secret,
    /// "starttls", "tls" or "none".
    pub smtp_security: String,
    pub from_email: String,
    pub from_name: String,
    pub reply_to: String,
    pub sms_enabled: bool,
    pub sms_provider: String,
    pub sms_sender_id: String,
    pub webhooks_enabled: bool,
    pub webhook_url: String,
    pub webhook_secret: Secret,
    pub webhook_events: Vec<String>,
    pub webhook_retry_attempts: u32,
    /// Disbursement account balance (RWF) below which administrators are alerted.
    pub low_balance_alert: AlertThreshold,
    /// Payout failure rate (percent) above which administrators are alerted.
    pub high_failure_rate_alert: AlertThreshold,
    pub system_down_alert: AlertThreshold,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            email_enabled: false,
            smtp_host: String::new(),
            smtp_port: 587,
            smtp_username: String::new(),
            smtp_password: Secret::default(),
            smtp_security: "starttls".into(),
            from_email: String::new(),
            from_name: "MBELYCO Promo".into(),
            reply_to: String::new(),
            sms_enabled: true,
            sms_provider: "africas_talking".into(),
            sms_sender_id: String::new(),
            webhooks_enabled: false,
            webhook_url: String::new(),
            webhook_secret: Secret::default(),
            webhook_events: Vec::new(),
            webhook_retry_attempts: 3,
            low_balance_alert: AlertThreshold {
                enabled: true,
                threshold: 500_000,
                recipients: Vec::new(),
            },
            high_failure_rate_alert: AlertThreshold {
                enabled: true,
                threshold: 10,
                recipients: Vec::new(),
            },
            system_down_alert: AlertThreshold {
                enabled: true,
                threshold: 0,
                recipients: Vec::new(),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AnalyticsSettings {
    pub default_view: String,
    /// PRD 2.1: dashboard data refreshes every 30 s.
    pub refresh_interval_seconds: u32,
    pub max_data_points: u32,
    pub redemptions_chart: String,
    pub disbursements_chart: String,
    pub batches_chart: String,
    pub report_default_format: String,
    pub report_include_charts: bool,
    pub report_include_raw_data: bool,
    pub report_branding: bool,
    pub schedule_daily: bool,
    pub schedule_weekly: bool,
    pub schedule_monthly: bool,
    pub schedule_recipients: Vec<String>,
    pub raw_data_days: u32,
    pub aggregated_data_days: u32,
    pub report_data_days: u32,
    pub auto_cleanup: bool,
}

impl Default for AnalyticsSettings {
    fn default() -> Self {
        Self {
            default_view: "overview".into(),
            refresh_interval_seconds: 30,
            max_data_points: 500,
            redemptions_chart: "line".into(),
            disbursements_chart: "bar".into(),
            batches_chart: "bar".into(),
            report_default_format: "pdf".into(),
            report_include_charts: true,
            report_include_raw_data: false,
            report_branding: true,
            schedule_daily: false,
            schedule_weekly: false,
            schedule_monthly: false,
            schedule_recipients: Vec::new(),
            raw_data_days: 730,
            aggregated_data_days: 2557,
            report_data_days: 365,
            auto_cleanup: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IntegrationSettings {
    pub api_rate_limiting_enabled: bool,
    pub api_requests_per_minute: u32,
    pub api_requests_per_hour: u32,
    pub cors_enabled: bool,
    pub cors_allowed_origins: Vec<String>,
    pub outbound_timeout_seconds: u32,
    pub api_keys_enabled: bool,
}

impl Default for IntegrationSettings {
    fn default() -> Self {
        Self {
            api_rate_limiting_enabled: true,
            api_requests_per_minute: 600,
            api_requests_per_hour: 20_000,
            cors_enabled: false,
            cors_allowed_origins: Vec::new(),
            outbound_timeout_seconds: 30,
            api_keys_enabled: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupSettings {
    pub database_backup_enabled: bool,
    pub database_backup_frequency: String,
    pub database_backup_retention_days: u32,
    pub database_backup_compression: bool,
    pub database_backup_encryption: bool,
    pub storage_type: String,
    pub storage_path: String,
    pub maintenance_enabled: bool,
    pub maintenance_day: String,
    pub maintenance_time: String,
    pub monitoring_enabled: bool,
    pub disk_space_percent: u32,
    pub memory_usage_percent: u32,
    pub response_time_ms: u32,
}

impl Default for BackupSettings {
    fn default() -> Self {
        Self {
            database_backup_enabled: false,
            database_backup_frequency: "daily".into(),
            database_backup_retention_days: 30,
            database_backup_compression: true,
            database_backup_encryption: true,
            storage_type: "local".into(),
            storage_path: "backups".into(),
            maintenance_enabled: false,
            maintenance_day: "sunday".into(),
            maintenance_time: "02:00".into(),
            monitoring_enabled: true,
            disk_space_percent: 85,
            memory_usage_percent: 90,
            response_time_ms: 2000,
        }
    }
}

/// Every category, as the running process sees it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub branding: BrandingSettings,
    pub ussd: UssdSettings,
    pub payments: PaymentSettings,
    pub business: BusinessSettings,
    pub security: SecuritySettings,
    pub notifications: NotificationSettings,
    pub analytics: AnalyticsSettings,
    pub integrations: IntegrationSettings,
    pub backup: BackupSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Branding,
    Ussd,
    Payments,
    Business,
    Security,
    Notifications,
    Analytics,
    Integrations,
    Backup,
}

impl Category {
    pub const ALL: [Category; 9] = [
        Category::Branding,
        Category::Ussd,
        Category::Payments,
        Category::Business,
        Category::Security,
        Category::Notifications,
        Category::Analytics,
        Category::Integrations,
        Category::Backup,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Branding => "branding",
            Category::Ussd => "ussd",
            Category::Payments => "payments",
            Category::Business => "business",
            Category::Security => "security",
            Category::Notifications => "notifications",
            Category::Analytics => "analytics",
            Category::Integrations => "integrations",
            Category::Backup => "backup",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Top-level keys of this category that hold secrets (encrypted at rest, masked on output).
    pub fn secret_keys(self) -> &'static [&'static str] {
        match self {
            Category::Ussd => &["africasTalkingApiKey", "endpointSecret"],
            Category::Payments => &["momoApiUser", "momoApiKey", "momoSubscriptionKey"],
            Category::Notifications => &["smtpPassword", "webhookSecret"],
            _ => &[],
        }
    }
}
