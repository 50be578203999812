//! Africa's Talking's end-of-session notification (INTEGRATIONS.md B6), read leniently by the
//! shared wire type (every field optional, numbers as text) and stored on the session row.

use africastalking::ussd::SessionEvent;
use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::PgPool;

fn cut(s: &Option<String>, max: usize) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| v.chars().take(max).collect())
}

/// Records the event on its session (creating the session row if the app never saw a hop of it,
/// e.g. when the gateway gave up before reaching us). Events without a session id are dropped.
pub async fn store(pool: &PgPool, e: &SessionEvent, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let Some(id) = cut(&e.session_id, 400) else {
        tracing::info!("USSD session event without a sessionId ignored");
        return Ok(());
    };
    let at = e
        .date
        .as_deref()
        .and_then(|d| NaiveDateTime::parse_from_str(d.trim(), "%Y-%m-%d %H:%M:%S").ok())
        .map(|n| n.and_utc())
        .unwrap_or(now);
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
    .bind(cut(&e.phone_number, 32))
    .bind(cut(&e.service_code, 64))
    .bind(cut(&e.network_code, 16))
    .bind(at)
    .bind(
        e.status
            .as_ref()
            .map(|s| s.as_str().chars().take(32).collect::<String>()),
    )
    .bind(e.duration_millis().map(|n| n.min(i64::MAX as u64) as i64))
    .bind(e.hops().map(|n| n.min(i32::MAX as u32) as i32))
    // the gateway's copy of the input history: typed codes masked, as in the interaction log
    .bind(cut(&e.input, 2000).map(|t| super::transcript::mask(&t)))
    .bind(cut(&e.last_app_response, 2000))
    .bind(cut(&e.error_message, 2000))
    .execute(pool)
    .await?;
    Ok(())
}
