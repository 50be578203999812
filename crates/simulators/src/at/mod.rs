//! The Africa's Talking gateway simulator: USSD (INTEGRATIONS.md B10) and the bulk SMS API.
//!
//! A [`Gateway`] posts each hop of a session to the app's callback URL exactly as AT does, checks
//! the answer as strictly as AT and the handset would, enforces AT's deadlines, and posts the
//! end-of-session notification. Its [`SmsCenter`] answers `POST /version1/messaging` as AT does
//! and records every message. [`serve`] puts a web phone (with its SMS inbox), the SMS API and a
//! JSON control API in front of it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), simulators::at::GatewayError> {
//! use simulators::at::{Gateway, GatewayConfig};
//! let gateway = Gateway::new(GatewayConfig::new("http://127.0.0.1:8080/api/v1/ussd/handle?secret=s"))?;
//! let (session, screen) = gateway.dial("+250788123456", None).await?;
//! println!("{}", screen.text);
//! let screen = session.send("1").await?;
//! # let _ = screen; Ok(()) }
//! ```

mod clock;
mod config;
mod events;
mod gateway;
mod hop;
mod screen;
mod session;
mod sms;
mod web;

pub use config::{GatewayConfig, PrefillMode, SmsConfig};
pub use events::{EventAttempt, EventDelivery};
pub use gateway::{DialOptions, Gateway, GatewayError};
pub use screen::{DuplicateReport, Screen, ScreenKind, Violation, GENERIC_ERROR};
pub use session::{HopRecord, Session, SessionSnapshot};
pub use sms::{SmsAnswer, SmsCenter, SmsFaults, SmsMessage};
pub use web::{router, serve};
