//! Reading one file into ordered bundles of parsed rows: a [`Splitter`] (or the CSV reader) cuts
//! the file into units on this thread while worker threads parse bundles of them; a panic in a
//! worker quarantines that bundle's units with their own positions.

use std::path::Path;
use std::sync::mpsc::sync_channel;

use crate::collectors::files::flatten::RowContext;
use crate::collectors::files::format::{FileFormat, SUPPORTED, is_csv};
use crate::collectors::files::parse::{self, BadRecord, Sink, route};
use crate::collectors::files::portal;
use crate::collectors::files::record::RawObject;
use crate::collectors::files::scan::{ScanError, Splitter, Unit};
use crate::error::{Error, Result};

/// Units per bundle handed to the parser threads.
const BUNDLE_UNITS: usize = 8192;

pub(super) const BUNDLE_BYTES: usize = 16 << 20;

/// Reads a file, handing its parsed bundles to `out` in order; returns what ended it early.
pub(super) fn read_file(
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

pub(super) type Failure = Option<(u64, u64, String, Vec<u8>)>;

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
