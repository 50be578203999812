//! What staff read about USSD traffic: one session with its hops, and the recent interactions
//! (newest first, filtered by phone, outcome and time, with an `after` id for live updates).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::error::AppError;

#[derive(Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Interaction {
    pub id: i64,
    pub session_id: String,
    pub phone_number: String,
    pub network_code: Option<String>,
    pub input: String,
    pub response: String,
    pub outcome: String,
    pub latency_ms: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub session_id: String,
    pub phone_number: String,
    pub service_code: String,
    pub network_code: Option<String>,
    pub language: Option<String>,
    pub menu_state: String,
    pub last_outcome: Option<String>,
    pub started_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub final_status: Option<String>,
    pub duration_ms: Option<i64>,
    pub hops: Option<i32>,
    pub final_input: Option<String>,
    pub last_app_response: Option<String>,
    pub error_message: Option<String>,
    pub ended_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    #[serde(flatten)]
    pub session: Session,
    pub interactions: Vec<Interaction>,
    pub redemption_id: Option<uuid::Uuid>,
}

const INTERACTION: &str = "select id, session_id, phone_number, network_code, input, response, outcome, latency_ms, \
     created_at from ussd_interactions";

pub async fn session(conn: &mut PgConnection, id: &str) -> Result<SessionView, AppError> {
    let session: Session = sqlx::query_as(
        "select session_id, phone_number, service_code, network_code, language, menu_state, last_outcome, started_at, \
         last_seen_at, final_status, duration_ms, hops, final_input, last_app_response, error_message, ended_at \
         from ussd_sessions where session_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound("USSD session"))?;
    let interactions = sqlx::query_as(&format!("{INTERACTION} where session_id = $1 order by id"))
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    let redemption_id = sqlx::query_scalar("select id from redemptions where ussd_session_id = $1 limit 1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(SessionView {
        session,
        interactions,
        redemption_id,
    })
}

/// Which interactions to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Part of the phone number (digits).
    pub phone: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only rows newer than this id (live updates).
    pub after: Option<i64>,
}

pub async fn recent(conn: &mut PgConnection, f: &Filter, limit: i64) -> Result<Vec<Interaction>, sqlx::Error> {
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(INTERACTION);
    qb.push(" where true");
    if let Some(p) = &f.phone {
        qb.push(" and phone_number like ").push_bind(format!("%{p}%"));
    }
    if let Some(o) = &f.outcome {
        qb.push(" and outcome = ").push_bind(o.clone());
    }
    if let Some(t) = f.from {
        qb.push(" and created_at >= ").push_bind(t);
    }
    if let Some(t) = f.to {
        qb.push(" and created_at < ").push_bind(t);
    }
    if let Some(a) = f.after {
        qb.push(" and id > ").push_bind(a);
    }
    qb.push(" order by id desc limit ").push_bind(limit);
    qb.build_query_as().fetch_all(conn).await
}
