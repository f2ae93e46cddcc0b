//! Importers: idempotency, every bad-input shape, and the real Log Analytics export.

use sspr_analytics::store::quarantine::read_all;

use crate::util::{audit_record, import_paths, realdata, sample_exports, sql_rows, temp_lake, write};

/// Every data file's bytes, keyed by path relative to the lake.
fn snapshot(dir: &std::path::Path, table: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = walkdir::WalkDir::new(dir.join("lake").join(table))
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (e.path().strip_prefix(dir).unwrap().display().to_string(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn importing_the_same_files_twice_leaves_the_data_unchanged() {
    let (dir, lake) = temp_lake();
    let first = import_paths(&lake, &sample_exports()).await;
    assert!(first.rows_new > 0);
    let tables = [
        "audit_events",
        "registration_details",
        "users",
        "writeback_events",
        "credential_provider_events",
        "dc_security_events",
    ];
    let before: Vec<_> = tables.iter().map(|t| snapshot(dir.path(), t)).collect();
    let second = import_paths(&lake, &sample_exports()).await;
    assert_eq!(second.rows_new, 0);
    assert_eq!(second.partitions_published, 0, "no partition is rewritten");
    assert_eq!(
        second.duplicates as u64 + second.skipped,
        second.records,
        "every record is a duplicate or not kept"
    );
    let after: Vec<_> = tables.iter().map(|t| snapshot(dir.path(), t)).collect();
    assert_eq!(before, after, "partition files are byte-identical");
    // The ledger records both runs, one row per file plus a run row each.
    let runs = sql_rows(&lake, "SELECT count(DISTINCT run_id) AS r, sum(CASE WHEN item = 'run' THEN rows_new END) AS new FROM ingest_ledger").await;
    assert_eq!(runs[0]["r"], 2);
    assert_eq!(runs[0]["new"].as_i64().unwrap() as usize, first.rows_new);
}

#[tokio::test]
async fn the_real_log_analytics_export_imports_with_ids_times_ips_and_user_agents() {
    let (_d, lake) = temp_lake();
    let s = import_paths(&lake, &[realdata("entra/AADAuditEvents.json")]).await;
    assert_eq!(s.records, 4);
    assert_eq!(s.quarantined, 0);
    assert_eq!(s.rows_new, 3, "two lines of the export carry the same Id");
    let rows = sql_rows(
        &lake,
        "SELECT id, CAST(activity_time AS VARCHAR) AS t, event_date, actor_ip, actor_upn, actor_user_id, user_agent, activity, \
         logged_by_service, correlation_id, tenant_id, source, target_resources_json, extra_json FROM audit_events ORDER BY activity_time",
    )
    .await;
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "Directory_ae69aa7a-e9b7-4066-84f2-58582994d8cb_7H1JL_8584070",
            "Directory_630d7f0c-acc4-4596-85ab-7e5d839b4291_9VRQI_37762000",
            "Directory_10065ffb-8199-48bc-8ff5-912cb5b8295a_AUMVX_13992832",
        ]
    );
    assert_eq!(rows[2]["t"], "2021-08-02T13:29:25.983Z");
    assert_eq!(rows[0]["t"], "2021-08-02T13:25:12.246Z");
    for r in &rows {
        assert_eq!(r["event_date"], "2021-08-02");
        assert!(r.get("actor_ip").is_none(), "the export has ipAddress null: {r}");
        assert_eq!(r["actor_upn"], "pgustavo@simulandlabs.com");
        assert_eq!(r["actor_user_id"], "aead923d-498b-4f64-a66c-2af91447a8b6");
        assert_eq!(
            r["user_agent"],
            "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.17763.1971"
        );
        assert_eq!(r["logged_by_service"], "Core Directory");
        assert_eq!(r["tenant_id"], "00000000-0000-0000-0000-000000000000");
        assert_eq!(r["source"], "log_analytics");
        let extra: serde_json::Value = serde_json::from_str(r["extra_json"].as_str().unwrap()).unwrap();
        assert_eq!(extra["SourceSystem"], "Azure AD", "unmodelled columns are kept");
        assert!(extra.get("Type").is_some());
        assert!(extra.get("TimeGenerated").is_some());
        let targets: serde_json::Value =
            serde_json::from_str(r["target_resources_json"].as_str().unwrap()).unwrap();
        assert!(targets[0]["type"].is_string() && targets[0]["id"].is_string(), "{targets}");
    }
    assert_eq!(
        rows[2]["activity"], "Update application – Certificates and secrets management ",
        "text kept verbatim"
    );
}

#[tokio::test]
async fn bad_records_are_quarantined_with_file_line_and_reason_and_the_rest_lands() {
    let (dir, lake) = temp_lake();
    let good = audit_record("ok-1", "2026-11-02T10:00:00Z", "User submitted their user ID");
    let lines = [
        good.clone(),
        "{\"id\": \"broken\", \"activityDateTime\": ".to_string() + "\"2026-11-02T10:00:00Z\", oops}",
        audit_record("bad-time", "yesterday at noon", "x"),
        r#"{"id":"bad-type","isSsprRegistered":"maybe","userPrincipalName":"a@b"}"#.to_string(),
        r#"{"something":"else"}"#.to_string(),
        audit_record("ok-2", "2026-11-02T10:00:01Z", "User was presented with verification options"),
    ];
    let f = write(dir.path(), "in/mixed.jsonl", &(lines.join("\n") + "\n"));
    let s = import_paths(&lake, std::slice::from_ref(&f)).await;
    assert_eq!(s.records, 6);
    assert_eq!(s.quarantined, 4);
    assert_eq!(s.rows_new, 2);
    assert!(s.files[0].complete);
    let q = read_all(&lake.root).await.unwrap();
    let by_line: Vec<(u64, &str)> = q.iter().map(|e| (e.line, e.reason.as_str())).collect();
    assert_eq!(by_line.len(), 4);
    assert_eq!(by_line[0].0, 2);
    assert!(by_line[0].1.contains("invalid JSON"), "{by_line:?}");
    assert_eq!(by_line[1].0, 3);
    assert!(by_line[1].1.contains("activityDateTime") && by_line[1].1.contains("yesterday"), "{by_line:?}");
    assert_eq!(by_line[2].0, 4);
    assert!(by_line[2].1.contains("isSsprRegistered") && by_line[2].1.contains("maybe"), "{by_line:?}");
    assert!(by_line[3].1.contains("unrecognised record"), "{by_line:?}");
    assert!(q.iter().all(|e| e.source_file.ends_with("in/mixed.jsonl") && !e.raw.is_empty()));
    assert_eq!(q[1].raw, lines[2], "the raw record is kept verbatim");
}

#[tokio::test]
async fn a_truncated_page_keeps_its_complete_records_and_quarantines_the_tail() {
    let (dir, lake) = temp_lake();
    let recs: Vec<String> = (0..5)
        .map(|i| {
            audit_record(&format!("t{i}"), &format!("2026-11-03T10:00:0{i}Z"), "User submitted their user ID")
        })
        .collect();
    let page = format!("{{\"@odata.context\":\"x\",\"value\":[\n{}\n]}}", recs.join(",\n"));
    let cut = page.find("\"t3\"").unwrap() + 10;
    let f = write(dir.path(), "in/truncated.json", &page[..cut]);
    let other = write(
        dir.path(),
        "in/z-other.json",
        &format!("{{\"value\":[{}]}}", audit_record("z1", "2026-11-03T11:00:00Z", "x")),
    );
    let s = import_paths(&lake, &[f, other]).await;
    let report = &s.files[0];
    assert!(!report.complete);
    assert!(report.error.as_deref().unwrap().contains("truncated"), "{report:?}");
    assert_eq!(s.rows_new, 4, "t0..t2 from the cut page, z1 from the next file");
    let q = read_all(&lake.root).await.unwrap();
    assert_eq!(q.len(), 1);
    assert!(q[0].raw.contains("\"t3\""), "the cut record is in the quarantine");
    assert!(s.files[1].complete);
}

#[tokio::test]
async fn garbage_missing_files_wrong_types_and_unknown_fields_never_panic() {
    let (dir, lake) = temp_lake();
    let garbage = write(dir.path(), "in/a-garbage.json", "\u{0}\u{1}binary");
    let not_utf8 = dir.path().join("in/b-latin1.jsonl");
    std::fs::write(&not_utf8, b"{\"id\":\"x\xff\"}\n").unwrap();
    let mut rec: serde_json::Value =
        serde_json::from_str(&audit_record("u-1", "2026-11-04T10:00:00Z", "x")).unwrap();
    rec["someNewField"] = serde_json::json!({"nested": [1, 2]});
    rec["result"] = serde_json::json!(0);
    let unknown = write(dir.path(), "in/c-unknown.json", &rec.to_string());
    let csv = write(
        dir.path(),
        "in/d-bad.csv",
        "Id,ActivityDateTime,OperationName\nx1,2026-11-04T10:00:00Z\nx2,2026-11-04T10:00:00Z,Reset password (self-service)\n",
    );
    let missing = dir.path().join("in/nope.json");
    let s = import_paths(&lake, &[garbage, not_utf8, unknown, csv, missing]).await;
    let by_name = |n: &str| s.files.iter().find(|f| f.path.contains(n)).unwrap();
    assert!(!by_name("a-garbage").complete);
    assert!(by_name("a-garbage").error.as_deref().unwrap().contains("line 1"));
    assert_eq!(by_name("b-latin1").quarantined, 1);
    assert_eq!(by_name("d-bad.csv").quarantined, 1, "the short row");
    assert!(by_name("nope.json").error.as_deref().unwrap().contains("no such file"));
    let rows = sql_rows(
        &lake,
        "SELECT id, result, extra_json, client_type, user_agent, actor_ip FROM audit_events ORDER BY id",
    )
    .await;
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["u-1", "x2"]);
    assert_eq!(rows[0]["result"], "0", "a number where text is expected is kept as its JSON text");
    assert_eq!(rows[0]["extra_json"], r#"{"someNewField":{"nested":[1,2]}}"#);
    assert_eq!(
        rows[0]["client_type"], "WindowsLogonScreen",
        "additionalDetails key matched case-insensitively"
    );
    assert_eq!(rows[0]["user_agent"], "UA/1");
    assert_eq!(rows[0]["actor_ip"], "203.0.113.9");
}

#[tokio::test]
async fn diagnostic_archive_falls_back_to_envelope_fields() {
    let (dir, lake) = temp_lake();
    let line = serde_json::json!({
        "time": "2026-11-05T08:00:01.1234567Z", "operationName": "Reset password (self-service)", "category": "AuditLogs",
        "tenantId": "tid-1", "callerIpAddress": "198.51.100.7", "correlationId": "c-9", "resultDescription": "Successfully completed reset.",
        "Level": 4, "properties": {"id": "d-1", "activityDisplayName": "Reset password (self-service)", "loggedByService": "Self-service Password Management",
        "result": "success", "resultReason": "Successfully completed reset.", "activityDateTime": "2026-11-05T08:00:01.123456+00:00",
        "initiatedBy": {"user": {"id": "u9", "ipAddress": null}}}
    });
    let f = write(
        dir.path(),
        "insights-logs-auditlogs/tenantId=tid-1/y=2026/m=11/d=05/h=08/m=00/PT1H.json",
        &format!("{line}\r\n{line}\r\n"),
    );
    let s = import_paths(&lake, &[dir.path().join("insights-logs-auditlogs")]).await;
    assert_eq!((s.records, s.rows_new, s.quarantined), (2, 1, 0));
    let r = &sql_rows(&lake, "SELECT * FROM audit_events").await[0];
    assert_eq!(r["actor_ip"], "198.51.100.7");
    assert_eq!(r["tenant_id"], "tid-1");
    assert_eq!(r["correlation_id"], "c-9");
    assert_eq!(r["source"], "diagnostic_archive");
    assert_eq!(r["activity_time"], "2026-11-05T08:00:01.123456Z");
    let _ = f;
}

#[tokio::test]
async fn an_array_of_pages_and_a_log_analytics_csv_import() {
    let (dir, lake) = temp_lake();
    let pages = format!(
        "[{{\"@odata.nextLink\":\"https://graph.microsoft.com/v1.0/auditLogs/directoryAudits?$skiptoken=x\",\"value\":[{},{}]}},\n {{\"value\":[{}]}}]",
        audit_record("p1", "2026-11-08T10:00:00Z", "a"),
        audit_record("p2", "2026-11-08T10:00:01Z", "b"),
        audit_record("p3", "2026-11-09T10:00:00Z", "c")
    );
    let f = write(dir.path(), "in/pages.json", &pages);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "TimeGenerated",
        "Id",
        "ActivityDateTime",
        "ActivityDisplayName",
        "LoggedByService",
        "Result",
        "ResultReason",
        "CorrelationId",
        "InitiatedBy",
        "AdditionalDetails",
        "TargetResources",
        "AADTenantId",
    ])
    .unwrap();
    w.write_record([
        "2026-11-09T11:00:00.000Z",
        "csv-1",
        "2026-11-09T11:00:00.1234567Z",
        "Reset password (self-service)",
        "Self-service Password Management",
        "success",
        "Successfully completed reset.",
        "c-1",
        r#"{"user":{"id":"u1","userPrincipalName":"u1@contoso.example","ipAddress":"192.0.2.5"}}"#,
        r#"[{"key":"User-Agent","value":"Mozilla/5.0 test"}]"#,
        r#"[{"id":"u1","type":"User","userPrincipalName":"u1@contoso.example"}]"#,
        "tid",
    ])
    .unwrap();
    let c = write(dir.path(), "in/AuditLogs.csv", &String::from_utf8(w.into_inner().unwrap()).unwrap());
    let s = import_paths(&lake, &[f, c]).await;
    assert_eq!((s.records, s.rows_new, s.quarantined), (4, 4, 0));
    assert_eq!(s.files[0].pages, 2);
    let r = &sql_rows(&lake, "SELECT * FROM audit_events WHERE id = 'csv-1'").await[0];
    assert_eq!(r["actor_ip"], "192.0.2.5");
    assert_eq!(r["user_agent"], "Mozilla/5.0 test");
    assert_eq!(r["target_upn"], "u1@contoso.example");
    assert_eq!(r["source"], "log_analytics_csv");
    assert_eq!(r["activity_time"], "2026-11-09T11:00:00.123456Z");
    let parts = sql_rows(
        &lake,
        "SELECT event_date, count(*) AS n FROM audit_events GROUP BY event_date ORDER BY event_date",
    )
    .await;
    assert_eq!(
        parts,
        vec![
            serde_json::json!({"event_date": "2026-11-08", "n": 2}),
            serde_json::json!({"event_date": "2026-11-09", "n": 2})
        ]
    );
}

/// A folder of pages is parsed several files at once, each page as one document; a page read
/// alone goes through the splitter. Both give the same rows and the same quarantine entries (line,
/// byte offset, reason, raw) — here for a page with a byte-order mark, blank lines before it, and
/// a bad record on its fourth line.
#[tokio::test]
async fn pages_parsed_whole_and_pages_split_give_the_same_rows_and_quarantine() {
    let page = format!(
        "\u{feff}\n\n{{\"@odata.context\":\"x\",\"value\":[\n{},\n{},\n{}\n]}}\n",
        audit_record("p1", "2026-11-05T10:00:00Z", "User submitted their user ID"),
        audit_record("p2", "not a time", "x"),
        audit_record("p3", "2026-11-05T10:00:02Z", "User submitted their user ID"),
    );
    let other = format!("{{\"value\":[{}]}}", audit_record("q1", "2026-11-05T11:00:00Z", "x"));
    let mut seen = Vec::new();
    for together in [false, true] {
        let (dir, lake) = temp_lake();
        let a = write(dir.path(), "in/a.json", &page);
        let mut paths = vec![a];
        if together {
            paths.push(write(dir.path(), "in/b.json", &other));
        }
        let s = import_paths(&lake, &paths).await;
        assert!(s.files.iter().all(|f| f.complete), "{:?}", s.files);
        let q: Vec<(u64, u64, String, String)> = read_all(&lake.root)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.line, e.offset, e.reason, e.raw))
            .collect();
        let ids = sql_rows(&lake, "SELECT id FROM audit_events WHERE id LIKE 'p%' ORDER BY id").await;
        seen.push((s.files[0].records, s.files[0].pages, q, ids));
    }
    assert_eq!(seen[0], seen[1]);
    let (records, pages, q, ids) = &seen[0];
    assert_eq!((*records, *pages), (3, 1));
    assert_eq!(ids, &vec![serde_json::json!({"id": "p1"}), serde_json::json!({"id": "p3"})]);
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].0, 5, "the bad record's line: BOM line, a blank line, the page's first line, p1");
    assert_eq!(q[0].1 as usize, page.find("{\"id\":\"p2\"").unwrap_or_else(|| page.find("p2").unwrap()));
    assert!(q[0].2.contains("not a time"), "{:?}", q[0]);
}
