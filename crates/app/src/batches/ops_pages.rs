//! The batch pages' forms: edit, assign, top up and delete on the batch page, and the list's bulk
//! bar.
//! They call the same domain functions as the API, so the page and the API share every rule; a
//! refused form comes back with its values and the server's messages.

use crate::web::extract::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use super::ops::{self, BatchChanges, BulkAction, Done};
use super::pages::{render_batch, render_batch_top_up, render_list, EditForm, ListMessages, ListQuery};
use crate::access::Permission::{self, *};
use crate::error::{AppError, FieldError};
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::FormPairs;
use crate::web::pages::{refusal_message, Notice};
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

const BULK: &[Permission] = &[BatchesStatusChange, BatchesDelete];

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(POST "/admin/batches/bulk", Access::AnyOf(BULK), bulk),
        route!(POST "/admin/batches/{id}/edit", Access::Permission(BatchesUpdate), edit),
        route!(POST "/admin/batches/{id}/assign", Access::Permission(BatchesAssign), assign),
        route!(POST "/admin/batches/{id}/delete", Access::Permission(BatchesDelete), delete),
        route!(POST "/admin/batches/{id}/top-up", Access::Permission(PromoCodesGenerate), top_up),
    ]
}

fn back_to(id: Uuid) -> Response {
    Redirect::to(&format!("/admin/batches/{id}")).into_response()
}

async fn edit(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let text = |f: &str| form.get(f).unwrap_or("").to_owned();
    let mut shown = EditForm {
        name: text("name"),
        description: text("description"),
        expires_at: text("expires_at"),
        amount_per_code: text("amount_per_code"),
        errors: Vec::new(),
    };
    let result = match BatchChanges::try_from(&form) {
        Ok(changes) => {
            let settings = state.settings.get();
            let mut unit = state.unit().await?;
            match ops::update(&mut unit, &settings.0, id, &changes, &acting).await {
                Ok(_) => unit.commit().await,
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(back_to(id)),
        Err(AppError::Validation(errors)) => {
            shown.errors = errors;
            render_batch(&state, &who, id, StatusCode::UNPROCESSABLE_ENTITY, Some(shown), None).await
        }
        Err(AppError::Conflict { message, field }) => {
            shown.errors = vec![FieldError::new(field.unwrap_or_default(), message)];
            render_batch(&state, &who, id, StatusCode::CONFLICT, Some(shown), None).await
        }
        Err(e) => Err(e),
    }
}

async fn assign(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let user = match form.get("user_id").map(str::trim).unwrap_or("") {
        "" => None,
        u => Some(
            u.parse::<Uuid>()
                .map_err(|_| AppError::field("userId", "choose a staff member"))?,
        ),
    };
    let mut unit = state.unit().await?;
    match ops::assign(&mut unit, id, user, &acting).await {
        Ok(_) => {
            unit.commit().await?;
            Ok(back_to(id))
        }
        Err(e) => refused(&state, &who, id, e).await,
    }
}

impl TryFrom<&FormPairs> for BatchChanges {
    type Error = AppError;

    /// The edit form as the same changes the API's `PUT` takes (every field given; an empty
    /// expiry or amount leaves it as it is).
    fn try_from(form: &FormPairs) -> Result<Self, AppError> {
        let text = |f: &str| form.get(f).unwrap_or("").to_owned();
        let amount_per_code = match form.get("amount_per_code").unwrap_or("").trim() {
            "" => None,
            a => Some(
                a.parse::<i64>()
                    .map_err(|_| AppError::field("amountPerCode", "must be a whole number of francs"))?,
            ),
        };
        Ok(BatchChanges {
            name: Some(text("name")),
            description: Some(text("description")),
            expires_at: Some(text("expires_at")).filter(|e| !e.trim().is_empty()),
            amount_per_code,
        })
    }
}

/// Generates more codes into the batch (the same use case as the API's top-up); back on the
/// batch page, the progress bar follows the job.
async fn top_up(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let asked = form.get("count").unwrap_or("").trim().to_owned();
    let Ok(count) = asked.parse::<i64>() else {
        let m = "Give the number of codes to add, a whole number.".to_owned();
        return render_batch_top_up(&state, &who, id, StatusCode::UNPROCESSABLE_ENTITY, asked, m).await;
    };
    let settings = state.settings.get();
    let mut unit = state.unit().await?;
    let t = super::topup::TopUp { batch_id: id, count };
    match super::topup::top_up(&mut unit, &settings.0, t, &acting).await {
        Ok(_) => {
            unit.commit().await?;
            Ok(back_to(id))
        }
        Err(AppError::Validation(errors)) => {
            let m = errors.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("; ");
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_batch_top_up(&state, &who, id, status, asked, format!("The number of codes {m}.")).await
        }
        Err(AppError::Conflict { message, .. }) => {
            let m = format!("Not now: {message}.");
            render_batch_top_up(&state, &who, id, StatusCode::CONFLICT, asked, m).await
        }
        Err(e) => Err(e),
    }
}

async fn delete(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    match ops::delete(&mut unit, id, &acting).await {
        Ok(_) => {
            unit.commit().await?;
            Ok(Redirect::to("/admin/batches").into_response())
        }
        Err(e) => refused(&state, &who, id, e).await,
    }
}

/// The batch page again with the reason a form was refused, or the error page.
async fn refused(state: &AppState, who: &Principal, id: Uuid, e: AppError) -> Result<Response, AppError> {
    match (&e, refusal_message(&e)) {
        (AppError::NotFound(_), _) | (_, None) => Err(e),
        (_, Some(m)) => render_batch(state, who, id, e.status(), None, Some(m)).await,
    }
}

async fn bulk(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    form: FormPairs,
) -> Result<Response, AppError> {
    let Some(action) = form.get("action").and_then(BulkAction::parse) else {
        return Err(AppError::field("action", "choose block, unblock or delete"));
    };
    who.require(action.permission())?;
    let checked = form.uuids("ids").and_then(|ids| ops::check_bulk(&ids, action, None));
    let ids = match checked {
        Ok(ids) => ids,
        Err(e) => {
            let messages = ListMessages {
                error: refusal_message(&e),
                ..ListMessages::default()
            };
            return render_list(
                &state,
                &who,
                ListQuery::from_form(&form),
                StatusCode::UNPROCESSABLE_ENTITY,
                messages,
            )
            .await;
        }
    };
    let names: Vec<(Uuid, String)> = sqlx::query_as("select id, name from batches where id = any($1)")
        .bind(&ids)
        .fetch_all(&state.pool)
        .await?;
    let outcomes = ops::bulk(&state.pool, &ids, action, None, &acting).await?;
    let name = |id: Uuid| {
        names
            .iter()
            .find(|(i, _)| *i == id)
            .map_or_else(|| id.to_string(), |(_, n)| n.clone())
    };
    let done = outcomes.iter().filter(|o| o.outcome == Done::Ok).count();
    let verb = match action {
        BulkAction::Block => "Blocked",
        BulkAction::Unblock => "Unblocked",
        BulkAction::Delete => "Deleted",
        BulkAction::Status => "Changed",
    };
    let messages = ListMessages {
        error: None,
        notice: Some(Notice::done(format!("{verb} {done} of {} batch(es).", outcomes.len()))),
        refusals: outcomes
            .iter()
            .filter(|o| o.outcome != Done::Ok)
            .map(|o| format!("{}: {}", name(o.id), o.reason.as_deref().unwrap_or("refused")))
            .collect(),
    };
    render_list(&state, &who, ListQuery::from_form(&form), StatusCode::OK, messages).await
}
