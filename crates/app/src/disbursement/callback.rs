//! MoMo's callback (INTEGRATIONS.md A10): `POST|PUT /api/v1/webhooks/momo/disbursements/{attempt_ref}`.
//!
//! `attempt_ref` is `<X-Reference-Id>.<secret>`: the worker puts a fresh secret for each attempt
//! in the `X-Callback-Url` it sends and keeps only its hash, so only MoMo (who was given the URL)
//! can knock. Callbacks are unsigned and their body is never read: a valid knock only records the
//! callback on the attempt and makes its payout due now, so the worker asks MoMo for the status of
//! that reference. The answer is 200 at once (MoMo waits 2 s at most). Repeated, late and
//! out-of-order callbacks change nothing but the count; a wrong reference or secret gets 403 and
//! changes nothing.

use crate::web::extract::Path;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::route;
use crate::unit::{Unit, Wake};
use crate::web::openapi::Doc;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

fn doc() -> Doc {
    Doc::new("MoMo's callback for one payout attempt")
        .describe(
            "The body is never read: a valid knock makes the payout's status query due now, and the \
             worker asks MoMo. Repeated, late and out-of-order callbacks change nothing but the count.",
        )
        .path::<String>(
            "attempt_ref",
            "`<X-Reference-Id>.<secret>`, as the `X-Callback-Url` of the attempt gave it; a wrong \
             reference or secret gets 403",
        )
        .empty(200, "Recorded")
        .problems(&[503])
}

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(POST "/api/v1/webhooks/momo/disbursements/{attempt_ref}", Access::Webhook, callback, doc()),
        route!(PUT "/api/v1/webhooks/momo/disbursements/{attempt_ref}", Access::Webhook, callback, doc()),
    ]
}

/// What a knock did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knock {
    /// Unknown reference or wrong secret.
    Refused,
    /// Recorded; the payout was already settled or is being worked on right now.
    Recorded,
    /// Recorded, and the payout's status query is due now.
    Woke,
}

/// Records a callback for `attempt_ref` (see the module docs); asks the unit to wake the worker
/// when the payout's status query became due.
pub async fn knock(unit: &mut Unit, attempt_ref: &str, now: DateTime<Utc>) -> Result<Knock, sqlx::Error> {
    let Some((reference, secret)) = attempt_ref.split_once('.') else {
        return Ok(Knock::Refused);
    };
    let Ok(reference) = Uuid::parse_str(reference) else {
        return Ok(Knock::Refused);
    };
    if secret.is_empty() || secret.len() > 128 {
        return Ok(Knock::Refused);
    }
    // The comparison is of SHA-256 digests: timing reveals nothing about the secret.
    let (matched, woke): (i64, i64) = sqlx::query_as(
        r#"with a as (
             update disbursement_attempts set callback_count = callback_count + 1, last_callback_at = $2
             where reference_id = $1 and callback_secret_hash = $3
             returning disbursement_id, status),
           w as (
             update disbursements d set next_attempt_at = $2, lease_expires_at = $2, updated_at = $2
             from a
             where d.id = a.disbursement_id and d.momo_reference = $1 and d.status = 'processing'
               and d.lease_owner is null and a.status in ('created', 'sent', 'pending', 'unknown')
             returning d.id)
           select (select count(*) from a), (select count(*) from w)"#,
    )
    .bind(reference)
    .bind(now)
    .bind(crate::crypto::token_hash(secret))
    .fetch_one(&mut **unit)
    .await?;
    Ok(match (matched, woke) {
        (0, _) => Knock::Refused,
        (_, 0) => Knock::Recorded,
        _ => {
            unit.wake(Wake::Payouts);
            Knock::Woke
        }
    })
}

async fn callback(State(state): State<AppState>, Path(attempt_ref): Path<String>) -> StatusCode {
    let knocked = async {
        let mut unit = state.unit().await.map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let knock = knock(&mut unit, &attempt_ref, state.clock.now()).await?;
        unit.commit().await.map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        Ok::<_, sqlx::Error>(knock)
    };
    match knocked.await {
        Ok(Knock::Refused) => StatusCode::FORBIDDEN,
        Ok(Knock::Recorded | Knock::Woke) => StatusCode::OK,
        Err(e) => {
            // MoMo retries on its schedule (or not at all); the worker polls regardless
            tracing::warn!(error = %e, "could not record a MoMo callback");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}
