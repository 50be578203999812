//! `mbelyco bench reports`: the financial report over a campaign of 1,000,000 payouts
//! ([`super::campaign::seed`]): its CSV (the tables, and with `includeRawData` every payout
//! too) and a 50-page branded PDF with charts, each against the 2 s.

use std::time::Instant;

use anyhow::Context;
use chrono::Duration;

use super::campaign::{self, Sizes};
use super::{reopen, scratch};
use crate::clock;
use crate::config::Config;
use crate::reports::model::{DayRange, Kind, Report};
use crate::reports::pdf::{render_pdf, PdfLook};
use crate::reports::{csv, Spec, Viewer};

const GOAL_S: f64 = 2.0;
/// The PDF's length.
const PAGES: usize = 50;

fn verdict(s: f64) -> &'static str {
    if s <= GOAL_S {
        "PASS"
    } else {
        "MISS"
    }
}

/// A small PNG, so the branded header carries a logo as it would in production.
fn logo() -> anyhow::Result<std::sync::Arc<crate::codes::pdf::Logo>> {
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, 64, 32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header()?;
        let pixels: Vec<u8> = (0..64 * 32 * 3).map(|i| (i % 251) as u8).collect();
        w.write_image_data(&pixels)?;
    }
    crate::codes::pdf::Logo::from_png(&png_bytes)
        .map(std::sync::Arc::new)
        .context("the bench logo is a PNG")
}

/// The PDF's page count, from its page tree.
fn pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    text.split("/Type /Page")
        .skip(1)
        .filter(|rest| !rest.starts_with('s'))
        .count()
}

pub async fn run(config: &Config, scale: i64, keep: bool, reuse: Option<&str>) -> anyhow::Result<()> {
    let clock = clock::system();
    let s = match reuse {
        Some(name) => reopen(config, name, 8).await?,
        None => scratch(config, "reports", 8).await?,
    };
    let pool = s.pool.clone();
    let sizes = Sizes::scaled(scale);
    if reuse.is_none() {
        campaign::seed(&pool, &sizes, clock.now()).await?;
    }
    let payouts: i64 = sqlx::query_scalar("select count(*) from disbursements")
        .fetch_one(&pool)
        .await?;
    let now = clock.now();
    let today = crate::reports::spec::kigali_day(now);
    let range = DayRange::new(today - Duration::days(sizes.days), today).map_err(|e| anyhow::anyhow!("{e}"))?;
    let spec = Spec {
        kind: Kind::Financial,
        range,
        batch: None,
    };
    let viewer = Viewer::system("Bench");
    println!(
        "financial report over {} to {}: {payouts} payouts stored",
        range.from, range.to
    );

    // the CSV of the report's tables, as the API answers it
    let t = Instant::now();
    let report = {
        let mut conn = pool.acquire().await?;
        crate::reports::build_at(&mut conn, &spec, &viewer, now)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
    };
    let built = t.elapsed().as_secs_f64();
    let tables = csv::render(&report)?;
    let csv_s = t.elapsed().as_secs_f64();
    println!(
        "financial CSV (tables): built in {:.0} ms, {} bytes in {:.0} ms — {} (goal ≤ {GOAL_S} s)",
        built * 1000.0,
        tables.len(),
        csv_s * 1000.0,
        verdict(csv_s)
    );

    // with includeRawData: every payout of the range streamed after the tables
    let t = Instant::now();
    let report = {
        let mut conn = pool.acquire().await?;
        crate::reports::build_at(&mut conn, &spec, &viewer, now)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
    };
    let mut bytes = csv::render(&report)?.len() + csv::raw_heading()?.len();
    let mut rows = csv::raw_payouts(pool.clone(), &report, None, i64::MAX);
    let mut lines = 0usize;
    while let Some(chunk) = rows.recv().await {
        let chunk = chunk?;
        lines += chunk.iter().filter(|b| **b == b'\n').count();
        bytes += chunk.len();
    }
    let raw_s = t.elapsed().as_secs_f64();
    println!(
        "financial CSV with raw data: {} payout rows, {bytes} bytes in {:.0} ms — {} (goal ≤ {GOAL_S} s)",
        lines.saturating_sub(1),
        raw_s * 1000.0,
        verdict(raw_s)
    );

    // a 50-page branded PDF with charts: the financial report's sections, repeated to length
    let mut look = PdfLook::from_settings(&crate::settings::Settings::default());
    look.branding = true;
    look.include_charts = true;
    look.logo = Some(logo()?);
    let one = render_pdf(&report, &look).map_err(|e| anyhow::anyhow!("{e}"))?;
    let per = pages(&one).max(1);
    let mut long: Report = report.clone();
    while pages_of(&long, &look)? < PAGES {
        let mut more = report.sections.clone();
        long.sections.append(&mut more);
        if long.sections.len() > report.sections.len() * (PAGES / per + 2) {
            break;
        }
    }
    let t = Instant::now();
    let pdf = render_pdf(&long, &look).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pdf_s = t.elapsed().as_secs_f64();
    println!(
        "financial PDF: {} pages, branded with charts, {} bytes in {:.0} ms (+ {:.0} ms to build the report) — {} (goal ≤ {GOAL_S} s)",
        pages(&pdf),
        pdf.len(),
        pdf_s * 1000.0,
        built * 1000.0,
        verdict(pdf_s + built)
    );
    if keep || reuse.is_some() {
        s.keep().await;
    } else {
        s.drop().await;
    }
    Ok(())
}

fn pages_of(report: &Report, look: &PdfLook) -> anyhow::Result<usize> {
    Ok(pages(&render_pdf(report, look).map_err(|e| anyhow::anyhow!("{e}"))?))
}
