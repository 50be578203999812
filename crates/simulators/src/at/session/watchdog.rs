//! The session's timers: AT ends a session whose subscriber stops answering (B5, B10.4).

use africastalking::ussd::SessionStatus;

use super::{Phase, Session};

/// Ends the session as `Incomplete` when the subscriber stays on a `CON` screen past the inactivity
/// timeout or the session runs past its limit. Idle while a hop is with the app.
pub(super) async fn run(session: Session) {
    let config = &session.inner.shared.config;
    let limit_at = session.inner.started + config.session_limit;
    loop {
        let changed = session.inner.phase_changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let phase = session.state().phase;
        let since = match phase {
            Phase::Ended => return,
            Phase::InFlight => {
                changed.await;
                continue;
            }
            Phase::Awaiting(since) => since,
        };
        let idle_at = since + config.inactivity_timeout;
        tokio::select! {
            () = tokio::time::sleep_until(idle_at.min(limit_at)) => {
                let mut state = session.state();
                if state.phase == Phase::Awaiting(since) {
                    let reason = if idle_at <= limit_at {
                        format!("no input for {} s", config.inactivity_timeout.as_secs_f32())
                    } else {
                        format!("session limit of {} s reached", config.session_limit.as_secs_f32())
                    };
                    session.finish(&mut state, SessionStatus::Incomplete, None, reason);
                }
            }
            () = &mut changed => {}
        }
    }
}
