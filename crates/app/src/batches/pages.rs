//! Batch pages: list with filters and a create form, and the batch page with statistics, the
//! live generation progress bar, downloads and their chain of custody.

use crate::web::extract::{Path, Query};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::{Filter, NewBatch};
use crate::access::Permission::*;
use crate::clock::{kigali, local_display, local_display_or};
use crate::error::{AppError, FieldError};
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::FormPairs;
use crate::web::routes::{with_query, Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    let mut specs = vec![
        route!(GET "/admin/batches", Access::Permission(BatchesRead), list_page),
        route!(POST "/admin/batches", Access::Permission(BatchesCreate), create),
        route!(GET "/admin/batches/{id}", Access::Permission(BatchesRead), batch_page),
    ];
    specs.extend(super::ops_pages::routes());
    specs
}

pub(super) use crate::web::pages::html;
use crate::web::pages::Notice;

pub(super) fn rwf(amount: i64) -> String {
    let digits = amount.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out} RWF")
}

struct Line {
    id: Uuid,
    number: i64,
    name: String,
    codes: i32,
    amount: String,
    expires: String,
    status: super::BatchStatus,
}

#[derive(Template)]
#[template(path = "batches.html")]
struct ListPage {
    shell: Shell,
    batches: Vec<Line>,
    total: i64,
    q: String,
    status: String,
    sort: String,
    sorts: &'static [(&'static str, &'static str)],
    page: i64,
    pages: i64,
    prev: Option<String>,
    next: Option<String>,
    bulk_actions: Vec<(&'static str, &'static str)>,
    can_create: bool,
    /// Who the new batch may be assigned to (empty without `batches.assign`).
    assignees: Vec<(Uuid, String)>,
    max_codes: u32,
    /// The create form's expiry (settings `defaultExpirationDays` from today).
    default_expiry: String,
    /// Settings `autoAssignEnabled`: a batch assigned to nobody goes to its creator.
    auto_assign: bool,
    min_amount: i64,
    max_amount: i64,
    error: Option<String>,
    notice: Option<Notice>,
    refusals: Vec<String>,
}

/// Sort keys of the list (see [`super::list`]) and their labels.
const SORTS: &[(&str, &str)] = &[
    ("-created", "Newest first"),
    ("created", "Oldest first"),
    ("name", "Name A–Z"),
    ("-name", "Name Z–A"),
    ("expires", "Expiry, soonest first"),
    ("-expires", "Expiry, latest first"),
    ("amount", "Amount, lowest first"),
    ("-amount", "Amount, highest first"),
];

pub(super) const PER_PAGE: i64 = 25;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    page: Option<i64>,
}

impl ListQuery {
    /// The list the user was looking at, carried in the bulk form's hidden fields.
    pub(super) fn from_form(form: &crate::web::extract::FormPairs) -> Self {
        let text = |f: &str| form.get(f).map(str::to_owned).filter(|v| !v.is_empty());
        Self {
            q: text("q"),
            status: text("status"),
            sort: text("sort"),
            page: form.get("page").and_then(|p| p.parse().ok()),
        }
    }
}

/// What a bulk action reports back on the list page.
#[derive(Default)]
pub(super) struct ListMessages {
    pub error: Option<String>,
    pub notice: Option<Notice>,
    pub refusals: Vec<String>,
}

pub(super) async fn render_list(
    state: &AppState,
    who: &Principal,
    q: ListQuery,
    status: StatusCode,
    messages: ListMessages,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let sort = q
        .sort
        .clone()
        .filter(|s| SORTS.iter().any(|(k, _)| k == s))
        .unwrap_or_else(|| "-created".to_owned());
    let page = q.page.unwrap_or(1).max(1);
    let f = Filter {
        status: q.status.clone().filter(|s| !s.is_empty()),
        q: q.q.clone(),
        sort: Some(sort.clone()),
        page: page - 1,
        per_page: PER_PAGE,
    };
    let mut conn = state.pool.acquire().await?;
    let (rows, total) = super::list(&mut conn, &f).await?;
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let link = |p: i64| {
        let page = p.to_string();
        let pairs = [
            ("q", q.q.as_deref().unwrap_or("")),
            ("status", q.status.as_deref().unwrap_or("")),
            ("sort", &sort),
            ("page", &page),
        ];
        with_query("/admin/batches", &pairs)
    };
    let batches = rows
        .into_iter()
        .map(|b| Line {
            id: b.id,
            number: b.batch_number,
            name: b.name,
            codes: b.total_codes,
            amount: rwf(b.amount_per_code),
            expires: local_display(b.expiration_date),
            status: b.status,
        })
        .collect();
    let mut bulk_actions = Vec::new();
    if who.can(BatchesStatusChange) {
        bulk_actions.push(("block", "Block"));
        bulk_actions.push(("unblock", "Unblock"));
    }
    if who.can(BatchesDelete) {
        bulk_actions.push(("delete", "Delete"));
    }
    let can_create = who.can(BatchesCreate) && who.can(PromoCodesGenerate);
    let assignees = if can_create && who.can(BatchesAssign) {
        eligible_assignees(&mut conn).await?
    } else {
        Vec::new()
    };
    let page = ListPage {
        shell: Shell::new(who, "/admin/batches", &settings.0.branding.company_name),
        batches,
        total,
        q: q.q.clone().unwrap_or_default(),
        status: q.status.clone().unwrap_or_default(),
        sorts: SORTS,
        prev: (page > 1).then(|| link(page.min(pages) - 1)),
        next: (page < pages).then(|| link(page + 1)),
        sort,
        page,
        pages,
        bulk_actions,
        can_create,
        assignees,
        max_codes: settings.0.business.batch_management.max_codes_per_batch,
        default_expiry: super::default_expiry(&settings.0, state.clock.now()),
        auto_assign: settings.0.business.batch_management.auto_assign_enabled,
        min_amount: settings.0.payments.min_amount,
        max_amount: settings.0.payments.max_amount,
        error: messages.error,
        notice: messages.notice,
        refusals: messages.refusals,
    };
    html(status, &page)
}

async fn list_page(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    render_list(&state, &who, q, StatusCode::OK, ListMessages::default()).await
}

impl TryFrom<&FormPairs> for NewBatch {
    type Error = AppError;

    /// The create form as the same batch the API's `POST` takes (generated at once); the
    /// batch rules themselves are [`super::create`]'s.
    fn try_from(form: &FormPairs) -> Result<Self, AppError> {
        let number = |field: &str| form.get(field).and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(0);
        let assigned_user_id = match form.get("assigned_user_id").map(str::trim).unwrap_or("") {
            "" => None,
            u => Some(
                u.parse::<Uuid>()
                    .map_err(|_| AppError::field("assignedUserId", "choose a staff member"))?,
            ),
        };
        Ok(NewBatch {
            name: form.get("name").unwrap_or("").to_owned(),
            description: form.get("description").unwrap_or("").to_owned(),
            total_codes: number("total_codes"),
            amount_per_code: number("amount_per_code"),
            expires_at: form.get("expires_at").unwrap_or("").to_owned(),
            assigned_user_id,
            generate: true,
        })
    }
}

async fn create(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    form: FormPairs,
) -> Result<Response, AppError> {
    who.require(PromoCodesGenerate)?;
    if form.get("assigned_user_id").is_some_and(|u| !u.trim().is_empty()) {
        who.require(BatchesAssign)?;
    }
    let new = NewBatch::try_from(&form)?;
    let settings = state.settings.get();
    let mut unit = state.unit().await?;
    match super::create(&mut unit, &settings.0, &new, &acting).await {
        Ok((batch, _)) => {
            unit.commit().await?;
            Ok(Redirect::to(&format!("/admin/batches/{}", batch.id)).into_response())
        }
        Err(e) => match crate::web::pages::refusal_message(&e) {
            Some(m) => {
                render_list(
                    &state,
                    &who,
                    ListQuery::default(),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ListMessages {
                        error: Some(m),
                        ..ListMessages::default()
                    },
                )
                .await
            }
            None => Err(e),
        },
    }
}

struct JobLine {
    id: i64,
    percent: i64,
    done: i64,
    total: i64,
    status: String,
}

#[derive(Template)]
#[template(path = "batch.html")]
struct BatchPage {
    shell: Shell,
    /// The batch's audit history, for holders of `audit.logs.read`.
    audit_history: Option<String>,
    batch: super::Batch,
    stats: super::Stats,
    job: Option<JobLine>,
    amount: String,
    expires: String,
    rate: String,
    paid: String,
    pending: String,
    show_money: bool,
    can_download: bool,
    can_import: bool,
    downloads: Vec<(String, String, String, String, i32)>,
    chart: super::chart::Chart,
    assignee: String,
    can_edit: bool,
    can_assign: bool,
    can_delete: bool,
    edit: EditForm,
    assignees: Vec<(Uuid, String, bool)>,
    error: Option<String>,
    top_up: Option<TopUpForm>,
}

/// The top-up form: how many more codes the batch may take, and the server's word on the last try.
pub(super) struct TopUpForm {
    pub room: i64,
    pub count: String,
    pub error: Option<String>,
}

/// The edit form's values and the errors the server found in them.
#[derive(Default)]
pub(super) struct EditForm {
    pub name: String,
    pub description: String,
    pub expires_at: String,
    pub amount_per_code: String,
    pub errors: Vec<FieldError>,
}

impl EditForm {
    fn of(b: &super::Batch) -> Self {
        Self {
            name: b.name.clone(),
            description: b.description.clone(),
            expires_at: b
                .expiration_date
                .with_timezone(&kigali())
                .format("%Y-%m-%d")
                .to_string(),
            amount_per_code: b.amount_per_code.to_string(),
            errors: Vec::new(),
        }
    }

    /// The message for `field`, if the server refused it.
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

/// Staff who may be assigned batches (they hold `batches.update`).
async fn eligible_assignees(conn: &mut sqlx::PgConnection) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "select distinct u.id, coalesce(nullif(u.full_name, ''), u.email::text, u.id::text) as label from users u \
         join user_role_assignments ura on ura.user_id = u.id join role_permissions rp on rp.role_id = ura.role_id \
         join permissions p on p.id = rp.permission_id \
         where p.key = 'batches.update' and u.is_active and u.approval_status = 'approved' and u.kind = 'staff' \
         order by 2 limit 500",
    )
    .fetch_all(conn)
    .await
}

async fn batch_page(State(state): State<AppState>, who: Principal, Path(id): Path<Uuid>) -> Result<Response, AppError> {
    render_batch(&state, &who, id, StatusCode::OK, None, None).await
}

/// The batch page; after a refused form, with that form's values and errors (`edit`) or a
/// message (`error`).
pub(super) async fn render_batch(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    status: StatusCode,
    edit: Option<EditForm>,
    error: Option<String>,
) -> Result<Response, AppError> {
    render_batch_with(state, who, id, status, edit, error, None).await
}

/// The batch page after a refused top-up: the count asked for and the reason, beside the field.
pub(super) async fn render_batch_top_up(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    status: StatusCode,
    count: String,
    message: String,
) -> Result<Response, AppError> {
    render_batch_with(state, who, id, status, None, None, Some((count, message))).await
}

async fn render_batch_with(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    status: StatusCode,
    edit: Option<EditForm>,
    error: Option<String>,
    refused_top_up: Option<(String, String)>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let batch = super::get(&mut conn, id).await?;
    let stats = super::stats(&mut conn, id, state.clock.now()).await?;
    let job_id: Option<i64> =
        sqlx::query_scalar("select id from jobs where kind = $1 and payload->>'batchId' = $2 order by id desc limit 1")
            .bind(crate::codes::generate::KIND)
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    let job = match job_id {
        Some(j) => {
            let v = crate::jobs::get(&mut conn, j).await?;
            // a finished generation needs no bar
            (v.status != "succeeded").then(|| JobLine {
                id: v.id,
                percent: v.percent().unwrap_or(0.0) as i64,
                done: v.progress_done.unwrap_or(0),
                total: v.progress_total.unwrap_or(i64::from(batch.total_codes)),
                status: v.status.to_string(),
            })
        }
        None => None,
    };
    let downloads = super::downloads(&mut conn, id)
        .await?
        .into_iter()
        .map(|d| {
            let range = match (d.serial_from, d.serial_to) {
                (None, None) => "all".to_owned(),
                (f, t) => format!(
                    "{}–{}",
                    f.unwrap_or(1),
                    t.map_or_else(|| "last".to_owned(), |t| t.to_string())
                ),
            };
            (local_display(d.at), d.by.unwrap_or_default(), d.format, range, d.codes)
        })
        .collect();
    let can_assign = who.can(BatchesAssign);
    let assignees = if can_assign {
        eligible_assignees(&mut conn)
            .await?
            .into_iter()
            .map(|(u, label)| (u, label, batch.assigned_user_id == Some(u)))
            .collect()
    } else {
        Vec::new()
    };
    let assignee = match batch.assigned_user_id {
        None => "nobody".to_owned(),
        Some(u) => sqlx::query_scalar::<_, String>(
            "select coalesce(nullif(full_name, ''), email::text, id::text) from users where id = $1",
        )
        .bind(u)
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or_else(|| u.to_string()),
    };
    let settings = state.settings.get();
    let top_up = if who.can(PromoCodesGenerate) && batch.status == "active" {
        let room = super::topup::room(&mut conn, &settings.0, id).await?;
        let (count, error) = refused_top_up.map_or((String::new(), None), |(c, m)| (c, Some(m)));
        Some(TopUpForm { room, count, error })
    } else {
        None
    };
    let page = BatchPage {
        audit_history: crate::audit::pages::history_link(who, "batch", id),
        shell: Shell::new(who, "/admin/batches", &settings.0.branding.company_name),
        amount: rwf(batch.amount_per_code),
        expires: local_display_or(Some(batch.expiration_date), ""),
        rate: format!("{:.1} %", stats.redemption_rate * 100.0),
        paid: rwf(stats.amount_paid),
        pending: rwf(stats.amount_pending),
        show_money: who.can(DisbursementsRead),
        can_download: who.can(PromoCodesDownload),
        can_import: who.can(PromoCodesImport),
        chart: super::chart::layout(&stats.redemptions_by_day),
        assignee,
        can_edit: who.can(BatchesUpdate),
        can_assign,
        can_delete: who.can(BatchesDelete),
        edit: edit.unwrap_or_else(|| EditForm::of(&batch)),
        assignees,
        error,
        top_up,
        batch,
        stats,
        job,
        downloads,
    };
    html(status, &page)
}
