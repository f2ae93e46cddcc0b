//! One record's Binary XML: the template definition Windows stores once per chunk (the `<Event>`
//! element tree with typed substitutions) and the typed substitution values of each instance.

use crate::evtx_format::{tok, vt};
use crate::sample::evtx_writer::{Chunk, EVENT_NS, WinEvent, filetime, name_hash, utf16};

/// Builds one record's Binary XML at a known chunk offset, noting the names and templates it
/// adds to the chunk so they can be taken back if the record does not fit.
pub(super) struct RecordBuf<'c> {
    pub(super) chunk: &'c mut Chunk,
    /// Chunk offset of `out[0]`.
    pub(super) base: u32,
    pub(super) out: Vec<u8>,
    pub(super) added_names: Vec<(String, usize, u32)>,
    pub(super) added_template: Option<(String, usize, u32)>,
}

impl RecordBuf<'_> {
    pub(super) fn here(&self) -> u32 {
        self.base + self.out.len() as u32
    }
    pub(super) fn u8(&mut self, v: u8) {
        self.out.push(v);
    }
    pub(super) fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    pub(super) fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    pub(super) fn patch_u32(&mut self, at: usize, v: u32) {
        self.out[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// A name reference: the offset of the chunk's copy, written inline after the reference the
    /// first time the chunk sees the name.
    pub(super) fn name(&mut self, name: &str) {
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
    pub(super) fn open(&mut self, name: &str, attrs: bool) -> (usize, Option<usize>) {
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

    pub(super) fn close(&mut self, size_at: usize) {
        self.u8(tok::END_ELEMENT);
        let size = (self.out.len() - size_at - 4) as u32;
        self.patch_u32(size_at, size);
    }

    pub(super) fn close_empty(&mut self, size_at: usize) {
        self.u8(tok::CLOSE_EMPTY);
        let size = (self.out.len() - size_at - 4) as u32;
        self.patch_u32(size_at, size);
    }

    pub(super) fn end_attrs(&mut self, attr_at: Option<usize>) {
        if let Some(at) = attr_at {
            let size = (self.out.len() - at - 4) as u32;
            self.patch_u32(at, size);
        }
    }

    pub(super) fn attribute(&mut self, name: &str, more: bool) {
        self.u8(if more { tok::ATTRIBUTE | tok::MORE } else { tok::ATTRIBUTE });
        self.name(name);
    }

    pub(super) fn text(&mut self, s: &str) {
        self.u8(tok::VALUE);
        self.u8(vt::STRING);
        self.u16(s.encode_utf16().count() as u16);
        let bytes: Vec<u8> = utf16(s).collect();
        self.out.extend_from_slice(&bytes);
    }

    pub(super) fn subst(&mut self, id: u16, ty: u8) {
        self.u8(tok::NORMAL_SUBSTITUTION);
        self.u16(id);
        self.u8(ty);
    }

    /// `<name>{subst}</name>`
    pub(super) fn leaf(&mut self, name: &str, id: u16, ty: u8) {
        let (size_at, _) = self.open(name, false);
        self.u8(tok::CLOSE_START);
        self.subst(id, ty);
        self.close(size_at);
    }

    /// `<name attr="{subst}"/>`
    pub(super) fn empty_with_attr(&mut self, name: &str, attr: &str, id: u16, ty: u8) {
        let (size_at, attr_at) = self.open(name, true);
        self.attribute(attr, false);
        self.subst(id, ty);
        self.end_attrs(attr_at);
        self.close_empty(size_at);
    }
}

/// The element structure of an event: what its template must contain.
pub(super) fn template_key(ev: &WinEvent) -> String {
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
pub(super) fn write_template_body(b: &mut RecordBuf<'_>, ev: &WinEvent) {
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
pub(super) fn values(ev: &WinEvent) -> Vec<(u8, Vec<u8>)> {
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
