//! Webhooks for integrators (PRD 2.8 §6, issue #22 part 4, decision 0049): events posted as signed
//! JSON to the endpoints staff register at `/admin/settings/webhooks`.
//!
//! Owns `webhook_endpoints` and `webhook_deliveries`. [`emit`] runs in the transaction of the change
//! that emits an event (a redemption, a payout completed or failed, a new alert) and fans it out,
//! in one statement, to the enabled endpoints subscribed to it: a delivery row and a
//! `webhook.deliver` job each. The job ([`send`]) posts outside any transaction, signed with
//! HMAC-SHA256 over `"<timestamp>.<body>"`, retried with the queue's exponential backoff up to the
//! endpoint's `retryAttempts`; an endpoint whose last [`PAUSE_AFTER`] deliveries all failed is
//! paused with an alert. Payloads carry no secret, phone numbers and codes masked.

pub mod api;
mod deliveries;
pub mod emit;
pub mod endpoints;
pub mod pages;
pub mod send;

pub use deliveries::{DeliveryView, LogAfter};
pub use emit::{emit, Event};
pub use endpoints::{EndpointInput, EndpointView, NewEndpoint};

/// Consecutive failed deliveries (each after all its retries) that pause an endpoint.
pub const PAUSE_AFTER: i32 = 5;

/// The events an endpoint may subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub enum EventType {
    #[serde(rename = "redemption.completed")]
    RedemptionCompleted,
    #[serde(rename = "disbursement.completed")]
    DisbursementCompleted,
    #[serde(rename = "disbursement.failed")]
    DisbursementFailed,
    #[serde(rename = "alert.raised")]
    AlertRaised,
    /// Sent only by "send test event".
    #[serde(rename = "test")]
    Test,
}

impl EventType {
    pub const ALL: [EventType; 5] = [
        EventType::RedemptionCompleted,
        EventType::DisbursementCompleted,
        EventType::DisbursementFailed,
        EventType::AlertRaised,
        EventType::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::RedemptionCompleted => "redemption.completed",
            EventType::DisbursementCompleted => "disbursement.completed",
            EventType::DisbursementFailed => "disbursement.failed",
            EventType::AlertRaised => "alert.raised",
            EventType::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// What the event means, for the form.
    pub fn describe(self) -> &'static str {
        match self {
            EventType::RedemptionCompleted => "a customer redeemed a code",
            EventType::DisbursementCompleted => "a payout reached the customer's MoMo wallet",
            EventType::DisbursementFailed => "a payout failed for good",
            EventType::AlertRaised => "a new alert was raised",
            EventType::Test => "the \"send test event\" button",
        }
    }
}

/// Where an endpoint's secret is bound (the associated data of its envelope).
fn secret_context(id: uuid::Uuid) -> String {
    format!("webhooks:endpoint:{id}")
}

pub fn routes() -> Vec<crate::web::routes::RouteSpec> {
    let mut specs = api::routes();
    specs.extend(pages::routes());
    specs
}
