//! The settings of the platform around the campaign: security and registration, notifications,
//! analytics, integrations, backups.

use serde::{Deserialize, Serialize};

use super::Secret;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Registration {
    pub admin_registration_enabled: bool,
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
            default_role: "Viewer".into(),
            registration_message: String::new(),
            approval_notification_email: String::new(),
            max_registrations_per_hour: 5,
            max_registrations_per_day: 20,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
            registration: Registration::default(),
            rate_limiting: RateLimiting::default(),
            ip_allowlist: Vec::new(),
            ip_blocklist: Vec::new(),
            audit: AuditSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AlertThreshold {
    pub enabled: bool,
    pub threshold: i64,
    pub recipients: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
    pub sms_sender_id: String,
    /// Master switch of the webhooks to integrators; the endpoints themselves are rows of
    /// `webhook_endpoints`, managed at `/admin/settings/webhooks` (decision 0049).
    pub webhooks_enabled: bool,
    /// The retries a new endpoint gets unless the form says otherwise.
    pub webhook_retry_attempts: u32,
    /// Disbursement account balance (RWF) below which administrators are alerted.
    pub low_balance_alert: AlertThreshold,
    /// Payout failure rate (percent) above which administrators are alerted.
    pub high_failure_rate_alert: AlertThreshold,
    pub system_down_alert: AlertThreshold,
    /// Which channels (`email`, `sms`) carry a new alert, per severity.
    pub alert_routing: AlertRouting,
    /// Who receives every alert the routing sends, besides the per-kind lists above.
    pub alert_recipients: AlertRecipients,
    /// When an unacknowledged critical alert goes to the Super Administrators, and how often
    /// they are reminded while it stays unresolved.
    pub alert_escalation: AlertEscalation,
}

/// `notifications.alertRouting`: the delivery channels of a new alert, per severity.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AlertRouting {
    pub critical: Vec<String>,
    pub warning: Vec<String>,
    pub info: Vec<String>,
}

impl Default for AlertRouting {
    fn default() -> Self {
        Self {
            critical: vec!["email".into(), "sms".into()],
            warning: vec!["email".into()],
            info: Vec::new(),
        }
    }
}

/// `notifications.alertRecipients`: addresses and numbers every routed alert goes to.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AlertRecipients {
    pub emails: Vec<String>,
    /// Rwandan numbers in E.164 (`+2507XXXXXXXX`).
    pub phones: Vec<String>,
}

/// `notifications.alertEscalation`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AlertEscalation {
    /// A critical alert still open (not acknowledged) this long after it was raised is escalated.
    pub minutes: u32,
    /// An escalated alert still unresolved is sent again this often.
    pub follow_up_minutes: u32,
}

impl Default for AlertEscalation {
    fn default() -> Self {
        Self {
            minutes: 15,
            follow_up_minutes: 60,
        }
    }
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
            sms_sender_id: String::new(),
            webhooks_enabled: false,
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
            alert_routing: AlertRouting::default(),
            alert_recipients: AlertRecipients::default(),
            alert_escalation: AlertEscalation::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupSettings {
    pub database_backup_enabled: bool,
    pub database_backup_frequency: String,
    pub database_backup_retention_days: u32,
    pub database_backup_compression: bool,
    pub database_backup_encryption: bool,
    pub storage_path: String,
    /// The operator's switch: maintenance mode on now, whatever the schedule says.
    pub maintenance_mode: bool,
    /// "local" (a folder under `DATA_DIR`) or "s3" (S3-compatible object storage).
    pub storage_type: String,
    /// The S3 endpoint (empty: AWS itself for the region).
    pub s3_endpoint: String,
    pub s3_bucket: String,
    pub s3_region: String,
    pub s3_access_key_id: String,
    pub s3_secret_access_key: Secret,
    /// Objects are named `<prefix>/<backup id>.dump` (no prefix when empty).
    pub s3_prefix: String,
    pub maintenance_enabled: bool,
    pub maintenance_day: String,
    pub maintenance_time: String,
    /// How long the weekly window lasts (5–720 minutes).
    pub maintenance_duration_minutes: u32,
    pub maintenance_tasks: MaintenanceTasks,
    pub maintenance_notify: MaintenanceNotify,
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
            storage_path: "backups".into(),
            maintenance_mode: false,
            storage_type: "local".into(),
            s3_endpoint: String::new(),
            s3_bucket: String::new(),
            s3_region: "us-east-1".into(),
            s3_access_key_id: String::new(),
            s3_secret_access_key: Secret::default(),
            s3_prefix: "backups".into(),
            maintenance_enabled: false,
            maintenance_day: "sunday".into(),
            maintenance_time: "02:00".into(),
            maintenance_duration_minutes: 60,
            maintenance_tasks: MaintenanceTasks::default(),
            maintenance_notify: MaintenanceNotify::default(),
            monitoring_enabled: true,
            disk_space_percent: 85,
            memory_usage_percent: 90,
            response_time_ms: 2000,
        }
    }
}

/// What the weekly maintenance window does (PRD 2.8 category 9, `maintenance.tasks`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MaintenanceTasks {
    /// Deletes the USSD interaction log past the analytics settings' `rawDataDays`.
    pub cleanup_logs: bool,
    /// `VACUUM ANALYZE`.
    pub optimize_database: bool,
    /// `ANALYZE`.
    pub update_statistics: bool,
}

impl Default for MaintenanceTasks {
    fn default() -> Self {
        Self {
            cleanup_logs: true,
            optimize_database: true,
            update_statistics: true,
        }
    }
}

/// Who hears of the maintenance window, and when (PRD 2.8 category 9, `maintenance.notification`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MaintenanceNotify {
    /// An e-mail 30 minutes before the window opens.
    pub before: bool,
    /// An e-mail when the window's tasks have run.
    pub after: bool,
    /// An e-mail when a task failed.
    pub on_failure: bool,
    pub recipients: Vec<String>,
}
