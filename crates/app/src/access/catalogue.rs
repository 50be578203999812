//! The permission catalogue: every key the PRD names (1.2, 1.4, 2.8), plus the keys ACCESS.md
//! adds where a PRD route needs one (marked `added`). This list is the one source: it is seeded
//! into `permissions` at start-up and route declarations refer to its variants.

macro_rules! permissions {
    ($($variant:ident => $key:literal, $category:literal, $added:literal, $desc:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission { $($variant,)* }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)*];

            pub fn key(self) -> &'static str {
                match self { $(Permission::$variant => $key,)* }
            }

            pub fn category(self) -> &'static str {
                match self { $(Permission::$variant => $category,)* }
            }

            pub fn description(self) -> &'static str {
                match self { $(Permission::$variant => $desc,)* }
            }

            /// Added by this project where a PRD route needed a key (ACCESS.md).
            pub fn is_added(self) -> bool {
                match self { $(Permission::$variant => $added,)* }
            }

            pub fn from_key(key: &str) -> Option<Permission> {
                match key { $($key => Some(Permission::$variant),)* _ => None }
            }
        }
    };
}

permissions! {
    UsersRead => "users.read", "users", false, "View user profiles and information";
    UsersCreate => "users.create", "users", false, "Create new user accounts";
    UsersUpdate => "users.update", "users", false, "Modify user information and settings";
    UsersDelete => "users.delete", "users", false, "Remove user accounts";
    UsersRolesAssign => "users.roles.assign", "users", false, "Assign roles to users";
    UsersRolesRevoke => "users.roles.revoke", "users", false, "Remove roles from users";
    UsersPermissionsManage => "users.permissions.manage", "users", false, "Manage user-specific permissions";
    UsersRegistrationManage => "users.registration.manage", "users", false, "Manage registration settings";
    UsersRegistrationApprove => "users.registration.approve", "users", false, "Approve pending registrations";
    RolesManage => "roles.manage", "users", true, "Edit roles and the permissions they grant";

    BatchesRead => "batches.read", "batches", false, "View batch information and statistics";
    BatchesCreate => "batches.create", "batches", false, "Create new promotional batches";
    BatchesUpdate => "batches.update", "batches", false, "Modify batch settings and parameters";
    BatchesDelete => "batches.delete", "batches", false, "Remove batches (with restrictions)";
    BatchesAssign => "batches.assign", "batches", false, "Assign batches to specific users";
    BatchesStatusChange => "batches.status.change", "batches", false, "Change batch status (active/expired/blocked)";
    BatchesExport => "batches.export", "batches", false, "Export batch data and reports";

    PromoCodesRead => "promo-codes.read", "promo-codes", false, "View promo code information";
    PromoCodesGenerate => "promo-codes.generate", "promo-codes", false, "Generate new promo codes";
    PromoCodesImport => "promo-codes.import", "promo-codes", false, "Import codes from CSV files";
    PromoCodesDownload => "promo-codes.download", "promo-codes", false, "Download codes in PDF/CSV format (also promo-codes.export)";
    PromoCodesStatusChange => "promo-codes.status.change", "promo-codes", false, "Change individual code status";
    PromoCodesBulkOperations => "promo-codes.bulk.operations", "promo-codes", false, "Perform bulk operations on codes";
    PromoCodesValidate => "promo-codes.validate", "promo-codes", false, "Validate code format and uniqueness";
    PromoCodesSearch => "promo-codes.search", "promo-codes", false, "Search if codes exist";
    PromoCodesUpdate => "promo-codes.update", "promo-codes", true, "Update a promo code";
    PromoCodesDelete => "promo-codes.delete", "promo-codes", true, "Delete a promo code that has no redemption";

    RedemptionsRead => "redemptions.read", "redemptions", false, "View redemption transactions";
    RedemptionsMonitor => "redemptions.monitor", "redemptions", false, "Monitor real-time redemption activity";
    RedemptionsSearch => "redemptions.search", "redemptions", false, "Search and filter redemption records";
    RedemptionsExport => "redemptions.export", "redemptions", false, "Export redemption data";
    RedemptionsAudit => "redemptions.audit", "redemptions", false, "Access redemption audit logs";
    RedemptionsFraudReport => "redemptions.fraud.report", "redemptions", false, "Report suspicious redemption activities";

    DisbursementsRead => "disbursements.read", "disbursements", false, "View disbursement records";
    DisbursementsMonitor => "disbursements.monitor", "disbursements", false, "Monitor payment processing status";
    DisbursementsRetry => "disbursements.retry", "disbursements", false, "Retry failed disbursements";
    DisbursementsPayeeUpdate => "disbursements.payee.update", "disbursements", true, "Give a payout whose number has no MoMo wallet another MTN number the customer gave";
    DisbursementsApprove => "disbursements.approve", "disbursements", false, "Approve manual disbursements";
    DisbursementsReconcile => "disbursements.reconcile", "disbursements", false, "Reconcile with MTN MoMo records";
    DisbursementsExport => "disbursements.export", "disbursements", false, "Export financial reports";
    DisbursementsConfigure => "disbursements.configure", "disbursements", false, "Configure disbursement settings and retry policies";

    SystemSettingsRead => "system.settings.read", "system", false, "View system configuration";
    SystemSettingsUpdate => "system.settings.update", "system", false, "Modify system settings";
    SystemSettingsExport => "system.settings.export", "system", false, "Export configuration settings";
    SystemSettingsImport => "system.settings.import", "system", false, "Import configuration settings";
    SystemSettingsBackup => "system.settings.backup", "system", false, "Backup configuration settings";
    SystemSettingsRestore => "system.settings.restore", "system", false, "Restore configuration settings";
    SystemIntegrationsManage => "system.integrations.manage", "system", false, "Manage API integrations";
    SystemRateLimitsConfigure => "system.rate-limits.configure", "system", false, "Configure rate limiting rules";
    SystemNotificationsSetup => "system.notifications.setup", "system", false, "Setup alert notifications";
    SystemBackupManage => "system.backup.manage", "system", false, "Manage system backups";
    SystemMonitoring => "system.monitoring", "system", false, "Monitor system performance and concurrency control";
    SystemBrandingCustomize => "system.branding.customize", "system", false, "Customize system appearance";
    SystemWorkflowsManage => "system.workflows.manage", "system", false, "Manage custom workflows";

    ReportsRead => "reports.read", "reports", false, "Access standard reports";
    ReportsCreate => "reports.create", "reports", false, "Create custom reports";
    ReportsExport => "reports.export", "reports", false, "Export reports in various formats";
    AnalyticsDashboard => "analytics.dashboard", "reports", false, "Access analytics dashboard";
    AnalyticsRealTime => "analytics.real-time", "reports", false, "View real-time analytics";
    AnalyticsHistorical => "analytics.historical", "reports", false, "Access historical data analysis";

    AuditLogsRead => "audit.logs.read", "audit", false, "View audit logs";
    AuditLogsExport => "audit.logs.export", "audit", false, "Export audit trail data";
    AuditLogsConfigure => "audit.logs.configure", "audit", false, "Configure audit logging settings and retention policies";
    SecurityAlertsView => "security.alerts.view", "audit", false, "View security alerts";
    SecurityIncidentsManage => "security.incidents.manage", "audit", false, "Manage security incidents";
    SecurityFraudDetect => "security.fraud.detect", "audit", false, "Access fraud detection tools";
    SecurityComplianceReport => "security.compliance.report", "audit", false, "Generate compliance reports";

    AlertsRead => "alerts.read", "alerts", false, "View system alerts and notifications";
    AlertsCreate => "alerts.create", "alerts", false, "Create custom alert rules";
    AlertsUpdate => "alerts.update", "alerts", false, "Modify alert configurations and thresholds";
    AlertsDelete => "alerts.delete", "alerts", false, "Remove alert rules";
    AlertsAcknowledge => "alerts.acknowledge", "alerts", false, "Acknowledge and resolve alerts";
    AlertsEscalate => "alerts.escalate", "alerts", false, "Escalate critical alerts";
    AlertsConfigure => "alerts.configure", "alerts", false, "Configure alert delivery channels";
    AlertsExport => "alerts.export", "alerts", false, "Export alert history and reports";
    FraudAlertsView => "fraud.alerts.view", "alerts", false, "View fraud detection alerts";
    FraudAlertsManage => "fraud.alerts.manage", "alerts", false, "Manage fraud detection rules";
    SystemAlertsView => "system.alerts.view", "alerts", false, "View system health alerts";
    FinancialAlertsView => "financial.alerts.view", "alerts", false, "View financial threshold alerts";
}

#[cfg(test)]
mod tests {
    use super::Permission;

    #[test]
    fn keys_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for p in Permission::ALL {
            assert!(seen.insert(p.key()), "duplicate key {}", p.key());
            assert_eq!(Permission::from_key(p.key()), Some(*p));
        }
        // 67 keys of PRD 1.2, 2 of 1.4, 6 of 2.8, 3 added by ACCESS.md, and
        // `disbursements.payee.update` added for issue 6 (decision 0016)
        assert_eq!(Permission::ALL.len(), 79);
        assert_eq!(Permission::ALL.iter().filter(|p| p.is_added()).count(), 4);
    }
}
