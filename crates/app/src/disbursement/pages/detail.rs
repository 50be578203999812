//! `/admin/disbursements/{id}`: one payout with its redemption, the timeline of its MoMo
//! attempts (each with MoMo's answer), reversal requests and history, and the action forms the
//! reader may use in the payout's state — approve or reject, retry, change the payee, ask for a
//! reversal or decide on one. A form calls the same operation as the API; a refused form comes
//! back on the page with the server's message and the values typed.

use crate::web::extract::{Path, Query};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::{html, money};
use crate::access::Permission::*;
use crate::clock::{local_display, local_display_or, local_display_seconds};
use crate::disbursement::ops::{self, views, Decision, NewPayee, NoteCmd, ReasonCmd, REJECTED};
use crate::disbursement::state::PayoutStatus;
use crate::error::AppError;
use crate::route;
use crate::unit::{Acting, Unit};
use crate::web::auth::Principal;
use crate::web::extract::FormPairs;
use crate::web::pages::refusal_message;
use crate::web::routes::{path_segment, Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/disbursements/{id}", Access::Permission(DisbursementsRead), detail_page),
        route!(POST "/admin/disbursements/{id}/approve", Access::Permission(DisbursementsApprove), approve_form),
        route!(POST "/admin/disbursements/{id}/reject", Access::Permission(DisbursementsApprove), reject_form),
        route!(POST "/admin/disbursements/{id}/retry", Access::Permission(DisbursementsRetry), retry_form),
        route!(POST "/admin/disbursements/{id}/payee", Access::Permission(DisbursementsPayeeUpdate), payee_form),
        route!(POST "/admin/disbursements/{id}/reversal", Access::Permission(DisbursementsRetry), reversal_form),
        route!(POST "/admin/disbursements/{id}/reversal/approve", Access::Permission(DisbursementsApprove), reversal_approve_form),
        route!(POST "/admin/disbursements/{id}/reversal/reject", Access::Permission(DisbursementsApprove), reversal_reject_form),
    ]
}

struct AttemptLine {
    no: i32,
    reference: String,
    status: String,
    created: String,
    sent: String,
    resolved: String,
    http: String,
    momo: String,
    error: String,
    tx: String,
    polls: i32,
    callbacks: i32,
    last_callback: String,
    response: Option<String>,
}

struct ReversalLine {
    status: String,
    reason: String,
    requested_by: String,
    requested_at: String,
    decided_by: String,
    decided_at: String,
    note: String,
}

impl From<&views::ReversalView> for ReversalLine {
    fn from(v: &views::ReversalView) -> Self {
        ReversalLine {
            status: v.status.to_string(),
            reason: v.reason.clone(),
            requested_by: v.requested_by.clone(),
            requested_at: local_display_seconds(v.created_at),
            decided_by: v.decided_by.clone().unwrap_or_default(),
            decided_at: local_display_or(v.decided_at, ""),
            note: v.decision_note.clone().unwrap_or_default(),
        }
    }
}

struct HistoryLine {
    at: String,
    action: String,
    actor: String,
    change: String,
}

/// What the user typed into a refused form.
#[derive(Default)]
struct Echo {
    msisdn: String,
    reason: String,
    form: &'static str,
}

#[derive(Template)]
#[template(path = "disbursement.html")]
struct DetailPage {
    shell: Shell,
    /// The payout's audit history, for holders of `audit.logs.read`.
    audit_history: Option<String>,
    updated_iso: String,
    error: Option<String>,
    notice: Option<String>,
    echo: Echo,
    d: ops::Disbursement,
    amount: String,
    attempts_text: String,
    created: String,
    updated: String,
    next_attempt: String,
    disbursed: String,
    approved: String,
    failure: String,
    r: views::RedemptionInfo,
    redeemed_at: String,
    code_href: Option<String>,
    session_href: Option<String>,
    attempts: Vec<AttemptLine>,
    reversals: Vec<ReversalLine>,
    pending: Option<ReversalLine>,
    pending_mine: bool,
    history: Option<Vec<HistoryLine>>,
    show_approve: bool,
    show_retry: bool,
    show_payee: bool,
    show_request_reversal: bool,
    show_decide_reversal: bool,
    live: bool,
    /// "Success at 2026-12-07 10:02", when a confirmation SMS was sent.
    sms: Option<String>,
}

fn notice_for(done: &str) -> Option<&'static str> {
    Some(match done {
        "approved" => "Approved: the payout is queued and will be paid shortly.",
        "rejected" => "Rejected: the payout will not be made.",
        "retried" => "Retried: the payout is queued again.",
        "payee" => "Payee changed: the payout is queued to the new number.",
        "reversal-requested" => "Reversal requested: another person must approve it.",
        "reversal-approved" => "Reversal approved: the redemption is reversed and its code blocked.",
        "reversal-rejected" => "Reversal rejected: nothing changed.",
        _ => return None,
    })
}

fn change_summary(h: &views::HistoryEntry) -> String {
    let status = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .and_then(|v| v.get("status"))
            .and_then(|s| s.as_str())
            .map(str::to_owned)
    };
    let mut out = match (status(&h.before), status(&h.after)) {
        (Some(a), Some(b)) => format!("{a} → {b}"),
        (None, Some(b)) => b,
        _ => String::new(),
    };
    for key in ["reason", "note"] {
        if let Some(r) = h.metadata.get(key).and_then(|r| r.as_str()) {
            out.push_str(&format!("{}{key}: {r}", if out.is_empty() { "" } else { "; " }));
        }
    }
    out
}

async fn render(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    status_code: StatusCode,
    error: Option<String>,
    notice: Option<String>,
    echo: Echo,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let mut conn = state.pool.acquire().await?;
    let detail = views::detail(&mut conn, id).await?;
    let history = if who.can(AuditLogsRead) {
        Some(
            views::history(&mut conn, id, detail.redemption.id)
                .await?
                .iter()
                .map(|h| HistoryLine {
                    at: local_display_seconds(h.at),
                    action: h.action.clone(),
                    actor: h.actor.clone(),
                    change: change_summary(h),
                })
                .collect(),
        )
    } else {
        None
    };
    drop(conn);
    let d = detail.disbursement;
    let r = detail.redemption;
    let pending = detail.reversals.iter().find(|v| v.status == "pending");
    let open = r.status != "reversed" && pending.is_none();
    let failed_for_good = d.status.failed_for_good();
    let sms = detail.confirmation_sms.as_ref().map(|m| {
        let at = local_display(m.status_at);
        match &m.failure_reason {
            Some(why) => format!("{} at {at} ({why})", m.status),
            None => format!("{} at {at}", m.status),
        }
    });
    let page = DetailPage {
        audit_history: crate::audit::pages::history_link(who, "disbursement", id),
        sms,
        shell: Shell::new(who, "/admin/disbursements", &settings.0.branding.company_name),
        updated_iso: super::iso(d.updated_at),
        error,
        notice,
        echo,
        amount: money(d.amount, &d.currency),
        attempts_text: format!("{} of {}", d.attempts, d.max_attempts),
        created: local_display_seconds(d.created_at),
        updated: local_display_seconds(d.updated_at),
        next_attempt: local_display_seconds(d.next_attempt_at),
        disbursed: local_display_or(d.disbursed_at, "—"),
        approved: match (&detail.approved_by, d.approved_at) {
            (Some(who), Some(at)) => format!("{who}, {}", local_display_seconds(at)),
            (None, Some(at)) => local_display_seconds(at),
            _ => "—".to_owned(),
        },
        failure: match (&d.error_code, &d.error_message) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.clone(),
            _ => String::new(),
        },
        redeemed_at: local_display_seconds(r.created_at),
        code_href: who
            .can(PromoCodesRead)
            .then(|| format!("/admin/codes/{}", r.promo_code_id)),
        session_href: r
            .ussd_session_id
            .as_deref()
            .filter(|_| who.can(RedemptionsRead))
            .map(|s| format!("/admin/ussd/sessions/{}", path_segment(s))),
        attempts: detail
            .attempts
            .iter()
            .map(|a| AttemptLine {
                no: a.attempt_no,
                reference: a.reference_id.to_string(),
                status: a.status.to_string(),
                created: local_display_seconds(a.created_at),
                sent: local_display_or(a.sent_at, "—"),
                resolved: local_display_or(a.resolved_at, "—"),
                http: a.http_status.map(|h| h.to_string()).unwrap_or_else(|| "—".into()),
                momo: match (&a.momo_status, &a.momo_reason) {
                    (Some(s), Some(r)) => format!("{s} ({r})"),
                    (Some(s), None) => s.clone(),
                    _ => "—".to_owned(),
                },
                error: [&a.error_class, &a.error_code, &a.error_message]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" · "),
                tx: a.financial_transaction_id.clone().unwrap_or_default(),
                polls: a.polls,
                callbacks: a.callback_count,
                last_callback: local_display_or(a.last_callback_at, "—"),
                response: a
                    .response
                    .as_ref()
                    .map(|v| serde_json::to_string_pretty(v).unwrap_or_default()),
            })
            .collect(),
        reversals: detail.reversals.iter().map(ReversalLine::from).collect(),
        pending_mine: pending.is_some_and(|p| p.requested_by_user_id == who.user_id),
        pending: pending.map(ReversalLine::from),
        history,
        show_approve: d.status == PayoutStatus::AwaitingApproval && who.can(DisbursementsApprove),
        show_retry: d.status == PayoutStatus::Failed
            && d.error_code.as_deref() != Some(REJECTED)
            && open
            && who.can(DisbursementsRetry),
        show_payee: d.status == PayoutStatus::PayeeInvalid && open && who.can(DisbursementsPayeeUpdate),
        show_request_reversal: failed_for_good && open && who.can(DisbursementsRetry),
        show_decide_reversal: who.can(DisbursementsApprove),
        live: who.can(DisbursementsMonitor),
        d,
        r,
    };
    html(status_code, &page)
}

#[derive(Deserialize)]
struct DetailQuery {
    done: Option<String>,
}

async fn detail_page(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<DetailQuery>,
) -> Result<Response, AppError> {
    let notice = q.done.as_deref().and_then(notice_for).map(str::to_owned);
    render(&state, &who, id, StatusCode::OK, None, notice, Echo::default()).await
}

fn done(id: Uuid, what: &str) -> Response {
    Redirect::to(&format!("/admin/disbursements/{id}?done={what}")).into_response()
}

/// The page again with the reason the form was refused, or the error page for anything else.
async fn refused(state: &AppState, who: &Principal, id: Uuid, e: AppError, echo: Echo) -> Result<Response, AppError> {
    match (&e, refusal_message(&e)) {
        (AppError::NotFound(_), _) | (_, None) => Err(e),
        (_, Some(m)) => render(state, who, id, e.status(), Some(m), None, echo).await,
    }
}

fn echo(form: &FormPairs, which: &'static str) -> Echo {
    Echo {
        msisdn: form.get("msisdn").unwrap_or("").to_owned(),
        reason: form.get("reason").or_else(|| form.get("note")).unwrap_or("").to_owned(),
        form: which,
    }
}

/// The end of every form: a use case that succeeded commits its unit (which wakes what it asked
/// for) and redirects with a notice; a refused one is rolled back and the page shows why.
async fn finish<T>(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    unit: Unit,
    out: Result<T, AppError>,
    echo: Echo,
) -> Result<Response, AppError> {
    match out {
        Ok(_) => {
            unit.commit().await?;
            Ok(done(id, echo.form))
        }
        Err(e) => {
            drop(unit);
            refused(state, who, id, e, echo).await
        }
    }
}

async fn approve_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    let out = ops::approve(&mut unit, id, &acting).await;
    finish(&state, &who, id, unit, out, echo(&form, "approved")).await
}

async fn reject_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let cmd = ReasonCmd::from(&form);
    let mut unit = state.unit().await?;
    let out = ops::reject(&mut unit, id, &cmd.reason, &state.settings.get().0, &acting).await;
    finish(&state, &who, id, unit, out, echo(&form, "rejected")).await
}

async fn retry_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let (cmd, settings) = (ReasonCmd::from(&form), state.settings.get());
    let mut unit = state.unit().await?;
    let out = ops::retry(&mut unit, id, &cmd.reason, &settings.0.payments, &acting).await;
    finish(&state, &who, id, unit, out, echo(&form, "retried")).await
}

async fn payee_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let (cmd, settings) = (NewPayee::from(&form), state.settings.get());
    let mut unit = state.unit().await?;
    let out = ops::change_payee(&mut unit, id, &cmd, &settings.0.payments, &acting).await;
    finish(&state, &who, id, unit, out, echo(&form, "payee")).await
}

async fn redemption_of(state: &AppState, id: Uuid) -> Result<Uuid, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(ops::get(&mut conn, id).await?.redemption_id)
}

async fn reversal_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let (cmd, rid) = (ReasonCmd::from(&form), redemption_of(&state, id).await?);
    let mut unit = state.unit().await?;
    let out = ops::request_reversal(&mut unit, rid, &cmd.reason, &acting).await;
    finish(&state, &who, id, unit, out, echo(&form, "reversal-requested")).await
}

async fn decide(
    state: AppState,
    who: Principal,
    acting: Acting,
    id: Uuid,
    form: FormPairs,
    decision: Decision,
) -> Result<Response, AppError> {
    let (cmd, rid) = (NoteCmd::from(&form), redemption_of(&state, id).await?);
    let which = match decision {
        Decision::Approve => "reversal-approved",
        Decision::Reject => "reversal-rejected",
    };
    let mut unit = state.unit().await?;
    let out = ops::decide_reversal(&mut unit, rid, decision, cmd.note.as_deref(), &acting).await;
    finish(&state, &who, id, unit, out, echo(&form, which)).await
}

async fn reversal_approve_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    decide(state, who, acting, id, form, Decision::Approve).await
}

async fn reversal_reject_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    decide(state, who, acting, id, form, Decision::Reject).await
}
