//! Event XML: one `<Event>` element (as `wevtutil qe /f:xml`, Event Viewer "Save as XML",
//! `/f:RenderedXml`, forwarded events and the `evtx` crate's XML rendering all write it) into an
//! [`EventRecord`], and a streaming splitter that cuts a file of events — with or without a root
//! element — into `<Event>…</Event>` units.

use std::io::Read;
use std::sync::Arc;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::collectors::eventlog::element::{on_close, on_open};
use crate::collectors::eventlog::record::EventRecord;

/// Parses one `<Event>` element. Errors name what is wrong; the caller adds file and offset.
///
/// A byte scanner handles the plain element/attribute/text XML that Windows and the `evtx` crate
/// write (several times faster than a general parser); anything it does not expect (CDATA,
/// comments, DTDs, malformed input) goes through quick-xml, which also words the errors.
pub fn parse_event(xml: &str) -> Result<EventRecord, String> {
    match fast::parse(xml, None) {
        Some(rec) => Ok(rec.expect("no filter, nothing skipped")),
        None => parse_event_general(xml),
    }
}

/// Like [`parse_event`], but stops after `System` when `keep` says the record is not wanted
/// (`Ok(None)`): routing needs only the provider, channel and event id, and most of a log's
/// records are usually not kept.
pub(crate) fn parse_event_filtered(
    xml: &str,
    keep: &dyn Fn(&EventRecord) -> bool,
) -> Result<Option<EventRecord>, String> {
    match fast::parse(xml, Some(keep)) {
        Some(rec) => Ok(rec),
        None => parse_event_general(xml).map(|r| keep(&r).then_some(r)),
    }
}

/// The general parser (quick-xml).
fn parse_event_general(xml: &str) -> Result<EventRecord, String> {
    let mut reader = Reader::from_str(xml);
    let mut rec = EventRecord::default();
    // Local names of the open elements, outermost first.
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    // The pending named data item (`<Data Name="…">`) or UserData leaf name.
    let mut data_name: Option<Arc<str>> = None;
    let mut saw_event = false;
    loop {
        let ev =
            reader.read_event().map_err(|e| format!("XML error at byte {}: {e}", reader.error_position()))?;
        match ev {
            Event::Start(e) => {
                let name = local(&e);
                text.clear();
                on_open(&mut rec, &path, &name, &|n| attr(&e, n), &mut data_name)?;
                saw_event |= path.is_empty() && name == "Event";
                path.push(name);
            }
            Event::Empty(e) => {
                let name = local(&e);
                on_open(&mut rec, &path, &name, &|n| attr(&e, n), &mut data_name)?;
                saw_event |= path.is_empty() && name == "Event";
                path.push(name);
                text.clear();
                on_close(&mut rec, &path, &mut text, &mut data_name)?;
                path.pop();
            }
            Event::End(_) => {
                on_close(&mut rec, &path, &mut text, &mut data_name)?;
                path.pop();
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => {
                let s: &str = &t;
                text.push_str(s);
            }
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref().map_err(|e| format!("bad character reference: {e}"))? {
                    text.push(c);
                } else {
                    let name: &str = &r;
                    match quick_xml::escape::resolve_predefined_entity(name) {
                        Some(s) => text.push_str(s),
                        None => return Err(format!("unknown entity &{name};")),
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !path.is_empty() {
        return Err(format!("element <{}> is not closed", path.last().map(String::as_str).unwrap_or("")));
    }
    if !saw_event {
        return Err("no <Event> element".into());
    }
    Ok(rec)
}

fn local(e: &BytesStart<'_>) -> String {
    let n = e.local_name();
    let s: &str = n.as_ref();
    s.to_string()
}

fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, String> {
    for a in e.attributes().with_checks(false) {
        let a = a.map_err(|err| format!("bad attribute: {err}"))?;
        let local = a.key.local_name();
        let key: &str = local.as_ref();
        if key.eq_ignore_ascii_case(name) {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| format!("bad attribute value {name}: {err}"))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

/// The scanner behind [`parse_event`]'s fast path. It returns `None` (use the general parser) for
/// anything but well-formed elements, attributes, text and the predefined and numeric entities.
mod fast {
    use super::EventRecord;
    use crate::collectors::eventlog::element::{on_close, on_open};

    fn is_name_end(c: u8) -> bool {
        c.is_ascii_whitespace() || c == b'/' || c == b'>' || c == b'='
    }

    /// Appends `raw` with entities decoded; `None` on an entity it does not know.
    fn decode_into(out: &mut String, raw: &str) -> Option<()> {
        let mut rest = raw;
        while let Some(i) = rest.find('&') {
            out.push_str(&rest[..i]);
            let tail = &rest[i + 1..];
            let end = tail.find(';')?;
            let ent = &tail[..end];
            match ent {
                "lt" => out.push('<'),
                "gt" => out.push('>'),
                "amp" => out.push('&'),
                "quot" => out.push('"'),
                "apos" => out.push('\''),
                _ => {
                    let n = ent.strip_prefix('#')?;
                    let code = match n.strip_prefix('x').or_else(|| n.strip_prefix('X')) {
                        Some(h) => u32::from_str_radix(h, 16).ok()?,
                        None => n.parse().ok()?,
                    };
                    out.push(char::from_u32(code).filter(|c| *c != '\0')?);
                }
            }
            rest = &tail[end + 1..];
        }
        out.push_str(rest);
        Some(())
    }

    fn local(name: &str) -> &str {
        match memchr::memchr(b':', name.as_bytes()) {
            Some(i) => &name[i + 1..],
            None => name,
        }
    }

    /// `None`: not for this scanner. `Some(None)`: `keep` rejected the record after `System`.
    pub(crate) fn parse(
        xml: &str,
        keep: Option<&dyn Fn(&EventRecord) -> bool>,
    ) -> Option<Option<EventRecord>> {
        let b = xml.as_bytes();
        let mut rec = EventRecord::default();
        let mut path: Vec<&str> = Vec::with_capacity(8);
        let mut text = String::new();
        let mut data_name = None;
        let mut attrs: Vec<(&str, &str)> = Vec::with_capacity(4);
        let mut saw_event = false;
        let mut i = 0;
        while i < b.len() {
            let lt = memchr::memchr(b'<', &b[i..]).map(|k| i + k);
            let stop = lt.unwrap_or(b.len());
            if stop > i {
                let chunk = &xml[i..stop];
                if path.is_empty() {
                    if !chunk.trim().is_empty() {
                        return None;
                    }
                } else {
                    // XML end-of-line handling: CRLF and lone CR read as LF.
                    let chunk: std::borrow::Cow<'_, str> = if chunk.contains('\r') {
                        chunk.replace("\r\n", "\n").replace('\r', "\n").into()
                    } else {
                        chunk.into()
                    };
                    if chunk.contains('&') {
                        decode_into(&mut text, &chunk)?;
                    } else {
                        text.push_str(&chunk);
                    }
                }
            }
            let Some(lt) = lt else { break };
            match b.get(lt + 1)? {
                b'/' => {
                    let gt = lt + memchr::memchr(b'>', &b[lt..])?;
                    let name = local(xml[lt + 2..gt].trim_end());
                    if path.last() != Some(&name) {
                        return None;
                    }
                    on_close(&mut rec, &path, &mut text, &mut data_name).ok()?;
                    path.pop();
                    i = gt + 1;
                }
                b'?' if path.is_empty() && xml[lt..].starts_with("<?xml") => {
                    i = lt + xml[lt..].find("?>")? + 2;
                }
                b'?' | b'!' => return None,
                _ => {
                    let mut j = lt + 1;
                    while j < b.len() && !is_name_end(b[j]) {
                        j += 1;
                    }
                    let name = local(&xml[lt + 1..j]);
                    if name.is_empty() {
                        return None;
                    }
                    attrs.clear();
                    let empty = loop {
                        while j < b.len() && b[j].is_ascii_whitespace() {
                            j += 1;
                        }
                        match b.get(j)? {
                            b'>' => break false,
                            b'/' if b.get(j + 1) == Some(&b'>') => {
                                j += 1;
                                break true;
                            }
                            _ => {
                                let k0 = j;
                                while j < b.len() && !is_name_end(b[j]) {
                                    j += 1;
                                }
                                let key = local(&xml[k0..j]);
                                while j < b.len() && b[j].is_ascii_whitespace() {
                                    j += 1;
                                }
                                if b.get(j) != Some(&b'=') {
                                    return None;
                                }
                                j += 1;
                                while j < b.len() && b[j].is_ascii_whitespace() {
                                    j += 1;
                                }
                                let q = *b.get(j)?;
                                if q != b'"' && q != b'\'' {
                                    return None;
                                }
                                let v0 = j + 1;
                                let v1 = v0 + memchr::memchr(q, &b[v0..])?;
                                attrs.push((key, &xml[v0..v1]));
                                j = v1 + 1;
                            }
                        }
                    };
                    let attr = |n: &str| -> Result<Option<String>, String> {
                        match attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)) {
                            None => Ok(None),
                            Some((_, v)) => {
                                // Attribute-value normalisation: line ends, then whitespace, as spaces.
                                let v = v.replace("\r\n", "\n").replace(['\r', '\n', '\t'], " ");
                                let mut s = String::with_capacity(v.len());
                                decode_into(&mut s, &v).ok_or_else(|| "bad entity".to_string())?;
                                Ok(Some(s))
                            }
                        }
                    };
                    text.clear();
                    if let Some(keep) = keep
                        && path.len() == 1
                        && matches!(name, "EventData" | "UserData" | "RenderingInfo")
                        && !keep(&rec)
                    {
                        return Some(None);
                    }
                    on_open(&mut rec, &path, name, &attr, &mut data_name).ok()?;
                    saw_event |= path.is_empty() && name == "Event";
                    path.push(name);
                    if empty {
                        text.clear();
                        on_close(&mut rec, &path, &mut text, &mut data_name).ok()?;
                        path.pop();
                    }
                    i = j + 1;
                }
            }
        }
        if !(path.is_empty() && saw_event) {
            return None;
        }
        Some(match keep {
            Some(keep) if !keep(&rec) => None,
            _ => Some(rec),
        })
    }
}

/// One `<Event>…</Event>` unit of a file.
#[derive(Debug)]
pub struct XmlUnit {
    pub text: Vec<u8>,
    /// Byte offset of `<Event` in the file.
    pub offset: u64,
    /// 1-based line of `<Event`.
    pub line: u64,
}

/// Cuts a stream into `<Event>` units, reading it in blocks (memory stays bounded by the largest
/// event). Text between events (the XML declaration, a root element, whitespace) is skipped; a
/// file cut off inside an event yields the partial event as an error.
pub struct XmlSplitter<R> {
    inner: R,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    base: u64,
    /// Line number at `buf[0]`.
    line: u64,
    eof: bool,
}

const BLOCK: usize = 1 << 20;

impl<R: Read> XmlSplitter<R> {
    pub fn new(inner: R) -> Self {
        Self { inner, buf: Vec::with_capacity(BLOCK), base: 0, line: 1, eof: false }
    }

    fn fill(&mut self) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let old = self.buf.len();
        self.buf.resize(old + BLOCK, 0);
        let n = loop {
            match self.inner.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(e);
                }
            }
        };
        self.buf.truncate(old + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(n > 0)
    }

    fn consume(&mut self, n: usize) {
        self.line += memchr::memchr_iter(b'\n', &self.buf[..n]).count() as u64;
        self.base += n as u64;
        self.buf.drain(..n);
    }

    /// The next unit; `Err((unit, reason))` for a cut-off event at the end of the input.
    pub fn next_unit(&mut self) -> Option<Result<XmlUnit, (XmlUnit, String)>> {
        loop {
            match find_event_start(&self.buf) {
                Some(start) => {
                    self.consume(start);
                    if let Some(end) = memchr::memmem::find(&self.buf, b"</Event>") {
                        let end = end + "</Event>".len();
                        let unit =
                            XmlUnit { text: self.buf[..end].to_vec(), offset: self.base, line: self.line };
                        self.consume(end);
                        return Some(Ok(unit));
                    }
                }
                None => {
                    // Keep a tail that might hold the start of `<Event`.
                    let keep = self.buf.len().min(6);
                    let n = self.buf.len() - keep;
                    self.consume(n);
                }
            }
            match self.fill() {
                Ok(true) => {}
                Ok(false) => {
                    let rest = std::mem::take(&mut self.buf);
                    if find_event_start(&rest).is_some() {
                        let unit = XmlUnit { text: rest, offset: self.base, line: self.line };
                        return Some(Err((unit, "the input ends inside an <Event> element".into())));
                    }
                    return None;
                }
                Err(e) => {
                    let unit = XmlUnit { text: Vec::new(), offset: self.base, line: self.line };
                    return Some(Err((unit, format!("read error: {e}"))));
                }
            }
        }
    }
}

/// Offset of the next `<Event` start tag (not `<EventData`, `<EventID`, `<Events`).
fn find_event_start(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&buf[from..], b"<Event") {
        let at = from + i;
        match buf.get(at + 6) {
            Some(c) if c.is_ascii_whitespace() || *c == b'>' || *c == b'/' => return Some(at),
            None => return None,
            _ => from = at + 6,
        }
    }
    None
}

#[cfg(test)]
mod tests;
