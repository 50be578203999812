//! The OpenAPI 3.1 document of `/api/v1`, built from the route table.
//!
//! Each API route carries a [`Doc`] beside its declaration in its module's `routes()`: a summary,
//! its query parameters, body and answers, named by the types the handler parses and renders
//! (`utoipa`'s `IntoParams` and `ToSchema` derives on them). Everything the table already knows
//! is not written again: the method and path come from the route, path parameters from the
//! path's `{name}` segments, the security requirement and the permission from its [`Access`],
//! and the problem answers every route can give (401/403/429 for staff routes, 404 and 422 where
//! there is an id or input to refuse, 400/413/415 where there is a body) from those too.
//!
//! So the document cannot name a route that does not exist, and `api_routes_are_all_documented`
//! fails when an `/api/v1` route has no [`Doc`]. Served at `/api/v1/openapi.json`; `/api/docs`
//! renders the same document as a page.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::http::Method;
use utoipa::openapi::link::Link;
use utoipa::openapi::path::{HttpMethod, Operation, Parameter, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{Components, KnownFormat, Object, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Content, Info, OpenApi, PathItem, Paths, Ref, RefOr, Required, Tag};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::routes::{Access, RouteSpec};

/// The security schemes' names in the document.
pub const API_KEY: &str = "apiKey";
pub const SESSION: &str = "sessionCookie";
pub const WEBHOOK: &str = "webhookSecret";

type Schemas = Vec<(String, RefOr<Schema>)>;
/// A media type and the schema of its body.
type Body = (&'static str, RefOr<Schema>);

/// A JSON object whose fields this document does not spell out (the document itself, a
/// provider's raw answer kept for support).
pub struct AnyJson;

impl PartialSchema for AnyJson {
    fn schema() -> RefOr<Schema> {
        Object::builder().schema_type(Type::Object).into()
    }
}

impl ToSchema for AnyJson {}

/// One operation's documentation, written beside its route.
#[derive(Default)]
pub struct Doc {
    summary: &'static str,
    description: Option<&'static str>,
    params: Vec<Parameter>,
    /// The request body, by media type (one entry per media type the route reads).
    body: Vec<Body>,
    responses: Vec<(u16, &'static str, Option<Body>)>,
    problems: Vec<u16>,
    /// Links from an answer (status, link name) to another operation (stateful testing).
    links: Vec<(u16, &'static str, Link)>,
    schemas: Schemas,
}

impl Doc {
    pub fn new(summary: &'static str) -> Self {
        Doc {
            summary,
            ..Doc::default()
        }
    }

    /// A longer explanation under the summary.
    pub fn describe(mut self, text: &'static str) -> Self {
        self.description = Some(text);
        self
    }

    /// The query parameters, from the handler's query type.
    pub fn query<Q: IntoParams>(mut self) -> Self {
        self.params.extend(Q::into_params(|| Some(ParameterIn::Query)));
        self
    }

    /// A path parameter that is not an id (`{category}`, `{version}`, …): its type and meaning.
    /// Path parameters not named here are ids (UUIDs) when called `id`, text otherwise.
    pub fn path<T: PartialSchema>(mut self, name: &'static str, description: &'static str) -> Self {
        self.params.push(path_param(name, T::schema(), Some(description)));
        self
    }

    /// A JSON request body.
    pub fn body<B: ToSchema>(mut self) -> Self {
        let schema = self.schema_of::<B>();
        self.body.push(("application/json", schema));
        self
    }

    /// A form-encoded request body (gateway callbacks).
    pub fn form<B: ToSchema>(mut self) -> Self {
        let schema = self.schema_of::<B>();
        self.body.push(("application/x-www-form-urlencoded", schema));
        self
    }

    /// A `multipart/form-data` request body (uploads): `B`'s fields are the form's parts (a file
    /// part is a string field with `format = Binary`).
    pub fn multipart<B: ToSchema>(mut self) -> Self {
        let schema = self.schema_of::<B>();
        self.body.push(("multipart/form-data", schema));
        self
    }

    /// A raw request body of this media type (an uploaded file sent as the body itself). Beside
    /// [`Doc::multipart`], the route reads either.
    pub fn raw(mut self, media_type: &'static str) -> Self {
        let schema = Object::builder()
            .schema_type(Type::String)
            .content_media_type(media_type)
            .build();
        self.body.push((media_type, schema.into()));
        self
    }

    /// 200 with a JSON body.
    pub fn ok<R: ToSchema>(self) -> Self {
        self.returns::<R>(200, "OK")
    }

    /// 200 with a page of `R` rows ([`Page<R>`](super::paging::Page)).
    pub fn page<R: ToSchema>(self) -> Self {
        self.ok::<super::paging::Page<R>>()
    }

    /// 201 with the created resource.
    pub fn created<R: ToSchema>(self) -> Self {
        self.returns::<R>(201, "Created")
    }

    /// 202: accepted, done later by a job.
    pub fn accepted<R: ToSchema>(self) -> Self {
        self.returns::<R>(202, "Accepted: a job does the work")
    }

    /// An answer with a JSON body.
    pub fn returns<R: ToSchema>(mut self, status: u16, description: &'static str) -> Self {
        let schema = self.schema_of::<R>();
        self.responses
            .push((status, description, Some(("application/json", schema))));
        self
    }

    /// 204, no body.
    pub fn no_content(mut self) -> Self {
        self.responses.push((204, "Done", None));
        self
    }

    /// An answer without a body (a callback's bare 200).
    pub fn empty(mut self, status: u16, description: &'static str) -> Self {
        self.responses.push((status, description, None));
        self
    }

    /// 200 with a file (a download) or plain text of this media type; call it once per media
    /// type a route can answer with (the first call's description is the answer's).
    pub fn file(mut self, media_type: &'static str, description: &'static str) -> Self {
        let schema = Object::builder()
            .schema_type(Type::String)
            .content_media_type(media_type)
            .build();
        self.responses
            .push((200, description, Some((media_type, schema.into()))));
        self
    }

    /// A link from the `status` answer to the operation `operation_id` (see [`operation_id`]):
    /// its parameter `parameter` is the runtime expression `value` (`$response.body#/batch/id`).
    /// Schemathesis's stateful tests follow them.
    pub fn link(mut self, status: u16, name: &'static str, operation_id: &str, parameter: &str, value: &str) -> Self {
        let link = Link::builder()
            .operation_id(operation_id)
            .parameter(parameter, value)
            .build();
        self.links.push((status, name, link));
        self
    }

    /// Problem answers this route gives beyond those its access and input imply (404, 409, 503).
    pub fn problems(mut self, statuses: &[u16]) -> Self {
        self.problems.extend_from_slice(statuses);
        self
    }

    /// Puts `T` in the document's components. Needed for the type argument of a generic answer
    /// (`Page<T>`, `Data<T>`): utoipa refers to it by name but does not collect it.
    pub fn component<T: ToSchema>(mut self) -> Self {
        self.schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(&mut self.schemas);
        self
    }

    /// `T`'s schema inline, the schemas it refers to collected for the components.
    fn schema_of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        T::schemas(&mut self.schemas);
        T::schema()
    }
}

fn path_param(name: &str, schema: RefOr<Schema>, description: Option<&str>) -> Parameter {
    let mut p = Parameter::new(name);
    p.parameter_in = ParameterIn::Path;
    p.required = Required::True;
    p.schema = Some(schema);
    p.description = description.map(str::to_owned);
    p
}

/// The path parameters of `path` the doc did not describe: `id` is a UUID, others text.
fn implied_path_params(path: &str, described: &[Parameter]) -> Vec<Parameter> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .filter(|name| {
            !described
                .iter()
                .any(|p| p.name == *name && p.parameter_in == ParameterIn::Path)
        })
        .map(|name| {
            let schema = if name == "id" {
                Object::builder()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                    .build()
            } else {
                Object::builder().schema_type(Type::String).min_length(Some(1)).build()
            };
            path_param(name, schema.into(), None)
        })
        .collect()
}

/// The problem answers every route with this access and input can give, and what they mean.
fn implied_problems(access: Access, doc: &Doc, has_path_params: bool) -> Vec<u16> {
    let mut out = doc.problems.clone();
    let staff = !matches!(access, Access::Public | Access::PublicJson | Access::Webhook);
    if staff {
        out.extend([401, 403, 429]);
    }
    if access == Access::Webhook {
        out.push(403);
    }
    if !doc.body.is_empty() {
        out.extend([400, 413, 415, 422]);
    }
    if has_path_params {
        out.extend([404, 422]);
    }
    if doc.params.iter().any(|p| p.parameter_in == ParameterIn::Query) {
        out.push(422);
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn problem_description(status: u16) -> &'static str {
    match status {
        400 => "The body could not be read (not JSON, not a form)",
        401 => "Not signed in, or the API key is unknown, expired or revoked",
        403 => "Signed in, but without the permission this route needs (or a wrong webhook secret)",
        404 => "No such record",
        409 => "The record's state does not allow this now",
        413 => "The body is too large",
        415 => "The body is not of the media type this route reads",
        422 => "A field is missing or wrong: `errors` names each one",
        429 => "Too many requests: wait and try again",
        503 => {
            "A provider this route needs is unavailable, or the system is in maintenance (a change waits: \
                `Retry-After` says how long); try again later"
        }
        _ => "Refused",
    }
}

/// Who may call, in words, for the operation's description.
fn access_words(access: Access) -> String {
    match access {
        Access::Public => "Public.".to_owned(),
        Access::PublicJson => {
            "Public, JSON bodies only (pre-auth: sign-in and registration; decision 0030).".to_owned()
        }
        Access::Webhook => "Gateway or provider callback, authenticated by its secret.".to_owned(),
        Access::PartialSession => "A session half way through sign-in.".to_owned(),
        Access::SignedIn => "Any signed-in staff member or API key.".to_owned(),
        Access::OwnAccount => {
            "The signed-in person's own session: its cookie or its bearer token (`mbs_…`), not an API key.".to_owned()
        }
        Access::Permission(p) => format!("Needs `{}`.", p.key()),
        Access::AnyOf(ps) => {
            let keys: Vec<String> = ps.iter().map(|p| format!("`{}`", p.key())).collect();
            format!("Needs one of {}.", keys.join(", "))
        }
        Access::AllOf(ps) => {
            let keys: Vec<String> = ps.iter().map(|p| format!("`{}`", p.key())).collect();
            format!("Needs {}.", keys.join(" and "))
        }
    }
}

fn security(access: Access, path: &str) -> Vec<SecurityRequirement> {
    let scheme = |name: &str| SecurityRequirement::new(name, Vec::<String>::new());
    match access {
        // the MoMo callback's secret is part of its path (`{attempt_ref}`)
        Access::Webhook if path.contains("/momo/") => vec![SecurityRequirement::default()],
        Access::Webhook => vec![scheme(WEBHOOK)],
        Access::Public | Access::PublicJson => vec![SecurityRequirement::default()],
        Access::PartialSession => vec![scheme(SESSION)],
        // a session, by its cookie or its bearer token (the bearer scheme's `mbs_…`)
        Access::OwnAccount => vec![scheme(API_KEY), scheme(SESSION)],
        Access::SignedIn | Access::Permission(_) | Access::AnyOf(_) | Access::AllOf(_) => {
            vec![scheme(API_KEY), scheme(SESSION)]
        }
    }
}

/// `get` + `/api/v1/admin/promo-codes/{id}` → `getAdminPromoCodesId`.
pub fn operation_id(method: &Method, path: &str) -> String {
    let mut id = method.as_str().to_ascii_lowercase();
    let rest = path
        .strip_prefix("/api/v1")
        .or_else(|| path.strip_prefix("/api"))
        .unwrap_or(path);
    for word in rest.split(['/', '-', '.', '{', '}', '_']).filter(|w| !w.is_empty()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.push_str(chars.as_str());
        }
    }
    id
}

/// The tag an operation is listed under: the area after `/api/v1/admin/` (or after `/api/v1/`).
pub fn tag(path: &str) -> &str {
    let rest = path.strip_prefix("/api/v1/").unwrap_or(path.trim_start_matches('/'));
    let rest = rest.strip_prefix("admin/").unwrap_or(rest);
    rest.split('/').next().unwrap_or(rest)
}

fn http_method(m: &Method) -> Option<HttpMethod> {
    Some(match *m {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::DELETE => HttpMethod::Delete,
        Method::PATCH => HttpMethod::Patch,
        _ => return None,
    })
}

/// The problem+json answer.
fn problem_response(status: u16) -> Response {
    Response::builder()
        .description(problem_description(status))
        .content(
            "application/problem+json",
            Content::new(Some(Ref::from_schema_name("Problem"))),
        )
        .build()
}

fn operation(spec: &RouteSpec, doc: &Doc) -> Operation {
    let mut params = doc.params.clone();
    let implied = implied_path_params(spec.path, &params);
    let has_path_params = spec.path.contains('{');
    params.splice(0..0, implied);
    let mut op = Operation::builder()
        .operation_id(Some(operation_id(&spec.method, spec.path)))
        .tag(tag(spec.path))
        .summary(Some(doc.summary))
        .description(Some(match doc.description {
            Some(d) => format!("{d}\n\n{}", access_words(spec.access)),
            None => access_words(spec.access),
        }))
        .parameters(Some(params))
        .securities(Some(security(spec.access, spec.path)));
    if !doc.body.is_empty() {
        let mut body = RequestBody::builder().required(Some(Required::True));
        for (media_type, schema) in &doc.body {
            body = body.content(*media_type, Content::new(Some(schema.clone())));
        }
        op = op.request_body(Some(body.build()));
    }
    // answers of the same status (a file in several media types) are one response
    let mut statuses: Vec<u16> = Vec::new();
    for (status, ..) in &doc.responses {
        if !statuses.contains(status) {
            statuses.push(*status);
        }
    }
    for status in statuses {
        let mut r = Response::builder();
        for (_, description, body) in doc.responses.iter().filter(|r| r.0 == status) {
            r = r.description(*description);
            if let Some((media_type, schema)) = body {
                r = r.content(*media_type, Content::new(Some(schema.clone())));
            }
        }
        for (_, name, link) in doc.links.iter().filter(|l| l.0 == status) {
            r = r.link(*name, link.clone());
        }
        op = op.response(status.to_string(), r.build());
    }
    let mut implied = implied_problems(spec.access, doc, has_path_params);
    // a change while the system is in maintenance waits (503 with Retry-After; decision 0054)
    if crate::maintenance::web::blocked(&spec.method, spec.path, spec.path) && !implied.contains(&503) {
        implied.push(503);
        implied.sort_unstable();
    }
    for status in implied {
        op = op.response(status.to_string(), problem_response(status));
    }
    op.build()
}

/// The document of every documented route in `specs`.
pub fn document(specs: &[RouteSpec]) -> OpenApi {
    let mut items: BTreeMap<&str, PathItem> = BTreeMap::new();
    let mut schemas: Schemas = Vec::new();
    crate::error::Problem::schemas(&mut schemas);
    schemas.push(("Problem".to_owned(), crate::error::Problem::schema()));
    let mut tags: Vec<String> = Vec::new();
    for spec in specs {
        let (Some(doc), Some(method)) = (&spec.doc, http_method(&spec.method)) else {
            continue;
        };
        schemas.extend(doc.schemas.iter().cloned());
        let t = tag(spec.path).to_owned();
        if !tags.contains(&t) {
            tags.push(t);
        }
        let op = operation(spec, doc);
        items
            .entry(spec.path)
            .and_modify(|item| item.merge_operations(PathItem::new(method.clone(), op.clone())))
            .or_insert_with(|| PathItem::new(method, op));
    }
    let mut paths = Paths::new();
    for (path, item) in items {
        paths.paths.insert(path.to_owned(), item);
    }
    let mut components = Components::new();
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }
    components.add_security_scheme(
        API_KEY,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An API key (`mbk_…`, made on /admin/api-keys) or a session token from \
                     /api/v1/auth/login/verify, as `Authorization: Bearer <token>`",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        SESSION,
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            crate::identity::session::COOKIE,
            "The panel's session cookie. A request that changes something also sends the \
             session's CSRF token (`csrfToken` of /api/v1/auth/login/verify) in the \
             `x-csrf-token` header.",
        ))),
    );
    components.add_security_scheme(
        WEBHOOK,
        SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
            "secret",
            "The gateway's shared secret (settings: USSD endpoint secret), in the callback URL",
        ))),
    );
    let mut info = Info::new("MBELYCO Promo API", env!("CARGO_PKG_VERSION"));
    info.description = Some(
        "Promo codes, batches, USSD redemption and MTN MoMo payouts. Errors are RFC 9457 \
         `application/problem+json`; lists page with an opaque `cursor` and a `next` link."
            .to_owned(),
    );
    let mut api = OpenApi::new(info, paths);
    api.components = Some(components);
    api.tags = Some(tags.into_iter().map(Tag::new).collect());
    api
}

/// The whole app's document, built once.
pub static DOCUMENT: LazyLock<OpenApi> = LazyLock::new(|| document(&super::all_routes()));
/// … and as the JSON `/api/v1/openapi.json` serves.
pub static DOCUMENT_JSON: LazyLock<String> =
    LazyLock::new(|| serde_json::to_string_pretty(&*DOCUMENT).unwrap_or_else(|_| "{}".to_owned()));

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
