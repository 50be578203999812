//! The list of batches: filtered by status and name, in a sort the user chooses. The panel pages
//! it by page number (with a total); the API pages it by keyset (`web::paging`): the cursor
//! carries the sort, the sort column's value and the id of the last row shown.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::{Batch, BatchStatus, COLUMNS};
use crate::error::{AppError, FieldError};
use crate::web::paging::{Page, Paging};

/// The list asked for: filters, sort (`name`, `created`, `expires`, `amount`, `-` for
/// descending; default `-created`) and, for the panel, the page (from 0) and its size.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<String>,
    pub q: Option<String>,
    pub sort: Option<String>,
    pub page: i64,
    pub per_page: i64,
}

/// A column the list sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    Created,
    Expires,
    Amount,
}

/// The list's order: a column and its direction, then the id the same way (a unique key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sort {
    column: Column,
    desc: bool,
}

impl Sort {
    const DEFAULT: &'static str = "-created";

    fn parse(s: &str) -> Option<Sort> {
        let (desc, name) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let column = match name {
            "name" => Column::Name,
            "created" => Column::Created,
            "expires" => Column::Expires,
            "amount" => Column::Amount,
            _ => return None,
        };
        Some(Sort { column, desc })
    }

    fn sql_column(self) -> &'static str {
        match self.column {
            Column::Name => "name",
            Column::Created => "created_at",
            Column::Expires => "expiration_date",
            Column::Amount => "amount_per_code",
        }
    }

    fn direction(self) -> &'static str {
        if self.desc {
            "desc"
        } else {
            "asc"
        }
    }

    fn order_by(self) -> String {
        let dir = self.direction();
        format!(" order by {} {dir}, id {dir}", self.sql_column())
    }

    /// The sort column's value of `b`, as the cursor carries it.
    fn value_of(self, b: &Batch) -> Value {
        match self.column {
            Column::Name => Value::from(b.name.clone()),
            Column::Created => serde_json::to_value(b.created_at).unwrap_or_default(),
            Column::Expires => serde_json::to_value(b.expiration_date).unwrap_or_default(),
            Column::Amount => Value::from(b.amount_per_code),
        }
    }

    /// `and (column, id) >/< (value, id)`: the rows after the cursor's position in this order.
    fn push_after(self, qb: &mut QueryBuilder<'_, Postgres>, value: &Value, id: Uuid) -> Result<(), AppError> {
        let bad = || AppError::field("cursor", "is not a cursor this server gave out");
        let op = if self.desc { "<" } else { ">" };
        qb.push(format!(" and ({}, id) {op} (", self.sql_column()));
        match self.column {
            Column::Name => qb.push_bind(value.as_str().ok_or_else(bad)?.to_owned()),
            Column::Created | Column::Expires => {
                let t: DateTime<Utc> = serde_json::from_value(value.clone()).map_err(|_| bad())?;
                qb.push_bind(t)
            }
            Column::Amount => qb.push_bind(value.as_i64().ok_or_else(bad)?),
        };
        qb.push(", ").push_bind(id).push(")");
        Ok(())
    }
}

/// Where a page of the API list ends: the sort it was in, the sort column's value, the id.
#[derive(Serialize, Deserialize)]
struct Position(String, Value, Uuid);

/// The status and sort asked for; all problems at once.
fn check(f: &Filter) -> Result<(Option<BatchStatus>, Sort), AppError> {
    let mut errors = Vec::new();
    let status = match f.status.as_deref() {
        None => None,
        Some(s) => {
            let status = BatchStatus::parse(s);
            if status.is_none() {
                errors.push(FieldError::new(
                    "status",
                    "must be active, expired, blocked or completed",
                ));
            }
            status
        }
    };
    let sort = Sort::parse(f.sort.as_deref().unwrap_or(Sort::DEFAULT));
    if sort.is_none() {
        errors.push(FieldError::new(
            "sort",
            "must be one of name, created, expires, amount (prefix - for descending)",
        ));
    }
    match sort {
        Some(sort) if errors.is_empty() => Ok((status, sort)),
        _ => Err(AppError::Validation(errors)),
    }
}

fn push_filters(qb: &mut QueryBuilder<'_, Postgres>, status: Option<BatchStatus>, q: Option<&str>) {
    qb.push(" from batches where true");
    if let Some(s) = status {
        qb.push(" and status = ").push_bind(s.as_str());
    }
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        let like = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        qb.push(" and name ilike ").push_bind(like);
    }
}

/// A page of the list by page number, and how many batches match (the panel).
pub async fn list(conn: &mut PgConnection, f: &Filter) -> Result<(Vec<Batch>, i64), AppError> {
    let (status, sort) = check(f)?;
    let mut count = QueryBuilder::new("select count(*)");
    push_filters(&mut count, status, f.q.as_deref());
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    let mut qb = QueryBuilder::new(format!("select {COLUMNS}"));
    push_filters(&mut qb, status, f.q.as_deref());
    let per_page = f.per_page.clamp(1, 200);
    qb.push(sort.order_by())
        .push(" limit ")
        .push_bind(per_page)
        .push(" offset ")
        .push_bind(f.page.max(0).saturating_mul(per_page));
    Ok((qb.build_query_as::<Batch>().fetch_all(&mut *conn).await?, total))
}

/// A page of the list after the request's cursor (the API). A cursor of another sort is refused
/// (422 naming `cursor`): its position means nothing in this order.
pub async fn page(conn: &mut PgConnection, f: &Filter, paging: &Paging) -> Result<Page<Batch>, AppError> {
    let (status, sort) = check(f)?;
    let sort_name = f.sort.clone().unwrap_or_else(|| Sort::DEFAULT.to_owned());
    let mut qb = QueryBuilder::new(format!("select {COLUMNS}"));
    push_filters(&mut qb, status, f.q.as_deref());
    if let Some(Position(s, value, id)) = paging.position::<Position>()? {
        if Sort::parse(&s) != Some(sort) {
            return Err(AppError::field(
                "cursor",
                "belongs to a list in another sort; start again without it",
            ));
        }
        sort.push_after(&mut qb, &value, id)?;
    }
    qb.push(sort.order_by()).push(" limit ").push_bind(paging.fetch());
    let rows = qb.build_query_as::<Batch>().fetch_all(&mut *conn).await?;
    Ok(paging.page(rows, |b| Position(sort_name.clone(), sort.value_of(b), b.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_parse_with_their_direction_and_strangers_are_refused() {
        assert_eq!(
            Sort::parse("-amount"),
            Some(Sort {
                column: Column::Amount,
                desc: true
            })
        );
        assert_eq!(
            Sort::parse("name").map(|s| s.order_by()).as_deref(),
            Some(" order by name asc, id asc")
        );
        assert!(Sort::parse("--name").is_none() && Sort::parse("id").is_none());
        let f = Filter {
            status: Some("gone".into()),
            sort: Some("size".into()),
            ..Filter::default()
        };
        let Err(AppError::Validation(errors)) = check(&f) else {
            panic!("refused")
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["status", "sort"]);
    }
}
