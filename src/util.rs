//! Small helpers shared by several layers: unique names, run ids, date conversions.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, NaiveDate, Utc};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A process-unique suffix for temporary names.
pub(crate) fn unique_suffix() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    format!("{t:x}-{n}")
}

/// A run id: UTC start time (ms), process id and a per-process counter; sortable and unique even
/// for runs started in the same millisecond.
pub(crate) fn new_run_id() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}-{}-{n}", Utc::now().format("%Y%m%dT%H%M%S%.3fZ"), std::process::id())
}

/// The files of `dir` (not its subfolders) whose extension is `ext`, sorted: the override
/// folders of saved queries and dashboards.
pub(crate) fn files_with_extension(
    dir: &std::path::Path,
    ext: &str,
) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    Ok(files)
}

/// The cores this process may use (2 when the system cannot say).
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Days since 1970-01-01 (Arrow Date32) of a date.
pub(crate) fn date32(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

/// The date of an Arrow Date32 value.
pub(crate) fn from_date32(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + UNIX_EPOCH_DAYS_FROM_CE).unwrap_or_default()
}

use chrono::Datelike;

/// The instants a lake row may carry as its event time: 1601-01-01 (the FILETIME epoch, the
/// earliest time Windows writes) up to the end of 9999. Outside, a partition would be named
/// `event_date=0000-01-01` and readers such as pyarrow and Power BI fail on the file.
const EARLIEST_MICROS: i64 = -11_644_473_600_000_000;
/// The first microsecond after 9999-12-31.
const AFTER_LATEST_MICROS: i64 = 253_402_300_800_000_000;

/// Whether an event time (µs since 1970) is one a lake row may carry ([`EARLIEST_MICROS`]).
pub(crate) fn storable_time(micros: i64) -> bool {
    (EARLIEST_MICROS..AFTER_LATEST_MICROS).contains(&micros)
}

/// Parses the instants Entra sources write: RFC 3339 with `Z` or an offset and 0–7 fractional
/// digits (`2026-11-14T08:00:01.1234567Z`, `…+00:00`), and the space-separated form of CSV exports
/// (`2026-11-14 08:00:01.123Z`, `11/14/2026 8:00:01 AM` is not accepted: ambiguous).
pub(crate) fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let alt = s.replacen(' ', "T", 1);
    if let Ok(t) = DateTime::parse_from_rfc3339(&alt) {
        return Some(t.with_timezone(&Utc));
    }
    // Naive forms are taken as UTC (Log Analytics CSV writes `2026-11-14T08:00:01.123Z` but some
    // tools drop the zone).
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_in_every_entra_form() {
        let a = parse_instant("2026-11-14T08:00:01.1234567Z").unwrap();
        let b = parse_instant("2026-11-14T08:00:01.123456+00:00").unwrap();
        assert_eq!(a.timestamp_micros(), b.timestamp_micros());
        assert!(parse_instant("2026-11-14 08:00:01Z").is_some());
        assert!(parse_instant("2026-11-14T08:00:01").is_some());
        assert!(parse_instant("yesterday").is_none());
        assert!(parse_instant("").is_none());
    }

    #[test]
    fn storable_times_are_1601_to_9999() {
        let at = |t: &str| parse_instant(t).unwrap().timestamp_micros();
        assert!(storable_time(at("1601-01-01T00:00:00Z")));
        assert!(!storable_time(at("1600-12-31T23:59:59.999999Z")));
        assert!(storable_time(at("9999-12-31T23:59:59.999999Z")));
        assert!(!storable_time(at("0000-01-01T00:00:00Z")));
    }

    #[test]
    fn date32_round_trip() {
        let d = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        assert_eq!(date32(d), 0);
        let d = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        assert_eq!(from_date32(date32(d)), d);
    }
}
