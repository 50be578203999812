//! Bulk status changes: a selection of ids or a filter (batch, status, partial code, serial or
//! page range — voiding a lost print sheet is "block page p of batch B"). A dry run counts what
//! would change; the real run changes only codes whose current status allows it, in one
//! statement that also writes one event row per code, plus ONE audit row for the operation.

use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::admin::{check_reason, CodeFilter, SHEET};
use super::lifecycle::{self, BulkMove, CodeStatus};
use crate::audit::Action;
use crate::error::{AppError, FieldError};
use crate::unit::Acting;

pub const MAX_IDS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    Block,
    Unblock,
    Report,
    Activate,
}

impl BulkAction {
    pub fn parse(s: &str) -> Result<Self, AppError> {
        Ok(match s {
            "block" => Self::Block,
            "unblock" => Self::Unblock,
            "report" => Self::Report,
            "activate" => Self::Activate,
            _ => return Err(AppError::field("action", "must be block, unblock, report or activate")),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Block => "block",
            Self::Unblock => "unblock",
            Self::Report => "report",
            Self::Activate => "activate",
        }
    }

    /// The status codes get.
    pub fn to(self) -> CodeStatus {
        match self {
            Self::Block => CodeStatus::Blocked,
            Self::Unblock | Self::Activate => CodeStatus::Active,
            Self::Report => CodeStatus::Reported,
        }
    }

    /// The statuses a code must be in to change (each a staff move of [`lifecycle::TRANSITIONS`]).
    pub fn from(self) -> &'static [CodeStatus] {
        use CodeStatus::*;
        match self {
            Self::Block => &[Active, Reported],
            Self::Unblock => &[Blocked],
            Self::Report => &[Active],
            Self::Activate => &[Blocked, Reported],
        }
    }
}

/// The filter as the request gave it (kept for the audit row).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterSpec {
    pub batch_id: Option<Uuid>,
    pub status: Option<String>,
    pub q: Option<String>,
    pub serial_from: Option<i32>,
    pub serial_to: Option<i32>,
    pub page_from: Option<i32>,
    pub page_to: Option<i32>,
}

impl FilterSpec {
    /// Checks the filter and turns page ranges into serial ranges. A filter must name a batch or
    /// a partial code (no accidental "every code"); ranges need a batch.
    pub fn resolve(&self) -> Result<CodeFilter, AppError> {
        let mut errors = Vec::new();
        let status = match CodeFilter::check_status(self.status.as_deref()) {
            Ok(s) => s,
            Err(AppError::Validation(mut e)) => {
                errors.append(&mut e);
                None
            }
            Err(e) => return Err(e),
        };
        let q = match self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            Some(raw) => match super::admin::CodeQuery::parse(raw) {
                Ok(q) => Some(q),
                Err(AppError::Validation(mut e)) => {
                    errors.append(&mut e);
                    None
                }
                Err(e) => return Err(e),
            },
            None => None,
        };
        if self.batch_id.is_none() && self.q.as_deref().is_none_or(|q| q.trim().is_empty()) {
            errors.push(FieldError::new("batchId", "choose a batch (or a partial code)"));
        }
        let serials = self.serial_from.is_some() || self.serial_to.is_some();
        let pages = self.page_from.is_some() || self.page_to.is_some();
        if (serials || pages) && self.batch_id.is_none() && !errors.iter().any(|e| e.field == "batchId") {
            errors.push(FieldError::new("batchId", "a serial or page range needs a batch"));
        }
        let (mut from, mut to) = (self.serial_from, self.serial_to);
        if serials && pages {
            errors.push(FieldError::new(
                "pageFrom",
                "give a serial range or a page range, not both",
            ));
        } else if pages {
            let (pf, pt) = (self.page_from.unwrap_or(1), self.page_to.or(self.page_from));
            if pf < 1 || pt.is_some_and(|t| t < pf) || pt.is_some_and(|t| t > i32::MAX / SHEET) {
                errors.push(FieldError::new(
                    "pageFrom",
                    "pages start at 1 and the range must not end before it starts",
                ));
            } else {
                from = Some(SHEET * pf - SHEET + 1);
                to = pt.map(|t| SHEET * t);
            }
        } else if from.is_some_and(|f| f < 1) || matches!((from, to), (Some(f), Some(t)) if t < f) {
            errors.push(FieldError::new(
                "serialFrom",
                "serials start at 1 and the range must not end before it starts",
            ));
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(CodeFilter {
            batch_id: self.batch_id,
            status,
            q,
            serial_from: from,
            serial_to: to,
        })
    }
}

#[derive(Debug, Clone)]
pub enum Target {
    Ids(Vec<Uuid>),
    Filter(FilterSpec),
}

impl Target {
    fn describe(&self) -> Value {
        match self {
            Target::Ids(ids) => json!({"ids": ids}),
            Target::Filter(f) => json!({"filter": f}),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub dry_run: bool,
    pub action: &'static str,
    /// Codes the selection or filter names.
    pub matched: i64,
    /// Codes changed (or, in a dry run, that would change).
    pub changed: i64,
    /// Codes left as they were because their status does not allow the action.
    pub skipped: i64,
    /// Ids of the selection that are no code at all.
    pub not_found: i64,
    pub operation_id: Option<Uuid>,
}

fn push_target(qb: &mut QueryBuilder<'_, Postgres>, ids: &Option<Vec<Uuid>>, filter: &Option<CodeFilter>) {
    if let Some(ids) = ids {
        qb.push(" and c.id = any(").push_bind(ids.clone()).push(")");
    }
    if let Some(f) = filter {
        f.push(qb);
    }
}

/// A bulk status change: what, to which codes, why, and whether only to count.
#[derive(Debug, Clone)]
pub struct Bulk {
    pub target: Target,
    pub action: BulkAction,
    pub reason: String,
    pub dry_run: bool,
}

/// Counts (dry run) or applies the action to the target, in the caller's transaction.
pub async fn run(conn: &mut PgConnection, cmd: &Bulk, acting: &Acting) -> Result<Outcome, AppError> {
    let Bulk {
        target,
        action,
        reason,
        dry_run,
    } = cmd;
    let (action, dry_run) = (*action, *dry_run);
    let mut errors = Vec::new();
    let (ids, filter) = match target {
        Target::Ids(ids) => {
            if ids.is_empty() || ids.len() > MAX_IDS {
                errors.push(FieldError::new("ids", format!("select 1 to {MAX_IDS} codes")));
            }
            let mut unique = ids.clone();
            unique.sort();
            unique.dedup();
            (Some(unique), None)
        }
        Target::Filter(f) => match f.resolve() {
            Ok(cf) => (None, Some(cf)),
            Err(AppError::Validation(mut e)) => {
                errors.append(&mut e);
                (None, None)
            }
            Err(e) => return Err(e),
        },
    };
    let reason = if dry_run {
        reason.trim().to_owned()
    } else {
        match check_reason(reason) {
            Ok(r) => r,
            Err(AppError::Validation(mut e)) => {
                errors.append(&mut e);
                String::new()
            }
            Err(e) => return Err(e),
        }
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    if let Some(b) = filter.as_ref().and_then(|f| f.batch_id) {
        crate::batches::get(conn, b).await.map_err(|e| match e {
            AppError::NotFound(_) => AppError::field("batchId", "no such batch"),
            e => e,
        })?;
    }
    let mut qb = QueryBuilder::new("select count(*) from promo_codes c where true");
    push_target(&mut qb, &ids, &filter);
    let matched: i64 = qb.build_query_scalar().fetch_one(&mut *conn).await?;
    let not_found = ids.as_ref().map_or(0, |i| i.len() as i64 - matched);
    let mut out = Outcome {
        dry_run,
        action: action.as_str(),
        matched,
        not_found,
        ..Outcome::default()
    };
    if dry_run {
        let mut qb = QueryBuilder::new("select count(*) from promo_codes c where true");
        push_target(&mut qb, &ids, &filter);
        lifecycle::push_eligible(&mut qb, action.to(), action.from(), acting.now);
        out.changed = qb.build_query_scalar().fetch_one(&mut *conn).await?;
        out.skipped = matched - out.changed;
        return Ok(out);
    }
    let operation_id = Uuid::new_v4();
    let to = action.to();
    let m = BulkMove {
        to,
        from: action.from(),
        reason: &reason,
        operation_id,
    };
    let select = |qb: &mut QueryBuilder<'_, Postgres>| push_target(qb, &ids, &filter);
    let audit = |changed: i64| {
        acting
            .audit(Action::CodesBulkStatusChanged, "promo_codes", operation_id)
            .after(json!({"status": to}))
            .metadata(json!({
                "action": action.as_str(),
                "reason": reason,
                "target": target.describe(),
                "matched": matched,
                "changed": changed,
                "skipped": matched - changed,
                "notFound": not_found,
            }))
    };
    out.changed = lifecycle::change_selected(conn, select, &m, acting, audit).await?;
    out.skipped = matched - out.changed;
    out.operation_id = Some(operation_id);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_ranges_become_serial_ranges() {
        let b = Some(Uuid::nil());
        let f = FilterSpec {
            batch_id: b,
            page_from: Some(2),
            page_to: Some(2),
            ..FilterSpec::default()
        }
        .resolve()
        .unwrap();
        assert_eq!((f.serial_from, f.serial_to), (Some(13), Some(24)));
        let f = FilterSpec {
            batch_id: b,
            page_from: Some(3),
            ..FilterSpec::default()
        }
        .resolve()
        .unwrap();
        assert_eq!((f.serial_from, f.serial_to), (Some(25), Some(36)));
        assert!(FilterSpec {
            page_from: Some(1),
            ..FilterSpec::default()
        }
        .resolve()
        .is_err());
        assert!(FilterSpec {
            batch_id: b,
            page_from: Some(3),
            page_to: Some(2),
            ..FilterSpec::default()
        }
        .resolve()
        .is_err());
        assert!(FilterSpec {
            batch_id: b,
            serial_from: Some(1),
            page_from: Some(1),
            ..FilterSpec::default()
        }
        .resolve()
        .is_err());
    }
}
