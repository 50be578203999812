//! Reading, checking, saving and resetting templates, and the preview. Owns
//! `notification_templates` and `notification_template_versions`; every save and reset is audited
//! (before and after) in its own transaction with a version row and the `templates_changed`
//! notification.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::catalogue::{self, Channel, Entry};
use super::render::{self, Cost};
use super::store::NOTIFY_CHANNEL;
use crate::audit::Action;
use crate::error::{AppError, FieldError};
use crate::unit::Acting;
use crate::ussd::messages::{gsm_safe, Lang};

const MAX_BODY: usize = 4000;
const MAX_SUBJECT: usize = 200;

/// A variable as the editor lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Variable {
    pub name: &'static str,
    pub sample: &'static str,
    pub about: &'static str,
}

/// One template as stored, with what the editor needs to know about it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateView {
    pub key: &'static str,
    pub channel: Channel,
    /// `en` or `rw`.
    pub locale: &'static str,
    /// The event it belongs to ("Redemption success", …).
    pub event: &'static str,
    pub title: &'static str,
    /// `customer` or `staff`.
    pub audience: &'static str,
    /// E-mail only.
    pub subject: Option<String>,
    pub body: String,
    /// Still the default wording.
    pub is_default: bool,
    pub variables: Vec<Variable>,
    /// Saves so far (1: as seeded).
    pub version: i32,
    pub updated_at: DateTime<Utc>,
    /// Who saved it last; `None`: the system (the seed).
    pub updated_by: Option<String>,
    /// A setting whose own wording, when set, is shown instead of this template.
    pub overridden_by: Option<String>,
}

/// A change to one template.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateChange {
    /// E-mail only (required there).
    #[serde(default)]
    pub subject: Option<String>,
    pub body: String,
}

type Row = (
    Uuid,
    String,
    String,
    String,
    Option<String>,
    String,
    i32,
    DateTime<Utc>,
    Option<String>,
);

const SELECT: &str = "select t.id, t.key, t.channel, t.locale, t.subject, t.body, t.version, t.updated_at, \
                      coalesce(nullif(u.full_name, ''), u.email) \
                      from notification_templates t left join users u on u.id = t.updated_by_user_id";

/// The setting that wins over `entry` in `lang` when set (decision 0045).
fn overridden_by(entry: &Entry, lang: Lang) -> Option<String> {
    (entry.screen() == Some(crate::ussd::messages::Msg::Success))
        .then(|| format!("ussd.successMessage.{}", lang.as_str()))
}

fn view(entry: &'static Entry, lang: Lang, row: Row) -> TemplateView {
    let (_, _, _, _, subject, body, version, updated_at, updated_by) = row;
    let (d_subject, d_body) = entry.default(lang);
    TemplateView {
        key: entry.key,
        channel: entry.channel,
        locale: lang.as_str(),
        event: entry.event.title(),
        title: entry.title,
        audience: entry.audience,
        is_default: subject.as_deref() == d_subject && body == d_body,
        subject,
        body,
        variables: entry
            .vars
            .iter()
            .filter_map(|n| catalogue::var(n))
            .map(|v| Variable {
                name: v.name,
                sample: v.sample,
                about: v.about,
            })
            .collect(),
        version,
        updated_at,
        updated_by,
        overridden_by: overridden_by(entry, lang),
    }
}

fn resolve(key: &str, channel: &str, locale: &str) -> Result<(&'static Entry, Lang), AppError> {
    let entry = Channel::parse(channel)
        .and_then(|c| catalogue::find(key, c))
        .ok_or(AppError::NotFound("notification template"))?;
    let lang = Lang::parse(locale).ok_or(AppError::NotFound("notification template"))?;
    Ok((entry, lang))
}

/// The template a request body names: unlike a path, a wrong value is a field of the body, so the
/// answer is a 422 naming `channel`, `locale` or `key`.
fn resolve_fields(key: &str, channel: &str, locale: &str) -> Result<&'static Entry, AppError> {
    let Some(channel) = Channel::parse(channel) else {
        return Err(AppError::field("channel", "must be email, sms or ussd"));
    };
    if Lang::parse(locale).is_none() {
        return Err(AppError::field("locale", "must be en or rw"));
    }
    catalogue::find(key, channel)
        .ok_or_else(|| AppError::field("key", format!("is not a {} template", channel.as_str())))
}

/// Every template of the catalogue, in its order, English first.
pub async fn list(conn: &mut PgConnection) -> Result<Vec<TemplateView>, AppError> {
    let rows: Vec<Row> = sqlx::query_as(SELECT).fetch_all(&mut *conn).await?;
    let mut out = Vec::new();
    for entry in catalogue::ENTRIES {
        for lang in [Lang::En, Lang::Rw] {
            let row = rows
                .iter()
                .find(|r| r.1 == entry.key && r.2 == entry.channel.as_str() && r.3 == lang.as_str());
            if let Some(row) = row {
                out.push(view(entry, lang, row.clone()));
            }
        }
    }
    Ok(out)
}

/// One template; 404 for a key, channel or language the catalogue does not have.
pub async fn get(conn: &mut PgConnection, key: &str, channel: &str, locale: &str) -> Result<TemplateView, AppError> {
    let (entry, lang) = resolve(key, channel, locale)?;
    let row: Option<Row> = sqlx::query_as(&format!(
        "{SELECT} where t.key = $1 and t.channel = $2 and t.locale = $3"
    ))
    .bind(entry.key)
    .bind(entry.channel.as_str())
    .bind(lang.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let row = row.ok_or(AppError::NotFound("notification template"))?;
    Ok(view(entry, lang, row))
}

/// What is wrong with `change` as `entry`'s text, field by field (`subject`, `body`); the USSD
/// body after its typographic characters became their GSM-7 forms.
pub fn check(entry: &Entry, change: &TemplateChange) -> (Option<String>, String, Vec<FieldError>) {
    let mut errors = Vec::new();
    let mut body = change.body.replace("\r\n", "\n");
    if entry.channel == Channel::Ussd {
        body = gsm_safe(&body);
    }
    let subject = match entry.channel {
        Channel::Email => {
            let s = change.subject.as_deref().unwrap_or("").trim().to_owned();
            if s.is_empty() {
                errors.push(FieldError::new("subject", "An e-mail needs a subject"));
            } else if s.chars().count() > MAX_SUBJECT {
                errors.push(FieldError::new("subject", format!("At most {MAX_SUBJECT} characters")));
            } else if s.contains('\n') {
                errors.push(FieldError::new("subject", "A subject is one line"));
            }
            unknown(entry, "subject", &s, &mut errors);
            Some(s)
        }
        _ => {
            if change.subject.as_deref().is_some_and(|s| !s.trim().is_empty()) {
                errors.push(FieldError::new("subject", "Only an e-mail has a subject"));
            }
            None
        }
    };
    if body.trim().is_empty() {
        errors.push(FieldError::new("body", "The text cannot be empty"));
    } else if body.chars().count() > MAX_BODY {
        errors.push(FieldError::new("body", format!("At most {MAX_BODY} characters")));
    }
    unknown(entry, "body", &body, &mut errors);
    if entry.channel == Channel::Ussd && !errors.iter().any(|e| e.field == "body") {
        let screen = render::render(&body, &entry.samples());
        let cost = render::cost(Channel::Ussd, &screen);
        if !cost.non_gsm7.is_empty() {
            errors.push(FieldError::new(
                "body",
                format!(
                    "{} cannot be shown in GSM-7 and would cut the screen to 80 characters; use plain letters",
                    cost.non_gsm7
                        .iter()
                        .map(|c| format!("“{c}”"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            ));
        } else if cost.over_limit {
            errors.push(FieldError::new(
                "body",
                format!(
                    "With the widest values the screen is {} characters; a USSD screen carries at most {}",
                    cost.characters,
                    cost.limit.unwrap_or_default()
                ),
            ));
        }
    }
    (subject, body, errors)
}

/// Each `{name}` of `text` that `entry` does not know is a problem of `field`.
fn unknown(entry: &Entry, field: &str, text: &str, errors: &mut Vec<FieldError>) {
    let mut bad: Vec<&str> = render::variables(text).filter(|n| !entry.allows(n)).collect();
    bad.dedup();
    if bad.is_empty() {
        return;
    }
    let known = if entry.vars.is_empty() {
        "this template has no variables".to_owned()
    } else {
        format!(
            "this template knows {}",
            entry
                .vars
                .iter()
                .map(|v| format!("{{{v}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let names = bad.iter().map(|n| format!("{{{n}}}")).collect::<Vec<_>>().join(", ");
    errors.push(FieldError::new(field, format!("Unknown variable {names}: {known}")));
}

/// Saves `change` as the template's text: refused field by field (422) when [`check`] finds a
/// problem, nothing changed.
pub async fn save(
    conn: &mut PgConnection,
    key: &str,
    channel: &str,
    locale: &str,
    change: &TemplateChange,
    acting: &Acting,
) -> Result<TemplateView, AppError> {
    let (entry, lang) = resolve(key, channel, locale)?;
    let (subject, body, errors) = check(entry, change);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    write(conn, entry, lang, subject, body, false, acting).await
}

/// Puts the default wording back (a new version, audited).
pub async fn reset(
    conn: &mut PgConnection,
    key: &str,
    channel: &str,
    locale: &str,
    acting: &Acting,
) -> Result<TemplateView, AppError> {
    let (entry, lang) = resolve(key, channel, locale)?;
    let (subject, body) = entry.default(lang);
    write(
        conn,
        entry,
        lang,
        subject.map(str::to_owned),
        body.to_owned(),
        true,
        acting,
    )
    .await
}

async fn write(
    conn: &mut PgConnection,
    entry: &'static Entry,
    lang: Lang,
    subject: Option<String>,
    body: String,
    reset: bool,
    acting: &Acting,
) -> Result<TemplateView, AppError> {
    // the row locked, so two saves of one template follow each other
    let before: Option<(Uuid, Option<String>, String)> = sqlx::query_as(
        "select id, subject, body from notification_templates \
         where key = $1 and channel = $2 and locale = $3 for update",
    )
    .bind(entry.key)
    .bind(entry.channel.as_str())
    .bind(lang.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let (id, old_subject, old_body) = before.ok_or(AppError::NotFound("notification template"))?;
    sqlx::query(
        "update notification_templates set subject = $2, body = $3, version = version + 1, \
         updated_by_user_id = $4, updated_at = $5 where id = $1",
    )
    .bind(id)
    .bind(&subject)
    .bind(&body)
    .bind(acting.user_id())
    .bind(acting.now)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into notification_template_versions \
           (template_id, subject, body, previous_subject, previous_body, reset, changed_by_user_id, changed_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(&subject)
    .bind(&body)
    .bind(&old_subject)
    .bind(&old_body)
    .bind(reset)
    .bind(acting.user_id())
    .bind(acting.now)
    .execute(&mut *conn)
    .await?;
    let action = if reset {
        Action::NotificationTemplateReset
    } else {
        Action::NotificationTemplateUpdated
    };
    let name = format!("{}/{}/{}", entry.key, entry.channel.as_str(), lang.as_str());
    let event = acting
        .audit(action, "notification_template", &name)
        .before(json!({"subject": old_subject, "body": old_body}))
        .after(json!({"subject": subject, "body": body}));
    crate::audit::record(&mut *conn, &event, acting.now).await?;
    sqlx::query("select pg_notify($1, $2)")
        .bind(NOTIFY_CHANNEL)
        .bind(&name)
        .execute(&mut *conn)
        .await?;
    get(conn, entry.key, entry.channel.as_str(), lang.as_str()).await
}

/// A text to preview: the template it would be, and its unsaved wording.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreviewRequest {
    pub key: String,
    pub channel: String,
    pub locale: String,
    #[serde(default)]
    pub subject: Option<String>,
    pub body: String,
}

/// The text filled with sample values, what it costs, and what saving it would refuse.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub subject: Option<String>,
    pub body: String,
    pub cost: Cost,
    /// What a save would refuse, by field (`subject`, `body`); empty when it would save.
    pub problems: Vec<FieldError>,
}

/// The preview the editor shows as the text is typed (the one renderer the senders use).
pub fn preview(req: &PreviewRequest) -> Result<Preview, AppError> {
    let entry = resolve_fields(&req.key, &req.channel, &req.locale)?;
    let change = TemplateChange {
        subject: req.subject.clone(),
        body: req.body.clone(),
    };
    let (subject, body, problems) = check(entry, &change);
    let samples = entry.samples();
    let body = render::render(&body, &samples);
    Ok(Preview {
        subject: subject.map(|s| render::render(&s, &samples)),
        cost: render::cost(entry.channel, &body),
        body,
        problems,
    })
}
