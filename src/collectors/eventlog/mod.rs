//! Windows event logs: the Entra Connect server's Application log (PasswordResetService, ADSync),
//! client credential-provider logs, and domain controllers' Security log, from every format an
//! administrator hands over — `.evtx`, `wevtutil qe /f:xml` (with or without a root element),
//! Event Viewer "Save as XML", `Get-WinEvent | Export-Csv`, `| ConvertTo-Json`, and `evtx_dump`
//! JSON lines. Every reader yields one [`EventRecord`]; [`Routing`] sends it to
//! `writeback_events`, `credential_provider_events` or `dc_security_events`, or counts it as
//! skipped (reference/onprem-logs.md).

pub mod binxml;
mod element;
pub mod evtx;
mod facts;
mod fields;
mod json;
pub mod pscsv;
mod read;
mod record;
mod rows;
pub mod xml;

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use datafusion::arrow::array::RecordBatch;
pub use record::EventRecord;
pub use rows::EventRows;

use crate::collectors::files::{FileFormat, FileReport, Writers};
use crate::error::Result;
use crate::store::quarantine::Quarantine;
use crate::store::schema::{CREDENTIAL_PROVIDER_EVENTS, DC_SECURITY_EVENTS, WRITEBACK_EVENTS};
use read::{import_evtx, import_json, import_xml};

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
const SECURITY_AUDITING: &str = "Microsoft-Windows-Security-Auditing";

impl Routing {
    /// Adds configured entries to the defaults (no duplicates).
    pub(crate) fn extend(&mut self, other: &Routing) {
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
pub(crate) enum EventFormat {
    Evtx,
    Xml,
    Csv,
    Json,
}

impl EventFormat {
    fn as_str(self) -> &'static str {
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
pub(crate) fn detect(path: &Path, format: FileFormat) -> Option<EventFormat> {
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
    rows: TableRows,
    writers: &'w mut Writers,
    quarantine: &'q mut Quarantine,
    report: FileReport,
    format: EventFormat,
}

/// Rows routed to each event-log table; a table's builders are made when its first row comes.
#[derive(Default)]
struct TableRows {
    writeback: Option<EventRows>,
    credential: Option<EventRows>,
    dc: Option<EventRows>,
}

impl TableRows {
    /// Routes `rec` and appends its row; `false` when no table keeps it. `room`: rows to make
    /// room for when this is the table's first row.
    fn add(&mut self, ctx: &EventContext<'_>, format: EventFormat, rec: &EventRecord, room: usize) -> bool {
        let rows = match ctx.routing.route(rec) {
            Route::Writeback => &mut self.writeback,
            Route::CredentialProvider => &mut self.credential,
            Route::DcSecurity => &mut self.dc,
            Route::Skip => return false,
        };
        rows.get_or_insert_with(|| EventRows::with_capacity(room)).push(
            rec,
            ctx.source_file,
            format.as_str(),
            ctx.ingested_at,
        );
        true
    }

    /// Finishes the tables holding at least `min_rows` rows (and any rows at all).
    fn finish(&mut self, min_rows: usize) -> Result<Vec<(Route, RecordBatch)>> {
        let mut out = Vec::new();
        for (route, rows, table) in [
            (Route::Writeback, &mut self.writeback, &WRITEBACK_EVENTS),
            (Route::CredentialProvider, &mut self.credential, &CREDENTIAL_PROVIDER_EVENTS),
            (Route::DcSecurity, &mut self.dc, &DC_SECURITY_EVENTS),
        ] {
            if let Some(r) = rows.as_mut()
                && !r.is_empty()
                && r.len() >= min_rows
            {
                out.push((route, r.finish(&table.schema())?));
            }
        }
        Ok(out)
    }
}

/// Rows buffered per table before they are handed to the lake writer.
const FLUSH_ROWS: usize = 32 * 1024;

impl EventSink<'_, '_> {
    fn add(
        &mut self,
        ctx: &EventContext<'_>,
        rec: &EventRecord,
        line: u64,
        offset: u64,
        raw: &dyn Fn() -> Vec<u8>,
    ) {
        self.report.records += 1;
        if let Some(problem) = rec.problem() {
            return self.bad(ctx, line, offset, problem, &raw());
        }
        if !self.rows.add(ctx, self.format, rec, 1024) {
            self.report.skipped += 1;
        }
    }

    fn bad(&mut self, ctx: &EventContext<'_>, line: u64, offset: u64, reason: &str, raw: &[u8]) {
        self.report.quarantined += 1;
        if let Err(e) = self.quarantine.add(ctx.source_file, line, offset, reason, raw) {
            // The quarantine is local disk; if it fails the record is still counted and reported.
            tracing::error!(file = ctx.source_file, error = %e, "Could not write to the quarantine.");
        }
    }

    fn flush(&mut self, force: bool) -> Result<()> {
        let batches = self.rows.finish(if force { 0 } else { FLUSH_ROWS })?;
        self.write(batches)
    }

    /// Hands finished rows to the table writers.
    fn write(&mut self, batches: Vec<(Route, RecordBatch)>) -> Result<()> {
        for (route, batch) in batches {
            match route {
                Route::Writeback => self.writers.writeback.push(batch)?,
                Route::CredentialProvider => self.writers.credential_provider.push(batch)?,
                Route::DcSecurity => self.writers.dc_security.push(batch)?,
                Route::Skip => {}
            }
        }
        Ok(())
    }
}

/// Imports one event-log file into the writers. Bad records go to the quarantine; a file that
/// cannot be read to the end is reported, keeping every record read before the problem.
pub(crate) fn import_file(
    path: &Path,
    format: EventFormat,
    ctx: &EventContext<'_>,
    writers: &mut Writers,
    quarantine: &mut Quarantine,
) -> Result<FileReport> {
    let mut sink = EventSink {
        rows: TableRows::default(),
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
            Ok(r) => {
                sink.add(ctx, &r, line, offset, &|| raw.to_vec());
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
