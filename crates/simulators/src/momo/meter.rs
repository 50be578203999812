//! How many status queries (`GET /disbursement/v1_0/transfer/{referenceId}`) the simulator saw,
//! and the most that arrived within any one second (a sliding window, so "no second, however it
//! is cut" can be checked against MoMo's 10 a second). Every query counts on arrival, whatever it
//! is answered (a 429 or a 404 included).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What `GET /sim/status-queries` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusQueryStats {
    /// Status queries since start (or the last reset).
    pub total: u64,
    /// The most status queries that arrived within any one second.
    pub max_per_second: u64,
    /// When the second holding that many ended (its last query's arrival).
    pub max_per_second_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub(super) struct Meter {
    /// Arrivals of the last second.
    window: VecDeque<Instant>,
    stats: StatusQueryStats,
}

impl Meter {
    pub(super) fn note(&mut self, at: Instant, wall: DateTime<Utc>) {
        while self
            .window
            .front()
            .is_some_and(|first| at.duration_since(*first) >= Duration::from_secs(1))
        {
            self.window.pop_front();
        }
        self.window.push_back(at);
        self.stats.total += 1;
        let now_in_window = self.window.len() as u64;
        if now_in_window > self.stats.max_per_second {
            self.stats.max_per_second = now_in_window;
            self.stats.max_per_second_at = Some(wall);
        }
    }

    pub(super) fn stats(&self) -> StatusQueryStats {
        self.stats.clone()
    }

    pub(super) fn reset(&mut self) {
        *self = Meter::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_second_is_found_however_it_is_cut() {
        let mut m = Meter::default();
        let t0 = Instant::now();
        let wall = crate::momo::clock::now();
        // 0.0, 0.6, 0.9, 1.5, 1.8: the window 0.6–1.5 holds three; no calendar second does
        for ms in [0, 600, 900, 1500, 1800] {
            m.note(t0 + Duration::from_millis(ms), wall);
        }
        assert_eq!(m.stats().total, 5);
        assert_eq!(m.stats().max_per_second, 3);
        m.reset();
        assert_eq!(m.stats(), StatusQueryStats::default());
    }
}
