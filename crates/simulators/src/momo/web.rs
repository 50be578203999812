//! The routes: MoMo's Disbursement API as MTN serves it, and the simulator's `/sim/` control API.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use super::config::SimConfig;
use super::conn::{Cut, CuttableListener};
use super::sim::{MomoSim, SimError};
use super::{api, control};

/// Opens the simulator (replaying its ledger) and serves it on `listener` until the process stops.
pub async fn serve(config: SimConfig, listener: TcpListener) -> Result<(), SimError> {
    serve_with(MomoSim::new(config)?, listener).await
}

/// Serves an open simulator on `listener`, with every fault available (a plain [`router`] under
/// `axum::serve` cannot drop a connection).
pub async fn serve_with(sim: MomoSim, listener: TcpListener) -> Result<(), SimError> {
    let app = router(sim).into_make_service_with_connect_info::<Cut>();
    axum::serve(CuttableListener(listener), app).await?;
    Ok(())
}

/// The simulator's routes over `sim`, to mount in a test or a dev server:
///
/// - MoMo (A3–A9): `POST /v1_0/apiuser`, `POST /v1_0/apiuser/{id}/apikey`, `GET /v1_0/apiuser/{id}`,
///   `POST /disbursement/token/`, `POST /disbursement/v1_0/transfer`,
///   `GET /disbursement/v1_0/transfer/{referenceId}`, `GET /disbursement/v1_0/account/balance[/{currency}]`,
///   `GET /disbursement/v1_0/accountholder/{type}/{id}/active`
/// - `GET /`: a page saying what this is, linking what it has recorded
/// - control: `GET|PUT /sim/faults`, `POST /sim/balance/top-up {amount}`, `POST /sim/tokens/revoke`,
///   `GET /sim/transfers`, `GET /sim/callbacks`, `GET /sim/statement.csv?from=&to=`,
///   `GET|DELETE /sim/status-queries` (how many, and the most in any one second)
pub fn router(sim: MomoSim) -> Router {
    Router::new()
        .route("/", get(landing))
        .route("/v1_0/apiuser", post(api::create_api_user))
        .route("/v1_0/apiuser/{id}/apikey", post(api::create_api_key))
        .route("/v1_0/apiuser/{id}", get(api::get_api_user))
        .route("/disbursement/token/", post(api::token))
        .route("/disbursement/v1_0/transfer", post(api::create_transfer))
        .route("/disbursement/v1_0/transfer/{reference}", get(api::transfer_status))
        .route("/disbursement/v1_0/account/balance", get(api::balance))
        .route("/disbursement/v1_0/account/balance/{currency}", get(api::balance_in))
        .route(
            "/disbursement/v1_0/accountholder/{id_type}/{id}/active",
            get(api::account_active),
        )
        .route("/sim/faults", get(control::get_faults).put(control::put_faults))
        .route("/sim/balance/top-up", post(control::top_up))
        .route("/sim/tokens/revoke", post(control::revoke_tokens))
        .route("/sim/transfers", get(control::transfers))
        .route("/sim/callbacks", get(control::callbacks))
        .route(
            "/sim/status-queries",
            get(control::status_queries).delete(control::reset_status_queries),
        )
        .route("/sim/statement.csv", get(control::statement))
        .with_state(sim)
}

/// `GET /`: what this server is and where its useful pages are, for a person who opens the address
/// the dev run prints.
async fn landing() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("static/index.html"),
    )
}
