//! Promo codes: the format and generator, bulk generation as a background job, CSV import into
//! a batch with an error report, and (to come) export and search.
//!
//! Owns `promo_codes`, `code_downloads`, `code_imports` and `code_import_errors`.

pub mod format;
pub mod generate;
pub mod import;
pub mod import_api;
mod import_csv;
pub mod import_page;
pub mod pdf;

pub use format::{parse, Alphabet, PromoCode};
