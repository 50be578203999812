//! Managing codes one by one: search with keyset pagination, a code's detail with its history,
//! status changes (block, unblock, report) by the rules of DESIGN §3. Bulk changes live in
//! [`super::bulk`], validation of what a person typed in [`super::validate`].
//!
//! Every status change writes a `promo_code_events` row and an audit row in the caller's
//! transaction.
//!
//! Listing order: by `code` (the unique index `promo_codes_code_key`), so a page is an index
//! range scan whatever the filters and the cursor is just the last code seen.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::format::{self, PromoCode};
use super::lifecycle::{self, Cause, CodeStatus, Refused};
use crate::audit::Action;
use crate::error::{AppError, FieldError};
use crate::unit::Acting;

/// Codes on one printed sheet: page `p` holds serials `12p-11 … 12p`.
pub const SHEET: i32 = super::pdf::PER_PAGE as i32;
/// The statuses staff may set by hand.
pub const SETTABLE: [CodeStatus; 3] = [CodeStatus::Active, CodeStatus::Blocked, CodeStatus::Reported];
pub const MAX_LIMIT: i64 = 200;
pub const MAX_REASON: usize = 500;

/// What the `q` filter asks for: a whole code (exact match) or a part of one (3+ characters,
/// `code LIKE '%…%'` on `promo_code_search`, served by its trigram index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeQuery {
    Exact(PromoCode),
    Partial(String),
}

impl CodeQuery {
    /// Upper case, spaces removed; at least 3 characters of letters, digits and dashes.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let q: String = raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        if q.chars().count() < 3 {
            return Err(AppError::field("q", "type at least 3 characters of the code"));
        }
        if !q.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(AppError::field("q", "a code has only letters, digits and dashes"));
        }
        if let Ok(code) = format::parse(&q) {
            return Ok(CodeQuery::Exact(code));
        }
        if q.len() > 19 {
            return Err(AppError::field("q", "a code is at most 19 characters long"));
        }
        Ok(CodeQuery::Partial(q))
    }

    pub fn as_str(&self) -> &str {
        match self {
            CodeQuery::Exact(c) => c.as_str(),
            CodeQuery::Partial(s) => s,
        }
    }
}

/// Which codes: any combination narrows the set.
#[derive(Debug, Clone, Default)]
pub struct CodeFilter {
    pub batch_id: Option<Uuid>,
    pub status: Option<CodeStatus>,
    pub q: Option<CodeQuery>,
    pub serial_from: Option<i32>,
    pub serial_to: Option<i32>,
}

impl CodeFilter {
    /// A status filter as typed: none, or one of the six statuses.
    pub fn check_status(status: Option<&str>) -> Result<Option<CodeStatus>, AppError> {
        match status {
            None => Ok(None),
            Some(s) => CodeStatus::parse(s).map(Some).ok_or_else(|| {
                AppError::field("status", "must be active, used, expired, redeemed, reported or blocked")
            }),
        }
    }

    /// Appends ` and …` conditions on `promo_codes c`.
    pub fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        if let Some(b) = self.batch_id {
            qb.push(" and c.batch_id = ").push_bind(b);
        }
        if let Some(s) = &self.status {
            qb.push(" and c.status = ").push_bind(s.as_str());
        }
        match &self.q {
            Some(CodeQuery::Exact(code)) => {
                qb.push(" and c.code = ").push_bind(code.as_str().to_owned());
            }
            // only letters, digits and dashes reach here: nothing to escape for LIKE. The list
            // finds fragments its own way (see `partial`); this condition serves bulk operations.
            Some(CodeQuery::Partial(p)) => {
                let plain = p.replace('-', "");
                if plain.len() >= 3 {
                    // the trigram index over the dashless code (migration 13)
                    qb.push(
                        " and c.id in (select s.code_id from promo_code_search s where replace(s.code, '-', '') like ",
                    )
                    .push_bind(format!("%{plain}%"))
                    .push(")");
                }
                qb.push(" and c.code like ").push_bind(format!("%{p}%"));
            }
            None => {}
        }
        if let Some(f) = self.serial_from {
            qb.push(" and c.serial >= ").push_bind(f);
        }
        if let Some(t) = self.serial_to {
            qb.push(" and c.serial <= ").push_bind(t);
        }
    }
}

/// One code as lists and the detail show it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeRow {
    pub id: Uuid,
    pub code: String,
    pub serial: i32,
    /// The printed sheet (`ceil(serial / 12)`) and the place on it (1–12).
    pub page: i32,
    pub slot: i32,
    pub batch_id: Uuid,
    pub batch_number: i64,
    pub batch_name: String,
    pub amount: i64,
    pub currency: String,
    pub status: CodeStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub used_at: Option<DateTime<Utc>>,
    pub redeemed_at: Option<DateTime<Utc>>,
    pub blocked_at: Option<DateTime<Utc>>,
    pub reported_at: Option<DateTime<Utc>>,
}

const ROW: &str = "select c.id, c.code, c.serial, ((c.serial + 11) / 12)::int4 as page, \
     ((c.serial - 1) % 12 + 1)::int4 as slot, c.batch_id, b.batch_number, b.name as batch_name, c.amount, \
     c.currency, c.status, c.created_at, c.expires_at, c.used_at, c.redeemed_at, c.blocked_at, c.reported_at \
     from promo_codes c join batches b on b.id = c.batch_id where true";

/// The opaque `cursor`: the last code of the previous page.
pub fn encode_cursor(code: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("c1:{code}"))
}

pub fn decode_cursor(cursor: &str) -> Result<String, AppError> {
    let bad = || AppError::field("cursor", "is not a cursor this server gave out");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| bad())?;
    let s = String::from_utf8(bytes).map_err(|_| bad())?;
    let code = s.strip_prefix("c1:").ok_or_else(bad)?;
    if code.len() > 19 || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(bad());
    }
    Ok(code.to_owned())
}

/// Codes read in code order before a fragment search asks the trigram index instead.
const WALK: i64 = 100_000;

/// The first `want` codes after `after` (code order) that contain the fragment `p`, with the
/// filter's other conditions (decision 0012). Common fragments (a date part, a dash and a
/// letter) match a large share of all codes: reading the code index in order finds a page of them
/// within a few thousand entries. Rare ones match a few hundred codes: the trigram index over the
/// dashless code finds them all at once. The walk is bounded, so the slow case of each (a rare
/// fragment walked, a common one fetched from the trigram index) never happens. A fragment with
/// fewer than three letters and digits has no trigram but is common: the walk goes on window by
/// window. Every query here is planned for its values (a generic plan, made for any batch and any
/// pattern, reads a whole batch: decision 0012).
async fn partial(
    conn: &mut PgConnection,
    f: &CodeFilter,
    p: &str,
    after: Option<&str>,
    want: i64,
) -> Result<Vec<CodeRow>, sqlx::Error> {
    let pattern = format!("%{p}%");
    let plain = p.replace('-', "");
    let mut codes: Option<Vec<String>> = None;
    // a fragment that pins so many random characters that the window cannot hold a page of it
    // goes straight to the trigram index: walking first would only add the window's reading time
    // (decision 0019)
    let rare = plain.len() >= 3
        && super::format::expected_share(p, super::format::DEFAULT_ALPHABET.len()) * (WALK as f64) < want as f64;
    if !rare && f.status.is_none() && f.serial_from.is_none() && f.serial_to.is_none() {
        // the window: every code (or the batch's indexed codes) after the cursor, in order
        let window = match f.batch_id {
            Some(_) => {
                "select code from promo_code_search where batch_id = $4 and code > $1 order by batch_id, code limit $3"
            }
            None => "select code from promo_codes where code > $1 order by code limit $3",
        };
        // the first `want` matches of the window, stopping as soon as they are found (a common
        // fragment reads a few thousand entries, not the whole window)
        let first = format!("select code from ({window}) w where code like $2 limit $5");
        let rest = format!(
            "select coalesce(array_agg(code order by code) filter (where code like $2), '{{}}'), count(*), max(code) from ({window}) w"
        );
        let from = after.unwrap_or("").to_owned();
        // planned for these values every time: a plan made for any batch and any pattern reads
        // a whole batch
        let mut found: Vec<String> = sqlx::query_scalar(&first)
            .bind(&from)
            .bind(&pattern)
            .bind(WALK)
            .bind(f.batch_id)
            .bind(want)
            .persistent(false)
            .fetch_all(&mut *conn)
            .await?;
        found.sort();
        if found.len() as i64 >= want {
            codes = Some(found);
        } else if plain.len() < 3 {
            // fewer than a page in the window, and no trigram to ask: such a fragment is common,
            // and the walk goes on window by window (a rare one of three or more letters and
            // digits goes to the trigram index below, which also finds the last page's matches)
            let mut found = Vec::new();
            let mut from = from;
            loop {
                let (matched, scanned, last): (Vec<String>, i64, Option<String>) = sqlx::query_as(&rest)
                    .bind(&from)
                    .bind(&pattern)
                    .bind(WALK)
                    .bind(f.batch_id)
                    .persistent(false)
                    .fetch_one(&mut *conn)
                    .await?;
                found.extend(matched);
                if found.len() as i64 >= want || scanned < WALK {
                    codes = Some(found.into_iter().take(want as usize).collect());
                    break;
                }
                from = last.unwrap_or_default();
            }
        }
    }
    let codes = match codes {
        Some(c) => c,
        None => {
            let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new("select s.code from promo_code_search s");
            let joined = f.status.is_some() || f.serial_from.is_some() || f.serial_to.is_some();
            if joined {
                qb.push(" join promo_codes c on c.id = s.code_id");
            }
            qb.push(" where replace(s.code, '-', '') like ")
                .push_bind(format!("%{plain}%"))
                .push(" and s.code like ")
                .push_bind(pattern)
                .push(" and s.code > ")
                .push_bind(after.unwrap_or("").to_owned());
            if let Some(b) = f.batch_id {
                qb.push(" and s.batch_id = ").push_bind(b);
            }
            if joined {
                CodeFilter {
                    batch_id: None,
                    q: None,
                    ..f.clone()
                }
                .push(&mut qb);
            }
            qb.push(" order by s.code limit ").push_bind(want);
            qb.build_query_scalar().persistent(false).fetch_all(&mut *conn).await?
        }
    };
    let mut qb = QueryBuilder::new(ROW);
    qb.push(" and c.code = any(").push_bind(codes).push(") order by c.code");
    qb.build_query_as().fetch_all(&mut *conn).await
}

/// One page of codes in code order after `after`, and the cursor of the next page if any.
pub async fn list(
    conn: &mut PgConnection,
    f: &CodeFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<(Vec<CodeRow>, Option<String>), AppError> {
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::field("limit", format!("must be from 1 to {MAX_LIMIT}")));
    }
    let mut rows: Vec<CodeRow> = match &f.q {
        Some(CodeQuery::Partial(p))
            if p.replace('-', "").len() >= 3
                || (f.status.is_none() && f.serial_from.is_none() && f.serial_to.is_none()) =>
        {
            partial(conn, f, p, after, limit + 1).await?
        }
        _ => {
            let mut qb = QueryBuilder::new(ROW);
            f.push(&mut qb);
            if let Some(a) = after {
                qb.push(" and c.code > ").push_bind(a.to_owned());
            }
            qb.push(" order by c.code limit ").push_bind(limit + 1);
            // planned for these values (status, batch, pattern) every time
            qb.build_query_as().persistent(false).fetch_all(&mut *conn).await?
        }
    };
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| encode_cursor(&r.code))
    } else {
        None
    };
    Ok((rows, next))
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<CodeRow, AppError> {
    let mut qb = QueryBuilder::new(ROW);
    qb.push(" and c.id = ").push_bind(id);
    qb.build_query_as()
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("promo code"))
}

/// Whether a code exists (all a caller with only `promo-codes.search` may learn).
pub async fn exists(conn: &mut PgConnection, code: &PromoCode) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select exists (select 1 from promo_codes where code = $1)")
        .bind(code.as_str())
        .fetch_one(conn)
        .await
}

/// One status change, or one edit of amount and expiry ([`super::edit`]), in a code's history.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub at: DateTime<Utc>,
    pub from_status: CodeStatus,
    pub to_status: CodeStatus,
    pub actor: Option<String>,
    pub reason: String,
    pub operation_id: Uuid,
    /// An edit's amount and expiry, before and after (status unchanged); none for a status move.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::edit::EditChange>)]
    pub change: Option<sqlx::types::Json<super::edit::EditChange>>,
}

/// The code's redemption, if it has one (phone number masked).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Redemption {
    pub id: Uuid,
    pub phone_number: String,
    pub amount: i64,
    pub currency: String,
    pub status: crate::redemption::lifecycle::RedemptionStatus,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Detail {
    #[serde(flatten)]
    pub code: CodeRow,
    pub history: Vec<Event>,
    pub redemption: Option<Redemption>,
}

pub async fn detail(conn: &mut PgConnection, id: Uuid) -> Result<Detail, AppError> {
    let code = get(conn, id).await?;
    let history = sqlx::query_as(
        "select e.at, e.from_status, e.to_status, u.email::text as actor, e.reason, e.operation_id, e.change \
         from promo_code_events e left join users u on u.id = e.actor_user_id \
         where e.promo_code_id = $1 order by e.at desc, e.id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let redemption: Option<Redemption> = sqlx::query_as(
        "select id, phone_number, amount, currency, status, created_at, completed_at \
         from redemptions where promo_code_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let redemption = redemption.map(|mut r| {
        r.phone_number = crate::crypto::mask(&r.phone_number);
        r
    });
    Ok(Detail {
        code,
        history,
        redemption,
    })
}

pub fn check_reason(reason: &str) -> Result<String, AppError> {
    let r = reason.trim();
    if r.is_empty() || r.chars().count() > MAX_REASON {
        return Err(AppError::field(
            "reason",
            format!("say why, in 1 to {MAX_REASON} characters"),
        ));
    }
    Ok(r.to_owned())
}

/// What a status change did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Changed {
    pub code: CodeRow,
    pub changed: bool,
    pub operation_id: Option<Uuid>,
}

/// A staff change of one code's status, the one command the API's body and the page's form both
/// become: the status is one staff may set and the reason is given (checked here, once).
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub to: CodeStatus,
    pub reason: String,
    pub action: Action,
}

impl StatusChange {
    /// A change to `to` as sent (`active`, `blocked` or `reported`), saying why.
    pub fn new(to: &str, reason: &str) -> Result<Self, AppError> {
        Self::checked(to, reason, Action::CodeStatusChanged)
    }

    /// A report: the code moves to `reported`, saying why.
    pub fn report(reason: &str) -> Result<Self, AppError> {
        Self::checked("reported", reason, Action::CodeReported)
    }

    fn checked(to: &str, reason: &str, action: Action) -> Result<Self, AppError> {
        let mut errors = Vec::new();
        let to = match CodeStatus::parse(to) {
            Some(s) if SETTABLE.contains(&s) => Some(s),
            _ => {
                errors.push(FieldError::new("status", "must be active, blocked or reported"));
                None
            }
        };
        let reason = match check_reason(reason) {
            Ok(r) => r,
            Err(AppError::Validation(mut e)) => {
                errors.append(&mut e);
                String::new()
            }
            Err(e) => return Err(e),
        };
        match to.filter(|_| errors.is_empty()) {
            Some(to) => Ok(StatusChange { to, reason, action }),
            None => Err(AppError::Validation(errors)),
        }
    }
}

/// Sets one code's status by the rules ([`lifecycle`]), with its event row and audit row in the
/// caller's transaction. Setting the status it already has changes nothing.
pub async fn change_status(
    conn: &mut PgConnection,
    id: Uuid,
    cmd: &StatusChange,
    acting: &Acting,
) -> Result<Changed, AppError> {
    let m = lifecycle::Move {
        code_id: id,
        to: cmd.to,
        cause: Cause::Staff,
        reason: &cmd.reason,
        action: cmd.action,
    };
    let operation_id = match lifecycle::change(conn, &m, acting)
        .await?
        .map_err(Refused::into_error)?
    {
        lifecycle::Changed::Already => None,
        lifecycle::Changed::Moved { operation_id, .. } => Some(operation_id),
    };
    Ok(Changed {
        code: get(conn, id).await?,
        changed: operation_id.is_some(),
        operation_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_normalised_and_checked() {
        assert_eq!(CodeQuery::parse(" ab c ").unwrap(), CodeQuery::Partial("ABC".into()));
        assert!(matches!(
            CodeQuery::parse("abcd ef26 gh11 jk25").unwrap(),
            CodeQuery::Exact(_)
        ));
        assert!(CodeQuery::parse("ab").is_err());
        assert!(CodeQuery::parse("ab%").is_err());
        assert!(CodeQuery::parse("ABCD-EF26-GH11-JK25-X").is_err());
    }

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        let c = encode_cursor("ABCD-EF26-GH11-JK25");
        assert_eq!(decode_cursor(&c).unwrap(), "ABCD-EF26-GH11-JK25");
        assert!(decode_cursor("nope!").is_err());
        assert!(decode_cursor(&encode_cursor("x' or 1=1")).is_err());
    }
}
