//! The readers of the event-log formats that are not line-per-record CSV: `.evtx` (chunks read on
//! worker threads, rows handed back in log order), event XML, and JSON (`Get-WinEvent |
//! ConvertTo-Json`, `evtx_dump`). Each feeds the file's [`EventSink`].

use std::path::Path;

use datafusion::arrow::array::RecordBatch;

use crate::collectors::eventlog::{EventContext, EventRecord, EventSink, Route, TableRows, evtx, json, xml};
use crate::collectors::files::scan::{ScanError, Splitter};
use crate::error::{Error, Result};

/// A problem that ended the file early (the records before it are kept).
pub(super) type FileProblem = Option<String>;

/// What an EVTX worker made of one chunk: its kept rows as finished batches, counts, and the
/// records that could not be read or stored.
struct ChunkRows {
    batches: Result<Vec<(Route, RecordBatch)>>,
    records: u64,
    skipped: u64,
    bad: Vec<(u64, String)>,
    /// The first and last day (days since the epoch) of the rows kept.
    days: Option<(i32, i32)>,
}

pub(super) fn import_evtx(
    path: &Path,
    ctx: &EventContext<'_>,
    sink: &mut EventSink<'_, '_>,
) -> Result<FileProblem> {
    let mut err = None;
    let routing = ctx.routing.clone();
    let keep: evtx::Keep = std::sync::Arc::new(move |r: &EventRecord| routing.route(r) != Route::Skip);
    // Rows are built on the worker that read the chunk, in one batch per table and chunk, so the
    // chunks' order (and so the merge's "first of each key") is the log's.
    let format = sink.format;
    let work = |chunks: Vec<Vec<evtx::Item>>| {
        let mut rows = TableRows::default();
        let mut out =
            ChunkRows { batches: Ok(Vec::new()), records: 0, skipped: 0, bad: Vec::new(), days: None };
        let n: usize = chunks.iter().map(Vec::len).sum();
        for (i, item) in chunks.into_iter().flatten().enumerate() {
            match item {
                Ok(None) => {
                    out.records += 1;
                    out.skipped += 1;
                }
                Ok(Some(rec)) => {
                    out.records += 1;
                    if let Some(problem) = rec.problem() {
                        out.bad.push((0, problem.to_string()));
                    } else if rows.add(ctx, format, &rec, n - i) {
                        let day = rec.time_created.unwrap_or_default().div_euclid(86_400_000_000) as i32;
                        out.days = Some(out.days.map_or((day, day), |(lo, hi)| (lo.min(day), hi.max(day))));
                    } else {
                        out.skipped += 1;
                    }
                }
                Err(bad) => out.bad.push((bad.offset, bad.reason)),
            }
        }
        out.batches = rows.finish(0);
        out
    };
    let stats = evtx::read_chunks(path, ctx.threads, keep, evtx::Engine::Direct, &work, |chunk| {
        if err.is_some() {
            return;
        }
        sink.report.records += chunk.records;
        sink.report.skipped += chunk.skipped;
        for (offset, reason) in &chunk.bad {
            sink.bad(ctx, 0, *offset, reason, &[]);
        }
        if let Err(e) = chunk.batches.and_then(|b| sink.write(b)) {
            err = Some(e);
        }
        // A log is in time order: each writer settles the days its own rows left behind when it
        // is pushed to; this settles them by the log's dates for the tables this chunk had no
        // rows for (writeback rows are sparse in an Application log).
        if let Some((lo, hi)) = chunk.days {
            sink.writers.writeback.merge_settled(lo, hi);
            sink.writers.credential_provider.merge_settled(lo, hi);
            sink.writers.dc_security.merge_settled(lo, hi);
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

const BUNDLE: usize = 4096;

pub(super) fn import_xml(
    path: &Path,
    ctx: &EventContext<'_>,
    sink: &mut EventSink<'_, '_>,
) -> Result<FileProblem> {
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
        let parsed = crate::parallel::map(&units, ctx.threads, |u| {
            crate::parallel::inject(&u.text);
            match std::str::from_utf8(&u.text) {
                Ok(t) => xml::parse_event(t),
                Err(e) => Err(format!("not UTF-8: {e}")),
            }
        });
        for (u, r) in units.iter().zip(parsed) {
            match r.unwrap_or_else(|panicked| Err(panicked.to_string())) {
                Ok(rec) => sink.add(ctx, &rec, u.line, u.offset, &|| u.text.clone()),
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

pub(super) fn import_json(
    path: &Path,
    ctx: &EventContext<'_>,
    sink: &mut EventSink<'_, '_>,
) -> Result<FileProblem> {
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
        let parsed = crate::parallel::map(&bundle, ctx.threads, |u| {
            crate::parallel::inject(&u.bytes);
            serde_json::from_slice::<serde_json::Value>(&u.bytes)
                .map_err(|e| format!("line {}: not JSON: {e}", u.line + e.line() as u64 - 1))
                .and_then(|v| {
                    json::parse_json_event(&v, ctx.source_tz).map_err(|e| format!("line {}: {e}", u.line))
                })
        });
        for (u, r) in bundle.iter().zip(parsed) {
            match r.unwrap_or_else(|panicked| Err(format!("line {}: {panicked}", u.line))) {
                Ok(rec) => sink.add(ctx, &rec, u.line, u.offset, &|| u.bytes.clone()),
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
