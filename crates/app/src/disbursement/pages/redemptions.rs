//! `/admin/redemptions` (filters, search for holders of `redemptions.search`, paged list with
//! each redemption's payout state, export) and `/admin/redemptions/{id}` (the redemption, its
//! customer, code, payout and reversal requests; payout actions live on the payout's page).

use crate::web::extract::{Path, Query};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use super::{batch_choices, html, money, pager, FormValues, SORTS};
use crate::access::Permission::*;
use crate::clock::{local_display, local_display_or, local_display_seconds};
use crate::disbursement::ops::disclosure::{Disclosure, RedemptionDetailView, RedemptionView};
use crate::disbursement::ops::query::{Customer, Kind, ListQuery, Page, Sort, REDEMPTION_STATUSES};
use crate::disbursement::ops::{self, redemptions, NewPayee};
use crate::disbursement::state::PayoutStatus;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::FormPairs;
use crate::web::pages::refusal_message;
use crate::web::routes::{path_segment, Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/redemptions", Access::Permission(RedemptionsRead), list_page),
        route!(GET "/admin/redemptions/{id}", Access::Permission(RedemptionsRead), detail_page),
        route!(POST "/admin/redemptions/{id}/payee", Access::Permission(DisbursementsPayeeUpdate), payee_form),
    ]
}

struct Line {
    id: Uuid,
    /// When it was made, in ms since the epoch: where the live script slots a late row in.
    at: i64,
    /// Its state may still change: the live script asks for it again.
    open: bool,
    created: String,
    phone: String,
    code: String,
    status: String,
    /// Amount, payout state and MoMo transaction, for those who may see money.
    money: Option<(String, String, String)>,
    batch: String,
}

impl From<RedemptionView> for Line {
    fn from(r: RedemptionView) -> Self {
        Line {
            id: r.id,
            at: r.created_at.timestamp_millis(),
            open: r.open,
            created: local_display(r.created_at),
            phone: r.phone_number,
            code: r.code,
            status: r.status.to_string(),
            money: r.money.map(|m| {
                (
                    money(m.amount, &m.currency),
                    m.disbursement_status.unwrap_or_else(|| "none".into()),
                    m.momo_transaction_id.unwrap_or_default(),
                )
            }),
            batch: format!("{} — {}", r.batch_number, r.batch_name),
        }
    }
}

#[derive(Template)]
#[template(path = "redemptions.html")]
struct ListPage {
    shell: Shell,
    error: Option<String>,
    rows: Vec<Line>,
    showing: String,
    prev: Option<String>,
    next: Option<String>,
    v: FormValues,
    statuses: &'static [&'static str],
    customers: [Customer; 2],
    sorts: &'static [(&'static str, &'static str)],
    batches: Vec<(Uuid, String)>,
    can_search: bool,
    can_export: bool,
    export_fields: Vec<(&'static str, String)>,
    /// What the reader may see (decision 0025): the amount, payout and MoMo columns, the amount
    /// and phone filters.
    d: Disclosure,
    /// Where the live script starts (`None`: filters refused, no polling).
    live: Option<Live>,
}

/// What the list's live script needs: the filters as a query string, the feed's cursor, the
/// ids of the rows still open (their status may change) and whether new rows go on top.
struct Live {
    query: String,
    cursor: String,
    prepend: bool,
}

async fn list_page(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let mut status = StatusCode::OK;
    let mut error = None;
    let d = Disclosure::of(&who);
    let mut conn = state.pool.acquire().await?;
    let mut live = None;
    let (rows, total, page) = match q.list(Kind::Redemptions) {
        Ok((f, _, _)) if f.search.is_some() && !who.can(RedemptionsSearch) => {
            status = StatusCode::FORBIDDEN;
            error = Some("Searching needs redemptions.search; use the filters instead.".to_owned());
            (Vec::new(), 0, Page::default())
        }
        Ok((f, sort, _)) if d.refusal(&f, sort).is_some() => {
            status = StatusCode::FORBIDDEN;
            error = d.refusal(&f, sort).map(|(_, why)| why.to_owned());
            (Vec::new(), 0, Page::default())
        }
        Ok((f, sort, page)) => {
            let cursor = redemptions::horizon(&mut conn).await?;
            let (rows, total) = redemptions::list(&mut conn, &f, sort, page).await?;
            live = Some(Live {
                query: q.filter_query(),
                cursor,
                prepend: page.page == 1 && matches!(sort, Sort::NewestFirst | Sort::RecentlyChanged),
            });
            (rows, total, page)
        }
        Err(e) => {
            status = StatusCode::UNPROCESSABLE_ENTITY;
            error = Some(refusal_message(&e).ok_or(e)?);
            (Vec::new(), 0, Page::default())
        }
    };
    drop(conn);
    let (prev, next, showing) = pager("/admin/redemptions", &q, page, total);
    let v = FormValues::of(&q);
    let export_fields = v.hidden_fields();
    let page = ListPage {
        shell: Shell::new(&who, "/admin/redemptions", &settings.0.branding.company_name),
        error,
        rows: d.redemptions(rows).into_iter().map(Line::from).collect(),
        showing,
        prev,
        next,
        statuses: REDEMPTION_STATUSES,
        customers: Customer::ALL,
        sorts: if d.money { &SORTS[..4] } else { &SORTS[..2] },
        batches: batch_choices(&state).await?,
        can_search: who.can(RedemptionsSearch),
        can_export: who.can(RedemptionsExport),
        export_fields,
        v,
        d,
        live,
    };
    html(status, &page)
}

#[derive(Template)]
#[template(path = "redemption.html")]
struct DetailPage {
    shell: Shell,
    x: RedemptionDetailView,
    /// `None` without money (decision 0025).
    amount: Option<String>,
    created: String,
    completed: String,
    customer_since: String,
    flagged: String,
    payout_updated: String,
    payout_href: Option<String>,
    code_href: Option<String>,
    session_href: Option<String>,
    reversals: Vec<(String, String, String, String, String)>,
    /// The payout waits for another number (`payee_invalid`) and the viewer may give one: the
    /// number that has no wallet.
    payee: Option<String>,
    error: Option<String>,
    notice: Option<&'static str>,
    /// What the refused payee form held.
    echo: (String, String),
}

#[derive(serde::Deserialize)]
struct DetailQuery {
    done: Option<String>,
}

async fn detail_page(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<DetailQuery>,
) -> Result<Response, AppError> {
    let notice = (q.done.as_deref() == Some("payee")).then_some("The payout goes to the new number.");
    render_detail(&state, &who, id, StatusCode::OK, None, notice, Default::default()).await
}

/// `POST /admin/redemptions/{id}/payee`: the number the customer gave for a payout whose number has
/// no MoMo wallet (a support agent's way to resolve `payee_invalid` from the redemption).
async fn payee_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let (cmd, settings) = (NewPayee::from(&form), state.settings.get());
    let mut unit = state.unit().await?;
    let payout = ops::id_for_redemption(&mut unit, id).await?;
    match ops::change_payee(&mut unit, payout, &cmd, &settings.0.payments, &acting).await {
        Ok(_) => {
            unit.commit().await?;
            Ok(Redirect::to(&format!("/admin/redemptions/{id}?done=payee")).into_response())
        }
        Err(e) => match refusal_message(&e) {
            Some(m) if !matches!(e, AppError::NotFound(_)) => {
                drop(unit);
                render_detail(&state, &who, id, e.status(), Some(m), None, (cmd.msisdn, cmd.reason)).await
            }
            _ => Err(e),
        },
    }
}

async fn render_detail(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    status: StatusCode,
    error: Option<String>,
    notice: Option<&'static str>,
    echo: (String, String),
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let mut conn = state.pool.acquire().await?;
    let x = redemptions::detail(&mut conn, id).await?;
    drop(conn);
    // the payee form reveals the payout's state to those who may change the payee
    let payee = x
        .disbursement
        .as_ref()
        .filter(|d| d.status == PayoutStatus::PayeeInvalid.as_str() && who.can(DisbursementsPayeeUpdate))
        .map(|d| d.msisdn.clone());
    let x = Disclosure::of(who).detail(x);
    let r = &x.redemption;
    let page = DetailPage {
        payee,
        error,
        notice,
        echo,
        shell: Shell::new(who, "/admin/redemptions", &settings.0.branding.company_name),
        amount: r.money.as_ref().map(|m| money(m.amount, &m.currency)),
        created: local_display_seconds(r.created_at),
        completed: local_display_or(r.completed_at, "—"),
        customer_since: local_display(x.customer.first_seen_at),
        flagged: match (&x.customer.flagged_at, &x.customer.flag_reason) {
            (Some(at), Some(why)) => format!("{} ({why})", local_display(*at)),
            (Some(at), None) => local_display(*at),
            _ => "no".to_owned(),
        },
        payout_updated: x
            .disbursement
            .as_ref()
            .map(|d| local_display_seconds(d.updated_at))
            .unwrap_or_default(),
        payout_href: x
            .disbursement
            .as_ref()
            .filter(|_| who.can(DisbursementsRead))
            .map(|d| format!("/admin/disbursements/{}", d.id)),
        code_href: who
            .can(PromoCodesRead)
            .then(|| format!("/admin/codes/{}", r.promo_code_id)),
        session_href: r
            .ussd_session_id
            .as_deref()
            .map(|s| format!("/admin/ussd/sessions/{}", path_segment(s))),
        reversals: x
            .reversals
            .iter()
            .flatten()
            .map(|v| {
                (
                    v.status.to_string(),
                    v.reason.clone(),
                    format!("{}, {}", v.requested_by, local_display(v.created_at)),
                    v.decided_by.clone().unwrap_or_default(),
                    v.decision_note.clone().unwrap_or_default(),
                )
            })
            .collect(),
        x,
    };
    html(status, &page)
}
