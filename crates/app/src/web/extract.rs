//! Request extractors that turn bad input into problem details naming the field.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::audit::RequestMeta;
use crate::error::{current_request_id, AppError, FieldError};

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
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(de) {
            Ok(v) => Ok(ApiJson(v)),
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let message = inner.to_string();
                let message = message.split(" at line").next().unwrap_or(&message).to_owned();
                if inner.is_syntax() || inner.is_eof() {
                    Err(AppError::BadRequest(format!("the body is not valid JSON: {message}")))
                } else {
                    let field = if path == "." { "body".to_owned() } else { path };
                    Err(AppError::Validation(vec![FieldError::new(field, message)]))
                }
            }
        }
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

/// A url-encoded form as its pairs, for forms with repeated fields (checkbox lists).
pub struct FormPairs(pub Vec<(String, String)>);

impl FormPairs {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
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
        Ok(FormPairs(form_urlencoded::parse(&bytes).into_owned().collect()))
    }
}
