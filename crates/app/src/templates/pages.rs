//! The template editor in the panel, under Settings: `/admin/settings/templates` lists every
//! template by event; a template's page edits its subject (e-mail) and text, with a live preview
//! that `app.js` asks of the preview endpoint as the text is typed (the form works without it:
//! saving shows the same problems beside the fields), and resets it to the default wording.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::catalogue::Event;
use super::service::{self, Preview, PreviewRequest, TemplateChange, TemplateView};
use crate::access::Permission::{SystemSettingsRead, SystemSettingsUpdate};
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{Form, Path, Query};
use crate::web::pages::html;
use crate::web::routes::{path_segment, Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/settings/templates", Access::Permission(SystemSettingsRead), index),
        route!(GET "/admin/settings/templates/{key}/{channel}/{locale}", Access::Permission(SystemSettingsRead), edit),
        route!(POST "/admin/settings/templates/{key}/{channel}/{locale}", Access::Permission(SystemSettingsUpdate), save),
        route!(POST "/admin/settings/templates/{key}/{channel}/{locale}/reset", Access::Permission(SystemSettingsUpdate), reset),
    ]
}

fn shell(state: &AppState, who: &Principal) -> Shell {
    Shell::new(who, "/admin/settings", &state.settings.get().0.branding.company_name)
}

fn href(t: &TemplateView) -> String {
    format!(
        "/admin/settings/templates/{}/{}/{}",
        path_segment(t.key),
        t.channel.as_str(),
        t.locale
    )
}

struct Line {
    href: String,
    title: String,
    channel: &'static str,
    locale: &'static str,
    audience: &'static str,
    is_default: bool,
    updated: String,
}

struct Group {
    title: &'static str,
    lines: Vec<Line>,
}

#[derive(Template)]
#[template(path = "templates.html")]
struct IndexPage {
    shell: Shell,
    groups: Vec<Group>,
}

async fn index(State(state): State<AppState>, who: Principal) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let all = service::list(&mut conn).await?;
    let groups = Event::ALL
        .iter()
        .map(|e| Group {
            title: e.title(),
            lines: all
                .iter()
                .filter(|t| t.event == e.title())
                .map(|t| Line {
                    href: href(t),
                    title: t.title.to_owned(),
                    channel: t.channel.label(),
                    locale: language(t.locale),
                    audience: t.audience,
                    is_default: t.is_default,
                    updated: match &t.updated_by {
                        Some(by) => format!("{} by {by}", crate::clock::local_display(t.updated_at)),
                        None => String::new(),
                    },
                })
                .collect(),
        })
        .collect();
    html(
        StatusCode::OK,
        &IndexPage {
            shell: shell(&state, &who),
            groups,
        },
    )
}

fn language(locale: &str) -> &'static str {
    if locale == "rw" {
        "Kinyarwanda"
    } else {
        "English"
    }
}

#[derive(Template)]
#[template(path = "template_edit.html")]
struct EditPage {
    shell: Shell,
    t: TemplateView,
    href: String,
    language: &'static str,
    /// The form as typed (the stored text until a refused save).
    subject: String,
    body: String,
    preview: Preview,
    can_update: bool,
    saved: bool,
    defaults: (Option<&'static str>, &'static str),
}

impl EditPage {
    fn error_for(&self, field: &str) -> Option<String> {
        self.preview
            .problems
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
    }

    fn segments_line(&self) -> String {
        let c = &self.preview.cost;
        let enc = match c.encoding {
            Some(super::render::Encoding::Gsm7) => "GSM-7",
            Some(super::render::Encoding::Ucs2) => "UCS-2",
            None => "",
        };
        match (c.segments, c.limit) {
            (Some(n), _) => format!(
                "{enc}: {} characters, {n} SMS ({} characters each)",
                c.characters,
                c.per_segment.unwrap_or_default()
            ),
            (None, Some(limit)) => format!("{enc}: {} of {limit} characters on one screen", c.characters),
            _ => format!("{} characters", c.characters),
        }
    }
}

#[derive(Deserialize)]
struct EditQuery {
    #[serde(default)]
    saved: Option<String>,
}

#[derive(Deserialize)]
struct EditForm {
    #[serde(default)]
    subject: Option<String>,
    body: String,
}

async fn render(
    state: &AppState,
    who: &Principal,
    t: TemplateView,
    typed: Option<(Option<String>, String)>,
    saved: bool,
) -> Result<Response, AppError> {
    let (subject, body) = typed.unwrap_or_else(|| (t.subject.clone(), t.body.clone()));
    let preview = service::preview(&PreviewRequest {
        key: t.key.to_owned(),
        channel: t.channel.as_str().to_owned(),
        locale: t.locale.to_owned(),
        subject: subject.clone(),
        body: body.clone(),
    })?;
    let lang = crate::ussd::messages::Lang::parse(t.locale).unwrap_or(crate::ussd::messages::Lang::En);
    let defaults = super::catalogue::find(t.key, t.channel)
        .map(|e| e.default(lang))
        .unwrap_or((None, ""));
    let status = if preview.problems.is_empty() || typed_is_stored(&t, &subject, &body) {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = EditPage {
        shell: shell(state, who),
        href: href(&t),
        language: language(t.locale),
        subject: subject.unwrap_or_default(),
        body,
        preview,
        can_update: who.can(SystemSettingsUpdate),
        saved,
        defaults,
        t,
    };
    html(status, &page)
}

fn typed_is_stored(t: &TemplateView, subject: &Option<String>, body: &str) -> bool {
    t.subject == *subject && t.body == body
}

async fn edit(
    State(state): State<AppState>,
    who: Principal,
    Path((key, channel, locale)): Path<(String, String, String)>,
    Query(q): Query<EditQuery>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let t = service::get(&mut conn, &key, &channel, &locale).await?;
    drop(conn);
    render(&state, &who, t, None, q.saved.is_some()).await
}

async fn save(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path((key, channel, locale)): Path<(String, String, String)>,
    Form(form): Form<EditForm>,
) -> Result<Response, AppError> {
    let change = TemplateChange {
        subject: form.subject.clone(),
        body: form.body.clone(),
    };
    let mut unit = state.unit().await?;
    match service::save(&mut unit, &key, &channel, &locale, &change, &acting).await {
        Ok(t) => {
            unit.commit().await?;
            super::api::refresh(&state).await;
            Ok(Redirect::to(&format!("{}?saved=1", href(&t))).into_response())
        }
        Err(AppError::Validation(_)) => {
            drop(unit);
            let mut conn = state.pool.acquire().await?;
            let t = service::get(&mut conn, &key, &channel, &locale).await?;
            drop(conn);
            let subject = form.subject.filter(|_| t.channel == super::Channel::Email);
            render(&state, &who, t, Some((subject, form.body)), false).await
        }
        Err(e) => Err(e),
    }
}

async fn reset(
    State(state): State<AppState>,
    acting: Acting,
    Path((key, channel, locale)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let mut unit = state.unit().await?;
    let t = service::reset(&mut unit, &key, &channel, &locale, &acting).await?;
    unit.commit().await?;
    super::api::refresh(&state).await;
    Ok(Redirect::to(&format!("{}?saved=1", href(&t))).into_response())
}
