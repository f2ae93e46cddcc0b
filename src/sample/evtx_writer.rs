//! An EVTX writer, for synthetic Windows event logs that every EVTX reader accepts.
//!
//! Layout per reference/onprem-logs.md §3.1 (libevtx's "Windows XML Event Log" and MS-EVEN6): a
//! 4096-byte file header, 64 KiB chunks with a 512-byte header (record range, free-space offset,
//! CRC32 of the records and of the header, the 64-bucket common-string table and the 32-bucket
//! template table), and records (`**\0\0`, size, id, FILETIME, Binary XML, size again).
//!
//! Records are written as Windows writes them: a fragment header and a template instance whose
//! definition (the `<Event>` element tree with typed substitutions) is stored once per chunk, at
//! its first use, and referenced by offset afterwards; element and attribute names are stored once
//! per chunk in the string table and referenced by offset. Substitution values are typed (UInt16
//! EventID, UInt8 Level, HexInt64 Keywords, FileTime TimeCreated, UInt64 EventRecordID, …).

use std::collections::HashMap;
use std::io::{Seek, SeekFrom, Write};

use evtx::checksum_ieee;

use crate::evtx_format::{tok, vt};

const FILE_HEADER_SIZE: usize = 4096;
const CHUNK_SIZE: usize = 65536;
const CHUNK_HEADER_SIZE: usize = 512;
const EVENT_NS: &str = "http://schemas.microsoft.com/win/2004/08/events/event";

/// Seconds between 1601-01-01 and 1970-01-01, in 100 ns ticks.
const FILETIME_UNIX_EPOCH: i64 = 116_444_736_000_000_000;

/// One event to write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WinEvent {
    pub provider: String,
    pub event_id: u16,
    /// Classic (non-manifest) sources carry `Qualifiers`.
    pub qualifiers: Option<u16>,
    pub version: u8,
    pub level: u8,
    pub task: u16,
    pub opcode: u8,
    pub keywords: u64,
    /// Microseconds since the epoch, UTC.
    pub time_created: i64,
    /// `System/EventRecordID`.
    pub event_record_id: u64,
    pub process_id: u32,
    pub thread_id: u32,
    pub channel: String,
    pub computer: String,
    /// `EventData/Data`: named (manifest events) or unnamed (classic events).
    pub data: Vec<(Option<String>, String)>,
}

/// Microseconds since the epoch to a Windows FILETIME.
fn filetime(micros: i64) -> u64 {
    (micros * 10 + FILETIME_UNIX_EPOCH) as u64
}

fn name_hash(s: &str) -> u16 {
    let mut h: u32 = 0;
    for c in s.encode_utf16() {
        h = h.wrapping_mul(65599).wrapping_add(u32::from(c));
    }
    (h & 0xffff) as u16
}

fn utf16(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.encode_utf16().flat_map(u16::to_le_bytes)
}

/// The chunk being filled.
struct Chunk {
    data: Vec<u8>,
    pos: usize,
    names: HashMap<String, u32>,
    string_buckets: [u32; 64],
    templates: HashMap<String, u32>,
    template_buckets: [u32; 32],
    first_id: u64,
    last_id: u64,
    last_record_offset: u32,
    records: u64,
}

impl Chunk {
    fn new() -> Self {
        Self {
            data: vec![0; CHUNK_SIZE],
            pos: CHUNK_HEADER_SIZE,
            names: HashMap::new(),
            string_buckets: [0; 64],
            templates: HashMap::new(),
            template_buckets: [0; 32],
            first_id: 0,
            last_id: 0,
            last_record_offset: 0,
            records: 0,
        }
    }

    /// Fills in the header and its checksums; the chunk bytes are then final.
    fn seal(&mut self) {
        let d = &mut self.data;
        d[0..8].copy_from_slice(b"ElfChnk\0");
        d[8..16].copy_from_slice(&self.first_id.to_le_bytes());
        d[16..24].copy_from_slice(&self.last_id.to_le_bytes());
        d[24..32].copy_from_slice(&self.first_id.to_le_bytes());
        d[32..40].copy_from_slice(&self.last_id.to_le_bytes());
        d[40..44].copy_from_slice(&128u32.to_le_bytes());
        d[44..48].copy_from_slice(&self.last_record_offset.to_le_bytes());
        d[48..52].copy_from_slice(&(self.pos as u32).to_le_bytes());
        let records_crc = checksum_ieee(&d[CHUNK_HEADER_SIZE..self.pos]);
        d[52..56].copy_from_slice(&records_crc.to_le_bytes());
        d[120..124].copy_from_slice(&0u32.to_le_bytes());
        for (i, off) in self.string_buckets.iter().enumerate() {
            d[128 + i * 4..132 + i * 4].copy_from_slice(&off.to_le_bytes());
        }
        for (i, off) in self.template_buckets.iter().enumerate() {
            d[384 + i * 4..388 + i * 4].copy_from_slice(&off.to_le_bytes());
        }
        let mut covered = Vec::with_capacity(504);
        covered.extend_from_slice(&d[..120]);
        covered.extend_from_slice(&d[128..512]);
        d[124..128].copy_from_slice(&checksum_ieee(&covered).to_le_bytes());
    }
}

/// Builds one record's Binary XML at a known chunk offset, noting the names and templates it
/// adds to the chunk so they can be taken back if the record does not fit.
struct RecordBuf<'c> {
    chunk: &'c mut Chunk,
    /// Chunk offset of `out[0]`.
    base: u32,
    out: Vec<u8>,
    added_names: Vec<(String, usize, u32)>,
    added_template: Option<(String, usize, u32)>,
}

impl RecordBuf<'_> {
    fn here(&self) -> u32 {
        self.base + self.out.len() as u32
    }
    fn u8(&mut self, v: u8) {
        self.out.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn patch_u32(&mut self, at: usize, v: u32) {
        self.out[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// A name reference: the offset of the chunk's copy, written inline after the reference the
    /// first time the chunk sees the name.
    fn name(&mut self, name: &str) {
        if let Some(off) = self.chunk.names.get(name) {
            let off = *off;
            return self.u32(off);
        }
        let off = self.here() + 4;
        self.u32(off);
        let hash = name_hash(name);
        let bucket = usize::from(hash) % 64;
        let prev = self.chunk.string_buckets[bucket];
        self.u32(prev);
        self.u16(hash);
        self.u16(name.encode_utf16().count() as u16);
        let bytes: Vec<u8> = utf16(name).collect();
        self.out.extend_from_slice(&bytes);
        self.u16(0);
        self.chunk.names.insert(name.to_string(), off);
        self.chunk.string_buckets[bucket] = off;
        self.added_names.push((name.to_string(), bucket, prev));
    }

    /// Opens an element (template-definition form: with a dependency id). Returns the position
    /// of its data-size field and, with attributes, of the attribute-list size.
    fn open(&mut self, name: &str, attrs: bool) -> (usize, Option<usize>) {
        self.u8(if attrs { tok::OPEN_START | tok::MORE } else { tok::OPEN_START });
        self.u16(0xffff);
        let size_at = self.out.len();
        self.u32(0);
        self.name(name);
        let attr_at = attrs.then(|| {
            let at = self.out.len();
            self.u32(0);
            at
        });
        (size_at, attr_at)
    }

    fn close(&mut self, size_at: usize) {
        self.u8(tok::END_ELEMENT);
        let size = (self.out.len() - size_at - 4) as u32;
        self.patch_u32(size_at, size);
    }

    fn close_empty(&mut self, size_at: usize) {
        self.u8(tok::CLOSE_EMPTY);
        let size = (self.out.len() - size_at - 4) as u32;
        self.patch_u32(size_at, size);
    }

    fn end_attrs(&mut self, attr_at: Option<usize>) {
        if let Some(at) = attr_at {
            let size = (self.out.len() - at - 4) as u32;
            self.patch_u32(at, size);
        }
    }

    fn attribute(&mut self, name: &str, more: bool) {
        self.u8(if more { tok::ATTRIBUTE | tok::MORE } else { tok::ATTRIBUTE });
        self.name(name);
    }

    fn text(&mut self, s: &str) {
        self.u8(tok::VALUE);
        self.u8(vt::STRING);
        self.u16(s.encode_utf16().count() as u16);
        let bytes: Vec<u8> = utf16(s).collect();
        self.out.extend_from_slice(&bytes);
    }

    fn subst(&mut self, id: u16, ty: u8) {
        self.u8(tok::NORMAL_SUBSTITUTION);
        self.u16(id);
        self.u8(ty);
    }

    /// `<name>{subst}</name>`
    fn leaf(&mut self, name: &str, id: u16, ty: u8) {
        let (size_at, _) = self.open(name, false);
        self.u8(tok::CLOSE_START);
        self.subst(id, ty);
        self.close(size_at);
    }

    /// `<name attr="{subst}"/>`
    fn empty_with_attr(&mut self, name: &str, attr: &str, id: u16, ty: u8) {
        let (size_at, attr_at) = self.open(name, true);
        self.attribute(attr, false);
        self.subst(id, ty);
        self.end_attrs(attr_at);
        self.close_empty(size_at);
    }
}

/// The element structure of an event: what its template must contain.
fn template_key(ev: &WinEvent) -> String {
    let mut k = String::from(if ev.qualifiers.is_some() { "Q" } else { "M" });
    for (n, _) in &ev.data {
        k.push('|');
        k.push_str(n.as_deref().unwrap_or(""));
    }
    k
}

/// Writes a template definition for `ev`'s structure. Substitution ids: 0 provider, 1 event id,
/// 2 qualifiers, 3 version, 4 level, 5 task, 6 opcode, 7 keywords, 8 time, 9 record id,
/// 10 process id, 11 thread id, 12 channel, 13 computer, 14… data values.
fn write_template_body(b: &mut RecordBuf<'_>, ev: &WinEvent) {
    b.u8(tok::FRAGMENT_HEADER);
    b.u8(1);
    b.u8(1);
    b.u8(0);
    let (event_size, event_attrs) = b.open("Event", true);
    b.attribute("xmlns", false);
    b.text(EVENT_NS);
    b.end_attrs(event_attrs);
    b.u8(tok::CLOSE_START);

    let (sys_size, _) = b.open("System", false);
    b.u8(tok::CLOSE_START);
    b.empty_with_attr("Provider", "Name", 0, vt::STRING);
    if ev.qualifiers.is_some() {
        let (size_at, attr_at) = b.open("EventID", true);
        b.attribute("Qualifiers", false);
        b.subst(2, vt::UINT16);
        b.end_attrs(attr_at);
        b.u8(tok::CLOSE_START);
        b.subst(1, vt::UINT16);
        b.close(size_at);
    } else {
        b.leaf("EventID", 1, vt::UINT16);
    }
    b.leaf("Version", 3, vt::UINT8);
    b.leaf("Level", 4, vt::UINT8);
    b.leaf("Task", 5, vt::UINT16);
    b.leaf("Opcode", 6, vt::UINT8);
    b.leaf("Keywords", 7, vt::HEX_INT64);
    b.empty_with_attr("TimeCreated", "SystemTime", 8, vt::FILETIME);
    b.leaf("EventRecordID", 9, vt::UINT64);
    let (size_at, _) = b.open("Correlation", false);
    b.close_empty(size_at);
    let (size_at, attr_at) = b.open("Execution", true);
    b.attribute("ProcessID", true);
    b.subst(10, vt::UINT32);
    b.attribute("ThreadID", false);
    b.subst(11, vt::UINT32);
    b.end_attrs(attr_at);
    b.close_empty(size_at);
    b.leaf("Channel", 12, vt::STRING);
    b.leaf("Computer", 13, vt::STRING);
    let (size_at, _) = b.open("Security", false);
    b.close_empty(size_at);
    b.close(sys_size);

    let (data_size, _) = b.open("EventData", false);
    if ev.data.is_empty() {
        b.close_empty(data_size);
    } else {
        b.u8(tok::CLOSE_START);
        for (i, (name, _)) in ev.data.iter().enumerate() {
            let id = 14 + i as u16;
            match name {
                Some(n) => {
                    let (size_at, attr_at) = b.open("Data", true);
                    b.attribute("Name", false);
                    b.text(n);
                    b.end_attrs(attr_at);
                    b.u8(tok::CLOSE_START);
                    b.subst(id, vt::STRING);
                    b.close(size_at);
                }
                None => b.leaf("Data", id, vt::STRING),
            }
        }
        b.close(data_size);
    }
    b.close(event_size);
    b.u8(tok::EOF);
}

/// The substitution values of `ev`, in id order: (type, bytes).
fn values(ev: &WinEvent) -> Vec<(u8, Vec<u8>)> {
    let s = |v: &str| (vt::STRING, utf16(v).collect::<Vec<u8>>());
    let mut out = vec![
        s(&ev.provider),
        (vt::UINT16, ev.event_id.to_le_bytes().to_vec()),
        (vt::UINT16, ev.qualifiers.unwrap_or(0).to_le_bytes().to_vec()),
        (vt::UINT8, vec![ev.version]),
        (vt::UINT8, vec![ev.level]),
        (vt::UINT16, ev.task.to_le_bytes().to_vec()),
        (vt::UINT8, vec![ev.opcode]),
        (vt::HEX_INT64, ev.keywords.to_le_bytes().to_vec()),
        (vt::FILETIME, filetime(ev.time_created).to_le_bytes().to_vec()),
        (vt::UINT64, ev.event_record_id.to_le_bytes().to_vec()),
        (vt::UINT32, ev.process_id.to_le_bytes().to_vec()),
        (vt::UINT32, ev.thread_id.to_le_bytes().to_vec()),
        s(&ev.channel),
        s(&ev.computer),
    ];
    out.extend(ev.data.iter().map(|(_, v)| s(v)));
    out
}

/// Writes `.evtx` files. Call [`EvtxWriter::finish`] to write the file header.
pub struct EvtxWriter<W: Write + Seek> {
    out: W,
    chunk: Chunk,
    chunks: u64,
    next_header_id: u64,
}

impl<W: Write + Seek> EvtxWriter<W> {
    pub fn new(mut out: W) -> std::io::Result<Self> {
        out.write_all(&[0u8; FILE_HEADER_SIZE])?;
        Ok(Self { out, chunk: Chunk::new(), chunks: 0, next_header_id: 1 })
    }

    /// Appends one event; its record-header id is the next in the file (1, 2, …).
    pub fn write(&mut self, ev: &WinEvent) -> std::io::Result<()> {
        if ev.data.len() > 1000 {
            return Err(std::io::Error::other("an event has at most 1000 data items"));
        }
        if !self.try_write(ev) {
            self.flush_chunk()?;
            if !self.try_write(ev) {
                return Err(std::io::Error::other(format!(
                    "event {} (record {}) does not fit in one 64 KiB chunk",
                    ev.event_id, ev.event_record_id
                )));
            }
        }
        Ok(())
    }

    fn try_write(&mut self, ev: &WinEvent) -> bool {
        let start = self.chunk.pos;
        let id = self.next_header_id;
        let key = template_key(ev);
        let mut b = RecordBuf {
            base: (start + 24) as u32,
            chunk: &mut self.chunk,
            out: Vec::with_capacity(512),
            added_names: Vec::new(),
            added_template: None,
        };
        b.u8(tok::FRAGMENT_HEADER);
        b.u8(1);
        b.u8(1);
        b.u8(0);
        b.u8(tok::TEMPLATE_INSTANCE);
        b.u8(1);
        let template_id = u32::from(name_hash(&key)) | ((key.len() as u32) << 16);
        b.u32(template_id);
        match b.chunk.templates.get(&key) {
            Some(off) => {
                let off = *off;
                b.u32(off);
            }
            None => {
                let def = b.here() + 4;
                b.u32(def);
                let bucket = (template_id % 32) as usize;
                let prev = b.chunk.template_buckets[bucket];
                b.u32(prev);
                // A GUID derived from the structure, so equal structures share an identity.
                let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
                b.out.extend_from_slice(&digest.as_ref()[..16]);
                let size_at = b.out.len();
                b.u32(0);
                write_template_body(&mut b, ev);
                let size = (b.out.len() - size_at - 4) as u32;
                b.patch_u32(size_at, size);
                b.chunk.templates.insert(key.clone(), def);
                b.chunk.template_buckets[bucket] = def;
                b.added_template = Some((key, bucket, prev));
            }
        }
        let vals = values(ev);
        b.u32(vals.len() as u32);
        for (ty, bytes) in &vals {
            b.u16(bytes.len() as u16);
            b.u8(*ty);
            b.u8(0);
        }
        for (_, bytes) in &vals {
            b.out.extend_from_slice(bytes);
        }
        b.u8(tok::EOF);
        let binxml = std::mem::take(&mut b.out);
        let added_names = std::mem::take(&mut b.added_names);
        let added_template = b.added_template.take();
        let size = 24 + binxml.len() + 4;
        if start + size > CHUNK_SIZE {
            // Take back what this record added to the chunk's tables.
            for (name, bucket, prev) in added_names.into_iter().rev() {
                self.chunk.names.remove(&name);
                self.chunk.string_buckets[bucket] = prev;
            }
            if let Some((key, bucket, prev)) = added_template {
                self.chunk.templates.remove(&key);
                self.chunk.template_buckets[bucket] = prev;
            }
            return false;
        }
        let d = &mut self.chunk.data[start..start + size];
        d[0..4].copy_from_slice(b"\x2a\x2a\x00\x00");
        d[4..8].copy_from_slice(&(size as u32).to_le_bytes());
        d[8..16].copy_from_slice(&id.to_le_bytes());
        d[16..24].copy_from_slice(&filetime(ev.time_created).to_le_bytes());
        d[24..24 + binxml.len()].copy_from_slice(&binxml);
        d[size - 4..size].copy_from_slice(&(size as u32).to_le_bytes());
        if self.chunk.records == 0 {
            self.chunk.first_id = id;
        }
        self.chunk.last_id = id;
        self.chunk.last_record_offset = start as u32;
        self.chunk.records += 1;
        self.chunk.pos += size;
        self.next_header_id += 1;
        true
    }

    fn flush_chunk(&mut self) -> std::io::Result<()> {
        if self.chunk.records == 0 {
            return Ok(());
        }
        self.chunk.seal();
        self.out.write_all(&self.chunk.data)?;
        self.chunks += 1;
        self.chunk = Chunk::new();
        Ok(())
    }

    /// Writes the last chunk and the file header; returns the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.flush_chunk()?;
        let mut h = [0u8; FILE_HEADER_SIZE];
        h[0..8].copy_from_slice(b"ElfFile\0");
        h[8..16].copy_from_slice(&0u64.to_le_bytes());
        h[16..24].copy_from_slice(&self.chunks.saturating_sub(1).to_le_bytes());
        h[24..32].copy_from_slice(&self.next_header_id.to_le_bytes());
        h[32..36].copy_from_slice(&128u32.to_le_bytes());
        h[36..38].copy_from_slice(&1u16.to_le_bytes());
        h[38..40].copy_from_slice(&3u16.to_le_bytes());
        h[40..42].copy_from_slice(&(FILE_HEADER_SIZE as u16).to_le_bytes());
        h[42..44].copy_from_slice(&(self.chunks.min(u64::from(u16::MAX)) as u16).to_le_bytes());
        h[120..124].copy_from_slice(&0u32.to_le_bytes());
        let crc = checksum_ieee(&h[..120]);
        h[124..128].copy_from_slice(&crc.to_le_bytes());
        self.out.seek(SeekFrom::Start(0))?;
        self.out.write_all(&h)?;
        self.out.seek(SeekFrom::End(0))?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The event as `wevtutil qe /f:xml` prints it (one line, no declaration).
pub fn to_xml(ev: &WinEvent) -> String {
    fn esc(s: &str) -> String {
        let mut o = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '&' => o.push_str("&amp;"),
                '<' => o.push_str("&lt;"),
                '>' => o.push_str("&gt;"),
                '"' => o.push_str("&quot;"),
                '\'' => o.push_str("&apos;"),
                c => o.push(c),
            }
        }
        o
    }
    let time = chrono::DateTime::from_timestamp_micros(ev.time_created)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6f0Z").to_string())
        .unwrap_or_default();
    let event_id = match ev.qualifiers {
        Some(q) => format!("<EventID Qualifiers='{q}'>{}</EventID>", ev.event_id),
        None => format!("<EventID>{}</EventID>", ev.event_id),
    };
    let mut data = String::new();
    for (n, v) in &ev.data {
        match n {
            Some(n) => data.push_str(&format!("<Data Name='{}'>{}</Data>", esc(n), esc(v))),
            None => data.push_str(&format!("<Data>{}</Data>", esc(v))),
        }
    }
    format!(
        "<Event xmlns='{EVENT_NS}'><System><Provider Name='{}'/>{event_id}<Version>{}</Version><Level>{}</Level><Task>{}</Task><Opcode>{}</Opcode><Keywords>0x{:x}</Keywords><TimeCreated SystemTime='{time}'/><EventRecordID>{}</EventRecordID><Correlation/><Execution ProcessID='{}' ThreadID='{}'/><Channel>{}</Channel><Computer>{}</Computer><Security/></System><EventData>{data}</EventData></Event>",
        esc(&ev.provider),
        ev.version,
        ev.level,
        ev.task,
        ev.opcode,
        ev.keywords,
        ev.event_record_id,
        ev.process_id,
        ev.thread_id,
        esc(&ev.channel),
        esc(&ev.computer),
    )
}
