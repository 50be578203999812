//! The admin shell: what every signed-in page shares — the user, the CSRF token for its forms,
//! and a navigation that lists only what the user may open.

use super::auth::Principal;
use crate::access::Permission;

#[derive(Debug, Clone)]
pub struct NavItem {
    pub label: &'static str,
    pub href: &'static str,
    pub active: bool,
}

/// Navigation entries and the permission each needs (`None`: every signed-in user). Later
/// capabilities add their entries here.
const NAV: &[(&str, &str, Option<Permission>)] = &[
    ("Home", "/", None),
    ("Batches", "/admin/batches", Some(Permission::BatchesRead)),
    ("Codes", "/admin/codes", Some(Permission::PromoCodesRead)),
    ("USSD", "/admin/ussd", Some(Permission::RedemptionsMonitor)),
    ("Redemptions", "/admin/redemptions", Some(Permission::RedemptionsRead)),
    ("Payouts", "/admin/disbursements", Some(Permission::DisbursementsRead)),
    (
        "Reconciliation",
        "/admin/disbursements/reconcile",
        Some(Permission::DisbursementsRead),
    ),
    ("Alerts", "/admin/alerts", Some(Permission::AlertsRead)),
    ("Reports", "/admin/reports", Some(Permission::ReportsRead)),
    ("Users", "/admin/users", Some(Permission::UsersRead)),
    (
        "Registrations",
        "/admin/registrations",
        Some(Permission::UsersRegistrationApprove),
    ),
    (
        "Role requests",
        "/admin/role-requests",
        Some(Permission::UsersRolesAssign),
    ),
    ("Roles", "/admin/roles", Some(Permission::RolesManage)),
    (
        "API keys",
        "/admin/api-keys",
        Some(Permission::SystemIntegrationsManage),
    ),
    ("Settings", "/admin/settings", Some(Permission::SystemSettingsRead)),
    ("Audit log", "/admin/audit", Some(Permission::AuditLogsRead)),
    ("Backups", "/admin/backups", Some(Permission::SystemSettingsBackup)),
    ("My account", "/account", None),
];

/// Entries that one more permission opens besides their own: the settings pages of payments
/// (`disbursements.configure`), branding (`system.branding.customize`) and notifications
/// (`alerts.configure`).
const ALSO_OPENED_BY: &[(&str, &[Permission])] = &[(
    "/admin/settings",
    &[
        Permission::DisbursementsConfigure,
        Permission::SystemBrandingCustomize,
        Permission::AlertsConfigure,
    ],
)];

fn may_open(who: &Principal, href: &str, p: Option<Permission>) -> bool {
    p.is_none_or(|p| who.can(p))
        || ALSO_OPENED_BY
            .iter()
            .any(|(h, also)| *h == href && also.iter().any(|p| who.can(*p)))
}

/// Shared data for the layout template.
#[derive(Debug, Clone)]
pub struct Shell {
    pub user_name: String,
    pub user_email: String,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub company: String,
    /// The user is an audience of some alerts: the header shows the open ones (a badge and a
    /// list that `app.js` keeps current from `/api/v1/alerts/open`).
    pub alerts: bool,
    /// … and may open the alerts console (`alerts.read`): the list links to it.
    pub alerts_console: bool,
}

impl Shell {
    pub fn new(who: &Principal, current_path: &str, company: &str) -> Self {
        let visible: Vec<_> = NAV.iter().filter(|(_, href, p)| may_open(who, href, *p)).collect();
        let current = active_entry(visible.iter().map(|(_, href, _)| *href), current_path);
        let nav = visible
            .into_iter()
            .map(|(label, href, _)| NavItem {
                label,
                href,
                active: Some(*href) == current,
            })
            .collect();
        Self {
            user_name: if who.name.is_empty() {
                who.email.clone()
            } else {
                who.name.clone()
            },
            user_email: who.email.clone(),
            csrf: who.csrf_token().to_owned(),
            nav,
            company: company.to_owned(),
            alerts: !crate::alerts::audiences(who.permissions.iter()).is_empty(),
            alerts_console: who.can(Permission::AlertsRead),
        }
    }
}

/// The one entry to highlight for `path`: the longest entry that is `path` or a whole-segment
/// prefix of it (`/admin/disbursements/reconcile/…` is Reconciliation, not Payouts as well).
fn active_entry<'a>(hrefs: impl Iterator<Item = &'a str>, path: &str) -> Option<&'a str> {
    hrefs
        .filter(|href| {
            *href == path
                || (*href != "/"
                    && path
                        .strip_prefix(*href)
                        .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('?')))
        })
        .max_by_key(|href| href.len())
}

#[cfg(test)]
mod tests {
    use super::active_entry;

    #[test]
    fn the_longest_matching_entry_alone_is_active() {
        let hrefs = [
            "/",
            "/admin/disbursements",
            "/admin/disbursements/reconcile",
            "/admin/codes",
        ];
        let active = |p| active_entry(hrefs.iter().copied(), p);
        assert_eq!(
            active("/admin/disbursements/reconcile"),
            Some("/admin/disbursements/reconcile")
        );
        assert_eq!(
            active("/admin/disbursements/reconcile/items/x"),
            Some("/admin/disbursements/reconcile")
        );
        assert_eq!(active("/admin/disbursements"), Some("/admin/disbursements"));
        assert_eq!(active("/admin/disbursements/stats"), Some("/admin/disbursements"));
        assert_eq!(active("/admin/codes/import"), Some("/admin/codes"));
        assert_eq!(active("/admin/codesx"), None, "whole segments only");
        assert_eq!(active("/"), Some("/"));
        assert_eq!(active("/account"), None);
    }
}
