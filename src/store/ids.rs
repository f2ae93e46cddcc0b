//! One row per key in the whole table, for the tables whose key does not follow from their
//! partition ([`TableDef::key_across_partitions`]: `audit_events`, keyed on `id`). The merge of
//! one partition de-duplicates within it; two exports that give one event two times on two days
//! (one in local time, a re-stamped copy) would otherwise store it under both. A writer checks
//! each new row against the days its key is already stored under, in the lake and earlier in the
//! run: the row stored first (or seen first in the run) stays, the other is a duplicate.
//!
//! Keys are held as 128-bit digests with their day, read only by a run that brings rows of such
//! a table; the README gives the cost measured on the bench lake.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use bytes::Bytes;
use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use futures::FutureExt;
use futures::TryStreamExt;
use futures::future::BoxFuture;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use crate::error::{Error, Result};
use crate::store::Lake;
use crate::store::schema::TableDef;
use crate::util::{date32, from_date32};

/// A key as 128 bits: two SipHash digests (std's fixed-key hasher) of its bytes, each with its
/// own prefix. Two of a billion distinct keys share one with odds of about 10⁻²¹.
type KeyHash = [u64; 2];

fn key_hash(key: &str) -> KeyHash {
    let h = |salt: u8| {
        let mut s = std::hash::DefaultHasher::new();
        salt.hash(&mut s);
        key.hash(&mut s);
        s.finish()
    };
    [h(0), h(1)]
}

/// A row left out because its key is stored under another day: the key, that day and the day
/// the row was offered for (the first of a run, for the warning).
#[derive(Debug, Clone)]
pub(crate) struct Moved {
    pub key: String,
    pub stored: chrono::NaiveDate,
    pub offered: chrono::NaiveDate,
}

/// The day (partition, as `Date32`) each key of a table is stored under.
#[derive(Debug, Default)]
pub(crate) struct KeyDays {
    days: HashMap<KeyHash, i32>,
}

impl KeyDays {
    /// Every key of `table` in the lake, reading only the key column of each partition file.
    pub(crate) async fn of_lake(lake: &Lake, table: &'static TableDef) -> Result<Self> {
        let key = single_key(table)?;
        let mut out = Self::default();
        for f in lake.list_files(table).await? {
            let Some(day) = f.date else { continue };
            let err = |e: &dyn std::fmt::Display| Error::Table {
                table: table.name.into(),
                message: format!("{}: reading its {key} column: {e}", f.rel),
            };
            let reader = StoredFile { store: lake.root.store.clone(), path: f.key.clone(), size: f.size };
            let builder = ParquetRecordBatchStreamBuilder::new(reader).await.map_err(|e| err(&e))?;
            let mask = ProjectionMask::columns(builder.parquet_schema(), [key]);
            let stream = builder.with_projection(mask).build().map_err(|e| err(&e))?;
            let batches: Vec<RecordBatch> = stream.try_collect().await.map_err(|e| err(&e))?;
            for b in &batches {
                for k in strings(b.column(0).as_ref(), table, key)?.iter().flatten() {
                    out.days.entry(key_hash(k)).or_insert(date32(day));
                }
            }
        }
        Ok(out)
    }

    /// The rows of `batch` (all of partition `day`) whose key is not stored under another day,
    /// and the ones left out.
    pub(crate) fn keep(
        &self,
        table: &TableDef,
        day: i32,
        batch: &RecordBatch,
    ) -> Result<(RecordBatch, Vec<Moved>)> {
        let keys = key_column(table, batch)?;
        let mut moved = Vec::new();
        let keep: BooleanArray = keys
            .iter()
            .map(|k| {
                let elsewhere = k.and_then(|k| match self.days.get(&key_hash(k)) {
                    Some(&d) if d != day => Some((k, d)),
                    _ => None,
                });
                if let Some((k, d)) = elsewhere {
                    moved.push(Moved {
                        key: k.to_string(),
                        stored: from_date32(d),
                        offered: from_date32(day),
                    });
                }
                Some(elsewhere.is_none())
            })
            .collect();
        if moved.is_empty() {
            return Ok((batch.clone(), moved));
        }
        Ok((filter_record_batch(batch, &keep)?, moved))
    }

    /// Records the keys of `batch` (all of partition `day`); a key already recorded keeps its day.
    pub(crate) fn record(&mut self, table: &TableDef, day: i32, batch: &RecordBatch) -> Result<()> {
        for k in key_column(table, batch)?.iter().flatten() {
            self.days.entry(key_hash(k)).or_insert(day);
        }
        Ok(())
    }
}

/// The one key column of a table whose key spans partitions.
fn single_key(table: &TableDef) -> Result<&'static str> {
    match table.key_cols {
        [one] => Ok(one),
        _ => Err(Error::Table {
            table: table.name.into(),
            message: "a key across partitions must be one column".into(),
        }),
    }
}

fn key_column<'a>(
    table: &TableDef,
    batch: &'a RecordBatch,
) -> Result<&'a datafusion::arrow::array::StringArray> {
    let key = single_key(table)?;
    strings(batch.column(batch.schema().index_of(key)?).as_ref(), table, key)
}

fn strings<'a>(
    a: &'a dyn Array,
    table: &TableDef,
    key: &str,
) -> Result<&'a datafusion::arrow::array::StringArray> {
    a.as_string_opt::<i32>().ok_or_else(|| Error::Table {
        table: table.name.into(),
        message: format!("key column {key} is {}, not a string", a.data_type()),
    })
}

/// A Parquet file in the lake's store, read by ranges: the footer, then only the column chunks
/// a projection needs (the key column of an audit partition is a tenth of its bytes).
struct StoredFile {
    store: std::sync::Arc<dyn ObjectStore>,
    path: object_store::path::Path,
    size: u64,
}

impl AsyncFileReader for StoredFile {
    fn get_bytes(&mut self, range: std::ops::Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<std::sync::Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .with_prefetch_hint(Some(64 * 1024))
                .load_and_finish(self, size)
                .await?;
            Ok(std::sync::Arc::new(metadata))
        }
        .boxed()
    }
}
