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

use std::fmt::Write as _;
use std::rc::Rc;

use crate::collectors::eventlog::record::EventRecord;
use crate::collectors::eventlog::xml::{on_close, on_open};

/// Why a chunk is left to the crate.
pub type Decline = &'static str;

const CHUNK_HEADER_SIZE: usize = 512;
const RECORD_MAGIC: &[u8; 4] = b"\x2a\x2a\x00\x00";
/// 100 ns ticks between 1601-01-01 and 1970-01-01.
const FILETIME_UNIX_EPOCH: u64 = 116_444_736_000_000_000;
/// 10000-01-01T00:00:00Z as a FILETIME: later times do not render as four-digit years.
const FILETIME_MAX: u64 = 2_650_467_744_000_000_000;

/// BinXML tokens (MS-EVEN6 §2.2.12); the EVTX writer of the sample data writes the same.
pub mod tok {
    pub const EOF: u8 = 0x00;
    pub const OPEN_START: u8 = 0x01;
    pub const CLOSE_START: u8 = 0x02;
    pub const CLOSE_EMPTY: u8 = 0x03;
    pub const END_ELEMENT: u8 = 0x04;
    pub const VALUE: u8 = 0x05;
    pub const ATTRIBUTE: u8 = 0x06;
    pub const CHAR_REF: u8 = 0x08;
    pub const TEMPLATE_INSTANCE: u8 = 0x0c;
    pub const NORMAL_SUBSTITUTION: u8 = 0x0d;
    pub const OPTIONAL_SUBSTITUTION: u8 = 0x0e;
    pub const FRAGMENT_HEADER: u8 = 0x0f;
    /// The "more follows" bit of element, value, attribute and reference tokens.
    pub const MORE: u8 = 0x40;
}

/// Substitution value types (MS-EVEN6 §2.2.18).
pub mod vt {
    pub const NULL: u8 = 0x00;
    pub const STRING: u8 = 0x01;
    pub const INT8: u8 = 0x03;
    pub const UINT8: u8 = 0x04;
    pub const INT16: u8 = 0x05;
    pub const UINT16: u8 = 0x06;
    pub const INT32: u8 = 0x07;
    pub const UINT32: u8 = 0x08;
    pub const INT64: u8 = 0x09;
    pub const UINT64: u8 = 0x0a;
    pub const BOOL: u8 = 0x0d;
    pub const BINARY: u8 = 0x0e;
    pub const GUID: u8 = 0x0f;
    pub const SIZE_T: u8 = 0x10;
    pub const FILETIME: u8 = 0x11;
    pub const SID: u8 = 0x13;
    pub const HEX_INT32: u8 = 0x14;
    pub const HEX_INT64: u8 = 0x15;
    pub const BIN_XML: u8 = 0x21;
    pub const STRING_ARRAY: u8 = 0x81;
}

/// One piece of element content or attribute value.
#[derive(Debug)]
enum Piece {
    Lit(String),
    Sub(u16),
}

#[derive(Debug)]
enum Op {
    /// An element start; `end` is the index of its `Close`, so a left-out element is skipped.
    Open {
        name: Rc<str>,
        attrs: Vec<(String, Vec<Piece>)>,
        dependency: Option<u16>,
        end: usize,
        /// The substitution that is the element's whole content, if one is: a string array
        /// there repeats the element once per item (MS-EVEN6 §3.1.4.7.5).
        only: Option<u16>,
    },
    Text(Piece),
    Close,
}

/// An element start tag being read: name, attributes (name, value pieces), dependency id.
type StartTag = (String, Vec<(String, Vec<Piece>)>, Option<u16>);

/// A compiled template definition.
#[derive(Debug)]
struct Program {
    ops: Vec<Op>,
    /// Per op: a shortcut for an element whose effect on the record is known from the template
    /// alone (the `System` fields, `EventData/Data`), taken when its value has the expected type.
    fast: Vec<Option<Fast>>,
    /// The substitutions of `System/Provider/@Name`, `System/Channel` and `System/EventID` when
    /// all three are shortcuts: what `keep` decides from.
    route_key: Option<(u16, u16, u16)>,
}

/// What a shortcut does — exactly what the XML reader's handlers would do with that element.
#[derive(Debug)]
enum Fast {
    /// A `System` child the record does not keep (Version, Opcode, Execution, Security, …).
    Skip,
    /// `System/Provider/@Name`.
    Provider(u16),
    /// `System/TimeCreated/@SystemTime`.
    TimeCreated(u16),
    /// `System/EventID` without `Qualifiers`, `Level`, `Task`.
    EventId(u16),
    Level(u16),
    Task(u16),
    Keywords(u16),
    EventRecordId(u16),
    Channel(u16),
    Computer(u16),
    /// `EventData/Data` with a literal `Name` (or none) and one substitution.
    Data(Option<String>, u16),
}

/// A substitution value: its type and bytes.
type Value<'a> = (u8, &'a [u8]);

/// Reads the records of one chunk (its 64 KiB, header included).
pub struct ChunkReader<'c> {
    data: &'c [u8],
    /// Compiled templates by definition offset (a chunk has a handful).
    programs: Vec<(u32, Result<Rc<Program>, Decline>)>,
    values: Vec<Value<'c>>,
    scratch: State,
    /// `keep`'s verdicts by provider and channel bytes and event id (see `early_keep`).
    verdicts: Vec<(&'c [u8], &'c [u8], i32, bool)>,
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
        }
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
                                push_normalised(&mut st.text, item, false);
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
                Op::Text(piece) => render_piece(&mut st.text, piece, values, false)?,
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
        let p = compile(self.data, def as usize).map(Rc::new);
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

/// A name reference at `*p`: the name's chunk offset, its text stored inline right after the
/// reference the first time the chunk uses it (then skipped).
fn name_at(d: &[u8], p: &mut usize) -> Result<String, Decline> {
    let off = u32le(d, *p).ok_or("name reference")? as usize;
    *p += 4;
    let len = u16le(d, off + 6).ok_or("name")? as usize;
    if off == *p {
        *p += 8 + 2 * len + 2;
    }
    let units = d.get(off + 8..off + 8 + 2 * len).ok_or("name")?;
    let name = String::from_utf16(
        &units.chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]])).collect::<Vec<_>>(),
    )
    .map_err(|_| "name is not UTF-16")?;
    // Local name, as the XML reader takes it.
    Ok(match name.find(':') {
        Some(i) => name[i + 1..].to_string(),
        None => name,
    })
}

/// Compiles the template definition at chunk offset `def`.
fn compile(d: &[u8], def: usize) -> Result<Program, Decline> {
    let size = u32le(d, def + 20).ok_or("template definition")? as usize;
    let body_end = def + 24 + size;
    if body_end > d.len() {
        return Err("template definition runs past the chunk");
    }
    let mut ops: Vec<Op> = Vec::with_capacity(64);
    let mut open: Vec<usize> = Vec::new();
    // The element whose start tag is being read, and its attribute being read.
    let mut pending: Option<StartTag> = None;
    let mut p = def + 24;
    loop {
        if p >= body_end {
            return Err("template definition has no end");
        }
        let t = d[p];
        p += 1;
        match t & !tok::MORE {
            tok::EOF if t == tok::EOF => break,
            tok::FRAGMENT_HEADER if t == tok::FRAGMENT_HEADER => p += 3,
            tok::OPEN_START => {
                if pending.is_some() {
                    return Err("element start inside a start tag");
                }
                let dep = u16le(d, p).ok_or("element")?;
                p += 6;
                let name = name_at(d, &mut p)?;
                if t & tok::MORE != 0 {
                    p += 4;
                }
                pending = Some((name, Vec::new(), (dep != 0xffff).then_some(dep)));
            }
            tok::ATTRIBUTE => {
                let name = name_at(d, &mut p)?;
                pending.as_mut().ok_or("attribute outside a start tag")?.1.push((name, Vec::new()));
            }
            tok::CLOSE_START | tok::CLOSE_EMPTY if t & tok::MORE == 0 => {
                let (name, attrs, dependency) = pending.take().ok_or("start tag end without a start")?;
                open.push(ops.len());
                ops.push(Op::Open { name: name.into(), attrs, dependency, end: 0, only: None });
                if t == tok::CLOSE_EMPTY {
                    end_element(&mut ops, &mut open)?;
                }
            }
            tok::END_ELEMENT if t == tok::END_ELEMENT => {
                if pending.is_some() {
                    return Err("element end inside a start tag");
                }
                end_element(&mut ops, &mut open)?;
            }
            tok::VALUE => {
                if d.get(p) != Some(&vt::STRING) {
                    return Err("template literal that is not a string");
                }
                let len = u16le(d, p + 1).ok_or("value")? as usize;
                let units = d.get(p + 3..p + 3 + 2 * len).ok_or("value")?;
                p += 3 + 2 * len;
                let mut s = String::with_capacity(len);
                push_utf16(&mut s, units);
                put(&mut pending, &mut ops, Piece::Lit(s));
            }
            tok::CHAR_REF => {
                let c = u16le(d, p).ok_or("character reference")?;
                p += 2;
                let c =
                    char::from_u32(u32::from(c)).filter(|c| !c.is_control()).ok_or("character reference")?;
                put(&mut pending, &mut ops, Piece::Lit(c.to_string()));
            }
            tok::NORMAL_SUBSTITUTION | tok::OPTIONAL_SUBSTITUTION if t & tok::MORE == 0 => {
                let id = u16le(d, p).ok_or("substitution")?;
                p += 3;
                put(&mut pending, &mut ops, Piece::Sub(id));
            }
            _ => return Err("template token this reader does not handle"),
        }
    }
    if !open.is_empty() || pending.is_some() {
        return Err("template definition ends inside an element");
    }
    let fast = shortcuts(&ops);
    let find = |want: fn(&Fast) -> Option<u16>| fast.iter().flatten().find_map(want);
    let route_key = match (
        find(|f| if let Fast::Provider(id) = f { Some(*id) } else { None }),
        find(|f| if let Fast::Channel(id) = f { Some(*id) } else { None }),
        find(|f| if let Fast::EventId(id) = f { Some(*id) } else { None }),
    ) {
        (Some(p), Some(c), Some(e)) => Some((p, c, e)),
        _ => None,
    };
    Ok(Program { ops, fast, route_key })
}

fn end_element(ops: &mut Vec<Op>, open: &mut Vec<usize>) -> Result<(), Decline> {
    let at = open.pop().ok_or("element end without a start")?;
    let here = ops.len();
    let sole = match &ops[at + 1..] {
        [Op::Text(Piece::Sub(id))] => Some(*id),
        _ => None,
    };
    if let Op::Open { end, only, .. } = &mut ops[at] {
        *end = here;
        *only = sole;
    }
    ops.push(Op::Close);
    Ok(())
}

fn put(pending: &mut Option<StartTag>, ops: &mut Vec<Op>, piece: Piece) {
    match pending.as_mut().and_then(|(_, attrs, _)| attrs.last_mut()) {
        Some((_, value)) => value.push(piece),
        None => ops.push(Op::Text(piece)),
    }
}

/// The shortcuts of a template's ops (see [`Fast`]). `System` ones only in a template whose root
/// is `Event` (used at the record's top level).
fn shortcuts(ops: &[Op]) -> Vec<Option<Fast>> {
    let mut fast: Vec<Option<Fast>> = ops.iter().map(|_| None).collect();
    let mut path: Vec<&str> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Open { name, attrs, dependency, only, .. } => {
                let sole_attr = |n: &str| match attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)) {
                    Some((_, pieces)) => match pieces.as_slice() {
                        [Piece::Sub(id)] => Some(Some(*id)),
                        _ => Some(None),
                    },
                    None => None,
                };
                let system =
                    path.len() == 2 && path[0] == "Event" && path[1] == "System" && dependency.is_none();
                fast[i] = match (&**name, only) {
                    ("Provider", _) if system => match (sole_attr("Name"), attrs.len()) {
                        (Some(Some(id)), _) => Some(Fast::Provider(id)),
                        _ => None,
                    },
                    ("TimeCreated", _) if system => match sole_attr("SystemTime") {
                        Some(Some(id)) => Some(Fast::TimeCreated(id)),
                        _ => None,
                    },
                    ("EventID", Some(id)) if system && attrs.is_empty() => Some(Fast::EventId(*id)),
                    ("Level", Some(id)) if system && attrs.is_empty() => Some(Fast::Level(*id)),
                    ("Task", Some(id)) if system && attrs.is_empty() => Some(Fast::Task(*id)),
                    ("Keywords", Some(id)) if system && attrs.is_empty() => Some(Fast::Keywords(*id)),
                    ("EventRecordID", Some(id)) if system && attrs.is_empty() => {
                        Some(Fast::EventRecordId(*id))
                    }
                    ("Channel", Some(id)) if system && attrs.is_empty() => Some(Fast::Channel(*id)),
                    ("Computer", Some(id)) if system && attrs.is_empty() => Some(Fast::Computer(*id)),
                    (
                        "EventID" | "Level" | "Task" | "Keywords" | "EventRecordID" | "Channel" | "Computer",
                        _,
                    ) => None,
                    (_, _) if system => Some(Fast::Skip),
                    ("Data", Some(id)) if path.last() == Some(&"EventData") && dependency.is_none() => {
                        match (attrs.as_slice(), sole_attr("Name")) {
                            ([], None) => Some(Fast::Data(None, *id)),
                            ([(_, pieces)], Some(None)) => match pieces.as_slice() {
                                [Piece::Lit(n)] if !n.is_empty() => Some(Fast::Data(Some(n.clone()), *id)),
                                _ => None,
                            },
                            _ => None,
                        }
                    }
                    _ => None,
                };
                path.push(name);
            }
            Op::Close => {
                path.pop();
            }
            Op::Text(_) => {}
        }
    }
    fast
}

/// What a record is being built into.
#[derive(Default)]
struct State {
    rec: EventRecord,
    path: Vec<Rc<str>>,
    text: String,
    data_name: Option<String>,
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

/// Takes shortcut `f` when the record is where the shortcut assumes and its value has the type
/// the shortcut reads; `false` leaves the element to the general path.
fn shortcut(f: &Fast, st: &mut State, values: &[Value<'_>], depth: usize) -> Result<bool, Decline> {
    let value = |id: &u16| values.get(usize::from(*id)).copied().unwrap_or((vt::NULL, &[]));
    let in_system = depth == 0 && st.path.len() == 2;
    let rec = &mut st.rec;
    let done = match f {
        Fast::Data(name, id) => {
            if st.path.len() != 2 || &*st.path[1] != "EventData" {
                return Ok(false);
            }
            let (ty, b) = value(id);
            if ty & 0x80 != 0 || ty == vt::BIN_XML {
                return Ok(false);
            }
            let mut v = String::new();
            render(&mut v, ty, b, false)?;
            if rec.data.capacity() == 0 {
                rec.data.reserve(16);
            }
            rec.data.push((name.clone(), v));
            st.data_name = None;
            true
        }
        _ if !in_system => false,
        Fast::Skip => true,
        Fast::Provider(id) => match value(id) {
            (vt::STRING, b) => {
                let mut v = String::new();
                render(&mut v, vt::STRING, b, true)?;
                let ok = !v.is_empty();
                if ok {
                    rec.provider = v;
                }
                ok
            }
            _ => false,
        },
        Fast::TimeCreated(id) => {
            time_created(rec, Some(&value(id)))?;
            true
        }
        Fast::EventId(id) => match small_int(value(id)) {
            Some(v) => {
                rec.qualifiers = None;
                rec.event_id = Some(v);
                true
            }
            None => false,
        },
        Fast::Level(id) => small_int(value(id)).map(|v| rec.level = Some(v)).is_some(),
        Fast::Task(id) => small_int(value(id)).map(|v| rec.task = Some(v)).is_some(),
        Fast::EventRecordId(id) => match value(id) {
            (vt::UINT64, b) => {
                match i64::try_from(u64::from_le_bytes(b.try_into().map_err(|_| "UInt64 size")?)) {
                    Ok(v) => {
                        rec.event_record_id = Some(v);
                        true
                    }
                    Err(_) => false,
                }
            }
            _ => false,
        },
        Fast::Keywords(id) => match value(id) {
            (vt::HEX_INT64, b) => {
                let mut v = String::with_capacity(18);
                render(&mut v, vt::HEX_INT64, b, false)?;
                rec.keywords = Some(v);
                true
            }
            _ => false,
        },
        Fast::Channel(id) | Fast::Computer(id) => match value(id) {
            (vt::STRING, b) => {
                let mut v = String::new();
                render(&mut v, vt::STRING, b, false)?;
                let v = if v.trim().len() == v.len() { v } else { v.trim().to_string() };
                match f {
                    Fast::Channel(_) => rec.channel = v,
                    _ => rec.computer = v,
                }
                true
            }
            _ => false,
        },
    };
    if done {
        st.text.clear();
    }
    Ok(done)
}

/// An unsigned 8/16-bit value (EventID, Level, Task as Windows writes them).
fn small_int((ty, b): Value<'_>) -> Option<i32> {
    match (ty, b) {
        (vt::UINT8, [x]) => Some(i32::from(*x)),
        (vt::UINT16, [x, y]) => Some(i32::from(u16::from_le_bytes([*x, *y]))),
        _ => None,
    }
}

/// A string array's items: UTF-16 strings, each ending with a NUL.
fn string_array(b: &[u8]) -> Result<Vec<String>, Decline> {
    if !b.len().is_multiple_of(2) || !(b.is_empty() || b.ends_with(&[0, 0])) {
        return Err("string array");
    }
    let units: Vec<u16> = b.chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]])).collect();
    let Some((_, items)) = units.split_last() else { return Ok(Vec::new()) };
    Ok(items
        .split(|u| *u == 0)
        .map(|item| char::decode_utf16(item.iter().copied()).map(|c| c.unwrap_or('_')).collect())
        .collect())
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

/// `System/TimeCreated/@SystemTime` from its value: a FILETIME read directly, anything else
/// rendered and parsed as the XML reader would.
fn time_created(rec: &mut EventRecord, value: Option<&Value<'_>>) -> Result<(), Decline> {
    match value {
        Some((vt::FILETIME, b)) => rec.time_created = Some(filetime_micros(b)?),
        Some((ty, b)) => {
            let mut s = String::new();
            render(&mut s, *ty, b, true)?;
            if !s.is_empty() {
                rec.time_created = Some(
                    crate::util::parse_instant(&s).ok_or("TimeCreated is not a time")?.timestamp_micros(),
                );
            }
        }
        None => {}
    }
    Ok(())
}

fn render_piece(out: &mut String, piece: &Piece, values: &[Value<'_>], attr: bool) -> Result<(), Decline> {
    match piece {
        Piece::Lit(s) => {
            push_normalised(out, s, attr);
            Ok(())
        }
        // A substitution past the values renders as nothing, as the crate does.
        Piece::Sub(id) => match values.get(usize::from(*id)) {
            Some((ty, b)) => render(out, *ty, b, attr),
            None => Ok(()),
        },
    }
}

/// Appends text as the XML reader would read it back from the crate's rendering: line ends
/// normalised (in attributes, whitespace as spaces), characters XML cannot carry as `_`.
fn push_normalised(out: &mut String, s: &str, attr: bool) {
    if !s.bytes().any(|b| b < 0x20) && !s.contains(['\u{FFFE}', '\u{FFFF}']) {
        out.push_str(s);
        return;
    }
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(if attr { ' ' } else { '\n' });
            }
            '\n' | '\t' if attr => out.push(' '),
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('_'),
            c => out.push(c),
        }
    }
}

/// A string value: UTF-16LE up to its first NUL, as [`push_normalised`] puts text. Printable ASCII,
/// nearly every value in a log, is copied as it is.
fn push_string(out: &mut String, b: &[u8], attr: bool) {
    let mut ascii = true;
    let mut n = 0;
    for u in b.chunks_exact(2) {
        if u == [0, 0] {
            break;
        }
        ascii &= u[1] == 0 && (0x20..0x80).contains(&u[0]);
        n += 1;
    }
    let units = &b[..2 * n];
    if ascii {
        let mut v = std::mem::take(out).into_bytes();
        v.extend(units.chunks_exact(2).map(|u| u[0]));
        // Printable ASCII appended to UTF-8 is UTF-8.
        *out = String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    } else {
        let mut s = String::with_capacity(n);
        push_utf16(&mut s, units);
        push_normalised(out, &s, attr);
    }
}

/// UTF-16LE into `out`, a lone surrogate as `_` (as the crate renders it).
fn push_utf16(out: &mut String, units: &[u8]) {
    let it = units.chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]]));
    for c in char::decode_utf16(it) {
        out.push(c.unwrap_or('_'));
    }
}

/// Renders one value as the crate writes it into XML (then read back by the XML reader).
fn render(out: &mut String, ty: u8, b: &[u8], attr: bool) -> Result<(), Decline> {
    macro_rules! int {
        ($t:ty, $n:expr) => {{
            let a: [u8; $n] = b.try_into().map_err(|_| "integer size")?;
            out.push_str(itoa::Buffer::new().format(<$t>::from_le_bytes(a)));
        }};
    }
    match ty {
        vt::NULL => {}
        vt::STRING => push_string(out, b, attr),
        vt::INT8 => int!(i8, 1),
        vt::UINT8 => int!(u8, 1),
        vt::INT16 => int!(i16, 2),
        vt::UINT16 => int!(u16, 2),
        vt::INT32 => int!(i32, 4),
        vt::UINT32 => int!(u32, 4),
        vt::INT64 => int!(i64, 8),
        vt::UINT64 => int!(u64, 8),
        vt::BOOL => {
            let a: [u8; 4] = b.try_into().map_err(|_| "bool size")?;
            match i32::from_le_bytes(a) {
                0 => out.push_str("false"),
                1 => out.push_str("true"),
                n => {
                    let _ = write!(out, "{n}");
                }
            }
        }
        vt::BINARY => {
            for x in b {
                let _ = write!(out, "{x:02X}");
            }
        }
        vt::GUID => {
            let g: [u8; 16] = b.try_into().map_err(|_| "GUID size")?;
            let d1 = u32::from_le_bytes([g[0], g[1], g[2], g[3]]);
            let d2 = u16::from_le_bytes([g[4], g[5]]);
            let d3 = u16::from_le_bytes([g[6], g[7]]);
            let _ = write!(out, "{{{d1:08x}-{d2:04x}-{d3:04x}-{:02x}{:02x}-", g[8], g[9]);
            for x in &g[10..] {
                let _ = write!(out, "{x:02x}");
            }
            out.push('}');
        }
        vt::SIZE_T | vt::HEX_INT32 | vt::HEX_INT64 => {
            let v = match b.len() {
                4 => u64::from(u32::from_le_bytes(b.try_into().expect("4 bytes"))),
                8 => u64::from_le_bytes(b.try_into().expect("8 bytes")),
                _ => return Err("hex integer size"),
            };
            if ty == vt::HEX_INT32 && b.len() != 4 || ty == vt::HEX_INT64 && b.len() != 8 {
                return Err("hex integer size");
            }
            let _ = write!(out, "0x{v:x}");
        }
        vt::FILETIME => {
            let a: [u8; 8] = b.try_into().map_err(|_| "FILETIME size")?;
            let ticks = u64::from_le_bytes(a);
            if ticks >= FILETIME_MAX {
                return Err("FILETIME past year 9999");
            }
            // 1601-01-01 is 134774 days before 1970-01-01.
            let secs = (ticks / 10_000_000) as i64 - 11_644_473_600;
            let t = chrono::DateTime::from_timestamp(secs, 0).ok_or("FILETIME")?;
            let _ = write!(out, "{}.{:07}Z", t.format("%Y-%m-%dT%H:%M:%S"), ticks % 10_000_000);
        }
        vt::SID => {
            let [rev, n, a @ ..] = b else {
                out.push_str("S-?");
                return Ok(());
            };
            if a.len() < 6 {
                out.push_str("S-?");
                return Ok(());
            }
            let auth = u64::from_be_bytes([0, 0, a[0], a[1], a[2], a[3], a[4], a[5]]);
            let _ = write!(out, "S-{rev}-{auth}");
            for sub in a[6..].chunks_exact(4).take(usize::from(*n)) {
                let _ = write!(out, "-{}", u32::from_le_bytes(sub.try_into().expect("4 bytes")));
            }
        }
        _ => return Err("value type this reader does not handle"),
    }
    Ok(())
}

/// A FILETIME value as microseconds since the Unix epoch (floor, as parsing its 100 ns rendering
/// does).
fn filetime_micros(b: &[u8]) -> Result<i64, Decline> {
    let a: [u8; 8] = b.try_into().map_err(|_| "FILETIME size")?;
    let ticks = u64::from_le_bytes(a);
    if !(FILETIME_UNIX_EPOCH..FILETIME_MAX).contains(&ticks) {
        return Err("TimeCreated outside 1970..9999");
    }
    Ok(((ticks - FILETIME_UNIX_EPOCH) / 10) as i64)
}
