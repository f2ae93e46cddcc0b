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

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::store::ids::{KeyDays, Moved};
use crate::store::lake::{Lake, MergeStats};
use crate::store::schema::TableDef;
use crate::util::from_date32;

/// In-memory budget of a [`TableWriter`] before it spills partitions to disk.
const DEFAULT_BUFFER_BYTES: usize = 1024 << 20;

/// Splits a batch into one batch per value of the table's partition column.
fn split_by_partition(batch: &RecordBatch, table: &TableDef) -> Result<Vec<(i32, RecordBatch)>> {
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
    /// For a table whose key spans partitions: the day each key offered so far went to, and the
    /// lake's keys (read once, by the first merge).
    keys: Option<Keys>,
}

/// What a writer of a table whose key spans partitions checks each row against.
struct Keys {
    run: KeyDays,
    lake: Arc<tokio::sync::OnceCell<KeyDays>>,
    /// Rows of this run left out because the run gave their key another day first.
    moved: usize,
    first: Option<Moved>,
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
    pub(crate) fn new(lake: &Lake, table: &'static TableDef) -> Self {
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
            keys: table.key_across_partitions.then(|| Keys {
                run: KeyDays::default(),
                lake: Arc::new(tokio::sync::OnceCell::new()),
                moved: 0,
                first: None,
            }),
        }
    }

    /// Starts merging, in the background, every buffered partition more than a day outside
    /// `lo..=hi`, the dates of the rows just pushed: for input in time order (an EVTX log), days
    /// the reader has left behind. A partition merged early that gets rows again keeps them for
    /// [`TableWriter::finish`], which merges them after the early merge has published, so the
    /// outcome is the same as merging once at the end. Outside a Tokio runtime this does nothing.
    pub(crate) fn merge_settled(&mut self, lo: i32, hi: i32) {
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
            let (lake, table, keys) = (self.lake.clone(), self.table, self.lake_keys());
            self.early.insert(
                d,
                rt.spawn(async move { merge_buffered(&lake, table, d, buf, keys.as_deref()).await }),
            );
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
            let part = match &mut self.keys {
                // A key the run already gave another day keeps that day.
                Some(keys) => {
                    let (part, moved) = keys.run.keep(self.table, d, &part)?;
                    keys.run.record(self.table, d, &part)?;
                    keys.moved += moved.len();
                    if keys.first.is_none() {
                        keys.first = moved.into_iter().next();
                    }
                    part
                }
                None => part,
            };
            if part.num_rows() == 0 {
                continue;
            }
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
        if let Some(keys) = &self.keys
            && let Some(m) = &keys.first
        {
            tracing::warn!(
                "{}: {} row(s) of this run not stored: the run gave their {} another day first (first: {} on {}, again on {})",
                self.table.name,
                keys.moved,
                self.table.key_cols.join(", "),
                m.key,
                m.stored,
                m.offered
            );
            summary.merge.duplicates += keys.moved;
            summary.merge.elsewhere += keys.moved;
        }
        let parts = std::mem::take(&mut self.parts);
        let parallel = crate::util::cores();
        let lake_keys = self.lake_keys();
        let (lake, table, keys) = (&self.lake, self.table, lake_keys.as_deref());
        let results: Vec<(i32, Result<MergeStats>)> = futures::stream::iter(parts)
            .map(|(d, buf)| async move { (d, merge_buffered(lake, table, d, buf, keys).await) })
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

impl TableWriter {
    /// The lake's keys, for a table whose key spans partitions.
    fn lake_keys(&self) -> Option<Arc<tokio::sync::OnceCell<KeyDays>>> {
        self.keys.as_ref().map(|k| k.lake.clone())
    }
}

/// Merges one partition's buffered rows (spilled ones read back first) into the lake. With
/// `keys` (a table whose key spans partitions), rows whose key the lake stores under another
/// day are left out first; the first merge of the run reads the lake's keys.
async fn merge_buffered(
    lake: &Lake,
    table: &'static TableDef,
    d: i32,
    buf: PartBuf,
    keys: Option<&tokio::sync::OnceCell<KeyDays>>,
) -> Result<MergeStats> {
    let mut batches = Vec::new();
    for p in &buf.spills {
        let f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
        for b in FileReader::try_new(std::io::BufReader::new(f), None)? {
            batches.push(b?);
        }
        let _ = std::fs::remove_file(p);
    }
    batches.extend(buf.batches);
    let mut moved = Vec::new();
    if let Some(keys) = keys {
        let stored = keys.get_or_try_init(|| KeyDays::of_lake(lake, table)).await?;
        for b in &mut batches {
            let (kept, m) = stored.keep(table, d, b)?;
            *b = kept;
            moved.extend(m);
        }
    }
    let mut stats = lake.merge_partition(table, from_date32(d), batches).await?;
    if let Some(m) = moved.first() {
        tracing::warn!(
            "{}: {} row(s) for {} not stored: their {} is stored under another day (first: {} on {})",
            table.name,
            moved.len(),
            m.offered,
            table.key_cols.join(", "),
            m.key,
            m.stored
        );
    }
    stats.duplicates += moved.len();
    stats.elsewhere += moved.len();
    Ok(stats)
}

/// Convenience for tests and small writes: merges batches into their partitions at once.
pub(crate) async fn write_batches(
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
