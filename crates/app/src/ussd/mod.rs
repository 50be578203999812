//! USSD: Africa's Talking's session protocol, the bilingual menu and the staff's view of the
//! traffic. Owns no money: a code entered on the redeem screen goes to
//! [`crate::redemption::redeem`]; this module owns the session state (`ussd_sessions`) and writes
//! every hop to the interaction log.

pub mod api;
pub mod ending;
pub mod events;
pub mod menu;
pub mod messages;
mod outcome;
pub mod pages;
pub mod query;
pub mod screens;
pub mod service;
pub mod transcript;
pub mod views;

pub use service::{handle, Answer, Hop, Outcome};
