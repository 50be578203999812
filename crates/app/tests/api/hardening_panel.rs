//! Issue 17, "the panel as a person sees it" (items 24, 25, 28): charts that keep their shape,
//! no page that scrolls sideways on a phone, and the smaller things a new user tripped on (one
//! highlighted navigation entry, the import page from Codes, an assignee when creating a batch, a
//! top-up button, the registration switch explained, a confirmation after choosing a password).

use fantoccini::Client;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::browser::{sign_in_with_totp, staff_with_totp};
use crate::helpers::{html_value, now, spawn_app, TestApp, TestDb, ADMIN_EMAIL};
use crate::payout_fixtures::{payout, person_with_key, Spec};

/// How many times `needle` occurs in `html`.
fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panel_only_the_closest_navigation_entry_is_highlighted() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    for (path, entry) in [
        ("/admin/disbursements/reconcile", "/admin/disbursements/reconcile"),
        ("/admin/disbursements", "/admin/disbursements"),
        ("/admin/disbursements/stats", "/admin/disbursements"),
        ("/admin/codes/import", "/admin/codes"),
    ] {
        let html = app.get_as(&key, path).await.text().await.unwrap();
        assert_eq!(
            count(&html, r#"aria-current="page""#),
            1,
            "{path}: one entry highlighted"
        );
        assert!(
            html.contains(&format!(r#"<a href="{entry}" aria-current="page">"#)),
            "{path} highlights {entry}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panel_the_import_page_is_reachable_from_the_codes_page() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let maker = app.api_key("Batch Manager").await;
    let html = app.get_as(&maker, "/admin/codes").await.text().await.unwrap();
    let link = html_value(&html, r#"id="import-codes""#);
    assert!(link.contains("Import codes"), "{link}");
    assert!(html.contains(r#"<a href="/admin/codes/import" id="import-codes""#));
    let page = app.get_as(&maker, "/admin/codes/import").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(r#"id="code-import""#));
    // who may not import is not offered the link
    let viewer = app.api_key("Viewer").await;
    let html = app.get_as(&viewer, "/admin/codes").await.text().await.unwrap();
    assert!(!html.contains("/admin/codes/import"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panel_the_create_batch_form_offers_an_assignee() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (manager, _) = person_with_key(&app, "manager@mbelyco.test", "Batch Manager").await;
    let admin = app.api_key("Super Administrator").await;
    let html = app.get_as(&admin, "/admin/batches").await.text().await.unwrap();
    let form = &html[html.find(r#"id="create-batch""#).unwrap()..];
    let form = &form[..form.find("</form>").unwrap()];
    assert!(form.contains(r#"<select name="assigned_user_id">"#), "{form}");
    assert!(
        form.contains(&format!(r#"<option value="{manager}">manager</option>"#)),
        "{form}"
    );

    let res = app
        .post_form(
            &admin,
            "/admin/batches",
            &[
                ("name", "Assigned at birth"),
                ("total_codes", "5"),
                ("amount_per_code", "1000"),
                ("expires_at", "2027-06-30"),
                ("assigned_user_id", &manager.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let assigned: Option<Uuid> =
        sqlx::query_scalar("select assigned_user_id from batches where name = 'Assigned at birth'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(assigned, Some(manager));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panel_the_batch_page_tops_up_within_the_batch_maximum() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.set_settings(
        mbelyco::settings::Category::Business,
        json!({"batchManagement": {"maxCodesPerBatch": 20}}),
    )
    .await;
    let key = app.api_key("Batch Manager").await;
    let id = app.generated_batch(&key, "Top me up", 12, "w-topup").await;
    let page = format!("/admin/batches/{id}");
    let html = app.get_as(&key, &page).await.text().await.unwrap();
    assert!(
        html.contains(&format!(r#"action="/admin/batches/{id}/top-up""#)),
        "a top-up form on the batch page"
    );
    assert!(html.contains(r#"name="count" min="1" max="8""#), "room for 8 more");

    // beyond the maximum: the page again, the reason beside the field, nothing queued
    let res = app
        .post_form(&key, &format!("/admin/batches/{id}/top-up"), &[("count", "9")])
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    let message = html_value(&html, r#"id="top-up-error""#);
    assert!(message.contains("from 1 to 8"), "{message}");
    assert!(html.contains(r#"value="9""#), "the count asked for is kept");
    let res = app
        .post_form(&key, &format!("/admin/batches/{id}/top-up"), &[("count", "many")])
        .await;
    assert_eq!(res.status(), 422);

    // within it: back to the batch page, which follows the generation
    let res = app
        .post_form(&key, &format!("/admin/batches/{id}/top-up"), &[("count", "8")])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], page.as_str());
    assert!(app
        .get_as(&key, &page)
        .await
        .text()
        .await
        .unwrap()
        .contains(r#"id="generation-progress""#));
    let (count, after): (i64, serde_json::Value) = sqlx::query_as(
        "select count(*) over (), after from audit_logs where action = 'batch.topped_up' and entity_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (count, &after["count"]),
        (1, &serde_json::json!(8)),
        "the top-up is audited once: {after}"
    );
    app.worker("w-topup-2").drain().await.unwrap();
    assert_eq!(app.batch_codes(&id).await.len(), 20);
    let html = app.get_as(&key, &page).await.text().await.unwrap();
    assert!(html.contains("already holds the batch maximum"), "full now");

    // who may not generate codes gets no button
    let viewer = app.api_key("Viewer").await;
    let html = app.get_as(&viewer, &page).await.text().await.unwrap();
    assert!(!html.contains("/top-up"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panel_the_registrations_page_says_how_to_open_registration_and_it_works() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let html = app.get_as(&key, "/admin/registrations").await.text().await.unwrap();
    assert!(
        !html.contains("Settings → security"),
        "no pointer to a page that does not exist"
    );
    let said = &html[html.find(r#"id="registration-switch""#).unwrap()..];
    let said = &said[..said.find("</p>").unwrap()];
    assert!(said.contains("closed"), "{said}");
    assert!(said.contains("PUT /api/v1/admin/settings/security"), "{said}");
    // doing what it says opens registration
    let body: Value = serde_json::from_str(
        &said[said.find(r#"{"settings""#).unwrap()..]
            .split("</code>")
            .next()
            .unwrap()
            .replace("…", "open for the season"),
    )
    .unwrap();
    let res = app.put_json(&key, "/api/v1/admin/settings/security", &body).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let html = app.get_as(&key, "/admin/registrations").await.text().await.unwrap();
    assert!(html.contains("Registration is open"));
    assert!(app
        .page_html(&app.browser(), "/sign-in")
        .await
        .contains(r#"href="/register""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panel_after_choosing_a_password_the_person_lands_on_sign_in_with_a_confirmation() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let admin = app.api_key("Super Administrator").await;
    let viewer: Uuid = sqlx::query_scalar("select id from roles where name = 'Viewer'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let res = app
        .post_json(
            &admin,
            "/api/v1/admin/users",
            &json!({"email": "aline@mbelyco.test", "fullName": "Aline", "roleIds": [viewer]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let link = body["setupLink"].as_str().unwrap();
    let path = &link[link.find("/setup/").unwrap()..];
    let b = app.browser();
    let csrf = html_value(&app.page_html(&b, path).await, r#"name="_csrf""#);
    let password = "meadow harbour violet engine";
    let res = b
        .post(app.url(path))
        .form(&[("_csrf", csrf.as_str()), ("password", password), ("confirm", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/sign-in"), "{to}");
    let html = app.page_html(&b, &to).await;
    let notice = html_value(&html, r#"id="sign-in-notice""#);
    assert!(notice.contains("password is saved"), "{notice}");
    // the plain sign-in page says nothing of the kind, and the query cannot put words there
    assert!(!app.page_html(&b, "/sign-in").await.contains("sign-in-notice"));
    let forged = app.page_html(&b, "/sign-in?notice=%3Cb%3EYou+won%3C%2Fb%3E").await;
    assert!(!forged.contains("sign-in-notice") && !forged.contains("You won"));
}

// ---- in Chromium: charts, phone width, form controls ----------------------------------------

/// What a page looks like to the browser, measured in one script call.
async fn measure(c: &Client, script: &str, args: Vec<Value>) -> Value {
    c.execute(script, args).await.unwrap()
}

/// The rendered height of the chart `css` and the smallest and largest height of its labels.
async fn chart_size(c: &Client, css: &str) -> (f64, f64, f64) {
    let v = measure(
        c,
        "const svg = document.querySelector(arguments[0]);
         if (!svg) return null;
         const h = Array.from(svg.querySelectorAll('text'), t => t.getBoundingClientRect().height).filter(x => x > 0);
         return [svg.getBoundingClientRect().height, Math.min(...h), Math.max(...h)];",
        vec![json!(css)],
    )
    .await;
    assert!(!v.is_null(), "no chart {css}");
    (v[0].as_f64().unwrap(), v[1].as_f64().unwrap(), v[2].as_f64().unwrap())
}

/// The page's overflow at the current width: (scrollWidth, innerWidth, header's right edge,
/// a few elements sticking out on the right).
const OVERFLOW: &str = "
  const w = window.innerWidth;
  const header = document.querySelector('header.topbar');
  const r = header ? header.getBoundingClientRect() : {right: 0};
  const out = [];
  for (const e of document.querySelectorAll('body *')) {
    const b = e.getBoundingClientRect();
    if (b.right > w + 1 && b.width > 0 && out.length < 6) {
      let scroller = e.parentElement, clipped = false;
      while (scroller && scroller !== document.body) {
        const s = getComputedStyle(scroller).overflowX;
        if (s === 'auto' || s === 'scroll' || s === 'hidden') { clipped = true; break; }
        scroller = scroller.parentElement;
      }
      if (!clipped) out.push(e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className + ' ' + Math.round(b.right));
    }
  }
  return [document.documentElement.scrollWidth, w, Math.round(r.right), header ? header.scrollWidth : 0, header ? header.clientWidth : 0, out];";

pub(crate) async fn assert_fits(c: &Client, app: &TestApp, path: &str) {
    c.goto(&app.url(path)).await.unwrap();
    let v = measure(c, OVERFLOW, vec![]).await;
    let (scroll, inner) = (v[0].as_i64().unwrap(), v[1].as_i64().unwrap());
    let title = c.title().await.unwrap_or_default();
    assert!(
        scroll <= inner,
        "{path} ({title}) scrolls sideways: {scroll} > {inner}; sticking out: {}",
        v[5]
    );
    assert!(v[2].as_i64().unwrap() <= inner, "{path}: the header ends at {}", v[2]);
    assert!(
        v[3].as_i64().unwrap() <= v[4].as_i64().unwrap(),
        "{path}: the header's content overflows it: {v}"
    );
}

/// A world with something on every page: a generated batch with a redemption paid today and one
/// that failed, a USSD session, a code import with a rejected line, a reconciliation run.
struct World {
    batch: String,
    code: String,
    payout: Uuid,
    redemption: Uuid,
    import: String,
    run: String,
    item: String,
}

async fn world(app: &TestApp) -> World {
    let key = app.api_key("Super Administrator").await;
    let batch = app
        .generated_batch(&key, "Lake Kivu rainy season 2026 (long name)", 30, "w-world")
        .await;
    let batch_id: Uuid = batch.parse().unwrap();
    let code: String = sqlx::query_scalar("select id::text from promo_codes where batch_id = $1::uuid limit 1")
        .bind(&batch)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let paid = payout(
        &app.pool,
        batch_id,
        Spec::new("+250788123456", 1000, "completed").tx("4400112233"),
    )
    .await;
    payout(&app.pool, batch_id, Spec::new("+250788654321", 1000, "failed")).await;
    let other = crate::payout_fixtures::batch(&app.pool, "Old stock", 1000).await;
    payout(&app.pool, other, Spec::new("+250788111222", 1000, "awaiting_approval")).await;
    app.open_ussd().await;
    app.hop("ATUid_phone_width_check", "+250788123456", "").await;
    app.hop("ATUid_phone_width_check", "+250788123456", "1").await;

    let res = app
        .client
        .post(app.url(&format!(
            "/api/v1/admin/promo-codes/import?batchId={batch}&mode=valid_rows&fileName=shop-codes-from-the-warehouse.csv"
        )))
        .bearer_auth(&key)
        .header("content-type", "text/csv")
        .body("code\nBCDEFG26HJ11KL27\nthis-line-is-not-a-code-at-all-and-is-rather-long\n")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let import: Value = res.json().await.unwrap();
    let import = import["import"]["id"].as_str().unwrap().to_owned();

    let api = "/api/v1/admin/disbursements/reconcile";
    let statement = format!(
        "date,reference,financialTransactionId,externalId,msisdn,amount,currency,status,reason\n\
         {},6f1c1f5e-0a8b-4c43-9d2b-3f3b1e0f8a01,99887766,{},250788000009,1000,RWF,SUCCESSFUL,\n",
        now().to_rfc3339(),
        Uuid::new_v4()
    );
    let res = app
        .client
        .post(app.url(&format!("{api}/statements?fileName=momo-statement.csv")))
        .bearer_auth(&key)
        .header("content-type", "text/csv")
        .body(statement)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let statement: Value = res.json().await.unwrap();
    let body = json!({
        "from": (now() - chrono::Duration::days(1)).to_rfc3339(),
        "to": (now() + chrono::Duration::minutes(10)).to_rfc3339(),
        "queryMomo": false,
        "statementId": statement["data"]["id"],
    });
    let res = app.post_json(&key, api, &body).await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let run: Value = res.json().await.unwrap();
    let run = run["data"]["id"].as_str().unwrap().to_owned();
    app.worker("w-world-recon").drain().await.unwrap();
    let items: Value = app
        .get_as(&key, &format!("{api}/{run}/items?kind=all"))
        .await
        .json()
        .await
        .unwrap();
    let item = items["data"][0]["id"].as_str().unwrap().to_owned();
    World {
        batch,
        code,
        payout: paid.id,
        redemption: paid.redemption_id,
        import,
        run,
        item,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_panel_charts_keep_their_shape_and_no_page_scrolls_sideways_on_a_phone() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let w = world(&app).await;
    let pw = "correct pony staple battery";
    let secret = staff_with_totp(&app, "boss@mbelyco.test", pw, "Super Administrator").await;
    let b = testkit::browser().await;
    let c = &b.client;
    c.set_window_size(1366, 900).await.unwrap();
    sign_in_with_totp(c, &app, "boss@mbelyco.test", pw, &secret).await;

    // 24: the charts keep a readable size at desktop and phone width
    let batch_page = format!("/admin/batches/{}", w.batch);
    for (width, height) in [(1366, 900), (390, 844)] {
        c.set_window_size(width, height).await.unwrap();
        for (page, chart) in [
            (batch_page.as_str(), "#redemptions-chart"),
            ("/admin/disbursements/stats", "#per-day-chart"),
            ("/admin/disbursements/stats", "#failures-chart"),
        ] {
            c.goto(&app.url(page)).await.unwrap();
            let (h, smallest, largest) = chart_size(c, chart).await;
            if chart != "#failures-chart" {
                assert!(
                    (120.0..=480.0).contains(&h),
                    "{chart} on {page} at {width} px is {h} px tall"
                );
            }
            assert!(
                smallest >= 9.0 && largest <= 28.0,
                "{chart} on {page} at {width} px: labels {smallest}–{largest} px tall"
            );
        }
    }

    // 28: radio buttons beside their words; number and date inputs styled like the others
    c.set_window_size(1366, 900).await.unwrap();
    c.goto(&app.url("/admin/codes")).await.unwrap();
    let beside = measure(
        c,
        "return Array.from(document.querySelectorAll('form label > input[type=radio]'), i => {
           const l = i.parentElement, a = i.getBoundingClientRect(), r = document.createRange();
           r.setStartAfter(i); r.setEndAfter(l.lastChild);
           const t = r.getBoundingClientRect();
           return [l.textContent.trim(), t.left >= a.right - 1 && t.top < a.bottom && t.bottom > a.top];
         });",
        vec![],
    )
    .await;
    let beside = beside.as_array().unwrap();
    assert!(beside.len() >= 2, "{beside:?}");
    assert!(
        beside.iter().all(|p| p[1] == true),
        "radio buttons sit beside their labels: {beside:?}"
    );
    let styled = "const a = getComputedStyle(document.querySelector(arguments[0])), b = getComputedStyle(document.querySelector(arguments[1]));
                  return ['borderTopLeftRadius', 'paddingLeft', 'borderTopColor', 'fontSize'].filter(k => a[k] !== b[k]);";
    let differs = measure(
        c,
        styled,
        vec![
            json!("#void-sheet input[type=number]"),
            json!("#code-search input[type=text]"),
        ],
    )
    .await;
    assert_eq!(differs, json!([]), "a number input looks like a text input");
    c.goto(&app.url("/admin/batches")).await.unwrap();
    let differs = measure(
        c,
        styled,
        vec![
            json!("#create-batch input[type=date]"),
            json!("#create-batch input[type=text]"),
        ],
    )
    .await;
    assert_eq!(differs, json!([]), "a date input looks like a text input");

    // 25: at 390 × 844 no page scrolls sideways, and the header fits
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&app.url("/")).await.unwrap();
    let nav = measure(
        c,
        "return Array.from(document.querySelectorAll('nav#nav a'), a => a.getAttribute('href'));",
        vec![],
    )
    .await;
    let mut pages: Vec<String> = serde_json::from_value(nav).unwrap();
    assert!(pages.len() >= 12, "{pages:?}");
    let admin: Uuid = sqlx::query_scalar("select id from users where email = $1")
        .bind(ADMIN_EMAIL)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let audit_row: Uuid = sqlx::query_scalar("select id from audit_logs order by seq desc limit 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    pages.extend([
        batch_page.clone(),
        format!("/admin/codes/{}", w.code),
        format!("/admin/codes/import?import={}", w.import),
        "/admin/codes/import".to_owned(),
        format!("/admin/redemptions/{}", w.redemption),
        format!("/admin/disbursements/{}", w.payout),
        "/admin/disbursements/stats".to_owned(),
        format!("/admin/disbursements/reconcile/{}", w.run),
        format!("/admin/disbursements/reconcile/items/{}", w.item),
        "/admin/ussd/sessions/ATUid_phone_width_check".to_owned(),
        format!("/admin/users/{admin}"),
        "/admin/alerts/rules".to_owned(),
        "/admin/alerts/fraud".to_owned(),
        "/admin/settings/templates".to_owned(),
        "/admin/settings/templates/disbursement.succeeded/sms/rw".to_owned(),
        "/admin/settings/webhooks".to_owned(),
        "/api/docs".to_owned(),
        "/status".to_owned(),
        format!("/admin/audit/{audit_row}"),
    ]);
    for page in &pages {
        assert_fits(c, &app, page).await;
    }
}
