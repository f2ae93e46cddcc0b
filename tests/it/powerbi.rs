//! Issue 22 item 3: the Power BI Project under `dashboards/powerbi/` matches the code and the
//! export: the shipped files are what `export::powerbi` generates (`SSPR_WRITE_MODEL=1 cargo test
//! powerbi` rewrites them after a schema change), and, read back as TMDL here, every table and
//! column the model names is in a real export with a compatible type, every table of the export
//! is in the model, and every relationship and measure names columns that exist.

use std::collections::{BTreeMap, BTreeSet};

use sspr_analytics::export::{self, Manifest, powerbi};

use crate::util::{repo, shared_lake_arg, sspr, text};

#[test]
fn the_shipped_project_is_what_the_code_generates() {
    let root = repo().join("dashboards/powerbi");
    let write = std::env::var("SSPR_WRITE_MODEL").as_deref() == Ok("1");
    let mut stale = Vec::new();
    for (path, contents) in powerbi::files() {
        let p = root.join(&path);
        if write {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, &contents).unwrap();
        } else if std::fs::read_to_string(&p).ok().as_deref() != Some(contents.as_str()) {
            stale.push(path);
        }
    }
    assert!(stale.is_empty(), "out of date (SSPR_WRITE_MODEL=1 cargo test powerbi rewrites them): {stale:?}");
}

/// A TMDL table as this test reads it: columns and their data types, the table its partition
/// reads, and the columns its query types.
#[derive(Debug, Default)]
struct Table {
    columns: BTreeMap<String, String>,
    reads: Option<String>,
    typed: BTreeSet<String>,
    /// The column its rows are filtered on for incremental refresh (RangeStart..RangeEnd), when
    /// its files are filtered too.
    ranged: Option<String>,
}

fn unquote(s: &str) -> String {
    s.trim().trim_matches('\'').replace("''", "'")
}

fn read_tables() -> BTreeMap<String, Table> {
    let dir = repo().join(format!("dashboards/powerbi/{}.SemanticModel/definition/tables", powerbi::NAME));
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        let mut name = String::new();
        let mut t = Table::default();
        let mut column: Option<String> = None;
        for line in text.lines() {
            if let Some(n) = line.strip_prefix("table ") {
                name = unquote(n);
            } else if let Some(c) = line.strip_prefix("\tcolumn ") {
                column = Some(unquote(c));
            } else if let Some(ty) = line.strip_prefix("\t\tdataType: ") {
                t.columns.insert(column.clone().expect("a data type belongs to a column"), ty.to_string());
            } else if let Some(at) = line.find("SsprTable(\"") {
                t.reads = Some(line[at + 11..].split('"').next().unwrap().to_string());
                if line[at..].starts_with(&format!("SsprTable(\"{}\", true)", t.reads.as_ref().unwrap())) {
                    t.ranged = Some(String::new());
                }
            } else if let Some(rest) = line.trim().strip_prefix("InRange = Table.SelectRows(Typed, each [") {
                let c = rest.split(']').next().unwrap();
                let filter = format!("{c}] >= Date.From(RangeStart) and [{c}] < Date.From(RangeEnd))");
                assert_eq!(rest, filter, "{name}: {line}");
                assert_eq!(t.ranged.as_deref(), Some(""), "{name}: its files are filtered too");
                t.ranged = Some(c.to_string());
            }
            if let Some(at) = line.find("TransformColumnTypes(") {
                for part in line[at..].split("{\"").skip(1) {
                    t.typed.insert(part.split('"').next().unwrap().to_string());
                }
            }
        }
        assert!(!name.is_empty(), "{}: no table line", e.path().display());
        out.insert(name, t);
    }
    out
}

#[test]
fn the_model_and_a_real_export_agree_table_by_table_and_column_by_column() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("powerbi-export");
    let o = sspr(&["--lake", &shared_lake_arg(), "export", "--to", to.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    let cur: export::Current =
        serde_json::from_slice(&std::fs::read(to.join(export::CURRENT)).unwrap()).unwrap();
    let m: Manifest = serde_json::from_slice(&std::fs::read(to.join(&cur.manifest)).unwrap()).unwrap();
    let model = read_tables();
    let compatible = |kind: &str| match kind {
        "string" => "string",
        "boolean" => "boolean",
        "int32" | "int64" => "int64",
        "double" => "double",
        "date" | "timestamp_us_utc" => "dateTime",
        other => panic!("the export has a type the model cannot hold: {other}"),
    };
    for t in &m.tables {
        let mt =
            model.get(&t.name).unwrap_or_else(|| panic!("exported table {} is not in the model", t.name));
        assert_eq!(mt.reads.as_deref(), Some(t.name.as_str()), "{}: its query reads its own folder", t.name);
        let exported: BTreeSet<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        for c in &t.columns {
            let ty = mt
                .columns
                .get(&c.name)
                .unwrap_or_else(|| panic!("{}.{} is not in the model", t.name, c.name));
            assert_eq!(ty, compatible(&c.kind), "{}.{}", t.name, c.name);
            assert!(mt.typed.contains(&c.name), "{}.{}: its query sets the type", t.name, c.name);
        }
        for c in mt.columns.keys() {
            assert!(exported.contains(c.as_str()), "the model's {}.{c} is not in the export", t.name);
        }
        // Incremental refresh: every derived table is filtered on its partition column (a date),
        // so a refresh policy can be set on it; the others load whole.
        if t.kind == "derived" {
            let column = t.partition_column.as_deref().expect("a derived table is partitioned");
            assert_eq!(mt.ranged.as_deref(), Some(column), "{}: filtered on RangeStart..RangeEnd", t.name);
            assert_eq!(mt.columns[column], "dateTime", "{}.{column}", t.name);
        } else {
            assert_eq!(mt.ranged, None, "{}: a dimension or reference table loads whole", t.name);
        }
    }
    let expressions = std::fs::read_to_string(
        repo()
            .join(format!("dashboards/powerbi/{}.SemanticModel/definition/expressions.tmdl", powerbi::NAME)),
    )
    .unwrap();
    for p in ["RangeStart", "RangeEnd"] {
        let line = expressions.lines().find(|l| l.starts_with(&format!("expression {p} = "))).unwrap();
        assert!(line.contains("#datetime(") && line.contains("Type = \"DateTime\""), "{line}");
    }
    // Every model table reads the export (or is the date table, or built from one that does).
    for (name, t) in &model {
        match name.as_str() {
            "Date" => assert!(t.reads.is_none()),
            "User" => assert_eq!(t.reads.as_deref(), Some("users")),
            _ => assert!(m.tables.iter().any(|e| &e.name == name), "model table {name} is not exported"),
        }
    }
    let has = |t: &str, c: &str| model.get(t).is_some_and(|t| t.columns.contains_key(c));
    for (ft, fc, tt, tc) in powerbi::RELATIONSHIPS {
        assert!(has(ft, fc) && has(tt, tc), "relationship {ft}.{fc} → {tt}.{tc}");
    }
    let rel =
        std::fs::read_to_string(repo().join(format!(
            "dashboards/powerbi/{}.SemanticModel/definition/relationships.tmdl",
            powerbi::NAME
        )))
        .unwrap();
    assert_eq!(rel.matches("fromColumn:").count(), powerbi::RELATIONSHIPS.len());
    // Every table[column] a measure names exists.
    for (table, name, dax, _, _) in powerbi::MEASURES {
        assert!(model.contains_key(*table), "{name}");
        for part in dax.split('[').skip(1) {
            let column = part.split(']').next().unwrap();
            let owner = dax[..dax.find(&format!("[{column}]")).unwrap()]
                .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '\''))
                .next()
                .unwrap()
                .trim_matches('\'');
            assert!(has(owner, column), "measure {name}: {owner}[{column}]");
        }
    }
    let overview = ["Coverage %", "Reset success rate", "Median time to reset (s)", "Errors per day"];
    for want in overview {
        assert!(powerbi::MEASURES.iter().any(|m| m.1 == want), "{want}");
    }
}
