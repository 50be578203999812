//! `/api/v1/openapi.json` (the document, public: it holds no secrets) and `/api/docs`, the same
//! document as a page of our own: operations by area, who may call each, its parameters, body
//! and answers. No CDN, no script.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::openapi::{AnyJson, Doc, DOCUMENT_JSON};
use super::routes::{Access, RouteSpec};
use crate::error::AppError;
use crate::route;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/openapi.json", Access::Public, document,
            Doc::new("This OpenAPI 3.1 document").ok::<AnyJson>()),
        route!(GET "/api/docs", Access::Public, docs_page),
    ]
}

async fn document() -> Response {
    let mut res = DOCUMENT_JSON.as_str().into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// One operation as the page lists it.
struct OpView {
    method: String,
    path: String,
    id: String,
    summary: String,
    description: String,
    params: Vec<(String, String, bool, String)>,
    body: Option<(String, String)>,
    responses: Vec<(String, String)>,
}

struct TagView {
    name: String,
    ops: Vec<OpView>,
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage {
    version: String,
    tags: Vec<TagView>,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// A schema in one line: its type, format and the names of an object's fields.
fn schema_words(s: &Value) -> String {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    let ty = match s.get("type") {
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" or "),
        Some(Value::String(t)) => t.clone(),
        _ => String::new(),
    };
    let mut out = ty;
    if let Some(f) = s.get("format").and_then(Value::as_str) {
        out = format!("{out} ({f})");
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        let vals: Vec<String> = e.iter().map(|v| v.to_string()).collect();
        out = format!("{out}: {}", vals.join(" | "));
    }
    out
}

fn op_view(method: &str, path: &str, op: &Value) -> OpView {
    let params = op
        .get("parameters")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    (
                        text(p, "name"),
                        text(p, "in"),
                        p.get("required").and_then(Value::as_bool).unwrap_or(false),
                        p.get("schema").map(schema_words).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let body = op
        .pointer("/requestBody/content")
        .and_then(Value::as_object)
        .and_then(|c| c.iter().next())
        .map(|(media, content)| {
            let schema = content
                .get("schema")
                .map(|s| serde_json::to_string_pretty(s).unwrap_or_default())
                .unwrap_or_default();
            (media.clone(), schema)
        });
    let responses = op
        .get("responses")
        .and_then(Value::as_object)
        .map(|rs| {
            rs.iter()
                .map(|(code, r)| (code.clone(), text(r, "description")))
                .collect()
        })
        .unwrap_or_default();
    OpView {
        method: method.to_ascii_uppercase(),
        path: path.to_owned(),
        id: text(op, "operationId"),
        summary: text(op, "summary"),
        description: text(op, "description"),
        params,
        body,
        responses,
    }
}

async fn docs_page() -> Result<Response, AppError> {
    let doc: Value = serde_json::from_str(&DOCUMENT_JSON).map_err(|e| AppError::Internal(e.into()))?;
    let mut tags: Vec<TagView> = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                let Some(op) = item.get(method) else { continue };
                let tag = op.pointer("/tags/0").and_then(Value::as_str).unwrap_or("other");
                let view = op_view(method, path, op);
                match tags.iter_mut().find(|t| t.name == tag) {
                    Some(t) => t.ops.push(view),
                    None => tags.push(TagView {
                        name: tag.to_owned(),
                        ops: vec![view],
                    }),
                }
            }
        }
    }
    tags.sort_by(|a, b| a.name.cmp(&b.name));
    let page = DocsPage {
        version: doc
            .pointer("/info/version")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        tags,
    };
    super::pages::html(StatusCode::OK, &page)
}
