//! The one typed event record every Windows event-log reader yields, and the stable facts parsed
//! from it (tracking id, hresult, accounts, audit result) — reference/onprem-logs.md §1.4, §2.3, §3.7.

use std::borrow::Cow;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::SchemaRef;

use crate::error::Result;

/// `System/Keywords` bit for "Audit Success".
pub const KEYWORD_AUDIT_SUCCESS: u64 = 0x0020_0000_0000_0000;
/// `System/Keywords` bit for "Audit Failure".
pub const KEYWORD_AUDIT_FAILURE: u64 = 0x0010_0000_0000_0000;

/// One event-log record, whatever format it came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventRecord {
    pub provider: String,
    pub event_id: Option<i32>,
    pub qualifiers: Option<i32>,
    pub level: Option<i32>,
    pub task: Option<i32>,
    /// `0x…` hex string, as Windows writes it.
    pub keywords: Option<String>,
    /// Microseconds since the epoch, UTC.
    pub time_created: Option<i64>,
    /// `System/EventRecordID` (stable across exports).
    pub event_record_id: Option<i64>,
    /// The EVTX record header's id (renumbered by exports); EVTX input only.
    pub header_record_id: Option<i64>,
    pub channel: String,
    pub computer: String,
    /// `EventData/Data` (named or not, in order), `UserData` leaves, `Binary`.
    pub data: Vec<(Option<String>, String)>,
    /// The rendered message (RenderingInfo, CSV/JSON `Message`), when the export has one.
    pub rendered_message: Option<String>,
    /// What the row derives from the fields above, once [`EventRecord::prepare`] has run.
    pub derived: Option<Box<Derived>>,
}

/// What a record's row holds beyond its own fields, derived from them once — for EVTX on the
/// worker that read the record, so the thread appending rows only appends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Derived {
    pub facts: Facts,
    pub message: Option<String>,
    pub data_json: Option<String>,
    /// Only for a record without `EventRecordID` (see [`EventRecord::content_hash`]).
    pub content_hash: Option<String>,
}

/// Facts parsed out of a record's message and event data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub tracking_id: Option<String>,
    pub hresult: Option<String>,
    pub target_account: Option<String>,
    pub target_domain: Option<String>,
    pub subject_account: Option<String>,
    pub subject_domain: Option<String>,
    pub audit_success: Option<bool>,
}

impl EventRecord {
    /// The value of a named data item (case-insensitive).
    pub fn named(&self, name: &str) -> Option<&str> {
        self.data
            .iter()
            .find(|(n, _)| n.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty() && *v != "-")
    }

    /// The message text: the rendered message when the export carries one, else the insertion
    /// strings of a classic event (unnamed `Data`), which for classic sources such as
    /// PasswordResetService hold the message itself.
    pub fn message(&self) -> Option<Cow<'_, str>> {
        if let Some(m) = &self.rendered_message {
            return Some(Cow::Borrowed(m));
        }
        let mut unnamed = self.data.iter().filter(|(n, v)| n.is_none() && !v.is_empty()).map(|(_, v)| v);
        let first = unnamed.next()?;
        match unnamed.next() {
            None => Some(Cow::Borrowed(first)),
            Some(second) => {
                let mut s = format!("{first}\n{second}");
                for v in unnamed {
                    s.push('\n');
                    s.push_str(v);
                }
                Some(Cow::Owned(s))
            }
        }
    }

    /// Event data as one JSON object: named items by name (a repeated name becomes an array),
    /// unnamed items under `Data` as an array. `None` when the record has no event data.
    pub fn data_json(&self) -> Option<String> {
        if self.data.is_empty() {
            return None;
        }
        // Nearly always the names are distinct: the object is then written straight, in the
        // same form serde_json gives (same key order, same escapes).
        let names: Vec<&str> = self.data.iter().filter_map(|(n, _)| n.as_deref()).collect();
        let has_unnamed = names.len() < self.data.len();
        let distinct = names.iter().enumerate().all(|(i, n)| !names[..i].contains(n))
            && !(has_unnamed && names.contains(&"Data"));
        if !distinct {
            return self.data_json_general();
        }
        let mut out = String::with_capacity(
            self.data.iter().map(|(n, v)| v.len() + n.as_ref().map_or(0, String::len) + 6).sum::<usize>()
                + 12,
        );
        out.push('{');
        for (n, v) in &self.data {
            if let Some(n) = n {
                if out.len() > 1 {
                    out.push(',');
                }
                push_json_str(&mut out, n);
                out.push(':');
                push_json_str(&mut out, v);
            }
        }
        if has_unnamed {
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str("\"Data\":[");
            for (i, (_, v)) in self.data.iter().filter(|(n, _)| n.is_none()).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_str(&mut out, v);
            }
            out.push(']');
        }
        out.push('}');
        Some(out)
    }

    /// [`EventRecord::data_json`] through serde_json, for repeated names.
    fn data_json_general(&self) -> Option<String> {
        let mut map = serde_json::Map::new();
        let mut unnamed = Vec::new();
        for (n, v) in &self.data {
            match n {
                None => unnamed.push(serde_json::Value::String(v.clone())),
                Some(n) => match map.get_mut(n) {
                    None => {
                        map.insert(n.clone(), serde_json::Value::String(v.clone()));
                    }
                    Some(serde_json::Value::Array(a)) => a.push(serde_json::Value::String(v.clone())),
                    Some(other) => {
                        let first = other.take();
                        *other = serde_json::Value::Array(vec![first, serde_json::Value::String(v.clone())]);
                    }
                },
            }
        }
        if !unnamed.is_empty() {
            map.insert("Data".into(), serde_json::Value::Array(unnamed));
        }
        Some(serde_json::Value::Object(map).to_string())
    }

    /// The keywords as a number.
    pub fn keywords_value(&self) -> Option<u64> {
        let k = self.keywords.as_deref()?.trim();
        let hex = k.strip_prefix("0x").or_else(|| k.strip_prefix("0X"))?;
        u64::from_str_radix(hex, 16).ok()
    }

    /// Parses the stable facts.
    pub fn facts(&self) -> Facts {
        let message = self.message();
        let text = message.as_deref().unwrap_or("");
        let audit_success = self.keywords_value().and_then(|k| {
            if k & KEYWORD_AUDIT_SUCCESS != 0 {
                Some(true)
            } else if k & KEYWORD_AUDIT_FAILURE != 0 {
                Some(false)
            } else {
                None
            }
        });
        let sections = AccountSections::parse(text);
        Facts {
            tracking_id: self.named("TrackingId").and_then(guid_in).or_else(|| tracking_id_in(text)),
            hresult: self
                .named("HResult")
                .and_then(hresult_in)
                .or_else(|| hresult_in(text))
                .or_else(|| self.data.iter().find_map(|(_, v)| hresult_in(v))),
            target_account: self.named("TargetUserName").map(str::to_string).or(sections.target_account),
            target_domain: self.named("TargetDomainName").map(str::to_string).or(sections.target_domain),
            subject_account: self.named("SubjectUserName").map(str::to_string).or(sections.subject_account),
            subject_domain: self.named("SubjectDomainName").map(str::to_string).or(sections.subject_domain),
            audit_success,
        }
    }

    /// A hash of the record's content, used as the identity of records that carry no
    /// `EventRecordID` (so two distinct events in the same second are not merged).
    pub fn content_hash(&self) -> String {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let mut put = |s: &str| {
            ctx.update(s.as_bytes());
            ctx.update(&[0x1f]);
        };
        put(&self.provider);
        put(&self.event_id.map(|v| v.to_string()).unwrap_or_default());
        put(&self.time_created.map(|v| v.to_string()).unwrap_or_default());
        put(&self.computer);
        put(&self.channel);
        for (n, v) in &self.data {
            put(n.as_deref().unwrap_or(""));
            put(v);
        }
        put(self.rendered_message.as_deref().unwrap_or(""));
        let d = ctx.finish();
        d.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Why this record cannot be stored, if it cannot.
    pub fn problem(&self) -> Option<&'static str> {
        if self.event_id.is_none() {
            Some("no EventID")
        } else if self.time_created.is_none() {
            Some("no TimeCreated")
        } else if self.provider.is_empty() {
            Some("no Provider name")
        } else {
            None
        }
    }

    /// Derives what the record's row needs (see [`Derived`]); a second call does nothing.
    pub fn prepare(&mut self) {
        if self.derived.is_none() {
            self.derived = Some(Box::new(Derived {
                facts: self.facts(),
                message: self.message().map(Cow::into_owned),
                data_json: self.data_json(),
                content_hash: self.event_record_id.is_none().then(|| self.content_hash()),
            }));
        }
    }
}

/// Rows of an event-log table (`writeback_events`, `credential_provider_events` and
/// `dc_security_events` share one schema) built column by column from records, with one typed
/// builder per column. The EVTX workers fill one per chunk, so the thread that hands batches to
/// the lake only moves finished columns.
#[derive(Debug)]
pub struct EventRows {
    computer: StringBuilder,
    channel: StringBuilder,
    provider: StringBuilder,
    event_id: Int32Builder,
    qualifiers: Int32Builder,
    level: Int32Builder,
    task: Int32Builder,
    keywords: StringBuilder,
    time_created: TimestampMicrosecondBuilder,
    event_date: Date32Builder,
    event_record_id: Int64Builder,
    header_record_id: Int64Builder,
    message: StringBuilder,
    data_json: StringBuilder,
    tracking_id: StringBuilder,
    hresult: StringBuilder,
    target_account: StringBuilder,
    target_domain: StringBuilder,
    subject_account: StringBuilder,
    subject_domain: StringBuilder,
    audit_success: BooleanBuilder,
    content_hash: StringBuilder,
    source_file: StringBuilder,
    source_format: StringBuilder,
    ingested_at: TimestampMicrosecondBuilder,
    rows: usize,
}

impl EventRows {
    /// Room for `rows` rows; string bytes grow as they come.
    pub fn with_capacity(rows: usize) -> Self {
        let s = || StringBuilder::with_capacity(rows, 0);
        let i32s = || Int32Builder::with_capacity(rows);
        let i64s = || Int64Builder::with_capacity(rows);
        let ts = || TimestampMicrosecondBuilder::with_capacity(rows);
        EventRows {
            computer: s(),
            channel: s(),
            provider: s(),
            event_id: i32s(),
            qualifiers: i32s(),
            level: i32s(),
            task: i32s(),
            keywords: s(),
            time_created: ts(),
            event_date: Date32Builder::with_capacity(rows),
            event_record_id: i64s(),
            header_record_id: i64s(),
            message: s(),
            data_json: s(),
            tracking_id: s(),
            hresult: s(),
            target_account: s(),
            target_domain: s(),
            subject_account: s(),
            subject_domain: s(),
            audit_success: BooleanBuilder::with_capacity(rows),
            content_hash: s(),
            source_file: s(),
            source_format: s(),
            ingested_at: ts(),
            rows: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends `rec`'s row (deriving its facts first if [`EventRecord::prepare`] has not run).
    /// The caller has checked [`EventRecord::problem`]: a record without an event id or a time is
    /// stored with 0 / the epoch, which the table's non-null columns need.
    pub fn push(&mut self, rec: &mut EventRecord, source_file: &str, source_format: &str, ingested_at: i64) {
        rec.prepare();
        let d = rec.derived.as_deref().expect("prepared above");
        let f = &d.facts;
        let time = rec.time_created.unwrap_or_default();
        self.computer.append_value(&rec.computer);
        self.channel.append_value(&rec.channel);
        self.provider.append_value(&rec.provider);
        self.event_id.append_value(rec.event_id.unwrap_or_default());
        self.qualifiers.append_option(rec.qualifiers);
        self.level.append_option(rec.level);
        self.task.append_option(rec.task);
        self.keywords.append_option(rec.keywords.as_deref());
        self.time_created.append_value(time);
        self.event_date.append_value(date32_of_micros(time));
        self.event_record_id.append_option(rec.event_record_id);
        self.header_record_id.append_option(rec.header_record_id);
        self.message.append_option(d.message.as_deref());
        self.data_json.append_option(d.data_json.as_deref());
        self.tracking_id.append_option(f.tracking_id.as_deref());
        self.hresult.append_option(f.hresult.as_deref());
        self.target_account.append_option(f.target_account.as_deref());
        self.target_domain.append_option(f.target_domain.as_deref());
        self.subject_account.append_option(f.subject_account.as_deref());
        self.subject_domain.append_option(f.subject_domain.as_deref());
        self.audit_success.append_option(f.audit_success);
        self.content_hash.append_option(d.content_hash.as_deref());
        self.source_file.append_value(source_file);
        self.source_format.append_value(source_format);
        self.ingested_at.append_value(ingested_at);
        self.rows += 1;
    }

    /// The rows so far as a batch of `schema` (one of the event-log tables'), starting over.
    pub fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let utc = |b: &mut TimestampMicrosecondBuilder| Arc::new(b.finish().with_timezone("UTC")) as ArrayRef;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.computer.finish()),
            Arc::new(self.channel.finish()),
            Arc::new(self.provider.finish()),
            Arc::new(self.event_id.finish()),
            Arc::new(self.qualifiers.finish()),
            Arc::new(self.level.finish()),
            Arc::new(self.task.finish()),
            Arc::new(self.keywords.finish()),
            utc(&mut self.time_created),
            Arc::new(self.event_date.finish()),
            Arc::new(self.event_record_id.finish()),
            Arc::new(self.header_record_id.finish()),
            Arc::new(self.message.finish()),
            Arc::new(self.data_json.finish()),
            Arc::new(self.tracking_id.finish()),
            Arc::new(self.hresult.finish()),
            Arc::new(self.target_account.finish()),
            Arc::new(self.target_domain.finish()),
            Arc::new(self.subject_account.finish()),
            Arc::new(self.subject_domain.finish()),
            Arc::new(self.audit_success.finish()),
            Arc::new(self.content_hash.finish()),
            Arc::new(self.source_file.finish()),
            Arc::new(self.source_format.finish()),
            utc(&mut self.ingested_at),
        ];
        self.rows = 0;
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

/// Days since the epoch of a UTC time in microseconds.
fn date32_of_micros(t: i64) -> i32 {
    t.div_euclid(86_400_000_000) as i32
}

/// A JSON string literal, escaped as serde_json escapes it.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut rest = s;
    while let Some(i) = rest.bytes().position(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(&rest[..i]);
        match rest.as_bytes()[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            c => {
                out.push_str("\\u00");
                out.push(char::from(b"0123456789abcdef"[usize::from(c >> 4)]));
                out.push(char::from(b"0123456789abcdef"[usize::from(c & 0xf)]));
            }
        }
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

/// A small integer field (EventID, Level, Task, Qualifiers) from text; empty is `None`.
pub fn parse_i32(what: &str, v: &str) -> Result<Option<i32>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse::<i64>()
        .ok()
        .and_then(|x| i32::try_from(x).ok())
        .map(Some)
        .ok_or_else(|| format!("{what} is not a number: {v:?}"))
}

/// The first GUID in a text, lower-case, without braces.
fn guid_in(text: &str) -> Option<String> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(35)).find_map(|i| {
        let cand = &text.get(i..i + 36)?;
        let ok = cand.bytes().enumerate().all(|(j, c)| match j {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
        let boundary = i == 0 || !b[i - 1].is_ascii_hexdigit();
        (ok && boundary).then(|| cand.to_ascii_lowercase())
    })
}

/// `TrackingId: <guid>` (any case, optional braces) anywhere in a message.
fn tracking_id_in(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find("trackingid")?;
    let rest = &text[at + "trackingid".len()..];
    let rest = rest.trim_start_matches([':', '=', ' ', '\t', '{']);
    guid_in(rest.get(..rest.len().min(40))?)
}

/// The first 8-hex-digit HRESULT in a text: `0x80230619`, `hr=80230402`, `8023062C (…)`, returned
/// as `0x` + lower-case hex. Longer hex runs (keywords, GUID parts) are not HRESULTs.
pub fn hresult_in(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let at_boundary = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'-');
        let prefixed = at_boundary && b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X'));
        if !at_boundary || !(prefixed || b[i].is_ascii_hexdigit()) {
            i += 1;
            continue;
        }
        let start = if prefixed { i + 2 } else { i };
        let end = start + b[start..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
        let run = &text[start..end];
        let after_ok = b.get(end).is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'-');
        // Bare runs count after `hr=` / `error`, or in the failure space (8xxxxxxx) when they are
        // not plain decimal numbers.
        let bare_ok = || {
            preceded_by_hr(text, i) || (run.starts_with('8') && run.bytes().any(|c| c.is_ascii_alphabetic()))
        };
        if run.len() == 8 && after_ok && (prefixed || bare_ok()) {
            return Some(format!("0x{}", run.to_ascii_lowercase()));
        }
        i = end.max(i + 1);
    }
    None
}

fn preceded_by_hr(text: &str, at: usize) -> bool {
    let before = text[..at].trim_end_matches([' ', '=', ':']).as_bytes();
    let ends = |w: &str| {
        before.len() >= w.len() && before[before.len() - w.len()..].eq_ignore_ascii_case(w.as_bytes())
    };
    ends("hr") || ends("hresult") || ends("error")
}

/// Accounts from a rendered Security-log message ("Subject: … Account Name: … Target Account: …").
#[derive(Default)]
struct AccountSections {
    subject_account: Option<String>,
    subject_domain: Option<String>,
    target_account: Option<String>,
    target_domain: Option<String>,
}

impl AccountSections {
    fn parse(text: &str) -> Self {
        let mut out = Self::default();
        if !text.contains("Account Name:") {
            return out;
        }
        let mut section = "";
        for line in text.lines() {
            let t = line.trim();
            if t.ends_with(':') && !t.contains('\t') {
                section = if t.starts_with("Subject") {
                    "subject"
                } else if t.starts_with("Target") {
                    "target"
                } else {
                    ""
                };
                continue;
            }
            let Some((k, v)) = t.split_once(':') else { continue };
            let v = v.trim();
            if v.is_empty() || v == "-" {
                continue;
            }
            let slot = match (section, k.trim()) {
                ("subject", "Account Name") => &mut out.subject_account,
                ("subject", "Account Domain") => &mut out.subject_domain,
                ("target", "Account Name") => &mut out.target_account,
                ("target", "Account Domain") => &mut out.target_domain,
                _ => continue,
            };
            slot.get_or_insert_with(|| v.to_string());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_data_json_written_straight_equals_serde_json() {
        let tricky = "q\"b\\s/ \n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f} é 😀 </x>";
        let cases: Vec<Vec<(Option<&str>, &str)>> = vec![
            vec![(Some("TargetUserName"), "user01"), (Some("SubjectLogonId"), "0x3e7")],
            vec![(None, "TrackingId: 1"), (None, tricky)],
            vec![(Some("A"), tricky), (None, "x"), (Some("B\"k"), "")],
            vec![(Some("A"), "1"), (Some("A"), "2")],
            vec![(Some("Data"), "named"), (None, "unnamed")],
            vec![(Some("Binary"), "00FF")],
        ];
        for c in cases {
            let rec = EventRecord {
                data: c.iter().map(|(n, v)| (n.map(str::to_string), v.to_string())).collect(),
                ..Default::default()
            };
            assert_eq!(rec.data_json(), rec.data_json_general(), "{c:?}");
        }
    }

    #[test]
    fn hresults_are_found_in_every_documented_spelling() {
        let cases = [
            (r#"BAIL: MMS(4924) 0x80230619: "A restriction prevents""#, Some("0x80230619")),
            ("Synchronization Engine returned an error hr=80230402, message=…", Some("0x80230402")),
            ("hr=800700CE, message=The filename or extension is too long", Some("0x800700ce")),
            ("8023062C (0x8023062c) The password could not be set", Some("0x8023062c")),
            ("Keywords 0x8020000000000000 only", None),
            ("TrackingId: 3f369fe9-c121-4450-8661-82b095bdbf0a, Couldn't connect", None),
            ("record 80000001 of 90000000", None),
        ];
        for (text, want) in cases {
            assert_eq!(hresult_in(text).as_deref(), want, "{text}");
        }
    }

    #[test]
    fn tracking_ids_and_accounts_come_from_messages() {
        let r = EventRecord {
            data: vec![(None, "TrackingId: 3F369FE9-C121-4450-8661-82B095BDBF0A, Couldn't connect".into())],
            ..Default::default()
        };
        assert_eq!(r.facts().tracking_id.as_deref(), Some("3f369fe9-c121-4450-8661-82b095bdbf0a"));
        let msg = "An attempt was made to reset an account's password.\r\n\r\nSubject:\r\n\tSecurity ID:\t\tS-1-5-21\r\n\tAccount Name:\t\tMSOL_73c8a9aa6173\r\n\tAccount Domain:\t\tContoso\r\n\r\nTarget Account:\r\n\tSecurity ID:\t\tS-1-5-21-2\r\n\tAccount Name:\t\tUser01\r\n\tAccount Domain:\t\tContoso\r\n";
        let r = EventRecord {
            rendered_message: Some(msg.into()),
            keywords: Some("0x8010000000000000".into()),
            ..Default::default()
        };
        let f = r.facts();
        assert_eq!(f.subject_account.as_deref(), Some("MSOL_73c8a9aa6173"));
        assert_eq!(f.target_account.as_deref(), Some("User01"));
        assert_eq!(f.target_domain.as_deref(), Some("Contoso"));
        assert_eq!(f.audit_success, Some(false));
    }

    #[test]
    fn repeated_names_become_arrays_and_unnamed_data_a_list() {
        let r = EventRecord {
            data: vec![
                (Some("LogonGuid".into()), "a".into()),
                (Some("LogonGuid".into()), "b".into()),
                (None, "x".into()),
            ],
            ..Default::default()
        };
        assert_eq!(r.data_json().unwrap(), r#"{"LogonGuid":["a","b"],"Data":["x"]}"#);
        assert_eq!(r.message().as_deref(), Some("x"));
    }
}
