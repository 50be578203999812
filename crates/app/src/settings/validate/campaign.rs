//! Checks of the campaign's settings: branding, USSD, payments, business rules.

use super::*;

pub(super) fn branding(v: &mut V, b: &BrandingSettings) {
    use crate::web::brand_css;
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
        if let Some(problem) = crate::web::brand::image_problem(val) {
            v.check(false, f, problem);
        }
        v.check(val.len() <= 512 * 1024, f, "must be at most 512 KiB");
    }
    v.max_len(&b.company_tagline, 120, "branding.companyTagline");
    v.url_or_empty(&b.company_website, "branding.companyWebsite");
    v.email_or_empty(&b.company_email, "branding.companyEmail");
    let phone_ok = b.company_phone.is_empty()
        || (b
            .company_phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-()".contains(c))
            && b.company_phone.chars().filter(char::is_ascii_digit).count() >= 3);
    v.check(
        phone_ok,
        "branding.companyPhone",
        "must be a phone number such as +250 788 300 400",
    );
    v.max_len(&b.company_phone, 30, "branding.companyPhone");
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
    // text and links must be readable (WCAG AA, 4.5:1) on the page and on its cards
    let surface = brand_css::surface(&b.background_color);
    for (c, f, what) in [
        (&b.text_color, "branding.textColor", "text"),
        (&b.link_color, "branding.linkColor", "links"),
    ] {
        let worst = [&b.background_color, &surface]
            .into_iter()
            .filter_map(|bg| brand_css::contrast_ratio(c, bg))
            .reduce(f64::min);
        if let Some(r) = worst {
            v.check(
                r >= 4.5,
                f,
                format!(
                    "{what} must contrast at least 4.5:1 with the background colour {} (it is {r:.1}:1)",
                    b.background_color
                ),
            );
        }
    }
    for (font, f) in [
        (&b.primary_font, "branding.primaryFont"),
        (&b.secondary_font, "branding.secondaryFont"),
        (&b.heading_font, "branding.headingFont"),
    ] {
        let ok = !font.trim().is_empty() && font.chars().all(|c| c.is_alphanumeric() || " -_,'".contains(c));
        v.check(ok, f, "must be a font family name");
        v.max_len(font, 100, f);
    }
    v.range(b.body_font_size, 10, 24, "branding.bodyFontSize");
    v.range(b.heading_font_size, 12, 48, "branding.headingFontSize");
    v.range(b.sidebar_width, 160, 400, "branding.sidebarWidth");
    v.range(b.header_height, 40, 120, "branding.headerHeight");
    v.range(b.border_radius, 0, 24, "branding.borderRadius");
    v.max_len(&b.box_shadow, 120, "branding.boxShadow");
    if let Some(problem) = brand_css::shadow_problem(&b.box_shadow) {
        v.check(false, "branding.boxShadow", problem);
    }
    v.max_len(&b.custom_css, 20_000, "branding.customCss");
    if let Some(problem) = brand_css::custom_css_problem(&b.custom_css) {
        v.check(false, "branding.customCss", problem);
    }
}

pub(super) fn ussd(v: &mut V, u: &UssdSettings) {
    let code_ok = u.service_code.starts_with('*')
        && u.service_code.ends_with('#')
        && u.service_code.len() >= 3
        && u.service_code[1..u.service_code.len() - 1]
            .split('*')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    v.check(code_ok, "ussd.serviceCode", "must look like *123# or *123*4#");
    v.check(
        !u.service_name.trim().is_empty(),
        "ussd.serviceName",
        "must not be empty",
    );
    // the welcome screen names the service (`ussd::screens::check_settings` checks the screen)
    v.max_len(&u.service_name, 40, "ussd.serviceName");
    v.max_len(&u.service_description, 200, "ussd.serviceDescription");
    v.one_of(&u.default_language, &["en", "rw"], "ussd.defaultLanguage");
    v.check(
        !u.supported_languages.is_empty(),
        "ussd.supportedLanguages",
        "must list at least one language",
    );
    for (i, l) in u.supported_languages.iter().enumerate() {
        v.one_of(l, &["en", "rw"], &format!("ussd.supportedLanguages[{i}]"));
        v.check(
            !u.supported_languages[..i].contains(l),
            &format!("ussd.supportedLanguages[{i}]"),
            "is listed twice",
        );
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
    // redeeming takes two inputs (1, the code); the language screen and a retyped code add more
    v.range(u.max_menu_depth, 2, 30, "ussd.maxMenuDepth");
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
    v.check(
        !u.africas_talking_username.trim().is_empty(),
        "ussd.africasTalkingUsername",
        "must not be empty",
    );
    v.max_len(&u.africas_talking_username, 64, "ussd.africasTalkingUsername");
    v.service_url(&u.africas_talking_base_url, "ussd.africasTalkingBaseUrl", false);
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
    v.max_items(&u.ip_allowlist, 50, "ussd.ipAllowlist");
}

pub(super) fn payments(v: &mut V, p: &PaymentSettings) {
    v.service_url(&p.momo_base_url, "payments.momoBaseUrl", false);
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
    v.range(
        p.daily_transaction_limit,
        1,
        10_000_000_000,
        "payments.dailyTransactionLimit",
    );
    v.range(
        p.monthly_transaction_limit,
        1,
        100_000_000_000,
        "payments.monthlyTransactionLimit",
    );
    v.range(p.per_user_daily_limit, 1, 10_000_000_000, "payments.perUserDailyLimit");
    v.range(
        p.per_user_monthly_limit,
        1,
        100_000_000_000,
        "payments.perUserMonthlyLimit",
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
    v.service_url(&p.callback_base_url, "payments.callbackBaseUrl", true);
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

pub(super) fn business(v: &mut V, b: &BusinessSettings) {
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
