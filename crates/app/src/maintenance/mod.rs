//! Maintenance (issue #23 item 5, decision 0054): the one rule "is the system in maintenance
//! now" ([`window::current`]: the operator's switch `backup.maintenanceMode`, or the weekly window
//! of the backup settings) and what follows from it:
//!
//! - USSD: every hop is answered `END` with the bilingual `maintenance` template, before any
//!   session state or redemption (`ussd::api`);
//! - the panel: a banner on every page of the shell, and the admin API's and panel's changes
//!   answer 503 with `Retry-After` ([`web`], checked once in `web::routes::authorize`);
//! - the payout worker claims no queued or retry-scheduled payout (no new MoMo transfer) but
//!   keeps resolving those in flight (`disbursement::worker`);
//! - the weekly window runs the `maintenance.run` job ([`job`]: clean-up of the USSD logs,
//!   VACUUM ANALYZE, ANALYZE; recorded in `maintenance_runs`, audited) and the e-mails of the
//!   backup settings before, after and on failure ([`notify`]), scheduled once a minute
//!   ([`schedule`]).

pub mod job;
pub mod notify;
pub mod runs;
pub mod schedule;
pub mod web;
pub mod window;

pub use window::{current, Reason, Window};
