//! Issue 22: `sspr export` writes complete, self-described exports that a refresh can trust,
//! incremental ones carry what did not change byte for byte, pseudonymised ones hold no identity
//! of the sample tenant, and independent readers (pyarrow, DuckDB) read every table with the
//! Power BI-safe profile.

use std::path::{Path, PathBuf};
use std::process::Command;

use sspr_analytics::export::{self, Current, Manifest};

use crate::util::{shared_lake_arg, sspr, text};

/// A copy of the shared sample lake that a test may change.
fn lake_copy(dir: &Path) -> PathBuf {
    let to = dir.join("lake");
    let o = Command::new("cp").arg("-a").arg(shared_lake_arg()).arg(&to).output().unwrap();
    assert!(o.status.success(), "{o:?}");
    to
}

fn run_export(lake: &str, to: &Path, extra: &[&str], env: &[(&str, &str)]) -> String {
    let mut args = vec!["--lake", lake, "export", "--to", to.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = sspr(&args, env);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    out
}

fn current(to: &Path) -> (Current, Manifest) {
    let cur: Current = serde_json::from_slice(&std::fs::read(to.join(export::CURRENT)).unwrap()).unwrap();
    let m: Manifest = serde_json::from_slice(&std::fs::read(to.join(&cur.manifest)).unwrap()).unwrap();
    (cur, m)
}

/// Rows in a Parquet file's footer.
fn footer_rows(path: &Path) -> u64 {
    let bytes = bytes::Bytes::from(std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
    let meta = parquet::file::metadata::ParquetMetaDataReader::new().parse_and_finish(&bytes).unwrap();
    meta.file_metadata().num_rows() as u64
}

/// Every file the manifest lists is there with its rows, and nothing else is in the export.
fn check_complete(to: &Path, cur: &Current, m: &Manifest) -> Result<usize, String> {
    let base = to.join(&cur.export_id);
    let mut listed = std::collections::BTreeSet::new();
    for t in &m.tables {
        let mut rows = 0;
        for f in &t.files {
            let p = base.join(&f.path);
            if !p.exists() {
                return Err(format!("{}: {} is missing", cur.export_id, f.path));
            }
            let n = footer_rows(&p);
            if n != f.rows {
                return Err(format!(
                    "{}: {} has {n} rows, the manifest says {}",
                    cur.export_id, f.path, f.rows
                ));
            }
            rows += n;
            listed.insert(p);
        }
        if rows != t.rows {
            return Err(format!("{}: table {} rows {rows} ≠ {}", cur.export_id, t.name, t.rows));
        }
    }
    let on_disk: Vec<PathBuf> =
        walk(&base).into_iter().filter(|p| p.extension().is_some_and(|e| e == "parquet")).collect();
    for p in &on_disk {
        if !listed.contains(p) {
            return Err(format!("{} is not in the manifest", p.display()));
        }
    }
    Ok(on_disk.len())
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
        }
    }
    out
}

#[tokio::test]
async fn an_export_holds_every_table_with_the_lakes_rows_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("powerbi-export");
    let out = run_export(&shared_lake_arg(), &to, &[], &[]);
    assert!(out.contains("files written") && out.contains("_current.json"), "{out}");
    let (cur, m) = current(&to);
    assert_eq!(m.export_id, cur.export_id);
    check_complete(&to, &cur, &m).unwrap();
    let (_d, lake) = crate::util::shared_lake().await;
    let kinds =
        |k: &str| m.tables.iter().filter(|t| t.kind == k).map(|t| t.name.as_str()).collect::<Vec<_>>();
    assert_eq!(
        kinds("derived"),
        ["reset_attempts", "registration_coverage_daily", "writeback_operations", "error_events"]
    );
    assert!(kinds("raw").is_empty(), "raw tables only with --raw");
    assert_eq!(
        kinds("dimension"),
        ["registration_details", "users", "role_assignments"],
        "the user snapshots and role assignments always"
    );
    assert!(kinds("reference").contains(&"error_codes") && kinds("reference").contains(&"sspr_steps"));
    for t in m.tables.iter().filter(|t| t.kind == "derived" || t.kind == "dimension") {
        let n = crate::util::sql_rows(&lake, &format!("SELECT count(*) AS n FROM {}", t.name)).await;
        assert_eq!(t.rows, n[0]["n"].as_u64().unwrap(), "{}", t.name);
        assert!(t.files.iter().all(|f| f.partition.is_some() && !f.carried), "{}", t.name);
        let def = sspr_analytics::store::schema::all_tables().find(|d| d.name == t.name).unwrap();
        assert_eq!(t.columns.len(), def.schema().fields().len(), "{}", t.name);
        assert_eq!(t.partition_column.as_deref(), Some(def.partition_col));
    }
    assert_eq!(m.schema_version, sspr_analytics::store::schema::SCHEMA_VERSION);
    // With --raw the raw tables come too; a second export keeps the first (retention 3).
    run_export(&shared_lake_arg(), &to, &["--raw"], &[]);
    let (cur2, m2) = current(&to);
    assert_ne!(cur2.export_id, cur.export_id);
    assert!(m2.tables.iter().any(|t| t.name == "audit_events" && t.kind == "raw" && t.rows > 0));
    assert!(to.join(&cur.export_id).join(export::MANIFEST).exists(), "the previous export stays");
}

/// `--since last` writes again only what changed in the lake; the rest is copied byte for byte.
#[test]
fn an_incremental_export_carries_what_did_not_change() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_copy(dir.path());
    let lake_arg = lake.to_str().unwrap();
    let to = dir.path().join("out");
    run_export(lake_arg, &to, &[], &[]);
    let (first, m1) = current(&to);
    // One partition of reset_attempts is replaced in the lake (same rows, a new file).
    let part = m1.tables.iter().find(|t| t.name == "reset_attempts").unwrap().files[3].path.clone();
    let bytes = std::fs::read(lake.join(&part)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let tmp = lake.join("_staging-test.parquet");
    std::fs::write(&tmp, &bytes).unwrap();
    std::fs::rename(&tmp, lake.join(&part)).unwrap();
    let out = run_export(lake_arg, &to, &["--since", "last"], &[]);
    let (second, m2) = current(&to);
    check_complete(&to, &second, &m2).unwrap();
    let references = m2.tables.iter().filter(|t| t.kind == "reference").count();
    let all: Vec<(&str, &export::FileEntry)> =
        m2.tables.iter().flat_map(|t| t.files.iter().map(move |f| (t.kind.as_str(), f))).collect();
    let written: Vec<&str> = all.iter().filter(|(_, f)| !f.carried).map(|(_, f)| f.path.as_str()).collect();
    assert_eq!(
        written.len(),
        references + 1,
        "only the replaced partition and the reference tables: {written:?}"
    );
    assert!(written.contains(&part.as_str()), "{written:?}");
    assert!(out.contains(&format!("{} carried", all.len() - written.len())), "{out}");
    for (_, f) in all.iter().filter(|(_, f)| f.carried) {
        let a = std::fs::read(to.join(&first.export_id).join(&f.path)).unwrap();
        let b = std::fs::read(to.join(&second.export_id).join(&f.path)).unwrap();
        assert!(a == b, "{} is carried byte for byte", f.path);
    }
    assert_eq!(m2.since.as_deref(), Some("last"));
}

/// A reader that follows `_current.json` while exports run one after another always finds one
/// complete export: every file its manifest lists, with its rows, and no file it does not list.
#[test]
fn a_refresh_during_exports_reads_one_complete_export() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("out");
    run_export(&shared_lake_arg(), &to, &[], &[]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (to, stop) = (to.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut reads, mut ids) = (0, std::collections::BTreeSet::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (cur, m) = current(&to);
                check_complete(&to, &cur, &m).map_err(|e| format!("read {reads}: {e}"))?;
                ids.insert(cur.export_id);
                reads += 1;
            }
            Ok::<_, String>((reads, ids.len()))
        })
    };
    for extra in [&["--raw"][..], &[], &["--since", "last"], &["--raw"]] {
        run_export(&shared_lake_arg(), &to, extra, &[]);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (reads, exports) = reader.join().unwrap().unwrap();
    assert!(reads > 3 && exports >= 2, "{reads} reads saw {exports} exports");
    let kept: Vec<_> = std::fs::read_dir(&to)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("export-"))
        .collect();
    let names: Vec<String> = kept.iter().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(kept.len(), export::DEFAULT_KEEP, "older exports are removed: {names:?}");
}

const KEY: &str = "a-test-key-of-more-than-thirty-two-bytes!";

/// Issue 22 item 2: with `--pseudonymize` no identity of the sample tenant is in any byte of the
/// export (values read back with pyarrow, and the raw file bytes), tokens still join across
/// tables, and the key is needed and never written.
#[test]
fn a_pseudonymised_export_holds_no_identity_and_still_joins() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("out");
    let refused =
        sspr(&["--lake", &shared_lake_arg(), "export", "--to", to.to_str().unwrap(), "--pseudonymize"], &[]);
    let (_, err) = text(&refused);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(err.contains("SSPR_PSEUDONYM_KEY") && err.contains("pseudonym_key_file"), "{err}");
    run_export(&shared_lake_arg(), &to, &["--raw", "--pseudonymize"], &[("SSPR_PSEUDONYM_KEY", KEY)]);
    let (cur, m) = current(&to);
    let p = m.pseudonymized.as_ref().expect("the manifest says so");
    assert!(p.columns.contains(&"user_principal_name".to_string()));
    let script = r#"
import json, sys, pathlib
import pyarrow.parquet as pq
lake, export, key = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
cols = json.loads(sys.argv[4])
originals = set()
for f in lake.rglob("*.parquet"):
    t = pq.read_table(f, partitioning=None)
    for c in cols:
        if c in t.column_names:
            originals.update(v.lower() for v in t.column(c).to_pylist() if v and len(v) >= 4)
found, values = [], 0
for f in export.rglob("*.parquet"):
    t = pq.read_table(f, partitioning=None)
    for c in t.column_names:
        if str(t.schema.field(c).type) != "string":
            continue
        for v in t.column(c).to_pylist():
            values += 1
            lv = (v or "").lower()
            found.extend(f"{f.name}:{c}:{o}" for o in originals if o in lv)
raw = [f"{f}:{o}" for f in export.rglob("*") if f.is_file() for o in originals if o.encode() in f.read_bytes().lower()]
keyhits = [str(f) for f in export.parent.rglob("*") if f.is_file() and key.encode() in f.read_bytes()]
def tokens(table, col):
    return {v for f in (export / table).rglob("*.parquet") for v in pq.read_table(f, partitioning=None).column(col).to_pylist() if v}
joined = len(tokens("reset_attempts", "user_principal_name") & tokens("users", "user_principal_name"))
print(json.dumps({"originals": len(originals), "values": values, "found": found[:5], "raw": raw[:5], "key": keyhits, "joined": joined}))
"#;
    let o = Command::new("python3")
        .args(["-c", script, &shared_lake_arg()])
        .arg(to.join(&cur.export_id))
        .arg(KEY)
        .arg(serde_json::to_string(&p.columns).unwrap())
        .output()
        .expect("python3 with pyarrow (tests/requirements.txt)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(r["originals"].as_u64().unwrap() > 2000, "the sample's identities were read: {r}");
    assert!(r["values"].as_u64().unwrap() > 10_000, "{r}");
    assert_eq!(r["found"], serde_json::json!([]), "no identity in any value: {r}");
    assert_eq!(r["raw"], serde_json::json!([]), "no identity in any byte: {r}");
    assert_eq!(r["key"], serde_json::json!([]), "the key is written nowhere: {r}");
    assert!(r["joined"].as_u64().unwrap() > 100, "tokens join reset_attempts to users: {r}");
    // The same key gives the same tokens in another run; another key other ones.
    let again = dir.path().join("again");
    run_export(&shared_lake_arg(), &again, &["--pseudonymize"], &[("SSPR_PSEUDONYM_KEY", KEY)]);
    let other = dir.path().join("other");
    run_export(
        &shared_lake_arg(),
        &other,
        &["--pseudonymize"],
        &[("SSPR_PSEUDONYM_KEY", &KEY.replace('a', "b"))],
    );
    let file = |root: &Path| {
        let (c, m) = current(root);
        let f = &m.tables.iter().find(|t| t.name == "reset_attempts").unwrap().files[0];
        std::fs::read(root.join(&c.export_id).join(&f.path)).unwrap()
    };
    let first = std::fs::read(to.join(&cur.export_id).join(&m.tables[0].files[0].path)).unwrap();
    assert_eq!(m.tables[0].name, "reset_attempts");
    assert!(file(&again) == first, "same key, same bytes");
    assert!(file(&other) != first, "another key, other tokens");
}

/// Issue 22 item 6: pyarrow and DuckDB read every exported table, and the files keep the Power
/// BI-safe profile: flat, signed, µs UTC timestamps, SNAPPY, writer 1.0 (no v2 data pages or
/// DELTA encodings), the partition column inside every file, one schema per table.
#[test]
fn pyarrow_and_duckdb_read_every_exported_table() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("out");
    run_export(&shared_lake_arg(), &to, &["--raw"], &[]);
    let (cur, m) = current(&to);
    let tables = profile(&to.join(&cur.export_id).to_string_lossy(), None);
    assert_eq!(tables.len(), m.tables.len());
    assert!(tables["audit_events"][0].as_u64().unwrap() > 1000);
}

/// Runs `export_profile.py` on one export generation (a folder, or `az://…` on Azurite at the
/// given port) and checks its verdict: no profile fault, and the manifest's, pyarrow's and
/// DuckDB's row counts agree for every table. Returns the counts by table.
pub fn profile(root: &str, azurite_port: Option<u16>) -> serde_json::Map<String, serde_json::Value> {
    let script = crate::util::repo().join("tests/it/export_profile.py");
    let mut c = Command::new("python3");
    c.arg(script).arg(root);
    if let Some(port) = azurite_port {
        c.arg(port.to_string());
    }
    let o = c.output().expect("python3 with pyarrow and duckdb (tests/requirements.txt)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["bad"], serde_json::json!([]), "{r}");
    let tables = r["tables"].as_object().unwrap().clone();
    for (name, counts) in &tables {
        let c = counts.as_array().unwrap();
        assert!(c[0] == c[1] && c[1] == c[2], "{name}: manifest, pyarrow, DuckDB rows: {c:?}");
    }
    tables
}
