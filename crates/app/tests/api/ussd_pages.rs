//! The staff's USSD monitor over HTTP: who may open it, its filters, the JSON feeds its script
//! polls (only rows written since a cursor, even when they commit out of order; 422 naming a bad
//! field) and the session transcript page.

use chrono::Duration;
use serde_json::Value;

use crate::helpers::{error_fields, now, spawn_app, TestApp, TestDb};

const ALICE: &str = "+250781111111";
const BOB: &str = "+250792222222";
const AIRTEL: &str = "+250731234567";

async fn ready(db: &TestDb) -> (TestApp, String) {
    let app = spawn_app(db.pool.clone()).await;
    app.open_ussd().await;
    let key = app.api_key("Super Administrator").await;
    (app, key)
}

/// Alice dials (menu), Bob dials and exits, a phone off MTN is turned away.
async fn traffic(app: &TestApp) {
    app.hop("s-alice", ALICE, "").await;
    app.hop("s-bob", BOB, "").await;
    let bye = app.hop("s-bob", BOB, "0").await;
    assert!(bye.starts_with("END "), "{bye}");
    app.hop("s-airtel", AIRTEL, "").await;
}

async fn page(app: &TestApp, key: &str, path: &str) -> (u16, String) {
    let res = app.get_as(key, path).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn feed(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    let res = app.get_as(key, path).await;
    (res.status().as_u16(), res.json().await.unwrap())
}

/// The `<tbody>` of the table with this id.
fn table<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!(r#"<table class="list" id="{id}""#)).unwrap();
    let rest = &html[start..];
    &rest[..rest.find("</table>").unwrap()]
}

fn local(t: chrono::DateTime<chrono::Utc>) -> String {
    mbelyco::clock::local_input(t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_needs_redemptions_monitor_and_the_session_page_redemptions_read() {
    let db = TestDb::new().await;
    let (app, admin) = ready(&db).await;
    traffic(&app).await;
    let viewer = app.api_key("Viewer").await;
    let manager = app.api_key("Batch Manager").await;
    for path in ["/admin/ussd", "/api/v1/ussd/interactions", "/api/v1/ussd/redemptions"] {
        assert_eq!(app.get_as(&viewer, path).await.status(), 403, "Viewer {path}");
        assert_eq!(app.get_as(&manager, path).await.status(), 200, "Batch Manager {path}");
        assert_eq!(
            app.get_as(&admin, path).await.status(),
            200,
            "Super Administrator {path}"
        );
    }
    // anonymous visitors are sent to sign in
    let res = app.client.get(app.url("/admin/ussd")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    // a Viewer may read a session (redemptions.read) but gets no link back to the monitor
    let (status, html) = page(&app, &viewer, "/admin/ussd/sessions/s-bob").await;
    assert_eq!(status, 200);
    assert!(html.contains(BOB));
    assert!(
        !html.contains(r#"href="/admin/ussd""#),
        "no monitor link or nav entry for a Viewer"
    );
    let (_, html) = page(&app, &manager, "/admin/ussd").await;
    assert!(
        html.contains(r#"<a href="/admin/ussd" aria-current="page">USSD</a>"#),
        "nav entry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_lists_hops_newest_first_and_its_filters_narrow_them() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    traffic(&app).await;

    let (status, html) = page(&app, &key, "/admin/ussd").await;
    assert_eq!(status, 200);
    let rows = table(&html, "interactions");
    assert_eq!(rows.matches("<tr data-id=").count(), 4);
    // newest first: the Airtel phone's refusal above Alice's first dial
    let (airtel, alice) = (rows.find(AIRTEL).unwrap(), rows.find(ALICE).unwrap());
    assert!(airtel < alice);
    assert!(rows.contains(r#"<span class="badge badge-not_mtn">not_mtn</span>"#));
    assert!(rows.contains(r#"href="/admin/ussd/sessions/s-bob""#));
    assert!(html.contains(r#"id="count-hops">4<"#), "last hour's hops counted");
    assert!(
        html.contains(r#"id="count-refusals">1<"#),
        "the Airtel phone is a refusal"
    );
    assert!(html.contains(r#"id="outcomes-chart""#));

    // part of a phone number: national digits (07…) or international (+250…)
    let (_, html) = page(&app, &key, "/admin/ussd?phone=0792222").await;
    let rows = table(&html, "interactions");
    assert_eq!(rows.matches("<tr data-id=").count(), 2, "Bob's two hops");
    assert!(!rows.contains(ALICE));
    let (_, html) = page(&app, &key, "/admin/ussd?phone=%2B250781").await;
    let rows = table(&html, "interactions");
    assert_eq!(rows.matches("<tr data-id=").count(), 1);
    assert!(rows.contains(ALICE));
    assert!(
        html.contains(r#"name="phone" value="+250781""#),
        "the form keeps the filter"
    );

    let (_, html) = page(&app, &key, "/admin/ussd?outcome=exit").await;
    let rows = table(&html, "interactions");
    assert_eq!(rows.matches("<tr data-id=").count(), 1);
    assert!(rows.contains(BOB));
    assert!(html.contains(r#"<option value="exit" selected>"#));

    // time, in Kigali local time as the datetime inputs send it
    let later = local(now() + Duration::hours(1));
    let (_, html) = page(&app, &key, &format!("/admin/ussd?from={later}")).await;
    assert!(table(&html, "interactions").contains("No interactions match."));
    let earlier = local(now() - Duration::hours(1));
    let (_, html) = page(&app, &key, &format!("/admin/ussd?from={earlier}&to={later}")).await;
    assert_eq!(table(&html, "interactions").matches("<tr data-id=").count(), 4);
    assert!(html.contains(&format!(r#"name="from" value="{earlier}""#)));

    // a bad filter is explained, and nothing is listed or polled
    let (status, html) = page(&app, &key, "/admin/ussd?from=yesterday&outcome=won").await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"role="alert""#));
    assert!(html.contains("from: must be a date and time"), "{html}");
    assert!(html.contains("outcome: is not an outcome"));
    assert!(!html.contains("data-live="));
}

/// The ids of an interaction feed's rows, in the order given.
fn interaction_ids(body: &Value) -> Vec<i64> {
    held(body).iter().map(|id| id.as_i64().unwrap()).collect()
}

/// The rows of a feed's answer whose ids are not in `held`: what the page adds (an answer may
/// repeat rows the caller holds).
fn unheld<'a>(body: &'a Value, held: &[Value]) -> Vec<&'a Value> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !held.contains(&r["id"]))
        .collect()
}

/// The ids of a feed's rows, as the page keeps them.
fn held(body: &Value) -> Vec<Value> {
    unheld(body, &[]).into_iter().map(|r| r["id"].clone()).collect()
}

fn cursor(body: &Value) -> String {
    body["cursor"].as_str().expect("a cursor").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_interactions_feed_returns_only_rows_written_since_the_cursor() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    traffic(&app).await;

    let (status, body) = feed(&app, &key, "/api/v1/ussd/interactions").await;
    assert_eq!(status, 200);
    let rows = body["data"].as_array().unwrap();
    let ids = interaction_ids(&body);
    assert_eq!(ids.len(), 4);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert_eq!(rows[0]["phoneNumber"], AIRTEL);
    assert_eq!(rows[0]["outcome"], "not_mtn");

    let since = cursor(&body);
    let first = held(&body);
    let (_, body) = feed(&app, &key, &format!("/api/v1/ussd/interactions?since={since}")).await;
    // an answer may repeat rows the page holds (it skips them by id), never bring a new one
    assert!(unheld(&body, &first).is_empty(), "nothing new yet: {body}");
    // a new hop shows up after the cursor, filters still apply
    app.hop("s-bob", BOB, "").await;
    app.hop("s-alice", ALICE, "4").await;
    let path = format!("/api/v1/ussd/interactions?since={since}&phone=250781&outcome=menu");
    let (_, body) = feed(&app, &key, &path).await;
    let new = unheld(&body, &first);
    assert_eq!(new.len(), 1, "{body}");
    assert_eq!(
        (new[0]["sessionId"].as_str(), new[0]["input"].as_str()),
        (Some("s-alice"), Some("4"))
    );

    for (query, field) in [
        ("since=x", "since"),
        ("since=-1", "since"),
        ("from=2026-13-40T00:00", "from"),
        ("to=soon", "to"),
        ("outcome=won", "outcome"),
        ("phone=07%25", "phone"),
    ] {
        let (status, body) = feed(&app, &key, &format!("/api/v1/ussd/interactions?{query}")).await;
        assert_eq!(status, 422, "{query}");
        assert_eq!(error_fields(&body), [field], "{query}");
    }
}

/// A hop takes its log row's id when it writes it, and commits a moment later: two hops can
/// commit in the other order. A poll that came between them must not lose the one that took the
/// lower id and committed last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hop_that_commits_after_a_newer_one_still_reaches_the_live_feed() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    traffic(&app).await;
    let (_, body) = feed(&app, &key, "/api/v1/ussd/interactions").await;
    let shown = held(&body);
    let mut since = cursor(&body);

    // a slow hop: its log row is written (taking the next id), its commit is still to come
    let (slow, slow_id) = app.hop_not_yet_committed("s-slow", "+250783333333").await;
    // a quick hop takes a higher id and commits first; the page sees it
    app.hop("s-quick", BOB, "").await;
    let (_, body) = feed(&app, &key, &format!("/api/v1/ussd/interactions?since={since}")).await;
    let seen: Vec<i64> = unheld(&body, &shown)
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert!(
        seen.len() == 1 && seen[0] > slow_id,
        "only the quick hop is new: {seen:?}"
    );
    since = cursor(&body);

    slow.commit().await.unwrap();
    let (_, body) = feed(&app, &key, &format!("/api/v1/ussd/interactions?since={since}")).await;
    let late = interaction_ids(&body);
    assert!(
        late.contains(&slow_id),
        "the hop that committed last is listed on the next poll: {late:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redemptions_are_listed_masked_with_their_payout_and_the_session_shows_every_hop() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    let batch = app.generated_batch(&key, "Monitor", 2, "w-monitor").await;
    let code = app.batch_codes(&batch).await.remove(0);
    let typed = code.replace('-', "").to_lowercase();
    app.hop("s-win", ALICE, "").await;
    app.hop("s-win", ALICE, "1").await;
    let won = app.hop("s-win", ALICE, &format!("1*{typed}")).await;
    assert!(won.starts_with("END "), "{won}");
    let masked = format!("{}-…-{}", &code[..4], &code[code.len() - 4..]);

    let (status, body) = feed(&app, &key, "/api/v1/ussd/redemptions").await;
    assert_eq!(status, 200);
    let rows = body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r["code"], masked.as_str());
    assert_eq!(r["phoneNumber"], ALICE);
    assert_eq!(
        (r["amount"].as_i64(), r["status"].as_str()),
        (Some(1000), Some("pending"))
    );
    assert_eq!(r["disbursementStatus"], "queued");
    assert!(
        !body.to_string().contains(&code),
        "the full code never leaves the server"
    );
    let won = [r["id"].clone()];
    let since = cursor(&body);
    let (_, body) = feed(&app, &key, &format!("/api/v1/ussd/redemptions?since={since}")).await;
    let new_since = |body: &Value| -> Vec<String> {
        unheld(body, &won)
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(new_since(&body), Vec::<String>::new());
    for query in ["since=x", &format!("since={}", uuid::Uuid::new_v4())] {
        let (status, body) = feed(&app, &key, &format!("/api/v1/ussd/redemptions?{query}")).await;
        assert_eq!(status, 422, "{query}");
        assert_eq!(error_fields(&body), ["since"]);
    }

    // a redemption whose transaction began earlier and commits after a later one's poll
    let second = app.batch_codes(&batch).await.remove(1);
    let mut slow = app.pool.begin().await.unwrap();
    let slow_id: uuid::Uuid = sqlx::query_scalar(
        "with c as (update promo_codes set status = 'used', used_at = now() where code = $1 \
                    returning id, batch_id, amount) \
         insert into redemptions (user_id, customer_id, promo_code_id, batch_id, phone_number, amount, \
                                  idempotency_key, created_at) \
         select k.user_id, k.id, c.id, c.batch_id, k.msisdn, c.amount, 'slow', now() - interval '1 second' \
         from c, customers k where k.msisdn = $2 returning id",
    )
    .bind(&second)
    .bind(ALICE)
    .fetch_one(&mut *slow)
    .await
    .unwrap();
    let (_, body) = feed(&app, &key, &format!("/api/v1/ussd/redemptions?since={since}")).await;
    assert_eq!(new_since(&body), Vec::<String>::new(), "not committed yet");
    let next = cursor(&body);
    slow.commit().await.unwrap();
    let (_, body) = feed(&app, &key, &format!("/api/v1/ussd/redemptions?since={next}")).await;
    assert_eq!(new_since(&body), [slow_id.to_string()], "{body}");
    let (_, body) = feed(&app, &key, "/api/v1/ussd/redemptions?phone=250792").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 0, "Bob redeemed nothing");

    let (_, html) = page(&app, &key, "/admin/ussd").await;
    let panel = table(&html, "redemptions");
    assert!(panel.contains(&format!("<code>{masked}</code>")));
    assert!(panel.contains("1,000 RWF") && panel.contains("pending") && panel.contains("queued"));
    assert!(html.contains(r#"id="count-redemptions">2<"#));

    // the session page: the session and every hop as the phone showed it, and the redemption
    let (status, html) = page(&app, &key, "/admin/ussd/sessions/s-win").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"id="session-phone">+250781111111<"#));
    assert!(html.contains(r#"id="session-hops">3<"#));
    assert_eq!(html.matches(r#"<li class="hop">"#).count(), 3);
    assert!(html.contains("dialled *789#"));
    assert!(html.contains("Murakaza neza kuri MBELYCO Promo"), "the first screen");
    // what the customer typed, masked like every code outside the code views (issue 17, item 3)
    assert!(
        html.contains(&format!("<code>{masked}</code>")),
        "what the customer typed"
    );
    assert!(!html.contains(&typed) && !html.contains(&code));
    assert!(html.contains("Session ended"));
    let code_id: uuid::Uuid = sqlx::query_scalar("select id from promo_codes where code = $1")
        .bind(&code)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        html.contains(&format!(r#"href="/admin/codes/{code_id}""#)),
        "links the redemption"
    );
    assert!(html.contains(&masked));

    let (status, html) = page(&app, &key, "/admin/ussd/sessions/no-such-session").await;
    assert_eq!(status, 404);
    assert!(html.contains("USSD session"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_interaction_log_pages_back_with_next_links_each_hop_once() {
    let db = TestDb::new().await;
    let (app, key) = ready(&db).await;
    traffic(&app).await;
    let (_, all) = feed(&app, &key, "/api/v1/ussd/interactions").await;
    let everything = interaction_ids(&all);
    assert_eq!(everything.len(), 4);
    assert!(all["next"].is_null(), "one page holds them: {all}");

    let mut seen = Vec::new();
    let mut path = "/api/v1/ussd/interactions?limit=3".to_owned();
    let mut pages = 0;
    loop {
        let (status, body) = feed(&app, &key, &path).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["data"].as_array().unwrap().len() <= 3);
        assert!(body["cursor"].is_string(), "the live cursor on every page: {body}");
        seen.extend(interaction_ids(&body));
        pages += 1;
        match body["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(seen, everything, "every hop once, newest first");

    // redemptions page the same way; a cursor that is not ours names the field
    for path in [
        "/api/v1/ussd/interactions?cursor=nope",
        "/api/v1/ussd/redemptions?cursor=nope",
        "/api/v1/ussd/redemptions?limit=201",
    ] {
        let (status, body) = feed(&app, &key, path).await;
        assert_eq!(status, 422, "{path}: {body}");
        let field = if path.contains("limit") { "limit" } else { "cursor" };
        assert_eq!(error_fields(&body), [field], "{path}");
    }
}
