//! The Disbursement API handlers: provisioning (A3), token (A4), transfer (A5), status (A6),
//! balance and account holder (A9), each answering as MoMo does, errors included.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use momo::validate;
use momo::{ApiKeyResponse, ApiUserInfo, ApiUserRequest, Balance, TransferRequest};
use serde_json::json;
use uuid::Uuid;

use super::conn::Cut;
use super::reply::{self, header, AfterCreate, Reply};
use super::sandbox::{account_outcome, AccountOutcome};
use super::sim::{CreateError, MomoSim};

/// `X-Reference-Id` as a UUID v4, or 400 (A2, A13).
fn reference_id(headers: &HeaderMap) -> Result<Uuid, Reply> {
    header(headers, "x-reference-id")
        .and_then(|text| Uuid::parse_str(text.trim()).ok())
        .filter(|id| id.get_version_num() == 4)
        .ok_or(Reply::Empty(StatusCode::BAD_REQUEST))
}

fn ledger_failure(error: &impl std::fmt::Display) -> Reply {
    tracing::error!(%error, "ledger write failed");
    Reply::Business(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_PROCESSING_ERROR")
}

/// `POST /v1_0/apiuser` (A3): 201, or 409 for a reused id.
pub(crate) async fn create_api_user(
    State(sim): State<MomoSim>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, Reply> {
    reply::subscription(&sim, &headers)?;
    let api_user = reference_id(&headers)?;
    let request: ApiUserRequest =
        serde_json::from_slice(&body).map_err(|e| Reply::Invalid(format!("providerCallbackHost: {e}")))?;
    if request.provider_callback_host.trim().is_empty() {
        return Err(Reply::Invalid("providerCallbackHost is empty".to_owned()));
    }
    match sim.create_api_user(&api_user.to_string(), request.provider_callback_host.trim()) {
        Ok(true) => Ok(StatusCode::CREATED),
        Ok(false) => Err(Reply::Business(StatusCode::CONFLICT, "RESOURCE_ALREADY_EXIST")),
        Err(error) => Err(ledger_failure(&error)),
    }
}

/// `POST /v1_0/apiuser/{id}/apikey` (A3): a new key each call.
pub(crate) async fn create_api_key(
    State(sim): State<MomoSim>,
    Path(api_user): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Reply> {
    reply::subscription(&sim, &headers)?;
    match sim.issue_api_key(&api_user) {
        Ok(Some(api_key)) => Ok((StatusCode::CREATED, Json(ApiKeyResponse { api_key })).into_response()),
        Ok(None) => Err(Reply::Business(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND")),
        Err(error) => Err(ledger_failure(&error)),
    }
}

/// `GET /v1_0/apiuser/{id}` (A3).
pub(crate) async fn get_api_user(
    State(sim): State<MomoSim>,
    Path(api_user): Path<String>,
    headers: HeaderMap,
) -> Result<Json<ApiUserInfo>, Reply> {
    reply::subscription(&sim, &headers)?;
    let user = sim
        .api_user(&api_user)
        .ok_or(Reply::Business(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND"))?;
    Ok(Json(ApiUserInfo {
        provider_callback_host: user.callback_host,
        target_environment: sim.config().target_environment.clone(),
    }))
}

/// `POST /disbursement/token/` (A4): Basic auth, no body, `token_type` `access_token`.
pub(crate) async fn token(State(sim): State<MomoSim>, headers: HeaderMap, body: Bytes) -> Result<Response, Reply> {
    reply::subscription(&sim, &headers)?;
    if !body.is_empty() {
        return Err(Reply::Empty(StatusCode::BAD_REQUEST));
    }
    let (api_user, api_key) = reply::basic(&headers).ok_or(Reply::TokenError("invalid_client"))?;
    let token = sim
        .issue_token(&api_user, &api_key)
        .ok_or(Reply::TokenError("invalid_client"))?;
    Ok(Json(json!({
        "access_token": token,
        "token_type": "access_token",
        "expires_in": sim.config().token_ttl.as_secs(),
    }))
    .into_response())
}

/// `POST /disbursement/v1_0/transfer` (A5, A11, A13): 202 with an empty body, or MoMo's refusal.
pub(crate) async fn create_transfer(
    State(sim): State<MomoSim>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, Reply> {
    let api_user = reply::business(&sim, &headers).await?;
    let reference_id = reference_id(&headers)?;
    let callback_url = match header(&headers, "x-callback-url") {
        None => None,
        Some(url) => Some(check_callback(&sim, &api_user, url)?),
    };
    let is_json = header(&headers, "content-type").is_some_and(|t| t.starts_with("application/json"));
    if !is_json {
        return Err(Reply::Empty(StatusCode::BAD_REQUEST));
    }
    let request: TransferRequest = serde_json::from_slice(&body).map_err(|e| Reply::Invalid(e.to_string()))?;
    check_transfer(&sim, &request)?;
    match sim.create_transfer(reference_id, &api_user, request, callback_url) {
        Ok(()) => {}
        Err(CreateError::Duplicate) => return Err(Reply::Business(StatusCode::CONFLICT, "RESOURCE_ALREADY_EXIST")),
        Err(CreateError::Ledger(error)) => return Err(ledger_failure(&error)),
    }
    tracing::info!(%reference_id, "transfer accepted");
    let hold = match reply::roll_after_create(&sim) {
        AfterCreate::Answer => None,
        AfterCreate::Hold(hold) => Some(hold),
        AfterCreate::Drop => match extensions.get::<ConnectInfo<Cut>>() {
            Some(ConnectInfo(cut)) => {
                tracing::info!(%reference_id, "fault: dropping the connection of a created transfer");
                cut.cut();
                None
            }
            None => Some(Duration::from_millis(sim.faults().hang_ms)),
        },
    };
    if let Some(hold) = hold {
        tracing::info!(%reference_id, ?hold, "fault: holding the answer to a created transfer");
        tokio::time::sleep(hold).await;
    }
    Ok(StatusCode::ACCEPTED)
}

/// A10, A15.4: not empty (400), a URL (400), on the API user's host (500), http in the sandbox.
fn check_callback(sim: &MomoSim, api_user: &str, url: &str) -> Result<String, Reply> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| Reply::Empty(StatusCode::BAD_REQUEST))?;
    let registered = sim.api_user(api_user).map(|user| user.callback_host);
    let host_ok = registered.is_some_and(|host| parsed.host_str() == Some(host.as_str()));
    let sandbox = sim.config().target_environment == "sandbox";
    let scheme_ok = if sandbox {
        parsed.scheme() == "http"
    } else {
        matches!(parsed.scheme(), "http" | "https")
    };
    if host_ok && scheme_ok {
        Ok(url.trim().to_owned())
    } else {
        Err(Reply::Business(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INVALID_CALLBACK_URL_HOST",
        ))
    }
}

/// A5, A13: what makes MoMo answer 400, then the 500 INVALID_CURRENCY.
fn check_transfer(sim: &MomoSim, request: &TransferRequest) -> Result<(), Reply> {
    let invalid = |e: validate::InvalidRequest| Reply::Invalid(e.to_string());
    validate::check_amount(&request.amount).map_err(invalid)?;
    validate::check_text("externalId", &request.external_id).map_err(invalid)?;
    if request.payee.party_id_type != "MSISDN" {
        return Err(Reply::Invalid(format!(
            "partyIdType {:?} is not supported here",
            request.payee.party_id_type
        )));
    }
    validate::check_msisdn(&request.payee.party_id).map_err(invalid)?;
    let notes = [
        ("payerMessage", &request.payer_message),
        ("payeeNote", &request.payee_note),
    ];
    for (field, note) in notes {
        if let Some(note) = note {
            if note.chars().count() > sim.config().note_max {
                return Err(Reply::Invalid(format!("{field} is too long")));
            }
            validate::check_text(field, note).map_err(invalid)?;
        }
    }
    if request.currency != sim.config().currency {
        return Err(Reply::Business(StatusCode::INTERNAL_SERVER_ERROR, "INVALID_CURRENCY"));
    }
    Ok(())
}

/// `GET /disbursement/v1_0/transfer/{referenceId}` (A6): 200 even when FAILED, 404 if unknown.
pub(crate) async fn transfer_status(
    State(sim): State<MomoSim>,
    Path(reference): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Reply> {
    sim.note_status_query();
    reply::business(&sim, &headers).await?;
    let reference_id = Uuid::parse_str(&reference).map_err(|_| Reply::Empty(StatusCode::BAD_REQUEST))?;
    let transfer = sim
        .transfer(reference_id)
        .ok_or(Reply::Business(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND"))?;
    Ok(Json(transfer.render(sim.config().reason_mode)).into_response())
}

/// `GET /disbursement/v1_0/account/balance` (A9).
pub(crate) async fn balance(State(sim): State<MomoSim>, headers: HeaderMap) -> Result<Json<Balance>, Reply> {
    reply::business(&sim, &headers).await?;
    Ok(Json(Balance {
        available_balance: sim.balance().to_string(),
        currency: sim.config().currency.clone(),
    }))
}

/// `GET /disbursement/v1_0/account/balance/{currency}` (A9): only the account's own currency.
pub(crate) async fn balance_in(
    State(sim): State<MomoSim>,
    Path(currency): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Balance>, Reply> {
    if currency != sim.config().currency {
        reply::business(&sim, &headers).await?;
        return Err(Reply::Business(StatusCode::INTERNAL_SERVER_ERROR, "INVALID_CURRENCY"));
    }
    balance(State(sim), headers).await
}

/// `GET /disbursement/v1_0/accountholder/{type}/{id}/active` (A9, A12): `msisdn` only (lowercase).
pub(crate) async fn account_active(
    State(sim): State<MomoSim>,
    Path((id_type, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Reply> {
    reply::business(&sim, &headers).await?;
    if id_type != "msisdn" {
        return Err(Reply::Empty(StatusCode::BAD_REQUEST));
    }
    let result = match account_outcome(&id) {
        Some(AccountOutcome::NotFound) => return Err(Reply::Business(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND")),
        Some(AccountOutcome::NotActive) => false,
        Some(AccountOutcome::Error(status, code)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Err(Reply::Business(status, code));
        }
        None => validate::check_msisdn(&id).is_ok() && !sim.config().is_inactive(&id),
    };
    Ok(Json(json!({ "result": result })).into_response())
}
