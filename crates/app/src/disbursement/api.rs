//! `/api/v1/admin/disbursements` (PRD tree): list with filters and search, what changed since a
//! moment (live pages), statistics, export (CSV/PDF, streamed, audited, rate-limited), one
//! payout with every attempt, and the actions on it — approve or reject a held payout, retry a
//! failed one (single or bulk), give a `payee_invalid` one another MTN number. The redemptions
//! tree is in [`redemptions`]. Every route names its permission; the state machine lives in
//! [`super::ops`], which answers 409 for a transition not allowed from the current state.

mod answers;
mod redemptions;

use crate::web::extract::{Path, Query};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use uuid::Uuid;

use self::answers::{BulkBody, BulkRetried, Changes, Data, FilterParams, FormatParam, PayoutDetail, PeriodParams};
use self::answers::{HeldParam, SinceParam, SortParam};
use super::ops::views::PayoutRow;
use super::ops::{self, export, query::Kind, query::ListQuery, stats, views, Disbursement, NewPayee};
use crate::access::Permission::*;
use crate::error::{AppError, FieldError};
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::ApiJson;
use crate::web::openapi::Doc;
use crate::web::paging::{Page, PageQuery};
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    let mut specs = vec![
        route!(GET "/api/v1/admin/disbursements", Access::Permission(DisbursementsRead), list,
            Doc::new("List payouts, filtered, searched and sorted")
                .describe("Pages by cursor: follow `next` (it keeps the filters and the sort).")
                .query::<FilterParams>()
                .query::<HeldParam>()
                .query::<SortParam>()
                .query::<PageQuery>()
                .page::<PayoutRow>()),
        route!(GET "/api/v1/admin/disbursements/changes", Access::Permission(DisbursementsMonitor), changes,
            Doc::new("Payouts that appeared or changed since a moment (what the live page polls)")
                .describe("At most 200 a poll, oldest change first; rows may come again within 10 seconds of the cursor.")
                .query::<FilterParams>()
                .query::<HeldParam>()
                .query::<SinceParam>()
                .ok::<Changes>()),
        route!(GET "/api/v1/admin/disbursements/stats", Access::Permission(DisbursementsRead), statistics,
            Doc::new("Payout figures over a period (default: the last 30 days)")
                .query::<PeriodParams>()
                .ok::<Data<stats::Stats>>()),
        route!(GET "/api/v1/admin/disbursements/export", Access::Permission(DisbursementsExport), export_payouts,
            Doc::new("Download the payouts the filters select, as CSV or PDF")
                .describe("Audited, and counted against the hourly download limit (shared with code downloads).")
                .query::<FilterParams>()
                .query::<HeldParam>()
                .query::<SortParam>()
                .query::<FormatParam>()
                .file("text/csv", "The payouts (CSV, `format=csv`), or …")
                .file("application/pdf", "… the payouts (PDF, `format=pdf`)")),
        route!(POST "/api/v1/admin/disbursements/bulk/retry", Access::Permission(DisbursementsRetry), bulk_retry,
            Doc::new("Retry many failed payouts")
                .describe("Each failed payout is retried; the others are reported (`refused` with the reason, or `not_found`).")
                .body::<BulkBody>()
                .ok::<BulkRetried>()
                .problems(&[409])),
        route!(GET "/api/v1/admin/disbursements/{id}", Access::Permission(DisbursementsRead), detail,
            Doc::new("One payout with its redemption, every attempt and MoMo's answers")
                .describe("`history` (the audit rows) only for readers of the audit log.")
                .ok::<PayoutDetail>()),
        route!(POST "/api/v1/admin/disbursements/{id}/approve", Access::Permission(DisbursementsApprove), approve,
            Doc::new("Approve a held payout").ok::<Data<Disbursement>>().problems(&[409])),
        route!(POST "/api/v1/admin/disbursements/{id}/reject", Access::Permission(DisbursementsApprove), reject,
            Doc::new("Reject a held payout (it is never paid)")
                .body::<ReasonBody>()
                .ok::<Data<Disbursement>>()
                .problems(&[409])),
        route!(POST "/api/v1/admin/disbursements/{id}/retry", Access::Permission(DisbursementsRetry), retry,
            Doc::new("Retry a failed payout")
                .body::<ReasonBody>()
                .ok::<Data<Disbursement>>()
                .problems(&[409])),
        route!(PUT "/api/v1/admin/disbursements/{id}/payee", Access::Permission(DisbursementsPayeeUpdate), payee,
            Doc::new("Pay a `payee_invalid` payout to another MTN number")
                .body::<NewPayee>()
                .ok::<Data<Disbursement>>()
                .problems(&[409])),
    ];
    specs.extend(redemptions::routes());
    specs
}

/// `GET /api/v1/admin/disbursements?from=&to=&status=&amountMin=&amountMax=&phone=&batchId=&customer=&held=&q=&sort=&cursor=&limit=`
async fn list(
    State(state): State<AppState>,
    uri: Uri,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<PayoutRow>>, AppError> {
    let (f, sort, keyset) = q.keyset(Kind::Payouts)?;
    let mut conn = state.pool.acquire().await?;
    let (rows, next) = views::page(&mut conn, &f, sort, &keyset).await?;
    Ok(Json(Page::for_request(rows, next, &uri)))
}

/// `GET /api/v1/admin/disbursements/changes?since=&…filters`: payouts that appeared or changed
/// since the cursor (oldest change first), and the cursor for the next poll.
async fn changes(State(state): State<AppState>, Query(q): Query<ListQuery>) -> Result<Json<Changes>, AppError> {
    let (f, since) = q.changes(Kind::Payouts, state.clock.now())?;
    let mut conn = state.pool.acquire().await?;
    let (data, cursor) = views::changes(&mut conn, &f, since).await?;
    Ok(Json(Changes { data, cursor }))
}

/// `GET /api/v1/admin/disbursements/stats?from=&to=` (default: the last 30 days).
async fn statistics(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Data<stats::Stats>>, AppError> {
    let f = q.filter(Kind::Payouts)?;
    let (from, to) = stats::period(f.from, f.to, state.clock.now())?;
    let mut conn = state.pool.acquire().await?;
    Ok(Data::of(stats::stats(&mut conn, from, to).await?))
}

/// `GET /api/v1/admin/disbursements/{id}`: the payout, its redemption, every attempt with MoMo's
/// answer, reversal requests, and (for readers of the audit log) its history.
async fn detail(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<PayoutDetail>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let data = views::detail(&mut conn, id).await?;
    let history = if who.can(AuditLogsRead) {
        Some(views::history(&mut conn, id, data.redemption.id).await?)
    } else {
        None
    };
    Ok(Json(PayoutDetail { data, history }))
}

async fn approve(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Json<Data<Disbursement>>, AppError> {
    let mut unit = state.unit().await?;
    let d = ops::approve(&mut unit, id, &acting).await?;
    unit.commit().await?;
    Ok(Data::of(d))
}

pub(crate) use ops::ReasonCmd as ReasonBody;

async fn reject(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<ReasonBody>,
) -> Result<Json<Data<Disbursement>>, AppError> {
    let mut unit = state.unit().await?;
    let d = ops::reject(&mut unit, id, &b.reason, &state.settings.get().0, &acting).await?;
    unit.commit().await?;
    Ok(Data::of(d))
}

async fn retry(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<ReasonBody>,
) -> Result<Json<Data<Disbursement>>, AppError> {
    let settings = state.settings.get();
    let mut unit = state.unit().await?;
    let d = ops::retry(&mut unit, id, &b.reason, &settings.0.payments, &acting).await?;
    unit.commit().await?;
    Ok(Data::of(d))
}

/// `POST /api/v1/admin/disbursements/bulk/retry` `{ids, reason}`: each failed payout is retried;
/// the others are reported (`refused` with the reason, or `not_found`).
async fn bulk_retry(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(b): ApiJson<BulkBody>,
) -> Result<Json<BulkRetried>, AppError> {
    let settings = state.settings.get();
    let mut unit = state.unit().await?;
    let outcomes = ops::bulk_retry(&mut unit, &b.ids, &b.reason, &settings.0.payments, &acting).await?;
    unit.commit().await?;
    let retried = outcomes
        .iter()
        .filter(|o| o.outcome == ops::BulkResult::Retried)
        .count();
    Ok(Json(BulkRetried { retried, outcomes }))
}

/// `PUT /api/v1/admin/disbursements/{id}/payee` `{msisdn, reason}`: another MTN number for a
/// payout whose payee has no MoMo wallet.
async fn payee(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<NewPayee>,
) -> Result<Json<Data<Disbursement>>, AppError> {
    let settings = state.settings.get();
    let mut unit = state.unit().await?;
    let d = ops::change_payee(&mut unit, id, &b, &settings.0.payments, &acting).await?;
    unit.commit().await?;
    Ok(Data::of(d))
}

async fn export_payouts(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    export_response(&state, &who, &acting, &q, Kind::Payouts).await
}

/// Checks the format and filters (all problems at once), counts the caller's downloads against
/// the hourly limit (shared with code downloads), records and audits the export, then streams.
pub(crate) async fn export_response(
    state: &AppState,
    who: &Principal,
    acting: &Acting,
    q: &ListQuery,
    kind: Kind,
) -> Result<Response, AppError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let format = match export::parse_format(q.format.as_deref()) {
        Ok(f) => Some(f),
        Err(AppError::Validation(mut e)) => {
            errors.append(&mut e);
            None
        }
        Err(e) => return Err(e),
    };
    let listed = match q.list(kind) {
        Ok(l) => Some(l),
        Err(AppError::Validation(mut e)) => {
            errors.append(&mut e);
            None
        }
        Err(e) => return Err(e),
    };
    let (Some(format), Some((filter, sort, _))) = (format, listed) else {
        return Err(AppError::Validation(errors));
    };
    let disclosure = crate::disbursement::ops::disclosure::Disclosure::of(who);
    disclosure.check(&filter, sort)?;
    let settings = state.settings.get();
    let mut unit = state.unit().await?;
    let limit = settings.0.security.rate_limiting.downloads_per_hour as i32;
    let key = format!("download:user:{}", who.user_id);
    let d = crate::ratelimit::hit(&mut unit, &key, 3600, limit, acting.now).await?;
    if !d.allowed {
        unit.commit().await?;
        return Err(AppError::RateLimited {
            retry_after_secs: d.retry_after_secs,
        });
    }
    let req = export::ExportRequest {
        kind,
        format,
        filter,
        sort,
    };
    let e = export::record(&mut unit, req, acting).await?;
    unit.commit().await?;
    let name = export::file_name(&e);
    let mime = match format {
        crate::codes::export::Format::Csv => "text/csv; charset=utf-8",
        crate::codes::export::Format::Pdf => "application/pdf",
    };
    let chunks = export::stream(
        state.pool.clone(),
        e,
        export::ReportHeader::from_branding(&settings.0.branding),
        disclosure,
    );
    let body = Body::from_stream(futures::stream::unfold(chunks, |mut rx| async move {
        rx.recv().await.map(|c| (c, rx))
    }));
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}
