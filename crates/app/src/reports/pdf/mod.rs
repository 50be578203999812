//! A report as a PDF file (issue #21, item 3): A4 portrait; on every page a header with the
//! company's logo and name (when `analytics.reportBranding` is on), the report's title and its
//! Kigali days, and a footer saying who generated it and when and "Page X of Y"; then the
//! report's sections: boxed headline figures, charts drawn as vectors, tables that continue
//! across pages under their repeated header row, and notes.
//!
//! Rendering never queries: it takes a built [`Report`] and a [`PdfLook`] and lays the pages
//! out in one pass (the footers are added once the page count is known). Text is set in the
//! standard Helvetica fonts, which every reader has, in the WinAnsi encoding; characters
//! outside it print as "?" (see [`text`]).

mod blocks;
mod chart;
mod document;
mod look;
mod metrics;
mod page;
mod table;
#[cfg(test)]
mod tests;
mod text;

pub use look::{PdfLook, Rgb};

use crate::reports::model::{Block, Report};
use page::Pages;

/// The most pages one PDF runs to (about 100,000 table rows): beyond, the CSV is the format.
pub const MAX_PAGES: usize = 2_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PdfError {
    #[error(
        "the report would run to about {pages} pages, more than the {max} a PDF holds; \
         choose fewer days or the CSV format"
    )]
    TooLong { pages: usize, max: usize },
}

/// The report as a PDF file.
pub fn render_pdf(report: &Report, look: &PdfLook) -> Result<Vec<u8>, PdfError> {
    let pages = estimated_pages(report);
    if pages > MAX_PAGES {
        return Err(PdfError::TooLong { pages, max: MAX_PAGES });
    }
    let mut p = Pages::new(report, look);
    blocks::opening(&mut p, report);
    for section in &report.sections {
        let shown: Vec<&Block> = section
            .blocks
            .iter()
            .filter(|b| look.include_charts || !is_chart(b))
            .collect();
        let first = shown.first().map_or(0.0, |b| start_height(b));
        blocks::heading(&mut p, &section.heading, first);
        for block in shown {
            match block {
                Block::Figures { figures } => blocks::figures(&mut p, figures),
                Block::Chart(c) => chart::chart(&mut p, c),
                Block::Table(t) => table::table(&mut p, t),
                Block::Note { text } => blocks::note(&mut p, text),
            }
        }
    }
    Ok(document::write(report, look, p.finish()))
}

fn is_chart(b: &Block) -> bool {
    matches!(b, Block::Chart(_))
}

/// What a block needs on the page it starts on (the rest of a table or note may follow on the
/// next pages).
fn start_height(b: &Block) -> f32 {
    match b {
        Block::Figures { figures } => blocks::figures_height(figures.len()),
        Block::Chart(c) => chart::height(c) + 8.0,
        Block::Table(t) => table::start_height(t),
        Block::Note { text } => blocks::note_height(text).min(60.0),
    }
}

/// About how many pages the report takes, to refuse one far too long before laying it out.
fn estimated_pages(report: &Report) -> usize {
    let body = page::TOP - page::BOTTOM;
    let mut height = 0.0f64;
    for b in report.sections.iter().flat_map(|s| &s.blocks) {
        height += f64::from(blocks::HEADING_H);
        height += match b {
            Block::Table(t) => 14.0 * (t.rows.len() as f64 + 4.0),
            Block::Note { text } => f64::from(blocks::note_height(text)),
            other => f64::from(start_height(other)),
        };
    }
    (height / f64::from(body) * 0.9).ceil() as usize
}
