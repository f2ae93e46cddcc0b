//! The lake: reading partitions and merging new rows into them idempotently (the partitioned
//! writer collectors stream their batches into is `table_writer.rs`).
//!
//! Merge rule: rows already in a partition win over new rows with the same natural key, and within
//! one run the first row seen wins, so importing the same input twice changes nothing (the
//! partition is not even rewritten). Memory is bounded by the largest single partition: a writer
//! keeps at most [`crate::store::table_writer::DEFAULT_BUFFER_BYTES`] of rows in memory and spills the rest to Arrow IPC files
//! in a temporary directory until the partition is merged.

use std::collections::HashSet;

use bytes::Bytes;
use chrono::NaiveDate;
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{
    SortColumn, concat, interleave_record_batch, lexsort_to_indices, take_record_batch,
};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;

use crate::error::{Error, Result};
use crate::store::layout::{LakeLock, LakeRoot, parse_partition, partition_rel};
use crate::store::schema::TableDef;
use crate::store::writer;

/// A lake opened at a root.
#[derive(Debug, Clone)]
pub struct Lake {
    pub root: LakeRoot,
    /// A job ([`Lake::lock_for_job`]) holds the writer lock for every writer of this handle.
    held: bool,
}

/// The writer lock as one writer holds it: its own, or none when a job around it holds it.
#[derive(Debug)]
pub struct LakeGuard(Option<LakeLock>);

impl LakeGuard {
    /// Releases the writer's own lock (a job's lock stays until the job releases it).
    pub async fn release(self) -> Result<()> {
        match self.0 {
            Some(lock) => lock.release().await,
            None => Ok(()),
        }
    }
}

/// One published partition file.
#[derive(Debug, Clone)]
pub struct PartitionFile {
    pub date: Option<NaiveDate>,
    /// Key relative to the lake root (`audit_events/event_date=…/part-0.parquet`).
    pub rel: String,
    pub key: Path,
    pub size: u64,
    /// What identifies this version of the file: the store's e-tag, else size and modification time.
    pub version: String,
    /// When the file was last written.
    pub modified: chrono::DateTime<chrono::Utc>,
}

/// What merging rows into one partition did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MergeStats {
    pub rows_before: usize,
    pub rows_after: usize,
    /// Rows offered that were not in the partition yet.
    pub rows_new: usize,
    /// Rows offered whose key was already present (in the partition or earlier in the run).
    pub duplicates: usize,
    /// Of the duplicates, rows whose key is stored under another partition (tables whose key
    /// spans partitions, see [`crate::store::ids`]).
    pub elsewhere: usize,
    pub published: bool,
}

impl MergeStats {
    pub(crate) fn add(&mut self, o: MergeStats) {
        self.rows_before += o.rows_before;
        self.rows_after += o.rows_after;
        self.rows_new += o.rows_new;
        self.duplicates += o.duplicates;
        self.elsewhere += o.elsewhere;
        self.published |= o.published;
    }
}

impl Lake {
    /// Opens (for local paths: creates) the lake at a path or URL.
    pub fn open(location: &str) -> Result<Self> {
        Ok(Self { root: LakeRoot::parse(location)?, held: false })
    }

    /// Opens the lake a writer (import, collect) fills: creates a local one that is not there
    /// yet, and says so with `true`, so a typo in `--lake` is seen at once.
    pub(crate) fn open_or_create(location: &str) -> Result<(Self, bool)> {
        let created = LakeRoot::local_dir(location).is_some_and(|d| !d.exists());
        Ok((Self::open(location)?, created))
    }

    /// Opens a lake that must already hold data (queries, build, verify, stats): a location that
    /// does not exist, or holds no table, is a usage error naming it, with the `lake/` folder
    /// inside it suggested when that is a lake (`sspr demo --dir D` writes `D/lake`).
    pub(crate) async fn open_existing(location: &str) -> Result<Self> {
        let missing = |what: &str| {
            let hint = LakeRoot::local_dir(location)
                .map(|d| d.join("lake"))
                .filter(|d| looks_like_lake(d))
                .map(|d| format!("; did you mean --lake {}?", d.display()))
                .unwrap_or_else(|| {
                    "; give --lake (or SSPR_LAKE, or `lake` in the config), or fill one with `sspr import`"
                        .into()
                });
            Error::usage(format!("no lake at {location}: {what}{hint}"))
        };
        if let Some(dir) = LakeRoot::local_dir(location) {
            if !dir.is_dir() {
                return Err(missing("the folder does not exist"));
            }
            if !looks_like_lake(&dir) {
                return Err(missing("the folder holds no lake table"));
            }
            return Self::open(location);
        }
        let lake = Self::open(location)?;
        let mut listing = lake.root.store.list(Some(&lake.root.prefix));
        if listing.try_next().await?.is_none() {
            return Err(missing("nothing is stored under that prefix"));
        }
        Ok(lake)
    }

    /// Takes the writer lock and cleans what an interrupted run left in `_staging/` (under a
    /// job's lock, nothing: the job took it and cleaned).
    pub async fn lock(&self) -> Result<LakeGuard> {
        if self.held {
            return Ok(LakeGuard(None));
        }
        let lock = LakeLock::acquire(&self.root).await?;
        writer::clean_staging(&self.root).await?;
        Ok(LakeGuard(Some(lock)))
    }

    /// Takes the writer lock for a whole job (`sspr nightly`): the returned handle's writers
    /// (import, collect, build) run under it without taking it again, and a second job, or any
    /// other writer, is refused until the lock is released.
    ///
    /// Also returns how many leftovers of an interrupted run it removed from `_staging/`.
    pub async fn lock_for_job(&self) -> Result<(Lake, LakeLock, usize)> {
        let lock = LakeLock::acquire(&self.root).await?;
        let cleaned = writer::clean_staging(&self.root).await?;
        Ok((Lake { root: self.root.clone(), held: true }, lock, cleaned))
    }

    /// Retention: removes the partitions of `table` dated before `cutoff`, oldest first, and
    /// returns their dates. A snapshot table keeps its newest snapshot whatever its date, so
    /// that a lake whose collection stopped still answers "who can reset" from what it last saw.
    /// Needs the writer lock (the caller holds it).
    pub(crate) async fn drop_partitions_before(
        &self,
        table: &TableDef,
        cutoff: NaiveDate,
    ) -> Result<Vec<NaiveDate>> {
        let mut dates: Vec<NaiveDate> = self.list_files(table).await?.iter().filter_map(|f| f.date).collect();
        dates.sort_unstable();
        dates.dedup();
        if table.partition_col == crate::store::schema::cols::SNAPSHOT_DATE {
            dates.pop();
        }
        let old: Vec<NaiveDate> = dates.into_iter().filter(|d| *d < cutoff).collect();
        for date in &old {
            let rel = partition_rel(table, *date);
            self.root.store.delete(&self.root.key(&rel)).await.map_err(|e| Error::Table {
                table: table.name.into(),
                message: format!("{rel}: could not remove it: {e}"),
            })?;
            // A local lake also loses the partition's folder, which the delete leaves empty.
            if let Some(file) = self.root.local_path(&rel)
                && let Some(dir) = file.parent()
            {
                let _ = std::fs::remove_dir(dir);
            }
        }
        Ok(old)
    }

    /// Every object under a table's folder, with its partition date when the key fits the layout.
    pub async fn list_files(&self, table: &TableDef) -> Result<Vec<PartitionFile>> {
        let prefix = self.root.table_key(table);
        let metas: Vec<_> = self.root.store.list(Some(&prefix)).try_collect().await?;
        let mut out: Vec<PartitionFile> = metas
            .into_iter()
            .filter_map(|m| {
                let full = m.location.as_ref();
                let rel_root = strip_prefix(full, self.root.prefix.as_ref())?;
                let rel_table = rel_root.strip_prefix(table.name)?.strip_prefix('/')?;
                Some(PartitionFile {
                    date: parse_partition(table, rel_table),
                    rel: rel_root.to_string(),
                    key: m.location.clone(),
                    size: m.size,
                    version: match &m.e_tag {
                        Some(tag) => format!("{}:{tag}", m.size),
                        None => format!("{}:{}", m.size, m.last_modified.timestamp_micros()),
                    },
                    modified: m.last_modified,
                })
            })
            .collect();
        out.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(out)
    }

    /// Reads one Parquet object fully.
    pub(crate) async fn read_object(&self, key: &Path) -> Result<Bytes> {
        Ok(self.root.store.get(key).await?.bytes().await?)
    }

    /// Reads a partition's rows (empty when the partition does not exist yet).
    async fn read_partition(&self, table: &TableDef, date: NaiveDate) -> Result<Vec<RecordBatch>> {
        let key = self.root.partition_key(table, date);
        let bytes = match self.root.store.get(&key).await {
            Ok(r) => r.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => return Ok(vec![]),
            Err(e) => return Err(e.into()),
        };
        let rel = partition_rel(table, date);
        let batches = decode(bytes)
            .map_err(|e| Error::Table { table: table.name.into(), message: format!("{rel}: {e}") })?;
        for b in &batches {
            if b.schema().fields() != table.schema().fields() {
                return Err(Error::Table {
                    table: table.name.into(),
                    message: format!(
                        "{rel} does not have the table's schema (version mismatch?); run `sspr lake verify`"
                    ),
                });
            }
        }
        Ok(batches)
    }

    /// Merges `new` rows (all of partition `date`) into the partition and publishes the result
    /// atomically. The partition is left untouched when no new key arrives.
    pub(crate) async fn merge_partition(
        &self,
        table: &'static TableDef,
        date: NaiveDate,
        new: Vec<RecordBatch>,
    ) -> Result<MergeStats> {
        let existing = self.read_partition(table, date).await?;
        // Concatenate, de-duplicate, sort and encode on the blocking pool, so several partitions
        // are merged in parallel (see TableWriter::finish).
        let (stats, bytes) =
            tokio::task::spawn_blocking(move || merge_and_encode(table, existing, new)).await.map_err(
                |e| Error::Table { table: table.name.into(), message: format!("merge task failed: {e}") },
            )??;
        if let Some(bytes) = bytes {
            writer::publish(&self.root, &partition_rel(table, date), bytes).await?;
        }
        Ok(stats)
    }
}

/// The CPU part of a merge: existing rows first (they win), new rows after, first of each key
/// kept, sorted, encoded. `None` bytes when nothing new arrived. Only the key and sort columns are
/// put together to decide which rows go where; the rows themselves are copied once, straight from
/// the input batches into sorted slices that are encoded one after the other.
fn merge_and_encode(
    table: &TableDef,
    existing: Vec<RecordBatch>,
    new: Vec<RecordBatch>,
) -> Result<(MergeStats, Option<Bytes>)> {
    let rows_before: usize = existing.iter().map(|b| b.num_rows()).sum();
    let offered: usize = new.iter().map(|b| b.num_rows()).sum();
    let all: Vec<RecordBatch> = existing.into_iter().chain(new).filter(|b| b.num_rows() > 0).collect();
    let keep = first_of_each_key(&all, table)?;
    let rows_after = keep.iter().filter(|k| **k).count();
    let rows_new = rows_after - rows_before;
    let stats = MergeStats {
        rows_before,
        rows_after,
        rows_new,
        duplicates: offered - rows_new,
        elsewhere: 0,
        published: rows_new > 0,
    };
    if rows_new == 0 {
        return Ok((stats, None));
    }
    // Global row number -> (batch, row), in sorted order, duplicates left out.
    let mut starts = Vec::with_capacity(all.len());
    let mut total = 0usize;
    for b in &all {
        starts.push(total);
        total += b.num_rows();
    }
    let sorted = sort_indices(&all, table)?;
    let mut enc = writer::Encoder::new(table)?;
    let in_order = rows_after == total && sorted.values().iter().enumerate().all(|(i, &g)| g as usize == i);
    if in_order && total >= all.len() * DIRECT_MIN_ROWS {
        // Already sorted with nothing to drop (a time-ordered export in big batches): the
        // batches are encoded as they are.
        for b in &all {
            enc.write(b)?;
        }
        return Ok((stats, Some(enc.finish()?)));
    }
    let order: Vec<(usize, usize)> = sorted
        .values()
        .iter()
        .map(|&g| g as usize)
        .filter(|&g| keep[g])
        .map(|g| {
            let b = starts.partition_point(|&s| s <= g) - 1;
            (b, g - starts[b])
        })
        .collect();
    let refs: Vec<&RecordBatch> = all.iter().collect();
    for slice in order.chunks(ENCODE_SLICE_ROWS) {
        enc.write(&interleave_record_batch(&refs, slice)?)?;
    }
    Ok((stats, Some(enc.finish()?)))
}

/// Rows per sorted slice handed to the Parquet encoder.
const ENCODE_SLICE_ROWS: usize = 64 * 1024;

/// Batches in order are encoded as they are when they hold at least this many rows on average
/// (below it, one copy into big slices costs less than the encoder's per-batch work).
const DIRECT_MIN_ROWS: usize = 512;

/// Column `name` of every batch, end to end.
fn column_of(batches: &[RecordBatch], name: &str) -> Result<ArrayRef> {
    let parts = batches
        .iter()
        .map(|b| Ok(b.column(b.schema().index_of(name)?).clone()))
        .collect::<Result<Vec<_>>>()?;
    match parts.as_slice() {
        [one] => Ok(one.clone()),
        _ => Ok(concat(&parts.iter().map(|a| a.as_ref()).collect::<Vec<&dyn Array>>())?),
    }
}

/// Whether each row (over all batches, in order) is the first of its natural key.
fn first_of_each_key(batches: &[RecordBatch], table: &TableDef) -> Result<Vec<bool>> {
    let Some(first) = batches.first() else { return Ok(Vec::new()) };
    let schema = first.schema();
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for k in table.key_cols {
        fields.push(SortField::new(schema.field(schema.index_of(k)?).data_type().clone()));
        columns.push(column_of(batches, k)?);
    }
    let converter = RowConverter::new(fields)?;
    let rows = converter.convert_columns(&columns)?;
    let mut seen = HashSet::with_capacity(rows.num_rows());
    Ok(rows.iter().map(|row| seen.insert(row)).collect())
}

/// The order of all rows (over all batches) by the table's sort columns, ties in input order.
fn sort_indices(batches: &[RecordBatch], table: &TableDef) -> Result<UInt32Array> {
    let cols = table
        .sort_cols
        .iter()
        .map(|c| Ok(SortColumn { values: column_of(batches, c)?, options: None }))
        .collect::<Result<Vec<_>>>()?;
    Ok(lexsort_to_indices(&cols, None)?)
}

fn strip_prefix<'a>(full: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix.is_empty() { Some(full) } else { full.strip_prefix(prefix)?.strip_prefix('/') }
}

/// Decodes a whole Parquet file into batches.
pub fn decode(bytes: Bytes) -> Result<Vec<RecordBatch>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)?.with_batch_size(65_536).build()?;
    Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
}

/// Sorts a batch by the table's sort columns (time first).
pub(crate) fn sort_batch(batch: &RecordBatch, table: &TableDef) -> Result<RecordBatch> {
    let schema = batch.schema();
    // The table's sort columns, then every other column in schema order: a total order, so rows
    // that tie on the sort columns (two errors of one code in the same microsecond) land in the
    // same order whatever order the engine's partitions delivered them in, and a rebuild of
    // unchanged inputs is byte-identical. Rows equal in every column are interchangeable.
    let order: Vec<usize> = table
        .sort_cols
        .iter()
        .map(|c| schema.index_of(c))
        .collect::<std::result::Result<Vec<_>, _>>()?
        .into_iter()
        .chain(
            (0..schema.fields().len())
                .filter(|i| !table.sort_cols.contains(&schema.field(*i).name().as_str())),
        )
        .collect();
    let cols: Vec<SortColumn> =
        order.into_iter().map(|i| SortColumn { values: batch.column(i).clone(), options: None }).collect();
    let idx = lexsort_to_indices(&cols, None)?;
    Ok(take_record_batch(batch, &idx)?)
}

/// Whether a local folder holds a lake: a table folder or the ingest ledger's state.
fn looks_like_lake(dir: &std::path::Path) -> bool {
    crate::store::schema::all_tables().any(|t| dir.join(t.name).is_dir())
        || dir.join(crate::store::layout::STATE_DIR).is_dir()
}

#[cfg(test)]
mod tests;
