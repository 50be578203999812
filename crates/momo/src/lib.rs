//! The MTN MoMo Disbursement API (INTEGRATIONS.md Part A): wire types, request validation and an
//! HTTP client. The MoMo simulator (`simulators::momo`) serialises the same types, so the two
//! cannot drift; the client reaches the simulator or the real MoMo by configuration alone.
//!
//! - [`types`]: request and response bodies, parsed leniently (A6, A16.5).
//! - [`validate`]: what MoMo rejects with 400, checked before anything is sent (A5, A13).
//! - [`Client`]: token caching, transfer, status, balance, account-holder check (A4–A9).
//! - [`MomoError`] and [`ErrorClass`]: what a failure means for a payout worker (A11, A16).
//! - [`sandbox`]: creating a sandbox API user and key (A3).
//!
//! ```no_run
//! # async fn demo() -> Result<(), momo::MomoError> {
//! use momo::{Client, ClientConfig, TransferRequest};
//! let client = Client::new(ClientConfig::new("http://127.0.0.1:8091", "sub-key", "api-user", "api-key", "sandbox"))?;
//! let reference = uuid::Uuid::new_v4();
//! let request = TransferRequest::new(5000, "EUR", "redemption-42", "250788123456", "MBELYCO promo", "MBELYCO promo")?;
//! client.transfer(reference, &request, None).await?;
//! let status = client.transfer_status(reference).await?;
//! # let _ = status; Ok(()) }
//! ```

mod client;
mod error;
mod lenient;
pub mod sandbox;
pub mod types;
pub mod validate;

pub use client::{Accepted, Client, ClientConfig};
pub use error::{ErrorClass, MomoError, Operation};
pub use types::{
    AccountHolderActive, ApiKeyResponse, ApiUserInfo, ApiUserRequest, Balance, ErrorBody, Party, Reason, Status,
    TokenResponse, TransferRequest, TransferStatus,
};
pub use validate::InvalidRequest;
