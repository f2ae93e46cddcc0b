//! # sspr-analytics
//!
//! An audit and reporting pipeline for Microsoft Entra ID self-service password reset (SSPR).
//! Collectors bring Entra audit events, registration details and Windows event logs into one
//! Hive-partitioned Parquet lake (Power BI-safe); DataFusion SQL turns it into reports.
//!
//! Layers talk only through Arrow `RecordBatch`es, the table schemas in [`store::schema`] and the
//! lake on disk: `cli → settings → commands → {collectors, store, query}`.
#![forbid(unsafe_code)]

pub mod charts;
pub mod cli;
pub mod collectors;
pub mod commands;
pub mod config;
pub mod error;
pub mod evtx_format;
pub mod export;
pub mod nightly;
pub mod output;
pub mod parallel;
pub mod progress;
pub mod query;
pub mod report;
pub mod rng;
pub mod sample;
pub mod settings;
pub mod store;
pub mod terminal;
pub mod util;

pub use error::{Error, Result};
