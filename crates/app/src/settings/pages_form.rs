//! A category's page, generated from the registry, and its two-step save: the form is posted,
//! read into the category's patch and checked as the API checks it (nothing applied), and a
//! preview lists each difference in words and asks for a reason; confirming applies the very
//! change that was previewed (carried sealed with the instance's key, so a secret being
//! replaced is never written into the page) from the version the editor started at.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::form::{self, field_name, leaf, Line, Posted, Spec};
use super::pages::{may_update, readable, shell, updatable, READERS, UPDATERS};
use super::registry::{self, Input, Item};
use super::{preview, update_many, view, Category, Change};
use crate::error::{AppError, FieldError};
use crate::route;
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{FormPairs, Path, Query};
use crate::web::pages::{html, refusal_message, Notice};
use crate::web::routes::{Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/settings/{category}", Access::AnyOf(READERS), category_page),
        route!(POST "/admin/settings/{category}", Access::AnyOf(UPDATERS), preview_change),
        route!(POST "/admin/settings/{category}/confirm", Access::AnyOf(UPDATERS), confirm_change),
    ]
}

/// One field as the template draws it.
pub struct FieldView {
    pub name: String,
    pub id: String,
    pub label: String,
    pub help: String,
    /// text, long, color, number, toggle, select, list, secret, url, email, image, localized, time
    pub kind: &'static str,
    pub value: String,
    pub value_rw: String,
    pub checked: bool,
    pub options: Vec<(String, bool)>,
    pub min: String,
    pub max: String,
    /// The bounds in words: `From 1 to 10,000,000 RWF.`
    pub range: String,
    pub unit: &'static str,
    /// 0: no limit.
    pub maxlength: u32,
    /// What a list holds, in words.
    pub list_note: String,
    pub secret_set: bool,
    pub later: Option<u32>,
    pub errors: Vec<String>,
}

pub struct SectionView {
    pub title: String,
    pub fields: Vec<FieldView>,
}

fn list_note(item: Item, max: u32) -> String {
    let what = match item {
        Item::Text { .. } => "item",
        Item::Cidr => "IP address or CIDR range (10.0.0.0/8)",
        Item::Email => "e-mail address",
        Item::Origin => "origin (https://host)",
        Item::Language => "language code (en, rw)",
        Item::Number { .. } => "whole number",
        Item::Select(_) => "choice",
    };
    let choices = match item {
        Item::Select(o) => format!(" Choices: {}.", o.join(", ")),
        _ => String::new(),
    };
    format!("One {what} per line, at most {max}.{choices}")
}

fn field_view(
    category: Category,
    spec: &Spec,
    values: &Value,
    posted: Option<&Posted>,
    errors: &[FieldError],
) -> FieldView {
    let name = field_name(category, &spec.path);
    let v = leaf(values, &spec.path);
    let raw = posted.and_then(|p| p.raw.get(&name)).cloned();
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut f = FieldView {
        id: format!("f-{}", name.replace(['.', '[', ']'], "-")),
        label: spec.label.clone(),
        help: spec.help.clone(),
        kind: "text",
        value: raw.clone().unwrap_or_else(|| text(v)),
        value_rw: String::new(),
        checked: v.as_bool().unwrap_or(false),
        options: Vec::new(),
        min: String::new(),
        max: String::new(),
        range: String::new(),
        unit: "",
        maxlength: 0,
        list_note: String::new(),
        secret_set: false,
        later: spec.later,
        errors: errors
            .iter()
            .filter(|e| {
                e.field == name
                    || e.field
                        .strip_prefix(name.as_str())
                        .is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
            })
            .map(|e| {
                let at = e.field.strip_prefix(name.as_str()).unwrap_or_default();
                match at
                    .strip_prefix('[')
                    .and_then(|r| r.strip_suffix(']'))
                    .and_then(|i| i.parse::<usize>().ok())
                {
                    Some(i) => format!("line {}: {}", i + 1, e.message),
                    None => e.message.clone(),
                }
            })
            .collect(),
        name,
    };
    match spec.input {
        Input::Text { max } => f.maxlength = max,
        Input::LongText { max } => {
            f.kind = "long";
            f.maxlength = max;
        }
        Input::Color => f.kind = "color",
        Input::Number { min, max, unit } => {
            f.kind = "number";
            f.min = min.to_string();
            f.max = max.to_string();
            f.range = format!(
                "From {} to {}.",
                super::form::grouped(min),
                super::form::with_unit(max, unit)
            );
            f.unit = unit;
        }
        Input::Toggle => f.kind = "toggle",
        Input::Select(opts) => {
            f.kind = "select";
            f.options = opts.iter().map(|o| ((*o).to_owned(), f.value == *o)).collect();
        }
        Input::List { item, max } => {
            f.kind = "list";
            f.list_note = list_note(item, max);
            if raw.is_none() {
                f.value = v
                    .as_array()
                    .map(|items| items.iter().map(text).collect::<Vec<_>>().join("\n"))
                    .unwrap_or_default();
            }
        }
        Input::Secret => {
            f.kind = "secret";
            f.secret_set = !v.is_null();
            // never the value, nor its mask
            f.value = String::new();
        }
        Input::Url { .. } => f.kind = "url",
        Input::Email => f.kind = "email",
        Input::Image => f.kind = "image",
        Input::Localized { max } => {
            f.kind = "localized";
            f.maxlength = max;
            f.value = text(&v["en"]);
            f.value_rw = text(&v["rw"]);
        }
        Input::Time => f.kind = "time",
    }
    f
}

fn section_views(
    category: Category,
    values: &Value,
    posted: Option<&Posted>,
    errors: &[FieldError],
) -> Vec<SectionView> {
    form::sections(category)
        .into_iter()
        .map(|s| SectionView {
            fields: s
                .specs
                .iter()
                .map(|spec| field_view(category, spec, values, posted, errors))
                .collect(),
            title: s.title,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "settings_category.html")]
struct CategoryPage {
    shell: Shell,
    slug: &'static str,
    title: &'static str,
    summary: &'static str,
    sections: Vec<SectionView>,
    version: i64,
    can_update: bool,
    notice: Option<Notice>,
    /// Errors that belong to no field of the form.
    other_errors: Vec<String>,
}

struct Shown<'a> {
    values: Value,
    version: i64,
    posted: Option<&'a Posted>,
    errors: Vec<FieldError>,
    notice: Option<Notice>,
}

fn render_form(
    state: &AppState,
    who: &Principal,
    c: Category,
    status: StatusCode,
    shown: Shown<'_>,
) -> Result<Response, AppError> {
    let doc = registry::of(c);
    let sections = section_views(c, &shown.values, shown.posted, &shown.errors);
    let on_form: Vec<&str> = sections
        .iter()
        .flat_map(|s| s.fields.iter())
        .map(|f| f.name.as_str())
        .collect();
    let other_errors = shown
        .errors
        .iter()
        .filter(|e| {
            !on_form.iter().any(|n| {
                e.field == *n
                    || e.field
                        .strip_prefix(n)
                        .is_some_and(|r| r.starts_with('[') || r.starts_with('.'))
            })
        })
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect();
    let page = CategoryPage {
        shell: shell(state, who),
        slug: c.as_str(),
        title: doc.title,
        summary: doc.summary,
        sections,
        version: shown.version,
        can_update: may_update(who, c),
        notice: shown.notice,
        other_errors,
    };
    html(status, &page)
}

/// The form as stored now, at the current version.
fn render_current(
    state: &AppState,
    who: &Principal,
    c: Category,
    status: StatusCode,
    notice: Option<Notice>,
) -> Result<Response, AppError> {
    let current = state.settings.get();
    let shown = Shown {
        values: view(&current.0, c),
        version: current.1,
        posted: None,
        errors: Vec::new(),
        notice,
    };
    render_form(state, who, c, status, shown)
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    saved: Option<i64>,
}

async fn category_page(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let c = readable(&who, &name)?;
    let notice = q.saved.map(|v| Notice::done(format!("Saved as version {v}.")));
    render_current(&state, &who, c, StatusCode::OK, notice)
}

/// The base version a form was loaded at.
fn base_version(form: &FormPairs) -> Result<i64, AppError> {
    form.get("base_version")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| AppError::field("base_version", "is missing: reload the page"))
}

#[derive(Template)]
#[template(path = "settings_preview.html")]
struct PreviewPage {
    shell: Shell,
    slug: &'static str,
    title: &'static str,
    lines: Vec<Line>,
    payload: String,
    reason: String,
    reason_error: Option<String>,
    /// The change would refuse the editor's own address: say so, and ask them to tick that
    /// they mean it.
    lockout: Option<String>,
}

fn seal_context(c: Category, who: &Principal) -> String {
    format!("settings-form:{}:{}", c.as_str(), who.user_id)
}

/// Shows what `change` would do, or why it cannot be made.
async fn show_preview(
    state: &AppState,
    who: &Principal,
    c: Category,
    change: Change,
    reason: String,
    warnings: (Option<String>, Option<String>),
    on_refusal: impl FnOnce(AppError) -> Result<Response, AppError>,
) -> Result<Response, AppError> {
    let (reason_error, lockout) = warnings;
    let mut conn = state.pool.acquire().await?;
    let diffs = match preview(&mut conn, state.settings.secrets(), &change).await {
        Ok(d) => d,
        Err(e) => return on_refusal(e),
    };
    drop(conn);
    if diffs.is_empty() {
        return render_current(
            state,
            who,
            c,
            StatusCode::OK,
            Some(Notice::info("Nothing changed: every value is as stored.")),
        );
    }
    let patch = change.patches.get(&c).cloned().unwrap_or_default();
    let payload = state.settings.secrets().seal(
        &json!({"patch": patch, "base": change.base_version}).to_string(),
        &seal_context(c, who),
    );
    let page = PreviewPage {
        shell: shell(state, who),
        slug: c.as_str(),
        title: registry::of(c).title,
        lines: form::lines(&diffs),
        payload,
        reason,
        reason_error,
        lockout,
    };
    let status = if page.reason_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if page.lockout.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    html(status, &page)
}

/// 409 (someone changed the category since the form was loaded): the current values, with who
/// changed what; nothing of the editor's is applied.
fn conflict_page(state: &AppState, who: &Principal, c: Category, e: AppError) -> Result<Response, AppError> {
    match e {
        AppError::Conflict { message, .. } => {
            render_current(state, who, c, StatusCode::CONFLICT, Some(Notice::refused(message)))
        }
        other => Err(other),
    }
}

async fn preview_change(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let c = updatable(&who, &name)?;
    let base = base_version(&form)?;
    let current = view(&state.settings.get().0, c);
    let posted = form::parse(c, &current, &form);
    let back_to_form = |state: &AppState, posted: &Posted, errors: Vec<FieldError>| {
        let shown = Shown {
            values: posted.shown.clone(),
            version: base,
            posted: Some(posted),
            errors,
            notice: Some(Notice::refused(
                "Some values cannot be saved: see the fields marked below.",
            )),
        };
        render_form(state, &who, c, StatusCode::UNPROCESSABLE_ENTITY, shown)
    };
    if !posted.errors.is_empty() {
        return back_to_form(&state, &posted, posted.errors.clone());
    }
    if posted.patch.is_empty() {
        return render_current(
            &state,
            &who,
            c,
            StatusCode::OK,
            Some(Notice::info("Nothing changed: every value is as stored.")),
        );
    }
    let change = Change::one(c, posted.patch.clone(), None).from_version(Some(base));
    show_preview(&state, &who, c, change, String::new(), (None, None), |e| match e {
        AppError::Validation(errors) => back_to_form(&state, &posted, errors),
        AppError::Conflict { .. } => conflict_page(&state, &who, c, e),
        other => Err(other),
    })
    .await
}

async fn confirm_change(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(name): Path<String>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let c = updatable(&who, &name)?;
    let sealed = form.get("payload").unwrap_or_default();
    let opened = state
        .settings
        .secrets()
        .open(sealed, &seal_context(c, &who))
        .map_err(|_| {
            AppError::field(
                "payload",
                "is not a change this page prepared: start again from the form",
            )
        })?;
    let body: Value = serde_json::from_str(secrecy::ExposeSecret::expose_secret(&opened))
        .map_err(|_| AppError::field("payload", "cannot be read: start again from the form"))?;
    let patch: Map<String, Value> = body["patch"].as_object().cloned().unwrap_or_default();
    let change = Change::one(c, patch, None)
        .from_version(body["base"].as_i64())
        .confirming_lockout(form.get("confirm_lockout") == Some("true"));
    let reason = form.get("reason").unwrap_or_default().trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 500 {
        let why = if reason.is_empty() {
            "Say why you make this change: it is kept with the version and in the audit log."
        } else {
            "Keep the reason under 500 characters."
        };
        return show_preview(&state, &who, c, change, reason, (Some(why.to_owned()), None), |e| {
            conflict_page(&state, &who, c, e)
        })
        .await;
    }
    let asked = change.clone();
    let change = Change {
        reason: Some(reason.clone()),
        ..change
    };
    let mut unit = state.unit().await?;
    match update_many(&mut unit, state.settings.secrets(), change, &acting).await {
        Ok(out) => {
            unit.commit().await?;
            // this process sees its own change at once; the others within seconds
            state.settings.refresh().await?;
            Ok(Redirect::to(&format!("/admin/settings/{}?saved={}", c.as_str(), out.version)).into_response())
        }
        // the change would lock the editor out (the staff address lists): ask again, plainly
        Err(AppError::Conflict {
            message,
            field: Some(field),
        }) if field.starts_with("security.ip") => {
            drop(unit);
            let lockout = Some(format!("{field}: {message}"));
            show_preview(&state, &who, c, asked, reason, (None, lockout), |e| {
                conflict_page(&state, &who, c, e)
            })
            .await
        }
        Err(e @ AppError::Conflict { .. }) => conflict_page(&state, &who, c, e),
        Err(e) => match refusal_message(&e) {
            Some(m) => render_current(
                &state,
                &who,
                c,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(Notice::refused(m)),
            ),
            None => Err(e),
        },
    }
}
