//! Promo codes: the format and generator, bulk generation as a background job, CSV import into
//! a batch with an error report, search (with its own trigram index), detail and history, status
//! changes one by one and in bulk, amount and expiry edits and deletion of unused codes, validation.
//!
//! Owns `promo_codes`, `promo_code_search`, `promo_code_events`, `code_downloads`, `code_imports`
//! and `code_import_errors`.

pub mod admin;
pub mod api;
pub mod bulk;
pub mod cli;
pub mod edit;
pub mod export;
pub mod format;
pub mod generate;
pub mod import;
pub mod import_api;
mod import_csv;
pub mod import_page;
pub mod lifecycle;
pub mod pages;
pub mod pdf;
mod pdf_logo;
mod pdf_stream;
mod pdf_text;
pub mod search_index;
pub mod stats;
pub mod validate;

pub use format::{parse, Alphabet, PromoCode};
