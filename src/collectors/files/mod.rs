//! Offline exports: Graph JSON responses (`directoryAudits`, `userRegistrationDetails`, `users`;
//! single page, array of pages, or JSON lines), the diagnostic-settings archive (`PT1H.json`
//! JSON lines under `insights-logs-auditlogs/…`), and Log Analytics `AuditLogs` exports (JSON
//! lines with dynamic columns as JSON strings, or CSV).
//!
//! Pipeline per file: a [`scan::Splitter`] (or the CSV reader) cuts the file into units on one
//! thread while worker threads parse bundles of units into Arrow rows; bundles are processed in
//! order, so results are deterministic. A run of small files (Graph pages of a thousand events,
//! hourly archive blobs) is parsed several files at once instead ([`parse_file`]), one file per
//! worker, and written in file order ([`write_parsed`]): a page is one unit, so within-file
//! parallelism would leave all but one core idle. Bad records go to the quarantine with file,
//! line, byte offset and reason; a broken file stops only that file.

pub mod flatten;
mod format;
mod lex;
pub mod parse;
mod portal;
mod read;
mod record;
mod roles;
pub mod scan;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::collectors::files::flatten::RowContext;
use crate::collectors::files::parse::Sink;
use crate::collectors::files::read::{BUNDLE_BYTES, Failure, read_file};
use crate::error::{Error, Result};
use crate::store::TableWriter;
use crate::store::quarantine::Quarantine;
pub use format::FileFormat;
use format::is_csv;
pub(crate) use format::{EXTENSIONS, SUPPORTED};

/// What happened to one input file.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FileReport {
    pub path: String,
    pub format: String,
    pub pages: u64,
    pub records: u64,
    pub quarantined: u64,
    /// Event-log records read but not kept (no routing rule names their provider and event id).
    pub skipped: u64,
    pub complete: bool,
    pub error: Option<String>,
    /// Problems that did not stop the file (e.g. EVTX chunks failing their CRC32 check).
    pub warnings: Vec<String>,
}

/// The table writers a file import feeds.
pub(crate) struct Writers {
    pub audit: TableWriter,
    pub registration: TableWriter,
    pub users: TableWriter,
    pub roles: TableWriter,
    pub writeback: TableWriter,
    pub credential_provider: TableWriter,
    pub dc_security: TableWriter,
}

/// Lists the files under the given paths (folders recursively, following symbolic links with
/// loop detection), sorted, de-duplicated. The second list reports what cannot be imported: a
/// path that does not exist, a link loop, and a folder in which no file has an importable
/// extension (naming what was skipped), so a wrong path never imports nothing silently.
pub(crate) fn discover(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<FileReport>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let problem = |path: &Path, error: String| FileReport {
        path: display(path),
        error: Some(error),
        ..Default::default()
    };
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            let mut skipped = Vec::new();
            for entry in walkdir::WalkDir::new(p).follow_links(true) {
                match entry {
                    Ok(e) if e.file_type().is_file() => {
                        let importable = e
                            .path()
                            .extension()
                            .and_then(|x| x.to_str())
                            .is_some_and(|x| EXTENSIONS.contains(&x.to_ascii_lowercase().as_str()));
                        if importable { found.push(e.into_path()) } else { skipped.push(e.into_path()) }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let at = e.path().map(Path::to_path_buf).unwrap_or_else(|| p.clone());
                        let why = if e.loop_ancestor().is_some() {
                            "a symbolic link loop: the link points at a folder above it; skipped".to_string()
                        } else {
                            format!("cannot be read: {e}")
                        };
                        problems.push(problem(&at, why));
                    }
                }
            }
            if found.is_empty() {
                skipped.sort();
                let names: Vec<String> = skipped.iter().take(5).map(|f| display(f)).collect();
                problems.push(problem(
                    p,
                    if skipped.is_empty() {
                        "the folder holds no file".into()
                    } else {
                        format!(
                            "no importable file: {} file(s) skipped because their extension is not one of {} ({}{})",
                            skipped.len(),
                            EXTENSIONS.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(", "),
                            names.join(", "),
                            if skipped.len() > names.len() { ", …" } else { "" }
                        )
                    },
                ));
            }
            found.sort();
            files.extend(found);
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            problems.push(problem(p, "no such file or folder".into()));
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    (files, problems)
}

/// A path as written in the lake (forward slashes).
pub(crate) fn display(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// The snapshot date of registration/user files: the flag, else the last `YYYY-MM-DD` in the
/// path, else today (UTC).
pub(crate) fn snapshot_date_for(path: &Path, forced: Option<NaiveDate>) -> NaiveDate {
    if let Some(d) = forced {
        return d;
    }
    let text = display(path);
    let bytes = text.as_bytes();
    let mut found = None;
    for i in 0..bytes.len().saturating_sub(9) {
        if let Some(s) = text.get(i..i + 10)
            && let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        {
            found = Some(d);
        }
    }
    found.unwrap_or_else(|| chrono::Utc::now().date_naive())
}

/// Imports one file into the writers, streaming: rows are handed to the writers bundle by bundle
/// while the file is read. Per-record problems go to the quarantine; a problem with the file
/// itself (unreadable, truncated, not JSON) ends the file and is reported, keeping the rows read
/// before it.
pub(crate) fn import_file(
    path: &Path,
    format: FileFormat,
    ctx: &RowContext<'_>,
    threads: usize,
    writers: &mut Writers,
    quarantine: &mut Quarantine,
) -> Result<FileReport> {
    let (name, csv) = (display(path), is_csv(path, format));
    let mut report = new_report(&name, csv);
    let failure = read_file(path, format, ctx, threads, &mut |sinks| {
        drain(sinks, writers, quarantine, &name, &mut report)
    })?;
    conclude(report, failure, quarantine)
}

/// Files up to this size may be parsed whole on a worker thread ([`parse_file`]), several at once.
pub(crate) const SMALL_FILE_BYTES: u64 = BUNDLE_BYTES as u64;

/// A file parsed whole, away from the writers: its rows, bad records, and how it ended.
pub struct ParsedFile {
    report: FileReport,
    sinks: Vec<Sink>,
    failure: Failure,
}

/// Parses a whole (small) file without touching the lake, so several files can be parsed at
/// once; [`write_parsed`] then hands the result to the writers, in file order.
pub fn parse_file(
    path: &Path,
    format: FileFormat,
    ctx: &RowContext<'_>,
    threads: usize,
) -> Result<ParsedFile> {
    let report = new_report(&display(path), is_csv(path, format));
    if !is_csv(path, format) {
        // Most small files are one page: parsed as one document, without the splitter's pass.
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let mut sink = Sink::default();
        // A panic outside the per-record guard drops this attempt; the unit-by-unit read below
        // then isolates the unit that caused it.
        if crate::parallel::guard(|| parse::parse_document(&bytes, format, ctx, &mut sink)) == Ok(true) {
            return Ok(ParsedFile { report, sinks: vec![sink], failure: None });
        }
    }
    let mut sinks = Vec::new();
    let failure = read_file(path, format, ctx, threads, &mut |s| {
        sinks.extend(s);
        Ok(())
    })?;
    Ok(ParsedFile { report, sinks, failure })
}

/// Hands a parsed file's rows to the writers and its bad records to the quarantine.
pub(crate) fn write_parsed(
    parsed: ParsedFile,
    writers: &mut Writers,
    quarantine: &mut Quarantine,
) -> Result<FileReport> {
    let ParsedFile { mut report, sinks, failure } = parsed;
    let name = report.path.clone();
    drain(sinks, writers, quarantine, &name, &mut report)?;
    conclude(report, failure, quarantine)
}

fn new_report(name: &str, csv: bool) -> FileReport {
    FileReport {
        path: name.to_string(),
        format: if csv { "csv".into() } else { "json".into() },
        complete: true,
        ..Default::default()
    }
}

/// The report of a file, with the problem that ended it (its raw tail quarantined).
fn conclude(mut report: FileReport, failure: Failure, quarantine: &mut Quarantine) -> Result<FileReport> {
    if let Some((line, offset, reason, raw)) = failure {
        report.complete = false;
        report.error = Some(reason.clone());
        if !raw.is_empty() {
            quarantine.add(&report.path, line, offset, &reason, &raw)?;
            report.quarantined += 1;
        }
    }
    Ok(report)
}

fn drain(
    sinks: Vec<Sink>,
    writers: &mut Writers,
    quarantine: &mut Quarantine,
    file: &str,
    report: &mut FileReport,
) -> Result<()> {
    for mut s in sinks {
        report.records += s.records;
        report.pages += s.pages;
        if !s.audit.is_empty() {
            writers.audit.push(s.audit.finish()?)?;
        }
        if !s.registration.is_empty() {
            writers.registration.push(s.registration.finish()?)?;
        }
        if !s.users.is_empty() {
            writers.users.push(s.users.finish()?)?;
        }
        if !s.roles.is_empty() {
            writers.roles.push(s.roles.finish()?)?;
        }
        for b in s.bad {
            quarantine.add(file, b.line, b.offset, &b.reason, &b.raw)?;
            report.quarantined += 1;
        }
    }
    Ok(())
}
