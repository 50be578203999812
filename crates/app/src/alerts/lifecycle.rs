//! The alert state machine: the one owner of `alerts.status` after [`super::raise`] creates an
//! alert `open`.
//!
//! A person acknowledges an open alert, resolves an open or acknowledged one with a note, and —
//! without changing its state — escalates it (the level goes up, the time is kept, a snooze ends)
//! or snoozes it until a time (hidden from the open lists and the badge until then; a repeat
//! meanwhile only counts). The system resolves an alert whose work is done ([`close`]) and
//! escalates a critical alert nobody acknowledged in time ([`escalate_overdue`], for
//! `alerts::delivery::escalate`, which also takes its follow-ups through [`follow_up_due`]). Every
//! move is checked against [`TRANSITIONS`] on the row locked for it, audited in the same
//! transaction and written to the alert's timeline.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::timeline::{self, EventKind};
use crate::audit::Action;
use crate::error::AppError;
use crate::unit::Acting;

/// `alerts.status` (`alerts_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, Serialize, Deserialize, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
#[schema(as = AlertStatus)]
pub enum Status {
    Open,
    Acknowledged,
    Resolved,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Open, Status::Acknowledged, Status::Resolved];

    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What moves an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// A holder of `alerts.acknowledge` takes it on.
    Acknowledge,
    /// A holder of `alerts.acknowledge` resolves it, with a note saying how.
    Resolve,
    /// A holder of `alerts.escalate` raises its escalation level (the state stays).
    Escalate,
    /// A holder of `alerts.acknowledge` hides it until a time (the state stays).
    Snooze,
    /// The system: the work it asked for is done ([`close`]).
    WorkDone,
    /// The system: a critical alert nobody acknowledged within `alertEscalation.minutes` goes to
    /// the next tier ([`escalate_overdue`]; the level goes up, the state stays).
    Overdue,
}

use Status::{Acknowledged, Open, Resolved};

/// Every move an alert makes: `(from, to, what)`. Anything else is refused.
pub const TRANSITIONS: &[(Status, Status, Move)] = &[
    (Open, Acknowledged, Move::Acknowledge),
    (Open, Resolved, Move::Resolve),
    (Acknowledged, Resolved, Move::Resolve),
    (Open, Open, Move::Escalate),
    (Acknowledged, Acknowledged, Move::Escalate),
    (Open, Open, Move::Snooze),
    (Acknowledged, Acknowledged, Move::Snooze),
    (Open, Resolved, Move::WorkDone),
    (Acknowledged, Resolved, Move::WorkDone),
    (Open, Open, Move::Overdue),
];

/// Where `m` takes an alert that is `from`, if it may.
pub fn target(from: Status, m: Move) -> Option<Status> {
    TRANSITIONS
        .iter()
        .find(|&&(f, _, w)| f == from && w == m)
        .map(|&(_, t, _)| t)
}

/// The snoozes a person may choose, in hours.
pub const SNOOZE_HOURS: [u32; 3] = [1, 4, 24];

/// The longest resolution or escalation note.
const NOTE_MAX: usize = 2000;

/// A person's command on an alert, parsed from the API body or the page's form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Acknowledge,
    Resolve { note: String },
    Escalate { note: Option<String> },
    Snooze { hours: u32 },
}

impl Command {
    pub fn as_move(&self) -> Move {
        match self {
            Command::Acknowledge => Move::Acknowledge,
            Command::Resolve { .. } => Move::Resolve,
            Command::Escalate { .. } => Move::Escalate,
            Command::Snooze { .. } => Move::Snooze,
        }
    }

    /// Resolve with `note` (required: what was done); 422 naming `note`.
    pub fn resolve(note: Option<&str>) -> Result<Self, AppError> {
        let note = note.map(str::trim).unwrap_or_default();
        if note.is_empty() {
            return Err(AppError::field("note", "is required: say how the alert was resolved"));
        }
        Ok(Command::Resolve {
            note: clipped(note, "note")?,
        })
    }

    pub fn escalate(note: Option<&str>) -> Result<Self, AppError> {
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        Ok(Command::Escalate {
            note: note.map(|n| clipped(n, "note")).transpose()?,
        })
    }

    /// Snooze for `hours` (1, 4 or 24), as typed; 422 naming `hours`.
    pub fn snooze(hours: Option<&str>) -> Result<Self, AppError> {
        let bad = || AppError::field("hours", "must be 1, 4 or 24");
        let hours: u32 = hours.map(str::trim).ok_or_else(bad)?.parse().map_err(|_| bad())?;
        if !SNOOZE_HOURS.contains(&hours) {
            return Err(bad());
        }
        Ok(Command::Snooze { hours })
    }
}

fn clipped(note: &str, field: &str) -> Result<String, AppError> {
    if note.chars().count() > NOTE_MAX {
        return Err(AppError::field(field, format!("must be at most {NOTE_MAX} characters")));
    }
    Ok(note.to_owned())
}

/// Why a command was not applied.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// No alert with that id that the person may see.
    #[error("no such alert")]
    NotFound,
    #[error("an alert that is {from} cannot be {what}")]
    Forbidden { from: Status, what: &'static str },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<Refused> for AppError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::NotFound => AppError::NotFound("alert"),
            Refused::Forbidden { .. } => AppError::conflict("status", format!("{r}.")),
            Refused::Db(e) => e.into(),
        }
    }
}

fn past(m: Move) -> &'static str {
    match m {
        Move::Acknowledge => "acknowledged",
        Move::Resolve | Move::WorkDone => "resolved",
        Move::Escalate => "escalated",
        Move::Snooze => "snoozed",
        Move::Overdue => "escalated",
    }
}

/// Applies `cmd` to the alert `id` if its audience is one of `audiences` (in the caller's
/// transaction): the row is locked, the move checked, the row changed, the timeline row and the
/// audit row written. Returns the alert's state after the move.
pub async fn apply(
    conn: &mut PgConnection,
    id: Uuid,
    audiences: &[&str],
    cmd: &Command,
    acting: &Acting,
) -> Result<Status, Refused> {
    let now = acting.now;
    let row: Option<(Status, String, String, i32)> = sqlx::query_as(
        "select status, kind, title, escalation_level from alerts where id = $1 and audience = any($2) for update",
    )
    .bind(id)
    .bind(audiences)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((from, kind, title, level)) = row else {
        return Err(Refused::NotFound);
    };
    let m = cmd.as_move();
    let Some(to) = target(from, m) else {
        return Err(Refused::Forbidden { from, what: past(m) });
    };
    let by = acting.user_id();
    let (event, note, detail, action) = match cmd {
        Command::Acknowledge => {
            sqlx::query("update alerts set status = $2, acknowledged_at = $3, acknowledged_by = $4 where id = $1")
                .bind(id)
                .bind(to)
                .bind(now)
                .bind(by)
                .execute(&mut *conn)
                .await?;
            (EventKind::Acknowledged, None, json!({}), Action::AlertAcknowledged)
        }
        Command::Resolve { note } => {
            sqlx::query(
                "update alerts set status = $2, resolved_at = $3, resolved_by = $4, resolution_note = $5, \
                 snoozed_until = null where id = $1",
            )
            .bind(id)
            .bind(to)
            .bind(now)
            .bind(by)
            .bind(note)
            .execute(&mut *conn)
            .await?;
            (
                EventKind::Resolved,
                Some(note.as_str()),
                json!({}),
                Action::AlertResolved,
            )
        }
        Command::Escalate { note } => {
            sqlx::query(
                "update alerts set escalation_level = escalation_level + 1, escalated_at = $2, snoozed_until = null \
                 where id = $1",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            (
                EventKind::Escalated,
                note.as_deref(),
                json!({"level": level + 1}),
                Action::AlertEscalated,
            )
        }
        Command::Snooze { hours } => {
            let until = now + Duration::hours(i64::from(*hours));
            sqlx::query("update alerts set snoozed_until = $2 where id = $1")
                .bind(id)
                .bind(until)
                .execute(&mut *conn)
                .await?;
            (
                EventKind::Snoozed,
                None,
                json!({"hours": hours, "until": until}),
                Action::AlertSnoozed,
            )
        }
    };
    timeline::record(conn, id, event, by, note, &detail, now).await?;
    let mut after = json!({"status": to});
    if let (Some(obj), serde_json::Value::Object(d)) = (after.as_object_mut(), &detail) {
        obj.extend(d.clone());
    }
    if let Some(n) = note {
        after["note"] = json!(n);
    }
    crate::audit::record(
        conn,
        &acting
            .audit(action, "alert", id)
            .before(json!({"status": from}))
            .after(after)
            .metadata(json!({"kind": kind, "title": title})),
        now,
    )
    .await?;
    Ok(to)
}

/// Resolves the unresolved alert with `dedupe_key` because its work is done, with its timeline
/// row (the caller's transaction audits the work itself). True when one was unresolved.
pub async fn close(
    conn: &mut PgConnection,
    dedupe_key: &str,
    by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let closed: Option<Uuid> = sqlx::query_scalar(
        r#"with a as (
             update alerts set status = 'resolved', resolved_at = $2, resolved_by = $3,
                               resolution_note = 'The work it asked for was done.', snoozed_until = null
             where dedupe_key = $1 and status <> 'resolved'
             returning id),
           e as (
             insert into alert_events (alert_id, kind, at, actor_user_id, note, detail)
             select id, 'resolved', $2, $3, 'The work it asked for was done.', '{"workDone": true}' from a)
           select id from a"#,
    )
    .bind(dedupe_key)
    .bind(now)
    .bind(by)
    .fetch_optional(conn)
    .await?;
    Ok(closed.is_some())
}

/// Escalates the critical alert `id` for the system if it is still open, not escalated by the
/// system yet, raised at or before `overdue_since` and not snoozed (checked on the row locked for
/// it, so two workers escalate it once): the level goes up, the timeline says why, the move is
/// audited. True when it was escalated now.
pub async fn escalate_overdue(
    conn: &mut PgConnection,
    id: Uuid,
    minutes: u32,
    overdue_since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let row: Option<(Status, String, String, i32)> = sqlx::query_as(
        "select status, kind, title, escalation_level from alerts \
         where id = $1 and severity = 'critical' and auto_escalated_at is null and created_at <= $2 \
           and (snoozed_until is null or snoozed_until <= $3) \
         for update",
    )
    .bind(id)
    .bind(overdue_since)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((from, kind, title, level)) = row else {
        return Ok(false);
    };
    let Some(to) = target(from, Move::Overdue) else {
        return Ok(false);
    };
    sqlx::query(
        "update alerts set escalation_level = escalation_level + 1, escalated_at = $2, auto_escalated_at = $2, \
         followed_up_at = null where id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let note = format!("Not acknowledged within {minutes} minutes: sent to every Super Administrator.");
    let detail = json!({"level": level + 1, "by": "system", "minutes": minutes});
    timeline::record(conn, id, EventKind::Escalated, None, Some(&note), &detail, now).await?;
    crate::audit::record(
        conn,
        &Acting::system(now)
            .audit(Action::AlertEscalated, "alert", id)
            .before(json!({"status": from, "level": level}))
            .after(json!({"status": to, "level": level + 1, "note": note}))
            .metadata(json!({"kind": kind, "title": title, "minutes": minutes})),
        now,
    )
    .await?;
    Ok(true)
}

/// Takes the follow-up of the system-escalated alert `id` if one is due (its last escalation or
/// follow-up at or before `since`, still unresolved), on its row: returns the follow-up's number,
/// `None` when none is due (another worker took it, or it was resolved).
pub async fn follow_up_due(
    conn: &mut PgConnection,
    id: Uuid,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar(
        "update alerts set followed_up_at = $3, follow_ups = follow_ups + 1 \
         where id = $1 and status <> 'resolved' and auto_escalated_at is not null \
           and coalesce(followed_up_at, auto_escalated_at) <= $2 \
         returning follow_ups",
    )
    .bind(id)
    .bind(since)
    .bind(now)
    .fetch_optional(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_move_goes_where_the_table_says_and_resolved_is_final() {
        assert_eq!(target(Open, Move::Acknowledge), Some(Acknowledged));
        assert_eq!(target(Acknowledged, Move::Acknowledge), None);
        assert_eq!(target(Open, Move::Resolve), Some(Resolved));
        assert_eq!(target(Acknowledged, Move::Resolve), Some(Resolved));
        for m in [
            Move::Acknowledge,
            Move::Resolve,
            Move::Escalate,
            Move::Snooze,
            Move::WorkDone,
            Move::Overdue,
        ] {
            assert_eq!(target(Resolved, m), None, "{m:?} from resolved");
        }
        assert_eq!(target(Acknowledged, Move::Snooze), Some(Acknowledged));
    }

    #[test]
    fn commands_are_parsed_naming_their_field() {
        assert!(Command::resolve(Some("  ")).is_err());
        assert_eq!(
            Command::resolve(Some(" topped up ")).unwrap(),
            Command::Resolve {
                note: "topped up".into()
            }
        );
        assert_eq!(Command::snooze(Some("4")).unwrap(), Command::Snooze { hours: 4 });
        for bad in [None, Some("2"), Some("x"), Some("-1")] {
            assert!(Command::snooze(bad).is_err(), "{bad:?}");
        }
    }
}
