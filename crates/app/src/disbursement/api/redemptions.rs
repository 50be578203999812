//! `/api/v1/admin/redemptions` (PRD tree): list (free text needs `redemptions.search` as well;
//! amounts, payout states and full phone numbers only for those who may see them, decision 0025),
//! search, statistics (money only for readers of payouts), download/export, one redemption, the
//! payout retry (`disbursements.retry`, ACCESS.md), and the two-person reversal of a redemption
//! whose payout failed for good.

use crate::web::extract::{comma_separated_ids, Path, Query};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::Json;
use uuid::Uuid;

use super::answers::{Data, FilterParams, FormatParam, Live, LiveQuery, PeriodParams, SortParam};
use super::{export_response, ReasonBody};
use crate::access::Permission::*;
use crate::disbursement::ops::disclosure::{Disclosure, RedemptionDetailView, RedemptionView};
use crate::disbursement::ops::query::{Kind, ListQuery};
use crate::disbursement::ops::redemptions::RedemptionStats;
use crate::disbursement::ops::reversal::Reversal;
use crate::disbursement::ops::{self, redemptions, stats, Decision, Disbursement, NoteCmd};
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::ussd::views::Horizon;
use crate::web::auth::Principal;
use crate::web::extract::ApiJson;
use crate::web::openapi::Doc;
use crate::web::paging::{Page, PageQuery};
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

fn export_doc(summary: &'static str) -> Doc {
    Doc::new(summary)
        .describe(
            "Audited, and counted against the hourly download limit. Free text (`q`) needs \
             `redemptions.search`; amounts and payout states only for readers of payouts.",
        )
        .query::<FilterParams>()
        .query::<SortParam>()
        .query::<FormatParam>()
        .file("text/csv", "The redemptions (CSV, `format=csv`), or …")
        .file("application/pdf", "… the redemptions (PDF, `format=pdf`)")
}

fn list_doc(summary: &'static str, describe: &'static str) -> Doc {
    Doc::new(summary)
        .describe(describe)
        .query::<FilterParams>()
        .query::<SortParam>()
        .query::<PageQuery>()
        .page::<RedemptionView>()
}

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/admin/redemptions", Access::Permission(RedemptionsRead), list,
            list_doc("List redemptions, filtered and sorted",
                "Pages by cursor: follow `next`. Free text (`q`) needs `redemptions.search` as well; amounts, \
                 payout states and full phone numbers only for those who may see them (decision 0025).")),
        route!(GET "/api/v1/admin/redemptions/search", Access::Permission(RedemptionsSearch), search,
            list_doc("Search redemptions (`q` required)",
                "The list with free text; needs `redemptions.read` as well.")),
        route!(GET "/api/v1/admin/redemptions/stats", Access::Permission(RedemptionsRead), statistics,
            Doc::new("Redemptions by status and per day over a period (default: the last 30 days)")
                .describe("Amounts only for readers of payouts.")
                .query::<PeriodParams>()
                .ok::<Data<RedemptionStats>>()),
        route!(GET "/api/v1/admin/redemptions/live", Access::Permission(RedemptionsRead), live,
            Doc::new("New redemptions since a cursor, and the current state of the rows a page holds")
                .describe("What the live list polls (decision 0020).")
                .query::<FilterParams>()
                .query::<LiveQuery>()
                .ok::<Live>()),
        route!(GET "/api/v1/admin/redemptions/download", Access::Permission(RedemptionsExport), export,
            export_doc("Download the redemptions the filters select (the PRD's name for the export)")),
        route!(GET "/api/v1/admin/redemptions/export", Access::Permission(RedemptionsExport), export,
            export_doc("Download the redemptions the filters select, as CSV or PDF")),
        route!(GET "/api/v1/admin/redemptions/{id}", Access::Permission(RedemptionsRead), detail,
            Doc::new("One redemption with its customer, code, payout and reversal requests")
                .ok::<Data<RedemptionDetailView>>()),
        route!(POST "/api/v1/admin/redemptions/{id}/retry", Access::Permission(DisbursementsRetry), retry,
            Doc::new("Retry the redemption's failed payout")
                .body::<ReasonBody>()
                .ok::<Data<Disbursement>>()
                .problems(&[409])),
        route!(POST "/api/v1/admin/redemptions/{id}/reversal", Access::Permission(DisbursementsRetry), request_reversal,
            Doc::new("Ask to reverse a redemption whose payout failed for good")
                .describe("Someone else approves or rejects it.")
                .body::<ReasonBody>()
                .created::<Data<Reversal>>()
                .problems(&[409])),
        route!(POST "/api/v1/admin/redemptions/{id}/reversal/approve", Access::Permission(DisbursementsApprove), approve_reversal,
            Doc::new("Approve the pending reversal (not by the person who asked)")
                .body::<NoteCmd>()
                .ok::<Data<Reversal>>()
                .problems(&[409])),
        route!(POST "/api/v1/admin/redemptions/{id}/reversal/reject", Access::Permission(DisbursementsApprove), reject_reversal,
            Doc::new("Reject the pending reversal (`note` says why)")
                .body::<NoteCmd>()
                .ok::<Data<Reversal>>()
                .problems(&[409])),
    ]
}

async fn listing(
    state: &AppState,
    who: &Principal,
    uri: &Uri,
    q: &ListQuery,
) -> Result<Json<Page<RedemptionView>>, AppError> {
    let (f, sort, keyset) = q.keyset(Kind::Redemptions)?;
    if f.search.is_some() {
        who.require(RedemptionsSearch)?;
    }
    let d = Disclosure::of(who);
    d.check(&f, sort)?;
    let mut conn = state.pool.acquire().await?;
    let (rows, next) = redemptions::page(&mut conn, &f, sort, &keyset).await?;
    Ok(Json(Page::for_request(d.redemptions(rows), next, uri)))
}

/// `GET /api/v1/admin/redemptions?from=&to=&status=&amountMin=&amountMax=&phone=&batchId=&q=&sort=&cursor=&limit=`
async fn list(
    State(state): State<AppState>,
    who: Principal,
    uri: Uri,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<RedemptionView>>, AppError> {
    listing(&state, &who, &uri, &q).await
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
) -> Result<Json<Live>, AppError> {
    let f = q.filter(Kind::Redemptions)?;
    if f.search.is_some() {
        who.require(RedemptionsSearch)?;
    }
    let d = Disclosure::of(&who);
    d.check(&f, Default::default())?;
    let since = match l.since.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s
            .parse()
            .map(Horizon)
            .map_err(|_| AppError::field("since", "must be the cursor an earlier answer gave"))?,
        None => Horizon(0),
    };
    let held = comma_separated_ids(l.ids.as_deref(), "ids", redemptions::LIVE_LIMIT as usize)?;
    let mut conn = state.pool.acquire().await?;
    let (new, updated, cursor) = redemptions::live(&mut conn, &f, since, &held).await?;
    Ok(Json(Live {
        data: d.redemptions(new),
        updates: d.redemptions(updated),
        cursor,
    }))
}

/// `GET /api/v1/admin/redemptions/search?q=…` (and the list's filters).
async fn search(
    State(state): State<AppState>,
    who: Principal,
    uri: Uri,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<RedemptionView>>, AppError> {
    who.require(RedemptionsRead)?;
    if q.q.as_deref().is_none_or(|s| s.trim().is_empty()) {
        return Err(AppError::field("q", "type what to search for"));
    }
    listing(&state, &who, &uri, &q).await
}

/// `GET /api/v1/admin/redemptions/stats?from=&to=`: counts by status and per day; amounts only
/// for callers who may read payouts (a Viewer sees counts, not money flows).
async fn statistics(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Json<Data<RedemptionStats>>, AppError> {
    let f = q.filter(Kind::Redemptions)?;
    let (from, to) = stats::period(f.from, f.to, state.clock.now())?;
    let mut conn = state.pool.acquire().await?;
    let s = redemptions::stats(&mut conn, from, to).await?;
    Ok(Data::of(if who.can(DisbursementsRead) {
        s
    } else {
        s.without_money()
    }))
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
async fn detail(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Data<RedemptionDetailView>>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let x = redemptions::detail(&mut conn, id).await?;
    Ok(Data::of(Disclosure::of(&who).detail(x)))
}

/// `POST /api/v1/admin/redemptions/{id}/retry` `{reason}`: retries the redemption's payout.
async fn retry(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<ReasonBody>,
) -> Result<Json<Data<Disbursement>>, AppError> {
    let settings = state.settings.get();
    let mut unit = state.unit().await?;
    let did = ops::id_for_redemption(&mut unit, id).await?;
    let d = ops::retry(&mut unit, did, &b.reason, &settings.0.payments, &acting).await?;
    unit.commit().await?;
    Ok(Data::of(d))
}

async fn request_reversal(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<ReasonBody>,
) -> Result<(StatusCode, Json<Data<Reversal>>), AppError> {
    let mut unit = state.unit().await?;
    let r = ops::request_reversal(&mut unit, id, &b.reason, &acting).await?;
    unit.commit().await?;
    Ok((StatusCode::CREATED, Data::of(r)))
}

async fn decide(
    state: &AppState,
    acting: &Acting,
    id: Uuid,
    decision: Decision,
    note: Option<&str>,
) -> Result<Json<Data<Reversal>>, AppError> {
    let mut unit = state.unit().await?;
    let r = ops::decide_reversal(&mut unit, id, decision, note, acting).await?;
    unit.commit().await?;
    Ok(Data::of(r))
}

/// `POST /api/v1/admin/redemptions/{id}/reversal/approve` `{note?}`, by someone other than the
/// person who asked.
async fn approve_reversal(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<NoteCmd>,
) -> Result<Json<Data<Reversal>>, AppError> {
    decide(&state, &acting, id, Decision::Approve, b.note.as_deref()).await
}

/// `POST /api/v1/admin/redemptions/{id}/reversal/reject` `{note}`.
async fn reject_reversal(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<NoteCmd>,
) -> Result<Json<Data<Reversal>>, AppError> {
    decide(&state, &acting, id, Decision::Reject, b.note.as_deref()).await
}
