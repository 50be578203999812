//! `GET /api/v1/alerts/open`: the unresolved, unsnoozed alerts the caller is an audience of, for the shell's badge
//! and list (every page polls it through `app.js`). An alert's audience is the permission a
//! person needs to see it (`fraud.alerts.view`, `system.alerts.view`, `financial.alerts.view`,
//! `security.alerts.view`).

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::Permission::{self, *};
use crate::error::AppError;
use crate::route;
use crate::web::auth::Principal;
use crate::web::openapi::Doc;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

/// The permissions that name alert audiences: holding one lets a person see that kind of alert
/// (each `*.alerts.view` key, and the keys whose holders act on an alert: [`super::ACTION_AUDIENCES`]).
pub const AUDIENCES: &[Permission] = &[
    FraudAlertsView,
    SystemAlertsView,
    FinancialAlertsView,
    SecurityAlertsView,
    DisbursementsPayeeUpdate,
];

/// How many open alerts the shell lists (the badge counts them all).
const SHELL_LIST: i64 = 10;

pub fn routes() -> Vec<RouteSpec> {
    let mut specs = vec![route!(GET "/api/v1/alerts/open", Access::AnyOf(AUDIENCES), open,
        Doc::new("The unresolved alerts the caller may see: how many, and the newest ten")
            .describe("What the panel's header badge and alert list show (every page polls it).")
            .ok::<OpenAlerts>())];
    specs.extend(super::api_admin::routes());
    specs.extend(super::pages::routes());
    specs.extend(super::fraud_web::routes());
    specs
}

/// One open alert as the shell lists it, with a link to what it is about when the reader may
/// open that page.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShellAlert {
    #[serde(flatten)]
    alert: super::Alert,
    /// The panel page of what it is about, when the reader may open it.
    href: Option<String>,
    /// The alert's own page in the console (its timeline and actions).
    page: String,
}

/// The unresolved, unsnoozed alerts of the caller's audiences.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAlerts {
    /// How many are not resolved and not snoozed (open or acknowledged).
    pub count: i64,
    /// How many of them are critical.
    pub critical: i64,
    /// The newest ten.
    pub data: Vec<ShellAlert>,
}

/// The panel page of what an alert is about (its subject), when the reader may open it; alerts
/// about payouts or MoMo without a subject go to the payouts page.
pub fn subject_href(
    who: &Principal,
    kind: &str,
    subject_type: Option<&str>,
    subject_id: Option<&str>,
) -> Option<String> {
    use crate::web::routes::{path_segment, with_query};
    let id_page =
        |base: &str, id: &str, p| (who.can(p) && id.parse::<uuid::Uuid>().is_ok()).then(|| format!("{base}/{id}"));
    match (subject_type, subject_id) {
        (Some("disbursement"), Some(id)) => id_page("/admin/disbursements", id, DisbursementsRead),
        (Some("reconciliation_run"), Some(id)) => id_page("/admin/disbursements/reconcile", id, DisbursementsRead),
        (Some("redemption"), Some(id)) => id_page("/admin/redemptions", id, RedemptionsRead),
        (Some("batch"), Some(id)) => id_page("/admin/batches", id, BatchesRead),
        (Some("code" | "promo_code"), Some(id)) => id_page("/admin/codes", id, PromoCodesRead),
        (Some("user"), Some(id)) => id_page("/admin/users", id, UsersRead),
        (Some("customer"), Some(id)) if who.can(FraudAlertsView) && id.parse::<uuid::Uuid>().is_ok() => {
            Some(format!("/admin/alerts/fraud#customer-{}", path_segment(id)))
        }
        (Some("phone"), Some(phone)) if who.can(RedemptionsRead) => {
            Some(with_query("/admin/redemptions", &[("phone", phone)]))
        }
        _ if kind.starts_with("payout.") || kind.starts_with("momo.") => {
            who.can(DisbursementsRead).then(|| "/admin/disbursements".to_owned())
        }
        _ => None,
    }
}

async fn open(State(state): State<AppState>, who: Principal) -> Result<Json<OpenAlerts>, AppError> {
    let audiences = super::audiences(who.permissions.iter());
    let now = state.clock.now();
    let mut conn = state.pool.acquire().await?;
    let (count, critical) = super::open_counts(&mut conn, &audiences, now).await?;
    let list = super::unresolved(&mut conn, &audiences, false, now, SHELL_LIST).await?;
    let data: Vec<ShellAlert> = list
        .into_iter()
        .map(|alert| ShellAlert {
            href: subject_href(
                &who,
                &alert.kind,
                alert.subject_type.as_deref(),
                alert.subject_id.as_deref(),
            ),
            page: format!("/admin/alerts/{}", alert.id),
            alert,
        })
        .collect();
    Ok(Json(OpenAlerts { count, critical, data }))
}
