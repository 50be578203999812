//! Promo codes: the format and generator, bulk generation as a background job, and (to come)
//! import, export and search.
//!
//! Owns `promo_codes` and `code_downloads`.

pub mod format;
pub mod generate;
pub mod pdf;
pub mod search_index;

pub use format::{parse, Alphabet, PromoCode};
