//! What the alerts console reads: the alerts of the reader's audiences, filtered (kind, severity,
//! state, date range), searched (title, body, subject) and paged by keyset (newest first), one
//! alert with its timeline, and the rows of the CSV export. The page, the API and the export
//! share [`Filter`], parsed once from the query.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::lifecycle::Status;
use super::timeline;
use crate::error::{AppError, FieldError};

/// The console's filters as the query carries them (`?kind=&severity=&state=&from=&to=&q=`).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterQuery {
    /// The alert's kind, e.g. `payout.failed`.
    #[param(max_length = 100)]
    pub kind: Option<String>,
    /// `info`, `warning` or `critical`.
    pub severity: Option<String>,
    /// `open`, `acknowledged`, `snoozed`, `resolved`, or `active` (not resolved, not snoozed).
    pub state: Option<String>,
    /// Raised at or after (a date, `YYYY-MM-DD`, Kigali; or an RFC 3339 instant).
    pub from: Option<String>,
    /// Raised before (a date: up to the end of that day, Kigali; or an RFC 3339 instant).
    pub to: Option<String>,
    /// Words in the title, the body or the subject (at most 100 characters).
    #[param(max_length = 100)]
    pub q: Option<String>,
}

/// A state the console filters by (`snoozed` and `active` are views over the status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    Status(Status),
    Snoozed,
    Active,
}

pub const STATES: &[&str] = &["active", "open", "acknowledged", "snoozed", "resolved"];
pub const SEVERITIES: &[&str] = &["info", "warning", "critical"];

/// The parsed filters.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<String>,
    pub severity: Option<&'static str>,
    pub state: Option<StateFilter>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub q: Option<String>,
}

fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A date (Kigali) or an instant; `end` makes a bare date mean the end of that day.
fn instant(s: &str, end: bool) -> Option<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if end { d.succ_opt()? } else { d };
        let local = crate::clock::kigali()
            .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
            .single()?;
        return Some(local.with_timezone(&Utc));
    }
    crate::clock::parse_local(s)
}

impl FilterQuery {
    /// 422 naming each field that is not one of ours.
    pub fn parse(&self) -> Result<Filter, AppError> {
        let mut errors = Vec::new();
        let mut f = Filter::default();
        if let Some(k) = text(&self.kind) {
            if k.len() > 100 {
                errors.push(FieldError::new("kind", "must be at most 100 characters"));
            }
            f.kind = Some(k.to_owned());
        }
        if let Some(s) = text(&self.severity) {
            match SEVERITIES.iter().find(|v| **v == s) {
                Some(v) => f.severity = Some(v),
                None => errors.push(FieldError::new("severity", "must be info, warning or critical")),
            }
        }
        if let Some(s) = text(&self.state) {
            f.state = match s {
                "snoozed" => Some(StateFilter::Snoozed),
                "active" => Some(StateFilter::Active),
                s => match Status::parse(s) {
                    Some(st) => Some(StateFilter::Status(st)),
                    None => {
                        errors.push(FieldError::new(
                            "state",
                            "must be active, open, acknowledged, snoozed or resolved",
                        ));
                        None
                    }
                },
            };
        }
        for (name, raw, end) in [("from", &self.from, false), ("to", &self.to, true)] {
            if let Some(s) = text(raw) {
                match instant(s, end) {
                    Some(t) if name == "from" => f.from = Some(t),
                    Some(t) => f.to = Some(t),
                    None => errors.push(FieldError::new(name, "must be a date (YYYY-MM-DD) or a date and time")),
                }
            }
        }
        if let (Some(a), Some(b)) = (f.from, f.to) {
            if b <= a {
                errors.push(FieldError::new("to", "must be after from"));
            }
        }
        if let Some(q) = text(&self.q) {
            if q.chars().count() > 100 {
                errors.push(FieldError::new("q", "must be at most 100 characters"));
            }
            f.q = Some(q.to_owned());
        }
        if errors.is_empty() {
            Ok(f)
        } else {
            Err(AppError::Validation(errors))
        }
    }

    /// The filters as query pairs (for links and the export form), empty ones left out.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("kind", &self.kind),
            ("severity", &self.severity),
            ("state", &self.state),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
        ]
        .into_iter()
        .filter_map(|(k, v)| text(v).map(|v| (k, v.to_owned())))
        .collect()
    }
}

/// One alert as the console lists it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertRow {
    pub id: Uuid,
    pub kind: String,
    pub severity: String,
    pub title: String,
    pub body: String,
    /// The permission a person needs to see it.
    pub audience: String,
    pub subject_type: Option<String>,
    pub subject_id: Option<String>,
    /// How many times it was raised while not resolved.
    pub occurrences: i32,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub status: Status,
    /// Hidden from the open lists and the badge until then.
    pub snoozed_until: Option<DateTime<Utc>>,
    pub escalation_level: i32,
    pub escalated_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolution_note: Option<String>,
}

impl AlertRow {
    /// Snoozed now.
    pub fn snoozed(&self, now: DateTime<Utc>) -> bool {
        self.status != Status::Resolved && self.snoozed_until.is_some_and(|t| t > now)
    }
}

const COLUMNS: &str = r#"select a.id, a.kind, a.severity, a.title, a.body, a.audience, a.subject_type, a.subject_id,
       a.occurrences, a.created_at, a.last_seen_at, a.status, a.snoozed_until, a.escalation_level, a.escalated_at,
       a.acknowledged_at, coalesce(nullif(ua.full_name, ''), ua.email::text) as acknowledged_by,
       a.resolved_at, coalesce(nullif(ur.full_name, ''), ur.email::text) as resolved_by, a.resolution_note
from alerts a
left join users ua on ua.id = a.acknowledged_by
left join users ur on ur.id = a.resolved_by
where a.audience = any("#;

fn push_filter<'a>(b: &mut QueryBuilder<'a, Postgres>, f: &'a Filter, now: DateTime<Utc>) {
    if let Some(k) = &f.kind {
        b.push(" and a.kind = ").push_bind(k);
    }
    if let Some(s) = f.severity {
        b.push(" and a.severity = ").push_bind(s);
    }
    match f.state {
        None => {}
        Some(StateFilter::Status(Status::Resolved)) => {
            b.push(" and a.status = 'resolved'");
        }
        Some(StateFilter::Status(s)) => {
            b.push(" and a.status = ")
                .push_bind(s.as_str())
                .push(" and (a.snoozed_until is null or a.snoozed_until <= ")
                .push_bind(now)
                .push(")");
        }
        Some(StateFilter::Active) => {
            b.push(" and a.status <> 'resolved' and (a.snoozed_until is null or a.snoozed_until <= ")
                .push_bind(now)
                .push(")");
        }
        Some(StateFilter::Snoozed) => {
            b.push(" and a.status <> 'resolved' and a.snoozed_until > ")
                .push_bind(now);
        }
    }
    if let Some(t) = f.from {
        b.push(" and a.created_at >= ").push_bind(t);
    }
    if let Some(t) = f.to {
        b.push(" and a.created_at < ").push_bind(t);
    }
    if let Some(q) = &f.q {
        let like = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        b.push(" and (a.title ilike ")
            .push_bind(like.clone())
            .push(" or a.body ilike ")
            .push_bind(like.clone())
            .push(" or a.subject_id ilike ")
            .push_bind(like.clone())
            .push(" or a.subject_type ilike ")
            .push_bind(like)
            .push(")");
    }
}

/// The keyset position of a row: its creation time and id.
pub type Position = (DateTime<Utc>, Uuid);

/// A page of the alerts the `audiences` may see, newest first, after `after`: `limit` rows
/// (ask one more to know whether a next page exists).
pub async fn list(
    conn: &mut PgConnection,
    audiences: &[&str],
    f: &Filter,
    after: Option<Position>,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<AlertRow>, sqlx::Error> {
    let mut b = QueryBuilder::new(COLUMNS);
    b.push_bind(audiences.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .push(")");
    push_filter(&mut b, f, now);
    if let Some((t, id)) = after {
        b.push(" and (a.created_at, a.id) < (")
            .push_bind(t)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    b.push(" order by a.created_at desc, a.id desc limit ").push_bind(limit);
    b.build_query_as().fetch_all(conn).await
}

/// One alert the `audiences` may see.
pub async fn one(conn: &mut PgConnection, audiences: &[&str], id: Uuid) -> Result<Option<AlertRow>, sqlx::Error> {
    let mut b = QueryBuilder::new(COLUMNS);
    b.push_bind(audiences.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .push(") and a.id = ")
        .push_bind(id);
    b.build_query_as().fetch_optional(conn).await
}

/// An alert with its timeline.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertDetail {
    #[serde(flatten)]
    pub alert: AlertRow,
    /// Every step, oldest first.
    pub timeline: Vec<timeline::AlertEvent>,
    /// The panel page of what it is about, when the reader may open it.
    pub href: Option<String>,
}

/// The alert and its timeline; 404 when the reader may not see it.
pub async fn detail(
    conn: &mut PgConnection,
    who: &crate::web::auth::Principal,
    id: Uuid,
) -> Result<AlertDetail, AppError> {
    let audiences = super::audiences(who.permissions.iter());
    let alert = one(conn, &audiences, id).await?.ok_or(AppError::NotFound("alert"))?;
    let timeline = timeline::of(conn, id).await?;
    let href = super::api::subject_href(
        who,
        &alert.kind,
        alert.subject_type.as_deref(),
        alert.subject_id.as_deref(),
    );
    Ok(AlertDetail { alert, timeline, href })
}

/// The most rows one export holds.
pub const EXPORT_MAX: i64 = 10_000;

/// The CSV of the alerts the filters select (newest first, at most [`EXPORT_MAX`]), through
/// the formula-guarded writer.
pub async fn export_csv(
    conn: &mut PgConnection,
    audiences: &[&str],
    f: &Filter,
    now: DateTime<Utc>,
) -> Result<(Vec<u8>, usize), AppError> {
    let rows = list(conn, audiences, f, None, EXPORT_MAX, now).await?;
    let mut w = crate::csv_out::CsvOut::new();
    let io = |e: std::io::Error| AppError::Internal(e.into());
    w.row([
        "id",
        "raised_at",
        "kind",
        "severity",
        "state",
        "title",
        "body",
        "subject_type",
        "subject_id",
        "occurrences",
        "last_seen_at",
        "escalation_level",
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
        "resolved_by",
        "resolution_note",
    ])
    .map_err(io)?;
    let t = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    for r in &rows {
        let state = if r.snoozed(now) { "snoozed" } else { r.status.as_str() };
        w.row([
            r.id.to_string(),
            r.created_at.to_rfc3339(),
            r.kind.clone(),
            r.severity.clone(),
            state.to_owned(),
            r.title.clone(),
            r.body.clone(),
            r.subject_type.clone().unwrap_or_default(),
            r.subject_id.clone().unwrap_or_default(),
            r.occurrences.to_string(),
            r.last_seen_at.to_rfc3339(),
            r.escalation_level.to_string(),
            t(r.acknowledged_at),
            r.acknowledged_by.clone().unwrap_or_default(),
            t(r.resolved_at),
            r.resolved_by.clone().unwrap_or_default(),
            r.resolution_note.clone().unwrap_or_default(),
        ])
        .map_err(io)?;
    }
    Ok((w.take().map_err(io)?, rows.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_parsed_and_bad_ones_named() {
        let q = FilterQuery {
            severity: Some("critical".into()),
            state: Some("snoozed".into()),
            from: Some("2026-12-01".into()),
            ..Default::default()
        };
        let f = q.parse().unwrap();
        assert_eq!(f.severity, Some("critical"));
        assert_eq!(f.state, Some(StateFilter::Snoozed));
        assert_eq!(f.from.unwrap().to_rfc3339(), "2026-11-30T22:00:00+00:00");
        let bad = FilterQuery {
            severity: Some("loud".into()),
            state: Some("gone".into()),
            to: Some("yesterday".into()),
            ..Default::default()
        };
        let AppError::Validation(errs) = bad.parse().unwrap_err() else {
            panic!("not a validation error");
        };
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["severity", "state", "to"]);
    }
}
