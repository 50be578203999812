//! The MoMo client against the MoMo simulator over real HTTP.

mod callbacks;
mod errors;
mod helpers;
mod ledger;
mod transfers;
