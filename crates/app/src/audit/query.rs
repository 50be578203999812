//! What the audit log viewer reads: the rows the filters select (actor, action, entity, Kigali
//! days, IP address, request id, outcome, full-text search over the details), newest first and
//! keyset-paged, and one row with its chain fields and its before/after difference. The page,
//! the API and the export share [`FilterQuery`], parsed once into [`Filter`].

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::ipnetwork::IpNetwork;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{AppError, FieldError};

/// The viewer's filters as the query carries them.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct FilterQuery {
    /// Who acted: a user id, an email address, or `system`, `anonymous`, `customer`, `api_key`.
    #[param(max_length = 254)]
    pub actor: Option<String>,
    /// The action, e.g. `batch.created`; a prefix ending in `.` (`batch.`) matches every action of it.
    #[param(max_length = 100)]
    pub action: Option<String>,
    /// The entity's type, e.g. `batch`, `disbursement`, `user`.
    #[param(max_length = 100)]
    pub entity_type: Option<String>,
    /// The entity's id (with or without `entityType`).
    #[param(max_length = 200)]
    pub entity_id: Option<String>,
    /// From this Kigali day (`YYYY-MM-DD`), included.
    pub from: Option<String>,
    /// To this Kigali day (`YYYY-MM-DD`), included.
    pub to: Option<String>,
    /// An IP address, or a network (`10.0.0.0/8`).
    #[param(max_length = 50)]
    pub ip: Option<String>,
    /// The request id the row was written under (`X-Request-Id`).
    #[param(max_length = 200)]
    pub request_id: Option<String>,
    /// `success` or `failure` (sign-ins that failed, refusals, failed payouts…).
    pub outcome: Option<String>,
    /// Words in the details (before, after, metadata) or the entity id.
    #[param(max_length = 200)]
    pub q: Option<String>,
}

/// Who acted, as the filter names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorFilter {
    User(Uuid),
    Email(String),
    Kind(&'static str),
}

/// `success` or `failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

/// The rows whose action or metadata say something failed or was refused.
const FAILURE_SQL: &str = "(a.action ~ '(^|[._])(failed|refused|denied|locked_out)$' \
     or coalesce(a.metadata->>'outcome' in ('failure', 'failed', 'denied', 'refused'), false))";

pub const ACTOR_KINDS: &[&str] = &["system", "anonymous", "customer", "api_key", "user"];

/// The parsed filters.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor: Option<ActorFilter>,
    pub action: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub ip: Option<IpNetwork>,
    pub request_id: Option<String>,
    pub outcome: Option<Outcome>,
    pub q: Option<String>,
}

fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The start of a Kigali day, in UTC.
fn day_start(d: NaiveDate) -> Option<DateTime<Utc>> {
    crate::clock::kigali()
        .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

impl FilterQuery {
    /// 422 naming each field that does not parse.
    pub fn parse(&self) -> Result<Filter, AppError> {
        let mut errors = Vec::new();
        let mut f = Filter::default();
        let long = |name: &str, v: &str, max: usize, errors: &mut Vec<FieldError>| {
            if v.chars().count() > max {
                errors.push(FieldError::new(name, format!("must be at most {max} characters")));
                false
            } else {
                true
            }
        };
        if let Some(a) = text(&self.actor) {
            f.actor = if let Ok(id) = Uuid::parse_str(a) {
                Some(ActorFilter::User(id))
            } else if let Some(k) = ACTOR_KINDS.iter().find(|k| **k == a) {
                Some(ActorFilter::Kind(k))
            } else if a.contains('@') && long("actor", a, 254, &mut errors) {
                Some(ActorFilter::Email(a.to_lowercase()))
            } else {
                errors.push(FieldError::new(
                    "actor",
                    "must be a user id, an email address, or system, anonymous, customer, api_key",
                ));
                None
            };
        }
        if let Some(a) = text(&self.action) {
            if long("action", a, 100, &mut errors) {
                if a.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_') {
                    f.action = Some(a.to_owned());
                } else {
                    errors.push(FieldError::new(
                        "action",
                        "must be an action name such as batch.created",
                    ));
                }
            }
        }
        if let Some(t) = text(&self.entity_type) {
            if long("entityType", t, 100, &mut errors) {
                f.entity_type = Some(t.to_owned());
            }
        }
        if let Some(t) = text(&self.entity_id) {
            if long("entityId", t, 200, &mut errors) {
                f.entity_id = Some(t.to_owned());
            }
        }
        let day = |name: &str, v: &Option<String>, errors: &mut Vec<FieldError>| {
            text(v).and_then(|s| match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) if (2000..=2999).contains(&chrono::Datelike::year(&d)) => Some(d),
                _ => {
                    errors.push(FieldError::new(name, "must be a date, YYYY-MM-DD"));
                    None
                }
            })
        };
        let from = day("from", &self.from, &mut errors);
        let to = day("to", &self.to, &mut errors);
        if let (Some(a), Some(b)) = (from, to) {
            if b < a {
                errors.push(FieldError::new("to", "must not be before from"));
            }
        }
        f.from = from.and_then(day_start);
        f.to = to.and_then(|d| d.succ_opt()).and_then(day_start);
        if let Some(ip) = text(&self.ip) {
            match ip.parse::<IpNetwork>() {
                Ok(n) => f.ip = Some(n),
                Err(_) => errors.push(FieldError::new(
                    "ip",
                    "must be an IP address or a network such as 10.0.0.0/8",
                )),
            }
        }
        if let Some(r) = text(&self.request_id) {
            if long("requestId", r, 200, &mut errors) {
                f.request_id = Some(r.to_owned());
            }
        }
        if let Some(o) = text(&self.outcome) {
            match o {
                "success" => f.outcome = Some(Outcome::Success),
                "failure" => f.outcome = Some(Outcome::Failure),
                _ => errors.push(FieldError::new("outcome", "must be success or failure")),
            }
        }
        if let Some(q) = text(&self.q) {
            if long("q", q, 200, &mut errors) {
                f.q = Some(q.to_owned());
            }
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
            ("actor", &self.actor),
            ("action", &self.action),
            ("entityType", &self.entity_type),
            ("entityId", &self.entity_id),
            ("from", &self.from),
            ("to", &self.to),
            ("ip", &self.ip),
            ("requestId", &self.request_id),
            ("outcome", &self.outcome),
            ("q", &self.q),
        ]
        .into_iter()
        .filter_map(|(k, v)| text(v).map(|v| (k, v.to_owned())))
        .collect()
    }
}

/// Adds the filter's conditions (`a` is `audit_logs`) after a `where true`.
pub fn push_filter<'a>(b: &mut QueryBuilder<'a, Postgres>, f: &'a Filter) {
    match &f.actor {
        None => {}
        Some(ActorFilter::User(id)) => {
            b.push(" and a.actor_user_id = ").push_bind(*id);
        }
        Some(ActorFilter::Email(e)) => {
            b.push(" and a.actor_user_id in (select u.id from users u where lower(u.email::text) = ")
                .push_bind(e)
                .push(")");
        }
        Some(ActorFilter::Kind(k)) => {
            b.push(" and a.actor_type = ").push_bind(*k);
        }
    }
    if let Some(a) = &f.action {
        if let Some(prefix) = a.strip_suffix('.') {
            b.push(" and a.action like ")
                .push_bind(format!("{}.%", prefix.replace('_', "\\_")));
        } else {
            b.push(" and a.action = ").push_bind(a);
        }
    }
    if let Some(t) = &f.entity_type {
        b.push(" and a.entity_type = ").push_bind(t);
    }
    if let Some(t) = &f.entity_id {
        b.push(" and a.entity_id = ").push_bind(t);
    }
    if let Some(t) = f.from {
        b.push(" and a.created_at >= ").push_bind(t);
    }
    if let Some(t) = f.to {
        b.push(" and a.created_at < ").push_bind(t);
    }
    if let Some(n) = f.ip {
        let host = if n.ip().is_ipv4() { 32 } else { 128 };
        if n.prefix() == host {
            b.push(" and a.ip = ").push_bind(n);
        } else {
            b.push(" and a.ip <<= ").push_bind(n);
        }
    }
    if let Some(r) = &f.request_id {
        b.push(" and a.request_id = ").push_bind(r);
    }
    match f.outcome {
        None => {}
        Some(Outcome::Failure) => {
            b.push(format!(" and {FAILURE_SQL}"));
        }
        Some(Outcome::Success) => {
            b.push(format!(" and not {FAILURE_SQL}"));
        }
    }
    if let Some(q) = &f.q {
        b.push(" and audit_search_doc(a.entity_id, a.before, a.after, a.metadata) @@ websearch_to_tsquery('simple', ")
            .push_bind(q)
            .push(")");
    }
}

/// One audit row as the viewer lists it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditRow {
    pub id: Uuid,
    /// Insertion order.
    pub seq: i64,
    pub created_at: DateTime<Utc>,
    /// `user`, `api_key`, `customer`, `system` or `anonymous`.
    pub actor_type: String,
    pub actor_user_id: Option<Uuid>,
    /// The acting user's email, when a user acted.
    pub actor_email: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    /// Its position in the hash chain, once sealed.
    pub chain_seq: Option<i64>,
}

const LIST_COLUMNS: &str =
    "select a.id, a.seq, a.created_at, a.actor_type, a.actor_user_id, u.email::text as actor_email, \
     a.action, a.entity_type, a.entity_id, host(a.ip) as ip, a.request_id, c.chain_seq \
     from audit_logs a left join users u on u.id = a.actor_user_id \
     left join audit_chain c on c.audit_id = a.id where true";

/// The keyset position of a row: its time and insertion order.
pub type Position = (DateTime<Utc>, i64);

/// A page of rows, newest first, after `after`: `limit` rows (ask one more to know whether a
/// next page exists).
pub async fn list(
    conn: &mut PgConnection,
    f: &Filter,
    after: Option<Position>,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    let mut b = QueryBuilder::new(LIST_COLUMNS);
    push_filter(&mut b, f);
    if let Some((t, seq)) = after {
        b.push(" and (a.created_at, a.seq) < (")
            .push_bind(t)
            .push(", ")
            .push_bind(seq)
            .push(")");
    }
    b.push(" order by a.created_at desc, a.seq desc limit ")
        .push_bind(limit);
    b.build_query_as().fetch_all(conn).await
}

/// One field of a row's before/after difference.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    pub field: String,
    /// The value before (absent: the field did not exist).
    pub before: Option<Value>,
    /// The value after (absent: the field was removed).
    pub after: Option<Value>,
    pub changed: bool,
}

/// One row in full: its content, its chain fields and the difference of before and after.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditDetail {
    #[serde(flatten)]
    pub row: AuditRow,
    pub session_id: Option<Uuid>,
    pub user_agent: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub metadata: Value,
    /// The chain's hash of the predecessor (hex), once sealed.
    pub prev_hash: Option<String>,
    /// This row's hash (hex), once sealed.
    pub hash: Option<String>,
    pub sealed_at: Option<DateTime<Utc>>,
    /// Field by field, when the row carries before or after (top-level keys of objects).
    pub changes: Vec<FieldChange>,
    /// The panel page of the entity, when there is one.
    pub entity_href: Option<String>,
}

#[derive(sqlx::FromRow)]
struct DetailRow {
    #[sqlx(flatten)]
    row: AuditRow,
    session_id: Option<Uuid>,
    user_agent: Option<String>,
    before: Option<Value>,
    after: Option<Value>,
    metadata: Value,
    prev_hash: Option<Vec<u8>>,
    integrity_hash: Option<Vec<u8>>,
    sealed_at: Option<DateTime<Utc>>,
}

/// The difference of `before` and `after`, field by field (top-level keys; a value that is not
/// an object is one field, `value`).
pub fn changes(before: Option<&Value>, after: Option<&Value>) -> Vec<FieldChange> {
    let as_map = |v: Option<&Value>| -> Vec<(String, Value)> {
        match v {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Some(other) => vec![("value".to_owned(), other.clone())],
        }
    };
    let b = as_map(before);
    let a = as_map(after);
    let mut keys: Vec<String> = b.iter().chain(a.iter()).map(|(k, _)| k.clone()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|k| {
            let bv = b.iter().find(|(x, _)| *x == k).map(|(_, v)| v.clone());
            let av = a.iter().find(|(x, _)| *x == k).map(|(_, v)| v.clone());
            FieldChange {
                changed: bv != av,
                field: k,
                before: bv,
                after: av,
            }
        })
        .collect()
}

/// The panel page of an entity the audit log names, when it has one.
pub fn entity_href(entity_type: &str, entity_id: Option<&str>) -> Option<String> {
    let id = entity_id?;
    let base = match entity_type {
        "batch" => "/admin/batches",
        "disbursement" => "/admin/disbursements",
        "user" => "/admin/users",
        "promo_code" => "/admin/codes",
        "redemption" => "/admin/redemptions",
        "alert" => "/admin/alerts",
        "alert_rule" => "/admin/alerts/rules",
        "webhook_endpoint" => "/admin/settings/webhooks",
        "reconciliation_run" => "/admin/disbursements/reconcile",
        "role" => return Some("/admin/roles".to_owned()),
        _ => return None,
    };
    Uuid::parse_str(id).ok().map(|_| format!("{base}/{id}"))
}

/// One row in full; 404 when there is none.
pub async fn detail(conn: &mut PgConnection, id: Uuid) -> Result<AuditDetail, AppError> {
    let r: DetailRow = sqlx::query_as(
        "select a.id, a.seq, a.created_at, a.actor_type, a.actor_user_id, u.email::text as actor_email, \
         a.action, a.entity_type, a.entity_id, host(a.ip) as ip, a.request_id, c.chain_seq, \
         a.session_id, a.user_agent, a.before, a.after, a.metadata, c.prev_hash, c.integrity_hash, c.sealed_at \
         from audit_logs a left join users u on u.id = a.actor_user_id \
         left join audit_chain c on c.audit_id = a.id where a.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound("audit row"))?;
    Ok(AuditDetail {
        changes: changes(r.before.as_ref(), r.after.as_ref()),
        entity_href: entity_href(&r.row.entity_type, r.row.entity_id.as_deref()),
        row: r.row,
        session_id: r.session_id,
        user_agent: r.user_agent,
        before: r.before,
        after: r.after,
        metadata: r.metadata,
        prev_hash: r.prev_hash.map(hex::encode),
        hash: r.integrity_hash.map(hex::encode),
        sealed_at: r.sealed_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_parsed_and_bad_ones_named() {
        let q = FilterQuery {
            actor: Some("system".into()),
            from: Some("2026-12-01".into()),
            to: Some("2026-12-01".into()),
            ip: Some("10.0.0.0/8".into()),
            outcome: Some("failure".into()),
            ..Default::default()
        };
        let f = q.parse().unwrap();
        assert_eq!(f.actor, Some(ActorFilter::Kind("system")));
        assert_eq!(f.from.unwrap().to_rfc3339(), "2026-11-30T22:00:00+00:00");
        assert_eq!(f.to.unwrap().to_rfc3339(), "2026-12-01T22:00:00+00:00");
        assert_eq!(f.outcome, Some(Outcome::Failure));
        let bad = FilterQuery {
            actor: Some("somebody".into()),
            from: Some("yesterday".into()),
            ip: Some("1.2.3".into()),
            outcome: Some("maybe".into()),
            ..Default::default()
        };
        let AppError::Validation(errs) = bad.parse().unwrap_err() else {
            panic!("not a validation error");
        };
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["actor", "from", "ip", "outcome"]);
    }

    #[test]
    fn changes_are_field_by_field() {
        let b = serde_json::json!({"status": "active", "name": "A"});
        let a = serde_json::json!({"status": "paused", "name": "A", "reason": "x"});
        let c = changes(Some(&b), Some(&a));
        let names: Vec<(&str, bool)> = c.iter().map(|c| (c.field.as_str(), c.changed)).collect();
        assert_eq!(names, [("name", false), ("reason", true), ("status", true)]);
    }
}
