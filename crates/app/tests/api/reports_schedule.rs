//! Scheduled reports against a real SMTP server started by the test: the e-mail arrives with
//! the report attached (the CSV inside is the report), a period is sent once however often the
//! scheduler passes, an SMTP server that refuses leads to a failed run that the job retries
//! until it is sent, and every run is recorded on the API and the page.

use base64::Engine;
use chrono::Duration;
use mbelyco::settings::Category;
use serde_json::{json, Value};

use crate::helpers::{error_fields, now, spawn_app, TestApp, TestDb};
use crate::payout_fixtures::{audits, person_with_key};
use crate::payouts::{instant, ready, redeem, start_momo};
use crate::users::smtp_sink;

const SCHEDULE: &str = "/api/v1/admin/reports/schedule";

/// Tomorrow 07:00 in Kigali: today's daily report is due.
fn tomorrow_morning() -> chrono::DateTime<chrono::Utc> {
    mbelyco::stats::kigali_today(now()).1 + Duration::hours(7)
}

async fn smtp_to(app: &TestApp, port: u16) {
    app.set_settings(
        Category::Notifications,
        json!({"emailEnabled": true, "smtpHost": "127.0.0.1", "smtpPort": port, "smtpSecurity": "none",
               "fromEmail": "reports@mbelyco.test", "fromName": "MBELYCO Reports"}),
    )
    .await;
}

/// An SMTP server that refuses every connection with a 554 greeting.
async fn refusing_smtp() -> u16 {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let _ = sock.write_all(b"554 5.3.2 no service here\r\n").await;
        }
    });
    port
}

/// A saved custom report of redemptions by network; its id.
async fn saved_report(app: &TestApp, key: &str) -> String {
    let res = app
        .post_json(
            key,
            "/api/v1/admin/reports/custom",
            &json!({"dataset": "redemptions", "dimensions": ["network"], "save": true, "name": "Redemptions by network"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    body["saved"]["id"].as_str().unwrap().to_owned()
}

async fn schedule(app: &TestApp, key: &str, body: Value) -> Value {
    let res = app.post_json(key, SCHEDULE, &body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

async fn runs(app: &TestApp, key: &str) -> Vec<Value> {
    let body: Value = app.get_as(key, &format!("{SCHEDULE}/runs")).await.json().await.unwrap();
    body["data"].as_array().unwrap().clone()
}

/// One scheduler pass at `at`, then every due job.
async fn pass(app: &TestApp, at: chrono::DateTime<chrono::Utc>) -> usize {
    let written = mbelyco::reports::schedule_run::enqueue_due(&app.pool, &app.state.settings, at)
        .await
        .unwrap();
    // the jobs were queued at `at`, in the future: their time has come
    sqlx::query("update jobs set run_at = now() where kind = 'reports.schedule_send' and status = 'queued'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.worker("w-reports").drain().await.unwrap();
    written.len()
}

/// The attachment of a MIME message as the SMTP sink received it: (file name, content).
fn attachment(mail: &str) -> (String, String) {
    let at = mail
        .find("Content-Disposition: attachment")
        .unwrap_or_else(|| panic!("no attachment: {mail}"));
    let start = mail[..at].rfind("\n--").unwrap();
    let part = &mail[start..];
    let end = part[3..].find("\n--").map_or(part.len(), |e| e + 3);
    let part = &part[..end];
    let (head, body) = part.split_once("\n\n").unwrap();
    // `filename="…"`, or RFC 2231 pieces `filename*0="…"; filename*1="…"` for a long name
    let name: String = head
        .split("filename")
        .skip(1)
        .filter_map(|piece| piece.split('"').nth(1))
        .collect();
    let content = if head.contains("Content-Transfer-Encoding: base64") {
        let b64: String = body.split_whitespace().collect();
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap()
    } else {
        body.replace("\r\n", "\n")
    };
    (name, content)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_arrives_attached_and_a_period_is_sent_once() {
    let db = TestDb::new().await;
    let momo = start_momo(instant()).await;
    let (app, key) = ready(&db, &momo, json!({})).await;
    redeem(&app, &key, 3, "sched").await;
    let report = saved_report(&app, &key).await;
    let (port, sink) = smtp_sink().await;
    smtp_to(&app, port).await;
    let created = schedule(
        &app,
        &key,
        json!({"customReportId": report, "frequency": "daily", "recipients": ["finance@mbelyco.test", "ceo@mbelyco.test"], "format": "csv"}),
    )
    .await;
    assert_eq!(created["data"]["reportName"], "Redemptions by network");
    assert_eq!(audits(&app.pool, "report.schedule_created").await, 1);

    let at = tomorrow_morning();
    assert_eq!(pass(&app, at).await, 1);
    let mail = sink.await.unwrap();
    assert!(
        mail.contains("finance@mbelyco.test") && mail.contains("ceo@mbelyco.test"),
        "{mail}"
    );
    assert!(
        mail.contains("Subject: ") && mail.contains("Redemptions by network"),
        "{mail}"
    );
    let today = mbelyco::stats::kigali_date(now());
    let (name, csv) = attachment(&mail);
    assert_eq!(name, format!("redemptions-by-network-{today}-{today}.csv"));
    // the CSV is the report: what it is, then the network's redemptions of the day and the total
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines.contains(&"report,Redemptions by network,"), "{csv}");
    assert!(lines.contains(&format!("range,{today},{today}").as_str()), "{csv}");
    let header = lines
        .iter()
        .position(|l| *l == "Network,Count,")
        .unwrap_or_else(|| panic!("{csv}"));
    assert_eq!(lines[header + 1..header + 3], ["MTN,3,", "Total,3,"], "{csv}");

    let recorded = runs(&app, &key).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["status"], "sent");
    assert_eq!(recorded[0]["attempts"], 1);
    assert_eq!(recorded[0]["periodFrom"], today.to_string());
    assert!(recorded[0]["sentAt"].is_string());

    // later passes in the same period write nothing and send nothing
    assert_eq!(pass(&app, at).await, 0);
    assert_eq!(pass(&app, at + Duration::hours(5)).await, 0);
    assert_eq!(runs(&app, &key).await.len(), 1);
    assert_eq!(audits(&app.pool, "report.scheduled_sent").await, 1);
    let jobs: i64 = sqlx::query_scalar("select count(*) from jobs where kind = 'reports.schedule_send'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_smtp_server_fails_the_run_and_the_retry_sends_it() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let report = saved_report(&app, &key).await;
    smtp_to(&app, refusing_smtp().await).await;
    schedule(
        &app,
        &key,
        json!({"customReportId": report, "frequency": "weekly", "recipients": ["ops@mbelyco.test"], "format": "csv"}),
    )
    .await;

    let at = tomorrow_morning();
    assert_eq!(pass(&app, at).await, 1);
    let recorded = runs(&app, &key).await;
    assert_eq!(recorded[0]["status"], "failed");
    assert_eq!(recorded[0]["attempts"], 1);
    assert!(recorded[0]["error"].as_str().unwrap().contains("SMTP"), "{recorded:?}");
    let job: (String, i32) = sqlx::query_as("select status, attempts from jobs where kind = 'reports.schedule_send'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(job, ("queued".to_owned(), 1), "queued again after its backoff");

    // the server is fixed; the backoff passes
    let (port, sink) = smtp_sink().await;
    smtp_to(&app, port).await;
    assert_eq!(pass(&app, at).await, 0, "no second run for the period");
    let mail = sink.await.unwrap();
    assert!(mail.contains("ops@mbelyco.test"), "{mail}");
    let (_, csv) = attachment(&mail);
    assert!(csv.contains("\nNetwork,Count,\n"), "{csv}");
    let recorded = runs(&app, &key).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["status"], "sent");
    assert_eq!(recorded[0]["attempts"], 2);
    assert_eq!(recorded[0]["error"], Value::Null);

    let client = crate::settings_pages::admin(&app).await;
    let html = app.page_html(&client, "/admin/reports/schedules").await;
    assert!(
        html.contains(r#"<span class="badge badge-run-sent">sent</span></td><td>2</td>"#),
        "{html}"
    );
    assert!(html.contains("Redemptions by network (weekly)"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_are_checked_owned_and_the_settings_schedule_is_built_in() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (_, ann) = person_with_key(&app, "ann@mbelyco.test", "Super Administrator").await;
    let (_, bob) = person_with_key(&app, "bob@mbelyco.test", "Super Administrator").await;
    let (_, viewer) = person_with_key(&app, "vic@mbelyco.test", "Viewer").await;
    let res = app
        .post_json(
            &ann,
            SCHEDULE,
            &json!({"report": "sales", "frequency": "hourly", "recipients": ["a@b.rw", "nobody"]}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_fields(&body), ["report", "frequency", "recipients[1]"]);
    let res = app
        .post_json(
            &viewer,
            SCHEDULE,
            &json!({"report": "batches", "frequency": "daily", "recipients": ["a@b.rw"]}),
        )
        .await;
    assert_eq!(res.status(), 403, "scheduling needs reports.create");
    // another person's unshared report cannot be scheduled
    let report = saved_report(&app, &ann).await;
    let res = app
        .post_json(
            &bob,
            SCHEDULE,
            &json!({"customReportId": report, "frequency": "daily", "recipients": ["a@b.rw"]}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let created = schedule(
        &app,
        &ann,
        json!({"customReportId": report, "frequency": "monthly", "recipients": ["a@b.rw"]}),
    )
    .await;
    assert_eq!(
        created["data"]["format"], "pdf",
        "the settings' report format by default"
    );
    let id = created["data"]["id"].as_str().unwrap();
    let listed: Value = app.get_as(&viewer, SCHEDULE).await.json().await.unwrap();
    assert_eq!(listed["data"][0]["id"], id);
    assert_eq!(app.delete_as(&bob, &format!("{SCHEDULE}/{id}")).await.status(), 409);
    assert_eq!(app.delete_as(&ann, &format!("{SCHEDULE}/{id}")).await.status(), 204);
    assert_eq!(audits(&app.pool, "report.schedule_deleted").await, 1);

    // the analytics settings' schedule: one run per period and frequency turned on
    app.set_settings(
        Category::Analytics,
        json!({"scheduleDaily": true, "scheduleWeekly": true, "scheduleRecipients": ["board@mbelyco.test"]}),
    )
    .await;
    let written = mbelyco::reports::schedule_run::enqueue_due(&app.pool, &app.state.settings, tomorrow_morning())
        .await
        .unwrap();
    assert_eq!(written.len(), 2);
    let keys: Vec<String> = sqlx::query_scalar("select schedule_key from report_runs order by schedule_key")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(keys, ["builtin:daily", "builtin:weekly"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_schedule_mails_the_three_reports_as_pdf() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let (port, sink) = smtp_sink().await;
    smtp_to(&app, port).await;
    app.set_settings(
        Category::Analytics,
        json!({"scheduleDaily": true, "scheduleRecipients": ["board@mbelyco.test"], "reportDefaultFormat": "pdf"}),
    )
    .await;
    assert_eq!(pass(&app, tomorrow_morning()).await, 1);
    let mail = sink.await.unwrap();
    assert!(mail.contains("board@mbelyco.test"), "{mail}");
    assert_eq!(mail.matches("Content-Type: application/pdf").count(), 3, "{mail}");
    let today = mbelyco::stats::kigali_date(now());
    for kind in ["batch-performance", "financial-report", "customer-engagement"] {
        assert!(mail.contains(&format!("{kind}-{today}-{today}.pdf")), "{kind}: {mail}");
    }
    let key = app.api_key("Viewer").await;
    let recorded = runs(&app, &key).await;
    assert_eq!(
        (recorded[0]["scheduleKey"].as_str(), recorded[0]["status"].as_str()),
        (Some("builtin:daily"), Some("sent"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_report_points_at_its_exported_file() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let res = app
        .post_json(&key, SCHEDULE, &json!({"customReportId": saved_report(&app, &key).await, "frequency": "daily", "recipients": ["a@b.rw"], "delivery": "link"}))
        .await;
    assert_eq!(res.status(), 422, "a custom report is attached");
    let (port, sink) = smtp_sink().await;
    smtp_to(&app, port).await;
    schedule(&app, &key, json!({"report": "financial", "frequency": "daily", "recipients": ["cfo@mbelyco.test"], "format": "csv", "delivery": "link"})).await;
    assert_eq!(pass(&app, tomorrow_morning()).await, 1);
    // the text is quoted-printable: soft line breaks joined
    let mail = sink.await.unwrap().replace("=\n", "");
    let file: uuid::Uuid = sqlx::query_scalar("select id from report_files")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        mail.contains(&format!("{}/admin/reports/export/{file}", app.base)),
        "{mail}"
    );
    assert!(!mail.contains("Content-Disposition: attachment"), "{mail}");
    // the file was made by the export job the same drain ran
    let body: Value = app
        .get_as(&key, &format!("/api/v1/admin/reports/export/{file}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["file"]["status"], "ready", "{body}");
}
