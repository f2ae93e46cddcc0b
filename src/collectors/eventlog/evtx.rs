//! `.evtx` files through the `evtx` crate: chunks are parsed on its rayon pool and each record is
//! rendered to XML and turned into an [`EventRecord`] on the same worker, so the caller only
//! routes and appends rows. Damaged chunks and records become [`Bad`] entries with the file offset
//! the crate reports; the rest of the file is still read (reference/onprem-logs.md §3.1, §3.4).

use std::path::Path;

use evtx::err::EvtxError;
use evtx::{EvtxParser, ParserSettings};

use crate::collectors::eventlog::record::EventRecord;
use crate::collectors::eventlog::xml::parse_event_filtered;

/// EVTX layout constants (file header block, chunk size).
pub const FILE_HEADER_SIZE: u64 = 4096;
pub const CHUNK_SIZE: u64 = 65536;

/// A record or chunk that could not be read.
#[derive(Debug, Clone)]
pub struct Bad {
    pub offset: u64,
    pub reason: String,
    pub raw: String,
}

/// What happened besides records.
#[derive(Debug, Default, Clone)]
pub struct EvtxStats {
    /// Chunks whose header or record CRC32 does not match (their records are still read).
    pub checksum_errors: u64,
    pub chunks: u64,
    /// The file ends inside a chunk (a cut-off copy): what is missing.
    pub truncated: Option<String>,
}

/// A record (`None` when `keep` rejected it after its `System` part) or a problem.
type Item = Result<Option<EventRecord>, Bad>;

/// Which records are wanted, decided from `System` (provider, channel, event id).
pub type Keep = std::sync::Arc<dyn Fn(&EventRecord) -> bool + Send + Sync>;

/// Reads every record of an `.evtx` file, in log order, calling `on` for each record or problem.
/// A file that is not EVTX at all (bad file header) is an `Err`.
pub fn read(path: &Path, threads: usize, keep: Keep, mut on: impl FnMut(Item)) -> Result<EvtxStats, String> {
    let mut stats = EvtxStats::default();
    // Checksums first: a cheap pass over the chunk headers and record areas. Records of a chunk
    // with a bad CRC are still read (recover what can be), and the mismatch is reported.
    {
        let mut parser = EvtxParser::from_path(path).map_err(|e| chain(&e))?;
        for chunk in parser.chunks().flatten() {
            stats.chunks += 1;
            if !chunk.validate_checksum() {
                stats.checksum_errors += 1;
            }
        }
    }
    let settings = ParserSettings::new().num_threads(threads.max(1)).validate_checksums(false).indent(false);
    let mut parser = EvtxParser::from_path(path).map_err(|e| chain(&e))?.with_configuration(settings.clone());
    let filter = keep.clone();
    let records = parser.serialized_records(move |r| {
        let r = r?;
        let header_id = r.event_record_id;
        let offset = r.binxml_offset;
        let xml = r.into_xml()?;
        Ok(match parse_event_filtered(&xml.data, &*filter) {
            Ok(None) => Ok(None),
            Ok(Some(mut ev)) => {
                ev.header_record_id = i64::try_from(header_id).ok();
                if ev.time_created.is_none() {
                    ev.time_created = Some(xml.timestamp.as_microsecond());
                }
                Ok(Some(ev))
            }
            Err(reason) => Err(Bad {
                offset: 0,
                reason: format!("record {header_id} (BinXML at {offset:#x} of its chunk): {reason}"),
                raw: xml.data,
            }),
        })
    });
    for r in records {
        match r {
            Ok(item) => on(item),
            Err(e) => on(Err(Bad { offset: error_offset(&e), reason: chain(&e), raw: String::new() })),
        }
    }
    stats.truncated = salvage_cut_chunk(path, settings, &keep, &mut on)?;
    Ok(stats)
}

/// The `evtx` crate reads whole 64 KiB chunks only, so a file cut off inside a chunk loses that
/// chunk silently. Here the partial chunk is padded and its complete records are read; records the
/// cut went through are reported. Returns what was cut, if anything was.
fn salvage_cut_chunk(
    path: &Path,
    settings: ParserSettings,
    keep: &Keep,
    on: &mut impl FnMut(Item),
) -> Result<Option<String>, String> {
    use std::io::{Read, Seek, SeekFrom};
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len <= FILE_HEADER_SIZE || (len - FILE_HEADER_SIZE).is_multiple_of(CHUNK_SIZE) {
        return Ok(None);
    }
    let number = (len - FILE_HEADER_SIZE) / CHUNK_SIZE;
    let start = FILE_HEADER_SIZE + number * CHUNK_SIZE;
    let present = (len - start) as usize;
    let mut buf = Vec::with_capacity(CHUNK_SIZE as usize);
    let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    f.seek(SeekFrom::Start(start)).map_err(|e| e.to_string())?;
    f.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    let what = format!("the file ends {present} bytes into chunk {number} (of 65536)");
    if buf.iter().all(|b| *b == 0) {
        return Ok(Some(format!("{what}; the partial chunk is empty")));
    }
    if present < 512 || !buf.starts_with(b"ElfChnk\0") {
        on(Err(Bad {
            offset: start,
            reason: format!("{what}: no readable chunk header"),
            raw: String::new(),
        }));
        return Ok(Some(what));
    }
    buf.resize(CHUNK_SIZE as usize, 0);
    let mut data = match evtx::EvtxChunkData::new(buf, false) {
        Ok(d) => d,
        Err(e) => {
            on(Err(Bad { offset: start, reason: format!("{what}: {}", chain(&e)), raw: String::new() }));
            return Ok(Some(what));
        }
    };
    let free = data.header.free_space_offset as usize;
    let mut chunk = match data.parse(std::sync::Arc::new(settings)) {
        Ok(c) => c,
        Err(e) => {
            on(Err(Bad { offset: start, reason: format!("{what}: {}", chain(&e)), raw: String::new() }));
            return Ok(Some(what));
        }
    };
    let mut cut = 0;
    for r in chunk.iter() {
        match r {
            Ok(rec) if (rec.binxml_offset + u64::from(rec.binxml_size) + 4) as usize <= present => {
                let header_id = rec.event_record_id;
                match rec
                    .into_xml()
                    .map_err(|e| chain(&e))
                    .and_then(|x| parse_event_filtered(&x.data, &**keep))
                {
                    Ok(None) => on(Ok(None)),
                    Ok(Some(mut ev)) => {
                        ev.header_record_id = i64::try_from(header_id).ok();
                        on(Ok(Some(ev)));
                    }
                    Err(reason) => on(Err(Bad {
                        offset: start,
                        reason: format!("record {header_id} of cut chunk {number}: {reason}"),
                        raw: String::new(),
                    })),
                }
            }
            Ok(rec) => {
                cut += 1;
                on(Err(Bad {
                    offset: start + rec.binxml_offset,
                    reason: format!(
                        "record {} is cut off by the end of the file ({what})",
                        rec.event_record_id
                    ),
                    raw: String::new(),
                }));
            }
            Err(e) => {
                cut += 1;
                let at = match &e {
                    EvtxError::FailedToReadRecordAt { offset, .. } => start + offset,
                    _ => start,
                };
                on(Err(Bad { offset: at, reason: chain(&e), raw: String::new() }));
            }
        }
    }
    let missing = free.saturating_sub(present);
    Ok(Some(format!("{what}; {missing} bytes of its records are missing, {cut} records could not be read")))
}

/// The file offset an error points at, when it names one.
fn error_offset(e: &EvtxError) -> u64 {
    match e {
        EvtxError::FailedToReadRecordAt { chunk: Some(c), offset, .. } => {
            FILE_HEADER_SIZE + c * CHUNK_SIZE + offset
        }
        EvtxError::FailedToReadRecordAt { chunk: None, offset, .. } => *offset,
        EvtxError::FailedToParseChunk { chunk_id, .. } => FILE_HEADER_SIZE + chunk_id * CHUNK_SIZE,
        _ => 0,
    }
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}
