//! Africa's Talking's end-of-session notification (INTEGRATIONS.md B6), read leniently: every
//! field optional, numbers accepted as text, unknown fields ignored. Stored on the session row.

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::PgPool;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionEvent {
    pub session_id: Option<String>,
    pub phone_number: Option<String>,
    pub service_code: Option<String>,
    pub network_code: Option<String>,
    /// `Success`, `Incomplete` or `Failed` (kept as sent).
    pub status: Option<String>,
    pub duration_ms: Option<i64>,
    pub hops: Option<i32>,
    pub input: Option<String>,
    pub last_app_response: Option<String>,
    pub error_message: Option<String>,
    /// `date` (`yyyy-MM-dd HH:mm:ss`, taken as UTC), if it parses.
    pub date: Option<DateTime<Utc>>,
}

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

impl SessionEvent {
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.trim())
                .filter(|v| !v.is_empty())
        };
        let text = |k: &str, max: usize| get(k).map(|v| cut(v, max));
        let number = |k: &str| get(k).and_then(|v| v.parse::<f64>().ok()).filter(|n| n.is_finite());
        SessionEvent {
            session_id: text("sessionId", 400),
            phone_number: text("phoneNumber", 32),
            service_code: text("serviceCode", 64),
            network_code: text("networkCode", 16),
            status: text("status", 32),
            duration_ms: number("durationInMillis").map(|n| n.clamp(0.0, 1e15) as i64),
            hops: number("hopsCount").map(|n| n.clamp(0.0, 1e6) as i32),
            input: text("input", 2000),
            last_app_response: text("lastAppResponse", 2000),
            error_message: text("errorMessage", 2000),
            date: get("date")
                .and_then(|d| NaiveDateTime::parse_from_str(d, "%Y-%m-%d %H:%M:%S").ok())
                .map(|n| n.and_utc()),
        }
    }
}

/// Records the event on its session (creating the session row if the app never saw a hop of it,
/// e.g. when the gateway gave up before reaching us). Events without a session id are dropped.
pub async fn store(pool: &PgPool, e: &SessionEvent, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let Some(id) = &e.session_id else {
        tracing::info!("USSD session event without a sessionId ignored");
        return Ok(());
    };
    sqlx::query(
        r#"insert into ussd_sessions (session_id, phone_number, service_code, network_code, started_at, last_seen_at,
                                     final_status, duration_ms, hops, final_input, last_app_response, error_message,
                                     ended_at)
           values ($1, coalesce($2, ''), coalesce($3, ''), $4, $5, $5, $6, $7, $8, $9, $10, $11, $5)
           on conflict (session_id) do update set
               final_status = excluded.final_status, duration_ms = excluded.duration_ms, hops = excluded.hops,
               final_input = excluded.final_input, last_app_response = excluded.last_app_response,
               error_message = excluded.error_message, ended_at = excluded.ended_at"#,
    )
    .bind(id)
    .bind(&e.phone_number)
    .bind(&e.service_code)
    .bind(&e.network_code)
    .bind(e.date.unwrap_or(now))
    .bind(&e.status)
    .bind(e.duration_ms)
    .bind(e.hops)
    .bind(&e.input)
    .bind(&e.last_app_response)
    .bind(&e.error_message)
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn reads_what_africas_talking_sends() {
        let e = SessionEvent::from_pairs(&pairs(&[
            ("date", "2026-11-25 10:00:01"),
            ("sessionId", "ATUid_abc"),
            ("status", "Success"),
            ("durationInMillis", "5321"),
            ("hopsCount", "3"),
            ("input", "1*ABCD"),
            ("lastAppResponse", "END Thanks"),
            ("cost", "RWF 0.00"),
        ]));
        assert_eq!(e.session_id.as_deref(), Some("ATUid_abc"));
        assert_eq!(e.duration_ms, Some(5321));
        assert_eq!(e.hops, Some(3));
        assert!(e.date.is_some());
    }

    #[test]
    fn junk_is_tolerated() {
        let e = SessionEvent::from_pairs(&pairs(&[
            ("durationInMillis", "soon"),
            ("hopsCount", "-4"),
            ("date", "x"),
        ]));
        assert_eq!(e.duration_ms, None);
        assert_eq!(e.hops, Some(0));
        assert_eq!(e.date, None);
        assert_eq!(e.session_id, None);
    }
}
