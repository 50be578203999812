//! Validation of a whole [`Settings`] value: ranges, formats and conflicts between fields.
//! Every problem is a [`FieldError`] whose path is `category.key[.sub]`.

use crate::error::FieldError;

use super::model::*;

struct V(Vec<FieldError>);

impl V {
    fn check(&mut self, ok: bool, field: &str, message: impl Into<String>) {
        if !ok {
            self.0.push(FieldError::new(field, message));
        }
    }

    fn range<T: PartialOrd + std::fmt::Display + Copy>(&mut self, v: T, min: T, max: T, field: &str) {
        self.check(v >= min && v <= max, field, format!("must be from {min} to {max}"));
    }

    fn one_of(&mut self, v: &str, allowed: &[&str], field: &str) {
        self.check(
            allowed.contains(&v),
            field,
            format!("must be one of: {}", allowed.join(", ")),
        );
    }

    fn color(&mut self, v: &str, field: &str) {
        let ok = v.len() == 7 && v.starts_with('#') && v[1..].chars().all(|c| c.is_ascii_hexdigit());
        self.check(ok, field, "must be a colour such as #0B5FA5");
    }

    fn url_or_empty(&mut self, v: &str, field: &str) {
        self.check(
            v.is_empty() || is_http_url(v),
            field,
            "must be an http:// or https:// URL",
        );
    }

    fn email_or_empty(&mut self, v: &str, field: &str) {
        self.check(v.is_empty() || is_email(v), field, "must be an email address");
    }

    fn max_len(&mut self, v: &str, max: usize, field: &str) {
        self.check(
            v.chars().count() <= max,
            field,
            format!("must be at most {max} characters"),
        );
    }

    fn ips(&mut self, list: &[String], field: &str) {
        for (i, ip) in list.iter().enumerate() {
            let ok = ip.parse::<sqlx::types::ipnetwork::IpNetwork>().is_ok();
            self.check(ok, &format!("{field}[{i}]"), "must be an IP address or CIDR range");
        }
    }
}

fn is_http_url(v: &str) -> bool {
    let rest = v.strip_prefix("https://").or_else(|| v.strip_prefix("http://"));
    matches!(rest, Some(r) if !r.is_empty() && !r.contains(char::is_whitespace))
}

fn is_email(v: &str) -> bool {
    match v.split_once('@') {
        Some((l, d)) => !l.is_empty() && d.contains('.') && !d.starts_with('.') && !v.contains(char::is_whitespace),
        None => false,
    }
}

pub fn validate(s: &Settings) -> Vec<FieldError> {
    let mut v = V(Vec::new());
    branding(&mut v, &s.branding);
    ussd(&mut v, &s.ussd);
    payments(&mut v, &s.payments);
    business(&mut v, &s.business);
    security(&mut v, &s.security);
    notifications(&mut v, &s.notifications);
    analytics(&mut v, &s.analytics);
    integrations(&mut v, &s.integrations);
    backup(&mut v, &s.backup);
    // every screen a custom USSD text appears on, in both languages
    v.0.extend(crate::ussd::screens::check_settings(s));
    v.0
}

fn branding(v: &mut V, b: &BrandingSettings) {
    v.check(
        !b.company_name.trim().is_empty(),
        "branding.companyName",
        "must not be empty",
    );
    v.max_len(&b.company_name, 80, "branding.companyName");
    for (val, f) in [
        (&b.company_logo, "branding.companyLogo"),
        (&b.company_favicon, "branding.companyFavicon"),
    ] {
        let ok = val.is_empty()
            || val.starts_with("data:image/png;base64,")
            || val.starts_with("data:image/jpeg;base64,")
            || val.starts_with("data:image/svg+xml;base64,");
        v.check(ok, f, "must be a PNG, JPEG or SVG image as a data: URL");
        v.check(val.len() <= 512 * 1024, f, "must be at most 512 KiB");
    }
    v.url_or_empty(&b.company_website, "branding.companyWebsite");
    v.email_or_empty(&b.company_email, "branding.companyEmail");
    for (c, f) in [
        (&b.primary_color, "branding.primaryColor"),
        (&b.secondary_color, "branding.secondaryColor"),
        (&b.accent_color, "branding.accentColor"),
        (&b.background_color, "branding.backgroundColor"),
        (&b.text_color, "branding.textColor"),
        (&b.link_color, "branding.linkColor"),
        (&b.success_color, "branding.successColor"),
        (&b.warning_color, "branding.warningColor"),
        (&b.error_color, "branding.errorColor"),
    ] {
        v.color(c, f);
    }
    v.check(
        b.background_color != b.text_color,
        "branding.textColor",
        "must differ from the background colour",
    );
    for (font, f) in [
        (&b.primary_font, "branding.primaryFont"),
        (&b.secondary_font, "branding.secondaryFont"),
        (&b.heading_font, "branding.headingFont"),
    ] {
        let ok = !font.is_empty() && font.chars().all(|c| c.is_alphanumeric() || " -_,'".contains(c));
        v.check(ok, f, "must be a font family name");
    }
    v.range(b.body_font_size, 10, 24, "branding.bodyFontSize");
    v.range(b.heading_font_size, 12, 48, "branding.headingFontSize");
    v.range(b.sidebar_width, 160, 400, "branding.sidebarWidth");
    v.range(b.header_height, 40, 120, "branding.headerHeight");
    v.range(b.border_radius, 0, 24, "branding.borderRadius");
    v.max_len(&b.box_shadow, 120, "branding.boxShadow");
    v.max_len(&b.custom_css, 20_000, "branding.customCss");
    v.check(
        !b.custom_css.to_ascii_lowercase().contains("</style"),
        "branding.customCss",
        "must not close the style element",
    );
}

fn ussd(v: &mut V, u: &UssdSettings) {
    let code_ok = u.service_code.starts_with('*')
        && u.service_code.ends_with('#')
        && u.service_code.len() >= 3
        && u.service_code[1..u.service_code.len() - 1]
            .split('*')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    v.check(code_ok, "ussd.serviceCode", "must look like *123# or *123*4#");
    v.one_of(&u.default_language, &["en", "rw"], "ussd.defaultLanguage");
    v.check(
        !u.supported_languages.is_empty(),
        "ussd.supportedLanguages",
        "must list at least one language",
    );
    for (i, l) in u.supported_languages.iter().enumerate() {
        v.one_of(l, &["en", "rw"], &format!("ussd.supportedLanguages[{i}]"));
    }
    v.check(
        u.supported_languages.contains(&u.default_language),
        "ussd.defaultLanguage",
        "must be one of the supported languages",
    );
    for (m, f) in [
        (&u.welcome_message, "ussd.welcomeMessage"),
        (&u.help_message, "ussd.helpMessage"),
        (&u.error_message, "ussd.errorMessage"),
        (&u.success_message, "ussd.successMessage"),
    ] {
        // a USSD screen holds 160 GSM-7 characters with the CON/END prefix and the menu; each
        // screen a text appears on is checked as a whole too (`ussd::screens::check_settings`)
        v.max_len(&m.en, 120, &format!("{f}.en"));
        v.max_len(&m.rw, 120, &format!("{f}.rw"));
    }
    v.range(u.max_menu_depth, 1, 10, "ussd.maxMenuDepth");
    v.range(u.session_timeout_seconds, 20, 600, "ussd.sessionTimeoutSeconds");
    v.range(u.input_timeout_seconds, 5, 180, "ussd.inputTimeoutSeconds");
    v.check(
        u.input_timeout_seconds <= u.session_timeout_seconds,
        "ussd.inputTimeoutSeconds",
        "must not exceed the session timeout",
    );
    v.range(u.max_attempts_per_minute, 1, 100, "ussd.maxAttemptsPerMinute");
    v.range(u.max_attempts_per_hour, 1, 1000, "ussd.maxAttemptsPerHour");
    v.range(u.max_attempts_per_day, 1, 10_000, "ussd.maxAttemptsPerDay");
    v.check(
        u.max_attempts_per_hour >= u.max_attempts_per_minute,
        "ussd.maxAttemptsPerHour",
        "must be at least the per-minute limit",
    );
    v.check(
        u.max_attempts_per_day >= u.max_attempts_per_hour,
        "ussd.maxAttemptsPerDay",
        "must be at least the per-hour limit",
    );
    v.range(u.block_duration_minutes, 1, 10_080, "ussd.blockDurationMinutes");
    v.one_of(
        &u.africas_talking_environment,
        &["sandbox", "production"],
        "ussd.africasTalkingEnvironment",
    );
    v.check(
        !u.africas_talking_username.trim().is_empty(),
        "ussd.africasTalkingUsername",
        "must not be empty",
    );
    v.check(
        is_http_url(&u.africas_talking_base_url),
        "ussd.africasTalkingBaseUrl",
        "must be an http:// or https:// URL",
    );
    if let Some(secret) = u.endpoint_secret.expose() {
        v.check(
            secret.len() >= 16,
            "ussd.endpointSecret",
            "must be at least 16 characters",
        );
        v.check(
            secret
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "ussd.endpointSecret",
            "must use only letters, digits, - and _ (it goes in a URL)",
        );
    }
    v.ips(&u.ip_allowlist, "ussd.ipAllowlist");
}

fn payments(v: &mut V, p: &PaymentSettings) {
    v.check(
        is_http_url(&p.momo_base_url),
        "payments.momoBaseUrl",
        "must be an http:// or https:// URL",
    );
    let env_ok = p.momo_target_environment == "sandbox"
        || (p.momo_target_environment.starts_with("mtn")
            && p.momo_target_environment.chars().all(|c| c.is_ascii_lowercase()));
    v.check(
        env_ok,
        "payments.momoTargetEnvironment",
        "must be sandbox or an MTN environment such as mtnrwanda",
    );
    let cur_ok = p.currency.len() == 3 && p.currency.chars().all(|c| c.is_ascii_uppercase());
    v.check(cur_ok, "payments.currency", "must be an ISO 4217 code such as RWF");
    v.range(p.min_amount, 1, 10_000_000, "payments.minAmount");
    v.range(p.max_amount, 1, 10_000_000, "payments.maxAmount");
    v.check(
        p.min_amount <= p.max_amount,
        "payments.maxAmount",
        "must be at least the minimum amount",
    );
    v.range(p.max_retry_attempts, 0, 5, "payments.maxRetryAttempts");
    v.check(
        p.retry_delay_minutes.len() >= p.max_retry_attempts as usize,
        "payments.retryDelayMinutes",
        "must give a delay for every retry",
    );
    v.check(
        p.retry_delay_minutes.len() <= 5,
        "payments.retryDelayMinutes",
        "must list at most 5 delays",
    );
    for (i, d) in p.retry_delay_minutes.iter().enumerate() {
        v.range(*d, 1, 1440, &format!("payments.retryDelayMinutes[{i}]"));
    }
    v.check(
        p.retry_delay_minutes.windows(2).all(|w| w[0] <= w[1]),
        "payments.retryDelayMinutes",
        "must not get shorter from one retry to the next",
    );
    v.range(p.approval_threshold, 0, 10_000_000, "payments.approvalThreshold");
    v.check(
        p.daily_transaction_limit > 0,
        "payments.dailyTransactionLimit",
        "must be positive",
    );
    v.check(
        p.monthly_transaction_limit >= p.daily_transaction_limit,
        "payments.monthlyTransactionLimit",
        "must be at least the daily limit",
    );
    v.check(
        p.per_user_daily_limit >= p.min_amount,
        "payments.perUserDailyLimit",
        "must allow at least the minimum amount",
    );
    v.check(
        p.per_user_monthly_limit >= p.per_user_daily_limit,
        "payments.perUserMonthlyLimit",
        "must be at least the per-user daily limit",
    );
    v.check(
        p.daily_transaction_limit >= p.per_user_daily_limit,
        "payments.dailyTransactionLimit",
        "must be at least the per-user daily limit",
    );
    v.check(
        p.callback_base_url.is_empty() || is_http_url(&p.callback_base_url),
        "payments.callbackBaseUrl",
        "must be empty (no callbacks) or an http:// or https:// URL",
    );
    v.range(p.worker_concurrency, 1, 512, "payments.workerConcurrency");
    v.range(p.requests_per_second, 1, 2000, "payments.requestsPerSecond");
    v.range(p.status_queries_per_second, 1, 9, "payments.statusQueriesPerSecond");
    v.range(
        p.low_balance_threshold,
        0,
        1_000_000_000,
        "payments.lowBalanceThreshold",
    );
    v.range(p.request_timeout_seconds, 1, 120, "payments.requestTimeoutSeconds");
    v.range(p.circuit_breaker_failures, 1, 100, "payments.circuitBreakerFailures");
    v.range(
        p.circuit_breaker_cooldown_seconds,
        5,
        3600,
        "payments.circuitBreakerCooldownSeconds",
    );
}

fn business(v: &mut V, b: &BusinessSettings) {
    let cs = &b.code_generation.character_set;
    let mut seen = std::collections::HashSet::new();
    let chars_ok = cs
        .chars()
        .all(|c| (c.is_ascii_uppercase() || c.is_ascii_digit()) && seen.insert(c));
    v.check(
        chars_ok,
        "business.codeGeneration.characterSet",
        "must be distinct upper-case letters and digits",
    );
    v.range(cs.chars().count(), 16, 36, "business.codeGeneration.characterSet");
    let e = &b.expiration;
    v.range(e.min_expiration_days, 1, 3650, "business.expiration.minExpirationDays");
    v.range(e.max_expiration_days, 1, 3650, "business.expiration.maxExpirationDays");
    v.check(
        e.min_expiration_days <= e.max_expiration_days,
        "business.expiration.maxExpirationDays",
        "must be at least the minimum",
    );
    v.check(
        (e.min_expiration_days..=e.max_expiration_days).contains(&e.default_expiration_days),
        "business.expiration.defaultExpirationDays",
        "must lie between the minimum and maximum",
    );
    v.range(e.grace_period_hours, 0, 720, "business.expiration.gracePeriodHours");
    v.range(
        b.batch_management.max_codes_per_batch,
        1,
        1_000_000,
        "business.batchManagement.maxCodesPerBatch",
    );
    v.range(
        b.batch_management.max_batches_per_user,
        0,
        100_000,
        "business.batchManagement.maxBatchesPerUser",
    );
    let r = &b.redemption;
    v.range(
        r.max_redemptions_per_user,
        0,
        10_000,
        "business.redemption.maxRedemptionsPerUser",
    );
    v.check(
        r.allow_multiple_redemptions || r.max_redemptions_per_user <= 1,
        "business.redemption.maxRedemptionsPerUser",
        "conflicts with allowMultipleRedemptions = false",
    );
    v.range(
        r.cooldown_period_minutes,
        0,
        10_080,
        "business.redemption.cooldownPeriodMinutes",
    );
    v.range(
        r.wrong_code_flag_threshold,
        1,
        1000,
        "business.redemption.wrongCodeFlagThreshold",
    );
    v.range(b.lock_timeout_seconds, 1, 60, "business.lockTimeoutSeconds");
}

fn security(v: &mut V, s: &SecuritySettings) {
    v.range(
        s.session_timeout_minutes,
        5,
        7 * 24 * 60,
        "security.sessionTimeoutMinutes",
    );
    v.range(s.idle_timeout_minutes, 1, 24 * 60, "security.idleTimeoutMinutes");
    v.check(
        s.idle_timeout_minutes <= s.session_timeout_minutes,
        "security.idleTimeoutMinutes",
        "must not exceed the session timeout",
    );
    v.range(s.max_login_attempts, 1, 100, "security.maxLoginAttempts");
    v.range(
        s.lockout_duration_minutes,
        1,
        24 * 60,
        "security.lockoutDurationMinutes",
    );
    v.range(s.password_min_length, 8, 128, "security.passwordMinLength");
    v.range(s.password_max_age_days, 0, 3650, "security.passwordMaxAgeDays");
    v.check(
        s.two_factor_required,
        "security.twoFactorRequired",
        "two-factor sign-in is mandatory for staff",
    );
    let r = &s.registration;
    v.check(
        !r.default_role.trim().is_empty(),
        "security.registration.defaultRole",
        "must name a role",
    );
    v.check(
        r.default_role != "Super Administrator",
        "security.registration.defaultRole",
        "self-registered accounts cannot default to Super Administrator",
    );
    v.email_or_empty(
        &r.approval_notification_email,
        "security.registration.approvalNotificationEmail",
    );
    v.max_len(
        &r.registration_message,
        500,
        "security.registration.registrationMessage",
    );
    v.range(
        r.max_registrations_per_hour,
        1,
        10_000,
        "security.registration.maxRegistrationsPerHour",
    );
    v.range(
        r.max_registrations_per_day,
        1,
        100_000,
        "security.registration.maxRegistrationsPerDay",
    );
    v.check(
        r.max_registrations_per_day >= r.max_registrations_per_hour,
        "security.registration.maxRegistrationsPerDay",
        "must be at least the hourly limit",
    );
    let rl = &s.rate_limiting;
    v.range(
        rl.api_requests_per_minute,
        1,
        1_000_000,
        "security.rateLimiting.apiRequestsPerMinute",
    );
    v.range(
        rl.api_requests_per_hour,
        1,
        10_000_000,
        "security.rateLimiting.apiRequestsPerHour",
    );
    v.check(
        rl.api_requests_per_hour >= rl.api_requests_per_minute,
        "security.rateLimiting.apiRequestsPerHour",
        "must be at least the per-minute limit",
    );
    v.range(
        rl.ussd_requests_per_minute,
        1,
        10_000,
        "security.rateLimiting.ussdRequestsPerMinute",
    );
    v.range(
        rl.ussd_requests_per_hour,
        1,
        100_000,
        "security.rateLimiting.ussdRequestsPerHour",
    );
    v.check(
        rl.ussd_requests_per_hour >= rl.ussd_requests_per_minute,
        "security.rateLimiting.ussdRequestsPerHour",
        "must be at least the per-minute limit",
    );
    v.range(
        rl.login_attempts_per_minute,
        1,
        1000,
        "security.rateLimiting.loginAttemptsPerMinute",
    );
    v.range(
        rl.file_uploads_per_hour,
        1,
        10_000,
        "security.rateLimiting.fileUploadsPerHour",
    );
    v.range(
        rl.downloads_per_hour,
        1,
        10_000,
        "security.rateLimiting.downloadsPerHour",
    );
    v.ips(&s.ip_allowlist, "security.ipAllowlist");
    v.ips(&s.ip_blocklist, "security.ipBlocklist");
    // 7 years is the compliance floor the PRD sets; shorter retention is refused
    v.range(s.audit.retention_days, 2557, 36_500, "security.audit.retentionDays");
}

fn notifications(v: &mut V, n: &NotificationSettings) {
    if n.email_enabled {
        v.check(
            !n.smtp_host.trim().is_empty(),
            "notifications.smtpHost",
            "is required when email is enabled",
        );
        v.check(
            !n.from_email.is_empty(),
            "notifications.fromEmail",
            "is required when email is enabled",
        );
    }
    v.check(n.smtp_port != 0, "notifications.smtpPort", "must be from 1 to 65535");
    v.one_of(
        &n.smtp_security,
        &["starttls", "tls", "none"],
        "notifications.smtpSecurity",
    );
    v.email_or_empty(&n.from_email, "notifications.fromEmail");
    v.email_or_empty(&n.reply_to, "notifications.replyTo");
    v.one_of(&n.sms_provider, &["africas_talking"], "notifications.smsProvider");
    v.max_len(&n.sms_sender_id, 11, "notifications.smsSenderId");
    v.url_or_empty(&n.webhook_url, "notifications.webhookUrl");
    if n.webhooks_enabled {
        v.check(
            !n.webhook_url.is_empty(),
            "notifications.webhookUrl",
            "is required when webhooks are enabled",
        );
        v.check(
            n.webhook_secret.is_set(),
            "notifications.webhookSecret",
            "is required when webhooks are enabled",
        );
    }
    v.range(n.webhook_retry_attempts, 0, 10, "notifications.webhookRetryAttempts");
    for (a, f) in [
        (&n.low_balance_alert, "notifications.lowBalanceAlert"),
        (&n.high_failure_rate_alert, "notifications.highFailureRateAlert"),
        (&n.system_down_alert, "notifications.systemDownAlert"),
    ] {
        for (i, r) in a.recipients.iter().enumerate() {
            v.check(is_email(r), &format!("{f}.recipients[{i}]"), "must be an email address");
        }
    }
    v.range(
        n.low_balance_alert.threshold,
        0,
        1_000_000_000,
        "notifications.lowBalanceAlert.threshold",
    );
    v.range(
        n.high_failure_rate_alert.threshold,
        1,
        100,
        "notifications.highFailureRateAlert.threshold",
    );
}

fn analytics(v: &mut V, a: &AnalyticsSettings) {
    v.one_of(
        &a.default_view,
        &["overview", "detailed", "custom"],
        "analytics.defaultView",
    );
    v.range(a.refresh_interval_seconds, 5, 3600, "analytics.refreshIntervalSeconds");
    v.range(a.max_data_points, 10, 10_000, "analytics.maxDataPoints");
    for (c, f) in [
        (&a.redemptions_chart, "analytics.redemptionsChart"),
        (&a.disbursements_chart, "analytics.disbursementsChart"),
        (&a.batches_chart, "analytics.batchesChart"),
    ] {
        v.one_of(c, &["line", "bar", "pie"], f);
    }
    v.one_of(
        &a.report_default_format,
        &["pdf", "csv"],
        "analytics.reportDefaultFormat",
    );
    for (i, r) in a.schedule_recipients.iter().enumerate() {
        v.check(
            is_email(r),
            &format!("analytics.scheduleRecipients[{i}]"),
            "must be an email address",
        );
    }
    v.range(a.raw_data_days, 30, 36_500, "analytics.rawDataDays");
    v.check(
        a.aggregated_data_days >= a.raw_data_days,
        "analytics.aggregatedDataDays",
        "must be at least as long as raw data is kept",
    );
    v.range(a.report_data_days, 1, 36_500, "analytics.reportDataDays");
}

fn integrations(v: &mut V, i: &IntegrationSettings) {
    v.range(
        i.api_requests_per_minute,
        1,
        1_000_000,
        "integrations.apiRequestsPerMinute",
    );
    v.check(
        i.api_requests_per_hour >= i.api_requests_per_minute,
        "integrations.apiRequestsPerHour",
        "must be at least the per-minute limit",
    );
    for (n, o) in i.cors_allowed_origins.iter().enumerate() {
        v.check(
            is_http_url(o) && !o.ends_with('/'),
            &format!("integrations.corsAllowedOrigins[{n}]"),
            "must be an origin such as https://panel.example.rw",
        );
    }
    v.check(
        !i.cors_enabled || !i.cors_allowed_origins.is_empty(),
        "integrations.corsAllowedOrigins",
        "must list at least one origin when CORS is enabled",
    );
    v.range(
        i.outbound_timeout_seconds,
        1,
        300,
        "integrations.outboundTimeoutSeconds",
    );
}

fn backup(v: &mut V, b: &BackupSettings) {
    v.one_of(
        &b.database_backup_frequency,
        &["hourly", "daily", "weekly"],
        "backup.databaseBackupFrequency",
    );
    v.range(
        b.database_backup_retention_days,
        1,
        3650,
        "backup.databaseBackupRetentionDays",
    );
    v.one_of(&b.storage_type, &["local"], "backup.storageType");
    v.check(
        !b.storage_path.trim().is_empty(),
        "backup.storagePath",
        "must not be empty",
    );
    v.one_of(
        &b.maintenance_day,
        &[
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ],
        "backup.maintenanceDay",
    );
    let t_ok = b.maintenance_time.len() == 5
        && b.maintenance_time.as_bytes()[2] == b':'
        && b.maintenance_time[..2].parse::<u8>().is_ok_and(|h| h < 24)
        && b.maintenance_time[3..].parse::<u8>().is_ok_and(|m| m < 60);
    v.check(
        t_ok,
        "backup.maintenanceTime",
        "must be a time such as 02:00 (Africa/Kigali)",
    );
    v.range(b.disk_space_percent, 50, 99, "backup.diskSpacePercent");
    v.range(b.memory_usage_percent, 50, 99, "backup.memoryUsagePercent");
    v.range(b.response_time_ms, 100, 60_000, "backup.responseTimeMs");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(validate(&Settings::default()), vec![]);
    }

    #[test]
    fn prd_defaults() {
        let s = Settings::default();
        assert_eq!(s.ussd.max_attempts_per_minute, 5);
        assert_eq!(s.payments.max_retry_attempts, 3);
        assert_eq!(s.payments.retry_delay_minutes, vec![1, 5, 15, 30, 60]);
        assert_eq!(s.security.session_timeout_minutes, 24 * 60);
        assert_eq!(s.business.lock_timeout_seconds, 30);
        assert!(s.security.audit.retention_days >= 7 * 365);
        assert_eq!(s.security.max_login_attempts, 5);
        assert_eq!(s.security.lockout_duration_minutes, 15);
    }

    #[test]
    fn conflicts_name_the_field() {
        let mut s = Settings::default();
        s.payments.min_amount = 5000;
        s.payments.max_amount = 100;
        s.payments.max_retry_attempts = 6;
        s.ussd.service_code = "123".into();
        s.notifications.email_enabled = true;
        let fields: Vec<String> = validate(&s).into_iter().map(|e| e.field).collect();
        for f in [
            "payments.maxAmount",
            "payments.maxRetryAttempts",
            "ussd.serviceCode",
            "notifications.smtpHost",
        ] {
            assert!(fields.iter().any(|x| x == f), "{f} missing from {fields:?}");
        }
    }
}
