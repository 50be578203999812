//! Request extractors that turn bad input into problem details naming the field. Handlers use
//! these, never axum's own `Query`, `Path`, `Form` or `Json`, whose rejections are plain text:
//! here every rejection is an [`AppError`], and a NUL character (which PostgreSQL text cannot
//! hold) is refused naming the field before it can reach the database.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::audit::RequestMeta;
use crate::error::{current_request_id, AppError, FieldError};
use crate::unit::Acting;

/// JSON body; a syntax or type error becomes a 400/422 naming the field path.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"));
        if !is_json {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| AppError::BadRequest(format!("the body could not be read: {e}")))?;
        // JSON can carry NUL only as the escape `\u0000`: look closer only when it is there
        if bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                if let Some(field) = json_nul_path(&v, "") {
                    return Err(nul_error(if field.is_empty() { "body" } else { &field }));
                }
            }
        }
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(de) {
            Ok(v) => Ok(ApiJson(v)),
            // JSON Schema's `integer` is any number with a zero fraction (`548.0` too), and the API
            // document promises that: read whole numbers written with a fraction as integers
            Err(e) if !e.inner().is_syntax() && !e.inner().is_eof() && has_whole_float(&bytes) => {
                let mut v: serde_json::Value =
                    serde_json::from_slice(&bytes).map_err(|_| AppError::BadRequest(e.to_string()))?;
                whole_floats_to_integers(&mut v);
                serde_path_to_error::deserialize(v)
                    .map(ApiJson)
                    .map_err(|_| typed_error(e))
            }
            Err(e) => Err(typed_error(e)),
        }
    }
}

/// Whether the body may hold a number written with a fraction (cheap pre-check).
fn has_whole_float(bytes: &[u8]) -> bool {
    bytes
        .windows(2)
        .any(|w| w[0].is_ascii_digit() && (w[1] == b'.' || w[1] == b'e' || w[1] == b'E'))
}

/// `548.0` → `548` everywhere in `v` (within i64; other numbers stay as they are).
fn whole_floats_to_integers(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| !n.is_i64() && !n.is_u64()) {
                if f.fract() == 0.0 && f.abs() < 9.2e18 {
                    *v = serde_json::Value::from(f as i64);
                }
            }
        }
        serde_json::Value::Array(xs) => xs.iter_mut().for_each(whole_floats_to_integers),
        serde_json::Value::Object(m) => m.values_mut().for_each(whole_floats_to_integers),
        _ => {}
    }
}

/// A body that is JSON but not what the route reads: 400 for syntax, else 422 naming the field.
fn typed_error(e: serde_path_to_error::Error<serde_json::Error>) -> AppError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let message = inner.to_string();
    let message = message.split(" at line").next().unwrap_or(&message).to_owned();
    if inner.is_syntax() || inner.is_eof() {
        AppError::BadRequest(format!("the body is not valid JSON: {message}"))
    } else {
        let field = if path == "." { "body".to_owned() } else { path };
        AppError::Validation(vec![FieldError::new(field, message)])
    }
}

/// Client address, user agent and request id, for audit rows.
impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect());
        Ok(RequestMeta {
            ip,
            user_agent,
            request_id: current_request_id(),
        })
    }
}

/// The acting context of a signed-in caller: who (the principal), from where (the request's
/// metadata) and when (the application clock). Routes open to anonymous callers build theirs
/// with [`Acting::new`] and [`crate::audit::Actor::Anonymous`].
impl FromRequestParts<crate::web::AppState> for Acting {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &crate::web::AppState) -> Result<Self, Self::Rejection> {
        let who = crate::web::auth::Principal::from_request_parts(parts, state).await?;
        let Ok(meta) = RequestMeta::from_request_parts(parts, state).await;
        Ok(Acting::new(who.actor(), meta, state.clock.now()))
    }
}

/// A url-encoded form as its pairs, for forms with repeated fields (checkbox lists).
pub struct FormPairs(pub Vec<(String, String)>);

impl FormPairs {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed; empty when the form has none.
    pub fn trimmed(&self, name: &str) -> String {
        self.get(name).map(str::trim).unwrap_or_default().to_owned()
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Every value of `name` parsed as a UUID; a value that is not one is a field error.
    pub fn uuids(&self, name: &str) -> Result<Vec<uuid::Uuid>, AppError> {
        self.all(name)
            .into_iter()
            .map(|v| {
                v.parse()
                    .map_err(|_| AppError::field(name, format!("`{v}` is not an id")))
            })
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for FormPairs {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| AppError::BadRequest(format!("the form could not be read: {e}")))?;
        let pairs: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
        check_pairs_for_nul(&pairs)?;
        Ok(FormPairs(pairs))
    }
}

/// The error for a NUL character in `field`.
/// Ids given as one comma-separated query value (`ids=a,b,c`), at most `max` of them; an id that
/// does not parse, or too many, is a field error naming `field`.
pub fn comma_separated_ids(raw: Option<&str>, field: &str, max: usize) -> Result<Vec<uuid::Uuid>, AppError> {
    let ids = raw
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|part| {
            part.parse()
                .map_err(|_| AppError::field(field, "must be redemption ids, comma-separated"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if ids.len() > max {
        return Err(AppError::field(field, format!("at most {max} ids")));
    }
    Ok(ids)
}

pub fn nul_error(field: &str) -> AppError {
    AppError::field(printable(field), "must not contain a NUL character")
}

/// A field name fit to show: NUL and other control characters written as `\u{…}`.
fn printable(field: &str) -> String {
    field.chars().take(100).flat_map(char::escape_debug).collect::<String>()
}

/// Where in a JSON value a string (or a key) holds NUL, as a field path (`items[2].code`).
fn json_nul_path(v: &serde_json::Value, at: &str) -> Option<String> {
    match v {
        serde_json::Value::String(s) if s.contains('\0') => Some(at.to_owned()),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| json_nul_path(item, &format!("{at}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, item)| {
            let path = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
            if k.contains('\0') {
                Some(path)
            } else {
                json_nul_path(item, &path)
            }
        }),
        _ => None,
    }
}

/// Refuses the first name or value holding NUL, naming it.
pub fn check_pairs_for_nul(pairs: &[(String, String)]) -> Result<(), AppError> {
    match pairs.iter().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
        Some((k, _)) => Err(nul_error(k)),
        None => Ok(()),
    }
}

/// Turns a url-encoded deserialization failure into a field error naming the field.
fn urlencoded_error(e: serde_path_to_error::Error<serde_urlencoded::de::Error>, whole: &str) -> AppError {
    let path = e.path().to_string();
    let message = e.into_inner().to_string();
    let field = if path == "." {
        // "missing field `x`" names its field in the message
        message
            .split('`')
            .nth(1)
            .map_or_else(|| whole.to_owned(), str::to_owned)
    } else {
        path
    };
    AppError::field(printable(&field), message)
}

fn from_pairs<T: DeserializeOwned>(pairs: &[(String, String)], whole: &str) -> Result<T, AppError> {
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| urlencoded_error(e, whole))
}

/// The query string. An empty value counts as absent, as an HTML form sends every empty field
/// (`serialFrom=` means "from the first"); a value of the wrong type is a 422 naming it.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.as_bytes())
            .into_owned()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        check_pairs_for_nul(&pairs)?;
        from_pairs(&pairs, "query").map(Query)
    }
}

/// A url-encoded form body (axum's `Form`, with its rejections as problems naming the field).
pub struct Form<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(AppError::BadRequest(
                "send the form as application/x-www-form-urlencoded".into(),
            ));
        }
        let FormPairs(pairs) = FormPairs::from_request(req, state).await?;
        from_pairs(&pairs, "form").map(Form)
    }
}

/// The first `{param}` of the route `parts` matched (`path` when none).
fn only_param(parts: &Parts) -> String {
    parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .and_then(|m| {
            m.as_str()
                .split('/')
                .find_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "path".to_owned())
}

/// Path parameters; one that does not parse is a 422 naming it.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(match e.into_kind() {
                ErrorKind::ParseErrorAtKey { key, .. }
                | ErrorKind::InvalidUtf8InPathParam { key }
                | ErrorKind::DeserializeError { key, .. } => AppError::field(printable(&key), "is not valid here"),
                // a lone value (`Path<i64>`) fails without a key: it is the route's one parameter
                _ => AppError::field(printable(&only_param(parts)), "is not valid here"),
            }),
            Err(other) => Err(AppError::Internal(anyhow::anyhow!("path parameters: {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Body1 {
        count: i64,
        #[serde(default)]
        items: Vec<u32>,
    }

    async fn read(json: &str) -> Result<Body1, AppError> {
        let req = Request::builder()
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(json.to_owned()))
            .unwrap();
        ApiJson::<Body1>::from_request(req, &()).await.map(|ApiJson(b)| b)
    }

    /// JSON Schema's `integer` admits `548.0`: the document promises it, so the API reads it.
    #[tokio::test]
    async fn whole_numbers_written_with_a_fraction_are_integers_and_others_are_refused() {
        assert_eq!(
            read(r#"{"count": 548.0, "items": [1e2]}"#).await.unwrap(),
            Body1 {
                count: 548,
                items: vec![100]
            }
        );
        assert_eq!(read(r#"{"count": 7}"#).await.unwrap().count, 7);
        for bad in [r#"{"count": 548.5}"#, r#"{"count": 1e30}"#, r#"{"count": 1.0, "x": 1}"#] {
            match read(bad).await {
                Err(AppError::Validation(e)) => assert!(!e.is_empty(), "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert!(matches!(read(r#"{"count": 1.0"#).await, Err(AppError::BadRequest(_))));
    }
}
