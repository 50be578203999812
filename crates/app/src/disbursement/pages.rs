//! The payout pages in the admin shell: `/admin/disbursements` (open alerts on top, what needs a
//! person, filters and search that work without script, a paged list whose new rows and status
//! changes `app.js` brings in without a reload, bulk retry, export) and
//! `/admin/disbursements/stats` (the period's figures with inline-SVG charts). The detail page
//! and its action forms are in [`detail`], the redemption pages in [`redemptions`]. Forms the
//! user may not use are not shown; the server checks anyway.

mod charts;
mod detail;
mod redemptions;
mod stats;

use crate::web::extract::Query;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use uuid::Uuid;

use super::ops::query::{Kind, ListQuery, Page, PAYOUT_STATUSES};
use super::ops::{self, views};
use crate::access::Permission::*;
use crate::clock::local_display;
use crate::codes::pages::thousands;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::FormPairs;
use crate::web::pages::refusal_message;
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    let mut specs = vec![
        route!(GET "/admin/disbursements", Access::Permission(DisbursementsRead), list_page),
        route!(GET "/admin/disbursements/stats", Access::Permission(DisbursementsRead), stats::stats_page),
        route!(POST "/admin/disbursements/bulk-retry", Access::Permission(DisbursementsRetry), bulk_retry_form),
    ];
    specs.extend(detail::routes());
    specs.extend(redemptions::routes());
    specs
}

pub(crate) use crate::web::pages::html;

/// A time exactly as the JSON API writes it, so the live scripts can compare the two as text.
pub(crate) fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

pub(crate) fn money(amount: i64, currency: &str) -> String {
    format!("{} {currency}", thousands(amount))
}

/// The sort choices the list forms offer.
pub(crate) const SORTS: &[(&str, &str)] = &[
    ("-createdAt", "Newest first"),
    ("createdAt", "Oldest first"),
    ("-amount", "Largest amount"),
    ("amount", "Smallest amount"),
    ("-updatedAt", "Recently changed"),
    ("status", "Status"),
];

/// The alert audiences the reader belongs to (`financial.alerts.view`, …).
fn alert_audiences(who: &Principal) -> Vec<&'static str> {
    crate::alerts::audiences(who.permissions.iter())
}

/// The filter form's values as typed, so a refused or paged list shows them again.
#[derive(Default)]
pub(crate) struct FormValues {
    pub from: String,
    pub to: String,
    pub status: String,
    pub amount_min: String,
    pub amount_max: String,
    pub phone: String,
    pub batch: String,
    pub held: String,
    pub customer: String,
    pub q: String,
    pub sort: String,
}

impl FormValues {
    pub(crate) fn of(q: &ListQuery) -> Self {
        let v = |s: &Option<String>| s.clone().unwrap_or_default();
        FormValues {
            from: v(&q.from),
            to: v(&q.to),
            status: v(&q.status),
            amount_min: v(&q.amount_min),
            amount_max: v(&q.amount_max),
            phone: v(&q.phone),
            batch: v(&q.batch_id),
            held: v(&q.held),
            customer: v(&q.customer),
            q: v(&q.q),
            sort: v(&q.sort),
        }
    }

    /// The filters and sort set, as the export and bulk forms carry them in hidden fields.
    pub(crate) fn hidden_fields(&self) -> Vec<(&'static str, String)> {
        [
            ("from", &self.from),
            ("to", &self.to),
            ("status", &self.status),
            ("amountMin", &self.amount_min),
            ("amountMax", &self.amount_max),
            ("phone", &self.phone),
            ("batchId", &self.batch),
            ("held", &self.held),
            ("customer", &self.customer),
            ("q", &self.q),
            ("sort", &self.sort),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.clone()))
        .collect()
    }
}

/// The list a form came from, carried in its hidden fields.
pub(crate) fn query_from_form(form: &FormPairs) -> ListQuery {
    let text = |f: &str| form.get(f).map(str::to_owned).filter(|v| !v.trim().is_empty());
    ListQuery {
        from: text("from"),
        to: text("to"),
        status: text("status"),
        amount_min: text("amountMin"),
        amount_max: text("amountMax"),
        phone: text("phone"),
        batch_id: text("batchId"),
        held: text("held"),
        customer: text("customer"),
        q: text("q"),
        sort: text("sort"),
        page: text("page"),
        per_page: text("perPage"),
        cursor: None,
        limit: None,
        since: None,
        format: None,
    }
}

/// Links to the previous and next page, and "x–y of n".
pub(crate) fn pager(base: &str, q: &ListQuery, page: Page, total: i64) -> (Option<String>, Option<String>, String) {
    let link = |p: i64| {
        let page = p.to_string();
        let mut pairs = q.filter_pairs();
        for (k, v) in [("sort", &q.sort), ("perPage", &q.per_page)] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                pairs.push((k, v));
            }
        }
        pairs.push(("page", &page));
        crate::web::routes::with_query(base, &pairs)
    };
    let first = page.offset() + 1;
    let last = (page.offset() + page.per_page).min(total);
    let prev = (page.page > 1).then(|| link(page.page - 1));
    let next = (last < total).then(|| link(page.page + 1));
    let showing = if total == 0 {
        "0 of 0".to_owned()
    } else {
        format!("{first}–{last} of {total}")
    };
    (prev, next, showing)
}

pub(crate) async fn batch_choices(state: &AppState) -> Result<Vec<(Uuid, String)>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let (all, _) = crate::batches::list(
        &mut conn,
        &crate::batches::Filter {
            per_page: 200,
            ..Default::default()
        },
    )
    .await?;
    Ok(all
        .into_iter()
        .map(|b| (b.id, format!("{} — {}", b.batch_number, b.name)))
        .collect())
}

struct AlertLine {
    id: Uuid,
    severity: String,
    title: String,
    body: String,
    when: String,
    occurrences: i32,
    href: Option<String>,
}

/// One payout as the list shows it (`app.js` builds the same row from the JSON).
pub(crate) struct PayoutLine {
    id: Uuid,
    created: String,
    created_iso: String,
    updated_iso: String,
    phone: String,
    amount: String,
    status: String,
    attempts: String,
    momo_tx: String,
    batch: String,
    note: String,
}

impl From<views::PayoutRow> for PayoutLine {
    fn from(r: views::PayoutRow) -> Self {
        PayoutLine {
            id: r.id,
            created: local_display(r.created_at),
            created_iso: iso(r.created_at),
            updated_iso: iso(r.updated_at),
            phone: r.phone_number,
            amount: money(r.amount, &r.currency),
            attempts: format!("{}/{}", r.attempts, r.max_attempts),
            momo_tx: r.momo_transaction_id.unwrap_or_default(),
            batch: format!("{} — {}", r.batch_number, r.batch_name),
            note: match (r.error_code, r.error_message, r.held_reason) {
                (Some(c), Some(m), _) => format!("{c}: {m}"),
                (Some(c), None, _) => c,
                (None, _, Some(h)) if h == "monthly_limit" => {
                    "over this month's payout limit: approve to pay it anyway".to_owned()
                }
                (None, _, Some(h)) if h == "daily_limit" => "held: today's payout limit is reached".to_owned(),
                (None, _, Some(h)) => format!("held: {h}"),
                _ => String::new(),
            },
            status: r.status.to_string(),
        }
    }
}

/// What the live script needs (`None`: the filters are invalid, or the reader may not monitor).
struct Live {
    query: String,
    cursor: String,
    newest: String,
    prepend: bool,
}

#[derive(Template)]
#[template(path = "disbursements.html")]
struct ListPage {
    shell: Shell,
    alerts: Vec<AlertLine>,
    can_ack: bool,
    error: Option<String>,
    notice: Option<String>,
    refusals: Vec<String>,
    attention: Vec<(String, i64, String)>,
    rows: Vec<PayoutLine>,
    showing: String,
    prev: Option<String>,
    next: Option<String>,
    v: FormValues,
    statuses: &'static [&'static str],
    sorts: &'static [(&'static str, &'static str)],
    batches: Vec<(Uuid, String)>,
    live: Option<Live>,
    per_page: i64,
    can_retry: bool,
    can_export: bool,
    export_fields: Vec<(&'static str, String)>,
}

#[derive(Default)]
pub(crate) struct Messages {
    pub error: Option<String>,
    pub notice: Option<String>,
    pub refusals: Vec<String>,
}

async fn render_list(
    state: &AppState,
    who: &Principal,
    q: ListQuery,
    mut status: StatusCode,
    mut m: Messages,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let now = state.clock.now();
    let mut conn = state.pool.acquire().await?;
    let alerts = crate::alerts::unresolved(&mut conn, &alert_audiences(who), true, now, 10).await?;
    let attention: Vec<(String, i64)> = sqlx::query_as(
        "select status, count(*) from disbursements \
         where status in ('awaiting_approval', 'failed', 'payee_invalid') group by status order by status",
    )
    .fetch_all(&mut *conn)
    .await?;
    let parsed = q.list(Kind::Payouts);
    let (rows, total, page, live) = match parsed {
        Ok((f, sort, page)) => {
            let (rows, total) = views::list(&mut conn, &f, sort, page).await?;
            let live = who.can(DisbursementsMonitor).then(|| Live {
                query: q.filter_query(),
                cursor: iso(now),
                newest: rows.iter().map(|r| r.created_at).max().unwrap_or(now).to_rfc3339(),
                prepend: page.page == 1 && sort == ops::query::Sort::NewestFirst,
            });
            (rows, total, page, live)
        }
        Err(e) => {
            status = StatusCode::UNPROCESSABLE_ENTITY;
            m.error = Some(refusal_message(&e).ok_or(e)?);
            (Vec::new(), 0, Page::default(), None)
        }
    };
    drop(conn);
    let (prev, next, showing) = pager("/admin/disbursements", &q, page, total);
    let v = FormValues::of(&q);
    let export_fields = v.hidden_fields();
    let page_view = ListPage {
        shell: Shell::new(who, "/admin/disbursements", &settings.0.branding.company_name),
        alerts: alerts
            .into_iter()
            .map(|a| AlertLine {
                href: match (a.subject_type.as_deref(), a.subject_id.as_deref()) {
                    (Some("disbursement"), Some(id)) => {
                        id.parse::<Uuid>().ok().map(|id| format!("/admin/disbursements/{id}"))
                    }
                    _ => None,
                },
                id: a.id,
                severity: a.severity,
                title: a.title,
                body: a.body,
                when: local_display(a.last_seen_at),
                occurrences: a.occurrences,
            })
            .collect(),
        can_ack: who.can(AlertsAcknowledge),
        error: m.error,
        notice: m.notice,
        refusals: m.refusals,
        attention: attention
            .into_iter()
            .map(|(s, n)| {
                let href = format!("/admin/disbursements?status={s}");
                (s, n, href)
            })
            .collect(),
        rows: rows.into_iter().map(PayoutLine::from).collect(),
        showing,
        prev,
        next,
        statuses: PAYOUT_STATUSES,
        sorts: SORTS,
        batches: batch_choices(state).await?,
        live,
        per_page: page.per_page,
        can_retry: who.can(DisbursementsRetry),
        can_export: who.can(DisbursementsExport),
        export_fields,
        v,
    };
    html(status, &page_view)
}

async fn list_page(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    render_list(&state, &who, q, StatusCode::OK, Messages::default()).await
}

/// The list's bulk form: retry the ticked failed payouts with one reason.
async fn bulk_retry_form(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    form: FormPairs,
) -> Result<Response, AppError> {
    let q = query_from_form(&form);
    let ids = match form.uuids("ids") {
        Ok(ids) => ids,
        Err(e) => {
            let m = Messages {
                error: refusal_message(&e),
                ..Messages::default()
            };
            return render_list(&state, &who, q, StatusCode::UNPROCESSABLE_ENTITY, m).await;
        }
    };
    let (cmd, settings) = (ops::ReasonCmd::from(&form), state.settings.get());
    let mut unit = state.unit().await?;
    let result = ops::bulk_retry(&mut unit, &ids, &cmd.reason, &settings.0.payments, &acting).await;
    match result {
        Ok(outcomes) => {
            unit.commit().await?;
            let retried = outcomes
                .iter()
                .filter(|o| o.outcome == ops::BulkResult::Retried)
                .count();
            let m = Messages {
                notice: Some(format!("Retried {retried} of {} payout(s).", outcomes.len())),
                refusals: outcomes
                    .iter()
                    .filter(|o| o.outcome != ops::BulkResult::Retried)
                    .map(|o| format!("{}: {}", o.id, o.reason.as_deref().unwrap_or("refused")))
                    .collect(),
                ..Messages::default()
            };
            render_list(&state, &who, q, StatusCode::OK, m).await
        }
        Err(e) => {
            let status = e.status();
            let m = Messages {
                error: Some(refusal_message(&e).ok_or(e)?),
                ..Messages::default()
            };
            render_list(&state, &who, q, status, m).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_times_match_the_apis() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-26T07:03:33.123456+00:00")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(serde_json::json!(t).as_str().unwrap(), iso(t));
        let whole = t - chrono::Duration::microseconds(123_456);
        assert_eq!(serde_json::json!(whole).as_str().unwrap(), iso(whole));
    }
}
