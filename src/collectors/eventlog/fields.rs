//! Names of positional event data. PowerShell's `Properties` (ConvertTo-Json) lists insertion
//! strings without names; for the events whose template order is documented and observed, the
//! names come from `queries/reference/event_data_fields.csv` (data, not code: add a row to name
//! another event's fields). Unknown events keep their values unnamed, nothing is guessed.

use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("../../../queries/reference/event_data_fields.csv");

type Names = HashMap<(String, i32), Vec<String>>;

fn table() -> &'static Names {
    static T: OnceLock<Names> = OnceLock::new();
    T.get_or_init(|| {
        let mut out = HashMap::new();
        let mut rdr = csv::Reader::from_reader(TABLE.as_bytes());
        for row in rdr.records().flatten() {
            let (Some(p), Some(id), Some(f)) = (row.get(0), row.get(1), row.get(2)) else { continue };
            let Ok(id) = id.trim().parse::<i32>() else { continue };
            out.insert((p.to_ascii_lowercase(), id), f.split(';').map(|s| s.trim().to_string()).collect());
        }
        out
    })
}

/// The documented field names, in template order, of a provider's event.
pub(crate) fn positional_names(provider: &str, event_id: i32) -> Option<&'static [String]> {
    table().get(&(provider.to_ascii_lowercase(), event_id)).map(Vec::as_slice)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_table_parses() {
        let n = super::positional_names("microsoft-windows-security-auditing", 4724).unwrap();
        assert_eq!(n[0], "TargetUserName");
        assert_eq!(n.len(), 7);
        assert!(super::positional_names("ADSync", 6329).is_none());
    }
}
