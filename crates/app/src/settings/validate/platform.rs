//! Checks of the platform's settings: security, notifications, analytics, integrations, backups.

use super::*;

pub(super) fn security(v: &mut V, s: &SecuritySettings) {
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
    let r = &s.registration;
    v.check(
        !r.default_role.trim().is_empty(),
        "security.registration.defaultRole",
        "must name a role",
    );
    v.max_len(&r.default_role, 100, "security.registration.defaultRole");
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
    v.check(
        s.ip_allowlist.len() <= 200,
        "security.ipAllowlist",
        "must list at most 200 entries",
    );
    v.check(
        s.ip_blocklist.len() <= 200,
        "security.ipBlocklist",
        "must list at most 200 entries",
    );
    // 7 years is the compliance floor the PRD sets; shorter retention is refused
    v.range(s.audit.retention_days, 2557, 36_500, "security.audit.retentionDays");
}

pub(super) fn notifications(v: &mut V, n: &NotificationSettings) {
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
    v.max_len(&n.smtp_host, 255, "notifications.smtpHost");
    v.max_len(&n.smtp_username, 255, "notifications.smtpUsername");
    v.max_len(&n.from_name, 100, "notifications.fromName");
    v.max_len(&n.sms_sender_id, 11, "notifications.smsSenderId");
    v.range(n.webhook_retry_attempts, 0, 10, "notifications.webhookRetryAttempts");
    for (a, f) in [
        (&n.low_balance_alert, "notifications.lowBalanceAlert"),
        (&n.high_failure_rate_alert, "notifications.highFailureRateAlert"),
        (&n.system_down_alert, "notifications.systemDownAlert"),
    ] {
        v.max_items(&a.recipients, 20, &format!("{f}.recipients"));
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
    v.range(
        n.system_down_alert.threshold,
        0,
        1440,
        "notifications.systemDownAlert.threshold",
    );
    for (list, f) in [
        (&n.alert_routing.critical, "notifications.alertRouting.critical"),
        (&n.alert_routing.warning, "notifications.alertRouting.warning"),
        (&n.alert_routing.info, "notifications.alertRouting.info"),
    ] {
        v.max_items(list, 2, f);
        for (i, c) in list.iter().enumerate() {
            v.one_of(c, &["email", "sms"], &format!("{f}[{i}]"));
        }
    }
    let r = &n.alert_recipients;
    v.max_items(&r.emails, 20, "notifications.alertRecipients.emails");
    for (i, e) in r.emails.iter().enumerate() {
        v.check(
            is_email(e),
            &format!("notifications.alertRecipients.emails[{i}]"),
            "must be an email address",
        );
    }
    v.max_items(&r.phones, 20, "notifications.alertRecipients.phones");
    for (i, p) in r.phones.iter().enumerate() {
        v.check(
            crate::redemption::phone::is_rwandan_mobile(p),
            &format!("notifications.alertRecipients.phones[{i}]"),
            "must be a Rwandan mobile number such as +250788123456",
        );
    }
    v.range(
        n.alert_escalation.minutes,
        1,
        1440,
        "notifications.alertEscalation.minutes",
    );
    v.range(
        n.alert_escalation.follow_up_minutes,
        5,
        10_080,
        "notifications.alertEscalation.followUpMinutes",
    );
}

pub(super) fn analytics(v: &mut V, a: &AnalyticsSettings) {
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
    v.max_items(&a.schedule_recipients, 50, "analytics.scheduleRecipients");
    for (i, r) in a.schedule_recipients.iter().enumerate() {
        v.check(
            is_email(r),
            &format!("analytics.scheduleRecipients[{i}]"),
            "must be an email address",
        );
    }
    v.range(a.raw_data_days, 30, 36_500, "analytics.rawDataDays");
    v.range(a.aggregated_data_days, 30, 36_500, "analytics.aggregatedDataDays");
    v.check(
        a.aggregated_data_days >= a.raw_data_days,
        "analytics.aggregatedDataDays",
        "must be at least as long as raw data is kept",
    );
    v.range(a.report_data_days, 1, 36_500, "analytics.reportDataDays");
}

/// The most origins `integrations.corsAllowedOrigins` holds.
pub const MAX_CORS_ORIGINS: usize = 20;

/// A web origin as a browser sends it: `https://host[:port]`, nothing after the host; `http`
/// only for the local machine (a developer's page).
pub(crate) fn is_origin(o: &str) -> bool {
    let (rest, local_only) = match o.strip_prefix("https://") {
        Some(r) => (r, false),
        None => match o.strip_prefix("http://") {
            Some(r) => (r, true),
            None => return false,
        },
    };
    let (host, port) = match rest.strip_prefix("[::1]") {
        Some(after) => ("[::1]", after),
        None => rest.find(':').map_or((rest, ""), |i| rest.split_at(i)),
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.starts_with('0') && p.parse::<u16>().is_ok());
    let host_ok = host == "[::1]"
        || (host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            }));
    let local = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    port_ok && host_ok && (!local_only || local)
}

pub(super) fn integrations(v: &mut V, i: &IntegrationSettings) {
    v.range(
        i.api_requests_per_minute,
        1,
        1_000_000,
        "integrations.apiRequestsPerMinute",
    );
    v.range(
        i.api_requests_per_hour,
        1,
        60_000_000,
        "integrations.apiRequestsPerHour",
    );
    v.check(
        i.api_requests_per_hour >= i.api_requests_per_minute,
        "integrations.apiRequestsPerHour",
        "must be at least the per-minute limit",
    );
    for (n, o) in i.cors_allowed_origins.iter().enumerate() {
        v.check(
            is_origin(o),
            &format!("integrations.corsAllowedOrigins[{n}]"),
            "must be an origin such as https://panel.example.rw (https, a host and an optional port, nothing \
             after; http only for localhost)",
        );
    }
    v.check(
        i.cors_allowed_origins.len() <= MAX_CORS_ORIGINS,
        "integrations.corsAllowedOrigins",
        format!("must list at most {MAX_CORS_ORIGINS} origins"),
    );
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

pub(super) fn backup(v: &mut V, b: &BackupSettings) {
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
    v.check(
        !b.storage_path.trim().is_empty(),
        "backup.storagePath",
        "must not be empty",
    );
    v.max_len(&b.storage_path, 255, "backup.storagePath");
    v.check(
        !b.storage_path.contains("..") && !b.storage_path.starts_with('/'),
        "backup.storagePath",
        "must be a folder under the data directory (no `..`, not absolute)",
    );
    v.one_of(&b.storage_type, &["local", "s3"], "backup.storageType");
    v.url_or_empty(&b.s3_endpoint, "backup.s3Endpoint");
    v.max_len(&b.s3_bucket, 63, "backup.s3Bucket");
    v.max_len(&b.s3_region, 64, "backup.s3Region");
    v.max_len(&b.s3_access_key_id, 128, "backup.s3AccessKeyId");
    v.max_len(&b.s3_prefix, 255, "backup.s3Prefix");
    if b.storage_type == "s3" {
        v.check(
            !b.s3_bucket.trim().is_empty(),
            "backup.s3Bucket",
            "is required when storage is S3",
        );
        v.check(
            !b.s3_region.trim().is_empty(),
            "backup.s3Region",
            "is required when storage is S3",
        );
    }
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
    v.range(
        b.maintenance_duration_minutes,
        5,
        720,
        "backup.maintenanceDurationMinutes",
    );
    let n = &b.maintenance_notify;
    v.max_items(&n.recipients, 20, "backup.maintenanceNotify.recipients");
    for (i, r) in n.recipients.iter().enumerate() {
        v.check(
            is_email(r),
            &format!("backup.maintenanceNotify.recipients[{i}]"),
            "must be an email address",
        );
    }
    v.range(b.disk_space_percent, 1, 99, "backup.diskSpacePercent");
    v.range(b.memory_usage_percent, 1, 99, "backup.memoryUsagePercent");
    v.range(b.response_time_ms, 100, 60_000, "backup.responseTimeMs");
}

#[cfg(test)]
mod tests {
    use super::is_origin;

    #[test]
    fn cors_origins_are_https_hosts_or_local_http() {
        for ok in [
            "https://panel.example.rw",
            "https://panel.example.rw:8443",
            "https://a-b.c",
            "http://localhost:3000",
            "http://127.0.0.1:8080",
            "http://[::1]:5173",
            "https://localhost",
        ] {
            assert!(is_origin(ok), "{ok}");
        }
        for bad in [
            "",
            "*",
            "panel.example.rw",
            "http://panel.example.rw",
            "https://panel.example.rw/",
            "https://panel.example.rw/app",
            "https://panel.example.rw?x=1",
            "https://user@panel.example.rw",
            "https://panel.example.rw:0",
            "https://panel.example.rw:70000",
            "https://panel.example.rw:",
            "https://-bad.rw",
            "https://",
            "ftp://panel.example.rw",
            "https://pa nel.rw",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
    }
}
