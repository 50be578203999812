//! The reports pages in a real Chromium at phone width: the financial report with its SVG charts
//! fits a 390 px screen, a Viewer is not offered it, and an export shows its progress bar until
//! the file is ready to download; a custom report is built, run and saved, and a schedule is
//! made and listed, without the page scrolling sideways.

use std::sync::Arc;

use fantoccini::{Client, Locator};
use tokio_util::sync::CancellationToken;

use crate::browser::{sign_in_with_totp, staff_with_totp, submit, text};
use crate::helpers::{spawn_app, TestDb};
use crate::reports::{today, workload};

use testkit::browser;

const PW: &str = "correct pony staple battery";

async fn fits_390(c: &Client) -> bool {
    !c.execute(
        "return document.documentElement.scrollWidth > document.documentElement.clientWidth",
        vec![],
    )
    .await
    .unwrap()
    .as_bool()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_reports_financial_at_phone_width_and_an_export_with_its_progress() {
    let db = TestDb::new().await;
    let (app, _, _, _momo) = workload(&db).await;
    let day = today();
    let b = browser().await;
    let c = &b.client;
    let secret = staff_with_totp(&app, "boss@mbelyco.test", PW, "Super Administrator").await;
    sign_in_with_totp(c, &app, "boss@mbelyco.test", PW, &secret).await;
    c.set_window_size(390, 1400).await.unwrap();
    c.goto(&app.url(&format!("/admin/reports?kind=financial&from={day}&to={day}")))
        .await
        .unwrap();
    assert_eq!(text(c, "#report-title").await, "Financial report");
    let charts = c.find_all(Locator::Css("#report svg.chart rect")).await.unwrap();
    assert!(!charts.is_empty(), "the stacked bars are drawn");
    assert!(fits_390(c).await, "the report fits a 390 px screen");
    c.find(Locator::Css("#nav a[href='/admin/reports'][aria-current=page]"))
        .await
        .expect("Reports in the navigation");

    // export as CSV: the page follows the job (a worker runs beside it) and says when it is ready
    let stop = CancellationToken::new();
    tokio::spawn(Arc::new(app.worker("w-bg")).run(stop.clone()));
    c.find(Locator::Css("#export-form select[name=format]"))
        .await
        .unwrap()
        .select_by_value("csv")
        .await
        .unwrap();
    submit(c, "#export-form button[type=submit]").await;
    let ready = c
        .wait()
        .at_most(std::time::Duration::from_secs(20))
        .for_element(Locator::Css("#export-ready"))
        .await
        .expect("the page says the file is ready");
    assert!(ready
        .text()
        .await
        .unwrap()
        .contains(&format!("financial_{day}_{day}.csv")));
    assert!(fits_390(c).await, "the export page fits a 390 px screen");
    stop.cancel();

    // a Viewer is not offered the financial report
    let v = browser().await;
    let secret = staff_with_totp(&app, "viewer@mbelyco.test", PW, "Viewer").await;
    sign_in_with_totp(&v.client, &app, "viewer@mbelyco.test", PW, &secret).await;
    v.client.goto(&app.url("/admin/reports")).await.unwrap();
    let options = text(&v.client, "#report-kind").await;
    assert!(
        options.contains("Batch performance") && !options.contains("Financial"),
        "{options}"
    );
}

/// Every part of the page fits 390 px (nothing sticks out sideways).
async fn assert_fits_390(c: &Client, what: &str) {
    assert!(fits_390(c).await, "{what} scrolls sideways at 390 px");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_custom_report_built_run_and_saved_at_phone_width() {
    let db = TestDb::new().await;
    let (app, _, _, _momo) = workload(&db).await; // five redemptions today
    let b = browser().await;
    let c = &b.client;
    let secret = staff_with_totp(&app, "analyst@mbelyco.test", PW, "Super Administrator").await;
    sign_in_with_totp(c, &app, "analyst@mbelyco.test", PW, &secret).await;
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&app.url("/admin/reports/custom")).await.unwrap();
    assert_eq!(text(c, "#custom-saved tbody").await, "No saved report yet.");
    assert_fits_390(c, "the empty custom report page").await;

    // build: redemptions per day, counted, over the last 7 days; run it
    c.find(Locator::Css("#custom-form select[name=dataset]"))
        .await
        .unwrap()
        .select_by_value("redemptions")
        .await
        .unwrap();
    for css in ["input[name=dim][value=day]", "input[name=measure][value=count]"] {
        let tick = c.find(Locator::Css(&format!("#custom-form {css}"))).await.unwrap();
        if tick.prop("checked").await.unwrap().as_deref() != Some("true") {
            tick.click().await.unwrap();
        }
    }
    c.find(Locator::Css("#custom-form select[name=last]"))
        .await
        .unwrap()
        .select_by_value("7")
        .await
        .unwrap();
    submit(c, "#custom-form button[type=submit]").await;
    let figures = text(c, "#report dl.counters").await;
    assert!(figures.contains('5'), "five redemptions today: {figures}");
    c.find(Locator::Css("#report svg#chart-1 rect, #report svg#chart-1 polyline"))
        .await
        .expect("the chart is drawn");
    assert!(text(c, "#report table.list").await.contains(&today()), "today's row");
    assert_fits_390(c, "the custom report with its result").await;

    // save it under a name: its own page shows it again, and the list has it
    crate::browser::fill(c, "#custom-form input[name=name]", "Daily redemptions").await;
    submit(c, "#custom-save").await;
    assert!(c
        .current_url()
        .await
        .unwrap()
        .path()
        .starts_with("/admin/reports/custom/"));
    assert!(text(c, "#current-report").await.contains("Daily redemptions"));
    assert!(text(c, "#report dl.counters").await.contains('5'));
    assert!(text(c, "#custom-saved").await.contains("Daily redemptions"));
    c.find(Locator::Css("#export-form select[name=format]"))
        .await
        .expect("a saved report exports");
    assert_fits_390(c, "a saved custom report").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_schedule_a_report_and_see_it_listed_at_phone_width() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let b = browser().await;
    let c = &b.client;
    let secret = staff_with_totp(&app, "planner@mbelyco.test", PW, "Super Administrator").await;
    sign_in_with_totp(c, &app, "planner@mbelyco.test", PW, &secret).await;
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&app.url("/admin/reports/schedules")).await.unwrap();
    assert_eq!(text(c, "#schedules tbody").await, "No schedule yet.");
    assert_fits_390(c, "the schedules page").await;

    // a recipient that is not an address: the message beside the field, nothing scheduled
    c.find(Locator::Css("#schedule-form select[name=report]"))
        .await
        .unwrap()
        .select_by_value("engagement")
        .await
        .unwrap();
    c.find(Locator::Css("#schedule-form select[name=frequency]"))
        .await
        .unwrap()
        .select_by_value("weekly")
        .await
        .unwrap();
    crate::browser::fill(c, "#schedule-form textarea[name=recipients]", "ops at mbelyco").await;
    submit(c, "#schedule-form button[type=submit]").await;
    assert!(!text(c, "#schedule-form [data-field^=recipients]").await.is_empty());
    assert_eq!(text(c, "#schedules tbody").await, "No schedule yet.");
    assert_fits_390(c, "the schedules page with a message").await;

    crate::browser::fill(
        c,
        "#schedule-form textarea[name=recipients]",
        "ops@mbelyco.test, finance@mbelyco.test",
    )
    .await;
    submit(c, "#schedule-form button[type=submit]").await;
    let listed = text(c, "#schedules tbody").await;
    assert!(
        listed.contains("ops@mbelyco.test, finance@mbelyco.test") && listed.contains("Test User"),
        "{listed}"
    );
    assert_eq!(c.find_all(Locator::Css("#schedules tbody tr")).await.unwrap().len(), 1);
    assert_fits_390(c, "the schedules page with a schedule").await;
}
