//! `.evtx` files: the `evtx` crate finds the chunks (file header, wrapped logs, empty and bad
//! chunks); worker threads take them sixteen at a time, check their CRC32s and read each record
//! straight from its BinXML ([`binxml`], with the templates each worker has compiled kept from
//! chunk to chunk) into an [`EventRecord`], so the caller's per-job function can build the rows on
//! the same worker. A chunk the BinXML reader declines goes through the crate's XML rendering.
//! Damaged chunks and records become [`Bad`] entries with the file offset the crate reports; the
//! rest of the file is still read (reference/onprem-logs.md §3.1, §3.4).

use std::path::Path;
use std::sync::Arc;

use evtx::err::EvtxError;
use evtx::{EvtxChunkData, EvtxParser, ParserSettings};

use crate::collectors::eventlog::binxml;

use crate::collectors::eventlog::record::EventRecord;
use crate::collectors::eventlog::xml::parse_event_filtered;

/// EVTX layout constants (file header block, chunk size).
const FILE_HEADER_SIZE: u64 = 4096;
const CHUNK_SIZE: u64 = 65536;

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
    /// Chunks read straight from BinXML (the rest went through the crate's XML rendering).
    pub direct_chunks: u64,
    /// The file ends inside a chunk (a cut-off copy): what is missing.
    pub truncated: Option<String>,
}

/// A record (`None` when `keep` rejected it after its `System` part) or a problem.
pub(crate) type Item = Result<Option<EventRecord>, Bad>;

/// Which records are wanted, decided from `System`'s provider, channel and event id only (the
/// BinXML reader may ask before it has read anything else of a record, and remembers verdicts).
pub type Keep = std::sync::Arc<dyn Fn(&EventRecord) -> bool + Send + Sync>;

/// How records are turned into events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Straight from BinXML ([`binxml`]), a chunk the reader declines through the crate.
    Direct,
    /// Every record rendered to XML by the crate and parsed (the reference path).
    Crate,
}

/// One job's outcome: the records of a run of chunks.
struct Done<T> {
    items: T,
    bad_crc: u64,
    direct: u64,
}

/// Chunks per worker job: 16 × 64 KiB, so a job's rows make batches big enough for the lake to
/// encode as they are, and the hand-over costs little per record.
const JOB_CHUNKS: usize = 16;

/// Reads every record of an `.evtx` file, in log order, with the engine chosen, calling `on` for
/// each record or problem. A file that is not EVTX at all (bad file header) is an `Err`.
pub fn read_with(
    path: &Path,
    threads: usize,
    keep: Keep,
    engine: Engine,
    mut on: impl FnMut(Item),
) -> Result<EvtxStats, String> {
    read_chunks(path, threads, keep, engine, &|chunks| chunks, |chunks| {
        chunks.into_iter().flatten().for_each(&mut on)
    })
}

/// The records of an `.evtx` file a run of chunks at a time: `work` turns the records and
/// problems of a run of chunks (per chunk, in order) into a `T` on the worker thread that read
/// them, and `on` gets the `T`s in log order. The crate finds the chunks (oldest first in a log
/// that wrapped around, empty ones skipped, bad headers reported); `threads` workers read them,
/// checking each chunk's CRC32s on the way. A file that is not EVTX at all (bad file header) is
/// an `Err`.
pub(crate) fn read_chunks<T: Send>(
    path: &Path,
    threads: usize,
    keep: Keep,
    engine: Engine,
    work: &(dyn Fn(Vec<Vec<Item>>) -> T + Sync),
    mut on: impl FnMut(T),
) -> Result<EvtxStats, String> {
    let mut stats = EvtxStats::default();
    let settings = ParserSettings::new().num_threads(1).validate_checksums(false).indent(false);
    let mut parser = EvtxParser::from_path(path).map_err(|e| chain(&e))?.with_configuration(settings.clone());
    let shared = Arc::new(settings.clone());
    let threads = threads.max(1);
    // A job is a run of chunks; each chunk is read under the panic guard, so a panic costs that
    // chunk alone, reported at its offset, and the other chunks of the job and file go on.
    let worked = |chunks: Vec<EvtxChunkData>| {
        let (mut bad_crc, mut direct) = (0, 0);
        let items = chunks
            .into_iter()
            .map(|data| {
                let start = data.number.map(|n| FILE_HEADER_SIZE + n * CHUNK_SIZE).unwrap_or(0);
                let label = format!("evtx chunk {}", data.number.unwrap_or(0));
                match crate::parallel::guard(|| {
                    crate::parallel::inject(label.as_bytes());
                    read_chunk(data, &shared, &keep, engine)
                }) {
                    Ok(d) => {
                        bad_crc += d.bad_crc;
                        direct += d.direct;
                        d.items
                    }
                    Err(panicked) => vec![Err(Bad {
                        offset: start,
                        reason: format!("{label}: {panicked}"),
                        raw: String::new(),
                    })],
                }
            })
            .collect();
        Done { items: work(items), bad_crc, direct }
    };
    let chunks_seen = std::cell::Cell::new(0u64);
    let jobs = Jobs { chunks: parser.chunks(), pending: None }.inspect(|job| {
        if let Ok(chunks) = job {
            chunks_seen.set(chunks_seen.get() + chunks.len() as u64);
        }
    });
    // Jobs in flight are bounded, so memory stays a few jobs per worker.
    crate::parallel::ordered(
        jobs,
        threads,
        threads * 3,
        |job| match job {
            Ok(chunks) => worked(chunks),
            Err(e) => Done { items: work(vec![chunk_error(&e)]), bad_crc: 0, direct: 0 },
        },
        |done| {
            // `worked` guards every chunk, so only a panic in `work` itself lands here; its
            // records are lost, and said so.
            let done = done.unwrap_or_else(|panicked| Done {
                items: work(vec![vec![Err(Bad {
                    offset: 0,
                    reason: panicked.to_string(),
                    raw: String::new(),
                })]]),
                bad_crc: 0,
                direct: 0,
            });
            stats.checksum_errors += done.bad_crc;
            stats.direct_chunks += done.direct;
            on(done.items);
        },
    );
    stats.chunks = chunks_seen.get();
    let mut cut = Vec::new();
    stats.truncated = salvage_cut_chunk(path, settings, &keep, &mut |item| cut.push(item))?;
    if !cut.is_empty() {
        on(work(vec![cut]));
    }
    Ok(stats)
}

/// The crate's chunks in runs of up to [`JOB_CHUNKS`]; a chunk the crate could not take is a job
/// of its own, so problems stay in log order.
struct Jobs<I> {
    chunks: I,
    pending: Option<EvtxError>,
}

impl<I: Iterator<Item = Result<EvtxChunkData, EvtxError>>> Iterator for Jobs<I> {
    type Item = Result<Vec<EvtxChunkData>, EvtxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending.take() {
            return Some(Err(e));
        }
        let mut job = Vec::with_capacity(JOB_CHUNKS);
        while job.len() < JOB_CHUNKS {
            match self.chunks.next() {
                None => break,
                Some(Ok(data)) => job.push(data),
                Some(Err(e)) if job.is_empty() => return Some(Err(e)),
                Some(Err(e)) => {
                    self.pending = Some(e);
                    break;
                }
            }
        }
        (!job.is_empty()).then_some(Ok(job))
    }
}

/// A chunk the crate could not take as a chunk (bad magic, header, size).
fn chunk_error(e: &EvtxError) -> Vec<Item> {
    vec![Err(Bad { offset: error_offset(e), reason: chain(e), raw: String::new() })]
}

/// One chunk's records, straight from BinXML when the engine and the chunk allow, else through
/// the crate's XML rendering.
fn read_chunk(
    mut data: EvtxChunkData,
    settings: &Arc<ParserSettings>,
    keep: &Keep,
    engine: Engine,
) -> Done<Vec<Item>> {
    let bad_crc = !data.validate_checksum();
    if engine == Engine::Direct
        && let Ok(reads) = binxml::ChunkReader::new(&data.data).read_all(&**keep)
    {
        let items = reads
            .into_iter()
            .map(|r| {
                Ok(r.event.map(|mut ev| {
                    ev.header_record_id = i64::try_from(r.header_record_id).ok();
                    if ev.time_created.is_none() {
                        ev.time_created = Some(r.header_time);
                    }
                    ev
                }))
            })
            .collect();
        return Done { items, bad_crc: u64::from(bad_crc), direct: 1 };
    }
    let number = data.number;
    let items = match data.parse(settings.clone()) {
        Err(e) => {
            let e = EvtxError::FailedToParseChunk { chunk_id: number.unwrap_or(0), source: Box::new(e) };
            vec![Err(Bad { offset: error_offset(&e), reason: chain(&e), raw: String::new() })]
        }
        Ok(mut chunk) => {
            let chunk_start = number.map(|n| FILE_HEADER_SIZE + n * CHUNK_SIZE).unwrap_or(0);
            chunk.iter().map(|r| through_xml(r, keep, chunk_start)).collect()
        }
    };
    Done { items, bad_crc: u64::from(bad_crc), direct: 0 }
}

/// A record rendered to XML by the crate and parsed. `chunk_start` is the chunk's file offset,
/// so a bad record is quarantined with its own file offset (issue 20 item 11: it was 0).
fn through_xml(r: Result<evtx::EvtxRecord<'_>, EvtxError>, keep: &Keep, chunk_start: u64) -> Item {
    let at = |e: &EvtxError| match error_offset(e) {
        0 => chunk_start,
        o => o,
    };
    let r = r.map_err(|e| Bad { offset: at(&e), reason: chain(&e), raw: String::new() })?;
    let header_id = r.event_record_id;
    let offset = r.binxml_offset;
    let xml = r.into_xml().map_err(|e| Bad {
        offset: chunk_start + offset,
        reason: chain(&e),
        raw: String::new(),
    })?;
    match parse_event_filtered(&xml.data, &**keep) {
        Ok(None) => Ok(None),
        Ok(Some(mut ev)) => {
            ev.header_record_id = i64::try_from(header_id).ok();
            if ev.time_created.is_none() {
                ev.time_created = Some(xml.timestamp.as_microsecond());
            }
            Ok(Some(ev))
        }
        Err(reason) => Err(Bad {
            offset: chunk_start + offset,
            reason: format!("record {header_id} (BinXML at {offset:#x} of its chunk): {reason}"),
            raw: xml.data,
        }),
    }
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
                // A whole record: the same steps as any other chunk's, the error placed in the
                // cut chunk.
                on(through_xml(Ok(rec), keep, start).map_err(|b| Bad {
                    offset: b.offset,
                    reason: format!("cut chunk {number}: {}", b.reason),
                    raw: b.raw,
                }));
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
