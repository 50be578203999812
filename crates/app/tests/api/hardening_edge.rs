//! The HTTP edge (issue 17, items 6–9, 15, 23): NUL bytes and huge page numbers refused naming
//! the field, routing that answers 404/405 as HTTP says, every error as problem+json (never plain
//! text), API request and upload limits, the batch page's download with empty serial fields, and
//! one walk of the whole route table with hostile values.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use mbelyco::settings::Category;
use mbelyco::web::routes::Access;
use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::{error_fields, finish_enrolment, html_value, password_step, spawn_app, TestApp, TestDb};

/// A browser-like session of the bootstrap Super Administrator (password, TOTP enrolment).
async fn signed_in(app: &TestApp) -> reqwest::Client {
    let c = app.browser();
    let res = password_step(&c, app, crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 303);
    finish_enrolment(&c, app).await;
    c
}

fn content_type(res: &Response) -> String {
    res.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Asserts a problem+json answer with `status` whose `errors` name `field`.
async fn assert_problem_naming(res: Response, status: u16, field: &str, what: &str) {
    assert_eq!(res.status(), status, "{what}");
    assert_eq!(content_type(&res), "application/problem+json", "{what}");
    let body: Value = res.json().await.unwrap();
    assert!(error_fields(&body).contains(&field), "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_nul_bytes_and_huge_pages_are_refused_naming_the_field() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;

    for path in ["/api/v1/admin/users?q=a%00b", "/api/v1/admin/batches?q=%00"] {
        assert_problem_naming(app.get_as(&key, path).await, 422, "q", path).await;
    }
    assert_problem_naming(app.get_as(&key, "/api/v1/ussd/session/A%00B").await, 422, "id", "path").await;
    let res = app
        .post_json(
            &key,
            "/api/v1/admin/batches",
            &json!({"name": "a\u{0}b", "totalCodes": 12, "amountPerCode": 1000, "expiresAt": "2027-06-30"}),
        )
        .await;
    assert_problem_naming(res, 422, "name", "JSON string").await;
    let res = app
        .post_json(
            &key,
            "/api/v1/admin/users",
            &json!({"email": "x@y.test", "fullName": "n", "roles": ["a\u{0}"]}),
        )
        .await;
    assert!(
        res.status() == 422 && content_type(&res) == "application/problem+json",
        "nested JSON"
    );

    for path in [
        "/api/v1/admin/batches?page=9223372036854775807",
        "/api/v1/admin/users?limit=9223372036854775807",
        "/api/v1/admin/disbursements/reconcile/00000000-0000-4000-8000-000000000000/items?limit=9223372036854775807",
    ] {
        let res = app.get_as(&key, path).await;
        assert!(res.status().is_client_error(), "{path}: {}", res.status());
        assert_eq!(content_type(&res), "application/problem+json", "{path}");
    }

    // pages: the error page, never a 500
    let c = signed_in(&app).await;
    for path in [
        "/admin/users?q=%00",
        "/admin/batches?q=a%00",
        "/admin/batches?page=9223372036854775807",
        "/admin/ussd/sessions/A%00B",
    ] {
        let res = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 422, "{path}");
        assert!(content_type(&res).starts_with("text/html"), "{path}");
    }
    // the sign-in form's email, from an anonymous browser
    let anon = app.browser();
    let csrf = crate::helpers::csrf_from(&anon, &app, "/sign-in").await;
    let res = anon
        .post(app.url("/sign-in"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", "root\0@mbelyco.test"),
            ("password", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("email"), "{html}");
}

/// Collects the ERROR events of the whole process (each test is its own process under nextest;
/// elsewhere the subscriber may already be set, and then nothing is collected).
#[derive(Clone, Default)]
struct ErrorLines(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ErrorLines {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: tracing_subscriber::layer::Context<'_, S>) {
        if *event.metadata().level() == tracing::Level::ERROR {
            let mut text = String::new();
            struct V<'a>(&'a mut String);
            impl tracing::field::Visit for V<'_> {
                fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                    self.0.push_str(&format!("{}={v:?} ", f.name()));
                }
            }
            event.record(&mut V(&mut text));
            self.0.lock().unwrap().push(text);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_routing_answers_404_and_405_with_allow_and_rejections_are_problems() {
    use tracing_subscriber::layer::SubscriberExt;
    let errors = ErrorLines::default();
    let collecting =
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(errors.clone())).is_ok();

    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;

    // the gateway route with a browser's GET: 405, not a 403 with an ERROR line
    let res = app.client.get(app.url("/api/v1/ussd/handle")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    assert_eq!(content_type(&res), "application/problem+json");
    let res = app.client.delete(app.url("/api/health")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET, HEAD");
    let res = app.delete_as(&key, "/api/v1/admin/settings").await;
    assert_eq!(res.status(), 405);
    assert_eq!(content_type(&res), "application/problem+json");
    let res = app.client.get(app.url("/api/v1/no/such/thing")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(content_type(&res), "application/problem+json");
    // a page with the wrong method: the HTML error page, with Allow
    let res = app.client.put(app.url("/sign-in")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert!(content_type(&res).starts_with("text/html"));
    assert_eq!(res.headers()["allow"], "GET, HEAD, POST");

    // axum's own extractor rejections: problem+json naming the field, never plain text
    let res = app.get_as(&key, "/api/v1/admin/batches/not-an-id").await;
    assert_problem_naming(res, 422, "id", "bad path id").await;
    let res = app.get_as(&key, "/api/v1/admin/batches?page=two").await;
    assert_problem_naming(res, 422, "page", "bad page").await;
    let res = app.get_as(&key, "/api/v1/admin/settings/versions?limit=x").await;
    assert_problem_naming(res, 422, "limit", "bad limit").await;
    let res = app
        .client
        .post(app.url("/api/v1/admin/batches"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(content_type(&res), "application/problem+json");
    // a page form of the wrong shape
    let c = signed_in(&app).await;
    let html = app.page_html(&c, "/admin/api-keys").await;
    let csrf = html_value(&html, r#"name="_csrf""#);
    let res = c
        .post(app.url("/admin/api-keys"))
        .form(&[("_csrf", csrf.as_str()), ("days", "many")])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert!(content_type(&res).starts_with("text/html"));
    // the gateway's refusal of a stranger is a problem too
    let res = app
        .client
        .post(app.url("/api/v1/ussd/handle?secret=wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(content_type(&res), "application/problem+json");

    if collecting {
        let lines = errors.0.lock().unwrap().clone();
        assert!(lines.is_empty(), "ERROR lines: {lines:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_the_batch_page_download_with_empty_serials_gives_every_code() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let batch = app.generated_batch(&key, "Download", 14, "w1").await;
    let c = signed_in(&app).await;
    let html = app.page_html(&c, &format!("/admin/batches/{batch}")).await;
    // the form as the page has it: its action, the hidden batch id, the serial fields left empty
    let form_at = html
        .find(r#"action="/api/v1/admin/promo-codes/export""#)
        .expect("download form");
    let form = &html[form_at..form_at + html[form_at..].find("</form>").unwrap()];
    assert!(form.contains(r#"name="serialFrom""#) && form.contains(r#"name="serialTo""#));
    let batch_id = html_value(form, r#"name="batchId""#);
    for format in ["csv", "pdf"] {
        let url = app.url(&format!(
            "/api/v1/admin/promo-codes/export?batchId={batch_id}&format={format}&serialFrom=&serialTo="
        ));
        let res = c.get(url).send().await.unwrap();
        assert_eq!(res.status(), 200, "{format}: {}", res.text().await.unwrap());
        let bytes = res.bytes().await.unwrap();
        if format == "csv" {
            let text = String::from_utf8(bytes.to_vec()).unwrap();
            assert_eq!(text.lines().count(), 1 + 14, "{text}");
        } else {
            assert!(bytes.starts_with(b"%PDF"));
        }
    }
    // a value that is not a number is a problem naming the field, not plain text
    let res = c
        .get(app.url(&format!(
            "/api/v1/admin/promo-codes/export?batchId={batch_id}&format=csv&serialFrom=first"
        )))
        .send()
        .await
        .unwrap();
    assert_problem_naming(res, 422, "serialFrom", "serialFrom=first").await;
}

async fn put_settings(app: &TestApp, key: &str, category: &str, settings: Value) {
    let res = app
        .put_json(
            key,
            &format!("/api/v1/admin/settings/{category}"),
            &json!({ "settings": settings }),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_api_requests_and_uploads_over_the_limit_get_429_with_retry_after() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let other = app.api_key("Super Administrator").await;
    put_settings(
        &app,
        &key,
        "security",
        json!({"rateLimiting": {"apiRequestsPerMinute": 5, "apiRequestsPerHour": 100, "fileUploadsPerHour": 1}}),
    )
    .await;

    // 12 calls in well under a minute: whichever way a window boundary cuts them, one window
    // holds more than 5
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..12 {
        let res = app.get_as(&key, "/api/v1/admin/batches").await;
        statuses.push(res.status().as_u16());
        if res.status() == 429 && limited.is_none() {
            limited = Some(res);
        }
    }
    assert_eq!(statuses[0], 200, "{statuses:?}");
    let res = limited.unwrap_or_else(|| panic!("the call after the limit is refused: {statuses:?}"));
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(content_type(&res), "application/problem+json");
    // per key: another key is not held back
    assert_eq!(app.get_as(&other, "/api/v1/admin/batches").await.status(), 200);

    // per session too
    let c = signed_in(&app).await;
    let mut session_statuses = Vec::new();
    for _ in 0..12 {
        session_statuses.push(
            c.get(app.url("/api/v1/auth/me"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert!(session_statuses.contains(&429), "{session_statuses:?}");

    // uploads: one an hour, the second is refused (a code import, then a statement)
    let batch: String = {
        let res = app
            .post_json(&other, "/api/v1/admin/batches", &json!({"name": "Imports", "totalCodes": 5, "amountPerCode": 1000, "expiresAt": "2027-06-30", "generate": false}))
            .await;
        let body: Value = res.json().await.unwrap();
        body["batch"]["id"].as_str().map(str::to_owned).unwrap_or_default()
    };
    let upload = |path: String| {
        app.client
            .post(app.url(&path))
            .bearer_auth(&other)
            .header("content-type", "text/csv")
            .body("code\n")
    };
    let first = upload(format!("/api/v1/admin/promo-codes/import?batchId={batch}"))
        .send()
        .await
        .unwrap();
    assert_ne!(first.status(), 429);
    let second = upload(format!("/api/v1/admin/promo-codes/import?batchId={batch}"))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 429);
    assert!(second.headers().contains_key("retry-after"));
    let statement = upload("/api/v1/admin/disbursements/reconcile/statements".to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(statement.status(), 429);

    // switched off: no limit
    let third = app.api_key("Super Administrator").await;
    put_settings(&app, &third, "integrations", json!({"apiRateLimitingEnabled": false})).await;
    for _ in 0..8 {
        assert_eq!(app.get_as(&key, "/api/v1/admin/batches").await.status(), 200);
    }
}

// ---- the walk -------------------------------------------------------------------------------

/// Hostile values for a path segment (already URL-encoded where they must be).
fn hostile_segments() -> Vec<String> {
    vec![
        "A%00B".into(),
        "%00".into(),
        "x".repeat(10_000),
        "%F0%9F%8E%A8%F0%9F%92%A5".into(),
        "-1".into(),
        "9223372036854775807".into(),
        "-99999999999999999999999".into(),
        "%FF%FE".into(),
        "..%2F..%2Fetc".into(),
    ]
}

/// Hostile values for query and form fields (raw; the client encodes them).
fn hostile_texts() -> Vec<String> {
    vec![
        "\0".into(),
        "a\0b".into(),
        "x".repeat(10_000),
        "🎨💥".into(),
        "-1".into(),
        "-9223372036854775808".into(),
        "9223372036854775807".into(),
        "99999999999999999999999".into(),
        "1e308".into(),
        "true".into(),
    ]
}

/// Hostile values for JSON fields: the texts above and every wrong type.
fn hostile_json() -> Vec<Value> {
    let mut v: Vec<Value> = hostile_texts().into_iter().map(Value::String).collect();
    v.extend([
        json!(-1),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(1e308),
        json!(-1e308),
        json!(true),
        json!(null),
        json!([]),
        json!([1, "x", null]),
        json!({}),
        json!({"a": {"b": ["\u{0}"]}}),
    ]);
    v
}

/// Every field name a request type, query or form of the app reads (the union; a handler ignores
/// the names it does not read, and a strict one answers with the names it expects, which the
/// walk then uses).
const FIELDS: &[&str] = &[
    "action",
    "active",
    "after",
    "amount",
    "amountMax",
    "amountMin",
    "amountPerCode",
    "amount_per_code",
    "assignedUserId",
    "backup_code",
    "batchId",
    "batch_id",
    "change",
    "code",
    "codes",
    "company",
    "confirm",
    "count",
    "current",
    "days",
    "department",
    "description",
    "dryRun",
    "email",
    "expiresAt",
    "expires_at",
    "file",
    "fileName",
    "filter",
    "format",
    "from",
    "fullName",
    "full_name",
    "generate",
    "ids",
    "import",
    "isActive",
    "kind",
    "limit",
    "message",
    "mode",
    "msisdn",
    "name",
    "new_password",
    "next",
    "note",
    "notice",
    "outcome",
    "page",
    "pageFrom",
    "pageTo",
    "password",
    "perPage",
    "permissions",
    "phone",
    "phoneNumber",
    "q",
    "queryMomo",
    "reason",
    "redemptionId",
    "role",
    "roleId",
    "roleIds",
    "role_id",
    "role_ids",
    "roles",
    "runId",
    "scope",
    "secret",
    "serialFrom",
    "serialTo",
    "serviceCode",
    "sessionId",
    "settings",
    "since",
    "sort",
    "state",
    "statementId",
    "status",
    "text",
    "to",
    "totalCodes",
    "total_codes",
    "untilCount",
    "userId",
    "user_id",
    "version",
];

/// Routes the walk leaves out, and why.
fn excluded(method: &Method, path: &str) -> bool {
    matches!(
        (method.as_str(), path),
        // they end the walk's own session (no input to fuzz beyond the CSRF token)
        ("POST", "/sign-out") | ("POST", "/api/v1/auth/logout")
    )
}

async fn row_counts(pool: &sqlx::PgPool) -> BTreeMap<String, i64> {
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables where table_schema = 'public' \
         and table_type = 'BASE TABLE' order by 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        // rate-limit windows count requests (their whole point); the audit's pending queue and
        // chain mirror audit_logs, counted below without the failed sign-ins and the settings
        // exports it must record (an export answered despite junk beside it is still an export)
        // (and the web processes' latency buckets, written every 30 s whatever is asked). Besides
        // failed sign-ins and settings exports, the audit must record refused requests, reads of a
        // person's details and audit exports; "verify now" takes no input, so the walk's first call
        // of it queues the one verification it allows (its job and result rows); "back up now"
        // likewise queues the one backup job it allows (one at a time; no worker runs here) and
        // audits each request
        if matches!(
            t.as_str(),
            "rate_limits"
                | "audit_pending"
                | "audit_chain"
                | "audit_chain_heads"
                | "monitor_web_latency"
                | "audit_verifications"
        ) || t.starts_with("audit_logs_")
        {
            // (audit_logs' monthly partitions are counted through audit_logs itself)
            continue;
        }
        let sql = if t == "audit_logs" {
            "select count(*) from audit_logs where action not in ('auth.sign_in_failed', 'settings.exported', \
             'access.denied', 'user.viewed', 'audit.exported', 'audit.verify_requested', 'audit.chain_verified', \
             'backup.requested')"
                .to_owned()
        } else if t == "jobs" {
            "select count(*) from jobs where kind not in ('audit.verify', 'backup.create')".to_owned()
        } else {
            format!("select count(*) from \"{t}\"")
        };
        let n: i64 = sqlx::query_scalar(&sql).fetch_one(pool).await.unwrap();
        out.insert(t, n);
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Caller {
    Anonymous,
    Key,
    Session,
}

struct Walk<'a> {
    app: &'a TestApp,
    key: String,
    session: reqwest::Client,
    csrf: String,
    anon: reqwest::Client,
    anon_csrf: String,
    failures: Vec<String>,
    sent: usize,
}

impl Walk<'_> {
    /// Sends one request and checks its answer; returns the answer's JSON body, if any.
    async fn send(&mut self, caller: Caller, method: &Method, path: &str, body: Body) -> Option<Value> {
        let url = format!("{}{path}", self.app.base);
        let mut r = match caller {
            Caller::Key => self.app.client.request(method.clone(), &url).bearer_auth(&self.key),
            Caller::Session => self
                .session
                .request(method.clone(), &url)
                .header("x-csrf-token", &self.csrf),
            Caller::Anonymous => self
                .anon
                .request(method.clone(), &url)
                .header("x-csrf-token", &self.anon_csrf),
        };
        let what = format!("{caller:?} {method} {}", truncate(path));
        r = match body {
            Body::None => r,
            Body::Json(v) => r.json(&v),
            Body::RawJson(s) => r.header("content-type", "application/json").body(s),
            Body::Form(pairs) => r.form(&pairs),
        };
        let retry = r.try_clone();
        let res = match r.send().await {
            Ok(res) => res,
            // the server may close a kept-alive connection after answering without reading a
            // large body; the next request on it fails before reaching the app: send it again
            Err(e) => match retry {
                Some(again) => match again.send().await {
                    Ok(res) => res,
                    Err(e) => {
                        self.failures.push(format!("{what}: no answer: {e}"));
                        return None;
                    }
                },
                None => {
                    self.failures.push(format!("{what}: no answer: {e}"));
                    return None;
                }
            },
        };
        self.sent += 1;
        let status = res.status();
        let ct = content_type(&res);
        let text = res.text().await.unwrap_or_default();
        if status.is_server_error() {
            self.failures.push(format!("{what}: {status} {}", truncate(&text)));
        } else if status.as_u16() >= 400 {
            let is_api = path.starts_with("/api/");
            let ok = if is_api {
                ct == "application/problem+json"
            } else {
                ct.starts_with("text/html") || ct == "application/problem+json"
            };
            if !ok {
                self.failures
                    .push(format!("{what}: {status} as `{ct}`: {}", truncate(&text)));
            }
        }
        serde_json::from_str(&text).ok()
    }

    /// A JSON body of every field set to `v`; when a strict type names the fields it expects,
    /// again with exactly those.
    async fn json_bodies(&mut self, caller: Caller, method: &Method, path: &str, v: &Value) {
        let len = v.as_str().map_or(0, str::len);
        let all: serde_json::Map<String, Value> = fields_for(len).iter().map(|f| (f.to_string(), v.clone())).collect();
        let Some(answer) = self.send(caller, method, path, Body::Json(Value::Object(all))).await else {
            return;
        };
        // a strict type names the fields it expects: send exactly those
        let message = answer["errors"][0]["message"].as_str().unwrap_or("");
        let Some(expected) = message.split("expected").nth(1) else {
            return;
        };
        let names: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        if names.is_empty() {
            return;
        }
        let own: serde_json::Map<String, Value> = names.iter().map(|f| (f.to_string(), v.clone())).collect();
        self.send(caller, method, path, Body::Json(Value::Object(own))).await;
    }
}

enum Body {
    None,
    Json(Value),
    RawJson(String),
    Form(Vec<(String, String)>),
}

fn truncate(s: &str) -> String {
    s.chars().take(160).collect()
}

fn fill(path: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The fields a value goes into: all of them, but a long value only into a few (the URL would
/// pass 64 KiB, and that is refused before the app sees it).
fn fields_for(value_len: usize) -> &'static [&'static str] {
    if value_len > 100 {
        &["q", "page", "name", "batchId"]
    } else {
        FIELDS
    }
}

fn query_of(value: &str) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for f in fields_for(value.len()) {
        s.append_pair(f, value);
    }
    s.finish()
}

/// Item 8: every route of the table, as a Super Administrator (API key and signed-in session)
/// and anonymously, with hostile values in every path parameter, query and body field: no 5xx,
/// problem+json on /api (an HTML page or a problem elsewhere, never plain text), nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_every_route_with_hostile_values_gives_no_5xx_and_stores_nothing() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    // something to find: a batch with codes (the walk's ids never match it)
    app.generated_batch(&key, "Walk", 12, "w1").await;
    let session = signed_in(&app).await;
    let html = app.page_html(&session, "/account").await;
    let csrf = html_value(&html, r#"name="_csrf""#);
    // the walk sends thousands of requests a minute from one key and one session
    app.set_settings(Category::Integrations, json!({"apiRateLimitingEnabled": false}))
        .await;
    // … and, since the sign-in API (decision 0030) takes JSON from every caller, more sign-in
    // attempts from one address than the default ten a minute (the throttle would record a
    // security event: a row, though a rightful one)
    app.set_settings(
        Category::Security,
        json!({"rateLimiting": {"loginAttemptsPerMinute": 1000}}),
    )
    .await;
    let before = row_counts(&db.pool).await;

    // an anonymous browser: our Origin and the sign-in form's double-submit token
    let anon = app.browser();
    let mut walk = Walk {
        app: &app,
        key,
        session,
        csrf,
        anon_csrf: crate::helpers::csrf_from(&anon, &app, "/sign-in").await,
        anon,
        failures: Vec::new(),
        sent: 0,
    };
    let nil = "00000000-0000-4000-8000-000000000000";
    for spec in mbelyco::web::all_routes() {
        if excluded(&spec.method, spec.path) {
            continue;
        }
        let method = spec.method.clone();
        let has_params = spec.path.contains('{');
        let has_body = matches!(method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE");
        let open = matches!(spec.access, Access::Public | Access::PublicJson | Access::Webhook);
        let callers: &[Caller] = &[Caller::Key, Caller::Session, Caller::Anonymous];
        for &caller in callers {
            // anonymous callers of a protected route are turned away before any input is read:
            // the path variants show that, the rest is for the routes open to them
            let deep = caller != Caller::Anonymous || open;
            if has_params {
                for seg in hostile_segments() {
                    walk.send(caller, &method, &fill(spec.path, &seg), Body::None).await;
                }
            }
            if !deep {
                continue;
            }
            let path = fill(spec.path, nil);
            for v in hostile_texts() {
                walk.send(caller, &method, &format!("{path}?{}", query_of(&v)), Body::None)
                    .await;
            }
            if !has_body {
                continue;
            }
            for v in hostile_json() {
                walk.json_bodies(caller, &method, &path, &v).await;
            }
            for raw in ["{", "[]", "\"x\"", "1e999", "null", "{\"a\":\"\\u0000\"}"] {
                walk.send(caller, &method, &path, Body::RawJson(raw.to_owned())).await;
            }
            for v in hostile_texts() {
                let mut pairs: Vec<(String, String)> =
                    fields_for(v.len()).iter().map(|f| (f.to_string(), v.clone())).collect();
                if caller == Caller::Session {
                    pairs.push(("_csrf".into(), walk.csrf.clone()));
                }
                walk.send(caller, &method, &path, Body::Form(pairs)).await;
            }
        }
    }
    let after = row_counts(&db.pool).await;
    let changed: Vec<String> = before
        .iter()
        .filter(|(t, n)| after.get(*t) != Some(n))
        .map(|(t, n)| format!("{t}: {n} → {:?}", after.get(t)))
        .collect();
    assert!(
        walk.failures.is_empty(),
        "{} of {} requests failed:\n{}",
        walk.failures.len(),
        walk.sent,
        walk.failures.join("\n")
    );
    assert!(changed.is_empty(), "hostile requests stored something: {changed:?}");
    assert!(walk.sent > 5_000, "only {} requests sent", walk.sent);
    // the walk ran signed in to the end
    let me = walk.session.get(app.url("/api/v1/auth/me")).send().await.unwrap();
    assert_eq!(me.status(), 200);
}
