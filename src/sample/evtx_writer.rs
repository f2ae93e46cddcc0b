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

mod record;

use crate::evtx_format::tok;
use record::{RecordBuf, template_key, values, write_template_body};

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
