//! Reports (PRD 2.6, issue #21): the campaign's figures for finance and marketing, built from the
//! hourly rollups (`crate::stats`) into one document model ([`model::Report`]) that the HTML
//! view, CSV, PDF and scheduled e-mails all render.

pub mod custom;
pub mod custom_api;
pub mod custom_build;
pub mod custom_pages;
pub mod custom_store;
pub mod custom_view;
pub mod model;
pub mod schedule;
pub mod schedule_api;
pub mod schedule_pages;
pub mod schedule_render;
pub mod schedule_run;
