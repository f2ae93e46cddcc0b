//! `sspr import`: files and folders of exports into the lake, under the writer lock, with a
//! quarantine for bad records and one ledger row per file.

use std::path::PathBuf;

use chrono::{NaiveDate, Utc};
use serde::Serialize;

use crate::collectors::eventlog::{self, EventContext, Routing};
use crate::collectors::files::flatten::RowContext;
use crate::collectors::files::{self, FileFormat, FileReport, Writers};
use crate::collectors::ledger::{LedgerEntry, ledger_batch};
use crate::error::{Error, Result};
use crate::store::quarantine::Quarantine;
use crate::store::schema::{
    AUDIT_EVENTS, CREDENTIAL_PROVIDER_EVENTS, DC_SECURITY_EVENTS, INGEST_LEDGER, REGISTRATION_DETAILS,
    ROLE_ASSIGNMENTS, USERS, WRITEBACK_EVENTS,
};
use crate::store::table_writer::{TableWriteSummary, write_batches};
use crate::store::{Lake, TableWriter};

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub format: FileFormat,
    /// Snapshot date for registration and user files (else taken from the path, else today).
    pub snapshot_date: Option<NaiveDate>,
    /// Parser threads (default: available cores).
    pub threads: usize,
    /// Which event-log providers and ids go to which table.
    pub routing: Routing,
    /// Zone of times that event-log exports write without an offset (Export-Csv culture times).
    pub source_tz: chrono_tz::Tz,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            format: FileFormat::Auto,
            snapshot_date: None,
            threads: crate::util::cores(),
            routing: Routing::default(),
            source_tz: chrono_tz::UTC,
        }
    }
}

/// What an import did.
#[derive(Debug, Default, Serialize)]
pub struct ImportSummary {
    pub run_id: String,
    pub files: Vec<FileReport>,
    pub records: u64,
    pub quarantined: u64,
    /// Event-log records no routing rule keeps.
    pub skipped: u64,
    pub rows_new: usize,
    pub duplicates: usize,
    pub partitions_published: usize,
    pub quarantine_file: Option<String>,
    /// Seconds spent reading and parsing, and merging and publishing partitions.
    pub parse_seconds: f64,
    pub merge_seconds: f64,
    #[serde(skip)]
    pub tables: Vec<TableWriteSummary>,
}

impl ImportSummary {
    /// Files that could not be read to the end.
    pub fn incomplete_files(&self) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(|f| !f.complete)
    }
}

/// A file of which nothing was recognised (no record kept, no page, no event-log record) but
/// something went wrong is not an export at all: it fails with the list of what `sspr import`
/// reads, instead of looking like a file that was merely cut short.
fn flag_unrecognised(report: &mut FileReport) {
    let recognised = report.records.saturating_sub(report.quarantined) + report.pages + report.skipped;
    let exists = std::path::Path::new(&report.path).is_file();
    if !exists || recognised > 0 || (report.error.is_none() && report.quarantined == 0) {
        return;
    }
    report.complete = false;
    let why = match report.error.take() {
        Some(e) if e.starts_with("not a supported export") => {
            report.error = Some(e);
            return;
        }
        Some(e) => e,
        None => format!("none of its {} records is a known export record", report.quarantined),
    };
    report.error = Some(format!("not a supported export ({why}); sspr import reads {}", files::SUPPORTED));
}

/// Imports files and folders. A bad file is reported and skipped; the others still land. Holds
/// the writer lock, and releases it on every path, a failed import included.
pub async fn import(
    lake: &Lake,
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Fn(&FileReport),
) -> Result<ImportSummary> {
    let lock = lake.lock().await?;
    let run_id = crate::util::new_run_id();
    let started = Utc::now();
    let result = import_locked(lake, paths, opts, progress, &run_id, started).await;
    if let Err(e) = &result {
        record_failure(lake, &run_id, started, e).await;
    }
    let released = lock.release().await;
    let summary = result?;
    released?;
    Ok(summary)
}

/// A run that failed part-way (a full disk, a permission error) may have published some
/// partitions: its staging leftovers are removed and the ledger says it ran and failed, so the
/// completeness line shows it. Both are best effort: the disk may still be full.
async fn record_failure(lake: &Lake, run_id: &str, started: chrono::DateTime<Utc>, e: &Error) {
    if let Err(clean) = crate::store::writer::clean_staging(&lake.root).await {
        tracing::warn!(error = %clean, "Could not clean _staging after a failed import.");
    }
    let entry = LedgerEntry {
        run_id: run_id.to_string(),
        source: "import".into(),
        item: "run".into(),
        complete: false,
        error: Some(e.to_string()),
        started_at: started,
        finished_at: Some(Utc::now()),
        ..Default::default()
    };
    let written = match ledger_batch(&[entry]) {
        Ok(batch) => write_batches(lake, &INGEST_LEDGER, vec![batch]).await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(w) = written {
        tracing::warn!(error = %w, "Could not record the failed import in ingest_ledger.");
    }
}

async fn import_locked(
    lake: &Lake,
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Fn(&FileReport),
    run_id: &str,
    started: chrono::DateTime<Utc>,
) -> Result<ImportSummary> {
    let (found, missing) = files::discover(paths);
    let mut summary = ImportSummary { run_id: run_id.to_string(), files: missing, ..Default::default() };
    let mut quarantine = Quarantine::new(run_id)?;
    let mut writers = Writers {
        audit: TableWriter::new(lake, &AUDIT_EVENTS),
        registration: TableWriter::new(lake, &REGISTRATION_DETAILS),
        users: TableWriter::new(lake, &USERS),
        roles: TableWriter::new(lake, &ROLE_ASSIGNMENTS),
        writeback: TableWriter::new(lake, &WRITEBACK_EVENTS),
        credential_provider: TableWriter::new(lake, &CREDENTIAL_PROVIDER_EVENTS),
        dc_security: TableWriter::new(lake, &DC_SECURITY_EVENTS),
    };
    let parse_start = std::time::Instant::now();
    let mut land = |name: String, result: Result<FileReport>| {
        let mut report = match result {
            Ok(r) => r,
            Err(e) => FileReport { path: name, error: Some(e.to_string()), ..Default::default() },
        };
        flag_unrecognised(&mut report);
        for w in &report.warnings {
            tracing::warn!(file = %report.path, "{w}");
        }
        if let Some(e) = &report.error {
            tracing::warn!(file = %report.path, error = %e, "File could not be read to the end.");
        }
        progress(&report);
        summary.records += report.records;
        summary.quarantined += report.quarantined;
        summary.skipped += report.skipped;
        summary.files.push(report);
    };
    read_files(&found, opts, started.timestamp_micros(), &mut writers, &mut quarantine, &mut land);
    summary.parse_seconds = parse_start.elapsed().as_secs_f64();
    let merge_start = std::time::Instant::now();
    for w in [
        writers.audit,
        writers.registration,
        writers.users,
        writers.roles,
        writers.writeback,
        writers.credential_provider,
        writers.dc_security,
    ] {
        let t = w.finish().await?;
        summary.rows_new += t.merge.rows_new;
        summary.duplicates += t.merge.duplicates;
        summary.partitions_published += t.partitions_published;
        summary.tables.push(t);
    }
    summary.merge_seconds = merge_start.elapsed().as_secs_f64();
    tracing::info!(
        parse_seconds = summary.parse_seconds,
        merge_seconds = summary.merge_seconds,
        rows_new = summary.rows_new,
        "Imported."
    );
    summary.quarantine_file = quarantine.publish(&lake.root).await?;
    let entries = ledger_entries(&summary, started, Utc::now());
    write_batches(lake, &INGEST_LEDGER, vec![ledger_batch(&entries)?]).await?;
    Ok(summary)
}

/// Reads every file into the writers, handing each file's report to `land` in file order. Runs
/// of small export files (Graph pages, hourly archive blobs) are parsed several at once, a file
/// per worker; event logs and big files are read one at a time, each with its own parser threads.
fn read_files(
    found: &[PathBuf],
    opts: &ImportOptions,
    ingested_at: i64,
    writers: &mut Writers,
    quarantine: &mut Quarantine,
    land: &mut dyn FnMut(String, Result<FileReport>),
) {
    fn row_context<'n>(
        path: &std::path::Path,
        name: &'n str,
        opts: &ImportOptions,
        at: i64,
    ) -> RowContext<'n> {
        let snapshot = files::snapshot_date_for(path, opts.snapshot_date);
        RowContext { source_file: name, ingested_at: at, snapshot_date: crate::util::date32(snapshot) }
    }
    // Each file's event-log format (sniffed once), and whether it is a small export file.
    let kinds: Vec<(Option<eventlog::EventFormat>, bool)> = found
        .iter()
        .map(|p| {
            let log = eventlog::detect(p, opts.format);
            let small = std::fs::metadata(p).is_ok_and(|m| m.len() <= files::SMALL_FILE_BYTES);
            (log, log.is_none() && small)
        })
        .collect();
    let mut i = 0;
    while i < found.len() {
        let run = kinds[i..].iter().take_while(|(_, small)| *small).count();
        if run > 1 {
            let batch = &found[i..i + run];
            let mut next = batch.iter();
            crate::parallel::ordered(
                batch.iter(),
                opts.threads,
                2 * opts.threads,
                |path| {
                    let name = files::display(path);
                    files::parse_file(path, opts.format, &row_context(path, &name, opts, ingested_at), 1)
                },
                |parsed| {
                    // Results come in input order, one per file.
                    let Some(path) = next.next() else { return };
                    let result = match parsed {
                        Ok(Ok(p)) => files::write_parsed(p, writers, quarantine),
                        Ok(Err(e)) => Err(e),
                        Err(panicked) => {
                            Err(Error::Input { path: path.clone(), message: panicked.to_string() })
                        }
                    };
                    land(files::display(path), result);
                },
            );
            i += run;
            continue;
        }
        let (path, log) = (&found[i], kinds[i].0);
        i += 1;
        let name = files::display(path);
        let result = match log {
            Some(format) => {
                let ectx = EventContext {
                    source_file: &name,
                    ingested_at,
                    routing: &opts.routing,
                    source_tz: opts.source_tz,
                    threads: opts.threads,
                };
                eventlog::import_file(path, format, &ectx, writers, quarantine)
            }
            None => files::import_file(
                path,
                opts.format,
                &row_context(path, &name, opts, ingested_at),
                opts.threads,
                writers,
                quarantine,
            ),
        };
        land(name, result);
    }
}

/// The ledger rows of an import: one per file, and one for the run.
fn ledger_entries(
    summary: &ImportSummary,
    started: chrono::DateTime<Utc>,
    finished: chrono::DateTime<Utc>,
) -> Vec<LedgerEntry> {
    let mut entries: Vec<LedgerEntry> = summary
        .files
        .iter()
        .map(|f| LedgerEntry {
            run_id: summary.run_id.clone(),
            source: "file".into(),
            item: f.path.clone(),
            format: Some(f.format.clone()).filter(|s| !s.is_empty()),
            pages: Some(f.pages as i64),
            records: Some(f.records as i64),
            quarantined: Some(f.quarantined as i64),
            complete: f.complete,
            error: f.error.clone(),
            started_at: started,
            finished_at: Some(finished),
            ..Default::default()
        })
        .collect();
    entries.push(LedgerEntry {
        run_id: summary.run_id.clone(),
        source: "import".into(),
        item: "run".into(),
        records: Some(summary.records as i64),
        rows_new: Some(summary.rows_new as i64),
        duplicates: Some(summary.duplicates as i64),
        quarantined: Some(summary.quarantined as i64),
        complete: summary.files.iter().all(|f| f.complete),
        started_at: started,
        finished_at: Some(finished),
        ..Default::default()
    });
    entries
}
