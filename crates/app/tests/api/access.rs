//! Enforcement: every admin route declares a permission; a permission matrix of every admin
//! route × every role (by API key) and anonymous callers; settings over HTTP.

use mbelyco::access::{Permission, ROLES};
use mbelyco::web::routes::Access;
use serde_json::{json, Value};

use crate::helpers::{error_fields, spawn_app, TestDb};

#[test]
fn every_admin_route_declares_a_permission() {
    let specs = mbelyco::web::all_routes();
    assert!(specs.iter().any(|s| s.path.starts_with("/api/v1/admin/")));
    // ACCESS.md: every staff role reaches the dashboard (each part is cut to the caller inside)
    let every_staff_member = [
        "/api/v1/admin/reports/dashboard",
        "/api/v1/admin/reports/dashboard/view",
    ];
    for s in &specs {
        let admin = s.path.starts_with("/api/v1/admin") || s.path.starts_with("/admin");
        if admin && !every_staff_member.contains(&s.path) {
            assert!(
                matches!(s.access, Access::Permission(_) | Access::AnyOf(_) | Access::AllOf(_)),
                "{} {} must declare a permission, not {:?}",
                s.method,
                s.path,
                s.access
            );
        }
    }
}

fn concrete(path: &str) -> String {
    path.replace("{category}", "ussd")
        .replace("{version}", "1")
        .replace("{id}", "00000000-0000-4000-8000-000000000000")
}

fn allowed(access: Access, role: &[Permission]) -> bool {
    match access {
        Access::Permission(p) => role.contains(&p),
        Access::AnyOf(ps) => ps.iter().any(|p| role.contains(p)),
        Access::AllOf(ps) => ps.iter().all(|p| role.contains(p)),
        _ => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_matrix_every_admin_route_every_role() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let mut keys = Vec::new();
    for role in ROLES.iter().filter(|r| r.name != mbelyco::access::CUSTOMER) {
        keys.push((role.name, (role.permissions)(), app.api_key(role.name).await));
    }
    let mut checked = 0;
    for spec in mbelyco::web::all_routes()
        .into_iter()
        .filter(|s| s.path.starts_with("/api/v1/admin"))
    {
        let url = app.url(&concrete(spec.path));
        let request = |key: Option<&str>| {
            let mut r = app.client.request(spec.method.clone(), &url).json(&json!({}));
            if let Some(k) = key {
                r = r.bearer_auth(k);
            }
            r
        };
        let anon = request(None).send().await.unwrap();
        if spec.path.starts_with("/api/") {
            assert_eq!(anon.status(), 401, "anonymous {} {}", spec.method, spec.path);
        } else {
            // pages send anonymous visitors to sign in
            assert_eq!(anon.status(), 303, "anonymous {} {}", spec.method, spec.path);
            assert!(anon.headers()["location"].to_str().unwrap().starts_with("/sign-in"));
        }
        for (role, perms, key) in &keys {
            let status = request(Some(key)).send().await.unwrap().status().as_u16();
            if allowed(spec.access, perms) {
                assert!(
                    status != 401 && status != 403,
                    "{role} may {} {} but got {status}",
                    spec.method,
                    spec.path
                );
            } else {
                assert_eq!(status, 403, "{role} may not {} {}", spec.method, spec.path);
            }
            checked += 1;
        }
    }
    assert!(checked >= 5 * 10, "checked {checked} combinations");
    // a revoked or unknown key is refused outright
    let res = app.get_as("mbk_nope_nope", "/api/v1/admin/settings").await;
    assert_eq!(res.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_over_http_validate_mask_and_version() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let finance = app.api_key("Financial Administrator").await;

    let bad = app
        .put_json(
            &admin,
            "/api/v1/admin/settings/payments",
            &json!({"settings": {"minAmount": 5000, "maxAmount": 100, "maxRetryAttempts": 9}}),
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert_eq!(bad.headers()["content-type"], "application/problem+json");
    let body: Value = bad.json().await.unwrap();
    let fields = error_fields(&body);
    assert!(
        fields.contains(&"payments.maxAmount") && fields.contains(&"payments.maxRetryAttempts"),
        "{body}"
    );
    let versions: i64 = sqlx::query_scalar("select count(*) from setting_versions")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(versions, 0, "nothing changed");

    let wrong_type = app
        .put_json(
            &admin,
            "/api/v1/admin/settings/ussd",
            &json!({"settings": {"maxAttemptsPerMinute": "five"}}),
        )
        .await;
    assert_eq!(wrong_type.status(), 422);
    let body: Value = wrong_type.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "ussd.maxAttemptsPerMinute");

    // the Financial Administrator may configure payments (ACCESS.md), with a secret
    let ok = app.put_json(&finance, "/api/v1/admin/settings/payments", &json!({"settings": {"momoApiKey": "live-key-abcdef123456", "approvalThreshold": 50000}, "reason": "go live"})).await;
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["version"], 1);
    assert_eq!(body["settings"]["momoApiKey"], "••••••3456");
    assert_eq!(body["settings"]["approvalThreshold"], 50000);
    // … but not other categories
    let res = app
        .put_json(
            &finance,
            "/api/v1/admin/settings/ussd",
            &json!({"settings": {"maxAttemptsPerMinute": 3}}),
        )
        .await;
    assert_eq!(res.status(), 403);

    let all: Value = app.get_as(&admin, "/api/v1/admin/settings").await.json().await.unwrap();
    assert!(!all.to_string().contains("live-key-abcdef123456"));
    let rollback = app.post_as(&admin, "/api/v1/admin/settings/versions/1/rollback").await;
    assert_eq!(rollback.status(), 200);
    let missing = app.get_as(&admin, "/api/v1/admin/settings/nope").await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["type"], "urn:mbelyco:problem:record-not-found");
}

/// `docs/permissions.md` is generated from the route table and the roles, so it cannot drift:
/// this test fails when it is stale (`UPDATE_DOCS=1 cargo nextest run permissions_doc` rewrites it).
#[test]
fn permissions_doc_is_current() {
    let mut out = String::from(
        "# Permissions (generated)\n\nGenerated from the route table and the seeded roles by the test \
         `permissions_doc_is_current`; do not edit by hand.\n\n## Routes\n\n| method | route | access | roles with it |\n|---|---|---|---|\n",
    );
    let role_has = |access: Access| -> String {
        ROLES
            .iter()
            .filter(|r| allowed(access, &(r.permissions)()) && r.name != mbelyco::access::CUSTOMER)
            .map(|r| r.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut specs = mbelyco::web::all_routes();
    specs.sort_by(|a, b| (a.path, a.method.as_str()).cmp(&(b.path, b.method.as_str())));
    for s in &specs {
        let access = match s.access {
            Access::Permission(p) => format!("`{}`", p.key()),
            Access::AnyOf(ps) => ps
                .iter()
                .map(|p| format!("`{}`", p.key()))
                .collect::<Vec<_>>()
                .join(" or "),
            Access::AllOf(ps) => ps
                .iter()
                .map(|p| format!("`{}`", p.key()))
                .collect::<Vec<_>>()
                .join(" and "),
            Access::Public => "public".into(),
            Access::PublicJson => "public, JSON only (pre-auth API)".into(),
            Access::Webhook => "webhook secret".into(),
            Access::PartialSession => "sign-in in progress".into(),
            Access::SignedIn => "any signed-in staff".into(),
            Access::OwnAccount => "own account, signed-in session only (no API key)".into(),
        };
        let roles = match s.access {
            Access::Permission(_) | Access::AnyOf(_) | Access::AllOf(_) => role_has(s.access),
            _ => String::new(),
        };
        out.push_str(&format!("| {} | `{}` | {access} | {roles} |\n", s.method, s.path));
    }
    out.push_str("\n## Roles\n\n| role | keys |\n|---|---|\n");
    for r in ROLES {
        let keys: Vec<&str> = (r.permissions)().iter().map(|p| p.key()).collect();
        let keys = if keys.len() == Permission::ALL.len() {
            "every key".to_owned()
        } else {
            keys.join(", ")
        };
        out.push_str(&format!(
            "| {} | {} |\n",
            r.name,
            if keys.is_empty() { "none".into() } else { keys }
        ));
    }
    out.push_str("\n## Catalogue\n\n| key | description |\n|---|---|\n");
    for p in Permission::ALL {
        let added = if p.is_added() { " *(added, ACCESS.md)*" } else { "" };
        out.push_str(&format!("| `{}` | {}{added} |\n", p.key(), p.description()));
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/permissions.md");
    if std::env::var("UPDATE_DOCS").is_ok() {
        std::fs::write(&path, &out).unwrap();
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == out,
        "docs/permissions.md is stale: run UPDATE_DOCS=1 cargo nextest run permissions_doc"
    );
}
