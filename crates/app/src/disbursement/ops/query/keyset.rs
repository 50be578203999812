//! The API's pages of payouts and redemptions (issue #19: one paging shape): `?cursor=&limit=`,
//! the cursor an opaque [`Position`] — the sort it was taken in, the last row's sort key and its
//! id — so the next page starts right after that row in the same order, however many rows came
//! or changed meanwhile, and costs the same on page 1 and page 1000.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::Sort;
use crate::error::FieldError;
use crate::web::paging::{self, DEFAULT_LIMIT, MAX_LIMIT};

/// Where a page ended: the sort it was taken in, the last row's sort key (`a`mount, `st`atus,
/// `t`ime: created, or updated for `-updatedAt`) and its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    s: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    st: Option<String>,
    t: DateTime<Utc>,
    id: Uuid,
}

/// The values of a row a position is taken from.
pub struct RowKey<'a> {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    /// Payouts' `updated_at`; redemptions give `created_at` (they never sort by it).
    pub updated_at: DateTime<Utc>,
    pub amount: i64,
    pub status: &'a str,
}

impl Position {
    pub fn of(sort: Sort, r: RowKey<'_>) -> Position {
        let keys = sort.keys();
        let has = |c: &str| keys.iter().any(|(k, _)| *k == c);
        Position {
            s: sort.key().to_owned(),
            a: has("amount").then_some(r.amount),
            st: has("status").then(|| r.status.to_owned()),
            t: if has("updated_at") { r.updated_at } else { r.created_at },
            id: r.id,
        }
    }

    /// Whether this position was taken in `sort` (and so holds every key it orders by).
    fn fits(&self, sort: Sort) -> bool {
        let has = |c: &str| sort.keys().iter().any(|(k, _)| *k == c);
        self.s == sort.key() && (self.a.is_some() == has("amount")) && (self.st.is_some() == has("status"))
    }

    fn push_value(&self, qb: &mut QueryBuilder<'_, Postgres>, column: &str) {
        match column {
            "amount" => qb.push_bind(self.a.unwrap_or_default()),
            "status" => qb.push_bind(self.st.clone().unwrap_or_default()),
            "id" => qb.push_bind(self.id),
            _ => qb.push_bind(self.t),
        };
    }

    /// Appends `and <row comes after this position in sort>` for table alias `t`: for keys
    /// k1, k2, …: `k1 ≷ v1 or (k1 = v1 and (k2 ≷ v2 or (…)))`, each in its own direction.
    pub fn push_after(&self, qb: &mut QueryBuilder<'_, Postgres>, t: &str, sort: Sort) {
        qb.push(" and ");
        self.push_keys(qb, t, sort.keys());
    }

    fn push_keys(&self, qb: &mut QueryBuilder<'_, Postgres>, t: &str, keys: &[(&str, bool)]) {
        let Some(((column, desc), rest)) = keys.split_first() else {
            qb.push("false");
            return;
        };
        qb.push(format!("({t}.{column} {} ", if *desc { "<" } else { ">" }));
        self.push_value(qb, column);
        if !rest.is_empty() {
            qb.push(format!(" or ({t}.{column} = "));
            self.push_value(qb, column);
            qb.push(" and ");
            self.push_keys(qb, t, rest);
            qb.push(")");
        }
        qb.push(")");
    }
}

/// One keyset page: after which row (none: the first page), and how many rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    pub after: Option<Position>,
    pub limit: i64,
}

impl Default for Keyset {
    fn default() -> Self {
        Keyset {
            after: None,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl Keyset {
    /// `cursor` and `limit` as they arrive; a cursor from another sort (or not ours) names `cursor`.
    pub(super) fn parse(cursor: Option<&str>, limit: Option<&str>, sort: Sort, errors: &mut Vec<FieldError>) -> Keyset {
        let bad_cursor = || FieldError::new("cursor", "is not a cursor this list gave out for this sort");
        let after = cursor.and_then(|c| match paging::decode::<Position>(c) {
            Ok(p) if c.len() <= 512 && p.fits(sort) => Some(p),
            _ => {
                errors.push(bad_cursor());
                None
            }
        });
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(l) => match l.parse::<i64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    errors.push(FieldError::new(
                        "limit",
                        format!("must be a number from 1 to {MAX_LIMIT}"),
                    ));
                    DEFAULT_LIMIT
                }
            },
        };
        Keyset { after, limit }
    }

    /// Rows to fetch: one more than the page shows, to know whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// The first `limit` of `rows` (fetched in `sort` order) and the cursor after the last of
    /// them when there were more.
    pub fn cut<T>(&self, mut rows: Vec<T>, sort: Sort, key: impl Fn(&T) -> RowKey<'_>) -> (Vec<T>, Option<String>) {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next = if more {
            rows.last().map(|r| paging::encode(&Position::of(sort, key(r))))
        } else {
            None
        };
        (rows, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: Uuid) -> RowKey<'static> {
        let t = DateTime::parse_from_rfc3339("2026-11-26T10:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        RowKey {
            id,
            created_at: t,
            updated_at: t,
            amount: 5000,
            status: "failed",
        }
    }

    #[test]
    fn a_cursor_carries_the_sort_key_and_serves_only_its_sort() {
        let id = Uuid::new_v4();
        let c = paging::encode(&Position::of(Sort::AmountDesc, key(id)));
        let mut errors = Vec::new();
        let k = Keyset::parse(Some(&c), Some("20"), Sort::AmountDesc, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        let p = k.after.unwrap();
        assert_eq!((p.a, p.id, k.limit), (Some(5000), id, 20));
        Keyset::parse(Some(&c), None, Sort::NewestFirst, &mut errors);
        Keyset::parse(Some("nonsense"), Some("201"), Sort::AmountDesc, &mut errors);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["cursor", "cursor", "limit"]);
    }

    #[test]
    fn the_condition_follows_each_key_in_its_direction() {
        let p = Position::of(Sort::AmountAsc, key(Uuid::nil()));
        let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new("select 1 from t where true");
        p.push_after(&mut qb, "r", Sort::AmountAsc);
        assert_eq!(
            qb.sql(),
            "select 1 from t where true and (r.amount > $1 or (r.amount = $2 and \
             (r.created_at < $3 or (r.created_at = $4 and (r.id < $5)))))"
        );
    }
}
