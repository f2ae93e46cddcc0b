//! `sspr build`: every derived table against the generator's ground truth, change detection
//! (nothing to do twice; a new day rewrites only that day), determinism, and the writeback join
//! falling back to the domain controller's 4724 when the server's log is missing.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use sspr_analytics::query::build::build;
use sspr_analytics::query::context::QueryConfig;

use crate::util::{
    audit_record, ground_truth, import_paths, sample, sample_lake, sql_rows, temp_lake, write,
};

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .or_else(|| v[k].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("{k} in {v}"))
}

async fn counts(lake: &sspr_analytics::store::Lake, sql: &str) -> BTreeMap<String, u64> {
    sql_rows(lake, sql).await.iter().map(|r| (r["k"].as_str().unwrap_or("").to_string(), n(r, "n"))).collect()
}

#[tokio::test]
async fn derived_tables_match_the_ground_truth() {
    let (_d, lake) = sample_lake().await;
    let gt = ground_truth();
    let s = build(&lake, &QueryConfig::default(), false).await.unwrap();
    assert_eq!(s.tables.len(), 4);
    // Every derived file passes `lake verify`, its rows in the order its table declares.
    let report = sspr_analytics::store::verify::verify(&lake).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // reset_attempts: one row per session, with its true outcome and client kind.
    let total = sql_rows(
        &lake,
        "SELECT count(*) AS n, count(DISTINCT correlation_id) AS d FROM reset_attempts WHERE initiated_by = 'self'",
    )
    .await;
    assert_eq!((n(&total[0], "n"), n(&total[0], "d")), (gt.sspr_sessions, gt.sspr_sessions));
    let admin =
        sql_rows(&lake, "SELECT count(*) AS n FROM reset_attempts WHERE initiated_by = 'admin'").await;
    assert_eq!(n(&admin[0], "n"), gt.admin_resets);
    let by_outcome = counts(
        &lake,
        "SELECT outcome AS k, count(*) AS n FROM reset_attempts WHERE initiated_by = 'self' GROUP BY outcome",
    )
    .await;
    let want: BTreeMap<String, u64> =
        gt.attempts_by_outcome.iter().map(|r| (r.key.clone(), r.attempts)).collect();
    assert_eq!(by_outcome, want);
    let by_kind = counts(
        &lake,
        "SELECT client_kind AS k, count(*) AS n FROM reset_attempts WHERE initiated_by = 'self' GROUP BY client_kind",
    )
    .await;
    let want: BTreeMap<String, u64> =
        gt.attempts_by_client_kind.iter().map(|r| (r.key.clone(), r.attempts)).collect();
    assert_eq!(by_kind, want);
    // Writeback: every operation joined by TrackingId, with the on-premises outcome.
    let wb = counts(
        &lake,
        "SELECT concat(writeback_join, '/', writeback_outcome) AS k, count(*) AS n FROM reset_attempts \
         WHERE writeback_involved GROUP BY 1",
    )
    .await;
    let not_reached =
        gt.onprem.writeback_errors.iter().find(|r| r.key == "PasswordResetService/32001").unwrap().events;
    let want = BTreeMap::from([
        ("tracking_id/succeeded".to_string(), gt.onprem.writeback_succeeded),
        ("tracking_id/failed".to_string(), gt.onprem.writeback_failed),
        ("tracking_id/not_reached".to_string(), not_reached),
    ]);
    assert_eq!(wb, want);
    // Failed sessions keep their last step's reason and code.
    let codes = counts(
        &lake,
        "SELECT coalesce(error_code, failure_reason) AS k, count(*) AS n FROM reset_attempts \
         WHERE outcome IN ('failed', 'blocked') GROUP BY 1",
    )
    .await;
    let want: BTreeMap<String, u64> =
        gt.failed_attempts_by_code.iter().map(|r| (r.code.clone(), r.events)).collect();
    assert_eq!(codes, want);

    // registration_coverage_daily: every snapshot and slice.
    let rows = sql_rows(
        &lake,
        "SELECT CAST(snapshot_date AS VARCHAR) AS d, user_type, role, department, account_enabled, users, \
         sspr_registered, sspr_enabled, sspr_capable, mfa_capable FROM registration_coverage_daily",
    )
    .await;
    assert_eq!(rows.len(), gt.coverage_daily.len());
    for want in &gt.coverage_daily {
        let got = rows
            .iter()
            .find(|r| {
                r["d"] == want.snapshot_date.to_string().as_str()
                    && r["user_type"] == want.user_type.as_str()
                    && r["role"] == want.role.as_str()
                    && r["department"] == want.department.as_str()
                    && r["account_enabled"] == want.account_enabled
            })
            .unwrap_or_else(|| panic!("no row for {want:?}"));
        for (k, v) in [
            ("users", want.users),
            ("sspr_registered", want.sspr_registered),
            ("sspr_enabled", want.sspr_enabled),
            ("sspr_capable", want.sspr_capable),
            ("mfa_capable", want.mfa_capable),
        ] {
            assert_eq!(n(got, k), v, "{k} of {want:?}");
        }
    }

    // writeback_operations: start → success / failure per TrackingId.
    let ops =
        counts(&lake, "SELECT outcome AS k, count(*) AS n FROM writeback_operations GROUP BY outcome").await;
    assert_eq!(
        ops,
        BTreeMap::from([
            ("failed".to_string(), gt.onprem.writeback_failed),
            ("succeeded".to_string(), gt.onprem.writeback_succeeded)
        ])
    );
    let failed_codes = counts(
        &lake,
        "SELECT error_code AS k, count(*) AS n FROM writeback_operations WHERE outcome = 'failed' GROUP BY 1",
    )
    .await;
    let by = |k: &str| gt.onprem.writeback_errors.iter().find(|r| r.key == k).map(|r| r.events).unwrap_or(0);
    assert_eq!(
        failed_codes,
        BTreeMap::from([
            ("33004".to_string(), by("PasswordResetService/33004")),
            ("33008".to_string(), by("PasswordResetService/33008"))
        ])
    );

    // error_events: the cloud failures, the writeback errors and the credential-provider errors.
    let errors = counts(&lake, "SELECT source AS k, count(*) AS n FROM error_events GROUP BY source").await;
    let cloud: u64 = gt.error_codes_cloud.iter().map(|r| r.events).sum();
    let mut onprem: BTreeMap<String, u64> = BTreeMap::new();
    for r in &gt.onprem.writeback_errors {
        *onprem.entry(r.key.split('/').next().unwrap().to_string()).or_default() += r.events;
    }
    let client: u64 = gt.onprem.credential_provider_errors.iter().map(|r| r.events).sum();
    let mut want = onprem;
    want.insert("cloud".into(), cloud);
    want.insert("AADPasswordResetCredentialProvider".into(), client);
    assert_eq!(errors, want);
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "parquet"))
        .map(|e| {
            (
                e.path().strip_prefix(dir).unwrap().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn builds_touch_only_what_changed_and_are_deterministic() {
    let (dir, lake) = temp_lake();
    import_paths(&lake, &crate::util::sample_exports()).await;
    let cfg = QueryConfig::default();
    build(&lake, &cfg, false).await.unwrap();
    let derived = ["reset_attempts", "registration_coverage_daily", "writeback_operations", "error_events"];
    let snapshot = |d: &Path| -> BTreeMap<String, Vec<u8>> {
        derived
            .iter()
            .flat_map(|t| {
                files(&d.join("lake").join(t)).into_iter().map(move |(k, v)| (format!("{t}/{k}"), v))
            })
            .collect()
    };
    let first = snapshot(dir.path());

    // Nothing changed: nothing recomputed.
    let again = build(&lake, &cfg, false).await.unwrap();
    assert!(again.tables.iter().all(|t| t.dates.is_empty()), "{again:?}");

    // A new day with one failed session: only that day's partitions are written.
    let d = tempfile::tempdir().unwrap();
    let mut a = serde_json::from_str::<Value>(&audit_record(
        "SSGM_new_1",
        "2026-11-20T10:00:00Z",
        "User submitted their user ID",
    ))
    .unwrap();
    let mut b = serde_json::from_str::<Value>(&audit_record(
        "SSGM_new_2",
        "2026-11-20T10:00:30Z",
        "User's account has insufficient authentication methods defined. Add authentication info to resolve this",
    ))
    .unwrap();
    a["correlationId"] = "11111111-2222-3333-4444-555555555555".into();
    b["correlationId"] = "11111111-2222-3333-4444-555555555555".into();
    b["result"] = "failure".into();
    let file = write(d.path(), "new-day.json", &format!("{{\"value\":[{a},{b}]}}"));
    let s = import_paths(&lake, &[file]).await;
    assert_eq!(s.rows_new, 2);
    let day = build(&lake, &cfg, false).await.unwrap();
    let t = |name: &str| day.tables.iter().find(|t| t.table == name).unwrap();
    assert_eq!(t("reset_attempts").partitions_written, 1, "{day:?}");
    assert!(t("reset_attempts").dates.iter().any(|d| d.to_string() == "2026-11-20"));
    assert_eq!(t("error_events").partitions_written, 1, "{day:?}");
    assert_eq!(t("registration_coverage_daily").dates.len(), 0);
    let after = snapshot(dir.path());
    let changed: Vec<&String> = after.keys().filter(|k| first.get(*k) != after.get(*k)).collect();
    assert_eq!(
        changed,
        [
            "error_events/event_date=2026-11-20/part-0.parquet",
            "reset_attempts/attempt_date=2026-11-20/part-0.parquet"
        ]
        .iter()
        .collect::<Vec<_>>()
    );
    let row = sql_rows(&lake, "SELECT outcome, error_code, furthest_stage FROM reset_attempts WHERE correlation_id LIKE '11111111%'").await;
    assert_eq!(
        (row[0]["outcome"].as_str(), row[0]["error_code"].as_str()),
        (Some("failed"), Some("SSPR_0014"))
    );

    // A full rebuild gives the same bytes.
    let full = build(&lake, &cfg, true).await.unwrap();
    assert!(full.full && full.tables.iter().all(|t| t.partitions_written == 0), "{full:?}");
    assert_eq!(snapshot(dir.path()), after);
}

#[tokio::test]
async fn without_the_server_log_writeback_is_joined_through_the_dc_4724() {
    let (_d, lake) = temp_lake();
    let gt = ground_truth();
    let paths = [sample("graph"), sample("eventlogs/DC01")];
    import_paths(&lake, &paths).await;
    build(&lake, &QueryConfig::default(), false).await.unwrap();
    let got = counts(
        &lake,
        "SELECT concat(writeback_join, '/', writeback_outcome) AS k, count(*) AS n FROM reset_attempts \
         WHERE writeback_involved GROUP BY 1",
    )
    .await;
    let connector = |success: bool| {
        gt.onprem.dc_password_resets.iter().find(|r| r.by_connector && r.success == success).unwrap().events
    };
    assert_eq!(
        got,
        BTreeMap::from([
            ("user_time_window/failed".to_string(), connector(false)),
            ("user_time_window/succeeded".to_string(), connector(true)),
        ])
    );
}
