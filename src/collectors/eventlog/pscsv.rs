//! `Get-WinEvent … | Export-Csv`: one row per `EventLogRecord`, an optional `#TYPE` first line
//! (Windows PowerShell), culture-formatted local `TimeCreated`, and `Properties` reduced to a type
//! name (the insertion strings are lost; the rendered `Message` carries the facts instead).

use std::path::Path;

use serde_json::Value;

use crate::collectors::eventlog::EventContext;
use crate::collectors::eventlog::json::from_powershell;
use crate::collectors::eventlog::record::EventRecord;
use crate::error::{Error, Result};

/// Columns without which a row cannot become a record.
const REQUIRED: &[&str] = &["Id", "ProviderName", "TimeCreated"];

type OnRow<'a> = dyn FnMut(std::result::Result<EventRecord, String>, u64, u64, &[u8]) -> Result<()> + 'a;

/// Reads the file, calling `on` per row. Returns the problem that ended the file early, if any.
pub fn import(path: &Path, ctx: &EventContext<'_>, on: &mut OnRow<'_>) -> Result<Option<String>> {
    let mut text = std::io::BufReader::with_capacity(
        1 << 20,
        std::fs::File::open(path).map_err(|e| Error::io(path, e))?,
    );
    // Skip a BOM and the `#TYPE …` line Windows PowerShell writes before the header.
    let mut first = Vec::new();
    use std::io::BufRead;
    let mut skipped_lines = 0u64;
    let mut skipped_bytes = 0u64;
    loop {
        let buf = text.fill_buf().map_err(|e| Error::io(path, e))?;
        let bom = buf.starts_with(b"\xef\xbb\xbf");
        if bom {
            text.consume(3);
            skipped_bytes += 3;
            continue;
        }
        if text.fill_buf().map_err(|e| Error::io(path, e))?.starts_with(b"#TYPE") {
            first.clear();
            skipped_bytes += text.read_until(b'\n', &mut first).map_err(|e| Error::io(path, e))? as u64;
            skipped_lines += 1;
        }
        break;
    }
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(text);
    let headers: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_string()).collect(),
        Err(e) => return Ok(Some(format!("CSV header cannot be read: {e}"))),
    };
    let missing: Vec<&str> = REQUIRED.iter().copied().filter(|c| !headers.iter().any(|h| h == c)).collect();
    if !missing.is_empty() {
        return Ok(Some(format!(
            "not a Get-WinEvent export: the header lacks column(s) {} (it has: {})",
            missing.join(", "),
            headers.join(", ")
        )));
    }
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => return Ok(None),
            Ok(true) => {
                let pos = record.position().map(|p| (p.line() + skipped_lines, p.byte() + skipped_bytes));
                let (line, offset) = pos.unwrap_or((0, 0));
                let raw = record.iter().collect::<Vec<_>>().join(",").into_bytes();
                if record.len() != headers.len() {
                    let reason = format!(
                        "line {line}: row has {} cells, header has {} columns",
                        record.len(),
                        headers.len()
                    );
                    on(Err(reason), line, offset, &raw)?;
                    continue;
                }
                let values: Vec<Value> = record.iter().map(|c| Value::String(c.to_string())).collect();
                let get = |k: &str| -> Option<&Value> {
                    let i = headers.iter().position(|h| h == k)?;
                    values.get(i).filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
                };
                // `Properties` is a type name in CSV exports, not data. A panic is this row's
                // problem alone (crate::parallel's policy).
                let rec = crate::parallel::guard(|| {
                    crate::parallel::inject(&raw);
                    from_powershell(&|k| if k == "Properties" { None } else { get(k) }, ctx.source_tz)
                })
                .unwrap_or_else(|panicked| Err(panicked.to_string()))
                .map_err(|e| format!("line {line}: {e}"));
                on(rec, line, offset, &raw)?;
            }
            Err(e) => {
                let (line, offset) =
                    e.position().map(|p| (p.line() + skipped_lines, p.byte())).unwrap_or((0, 0));
                return Ok(Some(format!("CSV error at line {line} (byte {offset}): {e}")));
            }
        }
    }
}
