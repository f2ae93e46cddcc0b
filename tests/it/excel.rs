//! Issue 22 item 5: Excel workbooks for analysts, read back with an independent reader
//! (openpyxl): typed cells, dates and times as Excel dates on the report zone's wall clock, a
//! frozen header row, one sheet per query.

use std::path::Path;
use std::process::Command;

use crate::util::{shared_lake_arg, sspr, text};

/// The workbook as openpyxl reads it: per sheet, its name, frozen cell, header and rows with
/// each cell's Python type and value.
fn read(path: &Path) -> serde_json::Value {
    let script = r#"
import json, sys, datetime
import openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
out = []
for ws in wb.worksheets:
    rows = []
    for row in ws.iter_rows(min_row=2, values_only=True):
        cells = []
        for v in row:
            if isinstance(v, datetime.datetime):
                cells.append(["datetime", v.isoformat(sep=" ")])
            elif isinstance(v, bool):
                cells.append(["bool", v])
            elif isinstance(v, (int, float)):
                cells.append(["number", v])
            elif v is None:
                cells.append(["empty", None])
            else:
                cells.append(["text", v])
        rows.append(cells)
    header = [c.value for c in ws[1]]
    out.append({"name": ws.title, "frozen": ws.freeze_panes, "bold": ws["A1"].font.b, "header": header, "rows": rows})
print(json.dumps(out))
"#;
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("python3 with openpyxl (tests/requirements.txt)");
    assert!(o.status.success(), "openpyxl: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn a_query_as_xlsx_has_typed_cells_and_a_frozen_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("errors.xlsx");
    let lake = shared_lake_arg();
    let args = ["--lake", lake.as_str(), "query", "error_codes", "--tz", "Europe/Brussels"];
    let o = sspr(&[&args[..], &["--out", path.to_str().unwrap()]].concat(), &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    let json = sspr(&[&args[..], &["--format", "json"]].concat(), &[]);
    let want: Vec<serde_json::Value> = serde_json::from_slice(&json.stdout).unwrap();
    let book = read(&path);
    let sheet = &book[0];
    assert_eq!(sheet["name"], "error_codes");
    assert_eq!(sheet["frozen"], "A2", "the header row stays in view");
    assert_eq!(sheet["bold"], true);
    let header: Vec<&str> = sheet["header"].as_array().unwrap().iter().map(|h| h.as_str().unwrap()).collect();
    assert!(header.contains(&"events") && header.contains(&"first_seen (Europe/Brussels)"), "{header:?}");
    let rows = sheet["rows"].as_array().unwrap();
    assert_eq!(rows.len(), want.len());
    let col = |name: &str| header.iter().position(|h| h.starts_with(name)).unwrap();
    for (row, w) in rows.iter().zip(&want) {
        let events = &row[col("events")];
        assert_eq!(events[0], "number");
        assert_eq!(events[1].as_f64(), w["events"].as_f64(), "{w}");
        // first_seen: an Excel date-time, the same wall-clock time as the JSON's (which carries
        // the Brussels offset), to the second.
        let seen = &row[col("first_seen")];
        assert_eq!(seen[0], "datetime", "{seen}");
        let json_time = w["first_seen"].as_str().unwrap().replace('T', " ");
        assert_eq!(&seen[1].as_str().unwrap()[..19], &json_time[..19], "{w}");
        assert_eq!(row[col("code")][0], "text");
    }
    let refused = sspr(&[&args[..], &["--format", "xlsx"]].concat(), &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused).1.contains("give --out FILE"), "{:?}", text(&refused));
}

#[test]
fn a_report_as_xlsx_has_a_sheet_per_panel() {
    let dir = tempfile::tempdir().unwrap();
    let lake = shared_lake_arg();
    let o = sspr(
        &["--lake", &lake, "report", "overview", "--format", "xlsx", "--out", dir.path().to_str().unwrap()],
        &[],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    let book = read(&dir.path().join("overview.xlsx"));
    let names: Vec<&str> = book.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    let spec = std::fs::read_to_string(crate::util::repo().join("dashboards/overview.toml")).unwrap();
    assert_eq!(names.len(), spec.matches("[[panel]]").count(), "{names:?}");
    assert!(
        names.contains(&"reset_success_daily") && names.contains(&"reset_success_daily (2)"),
        "{names:?}"
    );
    for s in book.as_array().unwrap() {
        assert_eq!(s["frozen"], "A2", "{}", s["name"]);
    }
    // Dates are Excel dates: reset_success_daily's day column.
    let daily = book.as_array().unwrap().iter().find(|s| s["name"] == "reset_success_daily").unwrap();
    let first = &daily["rows"][0][0];
    assert_eq!(first[0], "datetime", "{first}");
    assert!(first[1].as_str().unwrap().starts_with("2026-11-01"), "{first}");
}
