//! The "My account" page: profile, password, sessions, two-factor.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Duration;
use serde::Deserialize;
use uuid::Uuid;

use super::account::{self, PasswordChange};
use super::mfa;
use super::session;
use super::setup_links::Holder;
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{Form, Path, Query};
use crate::web::pages::{html, Notice};
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/account", Access::OwnAccount, account_page),
        route!(POST "/account/password", Access::OwnAccount, change_password),
        route!(POST "/account/sessions/{id}/revoke", Access::OwnAccount, revoke_session),
        route!(POST "/account/mfa/re-enrol", Access::OwnAccount, re_enrol),
        route!(POST "/account/alert-phone", Access::OwnAccount, set_alert_phone),
    ]
}

struct SessionRow {
    id: Uuid,
    created: String,
    last_seen: String,
    ip: String,
    user_agent: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    shell: Shell,
    roles: Vec<String>,
    sessions: Vec<SessionRow>,
    current_session: Option<Uuid>,
    backup_left: i64,
    min_len: u32,
    notice: Option<Notice>,
    /// The alert-SMS number shown in its form (as stored, or as typed when refused).
    alert_phone: String,
    alert_phone_error: Option<String>,
}

/// The alert-phone form as typed and why it was refused.
struct Refused {
    typed: String,
    error: String,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

async fn account_page(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, AppError> {
    let notice = match q.notice.as_deref() {
        Some("password") => Some(Notice::done(
            "Your password was changed and your other sessions were signed out.",
        )),
        Some("session") => Some(Notice::done("That session was signed out.")),
        Some("alert-phone") => Some(Notice::done("Your number for alert SMS was saved.")),
        _ => None,
    };
    account(&state, &who, StatusCode::OK, notice, None).await
}

async fn account(
    state: &AppState,
    who: &Principal,
    status: StatusCode,
    notice: Option<Notice>,
    refused: Option<Refused>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let now = state.clock.now();
    let mut conn = state.pool.acquire().await?;
    let idle = Duration::minutes(i64::from(settings.0.security.idle_timeout_minutes));
    let fmt = crate::clock::local_display;
    let sessions = session::list_active(&mut conn, who.user_id, idle, now)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            id: s.id,
            created: fmt(s.created_at),
            last_seen: fmt(s.last_seen_at),
            ip: s.ip.unwrap_or_else(|| "-".into()),
            user_agent: s.user_agent.unwrap_or_else(|| "-".into()),
        })
        .collect();
    let roles: Vec<String> = sqlx::query_scalar(
        "select r.name from user_role_assignments a join roles r on r.id = a.role_id where a.user_id = $1 order by r.name",
    )
    .bind(who.user_id)
    .fetch_all(&mut *conn)
    .await?;
    let (alert_phone, alert_phone_error) = match refused {
        Some(r) => (r.typed, Some(r.error)),
        None => (
            account::alert_phone(&mut conn, who.user_id).await?.unwrap_or_default(),
            None,
        ),
    };
    let page = AccountPage {
        alert_phone,
        alert_phone_error,
        shell: Shell::new(who, "/account", &settings.0.branding.company_name),
        roles,
        sessions,
        current_session: who.session_id(),
        backup_left: mfa::backup_codes_left(&mut conn, who.user_id).await?,
        min_len: settings.0.security.password_min_length,
        notice,
    };
    html(status, &page)
}

/// The password form's refusal, in a sentence.
fn password_refusal(e: &AppError) -> Option<String> {
    let AppError::Validation(errors) = e else { return None };
    errors.first().map(|f| match f.field.as_str() {
        "current" => "The current password is not right.".to_owned(),
        "confirm" => "The two new passwords differ.".to_owned(),
        _ => format!("The new password {}.", f.message),
    })
}

async fn change_password(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Form(form): Form<PasswordChange>,
) -> Result<Response, AppError> {
    let min_len = state.settings.get().0.security.password_min_length;
    let holder = Holder {
        user_id: who.user_id,
        email: &who.email,
        full_name: &who.name,
    };
    let mut unit = state.unit().await?;
    match account::change_password(&mut unit, &holder, who.session_id(), form, min_len, &acting).await {
        Ok(_) => {
            unit.commit().await?;
            Ok(Redirect::to("/account?notice=password").into_response())
        }
        Err(e) => match password_refusal(&e) {
            Some(m) => {
                account(
                    &state,
                    &who,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(Notice::refused(m)),
                    None,
                )
                .await
            }
            None => Err(e),
        },
    }
}

async fn revoke_session(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    account::revoke_session(&mut unit, who.user_id, id, &acting).await?;
    unit.commit().await?;
    Ok(Redirect::to("/account?notice=session").into_response())
}

#[derive(Deserialize)]
pub struct ReEnrolForm {
    backup_code: String,
}

/// Moving two-factor to a new phone: prove possession with a backup code, then enrol afresh.
async fn re_enrol(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Form(form): Form<ReEnrolForm>,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    let code = &form.backup_code;
    if !account::re_enrol(&mut unit, &state.keys, who.user_id, who.session_id(), code, &acting).await? {
        drop(unit);
        let notice = Notice::refused("That backup code is not right or was already used.");
        return account(&state, &who, StatusCode::UNAUTHORIZED, Some(notice), None).await;
    }
    unit.commit().await?;
    Ok(Redirect::to("/sign-in/enrol").into_response())
}

#[derive(Deserialize)]
pub struct AlertPhoneForm {
    #[serde(default)]
    alert_phone: String,
}

/// Saves the holder's number for alert SMS; refused, the page again with the message beside it.
async fn set_alert_phone(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Form(form): Form<AlertPhoneForm>,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    match account::set_alert_phone(&mut unit, who.user_id, &form.alert_phone, &acting).await {
        Ok(_) => {
            unit.commit().await?;
            Ok(Redirect::to("/account?notice=alert-phone").into_response())
        }
        Err(AppError::Validation(errors)) => {
            drop(unit);
            let error = errors.first().map(|f| f.message.clone()).unwrap_or_default();
            let refused = Refused {
                typed: form.alert_phone,
                error,
            };
            account(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, None, Some(refused)).await
        }
        Err(e) => Err(e),
    }
}
