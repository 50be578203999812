//! The reports page in a real Chromium at phone width: the financial report with its SVG charts
//! fits a 390 px screen, a Viewer is not offered it, and an export shows its progress bar until
//! the file is ready to download.

use std::sync::Arc;

use fantoccini::{Client, Locator};
use tokio_util::sync::CancellationToken;

use crate::browser::{sign_in_with_totp, staff_with_totp, submit, text};
use crate::helpers::TestDb;
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
