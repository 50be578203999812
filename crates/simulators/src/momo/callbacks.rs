//! Pushing a final status to the transfer's `X-Callback-Url` (A10): the same body as the status
//! query, no `referenceId`, no signature; once, on MTN's retry schedule, or not at all; optionally
//! late or twice. Every attempt is kept for inspection.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Serialize;
use uuid::Uuid;

use super::clock;
use super::config::{CallbackMethod, CallbackMode};
use super::sim::MomoSim;
use super::transfer::TransferRecord;

/// One attempt at delivering a callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackAttempt {
    pub reference_id: Uuid,
    pub url: String,
    /// 1 for the first attempt of a delivery.
    pub attempt: u32,
    /// 2 for the duplicate of a delivered callback.
    pub delivery: u32,
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why there was no answer (timeout, refused).
    pub error: Option<String>,
}

/// Starts delivering `transfer`'s callback in the background, if it asked for one.
pub(crate) fn dispatch(sim: MomoSim, transfer: TransferRecord) {
    let Some(url) = transfer.callback_url.clone() else {
        return;
    };
    let config = sim.config();
    let waits = match &config.callbacks {
        CallbackMode::None => return,
        CallbackMode::Once => Vec::new(),
        CallbackMode::Retry(waits) => waits.clone(),
    };
    let deliveries = if config.duplicate_callbacks { 2 } else { 1 };
    let delay = config.callback_delay;
    let method = match config.callback_method {
        CallbackMethod::Put => Method::PUT,
        CallbackMethod::Post => Method::POST,
    };
    let body = transfer.render(config.reason_mode);
    tokio::spawn(async move {
        if sim.faults().drop_callbacks {
            tracing::info!(reference_id = %transfer.reference_id, "fault: callback dropped");
            return;
        }
        tokio::time::sleep(delay).await;
        for delivery in 1..=deliveries {
            let mut attempt = 0;
            let mut waits = waits.iter();
            loop {
                attempt += 1;
                let outcome = sim.http().request(method.clone(), &url).json(&body).send().await;
                let (status, error) = match outcome {
                    Ok(response) => (Some(response.status().as_u16()), None),
                    Err(error) => (None, Some(error.to_string())),
                };
                let delivered = status.is_some_and(|s| (200..300).contains(&s));
                sim.record_callback(CallbackAttempt {
                    reference_id: transfer.reference_id,
                    url: url.clone(),
                    attempt,
                    delivery,
                    at: clock::now(),
                    status,
                    error,
                });
                if delivered {
                    break;
                }
                match waits.next() {
                    Some(wait) => tokio::time::sleep(*wait).await,
                    None => return,
                }
            }
        }
    });
}

/// Parses a retry schedule such as `1s*20,2m*30` (for `--callback-schedule`) into waits.
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    let mut waits = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (wait, times) = part.split_once('*').unwrap_or((part, "1"));
        let times: usize = times.parse().map_err(|_| format!("bad repeat count in {part:?}"))?;
        let wait = parse_duration(wait).ok_or_else(|| format!("bad wait in {part:?} (use 500ms, 2s, 2m, 1h)"))?;
        waits.extend(std::iter::repeat_n(wait, times));
    }
    Ok(waits)
}

fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(number)),
        "s" => Some(Duration::from_secs(number)),
        "m" => Some(Duration::from_secs(number * 60)),
        "h" => Some(Duration::from_secs(number * 3600)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse() {
        let waits = parse_schedule("1s*2, 2m, 500ms*1").expect("parses");
        assert_eq!(
            waits,
            vec![
                Duration::from_secs(1),
                Duration::from_secs(1),
                Duration::from_secs(120),
                Duration::from_millis(500)
            ]
        );
        assert!(parse_schedule("1x").is_err());
    }
}
