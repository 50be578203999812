//! The fraud review queue, reached from the alerts console: phones flagged for guessing codes,
//! and the blocked ones. Holders of `fraud.alerts.view` see it; clearing a flag or blocking a
//! phone also needs `security.fraud.detect` ("access fraud detection tools", decision 0044). Page
//! and API run the same use case ([`crate::redemption::review::decide`]).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::access::Permission::{self, *};
use crate::clock::local_display_or;
use crate::error::AppError;
use crate::redemption::review::{self, Decision, FlaggedPhone, FraudQueue};
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{ApiJson, FormPairs, Path, Query};
use crate::web::openapi::Doc;
use crate::web::pages::{html, refusal_message};
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

/// Who may clear or block a phone.
const DECIDE: &[Permission] = &[FraudAlertsView, SecurityFraudDetect];

/// The most phones one list shows.
const LIST_MAX: i64 = 200;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/alerts/fraud", Access::Permission(FraudAlertsView), queue_page),
        route!(POST "/admin/alerts/fraud/{id}/clear", Access::AllOf(DECIDE), clear_form),
        route!(POST "/admin/alerts/fraud/{id}/block", Access::AllOf(DECIDE), block_form),
        route!(GET "/api/v1/admin/alerts/fraud/phones", Access::Permission(FraudAlertsView), list,
            Doc::new("FlaggedPhones in the fraud review queue: flagged for guessing codes (default), or blocked")
                .query::<QueueQuery>()
                .ok::<FlaggedPhones>()),
        route!(POST "/api/v1/admin/alerts/fraud/phones/{id}/clear", Access::AllOf(DECIDE), clear,
            Doc::new("Clear a phone's flag (it redeems again; a block is lifted too), with a reason")
                .body::<FraudReasonBody>()
                .ok::<FraudDecision>()
                .problems(&[409])),
        route!(POST "/api/v1/admin/alerts/fraud/phones/{id}/block", Access::AllOf(DECIDE), block,
            Doc::new("Block a phone (its redemptions are refused), with a reason")
                .body::<FraudReasonBody>()
                .ok::<FraudDecision>()
                .problems(&[409])),
    ]
}

/// `?queue=flagged|blocked`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// `flagged` (waiting for a decision; the default) or `blocked`.
    #[param(value_type = Option<String>)]
    pub queue: Option<FraudQueue>,
}

/// The phones of one queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlaggedPhones {
    pub data: Vec<FlaggedPhone>,
}

/// `{reason}`: why (at least 3 characters).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct FraudReasonBody {
    #[schema(min_length = 3, max_length = 500)]
    pub reason: Option<String>,
}

/// What was decided.
#[derive(Debug, Serialize, ToSchema)]
pub struct FraudDecision {
    pub id: Uuid,
    /// `cleared` or `blocked`.
    pub decision: &'static str,
}

async fn list(State(state): State<AppState>, Query(q): Query<QueueQuery>) -> Result<Json<FlaggedPhones>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let data = review::queue(&mut conn, q.queue.unwrap_or_default(), state.clock.now(), LIST_MAX).await?;
    Ok(Json(FlaggedPhones { data }))
}

async fn decide(state: &AppState, acting: &Acting, id: Uuid, d: Decision) -> Result<FraudDecision, AppError> {
    let mut unit = state.unit().await?;
    review::decide(&mut unit, id, &d, acting).await?;
    unit.commit().await?;
    Ok(FraudDecision {
        id,
        decision: match d {
            Decision::Clear { .. } => "cleared",
            Decision::Block { .. } => "blocked",
        },
    })
}

async fn clear(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<FraudReasonBody>,
) -> Result<Json<FraudDecision>, AppError> {
    let d = Decision::clear(b.reason.as_deref())?;
    Ok(Json(decide(&state, &acting, id, d).await?))
}

async fn block(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<FraudReasonBody>,
) -> Result<Json<FraudDecision>, AppError> {
    let d = Decision::block(b.reason.as_deref())?;
    Ok(Json(decide(&state, &acting, id, d).await?))
}

struct PhoneLine {
    id: Uuid,
    msisdn: String,
    flagged: String,
    reason: String,
    blocked: String,
    blocked_reason: String,
    wrong_today: i64,
    redemptions: i64,
}

impl From<FlaggedPhone> for PhoneLine {
    fn from(f: FlaggedPhone) -> Self {
        PhoneLine {
            id: f.id,
            msisdn: f.msisdn,
            flagged: local_display_or(f.flagged_at, "—"),
            reason: f.flag_reason.unwrap_or_default(),
            blocked: local_display_or(f.blocked_at, ""),
            blocked_reason: f.blocked_reason.unwrap_or_default(),
            wrong_today: f.wrong_codes_today,
            redemptions: f.redemptions,
        }
    }
}

#[derive(Template)]
#[template(path = "fraud_queue.html")]
struct QueuePage {
    shell: Shell,
    flagged: Vec<PhoneLine>,
    blocked: Vec<PhoneLine>,
    can_decide: bool,
    notice: Option<String>,
    /// A refused decision: the phone's id and why (shown beside its form).
    refused: Option<(Uuid, String)>,
}

async fn render(
    state: &AppState,
    who: &Principal,
    status: StatusCode,
    notice: Option<String>,
    refused: Option<(Uuid, String)>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let now = state.clock.now();
    let mut conn = state.pool.acquire().await?;
    let flagged = review::queue(&mut conn, FraudQueue::Flagged, now, LIST_MAX).await?;
    let blocked = review::queue(&mut conn, FraudQueue::Blocked, now, LIST_MAX).await?;
    drop(conn);
    let page = QueuePage {
        shell: Shell::new(who, "/admin/alerts", &settings.0.branding.company_name),
        flagged: flagged.into_iter().map(PhoneLine::from).collect(),
        blocked: blocked.into_iter().map(PhoneLine::from).collect(),
        can_decide: DECIDE.iter().all(|p| who.can(*p)),
        notice,
        refused,
    };
    html(status, &page)
}

async fn queue_page(State(state): State<AppState>, who: Principal) -> Result<Response, AppError> {
    render(&state, &who, StatusCode::OK, None, None).await
}

async fn form_decision(
    state: &AppState,
    who: &Principal,
    acting: &Acting,
    id: Uuid,
    d: Result<Decision, AppError>,
) -> Result<Response, AppError> {
    let result = match d {
        Ok(d) => decide(state, acting, id, d).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to("/admin/alerts/fraud").into_response()),
        Err(e) => {
            let status = e.status();
            let m = refusal_message(&e).ok_or(e)?;
            render(state, who, status, None, Some((id, m))).await
        }
    }
}

async fn clear_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let d = Decision::clear(form.get("reason"));
    form_decision(&state, &who, &acting, id, d).await
}

async fn block_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let d = Decision::block(form.get("reason"));
    form_decision(&state, &who, &acting, id, d).await
}
