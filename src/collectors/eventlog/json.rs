//! JSON event exports: `evtx_dump -o json|jsonl` (the `evtx` crate's record JSON, with either
//! attribute style) and PowerShell `Get-WinEvent | ConvertTo-Json` / `Export-Csv` rows
//! (`EventLogRecord` properties). Both become an [`EventRecord`] (reference/onprem-logs.md §3.3–3.4).

use std::sync::Arc;

use chrono::TimeZone;
use serde_json::Value;

use crate::collectors::eventlog::fields;
use crate::collectors::eventlog::record::{EventRecord, parse_i32};

/// Converts one JSON record of either shape.
pub(crate) fn parse_json_event(v: &Value, source_tz: chrono_tz::Tz) -> Result<EventRecord, String> {
    let Value::Object(map) = v else { return Err("not a JSON object".into()) };
    if let Some(ev) = map.get("Event") {
        return from_evtx_json(ev, None);
    }
    if let Some(ev) = map.get("data").and_then(|d| d.get("Event")) {
        let header = map.get("event_record_id").and_then(Value::as_i64);
        return from_evtx_json(ev, header);
    }
    if map.contains_key("ProviderName") || map.contains_key("Id") {
        let get = |k: &str| map.get(k).filter(|v| !v.is_null());
        return from_powershell(&get, source_tz);
    }
    Err("neither an evtx_dump record (`Event`) nor a Get-WinEvent object (`ProviderName`, `Id`)".into())
}

/// A scalar as text (`#text` of an object with attributes; numbers and booleans printed).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(m) => m.get("#text").and_then(text),
        Value::Array(a) => Some(a.iter().filter_map(text).collect::<Vec<_>>().join("\n")),
    }
}

/// An attribute of element `name` under `parent`, in either attribute style.
fn attribute<'v>(parent: &'v Value, name: &str, attr: &str) -> Option<&'v Value> {
    parent
        .get(name)
        .and_then(|e| e.get("#attributes"))
        .and_then(|a| a.get(attr))
        .or_else(|| parent.get(format!("{name}_attributes")).and_then(|a| a.get(attr)))
}

fn int(v: Option<&Value>, what: &str) -> Result<Option<i32>, String> {
    match v.and_then(text) {
        Some(t) => parse_i32(what, &t),
        None => Ok(None),
    }
}

fn from_evtx_json(ev: &Value, header_id: Option<i64>) -> Result<EventRecord, String> {
    let sys = ev.get("System").ok_or("record has no Event.System")?;
    let mut rec = EventRecord {
        provider: attribute(sys, "Provider", "Name")
            .or_else(|| attribute(sys, "Provider", "EventSourceName"))
            .and_then(text)
            .unwrap_or_default(),
        event_id: int(sys.get("EventID"), "System.EventID")?,
        qualifiers: int(attribute(sys, "EventID", "Qualifiers"), "EventID Qualifiers")?,
        level: int(sys.get("Level"), "System.Level")?,
        task: int(sys.get("Task"), "System.Task")?,
        keywords: sys.get("Keywords").and_then(text),
        channel: sys.get("Channel").and_then(text).unwrap_or_default(),
        computer: sys.get("Computer").and_then(text).unwrap_or_default(),
        header_record_id: header_id,
        ..Default::default()
    };
    if let Some(t) = attribute(sys, "TimeCreated", "SystemTime").and_then(text) {
        rec.time_created = Some(
            crate::util::parse_instant(&t)
                .ok_or_else(|| format!("TimeCreated.SystemTime is not a time: {t:?}"))?
                .timestamp_micros(),
        );
    }
    if let Some(id) = sys.get("EventRecordID").and_then(text) {
        rec.event_record_id =
            Some(id.trim().parse().map_err(|_| format!("System.EventRecordID is not a number: {id:?}"))?);
    }
    if let Some(Value::Object(data)) = ev.get("EventData") {
        for (k, v) in data {
            if k.ends_with("_attributes") || k == "#attributes" {
                continue;
            }
            if k == "Data" {
                // Unnamed data: `{"#text": "…"}` or `{"#text": ["…", …]}` or a bare string/array.
                let inner = v.get("#text").unwrap_or(v);
                match inner {
                    Value::Array(items) => {
                        rec.data.extend(items.iter().map(|i| (None, text(i).unwrap_or_default())))
                    }
                    other => rec.data.push((None, text(other).unwrap_or_default())),
                }
            } else {
                let name: Arc<str> = Arc::from(k.as_str());
                match v {
                    Value::Array(items) => rec
                        .data
                        .extend(items.iter().map(|i| (Some(name.clone()), text(i).unwrap_or_default()))),
                    other => rec.data.push((Some(name), text(other).unwrap_or_default())),
                }
            }
        }
    }
    if let Some(user) = ev.get("UserData") {
        flatten_leaves(user, None, &mut rec.data);
    }
    if let Some(m) = ev.get("RenderingInfo").and_then(|r| r.get("Message")).and_then(text) {
        rec.rendered_message = Some(m);
    }
    Ok(rec)
}

fn flatten_leaves(v: &Value, key: Option<&str>, out: &mut Vec<(Option<Arc<str>>, String)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if k != "#attributes" && !k.ends_with("_attributes") {
                    flatten_leaves(v, Some(k), out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| flatten_leaves(x, key, out)),
        Value::Null => {}
        other => out.push((key.map(Arc::from), text(other).unwrap_or_default())),
    }
}

/// A Get-WinEvent object (JSON) or CSV row, through a field getter.
pub(crate) fn from_powershell<'v>(
    get: &dyn Fn(&str) -> Option<&'v Value>,
    source_tz: chrono_tz::Tz,
) -> Result<EventRecord, String> {
    let mut rec = EventRecord {
        provider: get("ProviderName").and_then(text).unwrap_or_default(),
        event_id: int(get("Id"), "Id")?,
        qualifiers: int(get("Qualifiers"), "Qualifiers")?,
        level: int(get("Level"), "Level")?,
        task: int(get("Task"), "Task")?,
        keywords: match get("Keywords").and_then(text) {
            Some(k) => Some(keywords_hex(&k).ok_or_else(|| format!("Keywords is not a number: {k:?}"))?),
            None => None,
        },
        channel: get("LogName").or_else(|| get("ContainerLog")).and_then(text).unwrap_or_default(),
        computer: get("MachineName").and_then(text).unwrap_or_default(),
        rendered_message: get("Message").and_then(text).filter(|m| !m.is_empty()),
        ..Default::default()
    };
    if let Some(id) = get("RecordId").and_then(text).filter(|s| !s.trim().is_empty()) {
        rec.event_record_id =
            Some(id.trim().parse().map_err(|_| format!("RecordId is not a number: {id:?}"))?);
    }
    if let Some(t) = get("TimeCreated") {
        let t = text(t).ok_or("TimeCreated is empty")?;
        rec.time_created = Some(powershell_time(&t, source_tz).ok_or_else(|| {
            format!(
                "TimeCreated {t:?} is not a time this reader knows (ISO 8601, /Date(ms)/, M/d/yyyy h:mm:ss tt, d.M.yyyy H:mm:ss)"
            )
        })?);
    }
    if let Some(Value::Array(props)) = get("Properties") {
        let names = rec.event_id.and_then(|id| fields::positional_names(&rec.provider, id));
        for (i, p) in props.iter().enumerate() {
            let v = p.get("Value").unwrap_or(p);
            // SIDs arrive as objects with a `Value` string.
            let v = match v {
                Value::Object(m) => m.get("Value").and_then(text).unwrap_or_else(|| v.to_string()),
                other => text(other).unwrap_or_default(),
            };
            let name = names.and_then(|n| n.get(i)).map(|s| Arc::from(s.as_str()));
            rec.data.push((name, v));
        }
    }
    Ok(rec)
}

/// Keywords as PowerShell writes them (a signed 64-bit decimal) or as hex, to `0x…` hex.
fn keywords_hex(k: &str) -> Option<String> {
    let k = k.trim();
    if let Some(h) = k.strip_prefix("0x").or_else(|| k.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).ok().map(|v| format!("0x{v:x}"));
    }
    let v = k.parse::<i64>().map(|v| v as u64).or_else(|_| k.parse::<u64>()).ok()?;
    Some(format!("0x{v:x}"))
}

/// The time forms PowerShell writes: `/Date(ms)/` (Windows PowerShell ConvertTo-Json), ISO 8601
/// with or without an offset (PowerShell 7, `ToString('o')`), and the culture forms of Export-Csv
/// (`11/24/2026 6:02:00 AM`, `24.11.2026 06:02:00`, `2026-11-24 06:02:00`). Times without an
/// offset are in the exporting machine's zone, `source_tz`.
fn powershell_time(t: &str, source_tz: chrono_tz::Tz) -> Option<i64> {
    let t = t.trim();
    if let Some(ms) = t.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")) {
        let digits = ms.find(['+', '-']).filter(|i| *i > 0).map(|i| &ms[..i]).unwrap_or(ms);
        return digits.parse::<i64>().ok().map(|ms| ms * 1000);
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_micros());
    }
    const NAIVE: &[&str] = &[
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%m/%d/%Y %I:%M:%S %p",
        "%m/%d/%Y %H:%M:%S",
        "%d.%m.%Y %H:%M:%S",
        "%d/%m/%Y %H:%M:%S",
    ];
    for f in NAIVE {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(t, f) {
            return source_tz.from_local_datetime(&n).earliest().map(|d| d.timestamp_micros());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_evtx_dump_json_in_both_attribute_styles() {
        let default = serde_json::json!({"Event":{"#attributes":{"xmlns":"x"},"System":{
            "Provider":{"#attributes":{"Name":"MsiInstaller"}},
            "EventID":{"#attributes":{"Qualifiers":0},"#text":1040},
            "Level":4,"Task":0,"Keywords":"0x80000000000000",
            "TimeCreated":{"#attributes":{"SystemTime":"2019-03-01T10:00:00.1234567Z"}},
            "EventRecordID":"17","Channel":"Application","Computer":"PC1"},
            "EventData":{"Data":{"#text":["a","2128"]}}}});
        let r = parse_json_event(&default, chrono_tz::UTC).unwrap();
        assert_eq!((r.provider.as_str(), r.event_id, r.qualifiers), ("MsiInstaller", Some(1040), Some(0)));
        assert_eq!(r.event_record_id, Some(17));
        assert_eq!(r.data, vec![(None, "a".into()), (None, "2128".into())]);
        let separate = serde_json::json!({"Event":{"System":{
            "Provider_attributes":{"Name":"Microsoft-Windows-Security-Auditing"},
            "EventID":"4724","Keywords":"0x8020000000000000",
            "TimeCreated_attributes":{"SystemTime":"2016-07-08T18:12:51.681640Z"},
            "EventRecordID":57,"Channel":"Security","Computer":"DC1"},
            "EventData":{"TargetUserName":"fsir","SubjectUserName":"WIN$"}}});
        let r = parse_json_event(&separate, chrono_tz::UTC).unwrap();
        assert_eq!(r.event_id, Some(4724));
        assert_eq!(r.facts().target_account.as_deref(), Some("fsir"));
        assert_eq!(r.facts().audit_success, Some(true));
    }

    #[test]
    fn reads_get_winevent_objects() {
        let ps = serde_json::json!({"Id":4724,"ProviderName":"Microsoft-Windows-Security-Auditing",
            "Keywords":-9214364837600034816_i64,"RecordId":900,"LogName":"Security","MachineName":"DC1",
            "TimeCreated":"/Date(1700000000000)/","Message":"An attempt was made to reset an account's password.",
            "Properties":[{"Value":"User01"},{"Value":"CONTOSO"},{"Value":{"Value":"S-1-5-21-1"}},{"Value":"S-1-5-18"},{"Value":"MSOL_ab12"}]});
        let r = parse_json_event(&ps, chrono_tz::UTC).unwrap();
        assert_eq!(r.keywords.as_deref(), Some("0x8020000000000000"));
        assert_eq!(r.time_created, Some(1_700_000_000_000_000));
        let f = r.facts();
        assert_eq!(f.target_account.as_deref(), Some("User01"));
        assert_eq!(f.subject_account.as_deref(), Some("MSOL_ab12"));
        assert_eq!(r.named("TargetSid"), Some("S-1-5-21-1"));
    }

    #[test]
    fn culture_times_use_the_source_zone() {
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            powershell_time("24.11.2026 07:02:00", berlin),
            powershell_time("2026-11-24T06:02:00Z", berlin)
        );
        assert_eq!(
            powershell_time("11/24/2026 6:02:00 AM", chrono_tz::UTC),
            powershell_time("2026-11-24T06:02:00Z", chrono_tz::UTC)
        );
        assert_eq!(powershell_time("yesterday", chrono_tz::UTC), None);
    }
}
