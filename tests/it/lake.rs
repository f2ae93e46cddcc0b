//! The lake contract: atomic publish under a crash, the writer lock, verify, object stores, and
//! reading every table with an independent Parquet implementation.

use std::process::Command;

use sspr_analytics::store::Lake;
use sspr_analytics::store::layout::LakeLock;
use sspr_analytics::store::schema::all_tables;
use sspr_analytics::store::verify::verify;

use crate::util::{audit_record, sample_lake, sql_rows, sspr, temp_lake, text, write};

#[tokio::test]
async fn a_crash_between_staging_and_publish_leaves_the_old_partition_intact() {
    let (dir, lake) = temp_lake();
    let lake_path = dir.path().join("lake");
    let a = write(
        dir.path(),
        "a.json",
        &format!("{{\"value\":[{}]}}", audit_record("c1", "2026-11-06T10:00:00Z", "x")),
    );
    let b = write(
        dir.path(),
        "b.json",
        &format!("{{\"value\":[{}]}}", audit_record("c2", "2026-11-06T11:00:00Z", "x")),
    );
    let lp = lake_path.to_string_lossy().to_string();
    let o = sspr(&["--lake", &lp, "import", a.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    let part = lake_path.join("audit_events/event_date=2026-11-06/part-0.parquet");
    let before = std::fs::read(&part).unwrap();

    let crashed =
        sspr(&["--lake", &lp, "import", b.to_str().unwrap()], &[("SSPR_FAILPOINT", "after_staging")]);
    assert!(!crashed.status.success(), "the failpoint aborts the process");
    assert_eq!(std::fs::read(&part).unwrap(), before, "readers still see the old file");
    let staged = std::fs::read_dir(lake_path.join("_staging")).unwrap().count();
    assert!(staged > 0, "the crash left its staged file behind");
    assert!(verify(&lake).await.unwrap().problems.is_empty());

    let o = sspr(&["--lake", &lp, "import", b.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(std::fs::read_dir(lake_path.join("_staging")).unwrap().count(), 0, "leftovers cleaned");
    let rows = sql_rows(&lake, "SELECT id FROM audit_events ORDER BY id").await;
    assert_eq!(rows.len(), 2);
}

#[tokio::test]
async fn one_writer_at_a_time() {
    let (_d, lake) = temp_lake();
    let held = LakeLock::acquire(&lake.root).await.unwrap();
    let e = lake.lock().await.unwrap_err().to_string();
    assert!(e.contains("locked by another writer") && e.contains("pid"), "{e}");
    held.release().await.unwrap();
    lake.lock().await.unwrap().release().await.unwrap();
}

#[tokio::test]
async fn the_same_code_path_works_on_an_object_store() {
    let lake = Lake::open("memory:///sspr").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "p.json",
        &format!(
            "{{\"value\":[{},{}]}}",
            audit_record("m1", "2026-11-07T10:00:00Z", "x"),
            audit_record("m1", "2026-11-07T10:00:00Z", "x")
        ),
    );
    let s = crate::util::import_paths(&lake, &[f]).await;
    assert_eq!((s.rows_new, s.duplicates), (1, 1));
    let files = lake.list_files(&sspr_analytics::store::schema::AUDIT_EVENTS).await.unwrap();
    assert_eq!(files[0].rel, "audit_events/event_date=2026-11-07/part-0.parquet");
    assert!(verify(&lake).await.unwrap().problems.is_empty());
    let rows = sql_rows(&lake, "SELECT id, event_date FROM audit_events").await;
    assert_eq!(rows, vec![serde_json::json!({"id": "m1", "event_date": "2026-11-07"})]);
}

#[tokio::test]
async fn every_sample_file_passes_verify_and_a_tampered_file_does_not() {
    let (dir, lake) = sample_lake().await;
    let report = verify(&lake).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.files_checked >= 17);
    // A file written with another profile (zstd, no page index, foreign schema) is reported.
    let bad = dir.path().join("lake/users/snapshot_date=2020-01-01/part-0.parquet");
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    let batch = datafusion::arrow::record_batch::RecordBatch::try_from_iter(vec![(
        "x",
        std::sync::Arc::new(datafusion::arrow::array::Int64Array::from(vec![1])) as _,
    )])
    .unwrap();
    let props = datafusion::parquet::file::properties::WriterProperties::builder()
        .set_compression(datafusion::parquet::basic::Compression::UNCOMPRESSED)
        .build();
    let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&bad).unwrap(),
        batch.schema(),
        Some(props),
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    std::fs::write(dir.path().join("lake/users/stray.txt"), "x").unwrap();
    let report = verify(&lake).await.unwrap();
    let msgs: Vec<String> = report.problems.iter().map(|p| format!("{}: {}", p.file, p.message)).collect();
    assert!(msgs.iter().any(|m| m.contains("2020-01-01") && m.contains("schema differs")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("SNAPPY")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("stray.txt") && m.contains("layout")), "{msgs:?}");
    let o = sspr(&["--lake", &dir.path().join("lake").to_string_lossy(), "lake", "verify"], &[]);
    assert_eq!(o.status.code(), Some(3), "verify problems give exit code 3");
}

/// Reads every lake file with pyarrow (an independent Parquet implementation) and checks its
/// physical/logical types and row counts.
#[tokio::test]
async fn pyarrow_reads_every_table_with_the_declared_types() {
    let (dir, lake) = sample_lake().await;
    let script = r#"
import json, sys, pathlib
import pyarrow.parquet as pq
out = {}
for f in sorted(pathlib.Path(sys.argv[1]).rglob("*.parquet")):
    t = pq.read_table(f, partitioning=None)
    md = pq.ParquetFile(f).metadata
    table = f.relative_to(sys.argv[1]).parts[0]
    entry = out.setdefault(table, {"rows": 0, "types": None, "codecs": set()})
    entry["rows"] += t.num_rows
    entry["types"] = [[fld.name, str(fld.type)] for fld in t.schema]
    for rg in range(md.num_row_groups):
        for c in range(md.num_columns):
            entry["codecs"].add(md.row_group(rg).column(c).compression)
for v in out.values():
    v["codecs"] = sorted(v["codecs"])
print(json.dumps(out))
"#;
    let o = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir.path().join("lake"))
        .output()
        .expect("python3 must be installed (README: test command installs pyarrow)");
    assert!(
        o.status.success(),
        "pyarrow failed (install it: pip install -r tests/requirements.txt): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut checked = 0;
    for t in all_tables() {
        let Some(entry) = got.get(t.name) else { continue };
        checked += 1;
        let want: Vec<serde_json::Value> = t
            .schema()
            .fields()
            .iter()
            .map(|f| {
                let ty = match f.data_type() {
                    datafusion::arrow::datatypes::DataType::Utf8 => "string",
                    datafusion::arrow::datatypes::DataType::Boolean => "bool",
                    datafusion::arrow::datatypes::DataType::Int32 => "int32",
                    datafusion::arrow::datatypes::DataType::Int64 => "int64",
                    datafusion::arrow::datatypes::DataType::Float64 => "double",
                    datafusion::arrow::datatypes::DataType::Date32 => "date32[day]",
                    datafusion::arrow::datatypes::DataType::Timestamp(_, _) => "timestamp[us, tz=UTC]",
                    other => panic!("unexpected type {other}"),
                };
                serde_json::json!([f.name(), ty])
            })
            .collect();
        assert_eq!(entry["types"].as_array().unwrap(), &want, "{}", t.name);
        assert_eq!(entry["codecs"], serde_json::json!(["SNAPPY"]), "{}", t.name);
        let rows = sql_rows(&lake, &format!("SELECT count(*) AS n FROM {}", t.name)).await;
        assert_eq!(entry["rows"], rows[0]["n"], "{}", t.name);
    }
    assert!(checked >= 4, "audit_events, registration_details, users and ingest_ledger were read");
}
