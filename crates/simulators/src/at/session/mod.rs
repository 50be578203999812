//! One USSD session: its hops, its timers, and how it ends.
//!
//! A session is open while the subscriber sits on a `CON` screen. It ends as `Success` on an `END`,
//! `Failed` on a fatal violation, or `Incomplete` when the subscriber cancels, stays idle past the
//! inactivity timeout, or the session limit runs out; then its notification is posted once.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use africastalking::ussd::{SessionEvent, SessionStatus, UssdRequest};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::clock;
use super::events::{self, EventDelivery, RetryPolicy};
use super::gateway::{GatewayError, Shared};
use super::hop;
use super::screen::{Screen, ScreenKind};

mod watchdog;

/// A handle on a live or finished session; clones share it.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

pub(crate) struct Identity {
    pub id: String,
    pub phone_number: String,
    pub service_code: String,
    pub network_code: String,
    pub duplicate_delivery: bool,
}

struct Inner {
    shared: Arc<Shared>,
    identity: Identity,
    started: Instant,
    started_at: DateTime<Utc>,
    state: Mutex<State>,
    /// Wakes the watchdog when the phase changes.
    phase_changed: Notify,
    progress: watch::Sender<Progress>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Progress {
    Open,
    Ended,
    /// Ended and the notification is done with (or there was none to send).
    Reported,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A hop is with the app.
    InFlight,
    /// On a `CON` screen since then.
    Awaiting(Instant),
    Ended,
}

struct State {
    phase: Phase,
    inputs: Vec<String>,
    hops: Vec<HopRecord>,
    last_app_response: Option<String>,
    status: Option<SessionStatus>,
    end_reason: Option<String>,
    delivery: Option<EventDelivery>,
}

/// One hop as it happened on the wire.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HopRecord {
    /// The `text` posted.
    pub text: String,
    pub status: Option<u16>,
    pub body: Option<String>,
    pub elapsed_ms: u64,
    pub screen: Screen,
}

/// A session as the control API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSnapshot {
    pub id: String,
    pub phone_number: String,
    pub service_code: String,
    pub network_code: String,
    pub started_at: String,
    pub open: bool,
    pub status: Option<String>,
    /// Why it ended, in words.
    pub end_reason: Option<String>,
    /// Every input so far, `*`-joined.
    pub input: String,
    pub duplicate_delivery: bool,
    pub hops: Vec<HopRecord>,
    pub event: Option<EventDelivery>,
}

impl Session {
    /// A session about to post its first hop; the watchdog starts with it.
    pub(crate) fn start(shared: Arc<Shared>, identity: Identity, prefilled: Vec<String>) -> Self {
        let (progress, _) = watch::channel(Progress::Open);
        let inner = Arc::new(Inner {
            shared,
            identity,
            started: Instant::now(),
            started_at: clock::now(),
            state: Mutex::new(State {
                phase: Phase::InFlight,
                inputs: prefilled,
                hops: Vec::new(),
                last_app_response: None,
                status: None,
                end_reason: None,
                delivery: None,
            }),
            phase_changed: Notify::new(),
            progress,
        });
        tokio::spawn(watchdog::run(Session { inner: inner.clone() }));
        Session { inner }
    }

    /// `ATUid_…`.
    pub fn id(&self) -> &str {
        &self.inner.identity.id
    }

    pub fn phone_number(&self) -> &str {
        &self.inner.identity.phone_number
    }

    /// Whether the subscriber can still answer.
    pub fn is_open(&self) -> bool {
        self.state().phase != Phase::Ended
    }

    /// How it ended, once it has.
    pub fn status(&self) -> Option<SessionStatus> {
        self.state().status.clone()
    }

    /// Types `input` and presses send: posts the next hop with `text` = all inputs `*`-joined.
    /// A trailing `#` is the handset's send key and is not sent; a `*` inside the input is sent
    /// as typed (the app sees extra levels, as with AT).
    pub async fn send(&self, input: &str) -> Result<Screen, GatewayError> {
        let text = {
            let mut state = self.state();
            if !matches!(state.phase, Phase::Awaiting(_)) {
                return Err(GatewayError::SessionClosed(self.id().to_owned()));
            }
            state.inputs.push(input.strip_suffix('#').unwrap_or(input).to_owned());
            state.phase = Phase::InFlight;
            state.inputs.join("*")
        };
        self.inner.phase_changed.notify_one();
        Ok(self.run_hop(text).await)
    }

    /// The subscriber hangs up. Ends an open session as `Incomplete`; `false` if it was over.
    pub fn cancel(&self) -> bool {
        let mut state = self.state();
        if state.phase == Phase::Ended {
            return false;
        }
        self.finish(
            &mut state,
            SessionStatus::Incomplete,
            None,
            "cancelled by the subscriber".to_owned(),
        );
        true
    }

    /// Waits until the session has ended.
    pub async fn ended(&self) {
        self.wait_for(Progress::Ended).await;
    }

    /// Waits until the session has ended and its notification has been delivered or given up on;
    /// `None` when the gateway has no events URL.
    pub async fn event_delivery(&self) -> Option<EventDelivery> {
        self.wait_for(Progress::Reported).await;
        self.state().delivery.clone()
    }

    /// Everything about the session so far.
    pub fn snapshot(&self) -> SessionSnapshot {
        let identity = &self.inner.identity;
        let state = self.state();
        SessionSnapshot {
            id: identity.id.clone(),
            phone_number: identity.phone_number.clone(),
            service_code: identity.service_code.clone(),
            network_code: identity.network_code.clone(),
            started_at: clock::at_date(self.inner.started_at),
            open: state.phase != Phase::Ended,
            status: state.status.as_ref().map(ToString::to_string),
            end_reason: state.end_reason.clone(),
            input: state.inputs.join("*"),
            duplicate_delivery: identity.duplicate_delivery,
            hops: state.hops.clone(),
            event: state.delivery.clone(),
        }
    }

    /// Posts one hop (twice with duplicate delivery) and moves the session on by its answer.
    pub(crate) async fn run_hop(&self, text: String) -> Screen {
        let shared = &self.inner.shared;
        let identity = &self.inner.identity;
        let request = UssdRequest {
            phone_number: identity.phone_number.clone(),
            service_code: identity.service_code.clone(),
            text: text.clone(),
            session_id: identity.id.clone(),
            network_code: identity.network_code.clone(),
        };
        let deadline = shared.config.response_deadline;
        let answer = hop::post(&shared.client, &shared.config.callback_url, &request, deadline).await;
        let duplicate = if identity.duplicate_delivery {
            let second = hop::post(&shared.client, &shared.config.callback_url, &request, deadline).await;
            Some(answer.compare(&second))
        } else {
            None
        };

        let mut state = self.state();
        let screen = answer.screen(u32::try_from(state.hops.len() + 1).unwrap_or(u32::MAX), duplicate);
        state.hops.push(HopRecord {
            text,
            status: answer.status,
            body: answer.body.clone(),
            elapsed_ms: u64::try_from(answer.elapsed.as_millis()).unwrap_or(u64::MAX),
            screen: screen.clone(),
        });
        if let Some(body) = &answer.body {
            state.last_app_response = Some(body.clone());
        }
        if state.phase != Phase::Ended {
            match screen.kind {
                ScreenKind::Con => state.phase = Phase::Awaiting(Instant::now()),
                ScreenKind::End => self.finish(&mut state, SessionStatus::Success, None, "END".to_owned()),
                ScreenKind::Error => {
                    let message = screen.fatal().map(ToString::to_string);
                    let reason = message.clone().unwrap_or_default();
                    self.finish(&mut state, SessionStatus::Failed, message, reason);
                }
            }
        }
        drop(state);
        self.inner.phase_changed.notify_one();
        screen
    }

    /// Ends the session and posts its notification in the background.
    fn finish(&self, state: &mut State, status: SessionStatus, error_message: Option<String>, reason: String) {
        state.phase = Phase::Ended;
        state.end_reason = Some(reason);
        state.status = Some(status.clone());
        let identity = &self.inner.identity;
        let config = &self.inner.shared.config;
        let event = SessionEvent {
            date: Some(clock::at_date(clock::now())),
            session_id: Some(identity.id.clone()),
            service_code: Some(identity.service_code.clone()),
            network_code: Some(identity.network_code.clone()),
            phone_number: Some(identity.phone_number.clone()),
            status: Some(status),
            cost: Some(config.cost.clone()),
            duration_in_millis: Some(self.inner.started.elapsed().as_millis().to_string()),
            hops_count: Some(state.hops.len().to_string()),
            input: Some(state.inputs.join("*")),
            last_app_response: state.last_app_response.clone(),
            error_message,
        };
        self.inner.progress.send_replace(Progress::Ended);
        self.inner.phase_changed.notify_one();
        let Some(url) = config.events_url.clone() else {
            self.inner.progress.send_replace(Progress::Reported);
            return;
        };
        let policy = RetryPolicy {
            retries: config.event_retries,
            backoff: config.event_backoff,
            timeout: config.response_deadline,
        };
        let session = self.clone();
        tokio::spawn(async move {
            let delivery = events::deliver(&session.inner.shared.client, &url, event, policy).await;
            session.state().delivery = Some(delivery);
            session.inner.progress.send_replace(Progress::Reported);
        });
    }

    async fn wait_for(&self, progress: Progress) {
        let mut receiver = self.inner.progress.subscribe();
        // The sender lives in `inner`, which `self` keeps alive, so this cannot fail.
        let _ = receiver.wait_for(|current| *current >= progress).await;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
