//! Alerts that reach people (issue #22, item 3; decision 0050): the outbox written when an alert
//! is raised, sent by the `alerts.deliver` job to a real SMTP server and to the Africa's Talking
//! simulator's SMS inbox, retried against a refusing server with each attempt on the alert's
//! timeline, deduplicated with the alert, routed by the notification settings, and escalated to
//! the Super Administrators by the clock with follow-ups while it stays unresolved.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mbelyco::access::Permission;
use mbelyco::alerts::{self, NewAlert, Severity};
use mbelyco::bench::smtp_sink::{Mode, SmtpSink};
use mbelyco::clock::{Clock, ManualClock};
use mbelyco::jobs::{self, NewJob};
use mbelyco::settings::Category;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{error_fields, now, spawn_app, spawn_app_with_clock, TestApp, TestDb, ADMIN_EMAIL};
use crate::sms::{at_simulator, configure_sms, worker, KEY};

const OPS: &str = "ops@mbelyco.test";
const MONEY: &str = "money@mbelyco.test";
const ON_CALL: &str = "+250788000111";
const ROOT_PHONE: &str = "+250788999000";

fn low_balance() -> NewAlert {
    NewAlert::new(
        "momo.low_balance",
        Severity::Critical,
        Permission::FinancialAlertsView,
        "The MoMo balance is low",
    )
    .body("12,000 RWF left, below the 500,000 RWF threshold.")
    .dedupe("momo.low_balance")
}

fn alert(kind: &'static str, severity: Severity, dedupe: &str) -> NewAlert {
    NewAlert::new(kind, severity, Permission::SystemAlertsView, format!("{kind} happened")).dedupe(dedupe)
}

async fn raise(app: &TestApp, alert: &NewAlert, at: DateTime<Utc>) -> Uuid {
    let mut tx = app.pool.begin().await.unwrap();
    alerts::raise(&mut tx, alert, at).await.unwrap();
    tx.commit().await.unwrap();
    sqlx::query_scalar("select id from alerts where dedupe_key = $1 and status <> 'resolved'")
        .bind(alert.dedupe_key.as_deref())
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// E-mail on through `sink`, the general recipients and the low-balance list set.
async fn route_to(app: &TestApp, sink: &SmtpSink) {
    app.set_settings(
        Category::Notifications,
        json!({
            "emailEnabled": true, "smtpHost": "127.0.0.1", "smtpPort": sink.port, "smtpSecurity": "none",
            "fromEmail": "promo@mbelyco.test",
            "alertRecipients": {"emails": [OPS], "phones": [ON_CALL]},
            "lowBalanceAlert": {"recipients": [MONEY, "OPS@mbelyco.test"]},
        }),
    )
    .await;
}

/// `(channel, recipient, reason, status, attempts)` of the alert's deliveries.
async fn deliveries(app: &TestApp, alert: Uuid) -> Vec<(String, String, String, String, i32)> {
    sqlx::query_as(
        "select channel, recipient, reason, status, attempts from alert_deliveries where alert_id = $1 \
         order by reason, channel, recipient, round",
    )
    .bind(alert)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

/// The alert's timeline as the detail API shows it.
async fn timeline(app: &TestApp, key: &str, alert: Uuid) -> Vec<Value> {
    let res = app.get_as(key, &format!("/api/v1/admin/alerts/{alert}")).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["data"]["timeline"].as_array().unwrap().clone()
}

fn delivery_events(timeline: &[Value]) -> Vec<(String, String, String)> {
    timeline
        .iter()
        .filter(|e| e["kind"] == "delivery")
        .map(|e| {
            (
                e["channel"].as_str().unwrap().to_owned(),
                e["recipient"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The message as a reader sees it: folded headers and quoted-printable soft breaks joined.
fn plain(data: &str) -> String {
    data.replace("=\n", "").replace("\n ", " ").replace("=3D", "=")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_alert_reaches_its_recipients_by_email_and_sms_in_the_templates_words() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let sink = SmtpSink::start(Mode::Accept).await.unwrap();
    let (sim, base) = at_simulator().await;
    configure_sms(&app, &base, KEY).await;
    route_to(&app, &sink).await;

    let id = raise(&app, &low_balance(), now()).await;
    assert_eq!(
        deliveries(&app, id).await,
        vec![
            ("email".into(), MONEY.into(), "raised".into(), "queued".into(), 0),
            ("email".into(), OPS.into(), "raised".into(), "queued".into(), 0),
            ("sms".into(), ON_CALL.into(), "raised".into(), "queued".into(), 0),
        ],
        "the general list, the low-balance list (each address once) and the on-call phone"
    );
    let clock = Arc::new(ManualClock::new(now()));
    worker(&app, clock).drain().await.unwrap();

    let mails = sink.received();
    assert_eq!(mails.len(), 2, "{mails:?}");
    let link = app.url(&format!("/admin/alerts/{id}"));
    for m in &mails {
        let text = plain(&m.data);
        assert!(text.contains("Subject: [critical] The MoMo balance is low"), "{text}");
        assert!(
            text.contains("12,000 RWF left, below the 500,000 RWF threshold."),
            "{text}"
        );
        assert!(text.contains(&format!("Open it: {link}")), "{text}");
    }
    let mut to: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, vec![MONEY.to_owned(), OPS.to_owned()]);
    let sms = sim.sms().messages(Some(ON_CALL), 0);
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert_eq!(
        sms[0].message,
        format!("MBELYCO critical: The MoMo balance is low {link}")
    );
    assert_eq!(sms[0].from.as_deref(), Some("MBELYCO"));

    assert!(deliveries(&app, id).await.iter().all(|d| d.3 == "sent" && d.4 == 1));
    let events = delivery_events(&timeline(&app, &key, id).await);
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events.iter().all(|(_, _, outcome)| outcome == "sent"), "{events:?}");
    let sms_event = events.iter().find(|(c, ..)| c == "sms").unwrap();
    assert_eq!(sms_event.1, "+250788***111", "the number is masked on the timeline");
    assert!(events.iter().any(|(c, r, _)| c == "email" && r == OPS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_smtp_server_is_retried_with_backoff_then_failed_each_attempt_on_the_timeline() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let sink = SmtpSink::start(Mode::Refuse).await.unwrap();
    app.set_settings(
        Category::Notifications,
        json!({
            "emailEnabled": true, "smtpHost": "127.0.0.1", "smtpPort": sink.port, "smtpSecurity": "none",
            "fromEmail": "promo@mbelyco.test", "alertRecipients": {"emails": [OPS]},
        }),
    )
    .await;
    let start = now();
    let id = raise(
        &app,
        &alert("payout.failed", Severity::Warning, "payout.failed:1"),
        start,
    )
    .await;
    let clock = Arc::new(ManualClock::new(start));
    let w = worker(&app, clock.clone());

    w.drain().await.unwrap();
    assert_eq!(deliveries(&app, id).await[0].3, "queued");
    assert_eq!(deliveries(&app, id).await[0].4, 1);
    // not before the backoff has passed
    clock.advance(Duration::seconds(29));
    w.drain().await.unwrap();
    assert_eq!(deliveries(&app, id).await[0].4, 1, "waits 30 s");
    for wait in [1, 120, 480] {
        clock.advance(Duration::seconds(wait));
        w.drain().await.unwrap();
    }
    let rows = deliveries(&app, id).await;
    assert_eq!(rows[0].3, "failed", "{rows:?}");
    assert_eq!(rows[0].4, mbelyco::alerts::delivery::MAX_ATTEMPTS);
    assert_eq!(sink.refused(), 4, "each attempt reached the server");
    assert!(sink.received().is_empty());

    let tl = timeline(&app, &key, id).await;
    let outcomes: Vec<String> = delivery_events(&tl).into_iter().map(|(.., o)| o).collect();
    assert_eq!(outcomes, vec!["retrying", "retrying", "retrying", "failed"]);
    let last = tl.iter().rev().find(|e| e["kind"] == "delivery").unwrap();
    assert_eq!(last["detail"]["attempt"], 4);
    assert!(
        last["detail"]["error"]
            .as_str()
            .unwrap()
            .contains("no mail accepted here"),
        "{last}"
    );
    let first = tl.iter().find(|e| e["kind"] == "delivery").unwrap();
    assert!(first["detail"]["nextAttemptAt"].is_string(), "{first}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_the_same_alert_a_hundred_times_makes_one_delivery_per_recipient() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let sink = SmtpSink::start(Mode::Accept).await.unwrap();
    route_to(&app, &sink).await;
    let (_sim, base) = at_simulator().await;
    configure_sms(&app, &base, KEY).await;
    let at = now();
    for _ in 0..100 {
        raise(&app, &low_balance(), at).await;
    }
    let (alerts, occurrences): (i64, i32) =
        sqlx::query_as("select count(*), max(occurrences) from alerts where kind = 'momo.low_balance'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((alerts, occurrences), (1, 100));
    let n: i64 = sqlx::query_scalar("select count(*) from alert_deliveries")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 3, "two addresses and one phone, once each");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_that_is_off_or_not_routed_writes_nothing_and_bad_recipients_are_refused() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let sink = SmtpSink::start(Mode::Accept).await.unwrap();
    route_to(&app, &sink).await;
    let (_sim, base) = at_simulator().await;
    configure_sms(&app, &base, KEY).await;

    // info goes nowhere by default; a warning by e-mail only
    let info = raise(&app, &alert("system.note", Severity::Info, "info"), now()).await;
    assert!(deliveries(&app, info).await.is_empty());
    let warning = raise(&app, &alert("payout.failed", Severity::Warning, "warn"), now()).await;
    let channels: Vec<String> = deliveries(&app, warning).await.into_iter().map(|d| d.0).collect();
    assert_eq!(channels, vec!["email"]);

    // SMS off: a critical alert is e-mailed only; e-mail off too: nothing at all
    app.set_settings(Category::Notifications, json!({"smsEnabled": false}))
        .await;
    let a = raise(&app, &alert("system.a", Severity::Critical, "a"), now()).await;
    assert!(deliveries(&app, a).await.iter().all(|d| d.0 == "email"));
    assert_eq!(deliveries(&app, a).await.len(), 1);
    app.set_settings(Category::Notifications, json!({"emailEnabled": false}))
        .await;
    let b = raise(&app, &alert("system.b", Severity::Critical, "b"), now()).await;
    assert!(deliveries(&app, b).await.is_empty());
    // routed to no channel
    app.set_settings(
        Category::Notifications,
        json!({"emailEnabled": true, "smsEnabled": true, "alertRouting": {"critical": []}}),
    )
    .await;
    let c = raise(&app, &alert("system.c", Severity::Critical, "c"), now()).await;
    assert!(deliveries(&app, c).await.is_empty());

    let res = app
        .put_json(
            &key,
            "/api/v1/admin/settings/notifications",
            &json!({"settings": {"alertRecipients": {"phones": ["0788123456"], "emails": ["nobody"]},
                                 "alertRouting": {"warning": ["pigeon"]}, "alertEscalation": {"minutes": 0}}}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    let mut fields = error_fields(&body);
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "notifications.alertEscalation.minutes",
            "notifications.alertRecipients.emails[0]",
            "notifications.alertRecipients.phones[0]",
            "notifications.alertRouting.warning[0]",
        ]
    );
}

/// Runs the `alerts.escalate` job at the clock's time, as the minute schedule would.
async fn escalate(app: &TestApp, clock: &Arc<ManualClock>) {
    let mut conn = app.pool.acquire().await.unwrap();
    let job = NewJob::new(mbelyco::alerts::delivery::escalate::KIND, &json!({})).unwrap();
    jobs::enqueue(&mut conn, &job, clock.now()).await.unwrap();
    drop(conn);
    worker(app, clock.clone()).drain().await.unwrap();
}

async fn count(app: &TestApp, sql: &str, alert: Uuid) -> i64 {
    sqlx::query_scalar(sql).bind(alert).fetch_one(&app.pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_critical_alert_is_escalated_to_the_super_administrators_and_followed_up() {
    let db = TestDb::new().await;
    let start = now();
    let clock = Arc::new(ManualClock::new(start));
    let app = spawn_app_with_clock(db.pool.clone(), clock.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let sink = SmtpSink::start(Mode::Accept).await.unwrap();
    let (sim, base) = at_simulator().await;
    configure_sms(&app, &base, KEY).await;
    app.set_settings(
        Category::Notifications,
        json!({"emailEnabled": true, "smtpHost": "127.0.0.1", "smtpPort": sink.port, "smtpSecurity": "none",
               "fromEmail": "promo@mbelyco.test"}),
    )
    .await;
    // the Super Administrator gives their number on My account (a local number, kept as E.164);
    // a number that is not a Rwandan mobile is refused beside the field and changes nothing
    let browser = app.browser();
    let res = crate::helpers::password_step(&browser, &app, ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 303);
    crate::helpers::finish_enrolment(&browser, &app).await;
    let csrf = crate::helpers::csrf_from(&browser, &app, "/account").await;
    let res = browser
        .post(app.url("/account/alert-phone"))
        .form(&[("_csrf", csrf.as_str()), ("alert_phone", "+33612345678")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(
        page.contains(r#"id="alert-phone-error""#) && page.contains("must be a Rwandan mobile number"),
        "{page}"
    );
    assert!(page.contains(r#"value="+33612345678""#), "what was typed stays: {page}");
    let res = browser
        .post(app.url("/account/alert-phone"))
        .form(&[("_csrf", csrf.as_str()), ("alert_phone", "0788 999 000")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let page = app.page_html(&browser, "/account").await;
    assert!(page.contains(&format!(r#"value="{ROOT_PHONE}""#)), "{page}");
    let changed: i64 = sqlx::query_scalar(
        "select count(*) from audit_logs where action = 'user.alert_phone_changed' and after->>'alertPhone' = $1",
    )
    .bind(ROOT_PHONE)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(changed, 1, "audited once");
    let ignored = raise(&app, &low_balance(), start).await;
    let handled = raise(
        &app,
        &alert("system.queue_stalled", Severity::Critical, "stalled"),
        start,
    )
    .await;
    let warning = raise(&app, &alert("payout.failed", Severity::Warning, "w"), start).await;
    // acknowledged in time
    clock.advance(Duration::minutes(5));
    let res = app
        .post_as(&key, &format!("/api/v1/admin/alerts/{handled}/acknowledge"))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    clock.set(start + Duration::minutes(14));
    escalate(&app, &clock).await;
    assert!(deliveries(&app, ignored).await.is_empty(), "not yet");

    clock.set(start + Duration::minutes(15));
    escalate(&app, &clock).await;
    let rows = deliveries(&app, ignored).await;
    assert_eq!(
        rows,
        vec![
            ("email".into(), ADMIN_EMAIL.into(), "escalated".into(), "sent".into(), 1),
            ("sms".into(), ROOT_PHONE.into(), "escalated".into(), "sent".into(), 1),
        ],
        "the escalation job's commit woke the sender, which the drain ran"
    );
    assert!(
        deliveries(&app, handled).await.is_empty(),
        "acknowledged in time: not escalated"
    );
    assert!(
        deliveries(&app, warning).await.is_empty(),
        "only critical alerts escalate"
    );
    let (level, status): (i32, String) = sqlx::query_as("select escalation_level, status from alerts where id = $1")
        .bind(ignored)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((level, status.as_str()), (1, "open"));
    let tl = timeline(&app, &key, ignored).await;
    let escalated: Vec<&Value> = tl.iter().filter(|e| e["kind"] == "escalated").collect();
    assert_eq!(escalated.len(), 1);
    assert!(escalated[0]["actor"].is_null(), "the system escalated it");
    assert!(escalated[0]["note"].as_str().unwrap().contains("15 minutes"));
    assert_eq!(
        count(
            &app,
            "select count(*) from audit_logs where action = 'alert.escalated' and entity_id = $1::uuid::text",
            ignored
        )
        .await,
        1
    );
    let mail = sink.received();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, vec![ADMIN_EMAIL.to_owned()]);
    assert!(
        plain(&mail[0].data).contains("Subject: [critical] Not acknowledged after 15 minutes: The MoMo balance is low"),
        "{}",
        mail[0].data
    );
    let sms = sim.sms().messages(Some(ROOT_PHONE), 0);
    assert_eq!(sms.len(), 1);
    assert!(sms[0]
        .message
        .starts_with("MBELYCO critical: Not acknowledged after 15 minutes"));

    // two workers at once, and again later in the same period: escalated once
    let (a, b) = tokio::join!(
        mbelyco::alerts::delivery::escalate::run(&app.pool, 15, 60, clock.now()),
        mbelyco::alerts::delivery::escalate::run(&app.pool, 15, 60, clock.now()),
    );
    assert_eq!(a.unwrap().escalated + b.unwrap().escalated, 0);
    clock.set(start + Duration::minutes(15 + 59));
    escalate(&app, &clock).await;
    assert_eq!(deliveries(&app, ignored).await.len(), 2, "no follow-up before the hour");

    // follow-ups every hour while unresolved, acknowledged or not; none once resolved
    clock.set(start + Duration::minutes(15 + 60));
    let (a, b) = tokio::join!(
        mbelyco::alerts::delivery::escalate::run(&app.pool, 15, 60, clock.now()),
        mbelyco::alerts::delivery::escalate::run(&app.pool, 15, 60, clock.now()),
    );
    assert_eq!(
        a.unwrap().follow_ups + b.unwrap().follow_ups,
        1,
        "one follow-up under two workers"
    );
    let sql = "select count(*) from alert_deliveries where alert_id = $1 and reason = 'follow_up'";
    assert_eq!(count(&app, sql, ignored).await, 2);
    let res = app
        .post_as(&key, &format!("/api/v1/admin/alerts/{ignored}/acknowledge"))
        .await;
    assert_eq!(res.status(), 200);
    clock.set(start + Duration::minutes(15 + 120));
    escalate(&app, &clock).await;
    assert_eq!(
        count(&app, sql, ignored).await,
        4,
        "acknowledged but unresolved: reminded again"
    );
    assert_eq!(
        sink.received()
            .iter()
            .filter(|m| plain(&m.data).contains("Still unresolved: The MoMo balance is low"))
            .count(),
        2
    );
    let res = app
        .post_json(
            &key,
            &format!("/api/v1/admin/alerts/{ignored}/resolve"),
            &json!({"note": "topped up"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    clock.set(start + Duration::minutes(15 + 240));
    escalate(&app, &clock).await;
    assert_eq!(count(&app, sql, ignored).await, 4, "resolved: no more");
    assert_eq!(
        count(
            &app,
            "select count(*) from alert_deliveries where alert_id = $1",
            handled
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_configure_opens_the_notification_settings_and_no_other_category() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    sqlx::query(
        "with r as (insert into roles (name, created_at, updated_at) values ('Alert Configurer', now(), now()) returning id) \
         insert into role_permissions (role_id, permission_id, created_at) \
         select r.id, p.id, now() from r, permissions p where p.key in ('alerts.read', 'alerts.configure')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let key = app.api_key("Alert Configurer").await;
    let res = app.get_as(&key, "/api/v1/admin/settings/notifications").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["settings"]["alertRouting"]["critical"], json!(["email", "sms"]));
    assert_eq!(body["settings"]["alertEscalation"]["minutes"], 15);
    let res = app
        .put_json(
            &key,
            "/api/v1/admin/settings/notifications",
            &json!({"settings": {"alertRouting": {"warning": ["email", "sms"]}, "alertRecipients": {"phones": [ON_CALL]}}}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let routing = &app.state.settings.get().0.notifications.alert_routing;
    assert_eq!(routing.warning, vec!["email", "sms"]);
    assert_eq!(routing.critical, vec!["email", "sms"], "the rest of the group is kept");
    for path in ["/api/v1/admin/settings/payments", "/api/v1/admin/settings/security"] {
        assert_eq!(app.get_as(&key, path).await.status(), 403, "{path}");
    }
    let res = app
        .put_json(
            &key,
            "/api/v1/admin/settings/security",
            &json!({"settings": {"sessionTimeoutMinutes": 30}}),
        )
        .await;
    assert_eq!(res.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_rules_alert_also_goes_to_the_rules_own_recipients_on_its_own_channels() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let sink = SmtpSink::start(Mode::Accept).await.unwrap();
    route_to(&app, &sink).await;
    // SMS is on: the rule still sends none, SMS not being one of its channels
    let (_sim, base) = at_simulator().await;
    configure_sms(&app, &base, KEY).await;
    let rule: Uuid = sqlx::query_scalar(
        "insert into alert_rules (name, metric, comparison, threshold, window_minutes, severity, channels, recipients, \
                                  created_at, updated_at) \
         values ('refusals', 'payout_failure_rate', 'gt', 5, 60, 'info', '{in_app,email}', \
                 '{rule@mbelyco.test,+250788123123}', now(), now()) returning id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let alert = NewAlert::new(
        "custom.rule",
        Severity::Info,
        Permission::FinancialAlertsView,
        "refusals above 5",
    )
    .subject("alert_rule", rule)
    .dedupe(format!("custom:{rule}"));
    let id = raise(&app, &alert, now()).await;
    assert_eq!(
        deliveries(&app, id).await,
        vec![(
            "email".into(),
            "rule@mbelyco.test".into(),
            "raised".into(),
            "queued".into(),
            0
        )],
        "info routes nowhere by default; the rule e-mails its address and sends no SMS (not its channel)"
    );
    worker(&app, Arc::new(ManualClock::new(now()))).drain().await.unwrap();
    let mail = sink.received();
    assert_eq!(mail.len(), 1);
    assert!(
        plain(&mail[0].data).contains("Subject: [info] refusals above 5"),
        "{}",
        mail[0].data
    );
}
