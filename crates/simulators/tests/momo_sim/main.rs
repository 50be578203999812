//! The MoMo client against the MoMo simulator over real HTTP.

mod callbacks;
mod errors;
mod helpers;
mod landing;
mod ledger;
mod transfers;
