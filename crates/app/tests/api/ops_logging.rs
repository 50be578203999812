//! What is logged (issue #23 item 2): requests refused for want of a permission (bounded, so a
//! caller cannot flood the chain), and reads of a person's details.

use serde_json::Value;

use mbelyco::clock::ManualClock;

use crate::helpers::*;

async fn denied_rows(pool: &sqlx::PgPool) -> Vec<(String, Value, Option<String>, String)> {
    sqlx::query_as(
        "select entity_id, metadata, request_id, actor_type from audit_logs where action = 'access.denied' order by seq",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_is_audited_once_per_caller_route_and_minute() {
    let db = TestDb::new().await;
    // a clock that stands still: every request in one minute
    let app = spawn_app_with_clock(db.pool.clone(), std::sync::Arc::new(ManualClock::new(now()))).await;
    let viewer = app.api_key("Viewer").await;

    // refused by the route table: a Viewer does not hold users.read
    let res = app.get_as(&viewer, "/api/v1/admin/users").await;
    assert_eq!(res.status(), 403);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let rows = denied_rows(&db.pool).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (entity, meta, rid, actor) = &rows[0];
    assert_eq!(entity, "GET /api/v1/admin/users");
    assert_eq!(meta["permission"], "users.read");
    assert_eq!(meta["route"], "/api/v1/admin/users");
    assert_eq!(
        rid.as_deref(),
        Some(request_id.as_str()),
        "the request id is on the row"
    );
    assert_eq!(actor, "api_key");

    // the same caller hammering the same route: still refused, not written again this minute
    for _ in 0..10 {
        assert_eq!(app.get_as(&viewer, "/api/v1/admin/users").await.status(), 403);
    }
    assert_eq!(
        denied_rows(&db.pool).await.len(),
        1,
        "one row per caller, route and minute"
    );
    let counted: i32 =
        sqlx::query_scalar("select max(count) from rate_limits where key like 'denied:%/api/v1/admin/users'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(counted, 11, "every refusal is counted for the next minute's row");

    // refused by the handler (free text needs redemptions.search): audited the same way
    let res = app.get_as(&viewer, "/api/v1/admin/redemptions?q=1234").await;
    assert_eq!(res.status(), 403);
    let rows = denied_rows(&db.pool).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1].0, "GET /api/v1/admin/redemptions");
    assert_eq!(rows[1].1["permission"], "redemptions.search");

    // allowed requests and anonymous ones leave nothing
    assert_eq!(app.get_as(&viewer, "/api/v1/admin/batches").await.status(), 200);
    let anon = app.client.get(app.url("/api/v1/admin/users")).send().await.unwrap();
    assert_eq!(anon.status(), 401);
    assert_eq!(denied_rows(&db.pool).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_caller_adds_at_most_twenty_refusals_a_minute_across_routes() {
    use mbelyco::access::Permission::*;
    use mbelyco::web::routes::Access;
    let db = TestDb::new().await;
    // a clock that stands still: every request in one minute
    let app = spawn_app_with_clock(db.pool.clone(), std::sync::Arc::new(ManualClock::new(now()))).await;
    let viewer = app.api_key("Viewer").await;
    // thirty ids on one route pattern: one row (the route is the pattern, not the id)
    for _ in 0..30 {
        let path = format!("/api/v1/admin/users/{}", uuid::Uuid::new_v4());
        assert_eq!(app.get_as(&viewer, &path).await.status(), 403);
    }
    assert_eq!(denied_rows(&db.pool).await.len(), 1);
    // every API read a Viewer lacks the permission for: far more than twenty routes
    let held = [BatchesRead, PromoCodesRead, RedemptionsRead, ReportsRead, AlertsRead];
    let mut refused = 1;
    for spec in mbelyco::web::all_routes() {
        let Access::Permission(p) = spec.access else { continue };
        if spec.method != axum::http::Method::GET || !spec.path.starts_with("/api/v1/") || held.contains(&p) {
            continue;
        }
        let path = spec
            .path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    uuid::Uuid::new_v4().to_string()
                } else {
                    seg.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        assert_eq!(app.get_as(&viewer, &path).await.status(), 403, "{path}");
        refused += 1;
    }
    assert!(refused > 25, "{refused} routes refused");
    assert_eq!(
        denied_rows(&db.pool).await.len(),
        20,
        "at most twenty rows a minute per caller"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_persons_details_is_audited_on_the_api_and_the_page() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let id: uuid::Uuid = sqlx::query_scalar("select id from users where email = $1")
        .bind(ADMIN_EMAIL)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let views = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from audit_logs where action = 'user.viewed' and entity_type = 'user' and entity_id = $1",
        )
        .bind(id.to_string())
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    assert_eq!(views().await, 0);
    let res = app.get_as(&admin, &format!("/api/v1/admin/users/{id}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(views().await, 1);
    let res = app.get_as(&admin, &format!("/admin/users/{id}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(views().await, 2, "the page too");
    // an unknown person: 404, nothing recorded
    let res = app
        .get_as(&admin, &format!("/api/v1/admin/users/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        sqlx::query_scalar::<_, i64>("select count(*) from audit_logs where action = 'user.viewed'")
            .fetch_one(&db.pool)
            .await
            .unwrap(),
        2
    );
}
