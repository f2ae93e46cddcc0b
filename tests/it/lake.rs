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

#[tokio::test]
async fn verify_names_a_file_whose_rows_are_out_of_order() {
    use sspr_analytics::store::schema::AUDIT_EVENTS;
    let (dir, lake) = crate::util::shared_lake().await;
    let day =
        std::fs::read_dir(dir.path().join("lake/audit_events")).unwrap().next().unwrap().unwrap().path();
    let file = day.join("part-0.parquet");
    let batches = sspr_analytics::store::lake::decode(std::fs::read(&file).unwrap().into()).unwrap();
    let all = datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    assert!(all.num_rows() > 2);
    // The same rows, the last two swapped: every other check still passes.
    let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
    order.swap(all.num_rows() - 2, all.num_rows() - 1);
    let swapped = datafusion::arrow::compute::take_record_batch(
        &all,
        &datafusion::arrow::array::UInt32Array::from(order),
    )
    .unwrap();
    std::fs::write(&file, sspr_analytics::store::writer::encode(&AUDIT_EVENTS, &[swapped]).unwrap()).unwrap();
    let report = verify(&lake).await.unwrap();
    let msgs: Vec<String> = report.problems.iter().map(|p| format!("{}: {}", p.file, p.message)).collect();
    let want = format!("rows are not sorted by (activity_time, id): row {} sorts before", all.num_rows() - 1);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0].contains(&want), "{msgs:?}");
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

/// A DC Security event of `day` (days after 2026-11-02) with record id `id`.
fn dc_event(day: i64, id: i64, user: &str) -> sspr_analytics::collectors::eventlog::EventRecord {
    sspr_analytics::collectors::eventlog::EventRecord {
        provider: "Microsoft-Windows-Security-Auditing".into(),
        event_id: Some(4724),
        keywords: Some("0x8020000000000000".into()),
        time_created: Some(1_793_577_600_000_000 + day * 86_400_000_000 + id * 1_000_000),
        event_record_id: Some(id),
        channel: "Security".into(),
        computer: "DC01.contoso.com".into(),
        data: vec![
            (Some("TargetUserName".into()), user.into()),
            (Some("SubjectLogonId".into()), "0x3e7".into()),
        ],
        ..Default::default()
    }
}

/// The sessions of one `sspr report` run share footers and file statistics; a partition
/// rewritten between two of them is read afresh (each entry is checked against the listed
/// file's size and time), in the count answered from statistics alone and in the rows.
#[tokio::test]
async fn sessions_sharing_footers_see_a_partition_rewritten_between_them() {
    use sspr_analytics::collectors::eventlog::EventRows;
    use sspr_analytics::query::context::{QueryConfig, build_context};
    use sspr_analytics::store::TableWriter;
    use sspr_analytics::store::schema::DC_SECURITY_EVENTS;
    let (_dir, lake) = temp_lake();
    let publish = async |events: Vec<_>| {
        let mut rows = EventRows::with_capacity(1);
        for e in events {
            rows.push(&e, "dc.evtx", "evtx", 7);
        }
        let mut w = TableWriter::with_budget(&lake, &DC_SECURITY_EVENTS, usize::MAX);
        w.push(rows.finish(&DC_SECURITY_EVENTS.schema()).unwrap()).unwrap();
        w.finish().await.unwrap();
    };
    let cfg = QueryConfig::default().sharing_footers().unwrap();
    let read = async || {
        let ctx = build_context(&lake, &cfg).await.unwrap();
        let count = "SELECT count(*) AS n, max(event_record_id) AS last FROM dc_security_events";
        let list = "SELECT target_account FROM dc_security_events ORDER BY event_record_id";
        let counted = ctx.sql(count).await.unwrap().collect().await.unwrap();
        let listed = ctx.sql(list).await.unwrap().collect().await.unwrap();
        (crate::util::batches_json(&counted), crate::util::batches_json(&listed))
    };
    publish(vec![dc_event(1, 1, "a"), dc_event(1, 2, "b")]).await;
    let (counted, listed) = read().await;
    let who =
        |names: &[&str]| names.iter().map(|n| serde_json::json!({"target_account": n})).collect::<Vec<_>>();
    assert_eq!(counted, [serde_json::json!({"n": 2, "last": 2})]);
    assert_eq!(listed, who(&["a", "b"]));
    let (statistics, footers) = cfg.footers.as_ref().unwrap().cached();
    assert!(statistics >= 1 && footers >= 1, "the first session filled the cache: {statistics}, {footers}");

    publish(vec![dc_event(1, 3, "c")]).await;
    let (counted, listed) = read().await;
    assert_eq!(counted, [serde_json::json!({"n": 3, "last": 3})], "the rewritten file's statistics");
    assert_eq!(listed, who(&["a", "b", "c"]));
}

/// Partitions the input has left behind are merged while it goes on; rows that come for such a
/// partition afterwards are merged after it, so the lake, the counts and which of two rows with
/// one key wins are what a single merge at the end gives — also when every push spills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merging_settled_days_early_gives_what_one_merge_at_the_end_gives() {
    use sspr_analytics::collectors::eventlog::EventRows;
    use sspr_analytics::store::TableWriter;
    use sspr_analytics::store::schema::DC_SECURITY_EVENTS;
    let batch = |evs: Vec<_>| {
        let mut rows = EventRows::with_capacity(1);
        for e in evs {
            rows.push(&e, "dc.evtx", "evtx", 7);
        }
        rows.finish(&DC_SECURITY_EVENTS.schema()).unwrap()
    };
    // Days 1 and 2, then day 5 (days 1 and 2 are settled), then late rows for day 1: a second
    // copy of record 2 with other content (the first copy must win) and a new record.
    let stream = || {
        vec![
            batch(vec![dc_event(1, 1, "a"), dc_event(1, 2, "b"), dc_event(1, 3, "c")]),
            batch(vec![dc_event(2, 4, "d")]),
            batch(vec![dc_event(5, 5, "e"), dc_event(5, 6, "f")]),
            batch(vec![dc_event(1, 2, "late copy"), dc_event(1, 7, "g")]),
        ]
    };
    let expected: Vec<serde_json::Value> =
        [(3, 1, "a"), (3, 2, "b"), (3, 3, "c"), (4, 4, "d"), (7, 5, "e"), (7, 6, "f"), (3, 7, "g")]
            .iter()
            .map(|(day, id, who)| {
                serde_json::json!({"event_date": format!("2026-11-0{day}"), "event_record_id": id, "target_account": who})
            })
            .collect();
    for budget in [usize::MAX, 1] {
        let (_dir, lake) = temp_lake();
        let mut w = TableWriter::with_budget(&lake, &DC_SECURITY_EVENTS, budget);
        for b in stream() {
            w.push(b).unwrap();
        }
        let s = w.finish().await.unwrap();
        assert_eq!(
            (s.partitions_touched, s.partitions_published, s.merge.rows_new, s.merge.duplicates),
            (3, 3, 7, 1),
            "budget {budget}"
        );
        let rows = sql_rows(
            &lake,
            "SELECT event_date, event_record_id, target_account FROM dc_security_events \
             ORDER BY event_record_id",
        )
        .await;
        assert_eq!(rows, expected, "budget {budget}");
        assert!(verify(&lake).await.unwrap().problems.is_empty());
    }
}

/// Columns of distinct values are written PLAIN (no dictionary page); the other string columns
/// keep their dictionary (reference/storage-query.md §1.8: dictionary for low-cardinality strings).
#[tokio::test]
async fn columns_of_distinct_values_are_written_without_a_dictionary() {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    use sspr_analytics::store::schema::{AUDIT_EVENTS, DC_SECURITY_EVENTS};
    let (dir, _lake) = crate::util::shared_lake().await;
    for table in [&AUDIT_EVENTS, &DC_SECURITY_EVENTS] {
        let folder = dir.path().join("lake").join(table.name);
        let part = walk_parquet(&folder).into_iter().next().expect("a partition file");
        let reader = SerializedFileReader::new(std::fs::File::open(&part).unwrap()).unwrap();
        let rg = reader.metadata().row_group(0);
        for c in rg.columns() {
            let name = c.column_path().string();
            if table.plain_cols.contains(&name.as_str()) {
                assert!(c.dictionary_page_offset().is_none(), "{}: {name}", part.display());
            } else if c.column_type() == datafusion::parquet::basic::Type::BYTE_ARRAY {
                assert!(c.dictionary_page_offset().is_some(), "{}: {name}", part.display());
            }
        }
    }
}

fn walk_parquet(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_parquet(&p));
        } else if p.extension().is_some_and(|x| x == "parquet") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// A saved query's `-- settings: datafusion.execution.parquet.*` reach its scans, as
/// queries/README.md says (the environment's: `cli::datafusion_environment_variables…`); the
/// lake's own defaults hold otherwise: footers read in one 64 KiB request, and no look for bloom
/// filters (the lake's writer never writes them).
#[tokio::test]
async fn parquet_options_of_the_session_reach_the_scans() {
    use datafusion::datasource::physical_plan::ParquetSource;
    use datafusion::datasource::source::DataSourceExec;
    use datafusion::physical_plan::ExecutionPlan;
    use sspr_analytics::query::context::{QueryConfig, build_context};
    let (_d, lake) = crate::util::shared_lake().await;
    let ctx = build_context(&lake, &QueryConfig::default()).await.unwrap();
    let scan_options = async |ctx: &datafusion::prelude::SessionContext| {
        let sql = "SELECT count(*) FROM reset_attempts WHERE initiated_by = 'self'";
        let plan = ctx.sql(sql).await.unwrap().create_physical_plan().await.unwrap();
        let mut stack: Vec<std::sync::Arc<dyn ExecutionPlan>> = vec![plan];
        while let Some(p) = stack.pop() {
            let parquet = p
                .downcast_ref::<DataSourceExec>()
                .and_then(|s| s.downcast_to_file_source::<ParquetSource>())
                .map(|(_, source)| source.table_parquet_options().global.clone());
            if let Some(options) = parquet {
                return options;
            }
            stack.extend(p.children().into_iter().cloned());
        }
        panic!("no Parquet scan in the plan of {sql}");
    };
    let defaults = scan_options(&ctx).await;
    assert_eq!(defaults.metadata_size_hint, Some(64 * 1024));
    assert!(!defaults.bloom_filter_on_read && defaults.enable_page_index);

    // What a saved query's `-- settings:` does to its session.
    let mut state = ctx.state();
    let options = state.config_mut().options_mut();
    options.set("datafusion.execution.parquet.enable_page_index", "false").unwrap();
    options.set("datafusion.execution.parquet.bloom_filter_on_read", "true").unwrap();
    let set = scan_options(&datafusion::prelude::SessionContext::new_with_state(state)).await;
    assert!(!set.enable_page_index && set.bloom_filter_on_read, "{set:?}");
    assert_eq!(set.metadata_size_hint, Some(64 * 1024));
}

/// `dc_password_resets` counts as the connector's exactly the accounts named with the prefix
/// (`MSOL_` by default, any case): an `_` in it is a character, not LIKE's any-one-character.
#[tokio::test]
async fn the_connector_prefix_is_matched_as_text() {
    use sspr_analytics::collectors::eventlog::EventRows;
    use sspr_analytics::store::TableWriter;
    use sspr_analytics::store::schema::DC_SECURITY_EVENTS;
    let (_dir, lake) = temp_lake();
    let mut rows = EventRows::with_capacity(3);
    for (id, subject) in [(1, "MSOL_0123abcd4567"), (2, "msol_89ef"), (3, "MSOLXADMIN"), (4, "MSOL")] {
        let mut e = dc_event(1, id, "jan");
        e.data.push((Some("SubjectUserName".into()), subject.into()));
        rows.push(&e, "dc.evtx", "evtx", 7);
    }
    let mut w = TableWriter::with_budget(&lake, &DC_SECURITY_EVENTS, usize::MAX);
    w.push(rows.finish(&DC_SECURITY_EVENTS.schema()).unwrap()).unwrap();
    w.finish().await.unwrap();
    let got = crate::util::query_rows(&lake, "dc_password_resets", &[]).await;
    let count = |kind: &str| got.iter().find(|r| r["actor_kind"] == kind).map(|r| r["resets"].clone());
    assert_eq!(count("connector"), Some(serde_json::json!(2)), "{got:?}");
    assert_eq!(count("other"), Some(serde_json::json!(2)), "{got:?}");
}
