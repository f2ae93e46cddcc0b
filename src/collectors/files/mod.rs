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
mod lex;
pub mod parse;
mod portal;
mod record;
pub mod scan;

use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use chrono::NaiveDate;

use crate::collectors::files::flatten::RowContext;
use crate::collectors::files::parse::{BadRecord, Sink, route};
use crate::collectors::files::record::RawObject;
use crate::collectors::files::scan::{ScanError, Splitter, Unit};
use crate::error::{Error, Result};
use crate::store::TableWriter;
use crate::store::quarantine::Quarantine;

/// Input formats `sspr import --format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileFormat {
    /// Detect per file and per record.
    Auto,
    /// Graph `directoryAudits` responses (page, array of pages, JSON lines).
    GraphAudit,
    /// Graph `userRegistrationDetails` responses.
    GraphRegistration,
    /// Graph `users` responses.
    GraphUsers,
    /// Diagnostic-settings archive (`PT1H.json`, envelope + `properties`).
    DiagnosticArchive,
    /// Log Analytics `AuditLogs` export as JSON (lines or array).
    LogAnalyticsJson,
    /// Log Analytics `AuditLogs` export as CSV.
    LogAnalyticsCsv,
    /// The Entra admin center's audit log download as CSV (`Date (UTC)`, `CorrelationId`, …).
    PortalCsv,
    /// Windows event log file (`.evtx`).
    Evtx,
    /// Event XML: `wevtutil qe /f:xml` (with or without a root element), Event Viewer "Save as XML".
    EventXml,
    /// `Get-WinEvent | Export-Csv`.
    EventCsv,
    /// `Get-WinEvent | ConvertTo-Json`, or `evtx_dump -o json|jsonl`.
    EventJson,
}

/// What `sspr import` reads, for the message that a file is none of them.
pub(crate) const SUPPORTED: &str = "Graph JSON (directoryAudits, userRegistrationDetails, users), the \
    diagnostic-settings archive (PT1H.json), Log Analytics AuditLogs (JSON or CSV), the Entra admin \
    center's audit log download (CSV), and Windows event logs (.evtx, event XML, Get-WinEvent CSV or \
    JSON)";

/// File extensions picked up when a folder is imported.
pub(crate) const EXTENSIONS: &[&str] = &["json", "jsonl", "ndjson", "csv", "evtx", "xml"];

/// Units per bundle handed to the parser threads.
const BUNDLE_UNITS: usize = 8192;
const BUNDLE_BYTES: usize = 16 << 20;

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

fn is_csv(path: &Path, format: FileFormat) -> bool {
    matches!(format, FileFormat::LogAnalyticsCsv | FileFormat::PortalCsv)
        || (format == FileFormat::Auto
            && path.extension().and_then(|x| x.to_str()).is_some_and(|x| x.eq_ignore_ascii_case("csv")))
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

/// Reads a file, handing its parsed bundles to `out` in order; returns what ended it early.
fn read_file(
    path: &Path,
    format: FileFormat,
    ctx: &RowContext<'_>,
    threads: usize,
    out: &mut dyn FnMut(Vec<Sink>) -> Result<()>,
) -> Result<Failure> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut failure = None;
    if is_csv(path, format) {
        import_csv(reader, format, ctx, threads, out, &mut failure)?;
    } else {
        import_json(reader, format, ctx, threads, out, &mut failure)?;
    }
    Ok(failure)
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

type Failure = Option<(u64, u64, String, Vec<u8>)>;

fn import_json(
    reader: impl std::io::Read + Send,
    format: FileFormat,
    ctx: &RowContext<'_>,
    threads: usize,
    out: &mut dyn FnMut(Vec<Sink>) -> Result<()>,
    failure: &mut Failure,
) -> Result<()> {
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = sync_channel::<std::result::Result<Vec<Unit>, ScanError>>(2);
        scope.spawn(move || {
            let mut bundle = Vec::new();
            let mut bytes = 0;
            for u in Splitter::new(reader) {
                match u {
                    Ok(u) => {
                        bytes += u.bytes.len();
                        bundle.push(u);
                        if bundle.len() >= BUNDLE_UNITS || bytes >= BUNDLE_BYTES {
                            if tx.send(Ok(std::mem::take(&mut bundle))).is_err() {
                                return;
                            }
                            bytes = 0;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Ok(std::mem::take(&mut bundle)));
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
            let _ = tx.send(Ok(bundle));
        });
        for msg in rx {
            match msg {
                Ok(units) => {
                    let sinks = parallel(&units, threads, |chunk, sink| {
                        for u in chunk {
                            parse::parse_unit(u, format, ctx, sink);
                        }
                    });
                    out(sinks)?;
                }
                Err(e) => {
                    let (line, offset, raw) = match &e {
                        ScanError::Truncated { line, offset, partial } => {
                            // Keep the complete records of a cut-off page; quarantine the tail.
                            let mut sink = Sink::default();
                            let used =
                                parse::salvage_truncated(partial, *line, *offset, format, ctx, &mut sink);
                            out(vec![sink])?;
                            (*line, *offset + used as u64, partial[used..].to_vec())
                        }
                        ScanError::Unexpected { line, offset, .. } => (*line, *offset, Vec::new()),
                        ScanError::Io(_) => (0, 0, Vec::new()),
                    };
                    *failure = Some((line, offset, e.to_string(), raw));
                }
            }
        }
        Ok(())
    })
}

fn import_csv(
    reader: impl std::io::Read,
    format: FileFormat,
    ctx: &RowContext<'_>,
    threads: usize,
    out: &mut dyn FnMut(Vec<Sink>) -> Result<()>,
    failure: &mut Failure,
) -> Result<()> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let headers: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(|s| s.trim_start_matches('\u{feff}').to_string()).collect(),
        Err(e) => {
            *failure = Some((1, 0, format!("CSV header cannot be read: {e}"), Vec::new()));
            return Ok(());
        }
    };
    let portal = portal::is_portal_header(&headers);
    let format = match format {
        FileFormat::Auto if portal => FileFormat::PortalCsv,
        FileFormat::Auto if is_audit_csv_header(&headers) => FileFormat::LogAnalyticsCsv,
        FileFormat::Auto => {
            let shown: Vec<&str> = headers.iter().take(12).map(String::as_str).collect();
            *failure = Some((
                1,
                0,
                format!(
                    "not a supported export: a CSV whose columns are {}{} is none of {SUPPORTED}; \
                     the audit CSVs have ActivityDateTime or TimeGenerated (Log Analytics) or Date (UTC), \
                     CorrelationId, Service, Activity (the admin center's download)",
                    shown.join(", "),
                    if headers.len() > shown.len() { ", …" } else { "" }
                ),
                Vec::new(),
            ));
            return Ok(());
        }
        f => f,
    };
    let mut bundle: Vec<csv::StringRecord> = Vec::with_capacity(BUNDLE_UNITS);
    let mut records = rdr.records();
    loop {
        let next = records.next();
        let end = next.is_none();
        match next {
            Some(Ok(r)) => bundle.push(r),
            Some(Err(e)) => {
                let (line, offset) = e.position().map(|p| (p.line(), p.byte())).unwrap_or((0, 0));
                *failure = Some((line, offset, format!("CSV error: {e}"), Vec::new()));
            }
            None => {}
        }
        if bundle.len() >= BUNDLE_UNITS || end || failure.is_some() {
            let sinks = parallel(&bundle, threads, |chunk, sink| {
                for r in chunk {
                    sink.records += 1;
                    let pos = r.position().map(|p| (p.line(), p.byte())).unwrap_or((0, 0));
                    if r.len() != headers.len() {
                        sink.bad.push(BadRecord {
                            line: pos.0,
                            offset: pos.1,
                            reason: format!(
                                "row has {} cells, header has {} columns",
                                r.len(),
                                headers.len()
                            ),
                            raw: r.iter().collect::<Vec<_>>().join(",").into_bytes(),
                        });
                        continue;
                    }
                    let graph_text;
                    let mut obj = if format == FileFormat::PortalCsv {
                        graph_text = portal::to_graph_json(&headers, r);
                        match RawObject::parse(&graph_text) {
                            Ok(o) => o,
                            Err(reason) => {
                                sink.bad.push(BadRecord {
                                    line: pos.0,
                                    offset: pos.1,
                                    reason,
                                    raw: r.iter().collect::<Vec<_>>().join(",").into_bytes(),
                                });
                                continue;
                            }
                        }
                    } else {
                        RawObject::from_cells(&headers, r)
                    };
                    let routed = crate::parallel::guard(|| {
                        crate::parallel::inject(r.as_slice().as_bytes());
                        route(&mut obj, format, ctx, sink)
                    });
                    let reason = match routed {
                        Ok(Ok(())) => continue,
                        Ok(Err(reason)) => reason,
                        Err(panicked) => panicked.to_string(),
                    };
                    sink.bad.push(BadRecord {
                        line: pos.0,
                        offset: pos.1,
                        reason,
                        raw: r.iter().collect::<Vec<_>>().join(",").into_bytes(),
                    });
                }
            });
            out(sinks)?;
            bundle.clear();
        }
        if end || failure.is_some() {
            return Ok(());
        }
    }
}

/// Whether a CSV header is a Log Analytics `AuditLogs` export (or a Graph-shaped CSV).
fn is_audit_csv_header(headers: &[String]) -> bool {
    headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("ActivityDateTime") || h.eq_ignore_ascii_case("TimeGenerated"))
}

/// Runs `f` over contiguous runs of `items` on up to `threads` threads (one set of column
/// builders per run); the sinks come back in order. Records are guarded one by one where they are
/// routed; should a run panic outside that, every unit of the run is quarantined with its own
/// position ([`Located`]), so nothing is lost or paired with another unit's rows.
fn parallel<T: Sync + Located>(items: &[T], threads: usize, f: impl Fn(&[T], &mut Sink) + Sync) -> Vec<Sink> {
    let runs: Vec<&[T]> = crate::parallel::runs(items, threads).collect();
    let results = crate::parallel::map(&runs, threads, |run| {
        let mut s = Sink::default();
        f(run, &mut s);
        s
    });
    runs.iter()
        .zip(results)
        .map(|(run, r)| {
            r.unwrap_or_else(|panicked| {
                let mut s = Sink::default();
                for u in run.iter() {
                    let (line, offset, raw) = u.locate();
                    s.records += 1;
                    s.bad.push(BadRecord { line, offset, reason: panicked.to_string(), raw });
                }
                s
            })
        })
        .collect()
}

/// Where a unit of input is, for the quarantine.
trait Located {
    fn locate(&self) -> (u64, u64, Vec<u8>);
}

impl Located for Unit {
    fn locate(&self) -> (u64, u64, Vec<u8>) {
        (self.line, self.offset, self.bytes.clone())
    }
}

impl Located for csv::StringRecord {
    fn locate(&self) -> (u64, u64, Vec<u8>) {
        let (line, offset) = self.position().map(|p| (p.line(), p.byte())).unwrap_or((0, 0));
        (line, offset, self.iter().collect::<Vec<_>>().join(",").into_bytes())
    }
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
        for b in s.bad {
            quarantine.add(file, b.line, b.offset, &b.reason, &b.raw)?;
            report.quarantined += 1;
        }
    }
    Ok(())
}
