//! Promo codes: the format and generator, bulk generation as a background job, search, detail
//! and history, status changes one by one and in bulk, validation; (to come) import.
//!
//! Owns `promo_codes`, `promo_code_events` and `code_downloads`.

pub mod admin;
pub mod api;
pub mod bulk;
pub mod format;
pub mod generate;
pub mod pages;
pub mod pdf;
pub mod search_index;
pub mod validate;

pub use format::{parse, Alphabet, PromoCode};
