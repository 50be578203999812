//! The simulator's own control API under `/sim/` (not part of MoMo): faults, balance top-up,
//! token revocation, what was recorded, and the statement an operator would download from MTN's
//! partner portal for reconciliation.

use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;

use super::callbacks::CallbackAttempt;
use super::config::Faults;
use super::sim::MomoSim;
use super::transfer::TransferRecord;

/// A control failure as `{ "error": … }`.
pub(crate) struct ControlError(StatusCode, String);

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

pub(crate) async fn get_faults(State(sim): State<MomoSim>) -> Json<Faults> {
    Json(sim.faults())
}

/// Replaces the fault switches; absent fields take their defaults (all off).
pub(crate) async fn put_faults(State(sim): State<MomoSim>, Json(faults): Json<Faults>) -> Json<Faults> {
    tracing::info!(?faults, "faults changed");
    sim.set_faults(faults);
    Json(sim.faults())
}

#[derive(Deserialize)]
pub(crate) struct TopUp {
    amount: u64,
}

pub(crate) async fn top_up(
    State(sim): State<MomoSim>,
    Json(body): Json<TopUp>,
) -> Result<Json<serde_json::Value>, ControlError> {
    let balance = sim
        .top_up(body.amount)
        .map_err(|e| ControlError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(
        json!({ "availableBalance": balance.to_string(), "currency": sim.config().currency }),
    ))
}

pub(crate) async fn revoke_tokens(State(sim): State<MomoSim>) -> StatusCode {
    sim.revoke_tokens();
    StatusCode::NO_CONTENT
}

pub(crate) async fn transfers(State(sim): State<MomoSim>) -> Json<Vec<TransferRecord>> {
    Json(sim.transfers())
}

/// `GET /sim/status-queries`: how many status queries arrived, and the most within any second.
pub(crate) async fn status_queries(State(sim): State<MomoSim>) -> Json<super::meter::StatusQueryStats> {
    Json(sim.status_queries())
}

/// `DELETE /sim/status-queries`: counts afresh.
pub(crate) async fn reset_status_queries(State(sim): State<MomoSim>) -> StatusCode {
    sim.reset_status_queries();
    StatusCode::NO_CONTENT
}

pub(crate) async fn callbacks(State(sim): State<MomoSim>) -> Json<Vec<CallbackAttempt>> {
    Json(sim.callback_attempts())
}

#[derive(Deserialize)]
pub(crate) struct Period {
    from: Option<String>,
    to: Option<String>,
}

/// `from` and `to` as `YYYY-MM-DD` (whole days, inclusive) or RFC 3339 instants.
fn bound(text: Option<&str>, end: bool) -> Result<Option<DateTime<Utc>>, ControlError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(instant.with_timezone(&Utc)));
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        ControlError(
            StatusCode::BAD_REQUEST,
            format!("{text:?} is not YYYY-MM-DD or RFC 3339"),
        )
    })?;
    let day = if end { day.succ_opt().unwrap_or(day) } else { day };
    Ok(day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()))
}

/// `GET /sim/statement.csv?from=&to=`: one row per transfer accepted in the period, oldest first.
pub(crate) async fn statement(
    State(sim): State<MomoSim>,
    Query(period): Query<Period>,
) -> Result<Response, ControlError> {
    let from = bound(period.from.as_deref(), false)?;
    let to = bound(period.to.as_deref(), true)?;
    let rows = sim
        .transfers()
        .into_iter()
        .filter(|t| from.is_none_or(|from| t.created_at >= from) && to.is_none_or(|to| t.created_at < to));
    let csv = statement_csv(rows).map_err(|e| ControlError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(([(CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response())
}

/// The statement columns, in order.
pub const STATEMENT_HEADER: [&str; 9] = [
    "date",
    "reference",
    "financialTransactionId",
    "externalId",
    "msisdn",
    "amount",
    "currency",
    "status",
    "reason",
];

fn statement_csv(rows: impl Iterator<Item = TransferRecord>) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(STATEMENT_HEADER)?;
    for t in rows {
        writer.write_record([
            t.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).as_str(),
            &t.reference_id.to_string(),
            t.financial_transaction_id.as_deref().unwrap_or(""),
            &t.request.external_id,
            t.msisdn(),
            &t.request.amount,
            &t.request.currency,
            t.status.as_str(),
            t.reason.as_deref().unwrap_or(""),
        ])?;
    }
    let bytes = writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
