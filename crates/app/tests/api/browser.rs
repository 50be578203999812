//! Browser tests in a real headless Chromium (driven over WebDriver by chromedriver): sign-in
//! with TOTP enrolment, lockout, navigation filtered by permission, batches, and the code import
//! with its upload progress, the USSD monitor's live rows, and approving a held payout.

use std::time::Duration;

use fantoccini::{Client, Locator};
use mbelyco::identity::{self, mfa, totp};
use serde_json::json;

use crate::helpers::{now, spawn_app, TestApp, TestDb, ADMIN_EMAIL, ADMIN_PASSWORD};

use testkit::browser;

pub(crate) async fn fill(c: &Client, css: &str, value: &str) {
    let el = c.find(Locator::Css(css)).await.unwrap();
    el.clear().await.unwrap();
    el.send_keys(value).await.unwrap();
}

/// Clicks and waits until the next page has replaced this one.
pub(crate) async fn submit(c: &Client, css: &str) {
    let old = c.find(Locator::Css("html")).await.unwrap();
    c.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
    for _ in 0..400 {
        if old.tag_name().await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    c.wait().for_element(Locator::Css("body")).await.unwrap();
}

pub(crate) async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

async fn sign_in_form(c: &Client, app: &TestApp, email: &str, password: &str) {
    c.goto(&app.url("/sign-in")).await.unwrap();
    fill(c, "input[name=email]", email).await;
    fill(c, "input[name=password]", password).await;
    submit(c, "form[action='/sign-in'] button[type=submit]").await;
}

async fn nav_labels(c: &Client) -> Vec<String> {
    let mut out = Vec::new();
    for a in c.find_all(Locator::Css("nav#nav a")).await.unwrap() {
        out.push(
            a.prop("textContent")
                .await
                .unwrap()
                .unwrap_or_default()
                .trim()
                .to_owned(),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_sign_in_enrols_totp_and_shows_backup_codes() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let b = browser().await;
    let c = &b.client;
    sign_in_form(c, &app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert!(c.current_url().await.unwrap().path().ends_with("/sign-in/enrol"));
    assert!(
        c.find(Locator::Css(".qr svg")).await.is_ok(),
        "the QR code is on the page"
    );
    let secret = text(c, "#totp-secret").await;
    let code = totp::code_at(&secret, now().timestamp() as u64).unwrap();
    fill(c, "input[name=code]", &code).await;
    submit(c, "form[action='/sign-in/enrol'] button[type=submit]").await;
    let codes = c.find_all(Locator::Css(".backup-codes li")).await.unwrap();
    assert_eq!(codes.len(), 10);
    submit(c, ".auth-box a.button").await;
    assert!(text(c, "main h1").await.starts_with("Welcome"));
    // sign out from the shell
    submit(c, "form[action='/sign-out'] button").await;
    assert!(c.current_url().await.unwrap().path().ends_with("/sign-in"));
    c.goto(&app.url("/account")).await.unwrap();
    assert!(
        c.current_url().await.unwrap().path().ends_with("/sign-in"),
        "signed out for real"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_lockout_after_five_wrong_passwords() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let b = browser().await;
    let c = &b.client;
    for _ in 0..4 {
        sign_in_form(c, &app, ADMIN_EMAIL, "wrong password here").await;
        assert!(text(c, "[role=alert]").await.contains("not right"));
    }
    // the fifth locks the account; without the right password it says no more than for an
    // unknown address (issue 17: no account enumeration)
    sign_in_form(c, &app, ADMIN_EMAIL, "wrong password here").await;
    assert!(text(c, "[role=alert]").await.contains("not right"));
    sign_in_form(c, &app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert!(
        text(c, "[role=alert]").await.contains("locked until"),
        "the right password does not help while locked"
    );
}

/// A staff user with a role and TOTP already set up; returns the TOTP secret.
pub(crate) async fn staff_with_totp(app: &TestApp, email: &str, password: &str, role: &str) -> String {
    let mut tx = app.pool.begin().await.unwrap();
    let pw = password.to_owned().into();
    let new = identity::NewStaff {
        email,
        full_name: "Test User",
        password: Some(&pw),
        roles: &[role],
    };
    let id = identity::create_staff(&mut tx, &new, &mbelyco::unit::Acting::system(now()))
        .await
        .unwrap();
    let secret = mfa::pending_secret(&mut tx, &app.state.keys, id, now()).await.unwrap();
    mfa::confirm(&mut tx, &app.state.keys, id, now()).await.unwrap();
    tx.commit().await.unwrap();
    secret
}

pub(crate) async fn sign_in_with_totp(c: &Client, app: &TestApp, email: &str, password: &str, secret: &str) {
    sign_in_form(c, app, email, password).await;
    let code = totp::code_at(secret, now().timestamp() as u64).unwrap();
    fill(c, "input[name=code]", &code).await;
    submit(c, "form[action='/sign-in/verify'] button[type=submit]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_navigation_shows_only_what_the_user_may_open() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let pw = "correct pony staple battery";
    let viewer_secret = staff_with_totp(&app, "viewer@mbelyco.test", pw, "Viewer").await;
    let admin_secret = staff_with_totp(&app, "boss@mbelyco.test", pw, "Super Administrator").await;

    let b = browser().await;
    let c = &b.client;
    sign_in_with_totp(c, &app, "boss@mbelyco.test", pw, &admin_secret).await;
    assert_eq!(
        nav_labels(c).await,
        [
            "Home",
            "Batches",
            "Codes",
            "USSD",
            "Redemptions",
            "Payouts",
            "Reconciliation",
            "Alerts",
            "Reports",
            "Users",
            "Registrations",
            "Role requests",
            "Roles",
            "API keys",
            "Settings",
            "Audit log",
            "Backups",
            "My account"
        ]
    );
    submit(c, "form[action='/sign-out'] button").await;

    sign_in_with_totp(c, &app, "viewer@mbelyco.test", pw, &viewer_secret).await;
    let url = c.current_url().await.unwrap();
    assert_eq!(
        nav_labels(c).await,
        [
            "Home",
            "Batches",
            "Codes",
            "Redemptions",
            "Alerts",
            "Reports",
            "My account"
        ],
        "at {url}: {}",
        c.source().await.unwrap()
    );
    // typing the address does not help either
    c.goto(&app.url("/admin/api-keys")).await.unwrap();
    assert!(text(c, "main h1").await.contains("Not allowed"));
    // phone-width screens get a Menu button that opens the navigation
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&app.url("/")).await.unwrap();
    let nav = c.find(Locator::Css("nav#nav")).await.unwrap();
    assert!(!nav.is_displayed().await.unwrap());
    c.find(Locator::Css("button.nav-toggle"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(nav.is_displayed().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_registration_approved_by_a_super_admin() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let pw = "correct pony staple battery";
    let boss_secret = staff_with_totp(&app, "boss@mbelyco.test", pw, "Super Administrator").await;
    // registration opened in settings
    let mut tx = app.pool.begin().await.unwrap();
    mbelyco::settings::update(
        &mut tx,
        app.state.settings.secrets(),
        mbelyco::settings::Category::Security,
        json!({"registration": {"adminRegistrationEnabled": true}})
            .as_object()
            .unwrap()
            .clone(),
        None,
        &mbelyco::unit::Acting::system(now()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    app.state.settings.refresh().await.unwrap();

    let b = browser().await;
    let c = &b.client;
    c.goto(&app.url("/sign-in")).await.unwrap();
    submit(c, "a[href='/register']").await;
    fill(c, "input[name=full_name]", "Grace Uwimana").await;
    fill(c, "input[name=email]", "grace@mbelyco.test").await;
    submit(c, "form[action='/register'] button[type=submit]").await;
    assert!(text(c, "[role=status]").await.contains("An administrator will review"));

    sign_in_with_totp(c, &app, "boss@mbelyco.test", pw, &boss_secret).await;
    submit(c, "nav#nav a[href='/admin/registrations']").await;
    assert!(text(c, ".registration h2").await.contains("Grace Uwimana"));
    let viewer = c
        .find(Locator::XPath(
            "//section[contains(@class,'registration')]//label[contains(., 'Viewer')]/input",
        ))
        .await
        .unwrap();
    viewer.click().await.unwrap();
    submit(c, ".registration form.stack button[type=submit]").await;
    let link = text(c, "#setup-link").await;
    assert!(link.contains("/setup/"), "{link}");
    submit(c, "form[action='/sign-out'] button").await;

    c.goto(&link).await.unwrap();
    fill(c, "input[name=password]", "meadow harbour violet engine").await;
    fill(c, "input[name=confirm]", "meadow harbour violet engine").await;
    submit(c, "form button[type=submit]").await;
    sign_in_form(c, &app, "grace@mbelyco.test", "meadow harbour violet engine").await;
    assert!(
        c.current_url().await.unwrap().path().ends_with("/sign-in/enrol"),
        "approved, she signs in and sets up two-factor"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_create_a_batch_watch_generation_reach_100_and_download_both_files() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let pw = "correct pony staple battery";
    let secret = staff_with_totp(&app, "maker@mbelyco.test", pw, "Batch Manager").await;
    // a worker runs beside the app, as in `mbelyco run`
    let opts = mbelyco::jobs::WorkerOptions {
        worker_id: "browser-test".into(),
        ..Default::default()
    };
    let worker = std::sync::Arc::new(mbelyco::jobs::Worker::new(
        app.pool.clone(),
        mbelyco::startup::registry(&app.state),
        std::sync::Arc::new(mbelyco::clock::SystemClock),
        opts,
    ));
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(std::sync::Arc::clone(&worker).run(stop.clone()));

    let b = browser().await;
    let c = &b.client;
    sign_in_with_totp(c, &app, "maker@mbelyco.test", pw, &secret).await;
    submit(c, "nav#nav a[href='/admin/batches']").await;
    fill(c, "#create-batch input[name=name]", "Lake Kivu 2027").await;
    fill(c, "#create-batch input[name=total_codes]", "60000").await;
    fill(c, "#create-batch input[name=amount_per_code]", "2000").await;
    c.execute(
        "document.querySelector('#create-batch input[name=expires_at]').value = '2027-06-30';",
        vec![],
    )
    .await
    .unwrap();
    submit(c, "#create-batch button[type=submit]").await;
    assert!(c.current_url().await.unwrap().path().starts_with("/admin/batches/"));
    let batch_url = c.current_url().await.unwrap();
    // the progress bar shows, then the page reloads itself when generation is done
    let mut saw_bar = c.find(Locator::Css("#generation-progress")).await.is_ok();
    let mut finished = false;
    for _ in 0..240 {
        let page = c.source().await.unwrap();
        if page.contains("generation-progress") {
            saw_bar = true;
        }
        if page.contains("60000 (60000 active") {
            finished = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(saw_bar, "a progress bar was shown while codes were generated");
    assert!(finished, "the page shows all 60000 codes when generation is done");
    let pct: i64 = sqlx::query_scalar(
        "select (100 * progress_done / progress_total)::int8 from jobs where kind = 'codes.generate'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(pct, 100);

    // both downloads, with the browser's own session
    let id = batch_url.path().rsplit('/').next().unwrap().to_owned();
    for (format, mime) in [("pdf", "application/pdf"), ("csv", "text/csv; charset=utf-8")] {
        let url = app.url(&format!(
            "/api/v1/admin/promo-codes/export?format={format}&batchId={id}&serialFrom=1&serialTo=24"
        ));
        let got = c
            .execute(
                "return fetch(arguments[0]).then(async r => r.status + ' ' + r.headers.get('content-type') + ' ' + (await r.arrayBuffer()).byteLength);",
                vec![json!(url)],
            )
            .await
            .unwrap();
        let got = got.as_str().unwrap().to_owned();
        assert!(got.starts_with(&format!("200 {mime} ")), "{format}: {got}");
        let size: usize = got.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(size > 500, "{format}: {size} bytes");
    }
    c.goto(batch_url.as_str()).await.unwrap();
    let custody = text(c, "main").await;
    assert!(
        custody.contains("pdf") && custody.contains("csv") && custody.contains("maker@mbelyco.test"),
        "{custody}"
    );
    stop.cancel();
    let _ = running.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_import_codes_from_the_batch_page_with_upload_progress() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let pw = "correct pony staple battery";
    let secret = staff_with_totp(&app, "importer@mbelyco.test", pw, "Batch Manager").await;
    let batch: uuid::Uuid = sqlx::query_scalar(
        "insert into batches (name, total_codes, amount_per_code, expiration_date, created_at, updated_at) \
         values ('Shop codes', 10, 1000, now() + interval '90 days', now(), now()) returning id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    // 30,000 codes (about 600 KB) and one bad line
    let alphabet = mbelyco::codes::Alphabet::new("ABCDEFGHJKLMNPQRSTUVWXYZ23456789").unwrap();
    let mut g = mbelyco::codes::format::Generator::new(
        alphabet,
        false,
        now(),
        <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(11),
    );
    let mut csv = String::from("code\n");
    for _ in 0..30_000 {
        csv.push_str(g.next_code().as_str());
        csv.push('\n');
    }
    csv.push_str("not-a-code\n");
    let file = std::env::temp_dir().join(format!("import-{}.csv", uuid::Uuid::new_v4()));
    std::fs::write(&file, &csv).unwrap();

    let b = browser().await;
    let c = &b.client;
    sign_in_with_totp(c, &app, "importer@mbelyco.test", pw, &secret).await;
    c.goto(&app.url(&format!("/admin/batches/{batch}"))).await.unwrap();
    submit(c, "#import-codes").await;
    assert!(c.current_url().await.unwrap().path().ends_with("/admin/codes/import"));
    // note what the page shows while the upload runs (sessionStorage survives the navigation)
    c.execute(
        "const send = XMLHttpRequest.prototype.send;
         XMLHttpRequest.prototype.send = function (body) {
           this.upload.addEventListener('progress', (e) => {
             sessionStorage.setItem('uploaded', String(e.loaded));
             sessionStorage.setItem('shown', String(!document.getElementById('import-progress').hidden));
             sessionStorage.setItem('bar', String(document.querySelector('#import-progress progress').value));
           });
           return send.call(this, body);
         };",
        vec![],
    )
    .await
    .unwrap();
    c.find(Locator::Css("#code-import input[value=valid_rows]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("#code-import input[type=file]"))
        .await
        .unwrap()
        .send_keys(&file.display().to_string())
        .await
        .unwrap();
    c.find(Locator::Css("#code-import button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut done = false;
    for _ in 0..240 {
        if c.current_url()
            .await
            .unwrap()
            .query()
            .is_some_and(|q| q.starts_with("import="))
        {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(done, "the page opens the import's summary: {}", text(c, "main").await);
    c.wait().for_element(Locator::Css("#import-result")).await.unwrap();
    assert_eq!(text(c, "#import-accepted").await, "30000");
    assert_eq!(text(c, "#import-rejected").await, "1");
    assert!(text(c, "#import-report").await.contains("error report"));
    let seen = c
        .execute(
            "return [sessionStorage.getItem('uploaded'), sessionStorage.getItem('shown'), sessionStorage.getItem('bar')];",
            vec![],
        )
        .await
        .unwrap();
    let uploaded: usize = seen[0].as_str().unwrap().parse().unwrap();
    assert!(uploaded >= csv.len(), "the whole file was reported as uploaded: {seen}");
    assert_eq!(seen[1], "true", "the progress bar was shown");
    assert_eq!(seen[2], "100", "the bar reached 100 %");
    let stored: i64 = sqlx::query_scalar("select count(*) from promo_codes where batch_id = $1")
        .bind(batch)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 30_000);
    let _ = std::fs::remove_file(&file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_ussd_monitor_shows_a_new_hop_without_reloading() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let pw = "correct pony staple battery";
    let secret = staff_with_totp(&app, "monitor@mbelyco.test", pw, "Super Administrator").await;

    let b = browser().await;
    let c = &b.client;
    sign_in_with_totp(c, &app, "monitor@mbelyco.test", pw, &secret).await;
    submit(c, "nav#nav a[href='/admin/ussd']").await;
    assert!(text(c, "#interactions tbody").await.contains("No interactions match."));
    let page = c.find(Locator::Css("html")).await.unwrap();

    // a customer dials while the page is open
    app.hop("ATUid_live", "+250788123456", "").await;
    let mut row = None;
    for _ in 0..100 {
        if let Ok(r) = c.find(Locator::Css("#interactions tbody tr[data-id]")).await {
            row = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let row = row.expect("the new hop appears within 10 s");
    assert!(page.tag_name().await.is_ok(), "the same page: it was not reloaded");
    let cells = row.find_all(Locator::Css("td")).await.unwrap();
    assert_eq!(cells.len(), 7);
    assert_eq!(cells[1].text().await.unwrap(), "+250788123456");
    assert_eq!(cells[5].text().await.unwrap(), "menu");
    let link = cells[2].find(Locator::Css("a")).await.unwrap();
    assert_eq!(link.text().await.unwrap(), "ATUid_live");
    assert!(c.find(Locator::Css("#interactions tbody tr.empty")).await.is_err());

    // two hops commit in the other order than they took their ids: the page shows both, once
    // each, in id order
    let (slow, slow_id) = app.hop_not_yet_committed("ATUid_slow", "+250783333333").await;
    app.hop("ATUid_quick", "+250788999999", "").await;
    let shown = live_ids(c, 2).await;
    assert_eq!(shown.len(), 2, "the quick hop appears: {shown:?}");
    assert!(shown[0] > slow_id, "{shown:?}");
    slow.commit().await.unwrap();
    let shown = live_ids(c, 3).await;
    assert_eq!(shown.len(), 3, "the hop that committed last appears too: {shown:?}");
    assert_eq!(shown[1], slow_id, "in its place, below the newer hop: {shown:?}");
    assert!(
        shown.windows(2).all(|w| w[0] > w[1]),
        "newest first, once each: {shown:?}"
    );
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(live_ids(c, 0).await, shown, "a later poll adds no copies");
    assert!(page.tag_name().await.is_ok(), "still the same page");

    // the session link opens the transcript
    let link = c
        .find(Locator::Css(
            "#interactions tbody a[href='/admin/ussd/sessions/ATUid_live']",
        ))
        .await
        .unwrap();
    link.click().await.unwrap();
    c.wait().for_element(Locator::Css("#transcript")).await.unwrap();
    assert!(text(c, "#transcript").await.contains("Murakaza neza"));
}

/// The ids of the monitor's interaction rows, top to bottom, once there are `n` of them (at once
/// with `n` 0); what is shown after 10 s otherwise.
async fn live_ids(c: &Client, n: usize) -> Vec<i64> {
    let mut shown = Vec::new();
    for _ in 0..100 {
        let v = c
            .execute(
                "return Array.from(document.querySelectorAll('#interactions tbody tr[data-id]'), tr => Number(tr.dataset.id));",
                vec![],
            )
            .await
            .unwrap();
        shown = serde_json::from_value::<Vec<i64>>(v).unwrap();
        if n == 0 || shown.len() == n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shown
}

/// The text of the first element matching `css` once it equals `want` (or, with `want` empty,
/// at once), read in one script call so a row the page replaces meanwhile cannot go stale; the
/// last text seen after 10 s otherwise.
async fn wait_for_text(c: &Client, css: &str, want: &str) -> String {
    let mut seen = String::new();
    for _ in 0..100 {
        let v = c
            .execute(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
                vec![json!(css)],
            )
            .await
            .unwrap();
        seen = v.as_str().unwrap_or("").trim().to_owned();
        if want.is_empty() || seen == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_an_approver_approves_a_held_payout_and_sees_its_status_change() {
    use crate::payout_fixtures::{batch, payout, Spec};
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let pw = "correct pony staple battery";
    let secret = staff_with_totp(&app, "approver@mbelyco.test", pw, "Financial Administrator").await;
    let big = batch(&app.pool, "Big prizes", 150_000).await;
    let held = payout(&app.pool, big, Spec::new("+250788123456", 150_000, "awaiting_approval")).await;
    let badge = format!("#payouts tr[data-id='{}'] .badge", held.id);

    let b = browser().await;
    let c = &b.client;
    sign_in_with_totp(c, &app, "approver@mbelyco.test", pw, &secret).await;
    submit(c, "nav#nav a[href='/admin/disbursements']").await;
    assert_eq!(text(c, &badge).await, "awaiting_approval");
    assert_eq!(text(c, "#attention-awaiting_approval").await, "1");
    submit(c, &format!("#payouts tr[data-id='{}'] td a", held.id)).await;
    assert_eq!(text(c, "#payout-status").await, "awaiting_approval");
    submit(c, "#approve-form button[type=submit]").await;
    assert!(text(c, "#action-notice").await.contains("Approved"));
    assert_eq!(text(c, "#payout-status").await, "queued");
    assert!(
        c.find(Locator::Css("#approve-form")).await.is_err(),
        "nothing left to approve"
    );
    let approver: Option<String> = sqlx::query_scalar(
        "select u.email::text from disbursements d join users u on u.id = d.approved_by_user_id where d.id = $1",
    )
    .bind(held.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(approver.as_deref(), Some("approver@mbelyco.test"));
    // the page follows the payout: its first poll finds nothing new, then the worker claims it
    tokio::time::sleep(Duration::from_millis(5600)).await;
    assert!(
        c.find(Locator::Css("#payout-changed[hidden]")).await.is_ok(),
        "no change announced"
    );
    sqlx::query("update disbursements set status = 'processing', updated_at = now() where id = $1")
        .bind(held.id)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(wait_for_text(c, "#payout-status", "processing").await, "processing");
    assert!(c.find(Locator::Css("#payout-changed:not([hidden])")).await.is_ok());

    // back on the list, MoMo pays it while the page is open: the row changes in place
    submit(c, "main p a[href='/admin/disbursements']").await;
    assert_eq!(text(c, &badge).await, "processing");
    let page = c.find(Locator::Css("html")).await.unwrap();
    sqlx::query(
        "update disbursements set status = 'completed', momo_transaction_id = '99887766', disbursed_at = now(), \
         updated_at = now() where id = $1",
    )
    .bind(held.id)
    .execute(&app.pool)
    .await
    .unwrap();
    let seen = wait_for_text(c, &badge, "completed").await;
    assert_eq!(seen, "completed", "the status change appears within 10 s");
    assert!(page.tag_name().await.is_ok(), "the same page: it was not reloaded");
    let row = wait_for_text(c, &format!("#payouts tr[data-id='{}']", held.id), "").await;
    assert!(row.contains("99887766") && row.contains("150,000 RWF"), "{row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_reconciliation_run_with_live_progress_then_resolve_an_item() {
    use crate::reconcile::{attempt, complete, ready, simulator, Attempt, PHONES};
    let db = TestDb::new().await;
    let sim = simulator().await;
    let (app, _, d) = ready(&db, &sim, &PHONES[..2]).await;
    // one query a second, so the run takes a few seconds to watch
    app.set_settings(
        mbelyco::settings::Category::Payments,
        json!({"statusQueriesPerSecond": 1}),
    )
    .await;
    let paid = uuid::Uuid::new_v4();
    attempt(
        &app,
        d[0],
        Attempt {
            no: 1,
            reference: paid,
            status: "successful",
            http: Some(202),
            momo_status: Some("SUCCESSFUL"),
            ftid: Some("55"),
        },
    )
    .await;
    complete(&app, d[0], paid, "55").await;
    for no in 1..=4 {
        let reference = uuid::Uuid::new_v4();
        attempt(
            &app,
            d[1],
            Attempt {
                no,
                reference,
                status: "failed",
                http: Some(400),
                momo_status: None,
                ftid: None,
            },
        )
        .await;
    }
    let pw = "correct pony staple battery";
    let secret = staff_with_totp(&app, "finance@mbelyco.test", pw, "Financial Administrator").await;
    let opts = mbelyco::jobs::WorkerOptions {
        worker_id: "browser-recon".into(),
        ..Default::default()
    };
    let worker = std::sync::Arc::new(mbelyco::jobs::Worker::new(
        app.pool.clone(),
        mbelyco::startup::registry(&app.state),
        std::sync::Arc::new(mbelyco::clock::SystemClock),
        opts,
    ));
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(std::sync::Arc::clone(&worker).run(stop.clone()));

    let b = browser().await;
    let c = &b.client;
    sign_in_with_totp(c, &app, "finance@mbelyco.test", pw, &secret).await;
    submit(c, "nav#nav a[href='/admin/disbursements/reconcile']").await;
    let today = now()
        .with_timezone(&mbelyco::clock::kigali())
        .format("%Y-%m-%d")
        .to_string();
    c.execute(
        "document.querySelector('#reconcile-start input[name=from]').value = arguments[0];\
         document.querySelector('#reconcile-start input[name=to]').value = arguments[0];",
        vec![json!(today)],
    )
    .await
    .unwrap();
    submit(c, "#reconcile-start button[type=submit]").await;
    assert!(c
        .current_url()
        .await
        .unwrap()
        .path()
        .starts_with("/admin/disbursements/reconcile/"));
    // the progress bar shows, then the page reloads itself when the run is done
    let mut saw_bar = false;
    let mut finished = false;
    for _ in 0..120 {
        let page = c.source().await.unwrap();
        saw_bar |= page.contains(r#"id="reconcile-progress""#);
        if page.contains(r#"<td id="run-status">completed"#) {
            finished = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(saw_bar, "a progress bar was shown while MoMo was asked");
    assert!(
        finished,
        "the page shows the completed run: {}",
        c.source().await.unwrap()
    );
    assert_eq!(text(c, "#run-discrepancies").await, "1");
    assert_eq!(
        text(c, "#kind-table tr[data-kind=paid_here_unknown_to_momo] td.count").await,
        "1"
    );
    submit(c, "#items a").await;
    assert!(text(c, "main h1").await.contains("Paid here, unknown to MoMo"));
    assert!(text(c, "#three-way").await.contains("250788000001"));
    fill(
        c,
        "#resolve-form textarea[name=note]",
        "Paid again by hand, MTN ticket 88",
    )
    .await;
    submit(c, "#resolve-form button[type=submit]").await;
    assert!(text(c, "#resolved").await.contains("Paid again by hand, MTN ticket 88"));
    stop.cancel();
    let _ = running.await;
}
