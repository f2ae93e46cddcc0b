//! `sspr lake verify` and `sspr lake stats`: check every file against its table's schema and the
//! Power BI-safe profile, and summarise what the lake holds.

use datafusion::arrow::array::{Array, Date32Array, TimestampMicrosecondArray};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::{Compression, Encoding};
use datafusion::parquet::file::metadata::ParquetMetaData;
use datafusion::parquet::file::metadata::ParquetMetaDataReader;
use object_store::ObjectStoreExt;
use serde::Serialize;

use crate::error::Result;
use crate::store::lake::{Lake, PartitionFile, decode};
use crate::store::schema::{
    META_SCHEMA_VERSION, META_TABLE, SCHEMA_VERSION, TableDef, all_tables, is_power_bi_safe,
};
use crate::util::from_date32;

/// One problem found in one file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub message: String,
}

/// The outcome of `lake verify`.
#[derive(Debug, Default, Serialize)]
pub struct VerifyReport {
    pub files_checked: usize,
    pub rows_checked: u64,
    pub problems: Vec<Problem>,
}

/// Checks every file of every table.
pub async fn verify(lake: &Lake) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    for table in all_tables() {
        for f in lake.list_files(table).await? {
            report.files_checked += 1;
            let problems = verify_file(lake, table, &f, &mut report.rows_checked).await;
            report
                .problems
                .extend(problems.into_iter().map(|message| Problem { file: f.rel.clone(), message }));
        }
    }
    Ok(report)
}

async fn verify_file(lake: &Lake, table: &TableDef, f: &PartitionFile, rows: &mut u64) -> Vec<String> {
    let mut p = Vec::new();
    let Some(date) = f.date else {
        p.push(format!(
            "does not follow the layout {}/{}=YYYY-MM-DD/part-0.parquet",
            table.name, table.partition_col
        ));
        return p;
    };
    let bytes = match lake.read_object(&f.key).await {
        Ok(b) => b,
        Err(e) => return vec![format!("cannot be read: {e}")],
    };
    let builder = match ParquetRecordBatchReaderBuilder::try_new(bytes.clone()) {
        Ok(b) => b,
        Err(e) => return vec![format!("is not a readable Parquet file: {e}")],
    };
    check_schema(table, builder.schema(), &mut p);
    check_profile(table, builder.metadata(), &mut p);
    *rows += builder.metadata().file_metadata().num_rows() as u64;
    if !p.is_empty() {
        return p;
    }
    match decode(bytes) {
        Ok(batches) => check_rows(table, date, &batches, &mut p),
        Err(e) => p.push(format!("rows cannot be decoded: {e}")),
    }
    p
}

fn check_schema(table: &TableDef, got: &datafusion::arrow::datatypes::SchemaRef, p: &mut Vec<String>) {
    let want = table.schema();
    for f in got.fields() {
        if !is_power_bi_safe(f.data_type()) {
            p.push(format!(
                "column {} has type {} outside the Power BI-safe profile",
                f.name(),
                f.data_type()
            ));
        }
    }
    let names = |s: &datafusion::arrow::datatypes::Schema| {
        s.fields().iter().map(|f| format!("{}:{}", f.name(), f.data_type())).collect::<Vec<_>>()
    };
    if names(got) != names(&want) {
        p.push(format!(
            "schema differs from table {} v{SCHEMA_VERSION}: file has [{}]",
            table.name,
            names(got).join(", ")
        ));
    }
}

fn check_profile(table: &TableDef, md: &ParquetMetaData, p: &mut Vec<String>) {
    let fm = md.file_metadata();
    if fm.version() != 1 {
        p.push(format!("writer version is {} (profile: 1.0)", fm.version()));
    }
    let kv = fm.key_value_metadata().cloned().unwrap_or_default();
    let get = |k: &str| kv.iter().find(|e| e.key == k).and_then(|e| e.value.clone());
    if get(META_SCHEMA_VERSION).as_deref() != Some(SCHEMA_VERSION) {
        p.push(format!(
            "footer {META_SCHEMA_VERSION} is {:?}, expected {SCHEMA_VERSION:?}",
            get(META_SCHEMA_VERSION)
        ));
    }
    if get(META_TABLE).as_deref() != Some(table.name) {
        p.push(format!("footer {META_TABLE} is {:?}, expected {:?}", get(META_TABLE), table.name));
    }
    if md.num_row_groups() == 0 {
        p.push("file has no row group (empty files are not published)".into());
    }
    let allowed = [Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY, Encoding::PLAIN_DICTIONARY];
    for (g, rg) in md.row_groups().iter().enumerate() {
        for c in rg.columns() {
            let name = c.column_path().string();
            if c.compression() != Compression::SNAPPY {
                p.push(format!(
                    "row group {g} column {name} is {:?}, profile requires SNAPPY",
                    c.compression()
                ));
            }
            for e in c.encodings() {
                if !allowed.contains(&e) {
                    p.push(format!("row group {g} column {name} uses encoding {e:?}"));
                }
            }
            if c.column_index_offset().is_none() || c.offset_index_offset().is_none() {
                p.push(format!(
                    "row group {g} column {name} has no page index (statistics must be page level)"
                ));
            }
        }
    }
}

fn check_rows(
    table: &TableDef,
    date: chrono::NaiveDate,
    batches: &[datafusion::arrow::array::RecordBatch],
    p: &mut Vec<String>,
) {
    for b in batches {
        if let Some(dates) =
            b.column_by_name(table.partition_col).and_then(|c| c.as_any().downcast_ref::<Date32Array>())
            && let Some((row, v)) = dates.iter().enumerate().find(|(_, v)| v.map(from_date32) != Some(date))
        {
            p.push(format!(
                "row {row} has {} = {:?} but lives in partition {date}",
                table.partition_col,
                v.map(from_date32)
            ));
            return;
        }
        // The table's time column (the first timestamp it sorts by) has no nulls when required.
        if let Some((time_col, times)) = table.sort_cols.iter().find_map(|c| {
            b.column_by_name(c)
                .and_then(|a| a.as_any().downcast_ref::<TimestampMicrosecondArray>())
                .map(|t| (*c, t))
        }) && times.null_count() > 0
            && !table.schema().field_with_name(time_col).map(|f| f.is_nullable()).unwrap_or(true)
        {
            p.push(format!("{time_col} has nulls"));
        }
    }
    if let Err(m) = check_sorted(table, batches) {
        p.push(m);
    }
}

/// Rows in the order of the table's sort columns, compared as one key (nulls first, as the
/// writer's sort puts them), across batch boundaries.
fn check_sorted(
    table: &TableDef,
    batches: &[datafusion::arrow::array::RecordBatch],
) -> std::result::Result<(), String> {
    use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};
    let Some(first) = batches.first() else { return Ok(()) };
    let (cols, fields): (Vec<&str>, Vec<SortField>) = table
        .sort_cols
        .iter()
        .filter_map(|c| first.column_by_name(c).map(|a| (*c, SortField::new(a.data_type().clone()))))
        .unzip();
    let converter = RowConverter::new(fields).map_err(|e| format!("sort columns: {e}"))?;
    let mut last: Option<OwnedRow> = None;
    let mut offset = 0;
    for b in batches {
        let columns: Vec<_> = cols.iter().filter_map(|c| b.column_by_name(c).cloned()).collect();
        let rows = converter.convert_columns(&columns).map_err(|e| format!("sort columns: {e}"))?;
        let unsorted = (0..rows.num_rows()).find(|&i| match i {
            0 => last.as_ref().is_some_and(|l| rows.row(0) < l.row()),
            _ => rows.row(i) < rows.row(i - 1),
        });
        if let Some(i) = unsorted {
            return Err(format!(
                "rows are not sorted by ({}): row {} sorts before row {}",
                cols.join(", "),
                offset + i,
                offset + i - 1
            ));
        }
        if rows.num_rows() > 0 {
            last = Some(rows.row(rows.num_rows() - 1).owned());
        }
        offset += b.num_rows();
    }
    Ok(())
}

/// Row count from the file footer, fetching only the footer (two small range reads).
async fn footer_rows(lake: &Lake, f: &PartitionFile) -> Result<i64> {
    let bad = |m: &str| crate::error::Error::Table { table: f.rel.clone(), message: m.to_string() };
    if f.size < 12 {
        return Err(bad("too small to be a Parquet file"));
    }
    let tail = lake.root.store.get_range(&f.key, f.size - 8..f.size).await?;
    if &tail[4..] != b"PAR1" {
        return Err(bad("has no Parquet footer"));
    }
    let len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if len + 8 > f.size {
        return Err(bad("footer length exceeds the file"));
    }
    let meta = lake.root.store.get_range(&f.key, f.size - 8 - len..f.size - 8).await?;
    Ok(ParquetMetaDataReader::decode_metadata(&meta)?.file_metadata().num_rows())
}

/// The lake files whose Parquet footer cannot be read (`table/partition/part-0.parquet: why`):
/// what a query that failed on a corrupt file names, since the engine's error does not.
pub(crate) async fn unreadable_footers(lake: &Lake) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for table in all_tables() {
        for f in lake.list_files(table).await? {
            if let Err(e) = footer_rows(lake, &f).await {
                let why = match e {
                    crate::error::Error::Table { message, .. } => message,
                    other => other.to_string(),
                };
                out.push(format!("{}: {why}", f.rel));
            }
        }
    }
    Ok(out)
}

/// Per-table figures for `lake stats`.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct TableStats {
    pub table: String,
    pub partitions: usize,
    pub rows: i64,
    pub bytes: u64,
    pub first_partition: Option<String>,
    pub last_partition: Option<String>,
}

/// Counts partitions, rows (from file footers) and bytes per table.
pub(crate) async fn stats(lake: &Lake) -> Result<Vec<TableStats>> {
    let mut out = Vec::new();
    for table in all_tables() {
        let files = lake.list_files(table).await?;
        let mut s = TableStats { table: table.name.into(), ..Default::default() };
        for f in &files {
            s.partitions += 1;
            s.bytes += f.size;
            s.rows += footer_rows(lake, f).await?;
        }
        let dates: Vec<_> = files.iter().filter_map(|f| f.date).collect();
        s.first_partition = dates.iter().min().map(|d| d.to_string());
        s.last_partition = dates.iter().max().map(|d| d.to_string());
        out.push(s);
    }
    Ok(out)
}
