//! `sspr export`: the lake's derived tables, the user snapshots (`users`,
//! `registration_details`), the reference tables and (with `--raw`) the other raw tables as Power
//! BI-safe Parquet in a folder or a storage account a refresh reads.
//!
//! ```text
//! <to>/_current.json                                   which export is complete and current
//! <to>/<export id>/_export.json                        its manifest
//! <to>/<export id>/<table>/<col>=YYYY-MM-DD/part-0.parquet
//! <to>/<export id>/<reference table>/part-0.parquet
//! ```
//!
//! **A refresh never sees a half-written file or a mix of two exports.** Each export is written
//! into a folder of its own that nothing points at yet; only when every file and the manifest
//! are in place does `_current.json` name it, with one atomic write (a local folder or SMB share:
//! a temporary file renamed over the old one; Azure Blob / ADLS Gen2: one PUT of one object,
//! which the service makes visible whole, where no rename of many objects exists). A reader that
//! follows `_current.json` therefore reads one complete export. The previous exports stay until
//! `keep` newer ones exist, so a refresh that read the pointer just before it moved still finds
//! every file it was promised.
//!
//! `since` makes an export incremental: only the partitions whose lake file changed after that
//! time (or, for `last`, since the export `_current.json` names) are written again; the others
//! are copied from the previous export (a server-side copy on Azure), so every export is still
//! complete while its unchanged files are byte-identical to the last one's, which is what Power
//! BI's incremental refresh of date partitions wants.

pub mod powerbi;
pub(crate) mod pseudonym;

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::query::context::{REFERENCE_TABLES, reference_batch};
use crate::store::Lake;
use crate::store::layout::{LakeLock, LakeRoot};
use crate::store::schema::{
    DERIVED_TABLES, RAW_TABLES, REGISTRATION_DETAILS, ROLE_ASSIGNMENTS, SCHEMA_VERSION, TableDef, USERS,
};
use crate::store::writer;

/// The pointer a reader follows to the current export.
pub const CURRENT: &str = "_current.json";
/// An export's manifest, in its folder.
pub const MANIFEST: &str = "_export.json";
/// The manifest's format; a reader refuses a newer one.
const MANIFEST_FORMAT: u32 = 1;
/// Exports kept (the current one included) unless `--keep` says otherwise.
pub const DEFAULT_KEEP: usize = 3;

/// The raw tables every export holds: the per-user snapshots a model's user dimension and
/// per-user drill-down read, and who holds which directory role (the event tables come with
/// `--raw`).
static DIMENSIONS: [&TableDef; 3] = [&REGISTRATION_DETAILS, &USERS, &ROLE_ASSIGNMENTS];

/// Which partitions an export writes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Since {
    /// Partitions whose lake file changed at or after this instant.
    Time(DateTime<Utc>),
    /// Partitions whose lake file differs from the one the current export copied.
    Last,
}

/// What to export and how.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExportOptions {
    /// The raw tables too (audit events, registration details, users, event logs).
    pub raw: bool,
    pub since: Option<Since>,
    /// Exports kept, the new one included (at least 1).
    pub keep: usize,
    /// Replace identities by keyed tokens ([`pseudonym`]).
    pub pseudonymize: Option<pseudonym::Pseudonymizer>,
}

/// The manifest: what an export holds and what it came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub export_id: String,
    pub created: DateTime<Utc>,
    /// The lake it was read from.
    pub lake: String,
    pub schema_version: String,
    pub tool_version: String,
    /// `None` for a full export; else what `--since` said.
    pub since: Option<String>,
    /// How identities were replaced, when they were (never the key).
    pub pseudonymized: Option<pseudonym::Description>,
    pub tables: Vec<TableEntry>,
}

/// One exported table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableEntry {
    pub name: String,
    /// `derived`, `dimension` (the user snapshots, always exported), `reference` or `raw`.
    pub kind: String,
    /// The DATE column its folders are named by (also inside every file); none for reference
    /// tables, which are one file.
    pub partition_column: Option<String>,
    pub columns: Vec<Column>,
    pub rows: u64,
    pub files: Vec<FileEntry>,
}

/// A column as the Parquet files store it (`string`, `boolean`, `int32`, `int64`, `double`,
/// `date`, `timestamp_us_utc`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// One exported file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// Relative to the export's folder.
    pub path: String,
    pub partition: Option<NaiveDate>,
    pub rows: u64,
    pub bytes: u64,
    /// The lake file's version (e-tag or size and time) it was made from.
    pub source_version: Option<String>,
    /// The lake file's last modification.
    pub source_modified: Option<DateTime<Utc>>,
    /// Copied from the previous export instead of written again (`--since`).
    pub carried: bool,
}

/// `_current.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Current {
    pub export_id: String,
    /// The manifest, relative to the export root.
    pub manifest: String,
    pub created: DateTime<Utc>,
}

/// What an export did.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub manifest: Manifest,
    pub written: usize,
    pub carried: usize,
    /// Older exports removed by the retention.
    pub removed: Vec<String>,
}

/// A column type in the manifest's words.
fn column_kind(t: &datafusion::arrow::datatypes::DataType) -> String {
    use datafusion::arrow::datatypes::DataType as D;
    match t {
        D::Utf8 | D::LargeUtf8 | D::Utf8View => "string",
        D::Boolean => "boolean",
        D::Int32 => "int32",
        D::Int64 => "int64",
        D::Float64 => "double",
        D::Date32 => "date",
        D::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, Some(_)) => "timestamp_us_utc",
        other => return format!("unsupported:{other}"),
    }
    .to_string()
}

fn columns_of(schema: &datafusion::arrow::datatypes::Schema) -> Vec<Column> {
    schema
        .fields()
        .iter()
        .map(|f| Column { name: f.name().clone(), kind: column_kind(f.data_type()) })
        .collect()
}

/// Reads `_current.json` and the manifest it names; `None` when nothing was exported yet.
pub(crate) async fn current(target: &LakeRoot) -> Result<Option<(Current, Manifest)>> {
    let bad = |what: &str, e: String| Error::Config(format!("{}/{what}: {e}", target.location));
    let pointer = match target.store.get(&target.key(CURRENT)).await {
        Ok(r) => r.bytes().await?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let cur: Current = serde_json::from_slice(&pointer).map_err(|e| bad(CURRENT, e.to_string()))?;
    let bytes = target.store.get(&target.key(&cur.manifest)).await?.bytes().await?;
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| bad(&cur.manifest, e.to_string()))?;
    if manifest.format > MANIFEST_FORMAT {
        return Err(bad(
            &cur.manifest,
            format!("manifest format {} is newer than this tool", manifest.format),
        ));
    }
    Ok(Some((cur, manifest)))
}

/// Exports `lake` into `target` (see the module documentation).
pub(crate) async fn export(
    lake: &Lake,
    target: &LakeRoot,
    opts: &ExportOptions,
    now: DateTime<Utc>,
) -> Result<ExportSummary> {
    // One export into a target at a time; the lake itself is only read.
    let lock = LakeLock::acquire(target).await?;
    let result = export_locked(lake, target, opts, now).await;
    lock.release().await?;
    result
}

async fn export_locked(
    lake: &Lake,
    target: &LakeRoot,
    opts: &ExportOptions,
    now: DateTime<Utc>,
) -> Result<ExportSummary> {
    writer::clean_staging(target).await?;
    let previous = current(target).await?;
    let id = export_id(target, now).await?;
    let pseudo = opts.pseudonymize.as_ref();
    // A previous export's files can be carried only when they were made the same way.
    let reusable = previous.as_ref().filter(|(_, m)| m.pseudonymized == pseudo.map(|p| p.describe()));
    let mut carried_from: BTreeMap<(String, String), &FileEntry> = BTreeMap::new();
    if let Some((_, m)) = reusable {
        for t in &m.tables {
            for f in &t.files {
                carried_from.insert((t.name.clone(), f.path.clone()), f);
            }
        }
    }
    let since = match (&opts.since, reusable) {
        (Some(s), Some(_)) => Some(s.clone()),
        // Nothing to carry from: everything is written.
        _ => None,
    };
    let mut tables = Vec::new();
    let (mut written, mut carried) = (0, 0);
    let mut chosen: Vec<(&TableDef, &str)> = DERIVED_TABLES.iter().map(|t| (*t, "derived")).collect();
    chosen.extend(DIMENSIONS.iter().map(|t| (*t, "dimension")));
    if opts.raw {
        chosen.extend(
            RAW_TABLES.iter().filter(|t| !DIMENSIONS.iter().any(|d| d.name == t.name)).map(|t| (*t, "raw")),
        );
    }
    if let Some(p) = pseudo {
        p.learn(lake).await?;
    }
    for (table, kind) in chosen {
        let mut entry = TableEntry {
            name: table.name.to_string(),
            kind: kind.to_string(),
            partition_column: Some(table.partition_col.to_string()),
            columns: columns_of(&table.schema()),
            rows: 0,
            files: Vec::new(),
        };
        for file in lake.list_files(table).await? {
            if file.date.is_none() || !file.rel.ends_with(".parquet") {
                continue;
            }
            let key_in_export = format!("{id}/{}", file.rel);
            let prior = carried_from.get(&(table.name.to_string(), file.rel.clone()));
            let changed = match (&since, prior) {
                (None, _) | (_, None) => true,
                (Some(Since::Last), Some(p)) => p.source_version.as_deref() != Some(file.version.as_str()),
                (Some(Since::Time(t)), Some(_)) => file.modified >= *t,
            };
            let f = if changed {
                let bytes = lake.read_object(&file.key).await?;
                let bytes = match pseudo {
                    Some(p) => p.rewrite(table, &file.rel, bytes)?,
                    None => bytes,
                };
                let rows = parquet_rows(&bytes, &file.rel)?;
                let size = bytes.len() as u64;
                writer::publish(target, &key_in_export, bytes).await?;
                written += 1;
                FileEntry {
                    path: file.rel.clone(),
                    partition: file.date,
                    rows,
                    bytes: size,
                    source_version: Some(file.version.clone()),
                    source_modified: Some(file.modified),
                    carried: false,
                }
            } else {
                let prior = prior.expect("unchanged means there is a prior file");
                let (_, m) = reusable.expect("a prior file comes from a previous export");
                let from = target.key(&format!("{}/{}", m.export_id, file.rel));
                target.store.copy(&from, &target.key(&key_in_export)).await?;
                carried += 1;
                FileEntry { carried: true, ..(*prior).clone() }
            };
            entry.rows += f.rows;
            entry.files.push(f);
        }
        tables.push(entry);
    }
    for (name, csv) in REFERENCE_TABLES {
        let batch = reference_batch(name, csv)?;
        let bytes = writer::encode_any(std::slice::from_ref(&batch), batch.schema())?;
        let rel = format!("{name}/part-0.parquet");
        let size = bytes.len() as u64;
        writer::publish(target, &format!("{id}/{rel}"), bytes).await?;
        written += 1;
        tables.push(TableEntry {
            name: name.to_string(),
            kind: "reference".into(),
            partition_column: None,
            columns: columns_of(&batch.schema()),
            rows: batch.num_rows() as u64,
            files: vec![FileEntry {
                path: rel,
                partition: None,
                rows: batch.num_rows() as u64,
                bytes: size,
                source_version: None,
                source_modified: None,
                carried: false,
            }],
        });
    }
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        export_id: id.clone(),
        created: now,
        lake: lake.root.location.clone(),
        schema_version: SCHEMA_VERSION.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        since: opts.since.as_ref().map(|s| match s {
            Since::Time(t) => t.to_rfc3339(),
            Since::Last => "last".into(),
        }),
        pseudonymized: pseudo.map(|p| p.describe()),
        tables,
    };
    let manifest_rel = format!("{id}/{MANIFEST}");
    let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
    writer::publish(target, &manifest_rel, Bytes::from(json)).await?;
    // The one step that makes the export visible.
    let pointer = Current { export_id: id.clone(), manifest: manifest_rel, created: now };
    let json = serde_json::to_vec_pretty(&pointer).expect("a pointer serialises");
    writer::publish(target, CURRENT, Bytes::from(json)).await?;
    let removed = retain(target, opts.keep.max(1), &id).await?;
    Ok(ExportSummary { manifest, written, carried, removed })
}

/// How an export's folder names its start time (to the microsecond, so names sort by time).
const ID_TIME: &str = "%Y%m%dT%H%M%S%6fZ";

/// A new export's folder name: `export-` and the time it started, later than every export in the
/// target (a clock that went back, or two exports in one microsecond, move it just past the
/// newest), so that the names sort in the order the exports were made and retention keeps the
/// newest.
async fn export_id(target: &LakeRoot, now: DateTime<Utc>) -> Result<String> {
    let newest = export_folders(target)
        .await?
        .iter()
        .filter_map(|n| n.strip_prefix("export-"))
        .filter_map(|t| chrono::NaiveDateTime::parse_from_str(t, ID_TIME).ok())
        .max()
        .map(|t| t.and_utc());
    let at = match newest {
        Some(n) if n >= now => n + chrono::Duration::microseconds(1),
        _ => now,
    };
    Ok(format!("export-{}", at.format(ID_TIME)))
}

/// The export folders in the target, oldest first (their names sort by time).
async fn export_folders(target: &LakeRoot) -> Result<Vec<String>> {
    let listed = target.store.list_with_delimiter(Some(&target.prefix)).await?;
    let mut out: Vec<String> = listed
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename().map(str::to_string))
        // Only this tool's names: a folder someone else made is neither counted nor removed.
        .filter(|n| {
            n.strip_prefix("export-")
                .is_some_and(|t| chrono::NaiveDateTime::parse_from_str(t, ID_TIME).is_ok())
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Removes all but the newest `keep` exports (never `current`).
async fn retain(target: &LakeRoot, keep: usize, current: &str) -> Result<Vec<String>> {
    let folders = export_folders(target).await?;
    let old = folders.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for id in folders.into_iter().take(old).filter(|id| id != current) {
        let prefix = target.key(&id);
        let keys: Vec<Path> = target.store.list(Some(&prefix)).map_ok(|m| m.location).try_collect().await?;
        for k in keys {
            target.store.delete(&k).await?;
        }
        if let Some(dir) = target.local_path(&id) {
            let _ = std::fs::remove_dir_all(dir);
        }
        removed.push(id);
    }
    Ok(removed)
}

/// The rows a Parquet file holds, from its footer.
fn parquet_rows(bytes: &Bytes, name: &str) -> Result<u64> {
    let meta =
        parquet::file::metadata::ParquetMetaDataReader::new().parse_and_finish(bytes).map_err(|e| {
            Error::Table { table: name.to_string(), message: format!("not a readable Parquet file: {e}") }
        })?;
    Ok(meta.file_metadata().num_rows() as u64)
}
