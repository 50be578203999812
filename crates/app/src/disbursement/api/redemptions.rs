//! `/api/v1/admin/redemptions` (PRD tree): list (free text needs `redemptions.search` as well;
//! amounts, payout states and full phone numbers only for those who may see them, decision 0025),
//! search, statistics (money only for readers of payouts), download/export, one redemption, the
//! payout retry (`disbursements.retry`, ACCESS.md), and the two-person reversal of a redemption
//! whose payout failed for good.

use crate::web::extract::{comma_separated_ids, Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{export_response, ReasonBody};
use crate::access::Permission::*;
use crate::disbursement::ops::disclosure::Disclosure;
use crate::disbursement::ops::query::{Kind, ListQuery};
use crate::disbursement::ops::{self, redemptions, stats, Decision};
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::ussd::views::Horizon;
use crate::web::auth::Principal;
use crate::web::extract::ApiJson;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/admin/redemptions", Access::Permission(RedemptionsRead), list),
        route!(GET "/api/v1/admin/redemptions/search", Access::Permission(RedemptionsSearch), search),
        route!(GET "/api/v1/admin/redemptions/stats", Access::Permission(RedemptionsRead), statistics),
        route!(GET "/api/v1/admin/redemptions/live", Access::Permission(RedemptionsRead), live),
        route!(GET "/api/v1/admin/redemptions/download", Access::Permission(RedemptionsExport), export),
        route!(GET "/api/v1/admin/redemptions/export", Access::Permission(RedemptionsExport), export),
        route!(GET "/api/v1/admin/redemptions/{id}", Access::Permission(RedemptionsRead), detail),
        route!(POST "/api/v1/admin/redemptions/{id}/retry", Access::Permission(DisbursementsRetry), retry),
        route!(POST "/api/v1/admin/redemptions/{id}/reversal", Access::Permission(DisbursementsRetry), request_reversal),
        route!(POST "/api/v1/admin/redemptions/{id}/reversal/approve", Access::Permission(DisbursementsApprove), approve_reversal),
        route!(POST "/api/v1/admin/redemptions/{id}/reversal/reject", Access::Permission(DisbursementsApprove), reject_reversal),
    ]
}

async fn listing(state: &AppState, who: &Principal, q: &ListQuery) -> Result<Json<Value>, AppError> {
    let (f, sort, page) = q.list(Kind::Redemptions)?;
    if f.search.is_some() {
        who.require(RedemptionsSearch)?;
    }
    let d = Disclosure::of(who);
    d.check(&f, sort)?;
    let mut conn = state.pool.acquire().await?;
    let (rows, total) = redemptions::list(&mut conn, &f, sort, page).await?;
    Ok(Json(json!({
        "data": d.redemptions(rows), "total": total, "page": page.page, "perPage": page.per_page, "sort": sort.key(),
    })))
}

/// `GET /api/v1/admin/redemptions?from=&to=&status=&amountMin=&amountMax=&phone=&batchId=&q=&sort=&page=&perPage=`
async fn list(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, AppError> {
    listing(&state, &who, &q).await
}

#[derive(Deserialize)]
pub struct LiveQuery {
    /// The rows the page still shows open, comma-separated.
    ids: Option<String>,
}

/// `GET /api/v1/admin/redemptions/live?since=&ids=&…filters`: what the live list polls. `data`
/// holds redemptions matching the filters written since `since` (the previous answer's
/// `cursor`, decision 0020; the page skips rows it holds), `updates` the current state of the
/// rows named in `ids` (at most 100), both as the caller may see them.
async fn live(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ListQuery>,
    Query(l): Query<LiveQuery>,
) -> Result<Json<Value>, AppError> {
    let f = q.filter(Kind::Redemptions)?;
    if f.search.is_some() {
        who.require(RedemptionsSearch)?;
    }
    let d = Disclosure::of(&who);
    d.check(&f, Default::default())?;
    let since = match q.since.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s
            .parse()
            .map(Horizon)
            .map_err(|_| AppError::field("since", "must be the cursor an earlier answer gave"))?,
        None => Horizon(0),
    };
    let held = comma_separated_ids(l.ids.as_deref(), "ids", redemptions::LIVE_LIMIT as usize)?;
    let mut conn = state.pool.acquire().await?;
    let (new, updated, cursor) = redemptions::live(&mut conn, &f, since, &held).await?;
    Ok(Json(json!({
        "data": d.redemptions(new), "updates": d.redemptions(updated), "cursor": cursor,
    })))
}

/// `GET /api/v1/admin/redemptions/search?q=…` (and the list's filters).
async fn search(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, AppError> {
    who.require(RedemptionsRead)?;
    if q.q.as_deref().is_none_or(|s| s.trim().is_empty()) {
        return Err(AppError::field("q", "type what to search for"));
    }
    listing(&state, &who, &q).await
}

/// `GET /api/v1/admin/redemptions/stats?from=&to=`: counts by status and per day; amounts only
/// for callers who may read payouts (a Viewer sees counts, not money flows).
async fn statistics(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, AppError> {
    let f = q.filter(Kind::Redemptions)?;
    let (from, to) = stats::period(f.from, f.to, state.clock.now())?;
    let mut conn = state.pool.acquire().await?;
    let s = redemptions::stats(&mut conn, from, to).await?;
    let mut v = json!(s);
    if !who.can(DisbursementsRead) {
        for list in ["byStatus", "perDay"] {
            if let Some(items) = v[list].as_array_mut() {
                for item in items {
                    if let Some(o) = item.as_object_mut() {
                        o.remove("amount");
                    }
                }
            }
        }
    }
    Ok(Json(json!({"data": v})))
}

async fn export(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    if q.q.as_deref().is_some_and(|s| !s.trim().is_empty()) {
        who.require(RedemptionsSearch)?;
    }
    export_response(&state, &who, &acting, &q, Kind::Redemptions).await
}

/// `GET /api/v1/admin/redemptions/{id}`: the redemption, its customer, code, payout and reversals
/// (as the caller may see them: [`Disclosure`]).
async fn detail(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Json<Value>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let x = redemptions::detail(&mut conn, id).await?;
    Ok(Json(json!({"data": Disclosure::of(&who).detail(x)})))
}

/// `POST /api/v1/admin/redemptions/{id}/retry` `{reason}`: retries the redemption's payout.
async fn retry(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<ReasonBody>,
) -> Result<Json<Value>, AppError> {
    let settings = state.settings.get();
    let mut unit = state.unit().await?;
    let did = ops::id_for_redemption(&mut unit, id).await?;
    let d = ops::retry(&mut unit, did, &b.reason, &settings.0.payments, &acting).await?;
    unit.commit().await?;
    Ok(Json(json!({"data": d})))
}

async fn request_reversal(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<ReasonBody>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let mut unit = state.unit().await?;
    let r = ops::request_reversal(&mut unit, id, &b.reason, &acting).await?;
    unit.commit().await?;
    Ok((StatusCode::CREATED, Json(json!({"data": r}))))
}

async fn decide(
    state: &AppState,
    acting: &Acting,
    id: Uuid,
    decision: Decision,
    note: Option<&str>,
) -> Result<Json<Value>, AppError> {
    let mut unit = state.unit().await?;
    let r = ops::decide_reversal(&mut unit, id, decision, note, acting).await?;
    unit.commit().await?;
    Ok(Json(json!({"data": r})))
}

/// `POST /api/v1/admin/redemptions/{id}/reversal/approve` `{note?}`, by someone other than the
/// person who asked.
async fn approve_reversal(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<ops::NoteCmd>,
) -> Result<Json<Value>, AppError> {
    decide(&state, &acting, id, Decision::Approve, b.note.as_deref()).await
}

/// `POST /api/v1/admin/redemptions/{id}/reversal/reject` `{note}`.
async fn reject_reversal(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<ops::NoteCmd>,
) -> Result<Json<Value>, AppError> {
    decide(&state, &acting, id, Decision::Reject, b.note.as_deref()).await
}
