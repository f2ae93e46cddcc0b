//! Issue 24: `sspr nightly`, the unattended job, and `sspr config check`. Each test builds its own
//! lake from the sample's export folders (watched as a scheduler's drop folders would be).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sspr_analytics::nightly::RunManifest;

use crate::util::{repo, shared_lake_arg, sspr, text};

/// A config for a lake in `dir` watching the sample's Graph and event-log exports and a drop
/// folder, with `nightly` lines in `[nightly]` and `extra` sections at the end.
fn config(dir: &Path, nightly: &str, extra: &str) -> PathBuf {
    let p = dir.join("sspr.toml");
    let text = format!(
        r#"lake = "{lake}"
[query]
tz = "Europe/Brussels"
[nightly]
{nightly}
queries = ["reset_success_daily", "error_codes"]
reports_dir = "{reports}"
[[nightly.watch]]
path = "{graph}"
[[nightly.watch]]
path = "{eventlogs}"
[[nightly.watch]]
path = "{drop}"
[export]
to = "{export}"
{extra}"#,
        lake = dir.join("lake").display(),
        reports = dir.join("reports").display(),
        graph = repo().join("sample-data/graph").display(),
        eventlogs = repo().join("sample-data/eventlogs").display(),
        drop = dir.join("drop").display(),
        export = dir.join("export").display(),
    );
    std::fs::create_dir_all(dir.join("drop")).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

fn nightly(cfg: &Path) -> (RunManifest, std::process::Output) {
    let o = sspr(&["--config", cfg.to_str().unwrap(), "nightly", "--date", "2026-11-15", "--json"], &[]);
    let m = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", text(&o)));
    (m, o)
}

/// Every file of the lake but the run records (manifests and the `runs` table), with its
/// content hash.
fn lake_files(lake: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(lake)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(lake).unwrap().to_string_lossy().into_owned())
        .filter(|rel| !rel.starts_with("_runs/") && !rel.starts_with("runs/") && rel != "_lock")
        .map(|rel| {
            let bytes = std::fs::read(lake.join(&rel)).unwrap();
            let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
            (rel, format!("{:?}", digest))
        })
        .collect()
}

fn json_of(lake: &str, query: &str) -> String {
    let o = sspr(&["--lake", lake, "-q", "query", query, "--format", "json", "--tz", "Europe/Brussels"], &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    text(&o).0
}

/// The job run twice on the sample's export folders: the first imports everything, answers as
/// the sample lake does (held to the ground truth elsewhere), writes the reports, the summary,
/// the export and a manifest whose outputs are the files on disk; the second finds nothing new,
/// changes no lake file, keeps the export and says so; a renamed copy of an imported file is
/// not imported again.
#[test]
fn twice_on_the_same_folders_the_second_run_does_nothing_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // Report retention: a folder past `keep_reports_days` goes, a recent one and other files stay.
    for old in ["reports/2026-10-01", "reports/2026-11-10", "reports/notes"] {
        std::fs::create_dir_all(dir.path().join(old)).unwrap();
    }
    let cfg = config(dir.path(), "keep_reports_days = 30", "");
    let (first, o) = nightly(&cfg);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_eq!(first.outcome, sspr_analytics::nightly::Outcome::Complete);
    assert_eq!(first.removed, [dir.path().join("reports/2026-10-01").display().to_string()]);
    assert!(dir.path().join("reports/2026-11-10").is_dir() && dir.path().join("reports/notes").is_dir());
    assert!(!first.nothing_new);
    let imported: usize = first.sources.iter().map(|s| s.files_imported.len()).sum();
    assert!(imported > 15, "{:?}", first.sources);
    let lake = dir.path().join("lake");
    let lake_arg = lake.to_str().unwrap();
    for q in ["reset_success_daily", "error_codes", "registration_coverage"] {
        assert_eq!(
            json_of(lake_arg, q),
            json_of(&shared_lake_arg(), q),
            "{q}: the nightly lake answers as the sample lake"
        );
    }
    let day = dir.path().join("reports/2026-11-15");
    for f in [
        "reset_success_daily.csv",
        "reset_success_daily.md",
        "error_codes.csv",
        "error_codes.md",
        "overview.html",
        "operations.html",
        "security.html",
        "summary.md",
        "run.json",
    ] {
        assert!(day.join(f).is_file(), "{f}");
    }
    for out in &first.outputs {
        let bytes = std::fs::read(&out.path).unwrap();
        assert_eq!(bytes.len() as u64, out.bytes, "{}", out.path);
        let hex: String = ring::digest::digest(&ring::digest::SHA256, &bytes)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, out.sha256, "{}", out.path);
    }
    let stored = lake.join(format!("_runs/{}.json", first.run_id));
    assert!(stored.is_file(), "the manifest is in the lake");
    let export = first.export.as_ref().expect("exported");
    assert!(!export.kept && export.rows > 0);
    let before = lake_files(&lake);
    // A renamed copy of an imported file: the same content, not imported again.
    std::fs::copy(
        repo().join("sample-data/graph/directoryAudits/page-0001.json"),
        dir.path().join("drop/renamed-audits.json"),
    )
    .unwrap();
    let (second, o) = nightly(&cfg);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(second.nothing_new, "{second:?}");
    assert_eq!(second.sources.iter().map(|s| s.files_imported.len()).sum::<usize>(), 0);
    assert_eq!(lake_files(&lake), before, "no lake file changed");
    // The `runs` table holds both runs: the first with its rows, the second with nothing new.
    let o = sspr(
        &[
            "--lake",
            lake_arg,
            "-q",
            "query",
            "--sql",
            "SELECT run_id, outcome, nothing_new, rows_new, outputs FROM runs ORDER BY started_at",
            "--format",
            "json",
        ],
        &[],
    );
    let runs: serde_json::Value = serde_json::from_str(&text(&o).0).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2, "{runs}");
    assert_eq!(runs[0]["run_id"], first.run_id.as_str());
    assert_eq!(
        (runs[0]["outcome"].as_str(), runs[0]["nothing_new"].as_bool()),
        (Some("complete"), Some(false))
    );
    assert_eq!(runs[0]["outputs"], first.outputs.len() as u64);
    assert_eq!(
        (runs[1]["run_id"].as_str(), runs[1]["nothing_new"].as_bool()),
        (Some(second.run_id.as_str()), Some(true))
    );
    assert!(second.export.as_ref().is_some_and(|e| e.kept && e.export_id == export.export_id));
    let summary = std::fs::read_to_string(day.join("summary.md")).unwrap();
    assert!(summary.contains("**Nothing new**") && summary.contains(&first.run_id), "{summary}");
    assert!(summary.contains("## New error codes\n\nNone."), "{summary}");
    // The summary is the overview's first panel, above the queries' panels, as HTML.
    let overview = std::fs::read_to_string(day.join("overview.html")).unwrap();
    let lead =
        overview.find("<section class=\"panel lead-panel\" id=\"since-last-night\">").expect("a lead panel");
    let first_query = overview.find("data-query=").unwrap();
    assert!(lead < first_query, "the summary comes first");
    let panel = &overview[lead..overview[lead..].find("</section>").unwrap() + lead];
    assert!(panel.contains("<h2>Since last night — 2026-11-15</h2>"), "{panel}");
    assert!(panel.contains("<strong>Nothing new</strong>"), "{panel}");
    assert!(panel.contains("Nothing to report: New error codes · Error spikes · Coverage"), "{panel}");
    for other in ["operations.html", "security.html"] {
        assert!(!std::fs::read_to_string(day.join(other)).unwrap().contains("since-last-night"), "{other}");
    }
}

/// A writeback error of a code the sample never has (33009), as an exported event log.
fn plant_writeback_error(drop: &Path) {
    std::fs::write(
        drop.join("planted.xml"),
        "<Events>\n<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='PasswordResetService'/><EventID>33009</EventID><Level>2</Level><Keywords>0x80000000000000</Keywords><TimeCreated SystemTime='2026-11-14T21:00:00.0000000Z'/><EventRecordID>990001</EventRecordID><Channel>Application</Channel><Computer>AADC01.contoso.com</Computer></System><EventData><Data>TrackingId: 0f0f0f0f-1111-2222-3333-444444444444, ADPasswordPolicyError, Details: planted</Data></EventData></Event>\n</Events>\n",
    )
    .unwrap();
}

/// The dates of a table's partitions in a local lake.
fn partition_dates(lake: &Path, table: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(lake.join(table))
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().join("part-0.parquet").is_file())
                .filter_map(|e| e.file_name().to_string_lossy().split_once('=').map(|(_, d)| d.to_string()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// `[retention]`: a week of events is kept, older partitions go and are listed in the manifest,
/// the derived tables follow at the same run's build (a full rebuild afterwards changes no byte),
/// and a snapshot table keeps its newest snapshot even when it is older than its retention, so
/// coverage still answers as before.
#[test]
fn retention_drops_old_partitions_but_never_the_latest_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let events =
        "audit_events = 7\nwriteback_events = 7\ncredential_provider_events = 7\ndc_security_events = 7";
    let cfg =
        config(dir.path(), "", &format!("[retention]\n{events}\nregistration_details = 7\nusers = 1\n"));
    let lake = dir.path().join("lake");
    let lake_arg = lake.to_str().unwrap();
    // The sample's events run from 2026-11-01 to 2026-11-14; its snapshots are of 11-01 and 11-14
    // (users: 11-14 only). On 2026-11-20, seven days keep 11-13 and 11-14.
    let o = sspr(&["--config", cfg.to_str().unwrap(), "nightly", "--date", "2026-11-20", "--json"], &[]);
    let m: RunManifest = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", text(&o)));
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    for t in ["audit_events", "writeback_events", "credential_provider_events", "dc_security_events"] {
        let kept = partition_dates(&lake, t);
        assert!(!kept.is_empty() && kept.iter().all(|d| d.as_str() >= "2026-11-13"), "{t}: {kept:?}");
    }
    assert_eq!(partition_dates(&lake, "registration_details"), ["2026-11-14"]);
    assert_eq!(
        partition_dates(&lake, "users"),
        ["2026-11-14"],
        "the newest snapshot stays, though older than a day"
    );
    assert!(m.partitions_removed.contains(&"audit_events/event_date=2026-11-01".to_string()), "{m:?}");
    assert!(m.partitions_removed.contains(&"registration_details/snapshot_date=2026-11-01".to_string()));
    assert!(!m.partitions_removed.iter().any(|p| p.starts_with("users/")), "{:?}", m.partitions_removed);
    assert_eq!(m.partitions_removed.iter().filter(|p| p.starts_with("audit_events/")).count(), 12);
    let summary = std::fs::read_to_string(dir.path().join("reports/2026-11-20/summary.md")).unwrap();
    assert!(
        summary.contains("## Housekeeping\n\n- audit_events: 12 partition(s) past retention removed"),
        "{summary}"
    );
    // The derived tables followed the same night.
    for t in ["reset_attempts", "writeback_operations", "error_events"] {
        let kept = partition_dates(&lake, t);
        assert!(kept.iter().all(|d| d.as_str() >= "2026-11-12"), "{t}: {kept:?}");
    }
    assert_eq!(partition_dates(&lake, "registration_coverage_daily"), ["2026-11-14"]);
    assert_eq!(
        json_of(lake_arg, "registration_coverage"),
        json_of(&shared_lake_arg(), "registration_coverage"),
        "coverage answers from the newest snapshot as before"
    );
    let before = lake_files(&lake);
    let o = sspr(&["--lake", lake_arg, "-q", "build", "--full"], &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(
        lake_files(&lake),
        before,
        "a full rebuild from the kept raw days gives the same derived tables"
    );
    // The next night has nothing older to remove.
    let o = sspr(&["--config", cfg.to_str().unwrap(), "nightly", "--date", "2026-11-20", "--json"], &[]);
    let again: RunManifest =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", text(&o)));
    assert!(again.partitions_removed.is_empty() && again.nothing_new, "{again:?}");
}

/// The summary finds what changed since the previous complete run: a new error code (a planted
/// writeback event) and a coverage drop (a later registration snapshot in which ten capable
/// users are not capable any more), naming the users.
#[test]
fn the_summary_finds_a_new_error_code_and_who_lost_coverage() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "", "");
    let (_, o) = nightly(&cfg);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let drop = dir.path().join("drop");
    plant_writeback_error(&drop);
    let snapshot = drop.join("registration/2026-11-15");
    std::fs::create_dir_all(&snapshot).unwrap();
    let mut lost = Vec::new();
    for e in std::fs::read_dir(repo().join("sample-data/graph/userRegistrationDetails/2026-11-14")).unwrap() {
        let e = e.unwrap();
        let mut page: serde_json::Value = serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
        for u in page["value"].as_array_mut().unwrap() {
            if lost.len() < 10 && u["isSsprCapable"] == true {
                u["isSsprCapable"] = false.into();
                u["isSsprRegistered"] = false.into();
                lost.push(u["userPrincipalName"].as_str().unwrap().to_string());
            }
        }
        std::fs::write(snapshot.join(e.file_name()), page.to_string()).unwrap();
    }
    let (second, o) = nightly(&cfg);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(!second.nothing_new);
    let summary = std::fs::read_to_string(dir.path().join("reports/2026-11-15/summary.md")).unwrap();
    assert!(summary.contains("`PasswordResetService:33009` (1)"), "{summary}");
    assert!(summary.contains("10 user(s) lost coverage"), "{summary}");
    for upn in &lost {
        assert!(summary.contains(upn.as_str()), "{upn}: {summary}");
    }
    assert!(summary.contains("capable ") && summary.contains("points; snapshot 2026-11-15"), "{summary}");
}

/// A second run while one holds the lake is refused at once (exit 4), naming the holder and
/// since when; a misspelt key, an unknown dashboard and a missing watched folder are config
/// errors (exit 2) that name the key, the file and the line.
#[tokio::test]
async fn a_held_lake_and_config_errors_have_their_own_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "", "");
    let lake = sspr_analytics::store::Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    std::fs::create_dir_all(dir.path().join("lake")).unwrap();
    let (_held, lock, _) = lake.lock_for_job().await.unwrap();
    let o = sspr(&["--config", cfg.to_str().unwrap(), "nightly"], &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains("pid") && err.contains("acquired"), "names the holder and since when: {err}");
    lock.release().await.unwrap();
    let good = std::fs::read_to_string(&cfg).unwrap();
    let run_with = |body: String| {
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, body).unwrap();
        let o = sspr(&["--config", p.to_str().unwrap(), "nightly"], &[]);
        (o.status.code(), text(&o).1)
    };
    let (code, err) = run_with(good.replace("[nightly]\n", "[nightly]\nkeep_report_days = 30\n"));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "bad.toml:5: unknown key `keep_report_days` in [nightly]; did you mean `keep_reports_days`?"
        ),
        "{err}"
    );
    let (code, err) = run_with(good.replace("[nightly]\n", "[nightly]\ndashboards = [\"overveiw\"]\n"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("[nightly] dashboards: no dashboard named \"overveiw\""), "{err}");
    let (code, err) = run_with(format!("{good}\n[retention]\naudit_events = 0\n"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("[retention] audit_events = 0 would remove today's data"), "{err}");
    let (code, err) = run_with(format!("{good}\n[retention]\nreset_attempts = 30\n"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("unknown key `reset_attempts` in [retention]"), "{err}");
    std::fs::remove_dir_all(dir.path().join("drop")).unwrap();
    let o = sspr(&["--config", cfg.to_str().unwrap(), "config", "check"], &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("[[nightly.watch]] path") && err.contains("drop"), "{err}");
}

/// `sspr config check` prints every key resolved with where it came from, an environment
/// variable winning over the file, and a secret masked.
#[test]
fn config_check_shows_every_key_its_origin_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "",
        "[graph]\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"hunter2-secret\"\n",
    );
    let o = sspr(&["--config", cfg.to_str().unwrap(), "config", "check"], &[("SSPR_QUERY_TZ", "Asia/Tokyo")]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("tz = \"Asia/Tokyo\"  # env SSPR_QUERY_TZ"), "{out}");
    assert!(
        out.contains(&format!("lake = \"{}\"  # {}:1", dir.path().join("lake").display(), cfg.display())),
        "{out}"
    );
    assert!(out.contains("client_secret = \"********\"") && !out.contains("hunter2"), "{out}");
    assert!(out.contains("memory_limit = (default)") && out.trim_end().ends_with("ok"), "{out}");
}

/// With a `[graph]` section the job collects from Graph (the loopback mock, every event,
/// registration and user of it in the lake, nothing twice) beside a watched folder; the next
/// run collects nothing new and says so; after that, a corrupt checkpoint is recovered from by
/// collecting its window again, without loss or duplicates.
#[tokio::test]
async fn graph_and_a_watched_folder_in_one_run_then_nothing_new() {
    let r = crate::collect_graph::setup(|_| {});
    let extra = format!(
        "initial_lookback = \"40d\"\n[nightly]\nqueries = [\"reset_success_daily\"]\ndashboards = [\"overview\"]\n[[nightly.watch]]\npath = \"{}\"\n",
        repo().join("sample-data/eventlogs").display()
    );
    let cfg = crate::collect_graph::config_file(&r, &extra);
    let (first, o) = nightly(&cfg);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let graph = first.sources.iter().find(|s| s.kind == "graph").expect("a graph source");
    assert!(graph.rows_new > 0 && graph.error.is_none() && graph.incomplete.is_empty(), "{graph:?}");
    assert!(first.sources.iter().any(|s| s.kind == "watch" && s.rows_new > 0));
    crate::collect_graph::assert_lake_equals_mock(&r).await;
    let (second, o) = nightly(&cfg);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(second.nothing_new, "{:?}", second.sources);
    crate::collect_graph::assert_lake_equals_mock(&r).await;
    // A corrupt checkpoint is set aside and its window collected again: nothing lost, nothing
    // twice.
    let checkpoint = r.dir.path().join("state/graph-checkpoint.json");
    assert!(checkpoint.is_file());
    std::fs::write(&checkpoint, "{\"version\": 1, \"state\": {\"audits\": tr").unwrap();
    let (third, o) = nightly(&cfg);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let graph = third.sources.iter().find(|s| s.kind == "graph").unwrap();
    assert!(graph.records > 0 && graph.rows_new == 0, "collected again, all already stored: {graph:?}");
    crate::collect_graph::assert_lake_equals_mock(&r).await;
}

/// A loopback HTTP server that answers `status` to every request and hands each request's body
/// to the test.
fn webhook_server(status: &'static str) -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/hook/secret-token-123", listener.local_addr().unwrap().port());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
            let mut stream = stream;
            let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (url, rx)
}

/// Item 5: the summary is POSTed to a webhook as JSON that Teams and Slack show (`text`) with
/// the run's facts (`sspr`); a webhook that fails makes the run partial (exit 3), is named in the
/// manifest without its URL (which holds its token), and loses none of the run's outputs.
#[test]
fn the_summary_goes_to_a_webhook_and_a_failed_delivery_is_partial() {
    let dir = tempfile::tempdir().unwrap();
    let (url, bodies) = webhook_server("200 OK");
    let url_file = dir.path().join("webhook.url");
    std::fs::write(&url_file, format!("{url}\n")).unwrap();
    let cfg = config(dir.path(), &format!("webhook_url_file = \"{}\"", url_file.display()), "");
    let (m, o) = nightly(&cfg);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_eq!(m.delivered, ["webhook"]);
    let body: serde_json::Value =
        serde_json::from_str(&bodies.recv_timeout(std::time::Duration::from_secs(5)).unwrap()).unwrap();
    assert!(body["text"].as_str().unwrap().starts_with("# Since last night — 2026-11-15"), "{body}");
    assert_eq!(body["sspr"]["run_id"], m.run_id.as_str());
    assert_eq!(body["sspr"]["outcome"], "complete");
    let (failing, _) = webhook_server("500 Internal Server Error");
    std::fs::write(&url_file, &failing).unwrap();
    let (m, o) = nightly(&cfg);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert_eq!(m.outcome, sspr_analytics::nightly::Outcome::Partial);
    let e = m.errors.iter().find(|e| e.step == "delivery").expect("the delivery error");
    assert!(e.message.contains("HTTP 500") && e.message.contains("webhook.url"), "{}", e.message);
    assert!(!out.contains("secret-token-123") && !err.contains("secret-token-123"), "the URL stays secret");
    assert!(dir.path().join("reports/2026-11-15/summary.md").is_file() && m.outputs.len() > 5);
}

/// A CA and a server certificate for 127.0.0.1 signed by it (as a private PKI's relay has),
/// made with `openssl`: (CA PEM, server certificate, server key).
fn private_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let o = std::process::Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
        assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=sspr test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("srv.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "1",
        "-extfile",
        "srv.ext",
    ]);
    (dir.join("ca.pem"), dir.join("srv.pem"), dir.join("srv.key"))
}

/// The loopback SMTP sink (aiosmtpd: STARTTLS required, then AUTH), killed when dropped.
struct SmtpSink {
    child: std::process::Child,
    port: u16,
    out: PathBuf,
}

impl SmtpSink {
    fn start(dir: &Path, cert: &Path, key: &Path) -> Self {
        use std::io::BufRead;
        let out = dir.join("mailbox");
        let mut child = std::process::Command::new("python3")
            .arg(repo().join("tests/it/smtp_sink.py"))
            .args([cert, key])
            .args(["sspr-mailer", "mail-password-42"])
            .arg(&out)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd (tests/requirements.txt)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("the sink printed {line:?}"));
        Self { child, port, out }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Item 5: the summary by mail over SMTP with STARTTLS to a relay whose certificate a private CA
/// signed (`ca_file`), AUTH after STARTTLS with the password from a file; the overview report is
/// attached. A wrong password makes the run partial (exit 3) with the relay's refusal in the
/// manifest, the outputs kept; `starttls = false` with a username is a config error (exit 2).
#[test]
fn the_summary_is_mailed_over_starttls_and_a_refused_login_is_partial() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = private_pki(dir.path());
    let sink = SmtpSink::start(dir.path(), &cert, &key);
    let password = dir.path().join("smtp.password");
    std::fs::write(&password, "mail-password-42\n").unwrap();
    let mail = |starttls: bool| {
        format!(
            "[mail]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nstarttls = {starttls}\nusername = \"sspr-mailer\"\npassword_file = \"{}\"\nfrom = \"SSPR reports <sspr@contoso.example>\"\nto = [\"helpdesk@contoso.example\", \"secops@contoso.example\"]\nca_file = \"{}\"\n",
            sink.port,
            password.display(),
            ca.display()
        )
    };
    let cfg = config(dir.path(), "", &mail(true));
    let (m, o) = nightly(&cfg);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_eq!(m.delivered, ["mail"]);
    let eml = std::fs::read_to_string(sink.out.join("1.eml")).unwrap();
    assert!(eml.contains("Subject: SSPR nightly 2026-11-15: complete"), "{eml}");
    assert!(
        eml.contains("Since last night") && eml.contains("filename=\"overview.html\""),
        "{}",
        &eml[..eml.len().min(3000)]
    );
    let rcpt = std::fs::read_to_string(sink.out.join("1.rcpt")).unwrap();
    assert_eq!(rcpt, "helpdesk@contoso.example\nsecops@contoso.example");
    std::fs::write(&password, "wrong").unwrap();
    let (m, o) = nightly(&cfg);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    let e = m.errors.iter().find(|e| e.step == "delivery").expect("the delivery error");
    assert!(e.message.contains("SMTP 127.0.0.1") && e.message.contains("535"), "{}", e.message);
    assert!(!out.contains("mail-password-42") && !err.contains("mail-password-42"));
    assert!(
        !sink.out.join("2.eml").exists() && dir.path().join("reports/2026-11-15/overview.html").is_file()
    );
    let plain = config(dir.path(), "", &mail(false));
    let o = sspr(&["--config", plain.to_str().unwrap(), "nightly"], &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("in the clear"), "{err}");
}

/// Item 7: SIGTERM during a run finishes the step under way, starts no other, writes the
/// manifest saying where it stopped, and exits partial (3); the lake passes `lake verify`, and
/// the next run finishes the work and answers as an uninterrupted run does.
#[test]
fn sigterm_finishes_the_step_under_way_and_the_next_run_completes() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "", "");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sspr"))
        .args(["-v", "--config", cfg.to_str().unwrap(), "nightly", "--date", "2026-11-15", "--json"])
        .env_remove("SSPR_LAKE")
        .env_remove("SSPR_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let drain = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("Nightly run started.") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(std::time::Duration::from_secs(60)).expect("the run starts");
    let kill = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let err = drain.join().unwrap();
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("SIGTERM: finishing the step under way"), "{err}");
    let m: RunManifest = serde_json::from_slice(&out.stdout).unwrap();
    let stop = m.errors.iter().find(|e| e.step == "interrupted").expect("the manifest says it stopped");
    assert!(stop.message.starts_with("SIGTERM: stopped before"), "{}", stop.message);
    assert!(m.sources.len() < 3, "no source was started after the signal: {:?}", m.sources);
    assert!(dir.path().join("reports/2026-11-15/run.json").is_file());
    let lake = dir.path().join("lake");
    let verify = sspr(&["--lake", lake.to_str().unwrap(), "lake", "verify"], &[]);
    assert!(verify.status.success(), "{:?}", text(&verify));
    let (next, o) = nightly(&cfg);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(next.errors.is_empty(), "{:?}", next.errors);
    for q in ["reset_success_daily", "error_codes", "registration_coverage"] {
        assert_eq!(json_of(lake.to_str().unwrap(), q), json_of(&shared_lake_arg(), q), "{q}");
    }
}

/// Item 9: SIGKILL at several points of a run (while importing, building, writing reports or
/// exporting, by time), then a run to the end: the lake holds what an uninterrupted run's lake
/// holds (every derived table byte for byte, every raw table's rows), passes `lake verify`, and
/// the reports answer the same.
#[test]
fn sigkill_at_several_points_then_a_rerun_gives_the_uninterrupted_result() {
    let reference = tempfile::tempdir().unwrap();
    let (m, o) = nightly(&config(reference.path(), "", ""));
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let full = m.finished.unwrap() - m.started;
    let derived = |lake: &Path| -> BTreeMap<String, String> {
        lake_files(lake)
            .into_iter()
            .filter(|(rel, _)| {
                ["reset_attempts/", "registration_coverage_daily/", "writeback_operations/", "error_events/"]
                    .iter()
                    .any(|t| rel.starts_with(t))
            })
            .collect()
    };
    let counts = |lake: &Path| -> Vec<String> {
        [
            "audit_events",
            "registration_details",
            "users",
            "writeback_events",
            "credential_provider_events",
            "dc_security_events",
        ]
        .iter()
        .map(|t| {
            let o = sspr(
                &[
                    "--lake",
                    lake.to_str().unwrap(),
                    "-q",
                    "query",
                    "--sql",
                    &format!("SELECT count(*) AS n FROM {t}"),
                    "--format",
                    "csv",
                ],
                &[],
            );
            format!("{t}: {}", text(&o).0.trim())
        })
        .collect()
    };
    let want_derived = derived(&reference.path().join("lake"));
    let want_counts = counts(&reference.path().join("lake"));
    assert!(want_derived.len() > 20);
    // Kill points spread over the run's length (this machine's speed varies, so by fraction).
    for fraction in [0.1, 0.35, 0.6, 0.85] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), "", "");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sspr"))
            .args(["-q", "--config", cfg.to_str().unwrap(), "nightly", "--date", "2026-11-15"])
            .env_remove("SSPR_LAKE")
            .env_remove("SSPR_CONFIG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let wait = full.to_std().unwrap().mul_f64(fraction);
        std::thread::sleep(wait);
        let _ = child.kill();
        let _ = child.wait();
        let (m, o) = nightly(&cfg);
        assert_eq!(o.status.code(), Some(0), "after a kill at {fraction}: {:?}", text(&o));
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        let lake = dir.path().join("lake");
        let verify = sspr(&["--lake", lake.to_str().unwrap(), "lake", "verify"], &[]);
        assert!(verify.status.success(), "after a kill at {fraction}: {:?}", text(&verify));
        assert_eq!(counts(&lake), want_counts, "after a kill at {fraction}");
        assert_eq!(derived(&lake), want_derived, "after a kill at {fraction}: derived tables");
        for f in ["reset_success_daily.csv", "error_codes.csv"] {
            assert_eq!(
                std::fs::read(dir.path().join("reports/2026-11-15").join(f)).unwrap(),
                std::fs::read(reference.path().join("reports/2026-11-15").join(f)).unwrap(),
                "after a kill at {fraction}: {f}"
            );
        }
    }
}

/// Item 7: a lake on a full disk (a 700 KiB tmpfs): the import fails naming the file system's
/// error, the run ends failed (exit 1) with the error in `reports/<date>/run.json`, nothing
/// half-written is left in the lake (`lake verify` passes), and no file is remembered as
/// imported, so the next night tries them again. Skipped where a tmpfs cannot be mounted.
#[test]
fn a_full_disk_fails_the_run_cleanly_and_forgets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let Some(_tmpfs) = crate::util::Tmpfs::mount(&lake, "700k") else { return };
    let cfg = config(dir.path(), "", "");
    let o = sspr(&["--config", cfg.to_str().unwrap(), "nightly", "--date", "2026-11-15"], &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    let m: RunManifest =
        serde_json::from_slice(&std::fs::read(dir.path().join("reports/2026-11-15/run.json")).unwrap())
            .unwrap();
    assert_eq!(m.outcome, sspr_analytics::nightly::Outcome::Failed);
    let failed: Vec<&String> = m.sources.iter().filter_map(|s| s.error.as_ref()).collect();
    assert!(
        !failed.is_empty() && failed.iter().all(|e| e.contains("No space left") || e.contains("os error 28")),
        "{failed:?}"
    );
    let verify = sspr(&["--lake", lake.to_str().unwrap(), "lake", "verify", "--format", "json"], &[]);
    let report: serde_json::Value =
        serde_json::from_slice(&verify.stdout).unwrap_or_else(|_| panic!("{:?}", text(&verify)));
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    let seen = lake.join("_state/nightly-imported.json");
    let remembered = std::fs::read_to_string(&seen).unwrap_or_default();
    assert!(!remembered.contains("page-0001.json"), "a file that failed is not remembered: {remembered}");
}

/// A lake on a file system that went read-only (a failing disk remounted by the kernel, a
/// snapshot mounted by mistake): the run fails naming the path and the reason, changes nothing,
/// remembers nothing as imported, and once the disk is writable again the next run imports what
/// the failed one could not.
#[test]
fn a_read_only_lake_fails_naming_the_path_and_the_next_run_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let Some(tmpfs) = crate::util::Tmpfs::mount(&lake, "64m") else { return };
    let cfg = config(dir.path(), "", "");
    let (_, o) = nightly(&cfg);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    plant_writeback_error(&dir.path().join("drop"));
    let before = lake_files(&lake);
    tmpfs.read_only(true);
    let o = sspr(&["--config", cfg.to_str().unwrap(), "nightly", "--date", "2026-11-16"], &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(err.contains(lake.to_str().unwrap()), "names the path: {err}");
    assert!(err.contains("Read-only file system") || err.contains("os error 30"), "says why: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(lake_files(&lake), before, "nothing in the lake changed");
    tmpfs.read_only(false);
    let o = sspr(&["--config", cfg.to_str().unwrap(), "nightly", "--date", "2026-11-16", "--json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let m: RunManifest = serde_json::from_slice(&o.stdout).unwrap();
    let imported: Vec<&String> = m.sources.iter().flat_map(|s| &s.files_imported).collect();
    assert!(imported.iter().any(|f| f.ends_with("planted.xml")), "{imported:?}");
    let codes = json_of(lake.to_str().unwrap(), "error_codes");
    assert!(codes.contains("33009"), "{codes}");
}
