//! Windows event logs: the Entra Connect server's Application log (PasswordResetService, ADSync),
//! client credential-provider logs, and domain controllers' Security log, from every format an
//! administrator hands over — `.evtx`, `wevtutil qe /f:xml` (with or without a root element),
//! Event Viewer "Save as XML", `Get-WinEvent | Export-Csv`, `| ConvertTo-Json`, and `evtx_dump`
//! JSON lines. Every reader yields one [`EventRecord`]; [`Routing`] sends it to
//! `writeback_events`, `credential_provider_events` or `dc_security_events`, or counts it as
//! skipped (reference/onprem-logs.md).

pub mod binxml;
pub mod evtx;
pub mod fields;
pub mod json;
pub mod pscsv;
pub mod record;
pub mod xml;

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use record::EventRecord;

use crate::collectors::files::scan::{ScanError, Splitter};
use crate::collectors::files::{FileFormat, FileReport, Writers};
use crate::collectors::rows::BatchBuilder;
use crate::error::{Error, Result};
use crate::store::quarantine::Quarantine;
use crate::store::schema::{CREDENTIAL_PROVIDER_EVENTS, DC_SECURITY_EVENTS, WRITEBACK_EVENTS};

/// Which providers and event ids go to which table. The defaults follow reference/onprem-logs.md;
/// `[eventlog]` in the config adds to them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Routing {
    /// Providers of the Entra Connect server's password writeback (`writeback_events`).
    pub writeback_providers: Vec<String>,
    /// Client-side SSPR credential providers (`credential_provider_events`).
    pub credential_providers: Vec<String>,
    /// Security-log event ids kept from domain controllers (`dc_security_events`).
    pub dc_event_ids: Vec<i32>,
}

impl Default for Routing {
    fn default() -> Self {
        Self {
            writeback_providers: vec!["PasswordResetService".into(), "ADSync".into()],
            credential_providers: vec!["AADPasswordResetCredentialProvider".into()],
            dc_event_ids: vec![4723, 4724, 4740, 4767, 4794],
        }
    }
}

/// Where a record goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Writeback,
    CredentialProvider,
    DcSecurity,
    Skip,
}

/// The Security log's provider.
pub const SECURITY_AUDITING: &str = "Microsoft-Windows-Security-Auditing";

impl Routing {
    /// Adds configured entries to the defaults (no duplicates).
    pub fn extend(&mut self, other: &Routing) {
        for p in &other.writeback_providers {
            if !self.writeback_providers.iter().any(|x| x.eq_ignore_ascii_case(p)) {
                self.writeback_providers.push(p.clone());
            }
        }
        for p in &other.credential_providers {
            if !self.credential_providers.iter().any(|x| x.eq_ignore_ascii_case(p)) {
                self.credential_providers.push(p.clone());
            }
        }
        for id in &other.dc_event_ids {
            if !self.dc_event_ids.contains(id) {
                self.dc_event_ids.push(*id);
            }
        }
    }

    pub fn route(&self, r: &EventRecord) -> Route {
        let is = |list: &[String]| list.iter().any(|p| p.eq_ignore_ascii_case(&r.provider));
        if is(&self.writeback_providers) {
            Route::Writeback
        } else if is(&self.credential_providers) {
            Route::CredentialProvider
        } else if (r.provider.eq_ignore_ascii_case(SECURITY_AUDITING)
            || r.channel.eq_ignore_ascii_case("Security"))
            && r.event_id.is_some_and(|id| self.dc_event_ids.contains(&id))
        {
            Route::DcSecurity
        } else {
            Route::Skip
        }
    }
}

/// An event-log input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFormat {
    Evtx,
    Xml,
    Csv,
    Json,
}

impl EventFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            EventFormat::Evtx => "evtx",
            EventFormat::Xml => "event-xml",
            EventFormat::Csv => "event-csv",
            EventFormat::Json => "event-json",
        }
    }
}

/// Decides whether a file is an event log, from the forced format, the magic bytes, the extension
/// and the first bytes. `None`: not an event log (an Entra export).
pub fn detect(path: &Path, format: FileFormat) -> Option<EventFormat> {
    match format {
        FileFormat::Evtx => return Some(EventFormat::Evtx),
        FileFormat::EventXml => return Some(EventFormat::Xml),
        FileFormat::EventCsv => return Some(EventFormat::Csv),
        FileFormat::EventJson => return Some(EventFormat::Json),
        FileFormat::Auto => {}
        _ => return None,
    }
    let ext = path.extension().and_then(|x| x.to_str()).unwrap_or("").to_ascii_lowercase();
    if ext == "evtx" {
        return Some(EventFormat::Evtx);
    }
    let mut head = vec![0u8; 64 * 1024];
    let n = std::fs::File::open(path).and_then(|mut f| read_up_to(&mut f, &mut head)).unwrap_or(0);
    let head = &head[..n];
    if head.starts_with(b"ElfFile\0") {
        return Some(EventFormat::Evtx);
    }
    let text = String::from_utf8_lossy(head);
    let body = text.trim_start_matches('\u{feff}').trim_start();
    if ext == "xml" || body.starts_with('<') {
        return Some(EventFormat::Xml);
    }
    if ext == "csv" {
        let mut lines = body.lines();
        let mut header = lines.next().unwrap_or("");
        if header.starts_with("#TYPE") {
            header = lines.next().unwrap_or("");
        }
        let cols: Vec<String> = header.split(',').map(|c| c.trim().trim_matches('"').to_string()).collect();
        let has = |c: &str| cols.iter().any(|x| x == c);
        return (has("ProviderName") && (has("Id") || has("TimeCreated"))).then_some(EventFormat::Csv);
    }
    let looks_powershell = body.contains("\"ProviderName\"") && body.contains("\"TimeCreated\"");
    let looks_evtx_dump = body.contains("\"Event\"") && body.contains("\"System\"");
    (looks_powershell || looks_evtx_dump).then_some(EventFormat::Json)
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Per-file values event rows carry, and the routing.
pub struct EventContext<'c> {
    pub source_file: &'c str,
    pub ingested_at: i64,
    pub routing: &'c Routing,
    /// Zone of exporter-local times (Export-Csv culture times, ISO times without an offset).
    pub source_tz: chrono_tz::Tz,
    pub threads: usize,
}

/// Rows for the three tables, counts, and bad records of one file.
struct EventSink<'w, 'q> {
    writeback: BatchBuilder,
    credential: BatchBuilder,
    dc: BatchBuilder,
    writers: &'w mut Writers,
    quarantine: &'q mut Quarantine,
    report: FileReport,
    format: EventFormat,
}

/// Rows buffered per table before they are handed to the lake writer.
const FLUSH_ROWS: usize = 32 * 1024;

impl EventSink<'_, '_> {
    fn add(
        &mut self,
        ctx: &EventContext<'_>,
        rec: &mut EventRecord,
        line: u64,
        offset: u64,
        raw: &dyn Fn() -> Vec<u8>,
    ) {
        self.report.records += 1;
        if let Some(problem) = rec.problem() {
            return self.bad(ctx, line, offset, problem, &raw());
        }
        let builder = match ctx.routing.route(rec) {
            Route::Writeback => &mut self.writeback,
            Route::CredentialProvider => &mut self.credential,
            Route::DcSecurity => &mut self.dc,
            Route::Skip => {
                self.report.skipped += 1;
                return;
            }
        };
        builder.push(&rec.row(ctx.source_file, self.format.as_str(), ctx.ingested_at));
    }

    fn bad(&mut self, ctx: &EventContext<'_>, line: u64, offset: u64, reason: &str, raw: &[u8]) {
        self.report.quarantined += 1;
        if let Err(e) = self.quarantine.add(ctx.source_file, line, offset, reason, raw) {
            // The quarantine is local disk; if it fails the record is still counted and reported.
            tracing::error!(file = ctx.source_file, error = %e, "Could not write to the quarantine.");
        }
    }

    fn flush(&mut self, force: bool) -> Result<()> {
        for (b, w) in [
            (&mut self.writeback, &mut self.writers.writeback),
            (&mut self.credential, &mut self.writers.credential_provider),
            (&mut self.dc, &mut self.writers.dc_security),
        ] {
            if !b.is_empty() && (force || b.len() >= FLUSH_ROWS) {
                w.push(b.finish()?)?;
            }
        }
        Ok(())
    }
}

/// Imports one event-log file into the writers. Bad records go to the quarantine; a file that
/// cannot be read to the end is reported, keeping every record read before the problem.
pub fn import_file(
    path: &Path,
    format: EventFormat,
    ctx: &EventContext<'_>,
    writers: &mut Writers,
    quarantine: &mut Quarantine,
) -> Result<FileReport> {
    let mut sink = EventSink {
        writeback: BatchBuilder::new(WRITEBACK_EVENTS.schema()),
        credential: BatchBuilder::new(CREDENTIAL_PROVIDER_EVENTS.schema()),
        dc: BatchBuilder::new(DC_SECURITY_EVENTS.schema()),
        writers,
        quarantine,
        report: FileReport {
            path: ctx.source_file.to_string(),
            format: format.as_str().into(),
            complete: true,
            ..Default::default()
        },
        format,
    };
    let outcome = match format {
        EventFormat::Evtx => import_evtx(path, ctx, &mut sink),
        EventFormat::Xml => import_xml(path, ctx, &mut sink),
        EventFormat::Json => import_json(path, ctx, &mut sink),
        EventFormat::Csv => pscsv::import(path, ctx, &mut |rec, line, offset, raw| match rec {
            Ok(mut r) => {
                sink.add(ctx, &mut r, line, offset, &|| raw.to_vec());
                sink.flush(false)
            }
            Err(reason) => {
                sink.report.records += 1;
                sink.bad(ctx, line, offset, &reason, raw);
                Ok(())
            }
        }),
    };
    match outcome {
        Ok(None) => {}
        Ok(Some(problem)) => {
            sink.report.complete = false;
            sink.report.error = Some(problem);
        }
        Err(e) => return Err(e),
    }
    sink.flush(true)?;
    Ok(sink.report)
}

/// A problem that ended the file early (the records before it are kept).
type FileProblem = Option<String>;

fn import_evtx(path: &Path, ctx: &EventContext<'_>, sink: &mut EventSink<'_, '_>) -> Result<FileProblem> {
    let mut err = None;
    let routing = ctx.routing.clone();
    let keep: evtx::Keep = std::sync::Arc::new(move |r: &EventRecord| routing.route(r) != Route::Skip);
    let stats = evtx::read(path, ctx.threads, keep, |item| {
        if err.is_some() {
            return;
        }
        match item {
            Ok(None) => {
                sink.report.records += 1;
                sink.report.skipped += 1;
            }
            Ok(Some(mut rec)) => {
                sink.add(ctx, &mut rec, 0, 0, &|| Vec::new());
                if let Err(e) = sink.flush(false) {
                    err = Some(e);
                }
            }
            Err(bad) => sink.bad(ctx, 0, bad.offset, &bad.reason, bad.raw.as_bytes()),
        }
    });
    if let Some(e) = err {
        return Err(e);
    }
    match stats {
        Err(reason) => Ok(Some(format!("not a readable EVTX file: {reason}"))),
        Ok(stats) => {
            sink.report.pages = stats.chunks;
            if let Some(t) = &stats.truncated {
                sink.report.complete = false;
                sink.report.error = Some(format!("truncated file: {t}"));
            }
            if stats.checksum_errors > 0 {
                sink.report.warnings.push(format!(
                    "{} of {} chunks fail their CRC32 check; their records were read as they are",
                    stats.checksum_errors, stats.chunks
                ));
            }
            Ok(None)
        }
    }
}

/// Runs `f` over `items` on up to `threads` threads, keeping order.
fn par_map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let n = threads.clamp(1, items.len().max(1));
    if n == 1 {
        return items.iter().map(f).collect();
    }
    let size = items.len().div_ceil(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(size)
            .map(|c| {
                let f = &f;
                s.spawn(move || c.iter().map(f).collect::<Vec<R>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

const BUNDLE: usize = 4096;

fn import_xml(path: &Path, ctx: &EventContext<'_>, sink: &mut EventSink<'_, '_>) -> Result<FileProblem> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut split = xml::XmlSplitter::new(file);
    let mut problem = None;
    loop {
        let mut units = Vec::with_capacity(BUNDLE);
        let mut tail = None;
        while units.len() < BUNDLE {
            match split.next_unit() {
                Some(Ok(u)) => units.push(u),
                Some(Err(e)) => {
                    tail = Some(e);
                    break;
                }
                None => break,
            }
        }
        let done = units.len() < BUNDLE;
        let parsed = par_map(&units, ctx.threads, |u| match std::str::from_utf8(&u.text) {
            Ok(t) => xml::parse_event(t),
            Err(e) => Err(format!("not UTF-8: {e}")),
        });
        for (u, r) in units.iter().zip(parsed) {
            match r {
                Ok(mut rec) => sink.add(ctx, &mut rec, u.line, u.offset, &|| u.text.clone()),
                Err(reason) => {
                    sink.report.records += 1;
                    sink.bad(ctx, u.line, u.offset, &format!("line {}: {reason}", u.line), &u.text);
                }
            }
        }
        sink.flush(false)?;
        if let Some((u, reason)) = tail {
            if !u.text.is_empty() {
                sink.report.records += 1;
                sink.bad(ctx, u.line, u.offset, &reason, &u.text);
            }
            problem = Some(format!("{reason} (line {}, byte {})", u.line, u.offset));
            break;
        }
        if done {
            break;
        }
    }
    Ok(problem)
}

fn import_json(path: &Path, ctx: &EventContext<'_>, sink: &mut EventSink<'_, '_>) -> Result<FileProblem> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut units = Splitter::new(std::io::BufReader::with_capacity(1 << 20, file));
    loop {
        let mut bundle = Vec::with_capacity(BUNDLE);
        let mut failure = None;
        for u in units.by_ref() {
            match u {
                Ok(u) => {
                    bundle.push(u);
                    if bundle.len() >= BUNDLE {
                        break;
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let done = bundle.len() < BUNDLE;
        let parsed = par_map(&bundle, ctx.threads, |u| {
            serde_json::from_slice::<serde_json::Value>(&u.bytes)
                .map_err(|e| format!("line {}: not JSON: {e}", u.line + e.line() as u64 - 1))
                .and_then(|v| {
                    json::parse_json_event(&v, ctx.source_tz).map_err(|e| format!("line {}: {e}", u.line))
                })
        });
        for (u, r) in bundle.iter().zip(parsed) {
            match r {
                Ok(mut rec) => sink.add(ctx, &mut rec, u.line, u.offset, &|| u.bytes.clone()),
                Err(reason) => {
                    sink.report.records += 1;
                    sink.bad(ctx, u.line, u.offset, &reason, &u.bytes);
                }
            }
        }
        sink.flush(false)?;
        if let Some(e) = failure {
            if let ScanError::Truncated { line, offset, partial } = &e {
                sink.report.records += 1;
                sink.bad(ctx, *line, *offset, &e.to_string(), partial);
            }
            return Ok(Some(e.to_string()));
        }
        if done {
            return Ok(None);
        }
    }
}
