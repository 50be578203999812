//! The identity lists page the one way (issue 19, item 4): `?cursor=&limit=` in, `{data, next,
//! nextCursor}` out; following `next` shows every row exactly once and keeps the filters.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::{error_fields, spawn_app, TestApp, TestDb};

/// Follows the `next` links from `path`: the rows of every page, and how many pages there were.
/// Checks on the way that no page holds more than `limit` rows and that `next` carries
/// `nextCursor`.
async fn walk(app: &TestApp, key: &str, path: &str, limit: usize) -> (Vec<Value>, usize) {
    let mut rows = Vec::new();
    let mut pages = 0;
    let mut path = path.to_owned();
    loop {
        let res = app.get_as(key, &path).await;
        assert_eq!(res.status(), 200, "{path}");
        let body: Value = res.json().await.unwrap();
        pages += 1;
        let data = body["data"].as_array().unwrap_or_else(|| panic!("{path}: {body}"));
        assert!(data.len() <= limit, "{path}: {} rows", data.len());
        rows.extend(data.iter().cloned());
        match body["next"].as_str() {
            Some(next) => {
                let cursor = body["nextCursor"].as_str().unwrap();
                assert!(next.ends_with(&format!("cursor={cursor}")), "{next}");
                path = next.to_owned();
            }
            None => {
                assert!(body["nextCursor"].is_null(), "{body}");
                break;
            }
        }
        assert!(pages < 50, "{path}: the walk does not end");
    }
    (rows, pages)
}

fn strings(rows: &[Value], field: &str) -> Vec<String> {
    rows.iter().map(|r| r[field].as_str().unwrap().to_owned()).collect()
}

fn once(values: &[String]) -> BTreeSet<String> {
    let set: BTreeSet<String> = values.iter().cloned().collect();
    assert_eq!(set.len(), values.len(), "a row shown twice: {values:?}");
    set
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_list_pages_by_cursor_newest_first_each_user_once() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    for i in 0..7 {
        let res = app
            .post_json(
                &admin,
                "/api/v1/admin/users",
                &json!({"email": format!("lister{i}@mbelyco.test"), "fullName": format!("Lister {i}")}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    // five of them added in the same instant: the id decides between them
    sqlx::query("update users set created_at = '2026-12-01T08:00:00Z' where email::text like 'lister%' and email::text <> 'lister6@mbelyco.test'")
        .execute(&db.pool)
        .await
        .unwrap();

    let (rows, pages) = walk(&app, &admin, "/api/v1/admin/users?q=LISTER&limit=3", 3).await;
    assert_eq!(pages, 3);
    let ids = strings(&rows, "id");
    once(&ids);
    assert!(
        strings(&rows, "email").iter().all(|e| e.starts_with("lister")),
        "the filter is kept"
    );
    let newest_first: Vec<String> = sqlx::query_scalar(
        "select id::text from users where email::text like 'lister%' order by created_at desc, id desc",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(ids, newest_first);
    assert_eq!(rows[0]["email"], "lister6@mbelyco.test");

    // the whole list, two at a time: every staff user once
    let (rows, _) = walk(&app, &admin, "/api/v1/admin/users?limit=2", 2).await;
    let staff: i64 = sqlx::query_scalar("select count(*) from users where kind = 'staff'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(once(&strings(&rows, "id")).len() as i64, staff);

    // bad paging names its field
    for (path, field) in [
        ("/api/v1/admin/users?limit=0", "limit"),
        ("/api/v1/admin/users?limit=201", "limit"),
        ("/api/v1/admin/users?cursor=garbage!", "cursor"),
        ("/api/v1/admin/users/pending?cursor=e30", "cursor"),
    ] {
        let res = app.get_as(&admin, path).await;
        assert_eq!(res.status(), 422, "{path}");
        assert_eq!(error_fields(&res.json().await.unwrap()), [field], "{path}");
    }
    // no registrations wait: an empty last page
    let body: Value = app
        .get_as(&admin, "/api/v1/admin/users/pending")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({"data": [], "next": null, "nextCursor": null}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_roles_and_permissions_page_the_same_way() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    for role in ["Viewer", "Viewer", "Super Administrator", "Viewer"] {
        app.api_key(role).await;
    }

    let (rows, pages) = walk(&app, &admin, "/api/v1/admin/api-keys?limit=2", 2).await;
    assert_eq!(pages, 3);
    assert_eq!(once(&strings(&rows, "id")).len(), 5);
    assert!(rows.iter().all(|k| k.get("key").is_none()), "a key is shown only once");

    let (rows, _) = walk(&app, &admin, "/api/v1/admin/settings/roles?limit=2", 2).await;
    let roles: i64 = sqlx::query_scalar("select count(*) from roles")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let names = strings(&rows, "name");
    assert_eq!(once(&names).len() as i64, roles);
    let system: Vec<bool> = rows.iter().map(|r| r["isSystem"].as_bool().unwrap()).collect();
    assert!(
        system.windows(2).all(|w| w[0] >= w[1]),
        "system roles first: {system:?}"
    );

    let (rows, pages) = walk(&app, &admin, "/api/v1/admin/settings/permissions?limit=20", 20).await;
    assert!(pages > 1);
    let keys = once(&strings(&rows, "key"));
    assert_eq!(keys.len(), mbelyco::access::Permission::ALL.len());
    assert!(keys.contains("users.read") && keys.contains("promo-codes.read"));
    let res = app
        .get_as(&admin, "/api/v1/admin/settings/permissions?cursor=Im5vIHN1Y2gga2V5Ig")
        .await;
    assert_eq!(res.status(), 422, "a cursor naming no permission");
    assert_eq!(error_fields(&res.json().await.unwrap()), ["cursor"]);

    let body: Value = app
        .get_as(&admin, "/api/v1/admin/role-requests")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({"data": [], "next": null, "nextCursor": null}));
}
