//! The dashboard's last click-throughs and its kept view (issue #21, decision 0048): the "held"
//! payouts and the new/returning customer figures open lists filtered to exactly what they count;
//! a custom view a person keeps is stored on the server and opens on any client.

use serde_json::{json, Value};

use crate::dashboard::{agrees, get_json, workload, API};
use crate::helpers::{csrf_from, error_fields, spawn_app, TestApp, TestDb};
use crate::payouts::{redeem, worker};

async fn assert_refused(app: &TestApp, key: &str, path: &str, field: &str) {
    let res = app.get_as(key, path).await;
    assert_eq!(res.status(), 422, "{path}");
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_fields(&body), [field], "{path}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn held_and_new_or_returning_figures_equal_the_lists_they_link_to() {
    let db = TestDb::new().await;
    let (app, admin) = workload(&db).await; // six customers, each new; 3,000 RWF paid today
                                            // today's payouts may not pass 3,000 RWF: the next ones are held back
    app.set_settings(
        mbelyco::settings::Category::Payments,
        json!({"perUserDailyLimit": 2000, "dailyTransactionLimit": 3000}),
    )
    .await;
    // two of the customers who were paid redeem again: returning, and their payouts held
    redeem(&app, &admin, 2, "more").await; // +250784… again
    worker(&app, "dash-held").run_until_idle().await.unwrap();
    let held_rows: i64 = sqlx::query_scalar(
        "select count(*) from disbursements where status = 'queued' and held_reason = 'daily_limit'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(held_rows, 2, "the daily limit held both");

    let (status, d) = get_json(&app, &admin, &format!("{API}?view=detailed")).await;
    assert_eq!(status, 200, "{d}");
    let m = &d["money"];
    assert_eq!(m["held"]["href"], "/admin/disbursements?held=true");
    assert_eq!(agrees(&app, &admin, &m["held"], "held").await, 2);
    assert_eq!(m["held"]["amount"], 2000);
    assert_eq!(agrees(&app, &admin, &m["pending"], "pending, held ones in it").await, 2);
    // not held: every other payout
    let others = crate::dashboard::list_all(&app, &admin, "/api/v1/admin/disbursements?held=false").await;
    assert_eq!(others.len(), 6);

    let r = &d["redemptions"];
    assert_eq!(agrees(&app, &admin, &r["today"], "today").await, 8);
    assert_eq!(agrees(&app, &admin, &r["newCustomersToday"], "new today").await, 6);
    assert_eq!(agrees(&app, &admin, &r["returningToday"], "returning today").await, 2);
    assert_eq!(agrees(&app, &admin, &r["customersAll"], "customers in all").await, 6);
    assert_eq!(agrees(&app, &admin, &r["returningAll"], "returning in all").await, 2);
    assert_eq!(r["returningAll"]["href"], "/admin/redemptions?customer=returning");
    // the returning ones are the second redemptions of the paid customers' phones
    let returning = crate::dashboard::list_all(&app, &admin, "/api/v1/admin/redemptions?customer=returning").await;
    assert!(
        returning
            .iter()
            .all(|x| x["phoneNumber"].as_str().unwrap().starts_with("+250784")),
        "{returning:?}"
    );
    // the payouts list takes the customer filter too
    let paid_returning =
        crate::dashboard::list_all(&app, &admin, "/api/v1/admin/disbursements?customer=returning&held=true").await;
    assert_eq!(paid_returning.len(), 2);

    // the pages: the figures' links open the filtered lists with the filter shown in the form
    let page = app.get_as(&admin, "/?view=detailed").await.text().await.unwrap();
    assert!(page.contains(r#"href="/admin/disbursements?held=true""#), "{page}");
    assert!(page.contains(r#"href="/admin/redemptions?customer=new""#), "{page}");
    let held_page = app.get_as(&admin, "/admin/disbursements?held=true").await;
    assert_eq!(held_page.status(), 200);
    let html = held_page.text().await.unwrap();
    assert!(html.contains(r#"<option value="true" selected>"#), "{html}");
    assert!(html.contains(r#"<span id="showing">1–2 of 2</span>"#), "{html}");
    let html = app
        .get_as(&admin, "/admin/redemptions?customer=returning")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<option value="returning" selected>"#), "{html}");
    assert!(html.contains(r#"<span id="showing">1–2 of 2</span>"#), "{html}");

    // a value the lists cannot read: 422 naming it, on the API and on the page
    assert_refused(&app, &admin, "/api/v1/admin/disbursements?held=maybe", "held").await;
    assert_refused(&app, &admin, "/api/v1/admin/redemptions?customer=old", "customer").await;
    assert_refused(&app, &admin, "/api/v1/admin/redemptions?held=true", "held").await;
    assert_refused(
        &app,
        &admin,
        "/api/v1/admin/disbursements/export?customer=x",
        "customer",
    )
    .await;
    for path in ["/admin/disbursements?held=maybe", "/admin/redemptions?customer=old"] {
        let res = app.get_as(&admin, path).await;
        assert_eq!(res.status(), 422, "{path}");
        let html = res.text().await.unwrap();
        assert!(html.contains("must be"), "{path}: {html}");
    }
}

/// A signed-in browser session of the seeded Super Administrator (the owner of `api_key`s).
async fn session(app: &TestApp) -> reqwest::Client {
    let c = app.browser();
    let res = crate::helpers::password_step(&c, app, crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 303);
    crate::helpers::finish_enrolment(&c, app).await;
    c
}

async fn kept_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from dashboard_views")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_view_kept_on_the_server_opens_on_another_client() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await; // the same person as the session below
    let view = format!("{API}/view");
    let (status, o) = get_json(&app, &key, &view).await;
    assert_eq!(status, 200, "{o}");
    assert_eq!(o, json!({"view": "overview", "sections": [], "remembered": false}));

    // the page's picker keeps a custom view (a form, with the session's CSRF token)
    let browser = session(&app).await;
    let csrf = csrf_from(&browser, &app, "/").await;
    let form = [
        ("_csrf", csrf.as_str()),
        ("view", "custom"),
        ("sections", "system"),
        ("sections", "feed"),
    ];
    let res = browser
        .post(app.url("/dashboard/view"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/");
    let html = app.page_html(&browser, "/").await;
    assert!(
        html.contains(r#"id="card-system""#) && !html.contains(r#"id="card-redemptions""#),
        "{html}"
    );
    assert!(html.contains(r#"id="dashboard-remembered""#), "{html}");
    // nothing of it is left in the browser
    let script = app.page_html(&browser, "/static/app.js").await;
    assert!(script.contains("livePolling") && !script.contains("localStorage"));

    // … and another client of the same person opens with it: the API without `view`
    let (_, o) = get_json(&app, &key, &view).await;
    assert_eq!(
        o,
        json!({"view": "custom", "sections": ["system", "feed"], "remembered": true})
    );
    let (_, d) = get_json(&app, &key, API).await;
    assert_eq!(
        (d["view"].clone(), d["sections"].clone()),
        (json!("custom"), json!(["system", "feed"]))
    );
    let (_, d) = get_json(&app, &key, &format!("{API}?view=custom")).await;
    assert_eq!(
        d["sections"],
        json!(["system", "feed"]),
        "custom without parts: the kept ones"
    );
    // a link naming a view shows it once and keeps nothing
    let (_, d) = get_json(&app, &key, &format!("{API}?view=detailed")).await;
    assert_eq!(d["view"], "detailed");
    assert_eq!(kept_rows(&app).await, 1);

    // the API keeps one too, and the browser sees it
    let res = app
        .put_json(&key, &view, &json!({"view": "custom", "sections": ["money", "alerts"]}))
        .await;
    assert_eq!(res.status(), 200);
    let o: Value = res.json().await.unwrap();
    assert_eq!(o["sections"], json!(["money", "alerts"]));
    let html = app.page_html(&browser, "/").await;
    assert!(
        html.contains(r#"id="card-money""#) && !html.contains(r#"id="card-system""#),
        "{html}"
    );
    assert!(html.contains(r#"value="alerts" checked"#), "{html}");

    // someone else's dashboard is their own
    let (_, other) = crate::payout_fixtures::person_with_key(&app, "other@mbelyco.test", "Viewer").await;
    let (_, o) = get_json(&app, &other, &view).await;
    assert_eq!(o["remembered"], false, "{o}");

    // bad input changes nothing: 422 naming the field on the API, the message beside the picker
    for (body, field) in [
        (json!({"view": "everything"}), "view"),
        (json!({"view": "custom", "sections": ["money", "secrets"]}), "sections"),
        (json!({"view": "custom", "sections": []}), "sections"),
    ] {
        let res = app.put_json(&key, &view, &body).await;
        assert_eq!(res.status(), 422, "{body}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(error_fields(&problem), [field], "{problem}");
    }
    let bad = [("_csrf", csrf.as_str()), ("view", "custom")];
    let res = browser
        .post(app.url("/dashboard/view"))
        .form(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"id="dashboard-view-error""#), "{html}");
    // without the CSRF token the form is refused
    let forged = [("view", "custom"), ("sections", "feed")];
    let res = browser
        .post(app.url("/dashboard/view"))
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let (_, o) = get_json(&app, &key, &view).await;
    assert_eq!(o["sections"], json!(["money", "alerts"]), "still the kept view");

    // picking another view forgets the custom one: `/` opens with the default again
    let form = [("_csrf", csrf.as_str()), ("view", "detailed")];
    let res = browser
        .post(app.url("/dashboard/view"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/?view=detailed");
    assert_eq!(kept_rows(&app).await, 0);
    let (_, d) = get_json(&app, &key, API).await;
    assert_eq!(d["view"], "overview");
}
