//! The partitioned writer collectors stream their batches into: rows are buffered per
//! partition, partitions the input has moved past are merged while it goes on, the rest spills
//! to disk past a memory budget, and every partition still buffered is merged at the end (the
//! merge itself, idempotent on the natural key, is [`Lake::merge_partition`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use datafusion::arrow::array::{Array, Date32Array, RecordBatch, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::FileWriter;

use crate::error::{Error, Result};
use crate::store::lake::{Lake, MergeStats};
use crate::store::schema::TableDef;
use crate::util::from_date32;

/// In-memory budget of a [`TableWriter`] before it spills partitions to disk.
pub const DEFAULT_BUFFER_BYTES: usize = 1024 << 20;

/// Splits a batch into one batch per value of the table's partition column.
pub fn split_by_partition(batch: &RecordBatch, table: &TableDef) -> Result<Vec<(i32, RecordBatch)>> {
    let i = batch.schema().index_of(table.partition_col)?;
    let dates = batch.column(i).as_any().downcast_ref::<Date32Array>().ok_or_else(|| Error::Table {
        table: table.name.into(),
        message: format!("partition column {} is not a DATE", table.partition_col),
    })?;
    let mut groups: BTreeMap<i32, Vec<u32>> = BTreeMap::new();
    for (row, d) in dates.iter().enumerate() {
        let d = d.ok_or_else(|| Error::Table {
            table: table.name.into(),
            message: format!("row {row} has no {}", table.partition_col),
        })?;
        groups.entry(d).or_default().push(row as u32);
    }
    if groups.len() == 1 {
        let (d, _) = groups.into_iter().next().expect("one group");
        return Ok(vec![(d, batch.clone())]);
    }
    groups.into_iter().map(|(d, rows)| Ok((d, take_record_batch(batch, &UInt32Array::from(rows))?))).collect()
}

#[derive(Default)]
struct PartBuf {
    batches: Vec<RecordBatch>,
    bytes: usize,
    spills: Vec<PathBuf>,
}

/// Streams batches of one table into the lake: buffers them per partition, merges the partitions
/// the input has moved away from while it goes on ([`TableWriter::merge_settled`]), spills to disk
/// past a memory budget, and merges every partition still buffered on [`TableWriter::finish`].
pub struct TableWriter {
    lake: Lake,
    table: &'static TableDef,
    schema: SchemaRef,
    parts: BTreeMap<i32, PartBuf>,
    buffered: usize,
    budget: usize,
    spill_dir: Option<tempfile::TempDir>,
    offered: usize,
    /// Merges started early, by partition (at most one each; later rows wait for `finish`).
    early: BTreeMap<i32, tokio::task::JoinHandle<Result<MergeStats>>>,
    spill_count: usize,
}

/// What a [`TableWriter`] did.
#[derive(Debug, Default, Clone)]
pub struct TableWriteSummary {
    pub table: &'static str,
    pub partitions_touched: usize,
    pub partitions_published: usize,
    /// Summed over merges; a partition merged early and again at the end counts in both
    /// (`rows_new` and `duplicates` stay exact, `rows_before` / `rows_after` then overlap).
    pub merge: MergeStats,
    pub rows_offered: usize,
}

impl TableWriter {
    pub fn new(lake: &Lake, table: &'static TableDef) -> Self {
        Self::with_budget(lake, table, DEFAULT_BUFFER_BYTES)
    }

    pub fn with_budget(lake: &Lake, table: &'static TableDef, budget: usize) -> Self {
        Self {
            lake: lake.clone(),
            table,
            schema: table.schema(),
            parts: BTreeMap::new(),
            buffered: 0,
            budget,
            spill_dir: None,
            offered: 0,
            early: BTreeMap::new(),
            spill_count: 0,
        }
    }

    /// Starts merging, in the background, every buffered partition more than a day outside
    /// `lo..=hi`, the dates of the rows just pushed: for input in time order (an EVTX log), days
    /// the reader has left behind. A partition merged early that gets rows again keeps them for
    /// [`TableWriter::finish`], which merges them after the early merge has published, so the
    /// outcome is the same as merging once at the end. Outside a Tokio runtime this does nothing.
    pub fn merge_settled(&mut self, lo: i32, hi: i32) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let settled: Vec<i32> = self
            .parts
            .keys()
            .copied()
            .filter(|&d| {
                (d < lo.saturating_sub(1) || d > hi.saturating_add(1)) && !self.early.contains_key(&d)
            })
            .collect();
        for d in settled {
            let buf = self.parts.remove(&d).expect("key from the map");
            self.buffered -= buf.bytes;
            let (lake, table) = (self.lake.clone(), self.table);
            self.early.insert(d, rt.spawn(async move { merge_buffered(&lake, table, d, buf).await }));
        }
    }

    /// Adds rows (in the table's schema). Partitions more than a day away from every row of
    /// `batch` are merged in the background ([`TableWriter::merge_settled`]): inputs come in time
    /// order (Graph pages, archive folders, event logs), so those are days the input has left.
    /// Spills the largest partition when still over budget.
    pub fn push(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if batch.schema().fields() != self.schema.fields() {
            return Err(Error::Table {
                table: self.table.name.into(),
                message: "batch does not match the table schema".into(),
            });
        }
        self.offered += batch.num_rows();
        let parts = split_by_partition(&batch, self.table)?;
        let span = parts.first().zip(parts.last()).map(|((lo, _), (hi, _))| (*lo, *hi));
        for (d, part) in parts {
            let size = part.get_array_memory_size();
            let buf = self.parts.entry(d).or_default();
            buf.bytes += size;
            buf.batches.push(part);
            self.buffered += size;
        }
        if let Some((lo, hi)) = span {
            self.merge_settled(lo, hi);
        }
        while self.buffered > self.budget {
            self.spill_largest()?;
        }
        Ok(())
    }

    fn spill_largest(&mut self) -> Result<()> {
        let Some((&d, _)) = self.parts.iter().max_by_key(|(_, b)| b.bytes) else {
            return Ok(());
        };
        if self.spill_dir.is_none() {
            self.spill_dir = Some(tempfile::tempdir().map_err(|e| Error::io("spill dir", e))?);
        }
        let dir = self.spill_dir.as_ref().expect("created above").path().to_path_buf();
        let buf = self.parts.get_mut(&d).expect("key from iteration");
        // Named by a counter of the writer: a partition merged early may be buffered and spilled
        // again while its first spill files are still being read.
        self.spill_count += 1;
        let path = dir.join(format!("{}-{d}-{}.arrow", self.table.name, self.spill_count));
        let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut w = FileWriter::try_new(std::io::BufWriter::new(file), &self.schema)?;
        for b in buf.batches.drain(..) {
            w.write(&b)?;
        }
        w.finish()?;
        self.buffered -= buf.bytes;
        buf.bytes = 0;
        buf.spills.push(path);
        Ok(())
    }

    /// Merges every touched partition into the lake, as many at once as there are cores (after
    /// the merges [`TableWriter::merge_settled`] started have finished).
    pub async fn finish(mut self) -> Result<TableWriteSummary> {
        use futures::StreamExt;
        let mut summary =
            TableWriteSummary { table: self.table.name, rows_offered: self.offered, ..Default::default() };
        let (mut touched, mut published) = (BTreeSet::new(), BTreeSet::new());
        let mut count = |d: i32, stats: MergeStats, summary: &mut TableWriteSummary| {
            touched.insert(d);
            if stats.published {
                published.insert(d);
            }
            summary.merge.add(stats);
        };
        for (d, task) in std::mem::take(&mut self.early) {
            let stats = task.await.map_err(|e| Error::Table {
                table: self.table.name.into(),
                message: format!("merge task failed: {e}"),
            })??;
            count(d, stats, &mut summary);
        }
        let parts = std::mem::take(&mut self.parts);
        let parallel = crate::util::cores();
        let (lake, table) = (&self.lake, self.table);
        let results: Vec<(i32, Result<MergeStats>)> = futures::stream::iter(parts)
            .map(|(d, buf)| async move { (d, merge_buffered(lake, table, d, buf).await) })
            .buffer_unordered(parallel)
            .collect()
            .await;
        for (d, stats) in results {
            count(d, stats?, &mut summary);
        }
        summary.partitions_touched = touched.len();
        summary.partitions_published = published.len();
        Ok(summary)
    }
}

impl Drop for TableWriter {
    /// A writer dropped without [`TableWriter::finish`] (the import failed) stops the merges it
    /// started; each publishes atomically, so a partition is either merged or left as it was.
    fn drop(&mut self) {
        for task in self.early.values() {
            task.abort();
        }
    }
}

/// Merges one partition's buffered rows (spilled ones read back first) into the lake.
async fn merge_buffered(lake: &Lake, table: &'static TableDef, d: i32, buf: PartBuf) -> Result<MergeStats> {
    let mut batches = Vec::new();
    for p in &buf.spills {
        let f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
        for b in FileReader::try_new(std::io::BufReader::new(f), None)? {
            batches.push(b?);
        }
        let _ = std::fs::remove_file(p);
    }
    batches.extend(buf.batches);
    lake.merge_partition(table, from_date32(d), batches).await
}

/// Convenience for tests and small writes: merges batches into their partitions at once.
pub async fn write_batches(
    lake: &Lake,
    table: &'static TableDef,
    batches: Vec<RecordBatch>,
) -> Result<TableWriteSummary> {
    let mut w = TableWriter::new(lake, table);
    for b in batches {
        w.push(b)?;
    }
    w.finish().await
}
