//! `GET /api/v1/alerts/open`: the open alerts the caller is an audience of, for the shell's badge
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
    vec![route!(GET "/api/v1/alerts/open", Access::AnyOf(AUDIENCES), open,
        Doc::new("The open alerts the caller may see: how many, and the newest ten")
            .describe("What the panel's header badge and alert list show (every page polls it).")
            .ok::<OpenAlerts>())]
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
}

/// The open alerts of the caller's audiences.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAlerts {
    /// How many are open.
    pub count: i64,
    /// How many of them are critical.
    pub critical: i64,
    /// The newest ten.
    pub data: Vec<ShellAlert>,
}

fn href(who: &Principal, a: &super::Alert) -> Option<String> {
    match (a.subject_type.as_deref(), a.subject_id.as_deref()) {
        (Some("disbursement"), Some(id)) if who.can(DisbursementsRead) => Some(format!("/admin/disbursements/{id}")),
        (Some("reconciliation_run"), Some(id)) if who.can(DisbursementsRead) => {
            Some(format!("/admin/disbursements/reconcile/{id}"))
        }
        _ if a.kind.starts_with("payout.") || a.kind.starts_with("momo.") => {
            who.can(DisbursementsRead).then(|| "/admin/disbursements".to_owned())
        }
        _ => None,
    }
}

async fn open(State(state): State<AppState>, who: Principal) -> Result<Json<OpenAlerts>, AppError> {
    let audiences = super::audiences(who.permissions.iter());
    let mut conn = state.pool.acquire().await?;
    let (count, critical) = super::open_counts(&mut conn, &audiences).await?;
    let list = super::open(&mut conn, &audiences, SHELL_LIST).await?;
    let data: Vec<ShellAlert> = list
        .into_iter()
        .map(|alert| ShellAlert {
            href: href(&who, &alert),
            alert,
        })
        .collect();
    Ok(Json(OpenAlerts { count, critical, data }))
}
