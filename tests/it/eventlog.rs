//! Windows event logs: every reader, routing, dedup across formats and re-imports, corrupt input,
//! the EVTX writer against the `evtx` crate, and the on-premises saved queries against the sample's
//! ground truth.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use evtx::{EvtxParser, ParserSettings};
use serde_json::Value;
use sspr_analytics::sample::evtx_writer::{EvtxWriter, WinEvent, to_xml};

use crate::util::{ground_truth, import_paths, query_rows, realdata, sample, sql_rows, temp_lake, write};

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .or_else(|| v[k].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("{k} in {v}"))
}

/// What the `evtx` crate itself reads from a file: (EventRecordID, EventID, TargetUserName,
/// Computer, audit success) of every 4723/4724 — an independent path to compare the lake with.
fn crate_password_events(path: &Path) -> BTreeSet<(i64, i64, String, String, bool)> {
    let settings = ParserSettings::new().separate_json_attributes(true).num_threads(1);
    let mut p = EvtxParser::from_path(path).unwrap().with_configuration(settings);
    let mut out = BTreeSet::new();
    for r in p.records_json_value().flatten() {
        let sys = &r.data["Event"]["System"];
        let id = sys["EventID"].as_i64().or_else(|| sys["EventID"].as_str().and_then(|s| s.parse().ok()));
        let Some(id @ (4723 | 4724)) = id else { continue };
        let keywords =
            u64::from_str_radix(sys["Keywords"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
        out.insert((
            sys["EventRecordID"].as_i64().unwrap(),
            id,
            r.data["Event"]["EventData"]["TargetUserName"].as_str().unwrap().to_string(),
            sys["Computer"].as_str().unwrap().to_string(),
            keywords & 0x0020_0000_0000_0000 != 0,
        ));
    }
    out
}

async fn lake_password_events(
    lake: &sspr_analytics::store::Lake,
    file: &str,
) -> BTreeSet<(i64, i64, String, String, bool)> {
    let rows = sql_rows(
        lake,
        &format!(
            "SELECT event_record_id, event_id, target_account, computer, audit_success FROM dc_security_events \
             WHERE event_id IN (4723, 4724) AND source_file LIKE '%{file}'"
        ),
    )
    .await;
    rows.iter()
        .map(|r| {
            (
                n(r, "event_record_id") as i64,
                n(r, "event_id") as i64,
                r["target_account"].as_str().unwrap().to_string(),
                r["computer"].as_str().unwrap().to_string(),
                r["audit_success"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn real_security_logs_give_the_password_events_the_files_hold() {
    let (_d, lake) = temp_lake();
    let files = [realdata("evtx/security.evtx"), realdata("evtx/post-Security.evtx")];
    let s = import_paths(&lake, &files).await;
    assert!(s.files.iter().all(|f| f.complete), "{:?}", s.files);
    for f in &files {
        let want = crate_password_events(f);
        assert!(!want.is_empty(), "{} has password events", f.display());
        let name = f.file_name().unwrap().to_str().unwrap();
        assert_eq!(lake_password_events(&lake, name).await, want, "{name}");
    }
    // Facts named in reference/onprem-logs.md §4.2: a 4723 for fsir, a 4724 to John on post-Security.
    let rows = sql_rows(
        &lake,
        "SELECT event_id, target_account, subject_account, audit_success FROM dc_security_events ORDER BY time_created",
    )
    .await;
    assert!(
        rows.iter()
            .any(|r| r["event_id"] == 4723 && r["target_account"] == "fsir" && r["audit_success"] == true)
    );
    assert!(rows.iter().any(|r| r["event_id"] == 4724 && r["target_account"] == "John"));
    // Everything else in the logs is counted and not stored.
    assert!(s.skipped > 2000, "{}", s.skipped);
    let kept = sql_rows(&lake, "SELECT count(*) AS n FROM dc_security_events").await;
    assert_eq!(n(&kept[0], "n") + s.skipped + s.quarantined, s.records);
}

#[tokio::test]
async fn damaged_evtx_files_give_what_can_be_read_and_quarantine_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(realdata("evtx/security.evtx")).unwrap();
    // A file cut off in the middle of its last used chunk (25 of 0..=25).
    let truncated = dir.path().join("truncated.evtx");
    std::fs::write(&truncated, &good[..4096 + 25 * 65536 + 30_000]).unwrap();
    // A record whose size field is zero (chunk 0, first record at offset 512).
    let mut zero = good.clone();
    zero[4096 + 512 + 4..4096 + 512 + 8].copy_from_slice(&0u32.to_le_bytes());
    let zero_size = dir.path().join("zero-size-record.evtx");
    std::fs::write(&zero_size, &zero).unwrap();
    // A flipped byte inside the records of chunk 1: its CRC no longer matches.
    let mut crc = good.clone();
    crc[4096 + 65536 + 20_000] ^= 0x5a;
    let bad_crc = dir.path().join("bad-crc.evtx");
    std::fs::write(&bad_crc, &crc).unwrap();
    // Not an EVTX file at all.
    let not_evtx = write(dir.path(), "not.evtx", "ElfFilx this is not an event log");

    let (_d, lake) = temp_lake();
    let files = [
        realdata("evtx/sample_with_a_bad_chunk_magic.evtx"),
        realdata("evtx/Application_no_crc32.evtx"),
        truncated.clone(),
        zero_size.clone(),
        bad_crc.clone(),
        not_evtx.clone(),
    ];
    let s = import_paths(&lake, &files).await;
    let report = |p: &PathBuf| {
        s.files.iter().find(|f| f.path.ends_with(p.file_name().unwrap().to_str().unwrap())).unwrap()
    };

    let magic = report(&files[0]);
    assert!(magic.records > 0 && magic.quarantined >= 1, "{magic:?}");
    assert_eq!(report(&files[1]).records, 17);
    assert_eq!(report(&files[1]).quarantined, 0);
    let t = report(&truncated);
    assert!(t.records > 2000 && t.records < 2261 && !t.complete, "{t:?}");
    assert!(t.error.as_deref().unwrap().contains("chunk 25"), "{t:?}");
    let z = report(&zero_size);
    assert!(z.quarantined >= 1 && z.records >= 2000, "{z:?}");
    let c = report(&bad_crc);
    assert!(c.warnings.iter().any(|w| w.contains("CRC32")), "{c:?}");
    assert!(c.records >= 2000, "{c:?}");
    let bad = report(&not_evtx);
    assert!(!bad.complete && bad.error.as_deref().unwrap().contains("EVTX"), "{bad:?}");

    // Every quarantined entry names its file and a byte offset.
    let q = s.quarantine_file.clone().expect("a quarantine file");
    let text = std::fs::read_to_string(lake_path(&lake, &q)).unwrap();
    for line in text.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        assert!(e["source_file"].as_str().unwrap().ends_with(".evtx"), "{e}");
        assert!(!e["reason"].as_str().unwrap().is_empty(), "{e}");
    }
    assert!(text.lines().any(|l| l.contains("truncated.evtx") && !l.contains("\"offset\":0,")), "{text}");
}

fn lake_path(lake: &sspr_analytics::store::Lake, rel: &str) -> PathBuf {
    lake.root.local_path(rel).expect("a local lake")
}

fn events() -> Vec<WinEvent> {
    let mut out = Vec::new();
    for i in 0..3000u64 {
        let classic = i % 3 != 0;
        out.push(WinEvent {
            provider: if classic {
                "PasswordResetService".into()
            } else {
                "Microsoft-Windows-Security-Auditing".into()
            },
            event_id: if classic { 31001 + (i % 3) as u16 } else { 4724 },
            qualifiers: classic.then_some(0),
            version: 0,
            level: if classic { 4 } else { 0 },
            task: if classic { 0 } else { 13824 },
            opcode: 0,
            keywords: if classic { 0x0080_0000_0000_0000 } else { 0x8020_0000_0000_0000 },
            time_created: 1_793_693_702_123_456 + i as i64 * 1_000_003,
            event_record_id: 1000 + i,
            process_id: 4120,
            thread_id: 5008 + i as u32,
            channel: if classic { "Application".into() } else { "Security".into() },
            computer: "SRV01.contoso.com".into(),
            data: if classic {
                vec![(None, format!("TrackingId: 3f369fe9-c121-4450-8661-{i:012x}, Start <&> \"quoted\" é"))]
            } else {
                vec![
                    (Some("TargetUserName".into()), format!("user{i}")),
                    (Some("TargetDomainName".into()), "CONTOSO".into()),
                    (Some("SubjectUserName".into()), "MSOL_73c8a9aa6173".into()),
                ]
            },
        });
    }
    out
}

fn write_evtx(path: &Path, evs: &[WinEvent]) {
    let mut w = EvtxWriter::new(std::io::BufWriter::new(std::fs::File::create(path).unwrap())).unwrap();
    for e in evs {
        w.write(e).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn the_evtx_crate_reads_every_record_the_writer_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.evtx");
    let evs = events();
    write_evtx(&path, &evs);
    // Checksums validated: a bad CRC would drop chunks.
    let settings =
        ParserSettings::new().validate_checksums(true).separate_json_attributes(true).num_threads(1);
    let mut p = EvtxParser::from_path(&path).unwrap().with_configuration(settings);
    assert!(p.header().validate_checksum());
    let mut chunks = 0;
    for c in p.chunks() {
        assert!(c.unwrap().validate_checksum());
        chunks += 1;
    }
    assert!(chunks > 1, "several chunks");
    let got: Vec<_> = p.records_json_value().map(|r| r.unwrap()).collect();
    assert_eq!(got.len(), evs.len());
    for (i, (r, e)) in got.iter().zip(&evs).enumerate() {
        assert_eq!(r.event_record_id, i as u64 + 1, "header ids run 1, 2, …");
        let sys = &r.data["Event"]["System"];
        assert_eq!(sys["Provider_attributes"]["Name"], e.provider.as_str());
        assert_eq!(sys["EventID"], e.event_id);
        assert_eq!(sys["EventRecordID"], e.event_record_id);
        assert_eq!(sys["Computer"], e.computer.as_str());
        assert_eq!(sys["Channel"], e.channel.as_str());
        assert_eq!(sys["Level"], e.level);
        assert_eq!(sys["Keywords"], format!("0x{:x}", e.keywords));
        let t = chrono::DateTime::parse_from_rfc3339(
            sys["TimeCreated_attributes"]["SystemTime"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(t.timestamp_micros(), e.time_created);
        if let Some(q) = e.qualifiers {
            assert_eq!(sys["EventID_attributes"]["Qualifiers"], q);
        }
        let data = &r.data["Event"]["EventData"];
        match &e.data[0] {
            (None, v) => assert_eq!(
                data["Data"]["#text"].as_str().or(data["Data"].as_str()),
                Some(v.as_str()),
                "{data}"
            ),
            (Some(_), _) => {
                for (k, v) in &e.data {
                    assert_eq!(data[k.as_deref().unwrap()], v.as_str());
                }
            }
        }
    }
}

#[test]
fn the_committed_sample_logs_read_cleanly_with_checksums_validated() {
    let mut files = 0;
    for e in walkdir::WalkDir::new(sample("eventlogs")).into_iter().filter_map(|e| e.ok()) {
        if e.path().extension().is_none_or(|x| x != "evtx") {
            continue;
        }
        let settings = ParserSettings::new().validate_checksums(true).num_threads(1);
        let mut p = EvtxParser::from_path(e.path()).unwrap().with_configuration(settings);
        assert!(p.header().validate_checksum(), "{}", e.path().display());
        let (ok, bad) =
            p.records().fold((0, 0), |(ok, bad), r| if r.is_ok() { (ok + 1, bad) } else { (ok, bad + 1) });
        assert!(ok > 0 && bad == 0, "{}: {ok} records, {bad} errors", e.path().display());
        files += 1;
    }
    assert_eq!(files, 6);
}

#[tokio::test]
async fn every_format_of_the_same_log_gives_the_same_rows_once() {
    let dir = tempfile::tempdir().unwrap();
    let evs = events();
    let evtx_path = dir.path().join("srv01.evtx");
    write_evtx(&evtx_path, &evs);
    // wevtutil without a root element, and Event Viewer's <Events> form.
    let bare: String = evs.iter().map(|e| to_xml(e) + "\r\n").collect();
    let bare_path = write(dir.path(), "wevtutil.xml", &bare);
    let rooted = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Events>\r\n{bare}</Events>\r\n");
    let rooted_path = write(dir.path(), "saved.xml", &rooted);
    // evtx_dump -o jsonl: the crate's own record JSON, one per line.
    let mut p =
        EvtxParser::from_path(&evtx_path).unwrap().with_configuration(ParserSettings::new().indent(false));
    let jsonl: String = p.records_json().map(|r| r.unwrap().data + "\n").collect();
    let jsonl_path = write(dir.path(), "dump.jsonl", &jsonl);

    let (_d, lake) = temp_lake();
    let first = import_paths(&lake, std::slice::from_ref(&evtx_path)).await;
    assert_eq!(first.records, 3000);
    assert_eq!(first.quarantined, 0);
    let again = import_paths(&lake, &[evtx_path, bare_path, rooted_path, jsonl_path]).await;
    assert_eq!(again.records, 12_000, "{:?}", again.files);
    assert_eq!(again.quarantined, 0, "{:?}", again.files);
    assert_eq!(again.rows_new, 0, "every format is the same 3000 events: {:?}", again.tables);
    let rows = sql_rows(
        &lake,
        "SELECT (SELECT count(*) FROM writeback_events) AS wb, (SELECT count(*) FROM dc_security_events) AS dc, \
         (SELECT count(DISTINCT tracking_id) FROM writeback_events) AS tids",
    )
    .await;
    assert_eq!(n(&rows[0], "wb"), 2000);
    assert_eq!(n(&rows[0], "dc"), 1000);
    assert_eq!(n(&rows[0], "tids"), 2000);
    let one = sql_rows(
        &lake,
        "SELECT message, qualifiers, header_record_id, event_record_id, source_format FROM writeback_events \
         WHERE event_record_id = 1001",
    )
    .await;
    assert_eq!(one[0]["message"], "TrackingId: 3f369fe9-c121-4450-8661-000000000001, Start <&> \"quoted\" é");
    assert_eq!(one[0]["qualifiers"], 0);
    assert_eq!(one[0]["header_record_id"], 2);
    assert_eq!(one[0]["source_format"], "evtx");
}

#[tokio::test]
async fn powershell_exports_are_read_with_their_local_times() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "#TYPE System.Diagnostics.Eventing.Reader.EventLogRecord\r\n\
\"Message\",\"Id\",\"Version\",\"Qualifiers\",\"Level\",\"Task\",\"Opcode\",\"Keywords\",\"RecordId\",\"ProviderName\",\"ProviderId\",\"LogName\",\"ProcessId\",\"ThreadId\",\"MachineName\",\"UserId\",\"TimeCreated\",\"Properties\"\r\n\
\"TrackingId: 3f369fe9-c121-4450-8661-82b095bdbf0a, Couldn't connect to any service bus endpoint(s), Details:\",\"32001\",\"0\",\"0\",\"2\",\"0\",\"0\",\"36028797018963968\",\"812\",\"PasswordResetService\",\"\",\"Application\",\"4120\",\"5008\",\"AADC01.contoso.com\",\"\",\"11/3/2026 9:15:02 AM\",\"System.Collections.Generic.List`1[System.Diagnostics.Eventing.Reader.EventProperty]\"\r\n\
\"An attempt was made to reset an account's password.\r\n\r\nSubject:\r\n\tSecurity ID:\t\tS-1-5-21-1\r\n\tAccount Name:\t\tMSOL_73c8a9aa6173\r\n\tAccount Domain:\t\tCONTOSO\r\n\r\nTarget Account:\r\n\tSecurity ID:\t\tS-1-5-21-2\r\n\tAccount Name:\t\tUser01\r\n\tAccount Domain:\t\tCONTOSO\",\"4724\",\"0\",\"\",\"0\",\"13824\",\"0\",\"-9218868437227405312\",\"99\",\"Microsoft-Windows-Security-Auditing\",\"{54849625-5478-4994-a5ba-3e3b0328c30d}\",\"Security\",\"668\",\"2844\",\"DC01.contoso.com\",\"\",\"11/3/2026 9:15:03 AM\",\"System.Collections.Generic.List`1[System.Diagnostics.Eventing.Reader.EventProperty]\"\r\n\
\"short row\",\"1\"\r\n";
    let csv_path = write(dir.path(), "events.csv", csv);
    let json = r#"[{"Id":4724,"ProviderName":"Microsoft-Windows-Security-Auditing","Keywords":-9214364837600034816,
      "RecordId":100,"LogName":"Security","MachineName":"DC01.contoso.com","TimeCreated":"/Date(1793697303000)/",
      "Message":"An attempt was made to reset an account's password.",
      "Properties":[{"Value":"User02"},{"Value":"CONTOSO"},{"Value":{"BinaryLength":28,"Value":"S-1-5-21-3"}},
                    {"Value":"S-1-5-18"},{"Value":"MSOL_73c8a9aa6173"},{"Value":"CONTOSO"},{"Value":999}]},
     {"Id":"x","ProviderName":"ADSync"}]"#;
    let json_path = write(dir.path(), "events.json", json);
    let missing = write(dir.path(), "missing.csv", "\"Id\",\"Message\"\r\n\"1\",\"x\"\r\n");

    let (_d, lake) = temp_lake();
    let opts = sspr_analytics::collectors::import::ImportOptions {
        source_tz: "Europe/Berlin".parse().unwrap(),
        ..Default::default()
    };
    let s = sspr_analytics::collectors::import::import(&lake, &[csv_path, json_path], &opts, &|_| {})
        .await
        .unwrap();
    assert_eq!(s.quarantined, 2, "the short CSV row and the JSON record without a numeric Id: {:?}", s.files);
    assert_eq!(s.records, 5);
    let forced = sspr_analytics::collectors::import::ImportOptions {
        format: sspr_analytics::collectors::files::FileFormat::EventCsv,
        ..Default::default()
    };
    let m = sspr_analytics::collectors::import::import(&lake, &[missing], &forced, &|_| {}).await.unwrap();
    let m = &m.files[0];
    assert!(!m.complete && m.error.as_deref().unwrap().contains("ProviderName, TimeCreated"), "{m:?}");
    let wb = sql_rows(&lake, "SELECT tracking_id, CAST(time_created AS VARCHAR) AS t, keywords, event_record_id FROM writeback_events").await;
    assert_eq!(wb[0]["tracking_id"], "3f369fe9-c121-4450-8661-82b095bdbf0a");
    assert_eq!(wb[0]["t"], "2026-11-03T08:15:02Z", "Berlin 09:15 is 08:15 UTC");
    assert_eq!(wb[0]["keywords"], "0x80000000000000");
    let dc = sql_rows(
        &lake,
        "SELECT target_account, subject_account, audit_success, event_data_json FROM dc_security_events ORDER BY target_account",
    )
    .await;
    assert_eq!(dc.len(), 2);
    assert_eq!(
        (dc[0]["target_account"].as_str(), dc[0]["subject_account"].as_str()),
        (Some("User01"), Some("MSOL_73c8a9aa6173"))
    );
    assert_eq!(dc[0]["audit_success"], false, "keywords -9218868437227405312 = 0x8010… audit failure");
    assert_eq!(dc[1]["target_account"], "User02");
    assert!(dc[1]["event_data_json"].as_str().unwrap().contains("\"TargetSid\":\"S-1-5-21-3\""));
}

#[tokio::test]
async fn bad_xml_is_quarantined_with_its_line_and_the_rest_lands() {
    let dir = tempfile::tempdir().unwrap();
    let evs = events();
    let mut text = String::new();
    text.push_str(&to_xml(&evs[1]));
    text.push('\n');
    text.push_str("<Event><System><EventID>not a number</EventID></System></Event>\n");
    text.push_str(&to_xml(&evs[2]));
    text.push('\n');
    text.push_str(&to_xml(&evs[4])[..200]);
    let path = write(dir.path(), "broken.xml", &text);
    let (_d, lake) = temp_lake();
    let s = import_paths(&lake, &[path]).await;
    let f = &s.files[0];
    assert_eq!((f.records, f.quarantined), (4, 2), "{f:?}");
    assert!(!f.complete && f.error.as_deref().unwrap().contains("line 4"), "{f:?}");
    let rows = sql_rows(&lake, "SELECT count(*) AS n FROM writeback_events").await;
    assert_eq!(n(&rows[0], "n"), 2);
}

#[tokio::test]
async fn the_sample_event_logs_import_once_and_match_the_ground_truth() {
    let (_d, lake) = temp_lake();
    let gt = ground_truth().onprem;
    let s = import_paths(&lake, &[sample("eventlogs")]).await;
    assert_eq!(s.quarantined, 0, "{:?}", s.files);
    // The server's and the DC's logs are there twice (EVTX and an overlapping XML export):
    // what is not routed is skipped in both, what is routed is stored once.
    assert_eq!(s.skipped, gt.skipped_events);
    let counts = sql_rows(
        &lake,
        "SELECT (SELECT count(*) FROM writeback_events) AS wb, (SELECT count(*) FROM dc_security_events) AS dc, \
         (SELECT count(*) FROM credential_provider_events) AS cp",
    )
    .await;
    assert_eq!(n(&counts[0], "wb"), gt.writeback_events);
    assert_eq!(n(&counts[0], "dc"), gt.dc_security_events);
    assert_eq!(n(&counts[0], "cp"), gt.credential_provider_events);
    let again = import_paths(&lake, &[sample("eventlogs")]).await;
    assert_eq!(again.rows_new, 0);

    // Writeback operations carry the cloud session's correlation id as their TrackingId.
    let joined = sql_rows(
        &lake,
        "SELECT count(DISTINCT w.tracking_id) AS n FROM writeback_events w WHERE w.event_id = 31001",
    )
    .await;
    assert_eq!(n(&joined[0], "n"), gt.writeback_started);

    let errors = query_rows(&lake, "writeback_errors", &[]).await;
    for want in &gt.writeback_errors {
        let (provider, code) = want.key.split_once('/').unwrap();
        let got: u64 = errors
            .iter()
            .filter(|r| r["provider"] == provider && r["code"] == code)
            .map(|r| n(r, "events"))
            .sum();
        assert_eq!(got, want.events, "{want:?}");
    }
    let total: u64 = errors.iter().map(|r| n(r, "events")).sum();
    assert_eq!(total, gt.writeback_errors.iter().map(|r| r.events).sum::<u64>());
    let access =
        errors.iter().find(|r| r["detail"] == "RemoteSamAccessDenied").expect("6329 refined by message");
    assert_eq!(access["category"], "permissions");
    assert!(errors.iter().any(|r| r["code"] == "33008" && r["category"] == "policy"));

    let health = query_rows(&lake, "writeback_health", &[]).await;
    let gaps: Vec<&Value> = health.iter().filter(|r| r["kind"] == "heartbeat_gap").collect();
    assert_eq!(gaps.len(), gt.heartbeat_gaps.len());
    for (g, want) in gaps.iter().zip(&gt.heartbeat_gaps) {
        assert_eq!(n(g, "minutes") as i64, want.minutes);
    }
    let stops = health.iter().filter(|r| r["kind"] == "service_stopped").count() as u64;
    assert_eq!(stops, gt.service_stops);
    assert!(health.iter().any(|r| r["kind"] == "connectivity_errors"));

    let cp = query_rows(&lake, "credential_provider_errors", &[]).await;
    assert_eq!(cp.len(), gt.credential_provider_errors.len());
    for want in &gt.credential_provider_errors {
        let got = cp.iter().find(|r| r["computer"] == want.key.as_str()).unwrap();
        assert_eq!(n(got, "errors"), want.events, "{want:?}");
    }

    let dc = query_rows(&lake, "dc_password_resets", &[]).await;
    assert_eq!(dc.len(), gt.dc_password_resets.len());
    for want in &gt.dc_password_resets {
        let kind = if want.by_connector { "connector" } else { "other" };
        let result = if want.success { "success" } else { "failure" };
        let got = dc.iter().find(|r| r["actor_kind"] == kind && r["result"] == result).unwrap();
        assert_eq!(n(got, "resets"), want.events, "{want:?}");
    }
}

#[test]
fn configured_providers_are_kept_and_forwarded_classic_events_read_whole() {
    // A WEC-forwarded classic event: EventID and Qualifiers as text, several unnamed Data, a
    // 9-digit fractional time. Not kept by default; kept once the config names its provider.
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    let file = realdata("evtx/MSExchange_Management_wec.evtx");
    let o = crate::util::sspr(&["--lake", lake, "import", "--json", file.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{:?}", crate::util::text(&o));
    let s: Value = serde_json::from_str(&crate::util::text(&o).0).unwrap();
    assert_eq!((s["records"].as_u64(), s["skipped"].as_u64()), (Some(1), Some(1)), "{s}");

    let cfg =
        write(dir.path(), "sspr.toml", "[eventlog]\ncredential_providers = [\"MSExchange CmdletLogs\"]\n");
    let o = crate::util::sspr(
        &["--config", cfg.to_str().unwrap(), "--lake", lake, "import", "--json", file.to_str().unwrap()],
        &[],
    );
    assert!(o.status.success(), "{:?}", crate::util::text(&o));
    let o = crate::util::sspr(
        &[
            "--lake",
            lake,
            "query",
            "--format",
            "json",
            "--sql",
            "SELECT provider, event_id, qualifiers, level, event_record_id, channel, computer, message, \
             CAST(time_created AS VARCHAR) AS t FROM credential_provider_events",
        ],
        &[],
    );
    let rows: Vec<Value> = serde_json::from_str(&crate::util::text(&o).0).unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r["provider"], "MSExchange CmdletLogs");
    assert_eq!(
        (r["event_id"].as_i64(), r["qualifiers"].as_i64(), r["level"].as_i64()),
        (Some(1), Some(16384), Some(4))
    );
    assert_eq!(r["event_record_id"], 3229);
    assert_eq!(r["channel"], "MSExchange Management");
    assert_eq!(r["computer"], "WEC.ave.local");
    assert!(r["message"].as_str().unwrap().starts_with("Set-Mailbox\n-Identity"), "{r}");
    assert_eq!(r["t"], "2021-11-19T16:52:33.833733Z");
}

/// An event, or a problem (file offset, reason).
type ReadItem = Result<Option<sspr_analytics::collectors::eventlog::EventRecord>, (u64, String)>;

/// Every record of `path` read by `engine`, keeping what `keep` keeps: events and problems in
/// order, and how many chunks were read straight from BinXML.
fn read_evtx_with(
    path: &Path,
    engine: sspr_analytics::collectors::eventlog::evtx::Engine,
    keep: sspr_analytics::collectors::eventlog::evtx::Keep,
    threads: usize,
) -> (Vec<ReadItem>, u64) {
    use sspr_analytics::collectors::eventlog::evtx::read_with;
    let mut out = Vec::new();
    let stats =
        read_with(path, threads, keep, engine, |item| out.push(item.map_err(|b| (b.offset, b.reason))))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (out, stats.direct_chunks)
}

#[test]
fn reading_straight_from_binxml_gives_what_the_crates_xml_gives_for_every_record() {
    use sspr_analytics::collectors::eventlog::Routing;
    use sspr_analytics::collectors::eventlog::evtx::{Engine, Keep};
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(sample("eventlogs"))
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| e.path().to_path_buf())
        .filter(|p| p.extension().is_some_and(|x| x == "evtx"))
        .collect();
    for f in
        ["security.evtx", "post-Security.evtx", "Application_no_crc32.evtx", "MSExchange_Management_wec.evtx"]
    {
        files.push(realdata(&format!("evtx/{f}")));
    }
    files.push(realdata("evtx/sample_with_a_bad_chunk_magic.evtx"));
    // A damaged copy of a generated log: one record's BinXML overwritten in the second chunk.
    let mut bytes = std::fs::read(sample("eventlogs/DC01/Security.evtx")).unwrap();
    let at = 4096 + 65536 + 512 + 24 + 40;
    bytes[at..at + 16].fill(0xee);
    let damaged = dir.path().join("damaged.evtx");
    std::fs::write(&damaged, &bytes).unwrap();
    files.push(damaged);
    // Events with tricky text: markup, line ends, controls, non-BMP characters.
    let mut evs = events();
    evs[0].data[0].1 = "a\r\nb\rc\td <&> \"q\" '\u{1}' \u{1F600} \u{FFFF}".into();
    let tricky = dir.path().join("tricky.evtx");
    write_evtx(&tricky, &evs[..50]);
    files.push(tricky);

    let routing = Routing::default();
    let routed: Keep =
        std::sync::Arc::new(move |r| routing.route(r) != sspr_analytics::collectors::eventlog::Route::Skip);
    let all: Keep = std::sync::Arc::new(|_| true);
    let mut direct_somewhere = 0;
    for f in &files {
        for keep in [&all, &routed] {
            for threads in [1, 2] {
                let (want, _) = read_evtx_with(f, Engine::Crate, keep.clone(), threads);
                let (got, direct) = read_evtx_with(f, Engine::Direct, keep.clone(), threads);
                assert_eq!(got.len(), want.len(), "{}", f.display());
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(g, w, "{}: item {i}", f.display());
                }
                if f.starts_with(sample("eventlogs")) {
                    assert!(direct > 0, "{}: no chunk read directly", f.display());
                }
                direct_somewhere += direct;
            }
        }
    }
    assert!(direct_somewhere > 0);
}
