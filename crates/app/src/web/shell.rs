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
    ("My account", "/account", None),
];

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
}

impl Shell {
    pub fn new(who: &Principal, current_path: &str, company: &str) -> Self {
        let nav = NAV
            .iter()
            .filter(|(_, href, p)| p.is_none_or(|p| who.can(p)) && routes_exist(href))
            .map(|(label, href, _)| NavItem {
                label,
                href,
                active: *href == current_path || (*href != "/" && current_path.starts_with(href)),
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
            alerts: !crate::alerts::audiences(who).is_empty(),
        }
    }
}

/// Entries whose pages are built so far (the rest arrive with their issues).
fn routes_exist(href: &str) -> bool {
    !matches!(href, "/admin/settings")
}
