//! The coverage, reset and error reports of the report pack that read the derived tables, against
//! the generator's ground truth.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::util::{ground_truth, import_paths, query_rows, temp_lake, write};

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .or_else(|| v[k].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("{k} in {v}"))
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"))
}

#[tokio::test]
async fn coverage_reports_match_the_ground_truth() {
    let (_d, lake) = crate::util::shared_lake().await;
    let gt = ground_truth();
    // Enabled accounts only, as the portal counts, and with the disabled ones.
    for include_disabled in [false, true] {
        let params = [("include_disabled", if include_disabled { "true" } else { "false" })];
        let trend = query_rows(&lake, "registration_coverage_trend", &params).await;
        let mut want: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        for r in gt.coverage_daily.iter().filter(|r| include_disabled || r.account_enabled) {
            for slice in ["all".to_string(), r.user_type.clone()] {
                let e = want.entry((r.snapshot_date.to_string(), slice)).or_default();
                e.0 += r.users;
                e.1 += r.sspr_capable;
            }
        }
        assert_eq!(trend.len(), want.len());
        for ((date, slice), (users, capable)) in &want {
            let got = trend
                .iter()
                .find(|r| r["snapshot_date"] == date.as_str() && r["user_type"] == slice.as_str())
                .unwrap_or_else(|| panic!("no {date} {slice}"));
            assert_eq!((n(got, "users"), n(got, "sspr_capable")), (*users, *capable), "{date} {slice}");
        }
    }

    let all = gt.registration_coverage.iter().find(|r| r.user_type == "all").unwrap();
    let not_covered = query_rows(&lake, "users_not_covered", &[]).await;
    assert_eq!(not_covered.len() as u64, all.users - all.sspr_capable);
    let every = gt.registration_coverage_all_accounts.iter().find(|r| r.user_type == "all").unwrap();
    let with_disabled = query_rows(&lake, "users_not_covered", &[("include_disabled", "true")]).await;
    assert_eq!(with_disabled.len() as u64, every.users - every.sspr_capable);
    let first_non_admin = not_covered.iter().position(|r| r["role"] == "non-admin").unwrap();
    assert!(not_covered[..first_non_admin].iter().all(|r| r["role"] == "admin"), "admins first");
    assert!(not_covered[first_non_admin..].iter().all(|r| r["role"] == "non-admin"));

    let unregistered = query_rows(&lake, "new_users_unregistered", &[("days", "14")]).await;
    assert_eq!(unregistered.len() as u64, gt.new_users_unregistered_14d);
    assert!(unregistered.iter().all(|r| n(r, "days_since_created") >= 14));
    // Nobody in the sample loses coverage (the generator only adds registrations).
    assert!(query_rows(&lake, "coverage_lost", &[]).await.is_empty());
}

#[tokio::test]
async fn coverage_lost_finds_exactly_the_users_who_lost_it() {
    let dir = tempfile::tempdir().unwrap();
    let user = |id: &str, capable: bool, enabled: bool, methods: &str| {
        serde_json::json!({"id": id, "userPrincipalName": format!("{id}@contoso.example"), "userType": "member",
            "isAdmin": id == "a1", "isSsprRegistered": capable, "isSsprEnabled": enabled, "isSsprCapable": capable && enabled,
            "methodsRegistered": if methods.is_empty() { vec![] } else { methods.split(',').collect::<Vec<_>>() }})
    };
    let page = |users: Vec<Value>| serde_json::json!({"value": users}).to_string();
    let before = write(
        dir.path(),
        "2026-11-01/registration.json",
        &page(vec![
            user("a1", true, true, "mobilePhone"),
            user("u2", true, true, "email,mobilePhone"),
            user("u3", false, true, ""),
        ]),
    );
    let after = write(
        dir.path(),
        "2026-11-14/registration.json",
        &page(vec![
            user("a1", true, false, "mobilePhone"),
            user("u2", false, true, ""),
            user("u3", true, true, "email"),
        ]),
    );
    let (_d, lake) = temp_lake();
    import_paths(&lake, &[before, after]).await;
    let rows = query_rows(&lake, "coverage_lost", &[]).await;
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["user_principal_name"].as_str().unwrap(), r["change"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("a1@contoso.example", "no longer enabled by policy"),
            ("u2@contoso.example", "no longer registered")
        ]
    );
    assert_eq!(rows[1]["methods_then"], "email,mobilePhone");
}

/// `not_capable_since` is the first snapshot of the run of not-capable snapshots that reaches the
/// latest one, whatever came before it; a user capable again in the latest snapshot is not listed.
#[tokio::test]
async fn users_not_covered_dates_each_user_from_the_snapshot_they_stopped_being_capable() {
    let dir = tempfile::tempdir().unwrap();
    let user = |id: &str, capable: bool| {
        serde_json::json!({"id": id, "userPrincipalName": format!("{id}@contoso.example"), "userType": "member",
            "isAdmin": false, "isSsprRegistered": capable, "isSsprEnabled": true, "isSsprCapable": capable,
            "methodsRegistered": if capable { vec!["mobilePhone"] } else { vec![] }})
    };
    // (capable in the 1st, 2nd, 3rd snapshot) per user.
    let history = [
        ("lost", [true, false, false]),
        ("again", [false, true, false]),
        ("never", [false; 3]),
        ("back", [false, false, true]),
    ];
    let mut paths = Vec::new();
    for (i, day) in ["2026-11-01", "2026-11-08", "2026-11-14"].iter().enumerate() {
        let users: Vec<Value> = history.iter().map(|(id, c)| user(id, c[i])).collect();
        let page = serde_json::json!({"value": users}).to_string();
        paths.push(write(dir.path(), &format!("{day}/registration.json"), &page));
    }
    let (_d, lake) = temp_lake();
    import_paths(&lake, &paths).await;
    let rows = query_rows(&lake, "users_not_covered", &[]).await;
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["user_principal_name"].as_str().unwrap(), r["not_capable_since"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("never@contoso.example", "2026-11-01"),
            ("lost@contoso.example", "2026-11-08"),
            ("again@contoso.example", "2026-11-14")
        ]
    );
}

#[tokio::test]
async fn reset_reports_match_the_ground_truth() {
    let (_d, lake) = crate::util::shared_lake().await;
    let gt = ground_truth();
    let kinds = query_rows(&lake, "reset_by_client_kind", &[]).await;
    assert_eq!(kinds.len(), gt.attempts_by_client_kind.len());
    for want in &gt.attempts_by_client_kind {
        let got = kinds.iter().find(|r| r["client_kind"] == want.key.as_str()).unwrap();
        assert_eq!(n(got, "attempts"), want.attempts, "{want:?}");
        let ok =
            gt.succeeded_by_client_kind.iter().find(|r| r.key == want.key).map(|r| r.attempts).unwrap_or(0);
        assert_eq!(n(got, "succeeded"), ok, "{want:?}");
    }

    let funnel = query_rows(&lake, "reset_funnel", &[]).await;
    assert_eq!(n(&funnel[0], "attempts"), gt.sspr_sessions, "everyone identifies");
    assert_eq!(
        n(funnel.last().unwrap(), "attempts"),
        gt.sspr_sessions_succeeded,
        "the last stage is the reset"
    );
    assert!(funnel.windows(2).all(|w| n(&w[0], "attempts") >= n(&w[1], "attempts")), "{funnel:?}");

    let times = query_rows(&lake, "time_to_reset", &[]).await;
    let all = times.iter().find(|r| r["client_kind"] == "all").unwrap();
    assert_eq!(n(all, "resets"), gt.sspr_sessions_succeeded);
    for (k, want) in [
        ("p50_seconds", gt.time_to_reset_p50),
        ("p90_seconds", gt.time_to_reset_p90),
        ("p99_seconds", gt.time_to_reset_p99),
    ] {
        assert!((f(all, k) - want).abs() <= 0.051, "{k}: {} vs {want}", f(all, k));
    }
}

#[tokio::test]
async fn top_errors_this_week_counts_the_seven_days_before_to() {
    let (_d, lake) = crate::util::shared_lake().await;
    let rows = query_rows(&lake, "top_errors_this_week", &[("to", "2026-11-15T00:00:00Z")]).await;
    assert!(!rows.is_empty() && rows.len() <= 10);
    assert!(rows.windows(2).all(|w| n(&w[0], "events") >= n(&w[1], "events")));
    // Cross-check one code against the error stream itself.
    let top = &rows[0];
    let check = crate::util::sql_rows(
        &lake,
        &format!(
            "SELECT count(*) AS n FROM error_events WHERE source = '{}' AND code = '{}' \
             AND time >= TIMESTAMP '2026-11-08T00:00:00Z' AND time < TIMESTAMP '2026-11-15T00:00:00Z'",
            top["source"].as_str().unwrap(),
            top["code"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(n(&check[0], "n"), n(top, "events"));
}

#[tokio::test]
async fn security_signals_find_exactly_the_planted_cases() {
    let (_d, lake) = crate::util::shared_lake().await;
    let gt = ground_truth().signals;
    assert!(
        !gt.resets_per_ip.is_empty() && !gt.verification_recon.is_empty() && !gt.bulk_admin_resets.is_empty()
    );

    let blocked = query_rows(&lake, "blocked_users", &[]).await;
    let mut got: Vec<(String, u64)> = blocked
        .iter()
        .map(|r| (r["user_principal_name"].as_str().unwrap().to_string(), n(r, "blocked_attempts")))
        .collect();
    let mut want: Vec<(String, u64)> = gt.blocked_users.iter().map(|r| (r.key.clone(), r.attempts)).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);

    let per_ip = query_rows(&lake, "resets_per_ip", &[]).await;
    let got: Vec<(String, String, u64)> = per_ip
        .iter()
        .map(|r| {
            (r["ip"].as_str().unwrap().to_string(), r["utc_day"].as_str().unwrap().to_string(), n(r, "users"))
        })
        .collect();
    let want: Vec<(String, String, u64)> =
        gt.resets_per_ip.iter().map(|r| (r.ip.clone(), r.day.to_string(), r.users)).collect();
    assert_eq!(got, want);

    let recon = query_rows(&lake, "verification_recon", &[]).await;
    let got: Vec<(String, u64)> = recon
        .iter()
        .map(|r| (r["user_principal_name"].as_str().unwrap().to_string(), n(r, "attempts")))
        .collect();
    let want: Vec<(String, u64)> =
        gt.verification_recon.iter().map(|r| (r.key.clone(), r.attempts)).collect();
    assert_eq!(got, want);

    let bulk = query_rows(&lake, "bulk_admin_resets", &[]).await;
    let got: Vec<(String, u64)> =
        bulk.iter().map(|r| (r["admin"].as_str().unwrap().to_string(), n(r, "accounts"))).collect();
    let want: Vec<(String, u64)> = gt.bulk_admin_resets.iter().map(|r| (r.key.clone(), r.attempts)).collect();
    assert_eq!(got, want);
    let sim = query_rows(&lake, "sms_voice_only_resets_from_rare_ip", &[]).await;
    let got: Vec<String> = sim.iter().map(|r| r["correlation_id"].as_str().unwrap().to_string()).collect();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    assert_eq!(got_sorted, gt.sms_voice_only_resets_from_rare_ip);
    assert!(!got.is_empty());

    let rtr = query_rows(&lake, "register_then_reset", &[]).await;
    let mut got: Vec<String> =
        rtr.iter().map(|r| r["correlation_id"].as_str().unwrap().to_string()).collect();
    got.sort();
    assert_eq!(got, gt.register_then_reset);
    assert!(rtr.iter().any(|r| r["ip"] == "198.18.250.9"), "the planted case: {rtr:?}");

    // Lowering the threshold finds the ordinary admin resets too.
    let all = query_rows(&lake, "bulk_admin_resets", &[("min_accounts", "1")]).await;
    assert!(all.len() > bulk.len());
}

#[tokio::test]
async fn reset_by_method_matches_the_ground_truth() {
    let (_d, lake) = crate::util::shared_lake().await;
    let gt = ground_truth();
    let rows = query_rows(&lake, "reset_by_method", &[]).await;
    assert_eq!(rows.len(), gt.by_method.len());
    for want in &gt.by_method {
        let got =
            rows.iter().find(|r| r["method"] == want.method.as_str()).unwrap_or_else(|| panic!("{want:?}"));
        assert_eq!(
            (n(got, "started"), n(got, "completed"), n(got, "succeeded")),
            (want.started, want.completed, want.succeeded),
            "{want:?}"
        );
    }
}

#[tokio::test]
async fn day_buckets_follow_the_zone_across_a_dst_change() {
    // Europe/Brussels leaves summer time on 2026-10-25 at 01:00 UTC: that local day lasts 25 hours,
    // from 2026-10-24T22:00Z to 2026-10-25T23:00Z.
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<String> =
        [("s1", "2026-10-24T22:30:00Z"), ("s2", "2026-10-25T22:30:00Z"), ("s3", "2026-10-25T23:30:00Z")]
            .iter()
            .map(|(id, t)| crate::util::audit_record(id, t, "User submitted their user ID"))
            .collect();
    let file = write(dir.path(), "dst.json", &format!("{{\"value\":[{}]}}", records.join(",")));
    let (_d, lake) = temp_lake();
    import_paths(&lake, &[file]).await;
    sspr_analytics::query::build::build(&lake, &Default::default(), false).await.unwrap();
    let days = |rows: Vec<Value>| -> Vec<(String, u64)> {
        rows.iter().map(|r| (r["day"].as_str().unwrap().to_string(), n(r, "sessions_started"))).collect()
    };
    let local = days(query_rows(&lake, "reset_success_daily", &[("tz", "Europe/Brussels")]).await);
    assert_eq!(local, [("2026-10-25".to_string(), 2), ("2026-10-26".to_string(), 1)]);
    let utc = days(query_rows(&lake, "reset_success_daily", &[]).await);
    assert_eq!(utc, [("2026-10-24".to_string(), 1), ("2026-10-25".to_string(), 2)]);
}

#[tokio::test]
async fn every_saved_query_runs_on_spark_with_the_same_rows() {
    // Portable SQL: the saved queries run unchanged on Spark 3.5 over the same Parquet lake
    // (pyspark from tests/requirements.txt, a Java runtime from .ci/run).
    let (dir, _lake) = crate::util::shared_lake().await;
    // user_timeline needs a user: the generator's with the most sessions.
    let gt = crate::util::ground_truth();
    let story = gt.user_stories.iter().max_by_key(|s| s.sessions).expect("user stories");
    let user = format!("user_timeline:user={}", story.upn);
    let o = std::process::Command::new("python3")
        .arg(crate::util::repo().join("benches/peer/spark_queries.py"))
        .args(["--lake", dir.path().join("lake").to_str().unwrap(), "--sspr", env!("CARGO_BIN_EXE_sspr")])
        .args(["--param", &user])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "Spark disagrees (pip install -r tests/requirements.txt; Java 17):\n{out}\n{}",
        String::from_utf8_lossy(&o.stderr).lines().rev().take(20).collect::<Vec<_>>().join("\n")
    );
    let ok = out.lines().filter(|l| l.starts_with("ok")).count();
    assert_eq!(ok, sspr_analytics::query::saved::EMBEDDED.len(), "{out}");
    // Issue 23 item 4: every derived table's SQL on Spark gives what `sspr build` wrote, row for
    // row and column for column, so a lake that outgrows one machine is built there the same way.
    let derived = std::fs::read_dir(crate::util::repo().join("queries/derived")).unwrap().count();
    let same = out.lines().filter(|l| l.starts_with("derived ok")).count();
    assert_eq!(same, derived, "{out}");
}
