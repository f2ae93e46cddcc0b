//! Collectors bring evidence into the lake as Arrow batches of the table schemas. `files/` reads
//! offline exports; the live Graph and event-log collectors build on the same row builders,
//! quarantine and ledger.

mod checkpoint;
pub mod eventlog;
pub mod files;
pub mod graph;
pub mod import;
pub(crate) mod ledger;
mod rows;
