//! EVTX records read straight from their BinXML, without rendering XML first.
//!
//! A record of a Windows log is a template instance (MS-EVEN6 §2.2.12, reference/onprem-logs.md
//! §3.1): the chunk holds each event shape once as a template definition, and the record holds
//! only the id of its template and the typed values to substitute. Here a template definition is
//! compiled once per chunk into a short list of element operations, and each record runs it over
//! its values, calling the same `on_open` / `on_close` handlers the XML reader uses — so a record
//! comes out exactly as rendering it to XML through the `evtx` crate and parsing that would make
//! it (a test holds the two paths to the same output for every sample and real log), at a
//! fraction of the cost, and a record `keep` rejects stops right after `System`.
//!
//! Embedded BinXML values that are template instances (how the Security log and classic sources
//! carry `EventData`) are spliced in, and string arrays repeat their element once per item, as
//! MS-EVEN6 §3.1.4.7.5 says. Anything else — a record that is not a template instance (forwarded
//! events), other array types, ANSI strings, floats, entity references, a damaged record — is
//! *declined*, and the caller hands the whole chunk to the crate, which handles all of it.

mod cache;
mod fast;
mod template;
mod value;

use std::rc::Rc;

use crate::collectors::eventlog::element::{on_close, on_open};
use crate::collectors::eventlog::record::EventRecord;
use fast::{shortcut, small_int, string_array};
use template::render_piece;
pub(crate) use template::tok;
use template::{Op, Piece, Program};
pub(crate) use value::vt;
use value::{FILETIME_UNIX_EPOCH, Value, push_normalised, render};

/// Why a chunk is left to the crate.
type Decline = &'static str;

const CHUNK_HEADER_SIZE: usize = 512;

/// Operations one record may run (template ops, string-array items, nested instances). Depth is
/// limited to four levels of embedded BinXML, but a crafted template can substitute a nested
/// instance a hundred times per level; real records run well under 500 operations. The same
/// bound as the `evtx` crate's render budget (2^18 nodes).
const MAX_RECORD_WORK: usize = 1 << 18;
/// Text one record may produce: the `evtx` crate's per-record output limit (16 MiB).
const MAX_RECORD_OUTPUT: usize = 16 << 20;

/// Why a record over budget is declined: its chunk then goes to the crate, whose own budget
/// turns the record into an error that is quarantined with its offset.
const OVER_BUDGET: Decline = "record exceeds the work or output budget";
const RECORD_MAGIC: &[u8; 4] = b"\x2a\x2a\x00\x00";

/// Reads the records of one chunk (its 64 KiB, header included).
pub struct ChunkReader<'c> {
    data: &'c [u8],
    /// Compiled templates by definition offset (a chunk has a handful).
    programs: Vec<(u32, Result<Rc<Program>, Decline>)>,
    values: Vec<Value<'c>>,
    scratch: State,
    /// `keep`'s verdicts by provider and channel bytes and event id (see `early_keep`).
    verdicts: Vec<(&'c [u8], &'c [u8], i32, bool)>,
    /// Work and output each record may use ([`MAX_RECORD_WORK`], [`MAX_RECORD_OUTPUT`]).
    budget: (usize, usize),
}

/// One record read: its header id, and the event (`None` when `keep` rejected it).
pub struct Read {
    pub header_record_id: u64,
    /// The record header's time (microseconds since the epoch), for a record without TimeCreated.
    pub header_time: i64,
    pub event: Option<EventRecord>,
}

impl<'c> ChunkReader<'c> {
    pub fn new(data: &'c [u8]) -> Self {
        ChunkReader {
            data,
            programs: Vec::new(),
            values: Vec::with_capacity(32),
            scratch: State::default(),
            verdicts: Vec::new(),
            budget: (MAX_RECORD_WORK, MAX_RECORD_OUTPUT),
        }
    }

    /// A reader with another per-record budget (tests).
    #[cfg(test)]
    fn with_budget(data: &'c [u8], work: usize, output: usize) -> Self {
        ChunkReader { budget: (work, output), ..Self::new(data) }
    }

    /// Every live record of the chunk, in order; `Err` when anything is declined (the caller
    /// then reads the whole chunk through the crate instead, so nothing is reported twice).
    pub fn read_all(&mut self, keep: &dyn Fn(&EventRecord) -> bool) -> Result<Vec<Read>, Decline> {
        let data = self.data;
        if data.len() < CHUNK_HEADER_SIZE || !data.starts_with(b"ElfChnk\0") {
            return Err("not a chunk");
        }
        let last_id = u64le(data, 32).ok_or("chunk header")?;
        let free = (u32le(data, 48).ok_or("chunk header")? as usize).min(data.len());
        let mut out = Vec::with_capacity(128);
        let mut at = CHUNK_HEADER_SIZE;
        while at < free {
            if data.get(at..at + 4) != Some(RECORD_MAGIC) {
                return Err("no record where one should start");
            }
            let size = u32le(data, at + 4).ok_or("record header")? as usize;
            if size < 28 || at + size > data.len() || u32le(data, at + size - 4) != Some(size as u32) {
                return Err("record size");
            }
            let id = u64le(data, at + 8).ok_or("record header")?;
            let ticks = u64le(data, at + 16).ok_or("record header")?;
            let header_time = (ticks / 10) as i64 - (FILETIME_UNIX_EPOCH / 10) as i64;
            let event = self.record(at + 24, at + size - 4, keep)?;
            out.push(Read { header_record_id: id, header_time, event });
            at += size;
            if id == last_id {
                break;
            }
        }
        Ok(out)
    }

    /// One record's BinXML, `start..end` in the chunk.
    fn record(
        &mut self,
        start: usize,
        end: usize,
        keep: &dyn Fn(&EventRecord) -> bool,
    ) -> Result<Option<EventRecord>, Decline> {
        let mut values = std::mem::take(&mut self.values);
        let def = instance(self.data, start, end, &mut values)?;
        if let Some(false) = self.early_keep(def, &values, keep)? {
            self.values = values;
            return Ok(None);
        }
        // The path and text buffers are reused from record to record.
        let mut st = std::mem::take(&mut self.scratch);
        st.path.clear();
        st.text.clear();
        st.data_name = None;
        st.work_left = self.budget.0;
        st.out_left = self.budget.1;
        let flow = self.exec(def, &values, &mut st, keep, 0);
        self.values = values;
        let rec = std::mem::take(&mut st.rec);
        self.scratch = st;
        Ok(match flow? {
            Flow::Stop => None,
            Flow::Go => keep(&rec).then_some(rec),
        })
    }

    /// `keep`'s verdict from the provider, channel and event id alone, before anything else of
    /// the record is read (most records of a log are not kept). Verdicts are remembered per
    /// chunk by the values' bytes. `None` when the template or the values are not the plain kind.
    fn early_keep(
        &mut self,
        def: u32,
        values: &[Value<'c>],
        keep: &dyn Fn(&EventRecord) -> bool,
    ) -> Result<Option<bool>, Decline> {
        let Some((p, c, e)) = self.program(def)?.route_key else { return Ok(None) };
        let get = |id: u16| values.get(usize::from(id)).copied();
        let (Some((vt::STRING, provider)), Some((vt::STRING, channel)), Some(id)) = (get(p), get(c), get(e))
        else {
            return Ok(None);
        };
        let Some(event_id) = small_int(id) else { return Ok(None) };
        if provider.len() < 2 || provider[..2] == [0, 0] {
            return Ok(None);
        }
        if let Some(&(.., verdict)) =
            self.verdicts.iter().find(|(pb, cb, i, _)| *i == event_id && *pb == provider && *cb == channel)
        {
            return Ok(Some(verdict));
        }
        let mut rec = EventRecord { event_id: Some(event_id), ..Default::default() };
        render(&mut rec.provider, vt::STRING, provider, true)?;
        render(&mut rec.channel, vt::STRING, channel, false)?;
        rec.channel = rec.channel.trim().to_string();
        let verdict = keep(&rec);
        if self.verdicts.len() < 64 {
            self.verdicts.push((provider, channel, event_id, verdict));
        }
        Ok(Some(verdict))
    }

    /// Runs template `def` over `values`, into `st`.
    fn exec(
        &mut self,
        def: u32,
        values: &[Value<'c>],
        st: &mut State,
        keep: &dyn Fn(&EventRecord) -> bool,
        depth: usize,
    ) -> Result<Flow, Decline> {
        let p = self.program(def)?;
        let mut i = 0;
        while i < p.ops.len() {
            st.charge(1, st.text.len())?;
            match &p.ops[i] {
                Op::Open { dependency, end, only, .. } => {
                    // MS-EVEN6 2.2.12: an element whose dependency names a null value is left out.
                    if dependency
                        .and_then(|d| values.get(usize::from(d)))
                        .is_some_and(|(ty, _)| *ty == vt::NULL)
                    {
                        i = end + 1;
                        continue;
                    }
                    if let Some((vt::STRING_ARRAY, b)) = only.and_then(|id| values.get(usize::from(id))) {
                        // One element per item; no items is one empty element.
                        let items = string_array(b)?;
                        for item in items.iter().map(Some).chain(items.is_empty().then_some(None)) {
                            if let Flow::Stop = open(st, &p, i, values, keep)? {
                                return Ok(Flow::Stop);
                            }
                            if let Some(item) = item {
                                let before = st.text.len();
                                push_normalised(&mut st.text, item, false);
                                st.charge(1, before)?;
                            }
                            close(st)?;
                        }
                        i = end + 1;
                        continue;
                    }
                    if let Some(f) = &p.fast[i]
                        && shortcut(f, st, values, depth)?
                    {
                        i = end + 1;
                        continue;
                    }
                    if let Flow::Stop = open(st, &p, i, values, keep)? {
                        return Ok(Flow::Stop);
                    }
                }
                Op::Text(Piece::Sub(id))
                    if values.get(usize::from(*id)).is_some_and(|(ty, _)| *ty == vt::BIN_XML) =>
                {
                    // Embedded BinXML (a classic event's or the Security log's `EventData`): its
                    // elements are spliced in here.
                    let (_, b) = values[usize::from(*id)];
                    if depth >= 4 {
                        return Err("BinXML nested too deep");
                    }
                    if !b.is_empty() {
                        let at = b.as_ptr() as usize - self.data.as_ptr() as usize;
                        let mut nested = Vec::new();
                        let def = instance(self.data, at, at + b.len(), &mut nested)?;
                        if let Flow::Stop = self.exec(def, &nested, st, keep, depth + 1)? {
                            return Ok(Flow::Stop);
                        }
                    }
                }
                Op::Text(piece) => {
                    let before = st.text.len();
                    render_piece(&mut st.text, piece, values, false)?;
                    st.charge(0, before)?;
                }
                Op::Close => close(st)?,
            }
            i += 1;
        }
        Ok(Flow::Go)
    }

    fn program(&mut self, def: u32) -> Result<Rc<Program>, Decline> {
        if let Some((_, p)) = self.programs.iter().find(|(at, _)| *at == def) {
            return p.clone();
        }
        let p = cache::compiled(self.data, def as usize);
        self.programs.push((def, p.clone()));
        p
    }
}

fn u16le(d: &[u8], at: usize) -> Option<u16> {
    d.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
}
fn u32le(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}
fn u64le(d: &[u8], at: usize) -> Option<u64> {
    d.get(at..at + 8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

/// What a record is being built into.
#[derive(Default)]
struct State {
    rec: EventRecord,
    path: Vec<Rc<str>>,
    text: String,
    data_name: Option<std::sync::Arc<str>>,
    /// What the record may still do: operations and bytes of text (see [`MAX_RECORD_WORK`]).
    work_left: usize,
    out_left: usize,
}

impl State {
    /// Charges `ops` operations and the text `text_before..st.text.len()` just produced.
    fn charge(&mut self, ops: usize, text_before: usize) -> Result<(), Decline> {
        let produced = self.text.len().saturating_sub(text_before);
        self.work_left = self.work_left.checked_sub(ops).ok_or(OVER_BUDGET)?;
        self.out_left = self.out_left.checked_sub(produced).ok_or(OVER_BUDGET)?;
        Ok(())
    }
}

enum Flow {
    Go,
    /// `keep` rejected the record after its `System` part.
    Stop,
}

/// Opens the element of op `i`: the record is offered to `keep` before its event data, then the
/// element goes to the XML reader's handler.
fn open(
    st: &mut State,
    p: &Program,
    i: usize,
    values: &[Value<'_>],
    keep: &dyn Fn(&EventRecord) -> bool,
) -> Result<Flow, Decline> {
    let Op::Open { name, attrs, .. } = &p.ops[i] else { return Err("not an element") };
    if st.path.len() == 1 && matches!(&**name, "EventData" | "UserData" | "RenderingInfo") && !keep(&st.rec) {
        return Ok(Flow::Stop);
    }
    st.text.clear();
    let attr = |n: &str| -> Result<Option<String>, String> {
        let Some((_, pieces)) = attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)) else {
            return Ok(None);
        };
        let mut s = String::new();
        for piece in pieces {
            render_piece(&mut s, piece, values, true).map_err(str::to_string)?;
        }
        // The crate leaves an attribute whose value is empty out.
        Ok((!s.is_empty()).then_some(s))
    };
    if on_open(&mut st.rec, &st.path, name, &attr, &mut st.data_name).is_err() {
        return Err("attribute value");
    }
    st.path.push(name.clone());
    Ok(Flow::Go)
}

fn close(st: &mut State) -> Result<(), Decline> {
    if on_close(&mut st.rec, &st.path, &mut st.text, &mut st.data_name).is_err() {
        return Err("element value");
    }
    st.path.pop();
    Ok(())
}

/// The template instance (fragment header, template reference, values) at `start..end` of the
/// chunk: its definition's offset, with its values put in `values`.
fn instance<'c>(d: &'c [u8], start: usize, end: usize, values: &mut Vec<Value<'c>>) -> Result<u32, Decline> {
    let mut p = start;
    // A record starts with a fragment header; an embedded fragment may leave it out.
    if d.get(p) == Some(&tok::FRAGMENT_HEADER) {
        p += 4;
    }
    if d.get(p) != Some(&tok::TEMPLATE_INSTANCE) {
        return Err("BinXML is not a template instance");
    }
    let def = u32le(d, p + 6).ok_or("template instance")?;
    p += 10;
    if p == def as usize {
        // The definition follows inline (first use in the chunk): skip it.
        let size = u32le(d, p + 20).ok_or("template definition")? as usize;
        p += 24 + size;
    }
    let count = u32le(d, p).ok_or("substitution count")? as usize;
    p += 4;
    if count > 4096 || p + 4 * count > end {
        return Err("substitution descriptors");
    }
    let mut v = p + 4 * count;
    values.clear();
    for i in 0..count {
        let size = u16le(d, p + 4 * i).ok_or("descriptor")? as usize;
        let ty = d[p + 4 * i + 2];
        if v + size > end {
            return Err("substitution value");
        }
        values.push((ty, &d[v..v + size]));
        v += size;
    }
    // An embedded fragment may end without the end-of-file token.
    if v < end && d[v] != tok::EOF {
        return Err("something follows the template instance");
    }
    Ok(def)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 20 item 2: every record runs under a work and an output budget; one over either is
    /// declined (its chunk then goes to the crate, whose budget quarantines it).
    #[test]
    fn a_record_over_its_work_or_output_budget_is_declined() {
        let file =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data/eventlogs/DC01/Security.evtx"))
                .expect("the sample log");
        let chunk = &file[4096..4096 + 65536];
        let keep = |_: &EventRecord| true;
        let read = ChunkReader::new(chunk).read_all(&keep).expect("a sample chunk reads within budget");
        assert!(read.len() > 10);
        let work = ChunkReader::with_budget(chunk, 3, MAX_RECORD_OUTPUT).read_all(&keep);
        assert_eq!(work.err(), Some(OVER_BUDGET));
        let output = ChunkReader::with_budget(chunk, MAX_RECORD_WORK, 16).read_all(&keep);
        assert_eq!(output.err(), Some(OVER_BUDGET));
    }
}
