//! `/api/v1/admin/promo-codes` (PRD tree): list and search with keyset pagination, detail with
//! history, amount and expiry edits and deletion of unused codes, status changes, fraud reports,
//! bulk operations and validation.
//!
//! Who learns what: listing and detail need `promo-codes.read`; a partial code (`q` that is not a
//! whole code) needs `promo-codes.search` as well (ACCESS.md). `/search` needs
//! `promo-codes.search`; a caller without `promo-codes.read` learns there only whether a whole
//! code exists, and `validate` tells such a caller the verdict but not status or batch.

use crate::web::extract::{Path, Query};
use axum::extract::State;
use axum::http::Uri;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::admin::{self, CodeFilter, CodeQuery, CodeRow, StatusChange};
use super::bulk::{self, Bulk, BulkAction, FilterSpec, Target};
use super::edit::{self, CodeEdit};
use super::lifecycle::CodeStatus;
use crate::access::Permission::*;
use crate::error::{AppError, FieldError};
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::ApiJson;
use crate::web::openapi::Doc;
use crate::web::paging::Page;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

/// Validation attempts per user per minute (guessing codes through the panel stays slow).
pub const VALIDATE_PER_MINUTE: i32 = 30;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/admin/promo-codes", Access::Permission(PromoCodesRead), list,
            Doc::new("List codes, in code order")
                .describe("A partial code in `q` (3 characters or more) needs `promo-codes.search` as well.")
                .query::<ListQuery>()
                .ok::<Page<CodeRow>>()
                .link(200, "firstCode", "getAdminPromoCodesId", "id", "$response.body#/data/0/id")
                .link(200, "setFirstCodeStatus", "putAdminPromoCodesIdStatus", "id", "$response.body#/data/0/id")),
        route!(GET "/api/v1/admin/promo-codes/search", Access::Permission(PromoCodesSearch), search,
            Doc::new("Search codes")
                .describe("With `promo-codes.read`, the same page as the list; without it, whether one whole code exists.")
                .query::<ListQuery>()
                .ok::<SearchAnswer>()),
        route!(POST "/api/v1/admin/promo-codes/validate", Access::Permission(PromoCodesValidate), validate,
            Doc::new("Check a code's format and whether it can be redeemed")
                .body::<ValidateBody>()
                .ok::<super::validate::Validation>()),
        route!(POST "/api/v1/admin/promo-codes/bulk", Access::Permission(PromoCodesBulkOperations), bulk_op,
            Doc::new("Change the status of many codes (a selection or a filter)")
                .body::<BulkBody>()
                .ok::<bulk::Outcome>()
                .problems(&[409])),
        route!(GET "/api/v1/admin/promo-codes/stats", Access::Permission(PromoCodesRead), stats,
            Doc::new("Codes by status, in all and per batch")
                .query::<StatsQuery>()
                .ok::<super::stats::CodeStats>()
                .problems(&[404])),
        route!(GET "/api/v1/admin/promo-codes/{id}", Access::Permission(PromoCodesRead), detail,
            Doc::new("One code with its history and redemption").ok::<admin::Detail>()),
        route!(PUT "/api/v1/admin/promo-codes/{id}", Access::Permission(PromoCodesUpdate), update,
            Doc::new("Change the amount or expiry of a code nobody has used")
                .describe("Batch creation's rules (amount and expiry bounds from the settings; no later than the batch's expiry). A used or expired code is refused (409). Audited, with a history row holding before and after.")
                .body::<EditBody>()
                .ok::<edit::Updated>()
                .problems(&[409])),
        route!(DELETE "/api/v1/admin/promo-codes/{id}", Access::Permission(PromoCodesDelete), delete,
            Doc::new("Delete a code nobody has used")
                .describe("Only a code with no redemption ever (409 otherwise). The audit row keeps its last state, masked; the batch's counts drop by one.")
                .ok::<edit::Deleted>()
                .problems(&[409])),
        route!(PUT "/api/v1/admin/promo-codes/{id}/status", Access::Permission(PromoCodesStatusChange), set_status,
            Doc::new("Change a code's status")
                .body::<StatusBody>()
                .ok::<admin::Changed>()
                .problems(&[409])),
        route!(POST "/api/v1/admin/promo-codes/{id}/report", Access::Permission(PromoCodesStatusChange), report,
            Doc::new("Report a code as stolen or misused (blocks it)")
                .body::<ReportBody>()
                .ok::<admin::Changed>()
                .problems(&[409])),
    ]
}

/// `/search`'s answer: a page of codes (with `promo-codes.read`) or whether one code exists.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum SearchAnswer {
    Codes(Page<CodeRow>),
    Exists { code: String, exists: bool },
}

/// Query parameters as text, so a bad value is a 422 naming its field (not a bare 400).
#[derive(Deserialize, Default, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this batch's codes.
    #[param(value_type = Option<Uuid>)]
    pub batch_id: Option<String>,
    /// Only codes in this status.
    #[param(value_type = Option<CodeStatus>)]
    pub status: Option<String>,
    /// A whole code, or 3 or more of its characters.
    #[param(max_length = 64)]
    pub q: Option<String>,
    /// The `nextCursor` of the previous page.
    #[param(max_length = 512)]
    pub cursor: Option<String>,
    /// Rows per page, 1 to 200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The `batchId` query parameter: absent or empty is none; anything but an id names the field.
fn batch_id(raw: &Option<String>) -> Result<Option<Uuid>, FieldError> {
    non_empty(raw)
        .map(|b| {
            b.parse::<Uuid>()
                .map_err(|_| FieldError::new("batchId", "is not a batch id"))
        })
        .transpose()
}

/// The filter, cursor and limit of a list request; all problems at once.
pub fn parse_list(q: &ListQuery) -> Result<(CodeFilter, Option<String>, i64), AppError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut f = CodeFilter::default();
    match batch_id(&q.batch_id) {
        Ok(id) => f.batch_id = id,
        Err(e) => errors.push(e),
    }
    if let Some(s) = non_empty(&q.status) {
        match CodeFilter::check_status(Some(s)) {
            Ok(status) => f.status = status,
            Err(AppError::Validation(mut e)) => errors.append(&mut e),
            Err(e) => return Err(e),
        }
    }
    if let Some(raw) = non_empty(&q.q) {
        match CodeQuery::parse(raw) {
            Ok(cq) => f.q = Some(cq),
            Err(AppError::Validation(mut e)) => errors.append(&mut e),
            Err(e) => return Err(e),
        }
    } else if q.q.as_deref().is_some_and(|s| !s.is_empty()) {
        errors.push(FieldError::new("q", "type at least 3 characters of the code"));
    }
    let mut after = None;
    if let Some(a) = non_empty(&q.cursor) {
        match admin::decode_cursor(a) {
            Ok(c) => after = Some(c),
            Err(AppError::Validation(mut e)) => errors.append(&mut e),
            Err(e) => return Err(e),
        }
    }
    let limit = match non_empty(&q.limit) {
        None => 50,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=admin::MAX_LIMIT).contains(&n) => n,
            _ => {
                errors.push(FieldError::new(
                    "limit",
                    format!("must be from 1 to {}", admin::MAX_LIMIT),
                ));
                0
            }
        },
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok((f, after, limit))
}

async fn list(
    State(state): State<AppState>,
    who: Principal,
    uri: Uri,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<CodeRow>>, AppError> {
    let (f, after, limit) = parse_list(&q)?;
    if matches!(f.q, Some(CodeQuery::Partial(_))) {
        who.require(PromoCodesSearch)?;
    }
    let mut conn = state.pool.acquire().await?;
    let (codes, next) = admin::list(&mut conn, &f, after.as_deref(), limit).await?;
    Ok(Json(Page::for_request(codes, next, &uri)))
}

async fn search(
    State(state): State<AppState>,
    who: Principal,
    uri: Uri,
    Query(q): Query<ListQuery>,
) -> Result<Json<SearchAnswer>, AppError> {
    let (f, after, limit) = parse_list(&q)?;
    let mut conn = state.pool.acquire().await?;
    if who.can(PromoCodesRead) {
        let (codes, next) = admin::list(&mut conn, &f, after.as_deref(), limit).await?;
        return Ok(Json(SearchAnswer::Codes(Page::for_request(codes, next, &uri))));
    }
    // search without read: whether one whole code exists, nothing more
    match &f.q {
        Some(CodeQuery::Exact(code)) => {
            let exists = admin::exists(&mut conn, code).await?;
            Ok(Json(SearchAnswer::Exists {
                code: code.as_str().to_owned(),
                exists,
            }))
        }
        _ => Err(AppError::field(
            "q",
            "type a whole code (16 letters and digits); listing codes needs promo-codes.read",
        )),
    }
}

/// `?batchId=` narrows the statistics to one batch.
#[derive(Deserialize, Default, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Only this batch.
    #[param(value_type = Option<Uuid>)]
    pub batch_id: Option<String>,
}

impl StatsQuery {
    /// The batch asked for, if any; 422 naming `batchId` when it is not an id.
    pub fn batch(&self) -> Result<Option<Uuid>, AppError> {
        batch_id(&self.batch_id).map_err(|e| AppError::Validation(vec![e]))
    }
}

async fn stats(State(state): State<AppState>, Query(q): Query<StatsQuery>) -> Result<Json<Value>, AppError> {
    let batch = q.batch()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(json!(super::stats::code_stats(&mut conn, batch).await?)))
}

async fn detail(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Json<Value>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(json!(admin::detail(&mut conn, id).await?)))
}

/// `PUT /promo-codes/{id}`: a new amount (whole francs), a new expiry, or both.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EditBody {
    /// The new amount, whole francs within the payment settings' bounds.
    amount: Option<i64>,
    /// The new expiry: a date (`2027-03-31`, the end of that day in Kigali) or an RFC 3339 instant.
    expires_at: Option<String>,
    /// Why (kept in the code's history and the audit log).
    #[schema(max_length = 500)]
    reason: Option<String>,
}

impl TryFrom<EditBody> for CodeEdit {
    type Error = AppError;

    fn try_from(b: EditBody) -> Result<Self, AppError> {
        CodeEdit::parse(b.amount, b.expires_at.as_deref(), b.reason.as_deref())
    }
}

async fn update(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<EditBody>,
) -> Result<Json<Value>, AppError> {
    let cmd = CodeEdit::try_from(b)?;
    let settings = state.settings.get();
    let mut unit = state.unit().await?;
    let out = edit::update(&mut unit, &settings.0, id, &cmd, &acting).await?;
    unit.commit().await?;
    Ok(Json(json!(out)))
}

async fn delete(State(state): State<AppState>, acting: Acting, Path(id): Path<Uuid>) -> Result<Json<Value>, AppError> {
    let mut unit = state.unit().await?;
    let out = edit::delete(&mut unit, id, &acting).await?;
    unit.commit().await?;
    Ok(Json(json!(out)))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusBody {
    #[schema(value_type = SettableStatus)]
    status: String,
    /// Why (kept in the code's history and the audit log).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

/// The statuses staff may set on a code.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // documents the `status` field
enum SettableStatus {
    Active,
    Blocked,
    Reported,
}

/// What a bulk operation does to each code.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // documents the `action` field
enum BulkActionName {
    Block,
    Unblock,
    Report,
    Activate,
}

async fn set_status(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<StatusBody>,
) -> Result<Json<Value>, AppError> {
    let cmd = StatusChange::try_from(b)?;
    let mut unit = state.unit().await?;
    let out = admin::change_status(&mut unit, id, &cmd, &acting).await?;
    unit.commit().await?;
    Ok(Json(json!(out)))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportBody {
    /// What happened (kept in the code's history and the audit log).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

impl TryFrom<StatusBody> for StatusChange {
    type Error = AppError;

    fn try_from(b: StatusBody) -> Result<Self, AppError> {
        StatusChange::new(&b.status, &b.reason)
    }
}

impl TryFrom<ReportBody> for StatusChange {
    type Error = AppError;

    fn try_from(b: ReportBody) -> Result<Self, AppError> {
        StatusChange::report(&b.reason)
    }
}

async fn report(
    State(state): State<AppState>,
    acting: Acting,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<ReportBody>,
) -> Result<Json<Value>, AppError> {
    let cmd = StatusChange::try_from(b)?;
    let mut unit = state.unit().await?;
    let out = admin::change_status(&mut unit, id, &cmd, &acting).await?;
    unit.commit().await?;
    Ok(Json(json!(out)))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkBody {
    ids: Option<Vec<Uuid>>,
    filter: Option<FilterBody>,
    #[schema(value_type = BulkActionName)]
    action: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterBody {
    batch_id: Option<Uuid>,
    status: Option<String>,
    q: Option<String>,
    serial_from: Option<i32>,
    serial_to: Option<i32>,
    page_from: Option<i32>,
    page_to: Option<i32>,
}

async fn bulk_op(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    ApiJson(b): ApiJson<BulkBody>,
) -> Result<Json<Value>, AppError> {
    let partial = b
        .filter
        .as_ref()
        .and_then(|f| f.q.as_deref())
        .is_some_and(format_is_partial);
    if b.ids.is_none() && partial {
        who.require(PromoCodesSearch)?;
    }
    let cmd = Bulk::try_from(b)?;
    let mut unit = state.unit().await?;
    let out = bulk::run(&mut unit, &cmd, &acting).await?;
    unit.commit().await?;
    Ok(Json(json!(out)))
}

impl TryFrom<BulkBody> for Bulk {
    type Error = AppError;

    /// The target (a selection or a filter, not both) and the action; all problems at once.
    fn try_from(b: BulkBody) -> Result<Self, AppError> {
        let action = BulkAction::parse(&b.action);
        let target = match (b.ids, b.filter) {
            (Some(ids), None) => Target::Ids(ids),
            (None, Some(f)) => Target::Filter(FilterSpec {
                batch_id: f.batch_id,
                status: f.status.filter(|s| !s.is_empty()),
                q: f.q,
                serial_from: f.serial_from,
                serial_to: f.serial_to,
                page_from: f.page_from,
                page_to: f.page_to,
            }),
            _ => {
                let mut errors = vec![FieldError::new("ids", "give either ids (a selection) or a filter")];
                if let Err(AppError::Validation(e)) = &action {
                    errors.extend(e.iter().cloned());
                }
                return Err(AppError::Validation(errors));
            }
        };
        Ok(Bulk {
            target,
            action: action?,
            reason: b.reason,
            dry_run: b.dry_run,
        })
    }
}

fn format_is_partial(q: &str) -> bool {
    matches!(CodeQuery::parse(q), Ok(CodeQuery::Partial(_)))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidateBody {
    code: String,
}

async fn validate(
    State(state): State<AppState>,
    who: Principal,
    ApiJson(b): ApiJson<ValidateBody>,
) -> Result<Json<Value>, AppError> {
    if b.code.chars().count() > 64 {
        return Err(AppError::field("code", "is too long to be a code"));
    }
    let now = state.clock.now();
    let settings = state.settings.get();
    let cg = &settings.0.business.code_generation;
    let alphabet = super::Alphabet::new(&cg.character_set)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("character set in settings: {e}")))?;
    let mut unit = state.unit().await?;
    let d = crate::ratelimit::hit(
        &mut unit,
        &format!("codes.validate:user:{}", who.user_id),
        60,
        VALIDATE_PER_MINUTE,
        now,
    )
    .await?;
    if !d.allowed {
        unit.commit().await?;
        return Err(AppError::RateLimited {
            retry_after_secs: d.retry_after_secs,
        });
    }
    let v = super::validate::validate(
        &mut unit,
        &b.code,
        &alphabet,
        cg.include_checksum,
        who.can(PromoCodesRead),
    )
    .await?;
    unit.commit().await?;
    Ok(Json(json!(v)))
}
