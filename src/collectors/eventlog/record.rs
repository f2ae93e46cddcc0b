//! The one typed event record every Windows event-log reader yields, and the stable facts parsed
//! from it (tracking id, hresult, accounts, audit result) — reference/onprem-logs.md §1.4, §2.3, §3.7.

use std::borrow::Cow;
use std::sync::Arc;

use crate::collectors::eventlog::facts::{AccountSections, guid_in, hresult_in, tracking_id_in};

/// `System/Keywords` bit for "Audit Success".
const KEYWORD_AUDIT_SUCCESS: u64 = 0x0020_0000_0000_0000;
/// `System/Keywords` bit for "Audit Failure".
const KEYWORD_AUDIT_FAILURE: u64 = 0x0010_0000_0000_0000;

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
    /// `EventData/Data` (named or not, in order), `UserData` leaves, `Binary`. Names are shared:
    /// a reader hands every record of a kind the same few.
    pub data: Vec<(Option<Arc<str>>, String)>,
    /// The rendered message (RenderingInfo, CSV/JSON `Message`), when the export has one.
    pub rendered_message: Option<String>,
}

/// Facts parsed out of a record's message and event data (accounts borrowed from the record's
/// named data when they come from there).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Facts<'a> {
    pub tracking_id: Option<String>,
    pub hresult: Option<String>,
    pub target_account: Option<Cow<'a, str>>,
    pub target_domain: Option<Cow<'a, str>>,
    pub subject_account: Option<Cow<'a, str>>,
    pub subject_domain: Option<Cow<'a, str>>,
    pub audit_success: Option<bool>,
}

impl EventRecord {
    /// The value of a named data item (case-insensitive).
    pub(crate) fn named(&self, name: &str) -> Option<&str> {
        self.data
            .iter()
            .find(|(n, _)| n.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty() && *v != "-")
    }

    /// The message text: the rendered message when the export carries one, else the insertion
    /// strings of a classic event (unnamed `Data`), which for classic sources such as
    /// PasswordResetService hold the message itself.
    pub(crate) fn message(&self) -> Option<Cow<'_, str>> {
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
    #[cfg(test)]
    fn data_json(&self) -> Option<String> {
        let mut out = String::with_capacity(
            self.data.iter().map(|(n, v)| v.len() + n.as_ref().map_or(0, |n| n.len()) + 6).sum::<usize>()
                + 12,
        );
        self.write_data_json(&mut out).then_some(out)
    }

    /// Writes [`EventRecord::data_json`] into `out` (an Arrow string builder's value, say);
    /// `false`, writing nothing, when the record has no event data.
    pub(crate) fn write_data_json(&self, out: &mut impl std::fmt::Write) -> bool {
        if self.data.is_empty() {
            return false;
        }
        // Nearly always the names are distinct: the object is then written straight, in the
        // same form serde_json gives (same key order, same escapes).
        let named = |i: usize| self.data[i].0.as_deref();
        let has_unnamed = self.data.iter().any(|(n, _)| n.is_none());
        let distinct = (0..self.data.len()).all(|i| {
            named(i).is_none_or(|n| !((0..i).any(|j| named(j) == Some(n)) || has_unnamed && n == "Data"))
        });
        if !distinct {
            let _ = out.write_str(&self.data_json_general());
            return true;
        }
        let mut first = true;
        let _ = out.write_char('{');
        for (n, v) in &self.data {
            if let Some(n) = n {
                if !first {
                    let _ = out.write_char(',');
                }
                first = false;
                push_json_str(out, n);
                let _ = out.write_char(':');
                push_json_str(out, v);
            }
        }
        if has_unnamed {
            let _ = out.write_str(if first { "\"Data\":[" } else { ",\"Data\":[" });
            for (i, (_, v)) in self.data.iter().filter(|(n, _)| n.is_none()).enumerate() {
                if i > 0 {
                    let _ = out.write_char(',');
                }
                push_json_str(out, v);
            }
            let _ = out.write_char(']');
        }
        let _ = out.write_char('}');
        true
    }

    /// [`EventRecord::data_json`] through serde_json, for repeated names.
    fn data_json_general(&self) -> String {
        let mut map = serde_json::Map::new();
        let mut unnamed = Vec::new();
        for (n, v) in &self.data {
            match n {
                None => unnamed.push(serde_json::Value::String(v.clone())),
                Some(n) => match map.get_mut(&**n) {
                    None => {
                        map.insert(n.to_string(), serde_json::Value::String(v.clone()));
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
        serde_json::Value::Object(map).to_string()
    }

    /// The keywords as a number.
    fn keywords_value(&self) -> Option<u64> {
        let k = self.keywords.as_deref()?.trim();
        let hex = k.strip_prefix("0x").or_else(|| k.strip_prefix("0X"))?;
        u64::from_str_radix(hex, 16).ok()
    }

    /// Parses the stable facts.
    pub(crate) fn facts(&self) -> Facts<'_> {
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
        // A named data item, else what the rendered message says.
        let account = |name: &str, from_message: Option<String>| {
            self.named(name).map(Cow::Borrowed).or(from_message.map(Cow::Owned))
        };
        Facts {
            tracking_id: self.named("TrackingId").and_then(guid_in).or_else(|| tracking_id_in(text)),
            hresult: self
                .named("HResult")
                .and_then(hresult_in)
                .or_else(|| hresult_in(text))
                .or_else(|| self.data.iter().find_map(|(_, v)| hresult_in(v))),
            target_account: account("TargetUserName", sections.target_account),
            target_domain: account("TargetDomainName", sections.target_domain),
            subject_account: account("SubjectUserName", sections.subject_account),
            subject_domain: account("SubjectDomainName", sections.subject_domain),
            audit_success,
        }
    }

    /// A hash of the record's content, used as the identity of records that carry no
    /// `EventRecordID` (so two distinct events in the same second are not merged).
    pub(crate) fn content_hash(&self) -> String {
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
    pub(crate) fn problem(&self) -> Option<&'static str> {
        if self.event_id.is_none() {
            Some("no EventID")
        } else if self.time_created.is_none() {
            Some("no TimeCreated")
        } else if !self.time_created.is_some_and(crate::util::storable_time) {
            Some("TimeCreated is outside 1601-01-01 .. 9999-12-31")
        } else if self.provider.is_empty() {
            Some("no Provider name")
        } else {
            None
        }
    }
}

/// The bytes a JSON string escapes: controls, `"` and `\` (one load per byte instead of three
/// comparisons).
static NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// A JSON string literal, escaped as serde_json escapes it.
fn push_json_str(out: &mut impl std::fmt::Write, s: &str) {
    let _ = out.write_char('"');
    let mut rest = s;
    while let Some(i) = rest.bytes().position(|b| NEEDS_ESCAPE[usize::from(b)]) {
        let _ = out.write_str(&rest[..i]);
        let _ = match rest.as_bytes()[i] {
            b'"' => out.write_str("\\\""),
            b'\\' => out.write_str("\\\\"),
            b'\n' => out.write_str("\\n"),
            b'\r' => out.write_str("\\r"),
            b'\t' => out.write_str("\\t"),
            0x08 => out.write_str("\\b"),
            0x0c => out.write_str("\\f"),
            c => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let esc = [b'\\', b'u', b'0', b'0', HEX[usize::from(c >> 4)], HEX[usize::from(c & 0xf)]];
                out.write_str(std::str::from_utf8(&esc).unwrap_or_default())
            }
        };
        rest = &rest[i + 1..];
    }
    let _ = out.write_str(rest);
    let _ = out.write_char('"');
}

/// A small integer field (EventID, Level, Task, Qualifiers) from text; empty is `None`.
pub(crate) fn parse_i32(what: &str, v: &str) -> Result<Option<i32>, String> {
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
                data: c.iter().map(|(n, v)| (n.map(Arc::from), v.to_string())).collect(),
                ..Default::default()
            };
            assert_eq!(rec.data_json(), Some(rec.data_json_general()), "{c:?}");
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
