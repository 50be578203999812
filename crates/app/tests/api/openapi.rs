//! The OpenAPI document: every `/api/v1` route of the route table is in it, it names no route
//! that does not exist, its references resolve, and `/api/docs` lists it.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{spawn_app, TestDb};

/// `(METHOD, path)` of every `/api/v1` route the app serves.
fn table() -> BTreeSet<(String, String)> {
    mbelyco::web::all_routes()
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/"))
        .map(|r| (r.method.as_str().to_owned(), r.path.to_owned()))
        .collect()
}

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("path item") {
            out.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    out
}

/// Every `$ref` in `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(xs) => xs.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_routes_are_all_documented_and_the_document_names_no_other() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let res = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 200, "the document is public");
    assert_eq!(res.headers()["content-type"], "application/json");
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");

    let table = table();
    let documented = operations(&doc);
    let missing: Vec<_> = table.difference(&documented).collect();
    let invented: Vec<_> = documented.difference(&table).collect();
    assert!(missing.is_empty(), "routes missing from the document: {missing:?}");
    assert!(
        invented.is_empty(),
        "the document names routes that do not exist: {invented:?}"
    );

    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap().to_owned();
            assert!(ids.insert(id.clone()), "operationId {id} twice");
            assert!(
                !op["summary"].as_str().unwrap_or("").is_empty(),
                "{method} {path} has no summary"
            );
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|c| c.starts_with('2')),
                "{method} {path} documents no success answer"
            );
            for (code, r) in responses {
                if code.starts_with('4') {
                    assert!(
                        r["content"].get("application/problem+json").is_some(),
                        "{method} {path} {code} is not problem+json"
                    );
                }
            }
            if op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|x| x.get("apiKey").is_some()))
            {
                assert!(responses.contains_key("401") && responses.contains_key("403"));
            }
        }
    }

    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("odd $ref {r}"));
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "$ref {r} has no schema in the components"
        );
    }
    for scheme in ["apiKey", "sessionCookie", "webhookSecret"] {
        assert!(doc["components"]["securitySchemes"].get(scheme).is_some(), "{scheme}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_lists_every_operation_without_signing_in() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let res = app.client.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(!html.contains("https://"), "no CDN: nothing loaded from elsewhere");
    for (_, path) in table() {
        assert!(html.contains(&path), "{path} is not on /api/docs");
    }
    assert!(
        html.contains("promo-codes.read"),
        "the page says which permission each operation needs"
    );
}

/// `mbelyco create-api-key` mints a key that works on the API (schemathesis's run starts with
/// it), audited; an owner without the role is refused with exit 2. `mbelyco openapi` prints
/// the document the app serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_mints_a_working_key_and_prints_the_document() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mbelyco"))
            .args(args)
            .env("DATABASE_URL", &db.url)
            .env(
                "DATA_DIR",
                std::env::temp_dir().join(format!("mbelyco-cli-{}", uuid::Uuid::new_v4())),
            )
            .output()
            .unwrap()
    };
    let out = run(&[
        "create-api-key",
        "--email",
        crate::helpers::ADMIN_EMAIL,
        "--name",
        "ci fuzzing",
        "--days",
        "1",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("mbk_"), "{key}");
    let me = app.get_as(&key, "/api/v1/auth/me").await;
    assert_eq!(me.status(), 200);
    let audited: i64 = sqlx::query_scalar("select count(*) from audit_logs where action = 'api_key.created'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(audited, 1);

    let out = run(&["create-api-key", "--email", "nobody@mbelyco.test", "--name", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody@mbelyco.test"));

    let out = run(&["openapi"]);
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let served: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(printed, served);
}
