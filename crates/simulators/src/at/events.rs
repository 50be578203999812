//! The end-of-session notification: posted once the session is over, retried while the app does not
//! answer 200 (B6, B10.5). Fire and forget for the session: a failure here never changes its outcome.

use std::time::Duration;

use africastalking::ussd::{SessionEvent, FORM_CONTENT_TYPE};
use reqwest::header::CONTENT_TYPE;
use serde::Serialize;

/// One attempt at posting the notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventAttempt {
    /// The app's HTTP status, if it answered.
    pub status: Option<u16>,
    /// What went wrong, if it did not.
    pub error: Option<String>,
}

/// The notification and how posting it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventDelivery {
    pub event: SessionEvent,
    pub attempts: Vec<EventAttempt>,
    /// Some attempt got HTTP 200.
    pub delivered: bool,
}

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub retries: u32,
    pub backoff: Duration,
    /// Per attempt; an events endpoint must ack quickly.
    pub timeout: Duration,
}

/// Posts `event` to `url`, retrying with doubling backoff until a 200 or the retries run out.
pub(crate) async fn deliver(
    client: &reqwest::Client,
    url: &str,
    event: SessionEvent,
    policy: RetryPolicy,
) -> EventDelivery {
    let body = event.to_form();
    let mut attempts = Vec::new();
    let mut backoff = policy.backoff;
    for attempt in 0..=policy.retries {
        if attempt > 0 {
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
        let sent = client
            .post(url)
            .header(CONTENT_TYPE, FORM_CONTENT_TYPE)
            .body(body.clone())
            .timeout(policy.timeout)
            .send()
            .await;
        let record = match sent {
            Ok(response) => EventAttempt {
                status: Some(response.status().as_u16()),
                error: None,
            },
            Err(error) => EventAttempt {
                status: None,
                error: Some(error.without_url().to_string()),
            },
        };
        let delivered = record.status == Some(200);
        if !delivered {
            tracing::warn!(attempt, status = ?record.status, error = ?record.error, "USSD notification not acknowledged");
        }
        attempts.push(record);
        if delivered {
            return EventDelivery {
                event,
                attempts,
                delivered: true,
            };
        }
    }
    EventDelivery {
        event,
        attempts,
        delivered: false,
    }
}
