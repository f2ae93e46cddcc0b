//! The shortcuts a compiled template takes for the `System` fields every record has (event id,
//! level, task, time, record id, computer, …), reading their typed values straight into the
//! record, and the small value decoders they and the general path share.

use crate::collectors::eventlog::binxml::template::Fast;
use crate::collectors::eventlog::binxml::value::{Value, filetime_micros, push_utf16, render, vt};
use crate::collectors::eventlog::binxml::{Decline, OVER_BUDGET, State};
use crate::collectors::eventlog::record::EventRecord;

/// Takes shortcut `f` when the record is where the shortcut assumes and its value has the type
/// the shortcut reads; `false` leaves the element to the general path.
pub(super) fn shortcut(
    f: &Fast,
    st: &mut State,
    values: &[Value<'_>],
    depth: usize,
) -> Result<bool, Decline> {
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
            // Event data written here counts against the record's output budget too.
            st.out_left = st.out_left.checked_sub(v.len()).ok_or(OVER_BUDGET)?;
            if st.rec.data.capacity() == 0 {
                st.rec.data.reserve(16);
            }
            st.rec.data.push((name.clone(), v));
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
pub(super) fn small_int((ty, b): Value<'_>) -> Option<i32> {
    match (ty, b) {
        (vt::UINT8, [x]) => Some(i32::from(*x)),
        (vt::UINT16, [x, y]) => Some(i32::from(u16::from_le_bytes([*x, *y]))),
        _ => None,
    }
}

/// A string array's items: UTF-16 strings, each ending with a NUL.
pub(super) fn string_array(b: &[u8]) -> Result<Vec<String>, Decline> {
    if !b.len().is_multiple_of(2) || !(b.is_empty() || b.ends_with(&[0, 0])) {
        return Err("string array");
    }
    let mut items = Vec::new();
    let mut start = 0;
    for at in (0..b.len()).step_by(2) {
        if b[at..at + 2] == [0, 0] {
            let mut s = String::new();
            push_utf16(&mut s, &b[start..at]);
            items.push(s);
            start = at + 2;
        }
    }
    Ok(items)
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
