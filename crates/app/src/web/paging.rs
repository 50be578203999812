//! One way to page every list of the API: `?cursor=…&limit=…` in, `{data, next, nextCursor}`
//! out. The cursor is opaque (each list encodes its own keyset position in it); `next` is the
//! link to the following page (the same request with the cursor replaced), absent on the last.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

use utoipa::openapi::schema::{Array, Object, Schema, SchemaType, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, FieldError};

/// Rows per page when the request does not say.
pub const DEFAULT_LIMIT: i64 = 50;
/// The most rows one page holds.
pub const MAX_LIMIT: i64 = 200;

/// The paging parameters, as documented (the [`Paging`] extractor reads them).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `nextCursor` of the previous page; leave out for the first page.
    #[param(max_length = 512)]
    pub cursor: Option<String>,
    /// Rows per page, 1 to 200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
}

/// The paging of one list request: where to start, how many, and the request to link onward.
#[derive(Debug, Clone)]
pub struct Paging {
    pub cursor: Option<String>,
    pub limit: i64,
    path: String,
    pairs: Vec<(String, String)>,
}

impl Paging {
    /// The position the cursor holds, decoded; 422 naming `cursor` when it is not one of ours.
    pub fn position<T: DeserializeOwned>(&self) -> Result<Option<T>, AppError> {
        self.cursor.as_deref().map(decode).transpose()
    }

    /// A page of `rows`: the first `limit` of them, and the cursor of the last one shown when
    /// there were more (the list asked for `limit + 1` rows to know).
    pub fn page<T, K: Serialize>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> K) -> Page<T> {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| encode(&key(r)))
        } else {
            None
        };
        self.with_cursor(rows, next_cursor)
    }

    /// A page whose next cursor the list worked out itself.
    pub fn with_cursor<T>(&self, data: Vec<T>, next_cursor: Option<String>) -> Page<T> {
        Page::linked(data, next_cursor, &self.path, &self.pairs)
    }

    /// Rows to fetch: one more than the page shows, to know whether there is a next page.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut errors = Vec::new();
        let cursor = get("cursor");
        if cursor.as_ref().is_some_and(|c| c.len() > 512) {
            errors.push(FieldError::new("cursor", "is not a cursor this server gave out"));
        }
        let limit = match get("limit") {
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
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(Paging {
            cursor,
            limit,
            path: parts.uri.path().to_owned(),
            pairs,
        })
    }
}

/// One page of a list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// The rows of this page.
    pub data: Vec<T>,
    /// The link to the next page; absent on the last page.
    pub next: Option<String>,
    /// The cursor of the next page (what `next` carries); absent on the last page.
    pub next_cursor: Option<String>,
}

/// Written by hand: utoipa's derive on a generic collects the schemas `T` refers to but not
/// `T`'s own, which the `data` items point at.
impl<T: ToSchema> utoipa::__dev::ComposeSchema for Page<T> {
    fn compose(_generics: Vec<RefOr<Schema>>) -> RefOr<Schema> {
        let text_or_null = |description: &str| {
            Object::builder()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .description(Some(description))
        };
        Object::builder()
            .description(Some("One page of a list."))
            .property(
                "data",
                Array::builder()
                    .items(Ref::from_schema_name(T::name()))
                    .description(Some("The rows of this page.")),
            )
            .required("data")
            .property(
                "next",
                text_or_null("The link to the next page; absent on the last page."),
            )
            .property(
                "nextCursor",
                text_or_null("The cursor of the next page (what `next` carries)."),
            )
            .into()
    }
}

impl<T: ToSchema> ToSchema for Page<T> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("Page_{}", T::name()))
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
}

impl<T> Page<T> {
    /// A page of `data` whose `next` link is the request (`path`, query `pairs`) with the cursor
    /// replaced by `next_cursor`.
    pub fn linked(data: Vec<T>, next_cursor: Option<String>, path: &str, pairs: &[(String, String)]) -> Self {
        let next = next_cursor.as_ref().map(|c| {
            let mut kept: Vec<(&str, &str)> = pairs
                .iter()
                .filter(|(k, _)| k != "cursor")
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            kept.push(("cursor", c));
            super::routes::with_query(path, &kept)
        });
        Page {
            data,
            next,
            next_cursor,
        }
    }

    /// … from the request's URI.
    pub fn for_request(data: Vec<T>, next_cursor: Option<String>, uri: &axum::http::Uri) -> Self {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        Page::linked(data, next_cursor, uri.path(), &pairs)
    }
}

/// A keyset position as an opaque cursor (URL-safe base64 of its JSON).
pub fn encode<K: Serialize>(key: &K) -> String {
    let json = serde_json::to_vec(key).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

/// … and back; 422 naming `cursor` for anything this server did not give out.
pub fn decode<K: DeserializeOwned>(cursor: &str) -> Result<K, AppError> {
    let bad = || AppError::field("cursor", "is not a cursor this server gave out");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        let c = encode(&("2026-12-07T10:00:00Z", 42));
        let back: (String, i64) = decode(&c).unwrap();
        assert_eq!(back, ("2026-12-07T10:00:00Z".to_owned(), 42));
        assert!(decode::<(String, i64)>("not-a-cursor!").is_err());
        assert!(decode::<(String, i64)>(&encode(&"x")).is_err());
    }

    #[test]
    fn the_next_link_keeps_the_filters_and_replaces_the_cursor() {
        let p = Paging {
            cursor: Some("old".into()),
            limit: 2,
            path: "/api/v1/admin/things".into(),
            pairs: vec![("status".into(), "active".into()), ("cursor".into(), "old".into())],
        };
        let page = p.page(vec![1, 2, 3], |n| *n);
        assert_eq!(page.data, vec![1, 2]);
        let next = page.next.unwrap();
        assert!(next.starts_with("/api/v1/admin/things?status=active&cursor="), "{next}");
        assert_eq!(decode::<i32>(page.next_cursor.as_deref().unwrap()).unwrap(), 2);
        assert!(p.page(vec![1], |n| *n).next.is_none());
    }
}
