//! The Power BI-safe Parquet profile and the atomic publication of one partition file.
//!
//! Profile (reference/storage-query.md §1.8): SNAPPY on every column, writer version 1.0 (data page
//! v1, PLAIN fallback, never DELTA_* encodings), dictionary on, page-level statistics (column and
//! offset index), row groups of at most 1,048,576 rows, data pages of at most 20,000 rows (fewer
//! where a table's page index must skip at a finer grain), schema version and source API in the
//! footer's key-value metadata. Rows arrive sorted by time from the merge step.
//!
//! Publication: local lakes write `<root>/_staging/<unique>.parquet`, fsync it, rename it over the
//! partition file and fsync the directory; object stores get a single `put` of the finished bytes
//! to the final key (atomic by the object_store contract). A reader sees the old file or the new
//! one, never a partial one.

use std::io::Write;

use bytes::Bytes;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use datafusion::parquet::schema::types::ColumnPath;
use object_store::{ObjectStoreExt, PutPayload};

use crate::error::{Error, Result};
use crate::store::layout::{LakeRoot, STAGING_DIR};
use crate::store::schema::{META_SCHEMA_VERSION, META_SOURCE_API, META_TABLE, SCHEMA_VERSION, TableDef};

/// Maximum rows per row group (parquet-rs and DataFusion default; Direct Lake prefers large ones).
const MAX_ROW_GROUP_ROWS: usize = 1_048_576;

/// Environment variable naming a crash point, used by tests to prove publication is atomic.
/// `after_staging` aborts the process after the staged file is written and before it is moved.
const FAILPOINT_ENV: &str = "SSPR_FAILPOINT";

/// The Power BI-safe profile, shared by lake partitions and `--format parquet` exports.
fn profile() -> datafusion::parquet::file::properties::WriterPropertiesBuilder {
    WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(Compression::SNAPPY)
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(MAX_ROW_GROUP_ROWS))
        .set_coerce_types(true)
}

/// Writer properties of the profile, with the table's metadata in the footer.
fn writer_properties(table: &TableDef) -> WriterProperties {
    let mut p = profile().set_data_page_row_count_limit(table.page_rows);
    for c in table.plain_cols {
        p = p.set_column_dictionary_enabled(ColumnPath::from(*c), false);
    }
    p.set_created_by(format!("sspr-analytics {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(META_SCHEMA_VERSION.into(), SCHEMA_VERSION.to_string()),
            KeyValue::new(META_TABLE.into(), table.name.to_string()),
            KeyValue::new(META_SOURCE_API.into(), table.source_api.to_string()),
        ]))
        .build()
}

fn write_all(
    batches: &[RecordBatch],
    schema: datafusion::arrow::datatypes::SchemaRef,
    props: WriterProperties,
) -> Result<Bytes> {
    let mut enc = Encoder::with(schema, props)?;
    for b in batches {
        enc.write(b)?;
    }
    enc.finish()
}

/// A Parquet file encoded in memory batch by batch (batches in its schema, in order).
pub(crate) struct Encoder {
    writer: ArrowWriter<Vec<u8>>,
}

impl Encoder {
    /// A partition file of `table`, in the lake's profile.
    pub(crate) fn new(table: &TableDef) -> Result<Self> {
        Self::with(table.schema(), writer_properties(table))
    }

    fn with(schema: datafusion::arrow::datatypes::SchemaRef, props: WriterProperties) -> Result<Self> {
        Ok(Self { writer: ArrowWriter::try_new(Vec::with_capacity(1 << 20), schema, Some(props))? })
    }

    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        Ok(self.writer.write(batch)?)
    }

    /// The finished file.
    pub(crate) fn finish(self) -> Result<Bytes> {
        Ok(Bytes::from(self.writer.into_inner()?))
    }
}

/// Encodes batches (already in the table schema, sorted) into one Parquet file in memory.
pub fn encode(table: &TableDef, batches: &[RecordBatch]) -> Result<Bytes> {
    write_all(batches, table.schema(), writer_properties(table))
}

/// Encodes an arbitrary result (e.g. a query's output) with the same profile, for `--out x.parquet`.
pub(crate) fn encode_any(
    batches: &[RecordBatch],
    schema: datafusion::arrow::datatypes::SchemaRef,
) -> Result<Bytes> {
    write_all(batches, schema, profile().build())
}

/// Publishes `bytes` at `rel` (a key relative to the lake root) atomically.
pub(crate) async fn publish(root: &LakeRoot, rel: &str, bytes: Bytes) -> Result<()> {
    if let Some(dir) = &root.local {
        let staging = dir.join(STAGING_DIR);
        std::fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        let tmp = staging.join(format!("{}-{}.parquet", std::process::id(), crate::util::unique_suffix()));
        // A failed write (a full disk) removes its own staged file: a run that cleaned
        // `_staging/` and then failed to write its ledger row must not leave one behind.
        let staged = (|| -> Result<()> {
            let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            f.write_all(&bytes).map_err(|e| Error::io(&tmp, e))?;
            f.sync_all().map_err(|e| Error::io(&tmp, e))
        })();
        if let Err(e) = staged {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        if std::env::var(FAILPOINT_ENV).as_deref() == Ok("after_staging") {
            eprintln!("failpoint after_staging: aborting before publish of {rel}");
            std::process::abort();
        }
        let target = dir.join(rel);
        let parent = target.parent().expect("partition key has a parent");
        let moved = std::fs::create_dir_all(parent)
            .map_err(|e| Error::io(parent, e))
            .and_then(|()| std::fs::rename(&tmp, &target).map_err(|e| Error::io(&target, e)));
        if let Err(e) = moved {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        if let Ok(d) = std::fs::File::open(parent) {
            let _ = d.sync_all();
        }
        return Ok(());
    }
    root.store.put(&root.key(rel), PutPayload::from_bytes(bytes)).await?;
    Ok(())
}

/// Removes what a crashed run left in `_staging/`.
pub(crate) async fn clean_staging(root: &LakeRoot) -> Result<usize> {
    let Some(dir) = &root.local else {
        return Ok(0);
    };
    let staging = dir.join(STAGING_DIR);
    let Ok(entries) = std::fs::read_dir(&staging) else {
        return Ok(0);
    };
    let mut n = 0;
    for e in entries.flatten() {
        if std::fs::remove_file(e.path()).is_ok() {
            n += 1;
        }
    }
    if n > 0 {
        tracing::info!(files = n, "Removed leftovers of an interrupted run from _staging.");
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::{PAGE_ROWS, RESET_ATTEMPTS};
    use datafusion::arrow::datatypes::DataType;
    use datafusion::common::ScalarValue;
    use datafusion::parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    use datafusion::parquet::file::metadata::PageIndexPolicy;

    /// `rows` rows of `table` with a constant value in every column.
    fn constant_batch(table: &TableDef, rows: usize) -> RecordBatch {
        let schema = table.schema();
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                let v = match f.data_type() {
                    DataType::Utf8 => ScalarValue::Utf8(Some("x".into())),
                    DataType::Boolean => ScalarValue::Boolean(Some(false)),
                    dt => ScalarValue::new_zero(dt).unwrap(),
                };
                v.to_array_of_size(rows).unwrap()
            })
            .collect();
        RecordBatch::try_new(schema, columns).unwrap()
    }

    /// Seen in CI: after a full disk, a run cleaned `_staging/`, then its ledger write failed
    /// too and left its staged file behind. A publish that fails removes what it staged (here the
    /// partition's folder cannot be made: a file stands where the table's folder should be).
    #[tokio::test]
    async fn a_failed_publish_leaves_nothing_in_staging() {
        let dir = tempfile::tempdir().unwrap();
        let root = LakeRoot::parse(dir.path().to_str().unwrap()).unwrap();
        std::fs::write(dir.path().join("audit_events"), b"not a folder").unwrap();
        let err =
            publish(&root, "audit_events/event_date=2026-11-01/part-0.parquet", Bytes::from_static(b"x"))
                .await
                .unwrap_err();
        assert!(err.to_string().contains("audit_events"), "{err}");
        let left: Vec<_> = std::fs::read_dir(dir.path().join(STAGING_DIR)).unwrap().flatten().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_table_gets_data_pages_of_at_most_its_page_rows() {
        assert!(RESET_ATTEMPTS.page_rows < PAGE_ROWS);
        let rows = 3 * PAGE_ROWS;
        let bytes = encode(&RESET_ATTEMPTS, &[constant_batch(&RESET_ATTEMPTS, rows)]).unwrap();
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
        let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(bytes, options).unwrap();
        let offsets = reader.metadata().offset_index().expect("a page index");
        for (c, column) in offsets[0].iter().enumerate() {
            let starts: Vec<i64> = column.page_locations().iter().map(|p| p.first_row_index).collect();
            let sizes: Vec<i64> = starts
                .windows(2)
                .map(|w| w[1] - w[0])
                .chain([rows as i64 - starts[starts.len() - 1]])
                .collect();
            // The limit is checked between the writer's 1,024-row mini-batches.
            assert!(sizes.iter().all(|&n| n as usize <= RESET_ATTEMPTS.page_rows), "column {c}: {sizes:?}");
            assert!(sizes.len() >= rows / RESET_ATTEMPTS.page_rows, "column {c}: {sizes:?}");
        }
    }
}
