//! Codes pages: `/admin/codes` (search, keyset "Next", bulk selection with a confirming count,
//! "Void a lost sheet", download) and `/admin/codes/{id}` (detail, history, status change and
//! fraud report). Forms the user may not use are not shown; the server checks anyway.

use crate::web::extract::{Path, Query};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use super::admin::{self, CodeQuery, StatusChange};
use super::api::ListQuery;
use super::bulk::{self, Bulk, BulkAction, FilterSpec, Target};
use super::lifecycle::{self, CodeStatus};
use crate::access::Permission::*;
use crate::clock::{local_display, local_display_or};
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::FormPairs;
use crate::web::pages::{refusal_message, Notice};
use crate::web::routes::{with_query, Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/codes", Access::Permission(PromoCodesRead), list_page),
        route!(POST "/admin/codes/bulk", Access::Permission(PromoCodesBulkOperations), bulk_form),
        route!(GET "/admin/codes/{id}", Access::Permission(PromoCodesRead), code_page),
        route!(POST "/admin/codes/{id}/status", Access::Permission(PromoCodesStatusChange), status_form),
        route!(POST "/admin/codes/{id}/report", Access::Permission(PromoCodesStatusChange), report_form),
    ]
}

use crate::web::pages::html;

/// `1234567` → `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

struct Line {
    id: Uuid,
    code: String,
    batch: String,
    serial: i32,
    page: i32,
    slot: i32,
    amount: String,
    status: &'static str,
}

/// A bulk operation waiting for the user to confirm its count.
struct Confirm {
    message: String,
    fields: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "codes.html")]
struct ListPage {
    shell: Shell,
    codes: Vec<Line>,
    batches: Vec<(Uuid, String)>,
    q: String,
    batch: String,
    status: String,
    next: Option<String>,
    error: Option<String>,
    notice: Option<Notice>,
    confirm: Option<Confirm>,
    can_bulk: bool,
    can_download: bool,
    can_search: bool,
    can_import: bool,
}

struct Extra {
    status: StatusCode,
    error: Option<String>,
    notice: Option<Notice>,
    confirm: Option<Confirm>,
}

impl Extra {
    fn none() -> Self {
        Extra {
            status: StatusCode::OK,
            error: None,
            notice: None,
            confirm: None,
        }
    }
}

async fn render_list(state: &AppState, who: &Principal, q: ListQuery, mut extra: Extra) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let mut conn = state.pool.acquire().await?;
    let codes = match super::api::parse_list(&q) {
        Ok((f, _, _)) if matches!(f.q, Some(CodeQuery::Partial(_))) && !who.can(PromoCodesSearch) => {
            extra.status = StatusCode::FORBIDDEN;
            extra.error = Some("Searching by part of a code needs promo-codes.search; type a whole code.".into());
            (Vec::new(), None)
        }
        Ok((f, after, limit)) => admin::list(&mut conn, &f, after.as_deref(), limit).await?,
        Err(e) => {
            extra.status = StatusCode::UNPROCESSABLE_ENTITY;
            extra.error = refusal_message(&e);
            (Vec::new(), None)
        }
    };
    let (rows, next) = codes;
    let (all, _) = crate::batches::list(
        &mut conn,
        &crate::batches::Filter {
            per_page: 200,
            ..Default::default()
        },
    )
    .await?;
    let mut next_link = None;
    if let Some(cursor) = next {
        let after = cursor.to_string();
        let keep = [("q", &q.q), ("batchId", &q.batch_id), ("status", &q.status)];
        let pairs: Vec<(&str, &str)> = std::iter::once(("cursor", after.as_str()))
            .chain(
                keep.into_iter()
                    .filter_map(|(k, v)| Some((k, v.as_deref().filter(|v| !v.is_empty())?))),
            )
            .collect();
        next_link = Some(with_query("/admin/codes", &pairs));
    }
    let page = ListPage {
        shell: Shell::new(who, "/admin/codes", &settings.0.branding.company_name),
        codes: rows
            .into_iter()
            .map(|r| Line {
                id: r.id,
                code: r.code,
                batch: format!("{} — {}", r.batch_number, r.batch_name),
                serial: r.serial,
                page: r.page,
                slot: r.slot,
                amount: format!("{} {}", thousands(r.amount), r.currency),
                status: r.status.as_str(),
            })
            .collect(),
        batches: all
            .into_iter()
            .map(|b| (b.id, format!("{} — {}", b.batch_number, b.name)))
            .collect(),
        q: q.q.unwrap_or_default(),
        batch: q.batch_id.unwrap_or_default(),
        status: q.status.unwrap_or_default(),
        next: next_link,
        error: extra.error,
        notice: extra.notice,
        confirm: extra.confirm,
        can_bulk: who.can(PromoCodesBulkOperations),
        can_download: who.can(PromoCodesDownload),
        can_search: who.can(PromoCodesSearch),
        can_import: who.can(PromoCodesImport),
    };
    html(extra.status, &page)
}

async fn list_page(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    render_list(&state, &who, q, Extra::none()).await
}

fn opt_i32(form: &FormPairs, name: &'static str) -> Result<Option<i32>, AppError> {
    match form.get(name).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| AppError::field(name, "must be a whole number")),
    }
}

/// The target a bulk form names: the ticked codes (`scope=selected`) or a filter.
fn form_target(form: &FormPairs) -> Result<Target, AppError> {
    if form.get("scope") == Some("selected") {
        return Ok(Target::Ids(form.uuids("ids")?));
    }
    let batch_id = match form.get("batchId").map(str::trim).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(v.parse().map_err(|_| AppError::field("batchId", "is not a batch id"))?),
    };
    let text = |n: &str| form.get(n).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    Ok(Target::Filter(FilterSpec {
        batch_id,
        status: text("status"),
        q: text("q"),
        serial_from: opt_i32(form, "serialFrom")?,
        serial_to: opt_i32(form, "serialTo")?,
        page_from: opt_i32(form, "pageFrom")?,
        page_to: opt_i32(form, "pageTo")?,
    }))
}

impl TryFrom<&FormPairs> for Bulk {
    type Error = AppError;

    /// The bulk form as the same command the API takes: step one (no `confirm=yes`) is a dry run.
    fn try_from(form: &FormPairs) -> Result<Self, AppError> {
        let target = form_target(form)?;
        Ok(Bulk {
            target,
            action: BulkAction::parse(form.get("action").unwrap_or(""))?,
            reason: form.get("reason").unwrap_or("").to_owned(),
            dry_run: form.get("confirm") != Some("yes"),
        })
    }
}

/// Step one counts and asks to confirm ("This will block 1,234 codes — confirm"); step two
/// (`confirm=yes`) applies.
async fn bulk_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    form: FormPairs,
) -> Result<Response, AppError> {
    let back = ListQuery {
        batch_id: form.get("batchId").map(str::to_owned),
        ..ListQuery::default()
    };
    let confirmed = form.get("confirm") == Some("yes");
    let result = match Bulk::try_from(&form).and_then(|cmd| {
        if let Target::Filter(f) = &cmd.target {
            if f.q
                .as_deref()
                .is_some_and(|q| matches!(CodeQuery::parse(q), Ok(CodeQuery::Partial(_))))
            {
                who.require(PromoCodesSearch)?;
            }
        }
        Ok(cmd)
    }) {
        Ok(cmd) => {
            let mut unit = state.unit().await?;
            let out = bulk::run(&mut unit, &cmd, &acting).await;
            if out.is_ok() {
                unit.commit().await?;
            }
            out.map(|o| (o, cmd.action))
        }
        Err(e) => Err(e),
    };
    let mut extra = Extra::none();
    match result {
        Ok((o, action)) if !confirmed => {
            if o.changed == 0 {
                extra.notice = Some(Notice::info(format!(
                    "Nothing to {}: none of the {} matching code(s) can be changed that way.",
                    action.as_str(),
                    thousands(o.matched)
                )));
            } else {
                // the same form again, with confirm=yes
                let mut fields: Vec<(String, String)> = form
                    .0
                    .iter()
                    .filter(|(k, _)| k != "_csrf" && k != "confirm")
                    .cloned()
                    .collect();
                fields.push(("confirm".into(), "yes".into()));
                extra.confirm = Some(Confirm {
                    message: format!(
                        "This will {} {} code(s){} — confirm",
                        action.as_str(),
                        thousands(o.changed),
                        if o.skipped > 0 {
                            format!(" ({} more match but cannot be changed)", thousands(o.skipped))
                        } else {
                            String::new()
                        }
                    ),
                    fields,
                });
            }
        }
        Ok((o, action)) => {
            extra.notice = Some(Notice::done(format!(
                "Done: {} code(s) changed ({}), {} skipped.",
                thousands(o.changed),
                action.as_str(),
                thousands(o.skipped)
            )));
        }
        Err(e) => match refusal_message(&e) {
            Some(m) => {
                extra.status = StatusCode::UNPROCESSABLE_ENTITY;
                extra.error = Some(m);
            }
            None => return Err(e),
        },
    }
    render_list(&state, &who, back, extra).await
}

#[derive(Template)]
#[template(path = "code.html")]
struct CodePage {
    shell: Shell,
    /// The code's audit history, for holders of `audit.logs.read`.
    audit_history: Option<String>,
    code: admin::CodeRow,
    amount: String,
    created: String,
    expires: String,
    /// When, from, to, by, reason, and what an edit changed (amount, expiry).
    history: Vec<(String, String, String, String, String, String)>,
    redemption: Option<(String, String, String, String)>,
    error: Option<String>,
    can_change: bool,
    targets: Vec<CodeStatus>,
    frozen: Option<&'static str>,
}

async fn render_code(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let d = admin::detail(&mut conn, id).await?;
    let settings = state.settings.get();
    let current = d.code.status;
    let page = CodePage {
        audit_history: crate::audit::pages::history_link(who, "promo_code", id),
        shell: Shell::new(who, "/admin/codes", &settings.0.branding.company_name),
        amount: format!("{} {}", thousands(d.code.amount), d.code.currency),
        created: local_display(d.code.created_at),
        expires: local_display_or(d.code.expires_at, "never"),
        history: d
            .history
            .into_iter()
            .map(|e| {
                (
                    local_display(e.at),
                    e.from_status.to_string(),
                    e.to_status.to_string(),
                    e.actor.unwrap_or_else(|| "system".into()),
                    e.reason,
                    e.change.map_or_else(String::new, |c| change_text(&c, &d.code.currency)),
                )
            })
            .collect(),
        redemption: d.redemption.map(|r| {
            (
                local_display(r.created_at),
                r.phone_number,
                format!("{} {}", thousands(r.amount), r.currency),
                r.status.to_string(),
            )
        }),
        error,
        can_change: who.can(PromoCodesStatusChange),
        targets: lifecycle::staff_targets(current),
        frozen: current.frozen(),
        code: d.code,
    };
    html(status, &page)
}

/// An edit as the history shows it: `amount 1,000 → 1,500 RWF; expiry … → …`.
fn change_text(c: &super::edit::EditChange, currency: &str) -> String {
    let mut parts = Vec::new();
    if let Some(a) = &c.amount {
        parts.push(format!(
            "amount {} → {} {currency}",
            thousands(a.before),
            thousands(a.after)
        ));
    }
    if let Some(e) = &c.expires_at {
        parts.push(format!(
            "expiry {} → {}",
            local_display_or(e.before, "never"),
            local_display_or(e.after, "never")
        ));
    }
    parts.join("; ")
}

async fn code_page(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    render_code(&state, &who, id, StatusCode::OK, None).await
}

async fn apply(
    state: &AppState,
    who: &Principal,
    acting: &Acting,
    id: Uuid,
    cmd: Result<StatusChange, AppError>,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    let out = match cmd {
        Ok(cmd) => admin::change_status(&mut unit, id, &cmd, acting).await,
        Err(e) => Err(e),
    };
    match out {
        Ok(_) => {
            unit.commit().await?;
            Ok(Redirect::to(&format!("/admin/codes/{id}")).into_response())
        }
        Err(e) => match refusal_message(&e) {
            Some(m) => {
                drop(unit);
                let status = if matches!(e, AppError::Conflict { .. }) {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                };
                render_code(state, who, id, status, Some(m)).await
            }
            None => Err(e),
        },
    }
}

impl TryFrom<&FormPairs> for StatusChange {
    type Error = AppError;

    /// The status form as the same command the API takes.
    fn try_from(form: &FormPairs) -> Result<Self, AppError> {
        StatusChange::new(form.get("status").unwrap_or(""), form.get("reason").unwrap_or(""))
    }
}

async fn status_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    apply(&state, &who, &acting, id, StatusChange::try_from(&form)).await
}

async fn report_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    apply(
        &state,
        &who,
        &acting,
        id,
        StatusChange::report(form.get("reason").unwrap_or("")),
    )
    .await
}
