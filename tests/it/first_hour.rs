//! Issue 19: a new user's first hour. Each test is one item of the issue: the wrong input, the
//! message (naming the path, key or value) and the documented exit code.

use crate::util::{sample, shared_lake_arg, sspr, sspr_plain_env, text, write};

const USAGE: i32 = 2;
const INCOMPLETE: i32 = 3;

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Item 1: the README's headline example, relative times in both spellings.
#[test]
fn relative_times_work_as_documented() {
    let lake = shared_lake_arg();
    for args in [
        vec!["query", "reset_success_daily", "--from", "-30d", "--tz", "Europe/Brussels", "--format", "csv"],
        vec!["query", "reset_success_daily", "--from=-4w", "--to", "now", "--format", "csv"],
    ] {
        let mut all = vec!["--lake", lake.as_str()];
        all.extend(args.iter());
        let o = sspr(&all, &[]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{args:?}: {err}");
        assert!(out.starts_with("day,sessions_started,"), "{out}");
    }
}

/// Item 3: the zone is the report's whatever the query: a query without a `tz` parameter shows
/// its times in it.
#[test]
fn every_report_shows_its_times_in_the_zone() {
    let lake = shared_lake_arg();
    let o = sspr(&["--lake", &lake, "query", "error_codes", "--tz", "Asia/Tokyo", "--format", "csv"], &[]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let first = out.lines().nth(1).unwrap();
    assert!(first.contains("+09:00"), "first_seen in Tokyo time: {first}");
    let utc = sspr(&["--lake", &lake, "query", "error_codes", "--format", "csv"], &[]);
    assert!(text(&utc).0.lines().nth(1).unwrap().contains('Z'), "UTC by default");
    // Parquet keeps UTC instants (the Power BI-safe profile).
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e.parquet");
    let pq = sspr(
        &["--lake", &lake, "query", "error_codes", "--tz", "Asia/Tokyo", "--out", out.to_str().unwrap()],
        &[],
    );
    assert!(pq.status.success(), "{:?}", text(&pq));
    let reader = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&out).unwrap(),
    )
    .unwrap();
    let first_seen = reader.schema().field_with_name("first_seen").unwrap().data_type().clone();
    assert!(
        matches!(&first_seen, datafusion::arrow::datatypes::DataType::Timestamp(_, Some(z)) if z.as_ref() == "UTC"),
        "{first_seen:?}"
    );
}

/// Item 4: a `queries_dir` that does not exist names the setting and the config file.
#[test]
fn a_missing_queries_dir_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "sspr.toml", "queries_dir = \"/etc/sspr/no-such-queries\"\n");
    let lake = shared_lake_arg();
    let o = sspr(&["--config", config.to_str().unwrap(), "--lake", &lake, "query", "error_codes"], &[]);
    let (_, err) = text(&o);
    assert_eq!(code(&o), USAGE, "{err}");
    assert!(
        err.contains("queries_dir") && err.contains("sspr.toml") && err.contains("/etc/sspr/no-such-queries"),
        "{err}"
    );
    assert_eq!(err.matches("does not exist").count(), 1, "said once: {err}");
}

/// Item 6: read-only commands refuse a lake that is not there (and create nothing); the demo's
/// folder is answered with its `lake/` inside; writers say they create one.
#[test]
fn a_missing_lake_is_refused_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("lakee");
    let t = typo.to_str().unwrap();
    for args in [
        vec!["--lake", t, "query", "reset_success_daily"],
        vec!["--lake", t, "lake", "stats"],
        vec!["--lake", t, "lake", "verify"],
        vec!["--lake", t, "build"],
    ] {
        let o = sspr(&args, &[]);
        let (_, err) = text(&o);
        assert_eq!(code(&o), USAGE, "{args:?}: {err}");
        assert!(err.contains("no lake at") && err.contains(t), "{args:?}: {err}");
        assert!(!typo.exists(), "{args:?} created the folder");
    }
    // The demo's --dir instead of DIR/lake: the message points at DIR/lake.
    let demo_dir = std::path::Path::new(&shared_lake_arg()).parent().unwrap().to_path_buf();
    let o = sspr(&["--lake", demo_dir.to_str().unwrap(), "query", "error_codes"], &[]);
    let (_, err) = text(&o);
    assert_eq!(code(&o), USAGE);
    assert!(err.contains(&format!("did you mean --lake {}", demo_dir.join("lake").display())), "{err}");
    // A writer creates the lake and says so.
    let fresh = dir.path().join("new-lake");
    let o =
        sspr(&["--lake", fresh.to_str().unwrap(), "import", sample("graph/users").to_str().unwrap()], &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).1.contains(&format!("Creating a new lake at {}", fresh.display())), "{:?}", text(&o));
}

/// Item 7: `--from` after `--to` is refused naming both.
#[test]
fn an_inverted_window_is_refused() {
    let lake = shared_lake_arg();
    let o =
        sspr(&["--lake", &lake, "query", "error_codes", "--from", "2026-11-14", "--to", "2026-11-01"], &[]);
    let (_, err) = text(&o);
    assert_eq!(code(&o), USAGE, "{err}");
    assert!(err.contains("2026-11-14") && err.contains("2026-11-01") && err.contains("empty"), "{err}");
    // --from on a query without a window says so.
    let o = sspr(&["--lake", &lake, "query", "users_not_covered", "--from", "-7d"], &[]);
    assert_eq!(code(&o), USAGE);
    assert!(text(&o).1.contains("has no time window"), "{:?}", text(&o));
}

/// Item 8: files that are not exports fail loudly with the list of formats; the portal's
/// download CSV is an export.
#[test]
fn files_that_are_not_exports_fail_and_the_portal_download_imports() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lp = lake.to_str().unwrap();
    let other = write(dir.path(), "people.csv", "name,email\nJan,jan@contoso.example\n");
    let png = dir.path().join("chart.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01").unwrap();
    for f in [other.to_str().unwrap(), "/etc/passwd", png.to_str().unwrap()] {
        let o = sspr(&["--lake", lp, "import", f], &[]);
        let (out, err) = text(&o);
        assert_eq!(code(&o), INCOMPLETE, "{f}: {out}{err}");
        assert!(out.contains("not a supported export") && out.contains(f), "{f}: {out}");
        assert!(out.contains("Log Analytics") && out.contains("evtx"), "lists the formats: {out}");
    }
    let header = "Date (UTC),CorrelationId,Service,Category,Activity,Result,ResultReason,User Agent,ActorType,\
                  ActorDisplayName,ActorObjectId,ActorUserPrincipalName,IPAddress,Target1Type,Target1DisplayName,\
                  Target1ObjectId,Target1UserPrincipalName,AdditionalDetail1Key,AdditionalDetail1Value";
    let row = "2026-11-14T08:00:01.123Z,c-77,Self-service Password Management,UserManagement,\
               Self-service password reset flow activity progress,Success,User submitted their user ID,\
               Mozilla/5.0,User,Jan Peeters,u-1,jan@contoso.example,203.0.113.9,User,Jan Peeters,u-1,\
               jan@contoso.example,ClientType,WindowsLogonScreen";
    let portal = write(dir.path(), "AuditLogs_2026-11-14.csv", &format!("\u{feff}{header}\n{row}\n"));
    let o = sspr(&["--lake", lp, "import", portal.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    let q = sspr(
        &[
            "--lake",
            lp,
            "query",
            "--sql",
            "SELECT source, correlation_id, actor_ip, target_upn, result FROM audit_events",
            "--format",
            "csv",
        ],
        &[],
    );
    assert_eq!(
        text(&q).0,
        "source,correlation_id,actor_ip,target_upn,result\nportal_csv,c-77,203.0.113.9,jan@contoso.example,success\n"
    );
    // The same download twice: the row's content id keeps it once.
    let again = sspr(&["--lake", lp, "import", portal.to_str().unwrap(), "--json"], &[]);
    let summary: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(summary["rows_new"], 0);
}

/// Item 9: `--out` sets the format by extension; a contradiction is refused.
#[test]
fn out_takes_its_format_from_the_extension() {
    let lake = shared_lake_arg();
    let dir = tempfile::tempdir().unwrap();
    for (name, check) in [
        ("daily.csv", b"day,sessions_started" as &[u8]),
        ("daily.json", b"[{\"day\""),
        ("daily.ndjson", b"{\"day\""),
        ("daily.parquet", b"PAR1"),
        ("daily.md", b"| day |"),
    ] {
        let out = dir.path().join(name);
        let o = sspr(&["--lake", &lake, "query", "reset_success_daily", "--out", out.to_str().unwrap()], &[]);
        assert!(o.status.success(), "{name}: {:?}", text(&o));
        assert!(std::fs::read(&out).unwrap().starts_with(check), "{name}");
    }
    let out = dir.path().join("x.csv");
    let o = sspr(
        &[
            "--lake",
            &lake,
            "query",
            "reset_success_daily",
            "--out",
            out.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(code(&o), USAGE);
    assert!(text(&o).1.contains("--format json contradicts --out"), "{:?}", text(&o));
    assert!(!out.exists());
}

/// Item 10: a sample is not written over another one unless asked.
#[test]
fn sample_generate_refuses_a_folder_that_is_not_empty() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let small = ["sample", "generate", "--users", "40", "--days", "2", "--out", out];
    assert!(sspr(&small, &[]).status.success());
    std::fs::write(dir.path().join("graph/stale.json"), "{}").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let o = sspr(&small, &[]);
    assert_eq!(code(&o), USAGE);
    assert!(text(&o).1.contains("not empty") && text(&o).1.contains("--force"), "{:?}", text(&o));
    let mut forced = small.to_vec();
    forced.push("--force");
    assert!(sspr(&forced, &[]).status.success());
    assert!(!dir.path().join("graph/stale.json").exists(), "the old sample is gone");
    assert!(dir.path().join("notes.txt").exists(), "files that are not the sample's are kept");
}

/// Item 12: options that would be ignored are refused, or work.
#[test]
fn options_are_honoured_or_refused() {
    let lake = shared_lake_arg();
    let o = sspr(&["queries", "--format", "parquet"], &[]);
    assert_eq!(code(&o), USAGE);
    let o = sspr(&["--lake", &lake, "lake", "verify", "--format", "json"], &[]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["problems"], serde_json::json!([]));
    assert!(report["files_checked"].as_u64().unwrap() > 50);
    let o = sspr(&["--lake", &lake, "lake", "verify", "--format", "csv"], &[]);
    assert_eq!(text(&o).0, "file,message\n");
    let o = sspr(&["--lake", "/tmp/elsewhere", "demo"], &[]);
    assert_eq!(code(&o), USAGE);
    assert!(text(&o).1.contains("--dir"), "{:?}", text(&o));
}

/// Item 14: no colour codes in redirected stderr, even without NO_COLOR.
#[test]
fn redirected_stderr_has_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    // A warning is logged (a file that is not an export), with stderr a pipe.
    let f = write(dir.path(), "people.csv", "name\nJan\n");
    let o = sspr_plain_env(&["--lake", "lake", "import", f.to_str().unwrap()], dir.path());
    let (_, err) = text(&o);
    assert!(err.contains("WARN"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

/// Item 15: one message per cause, and every exit code of the table.
#[test]
fn errors_say_each_cause_once_and_exit_with_the_documented_code() {
    let lake = shared_lake_arg();
    let dir = tempfile::tempdir().unwrap();
    let blocker = write(dir.path(), "file", "x");
    let out = blocker.join("r.csv");
    let o = sspr(&["--lake", &lake, "query", "error_codes", "--out", out.to_str().unwrap()], &[]);
    let (_, err) = text(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert_eq!(err.matches("os error").count(), 1, "{err}");
    assert!(err.contains(out.to_str().unwrap()), "{err}");
    let o = sspr(&["--lake", &lake, "query", "error_codes", "--tz", "Mars/Olympus"], &[]);
    assert_eq!(code(&o), USAGE, "a bad --tz is a usage error");
    let o = sspr(&["--lake", &lake, "query", "error_codes", "--no-such-flag"], &[]);
    assert_eq!(code(&o), USAGE);
}

/// Item 15: a corrupt Parquet file is named in the error.
#[tokio::test]
async fn a_corrupt_parquet_file_is_named() {
    let (dir, lake) = crate::util::temp_lake();
    crate::util::import_paths(&lake, &[sample("graph/users")]).await;
    let part = lake.root.local.clone().unwrap().join("users/snapshot_date=2026-11-14/part-0.parquet");
    let mut bytes = std::fs::read(&part).unwrap();
    let mid = bytes.len() / 2;
    bytes.truncate(mid);
    std::fs::write(&part, &bytes).unwrap();
    let lp = dir.path().join("lake");
    let o = sspr(
        &[
            "--lake",
            lp.to_str().unwrap(),
            "query",
            "--sql",
            "SELECT count(*) FROM users WHERE account_enabled",
        ],
        &[],
    );
    let (_, err) = text(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains("snapshot_date=2026-11-14/part-0.parquet"), "{err}");
}

/// Item 15: exit code 4 when another writer holds the lock.
#[tokio::test]
async fn a_held_lock_exits_4() {
    let (dir, lake) = crate::util::temp_lake();
    crate::util::import_paths(&lake, &[sample("graph/users")]).await;
    let lock = lake.lock().await.unwrap();
    let lp = dir.path().join("lake");
    let o = sspr(&["--lake", lp.to_str().unwrap(), "import", sample("graph/users").to_str().unwrap()], &[]);
    assert_eq!(code(&o), 4, "{:?}", text(&o));
    assert!(text(&o).1.contains("locked by another writer"), "{:?}", text(&o));
    lock.release().await.unwrap();
}

/// Item 16: freshness is the newest event's, not the import's: the sample's November events are
/// stale today even though they were imported a moment ago.
#[test]
fn the_completeness_line_judges_freshness_by_event_time() {
    let lake = shared_lake_arg();
    let o = sspr(&["--lake", &lake, "query", "reset_success_daily", "--format", "csv"], &[]);
    let (_, err) = text(&o);
    assert!(err.contains("audit_events 2026-11-14 23:"), "{err}");
    assert!(err.contains("STALE: the newest data of every table is"), "{err}");
    assert!(err.contains("registration_details 2026-11-14 (snapshot)"), "{err}");
}

/// Item 13: on a terminal every saved query's table fits 80 and 100 columns (long text cut, or
/// one record at a time), and piped output keeps every value whole.
#[tokio::test]
async fn every_report_fits_a_terminal_of_80_and_100_columns() {
    use sspr_analytics::output::{OutputFormat, render_to};
    use unicode_width::UnicodeWidthStr;
    let lake = sspr_analytics::store::Lake::open(&shared_lake_arg()).unwrap();
    let ctx = sspr_analytics::query::context::build_context(&lake, &Default::default()).await.unwrap();
    let registry = sspr_analytics::query::saved::Registry::load(None).unwrap();
    let mut wide_when_piped = 0;
    for q in registry.queries.iter().filter(|q| !q.is_lookup()) {
        let batches =
            sspr_analytics::query::saved::run(&ctx, q, &Default::default(), &chrono_tz::UTC).await.unwrap();
        let schema = q
            .plan(&ctx, q.bind(&Default::default(), &chrono_tz::UTC).unwrap())
            .await
            .unwrap()
            .schema()
            .inner()
            .clone();
        for width in [80, 100] {
            let text = String::from_utf8(
                render_to(&batches, schema.clone(), OutputFormat::Table, Some(width)).unwrap(),
            )
            .unwrap();
            let widest = text.lines().map(|l| l.width()).max().unwrap_or(0);
            assert!(widest <= width, "{} at {width}: {widest} columns\n{text}", q.name);
        }
        let piped =
            String::from_utf8(render_to(&batches, schema, OutputFormat::Table, None).unwrap()).unwrap();
        if piped.lines().any(|l| l.width() > 100) {
            wide_when_piped += 1;
        }
    }
    assert!(wide_when_piped > 5, "piped tables are not cut ({wide_when_piped} wider than 100)");
}
