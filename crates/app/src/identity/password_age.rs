//! Password age (`security.passwordMaxAgeDays`): at sign-in, a password older than that leaves
//! the session in the `password_expired` stage, where the only page is this one: choose a new
//! password (the usual policy, audited as any change), then the session is complete.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::account::{self, PasswordChange};
use super::session::{self, Stage};
use super::setup_links::Holder;
use crate::audit::{Actor, RequestMeta};
use crate::error::{AppError, FieldError};
use crate::route;
use crate::settings::model::SecuritySettings;
use crate::unit::Acting;
use crate::web::auth::PartialSession;
use crate::web::extract::Form;
use crate::web::pages::html as render;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub const PAGE: &str = "/sign-in/password";

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/sign-in/password", Access::PartialSession, page),
        route!(POST "/sign-in/password", Access::PartialSession, change),
    ]
}

/// Whether `user_id`'s password is older than the settings allow (never when the age is 0). A
/// password never changed counts from the account's creation.
pub async fn expired(
    conn: &mut PgConnection,
    security: &SecuritySettings,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    if security.password_max_age_days == 0 {
        return Ok(false);
    }
    let set_at: Option<DateTime<Utc>> =
        sqlx::query_scalar("select coalesce(password_changed_at, created_at) from users where id = $1")
            .bind(user_id)
            .fetch_optional(conn)
            .await?;
    let max_age = Duration::days(i64::from(security.password_max_age_days));
    Ok(set_at.is_some_and(|t| t + max_age <= now))
}

#[derive(Template)]
#[template(path = "sign_in_password.html")]
struct Page<'a> {
    csrf: &'a str,
    max_age_days: u32,
    min_len: u32,
    errors: Vec<FieldError>,
}

impl Page<'_> {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

async fn page(State(state): State<AppState>, PartialSession(s): PartialSession) -> Result<Response, AppError> {
    if s.stage != Stage::PasswordExpired {
        return Ok(Redirect::to("/sign-in/verify").into_response());
    }
    let settings = state.settings.get();
    let security = &settings.0.security;
    let now = state.clock.now();
    let mut conn = state.pool.acquire().await?;
    if !expired(&mut conn, security, s.user_id, now).await? {
        // the age was raised (or turned off) since: nothing to change any more
        session::set_stage(&mut conn, s.id, Stage::Full, now).await?;
        return Ok(Redirect::to("/").into_response());
    }
    render(
        StatusCode::OK,
        &Page {
            csrf: &s.csrf_token,
            max_age_days: security.password_max_age_days,
            min_len: security.password_min_length,
            errors: Vec::new(),
        },
    )
}

async fn change(
    State(state): State<AppState>,
    PartialSession(s): PartialSession,
    meta: RequestMeta,
    Form(form): Form<PasswordChange>,
) -> Result<Response, AppError> {
    if s.stage != Stage::PasswordExpired {
        return Ok(Redirect::to("/sign-in/verify").into_response());
    }
    let settings = state.settings.get();
    let security = &settings.0.security;
    let refused = |errors: Vec<FieldError>| {
        render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &Page {
                csrf: &s.csrf_token,
                max_age_days: security.password_max_age_days,
                min_len: security.password_min_length,
                errors,
            },
        )
    };
    if form.new_password == form.current {
        return refused(vec![FieldError::new(
            "new_password",
            "must differ from the expired one",
        )]);
    }
    let actor = Actor::User {
        user_id: s.user_id,
        session_id: Some(s.id),
    };
    let acting = Acting::new(actor, meta, state.clock.now());
    let holder = Holder {
        user_id: s.user_id,
        email: &s.email,
        full_name: &s.full_name,
    };
    let mut unit = state.unit().await?;
    match account::change_password(
        &mut unit,
        &holder,
        Some(s.id),
        form,
        security.password_min_length,
        &acting,
    )
    .await
    {
        Ok(_) => {}
        Err(AppError::Validation(errors)) => return refused(errors),
        Err(e) => return Err(e),
    }
    session::set_stage(&mut unit, s.id, Stage::Full, acting.now).await?;
    unit.commit().await?;
    Ok(Redirect::to("/").into_response())
}
