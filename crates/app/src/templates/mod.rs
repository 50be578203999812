//! Notification templates: the words the system sends — USSD end screens, customer SMS, staff
//! e-mail and SMS — per event, channel and language, with `{variables}` from a per-template
//! catalogue (issue 22, part 5; decision 0045).
//!
//! Owns `notification_templates` and `notification_template_versions`. The [`catalogue`] says
//! which templates exist and their default wording; [`render`] fills one and says what it costs
//! on its channel (GSM-7 or UCS-2, SMS segments, the USSD screen limit); [`service`] reads, checks,
//! saves (audited, versioned) and resets them; every process holds the current texts in a
//! [`TemplateStore`] so the USSD hot path reads no table. The payout SMS is filled per row in SQL
//! from the table itself (`alerts::sms::queue_payout_sms`).

pub mod api;
pub mod catalogue;
pub mod pages;
pub mod render;
pub mod service;
mod store;

pub use catalogue::Channel;
pub use render::render;
pub use store::{TemplateStore, Templates, Text, NOTIFY_CHANNEL};
