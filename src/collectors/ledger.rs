//! The `ingest_ledger`: one row per collected file or slice, so every report can say which
//! sources and windows are complete.

use chrono::{DateTime, Utc};
use datafusion::arrow::array::RecordBatch;

use crate::collectors::rows::{BatchBuilder, Cell};
use crate::error::Result;
use crate::store::schema::INGEST_LEDGER;
use crate::util::date32;

/// One ledger row.
#[derive(Debug, Clone, Default)]
pub(crate) struct LedgerEntry {
    pub run_id: String,
    pub source: String,
    pub item: String,
    pub format: Option<String>,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub pages: Option<i64>,
    pub records: Option<i64>,
    pub rows_new: Option<i64>,
    pub duplicates: Option<i64>,
    pub retries: Option<i64>,
    pub throttled: Option<i64>,
    pub quarantined: Option<i64>,
    pub complete: bool,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Builds the ledger batch for a run's entries.
pub(crate) fn ledger_batch(entries: &[LedgerEntry]) -> Result<RecordBatch> {
    let mut b = BatchBuilder::new(INGEST_LEDGER.schema());
    for e in entries {
        b.push(&[
            e.run_id.as_str().into(),
            Cell::Date(Some(date32(e.started_at.date_naive()))),
            e.source.as_str().into(),
            e.item.as_str().into(),
            e.format.clone().into(),
            Cell::Ts(e.window_start.map(|t| t.timestamp_micros())),
            Cell::Ts(e.window_end.map(|t| t.timestamp_micros())),
            Cell::I64(e.pages),
            Cell::I64(e.records),
            Cell::I64(e.rows_new),
            Cell::I64(e.duplicates),
            Cell::I64(e.retries),
            Cell::I64(e.throttled),
            Cell::I64(e.quarantined),
            Cell::Bool(Some(e.complete)),
            e.error.clone().into(),
            Cell::Ts(Some(e.started_at.timestamp_micros())),
            Cell::Ts(e.finished_at.map(|t| t.timestamp_micros())),
        ]);
    }
    b.finish()
}
