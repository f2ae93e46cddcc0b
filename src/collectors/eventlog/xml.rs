//! Event XML: one `<Event>` element (as `wevtutil qe /f:xml`, Event Viewer "Save as XML",
//! `/f:RenderedXml`, forwarded events and the `evtx` crate's XML rendering all write it) into an
//! [`EventRecord`], and a streaming splitter that cuts a file of events — with or without a root
//! element — into `<Event>…</Event>` units.

use std::io::Read;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::collectors::eventlog::record::{EventRecord, parse_i32};

/// Parses one `<Event>` element. Errors name what is wrong; the caller adds file and offset.
pub fn parse_event(xml: &str) -> Result<EventRecord, String> {
    let mut reader = Reader::from_str(xml);
    let mut rec = EventRecord::default();
    // Local names of the open elements, outermost first.
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    // The pending named data item (`<Data Name="…">`) or UserData leaf name.
    let mut data_name: Option<String> = None;
    let mut saw_event = false;
    loop {
        let ev =
            reader.read_event().map_err(|e| format!("XML error at byte {}: {e}", reader.error_position()))?;
        match ev {
            Event::Start(e) => {
                let name = local(&e);
                text.clear();
                on_open(&mut rec, &path, &name, &e, &mut data_name)?;
                saw_event |= path.is_empty() && name == "Event";
                path.push(name);
            }
            Event::Empty(e) => {
                let name = local(&e);
                on_open(&mut rec, &path, &name, &e, &mut data_name)?;
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

fn on_open(
    rec: &mut EventRecord,
    path: &[String],
    name: &str,
    e: &BytesStart<'_>,
    data_name: &mut Option<String>,
) -> Result<(), String> {
    let parent = path.last().map(String::as_str);
    let in_system = path.len() == 2 && path[1] == "System";
    match (parent, name) {
        (Some("System"), "Provider") if in_system => {
            rec.provider = attr(e, "Name")?.or(attr(e, "EventSourceName")?).unwrap_or_default();
        }
        (Some("System"), "EventID") if in_system => {
            rec.qualifiers = attr(e, "Qualifiers")?.and_then(|q| q.trim().parse().ok());
        }
        (Some("System"), "TimeCreated") if in_system => {
            if let Some(t) = attr(e, "SystemTime")? {
                rec.time_created = Some(
                    crate::util::parse_instant(&t)
                        .ok_or_else(|| format!("TimeCreated/@SystemTime is not a time: {t:?}"))?
                        .timestamp_micros(),
                );
            }
        }
        (Some("EventData"), "Data") => *data_name = attr(e, "Name")?,
        _ => {}
    }
    Ok(())
}

fn on_close(
    rec: &mut EventRecord,
    path: &[String],
    text: &mut String,
    data_name: &mut Option<String>,
) -> Result<(), String> {
    let n = path.len();
    let name = path[n - 1].as_str();
    let parent = if n >= 2 { path[n - 2].as_str() } else { "" };
    let value = std::mem::take(text);
    let int = |what: &str, v: &str| parse_i32(&format!("System/{what}"), v);
    if n == 3 && parent == "System" {
        match name {
            "EventID" => rec.event_id = int("EventID", &value)?,
            "Level" => rec.level = int("Level", &value)?,
            "Task" => rec.task = int("Task", &value)?,
            "Keywords" => rec.keywords = Some(value.trim().to_string()).filter(|s| !s.is_empty()),
            "EventRecordID" => {
                rec.event_record_id = Some(value.trim())
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        s.parse::<i64>().map_err(|_| format!("System/EventRecordID is not a number: {s:?}"))
                    })
                    .transpose()?
            }
            "Channel" => rec.channel = value.trim().to_string(),
            "Computer" => rec.computer = value.trim().to_string(),
            _ => {}
        }
    } else if parent == "EventData" && n == 3 {
        match name {
            "Data" => rec.data.push((data_name.take(), value)),
            "Binary" if !value.trim().is_empty() => rec.data.push((Some("Binary".into()), value)),
            _ => {}
        }
    } else if n >= 4 && path[1] == "UserData" && !value.trim().is_empty() {
        rec.data.push((Some(name.to_string()), value));
    } else if n == 3 && parent == "RenderingInfo" && name == "Message" && !value.trim().is_empty() {
        rec.rendered_message = Some(value);
    }
    Ok(())
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
mod tests {
    use super::*;

    const EVENT: &str = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="PasswordResetService" /><EventID Qualifiers="0">31001</EventID><Level>4</Level><Task>0</Task><Keywords>0x80000000000000</Keywords><TimeCreated SystemTime="2026-11-03T08:15:02.1234567Z" /><EventRecordID>812</EventRecordID><Channel>Application</Channel><Computer>AADC01.contoso.com</Computer><Security /></System><EventData><Data>TrackingId: 3f369fe9-c121-4450-8661-82b095bdbf0a, PasswordResetStart &amp; more</Data></EventData></Event>"#;

    #[test]
    fn parses_a_classic_event() {
        let r = parse_event(EVENT).unwrap();
        assert_eq!(r.provider, "PasswordResetService");
        assert_eq!(r.event_id, Some(31001));
        assert_eq!(r.qualifiers, Some(0));
        assert_eq!(r.level, Some(4));
        assert_eq!(r.event_record_id, Some(812));
        assert_eq!(r.computer, "AADC01.contoso.com");
        assert_eq!(r.time_created, Some(1_793_693_702_123_456));
        assert_eq!(
            r.data,
            vec![(
                None,
                "TrackingId: 3f369fe9-c121-4450-8661-82b095bdbf0a, PasswordResetStart & more".into()
            )]
        );
        assert_eq!(r.facts().tracking_id.as_deref(), Some("3f369fe9-c121-4450-8661-82b095bdbf0a"));
    }

    #[test]
    fn splits_with_and_without_root_and_reports_a_cut_off_tail() {
        let doc = format!("<?xml version=\"1.0\"?>\r\n<Events>\r\n{EVENT}\r\n{EVENT}</Events>");
        let mut s = XmlSplitter::new(doc.as_bytes());
        let a = s.next_unit().unwrap().unwrap();
        assert_eq!(a.line, 3);
        assert!(s.next_unit().unwrap().is_ok());
        assert!(s.next_unit().is_none());
        let cut = format!("{EVENT}{}", &EVENT[..100]);
        let mut s = XmlSplitter::new(cut.as_bytes());
        assert!(s.next_unit().unwrap().is_ok());
        let (unit, reason) = s.next_unit().unwrap().unwrap_err();
        assert_eq!(unit.offset, EVENT.len() as u64);
        assert!(reason.contains("ends inside"));
    }

    #[test]
    fn bad_xml_is_an_error_not_a_panic() {
        for bad in
            ["<Event><System></Event>", "<Event><System><EventID>x</EventID></System></Event>", "<Foo/>"]
        {
            assert!(parse_event(bad).is_err(), "{bad}");
        }
    }
}
