//! Event XML elements into [`EventRecord`] fields: the handlers every element-level reader calls
//! as it walks an event — the XML readers (`xml.rs`: the byte scanner and quick-xml) and the
//! BinXML reader (`binxml/`) — so the three produce the same record from the same event.

use std::sync::Arc;

use crate::collectors::eventlog::record::{EventRecord, parse_i32};

type AttrFn<'f> = dyn Fn(&str) -> Result<Option<String>, String> + 'f;

pub(crate) fn on_open<S: AsRef<str>>(
    rec: &mut EventRecord,
    path: &[S],
    name: &str,
    attr: &AttrFn<'_>,
    data_name: &mut Option<Arc<str>>,
) -> Result<(), String> {
    let parent = path.last().map(AsRef::as_ref);
    let in_system = path.len() == 2 && path[1].as_ref() == "System";
    match (parent, name) {
        (Some("System"), "Provider") if in_system => {
            rec.provider = attr("Name")?.or(attr("EventSourceName")?).unwrap_or_default();
        }
        (Some("System"), "EventID") if in_system => {
            rec.qualifiers = attr("Qualifiers")?.and_then(|q| q.trim().parse().ok());
        }
        (Some("System"), "TimeCreated") if in_system => {
            if let Some(t) = attr("SystemTime")? {
                rec.time_created = Some(
                    crate::util::parse_instant(&t)
                        .ok_or_else(|| format!("TimeCreated/@SystemTime is not a time: {t:?}"))?
                        .timestamp_micros(),
                );
            }
        }
        (Some("EventData"), "Data") => *data_name = attr("Name")?.map(Arc::from),
        _ => {}
    }
    Ok(())
}

pub(crate) fn on_close<S: AsRef<str>>(
    rec: &mut EventRecord,
    path: &[S],
    text: &mut String,
    data_name: &mut Option<Arc<str>>,
) -> Result<(), String> {
    let n = path.len();
    let name = path[n - 1].as_ref();
    let parent = if n >= 2 { path[n - 2].as_ref() } else { "" };
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
    } else if n >= 4 && path[1].as_ref() == "UserData" && !value.trim().is_empty() {
        rec.data.push((Some(Arc::from(name)), value));
    } else if n == 3 && parent == "RenderingInfo" && name == "Message" && !value.trim().is_empty() {
        rec.rendered_message = Some(value);
    }
    Ok(())
}
