//! Reports (PRD 2.6, issue #21): the campaign's figures for finance and marketing, built from the
//! hourly rollups (`crate::stats`) into one document model ([`model::Report`]) that the HTML
//! view, CSV, PDF and scheduled e-mails all render.

pub mod model;
pub mod pdf;
