//! The settings of the campaign itself: branding, USSD, payments, business rules.

use serde::{Deserialize, Serialize};

use super::{Localized, Secret};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
            heading_font_size: 30,
            sidebar_width: 220,
            header_height: 56,
            border_radius: 6,
            box_shadow: "0 1px 3px rgba(0,0,0,0.12)".into(),
            custom_css: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The most inputs one session may take (each choice or code typed is one).
    pub max_menu_depth: u32,
    /// A session older than this is ended politely at its next hop.
    pub session_timeout_seconds: u32,
    /// A hop arriving longer than this after the previous one ends the session politely.
    pub input_timeout_seconds: u32,
    pub max_attempts_per_minute: u32,
    pub max_attempts_per_hour: u32,
    pub max_attempts_per_day: u32,
    pub block_duration_minutes: u32,
    pub africas_talking_api_key: Secret,
    pub africas_talking_username: String,
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
            max_menu_depth: 10,
            session_timeout_seconds: 180,
            input_timeout_seconds: 30,
            max_attempts_per_minute: 5,
            max_attempts_per_hour: 20,
            max_attempts_per_day: 50,
            block_duration_minutes: 30,
            africas_talking_api_key: Secret::default(),
            africas_talking_username: "sandbox".into(),
            africas_talking_base_url: "https://api.sandbox.africastalking.com".into(),
            endpoint_secret: Secret::default(),
            ip_allowlist: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
