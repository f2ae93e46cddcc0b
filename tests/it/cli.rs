//! The binary as a user runs it.

use crate::util::{sample, sspr, text};

#[test]
fn demo_builds_a_lake_and_prints_the_headline_reports() {
    let dir = tempfile::tempdir().unwrap();
    let o = sspr(&["demo", "--dir", dir.path().to_str().unwrap(), "--quiet"], &[]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    for heading in ["registration_coverage", "reset_success_daily", "reset_failures_by_reason", "error_codes"]
    {
        assert!(out.contains(&format!("({heading}) ==")), "{heading} missing:\n{out}");
    }
    assert!(out.contains("lake verify: ") && out.contains(" 0 problems"), "{out}");
    assert!(dir.path().join("lake/audit_events").is_dir());
    // It ends with the overview report, whose path it prints.
    let page = dir.path().join("reports/overview.html");
    assert!(out.contains(&format!("Overview report: {}", page.display())), "{out}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<svg"), "the page has its charts");
    // Seen in the README's picture: the sample's example-config folder was imported as if it
    // held exports, and every demo page said "1 INCOMPLETE".
    assert!(!html.contains("INCOMPLETE") && !err.contains("INCOMPLETE"), "{err}");
}

#[test]
fn query_outputs_every_format_and_validates_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lp = lake.to_str().unwrap();
    let o = sspr(&["--lake", lp, "import", sample("graph").to_str().unwrap()], &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    let b = sspr(&["--lake", lp, "build"], &[]);
    assert!(b.status.success(), "{:?}", text(&b));
    assert!(text(&b).0.contains("reset_attempts"), "{:?}", text(&b));
    let json = sspr(
        &["--lake", lp, "query", "reset_success_daily", "--format", "json", "--tz", "Europe/Brussels"],
        &[],
    );
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(rows.as_array().unwrap().len() >= 14);
    let csv = sspr(&["--lake", lp, "query", "registration_coverage", "--format", "csv"], &[]);
    assert!(text(&csv).0.starts_with("snapshot_date,user_type,role,users,"));
    let nd = sspr(&["--lake", lp, "query", "error_codes", "--format", "ndjson"], &[]);
    assert!(text(&nd).0.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
    let md = sspr(&["--lake", lp, "query", "registration_coverage", "--format", "markdown"], &[]);
    assert!(text(&md).0.starts_with("| snapshot_date | user_type |"));
    let out = dir.path().join("r.parquet");
    let pq = sspr(
        &[
            "--lake",
            lp,
            "query",
            "registration_coverage",
            "--format",
            "parquet",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(pq.status.success() && std::fs::read(&out).unwrap().starts_with(b"PAR1"));
    // Exported text columns are plain UTF-8 (the Power BI-safe profile), not the view type queries use.
    let reader = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&out).unwrap(),
    )
    .unwrap();
    let types: Vec<_> = reader.schema().fields().iter().map(|f| f.data_type().clone()).collect();
    assert!(types.contains(&datafusion::arrow::datatypes::DataType::Utf8), "{types:?}");
    assert!(!types.contains(&datafusion::arrow::datatypes::DataType::Utf8View), "{types:?}");
    let adhoc =
        sspr(&["--lake", lp, "query", "--sql", "SELECT count(*) AS n FROM users", "--format", "csv"], &[]);
    assert_eq!(text(&adhoc).0, "n\n2000\n");

    let graph_files = walkdir::WalkDir::new(sample("graph"))
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .count();
    let line = format!("ingested: file {graph_files} items");
    assert!(text(&csv).1.contains(&line), "completeness line on stderr: {:?}", text(&csv).1);
    // --quiet: only errors on stderr, so no completeness line; the rows are the same.
    let quiet = sspr(&["--lake", lp, "-q", "query", "registration_coverage", "--format", "csv"], &[]);
    assert!(quiet.status.success() && text(&quiet).1.is_empty(), "{:?}", text(&quiet).1);
    assert_eq!(text(&quiet).0, text(&csv).0);
    let explain =
        sspr(&["--lake", lp, "query", "reset_success_daily", "--explain", "--tz", "Asia/Tokyo"], &[]);
    let (plan, _) = text(&explain);
    assert!(
        plan.contains("== logical_plan ==")
            && plan.contains("== physical_plan ==")
            && plan.contains("local_date"),
        "{plan}"
    );
    // --analyze runs it: every step's metrics, the scan's row count among them.
    let analyze = sspr(&["--lake", lp, "query", "reset_success_daily", "--analyze"], &[]);
    let (plan, _) = text(&analyze);
    assert!(
        plan.contains("== Plan with Metrics ==")
            && plan.contains("output_rows=")
            && plan.contains("DataSourceExec"),
        "{plan}"
    );

    let bad = sspr(&["--lake", lp, "query", "reset_success_daily", "--from", "soon"], &[]);
    assert_eq!(bad.status.code(), Some(2), "a bad value is a usage error");
    assert!(text(&bad).1.contains("parameter from") && text(&bad).1.contains("soon"), "{:?}", text(&bad));
    let unknown = sspr(&["--lake", lp, "query", "reset_success_daily", "--param", "bogus=1"], &[]);
    assert!(text(&unknown).1.contains("no such parameter"));
    let tz = sspr(&["--lake", lp, "query", "reset_success_daily", "--tz", "Mars/Olympus"], &[]);
    assert!(text(&tz).1.contains("unknown time zone"));
    let missing = sspr(&["--lake", lp, "query", "nope"], &[]);
    assert!(text(&missing).1.contains("no saved query named \"nope\""), "{:?}", text(&missing));
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn ad_hoc_sql_is_read_only() {
    let lp = crate::util::shared_lake_arg();
    for sql in [
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO users SELECT * FROM users",
        "COPY users TO '/tmp/x.parquet'",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let o = sspr(&["--lake", &lp, "query", "--sql", sql], &[]);
        assert_eq!(o.status.code(), Some(1), "{sql} must be refused");
        assert!(
            text(&o).1.contains("not supported") || text(&o).1.contains("not allowed"),
            "{sql}: {:?}",
            text(&o)
        );
    }
}

/// DataFusion's own `DATAFUSION_*` variables reach the engine and the lake's scans; the
/// `[query]` config wins where it sets the same option (README, Configuration).
#[test]
fn datafusion_environment_variables_tune_the_engine_under_the_config() {
    let lp = crate::util::shared_lake_arg();
    let sql = "SELECT name, value FROM information_schema.df_settings \
               WHERE name IN ('datafusion.execution.parquet.pushdown_filters', 'datafusion.execution.batch_size') \
               ORDER BY name";
    let envs = [
        ("DATAFUSION_EXECUTION_PARQUET_PUSHDOWN_FILTERS", "true"),
        ("DATAFUSION_EXECUTION_BATCH_SIZE", "77"),
    ];
    let o = sspr(&["--lake", &lp, "query", "--sql", sql, "--format", "csv"], &envs);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("datafusion.execution.parquet.pushdown_filters,true"), "{out}");
    assert!(out.contains("datafusion.execution.batch_size,8192"), "config's batch size wins: {out}");
    // The environment wins over the lake's own defaults (bloom filters not looked for).
    let bloom = |envs: &[(&str, &str)]| {
        let sql = "SELECT value FROM information_schema.df_settings \
                   WHERE name = 'datafusion.execution.parquet.bloom_filter_on_read'";
        let o = sspr(&["--lake", &lp, "query", "--sql", sql, "--format", "csv"], envs);
        assert!(o.status.success(), "{}", text(&o).1);
        text(&o).0.lines().nth(1).unwrap_or_default().to_string()
    };
    assert_eq!(bloom(&[]), "false");
    assert_eq!(bloom(&[("DATAFUSION_EXECUTION_PARQUET_BLOOM_FILTER_ON_READ", "true")]), "true");
    // And the scans read with them: no page index is read when it is switched off (an option the
    // lake's tables once fixed when they were made).
    let sql = "SELECT count(*) FROM reset_attempts WHERE initiated_by = 'admin'";
    let pages = |envs: &[(&str, &str)]| {
        let o = sspr(&["--lake", &lp, "query", "--sql", sql, "--analyze"], envs);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{err}");
        let n = out.split("page_index_pages_pruned=").nth(1).and_then(|r| r.split(' ').next());
        n.unwrap_or_else(|| panic!("no page index metric: {out}")).to_string()
    };
    assert_ne!(pages(&envs), "0", "the lake's files have page indexes");
    assert_eq!(pages(&[("DATAFUSION_EXECUTION_PARQUET_ENABLE_PAGE_INDEX", "false")]), "0");
}

#[test]
fn queries_lists_the_saved_queries_and_an_override_folder_adds_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mine.sql"),
        "-- name: mine\n-- title: Mine\n-- description: d\n-- params: n:int=1\nSELECT $n AS n\n",
    )
    .unwrap();
    let o = sspr(&["queries", "--format", "csv", "--queries-dir", dir.path().to_str().unwrap()], &[]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    for name in
        ["registration_coverage", "reset_success_daily", "reset_failures_by_reason", "error_codes", "mine"]
    {
        assert!(out.contains(name), "{name}: {out}");
    }
    assert!(out.contains("feature=any (any|reset|registration)"), "a filter shows its values: {out}");
    let lake = crate::util::shared_lake_arg();
    let r = sspr(
        &[
            "--lake",
            &lake,
            "query",
            "mine",
            "--queries-dir",
            dir.path().to_str().unwrap(),
            "--param",
            "n=41",
            "--format",
            "csv",
        ],
        &[],
    );
    assert_eq!(text(&r).0, "n\n41\n", "{:?}", text(&r));
}

#[test]
fn import_of_a_missing_file_exits_3_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let o = sspr(&["--lake", dir.path().join("lake").to_str().unwrap(), "import", "/no/such/file.json"], &[]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o).1.contains("/no/such/file.json"));
}

#[test]
fn sample_generation_is_deterministic_and_matches_the_committed_sample() {
    let dir = tempfile::tempdir().unwrap();
    let o = sspr(&["sample", "generate", "--out", dir.path().to_str().unwrap()], &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    let committed = std::fs::read_to_string(sample("ground_truth.json")).unwrap();
    let fresh = std::fs::read_to_string(dir.path().join("ground_truth.json")).unwrap();
    assert_eq!(committed, fresh, "sample-data/ is what `sspr sample generate --out sample-data` writes");
    // Every generated file, byte for byte (EVTX and XML logs included).
    let mut compared = 0;
    for e in walkdir::WalkDir::new(dir.path())
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
    {
        let rel = e.path().strip_prefix(dir.path()).unwrap();
        let committed = std::fs::read(sample(rel.to_str().unwrap()))
            .unwrap_or_else(|_| panic!("{} is generated but not committed", rel.display()));
        assert!(
            committed == std::fs::read(e.path()).unwrap(),
            "{} differs from the committed copy",
            rel.display()
        );
        compared += 1;
    }
    assert!(compared > 50, "{compared}");
    // And nothing committed that the generator no longer writes (READMEs aside).
    let committed = walkdir::WalkDir::new(sample(""))
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && e.file_name() != "README.md")
        .count();
    assert_eq!(committed, compared, "sample-data/ holds files the generator does not write");
}

#[test]
fn lake_stats_counts_rows_from_the_footers() {
    let dir = tempfile::tempdir().unwrap();
    let lp = dir.path().join("lake");
    let o = sspr(&["--lake", lp.to_str().unwrap(), "import", sample("graph/users").to_str().unwrap()], &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    let o = sspr(&["--lake", lp.to_str().unwrap(), "lake", "stats", "--format", "json"], &[]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let users = rows.as_array().unwrap().iter().find(|r| r["table"] == "users").unwrap();
    assert_eq!(users["rows"], 2000);
    assert_eq!(users["partitions"], 1);
    assert_eq!(users["first_partition"], "2026-11-14");
    assert!(users["bytes"].as_u64().unwrap() > 10_000);
}
