//! Every saved query over the sample lake, with the headline figures checked against the
//! generator's ground truth (computed from its own model, not from the lake).

use std::collections::BTreeMap;

use serde_json::Value;
use sspr_analytics::query::saved::Registry;

use crate::util::{ground_truth, query_rows, sql_rows};

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .or_else(|| v[k].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("{k} in {v}"))
}

#[tokio::test]
async fn every_saved_query_runs_on_the_sample_lake() {
    let (_d, lake) = crate::util::shared_lake().await;
    // coverage_lost is empty on the sample (nobody loses coverage), top_errors_this_week looks at
    // the week before now, after the sample's window, and unclassified_steps is empty when every
    // step string is known; each has its own tests.
    for q in Registry::load(None).unwrap().queries {
        if q.is_lookup() {
            continue; // user_timeline needs a user: tests/it/explain.rs
        }
        let rows = query_rows(&lake, &q.name, &[]).await;
        if !matches!(q.name.as_str(), "coverage_lost" | "top_errors_this_week" | "unclassified_steps") {
            assert!(!rows.is_empty(), "{} returned no rows on the sample", q.name);
        }
    }
}

/// The operators of a saved query's physical plan, one per line, without their arguments except
/// for the scans (what they read, and their predicates and pruning).
async fn operators(
    ctx: &datafusion::prelude::SessionContext,
    q: &sspr_analytics::query::saved::SavedQuery,
) -> Vec<String> {
    let params = q.bind(&BTreeMap::new(), &chrono_tz::UTC).unwrap();
    let plan = q.plan(ctx, params).await.unwrap().create_physical_plan().await.unwrap();
    let text = datafusion::physical_plan::displayable(plan.as_ref()).indent(true).to_string();
    text.lines()
        .map(|l| if l.contains("DataSourceExec") { l } else { l.split(':').next().unwrap_or_default() })
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn queries_planned_in_one_optimizer_pass_get_the_same_operators_as_with_three() {
    // `datafusion.optimizer.max_passes=1` skips the pass that only confirms a small report's plan
    // (a third of its planning time); it is only for queries whose plan one pass completes: the
    // same operators and the same scans. (registration_coverage_trend's one-pass plan keeps a
    // cast on its six output rows' grouping id that the second pass folds.)
    let (_d, lake) = crate::util::shared_lake().await;
    let ctx = sspr_analytics::query::context::build_context(&lake, &Default::default()).await.unwrap();
    let key = "datafusion.optimizer.max_passes";
    let one_pass: Vec<_> = Registry::load(None)
        .unwrap()
        .queries
        .into_iter()
        .filter(|q| q.settings.iter().any(|(k, _)| k == key))
        .collect();
    assert!(!one_pass.is_empty());
    for q in one_pass {
        let mut default = q.clone();
        default.settings.retain(|(k, _)| k != key);
        assert_eq!(operators(&ctx, &q).await, operators(&ctx, &default).await, "{}", q.name);
    }
}

#[tokio::test]
async fn all_audit_events_land_once_across_three_overlapping_exports() {
    // The first file to bring an id wins: Log Analytics and the archive first, Graph fills the rest.
    let (_d, lake) = crate::util::temp_lake();
    let order = ["log-analytics", "diagnostic-archive", "graph"].map(crate::util::sample);
    let s = crate::util::import_paths(&lake, &order).await;
    assert_eq!(s.quarantined, 0);
    let gt = ground_truth();
    let rows = sql_rows(&lake, "SELECT count(*) AS n, count(DISTINCT id) AS d FROM audit_events").await;
    assert_eq!(n(&rows[0], "n"), gt.audit_events);
    assert_eq!(n(&rows[0], "d"), gt.audit_events);
    let by_source =
        sql_rows(&lake, "SELECT source, count(*) AS n FROM audit_events GROUP BY source ORDER BY source")
            .await;
    let sources: Vec<&str> = by_source.iter().map(|r| r["source"].as_str().unwrap()).collect();
    assert_eq!(sources, ["diagnostic_archive", "graph", "log_analytics"]);
}

#[tokio::test]
async fn registration_coverage_matches_ground_truth() {
    let (_d, lake) = crate::util::shared_lake().await;
    let gt = ground_truth();
    // As the portal counts (enabled accounts), then with the disabled ones too.
    for (params, truth, accounts) in [
        (vec![], &gt.registration_coverage, "enabled only"),
        (vec![("include_disabled", "true")], &gt.registration_coverage_all_accounts, "enabled and disabled"),
    ] {
        coverage_matches(&query_rows(&lake, "registration_coverage", &params).await, truth, accounts);
    }
    let enabled = gt.registration_coverage.iter().find(|r| r.user_type == "all").unwrap().users;
    let all = gt.registration_coverage_all_accounts.iter().find(|r| r.user_type == "all").unwrap().users;
    assert!(enabled < all && all == gt.users, "the sample has disabled accounts: {enabled} of {all}");
    let rows = query_rows(&lake, "registration_coverage", &[]).await;
    assert_eq!(rows[0]["snapshot_date"], gt.latest_snapshot.unwrap().to_string());
}

fn coverage_matches(
    rows: &[serde_json::Value],
    truth: &[sspr_analytics::sample::truth::CoverageRow],
    accounts: &str,
) {
    assert_eq!(rows.len(), truth.len());
    assert!(rows.iter().all(|r| r["accounts"] == accounts), "{rows:?}");
    for want in truth {
        let got = rows
            .iter()
            .find(|r| r["user_type"] == want.user_type.as_str() && r["role"] == want.role.as_str())
            .unwrap_or_else(|| panic!("no row for {} / {}", want.user_type, want.role));
        assert_eq!(n(got, "users"), want.users, "{want:?}");
        assert_eq!(n(got, "sspr_registered"), want.sspr_registered, "{want:?}");
        assert_eq!(n(got, "sspr_enabled"), want.sspr_enabled, "{want:?}");
        assert_eq!(n(got, "sspr_capable"), want.sspr_capable, "{want:?}");
        assert_eq!(n(got, "mfa_capable"), want.mfa_capable, "{want:?}");
        assert_eq!(n(got, "passwordless_capable"), want.passwordless_capable, "{want:?}");
        let pct = (1000.0 * want.sspr_capable as f64 / want.users as f64).round() / 10.0;
        assert!((got["capable_pct"].as_f64().unwrap() - pct).abs() < 1e-9, "{got} vs {pct}");
    }
}

#[tokio::test]
async fn reset_success_daily_matches_ground_truth() {
    let (_d, lake) = crate::util::shared_lake().await;
    let gt = ground_truth();
    let rows = query_rows(&lake, "reset_success_daily", &[]).await;
    assert_eq!(rows.len(), gt.reset_success_daily.len());
    for (got, want) in rows.iter().zip(&gt.reset_success_daily) {
        assert_eq!(got["day"], want.day.to_string());
        assert_eq!(n(got, "sessions_started"), want.sessions_started, "{}", want.day);
        assert_eq!(n(got, "sessions_succeeded"), want.sessions_succeeded, "{}", want.day);
    }
    let total: u64 = rows.iter().map(|r| n(r, "sessions_started")).sum();
    assert_eq!(total, gt.sspr_sessions);
    // A window selects whole sessions by their start.
    let first = gt.reset_success_daily[0].day;
    let window = query_rows(
        &lake,
        "reset_success_daily",
        &[("from", &first.to_string()), ("to", &(first + chrono::Duration::days(1)).to_string())],
    )
    .await;
    assert_eq!(window.len(), 1);
    assert_eq!(n(&window[0], "sessions_started"), gt.reset_success_daily[0].sessions_started);
}

#[tokio::test]
async fn reset_success_daily_buckets_days_in_the_requested_time_zone() {
    let (_d, lake) = crate::util::shared_lake().await;
    let utc = query_rows(&lake, "reset_success_daily", &[]).await;
    let tokyo = query_rows(&lake, "reset_success_daily", &[("tz", "Asia/Tokyo")]).await;
    let sum = |rows: &[Value]| rows.iter().map(|r| n(r, "sessions_started")).sum::<u64>();
    assert_eq!(sum(&utc), sum(&tokyo), "every session counted once in any zone");
    // Sessions after 15:00 UTC fall on the next Tokyo day, so the buckets differ.
    let tokyo_days: Vec<_> = tokyo.iter().map(|r| r["day"].clone()).collect();
    let utc_days: Vec<_> = utc.iter().map(|r| r["day"].clone()).collect();
    assert_ne!(tokyo_days, utc_days);
    let late = sql_rows(
        &lake,
        "SELECT count(*) AS n FROM (SELECT correlation_id, min(activity_time) AS s FROM sspr_step_events GROUP BY correlation_id) WHERE local_date(s, 'Asia/Tokyo') > CAST(s AS DATE)",
    )
    .await;
    assert!(n(&late[0], "n") > 0);
}

#[tokio::test]
async fn reset_failures_by_reason_matches_ground_truth() {
    let (_d, lake) = crate::util::shared_lake().await;
    let gt = ground_truth();
    let rows = query_rows(&lake, "reset_failures_by_reason", &[]).await;
    let got: BTreeMap<(String, String), u64> = rows
        .iter()
        .map(|r| {
            (
                (r["outcome"].as_str().unwrap().to_string(), r["reason"].as_str().unwrap().to_string()),
                n(r, "sessions"),
            )
        })
        .collect();
    let want: BTreeMap<(String, String), u64> = gt
        .reset_failures_by_reason
        .iter()
        .map(|r| ((r.outcome.clone(), r.reason.clone()), r.sessions))
        .collect();
    assert_eq!(got, want);
    // Issue 19 item 17: both spellings of the insufficient-methods string (trailing space, trailing
    // period) are one reason, one row, with its SSPR code.
    let insufficient: Vec<_> = rows
        .iter()
        .filter(|r| r["reason"].as_str().unwrap().starts_with("User's account has insufficient"))
        .collect();
    assert_eq!(insufficient.len(), 1, "{insufficient:?}");
    assert!(insufficient.iter().all(|r| r["error_code"] == "SSPR_0014" && r["stage"] == "identify"));
    assert!(rows.iter().all(|r| !r["reason"].as_str().unwrap().ends_with(['.', ' '])), "{rows:?}");
}

#[tokio::test]
async fn error_codes_matches_ground_truth_with_meaning_and_resolution() {
    let (_d, lake) = crate::util::shared_lake().await;
    let gt = ground_truth();
    let rows = query_rows(&lake, "error_codes", &[]).await;
    let got: BTreeMap<String, u64> = rows
        .iter()
        .filter(|r| r["source"] == "cloud")
        .map(|r| (r["code"].as_str().unwrap().to_string(), n(r, "events")))
        .collect();
    let want: BTreeMap<String, u64> =
        gt.error_codes_cloud.iter().map(|c| (c.code.clone(), c.events)).collect();
    assert_eq!(got, want);
    // The trend splits the last fortnight of the window.
    assert!(rows.iter().all(|r| n(r, "last_7_days") + n(r, "previous_7_days") <= n(r, "events")));
    assert!(rows.iter().any(|r| n(r, "last_7_days") > 0 && n(r, "previous_7_days") > 0));
    // Issue 19 item 17: every code is a code (not a sentence), and every row says what it means
    // and what to do, the undocumented credential-provider ids and the 24-hour blocks included.
    for r in &rows {
        let code = r["code"].as_str().unwrap();
        assert!(!code.contains(' ') && code.len() <= 40, "a sentence as a code: {r}");
        for k in ["name", "meaning", "resolution"] {
            assert!(r[k].as_str().is_some_and(|v| !v.is_empty()), "{k} empty: {r}");
        }
    }
    assert!(rows.iter().any(|r| r["code"] == "blocked_24h"));
    assert!(rows.iter().any(|r| r["source"] == "AADPasswordResetCredentialProvider" && r["code"] == "1001"));
    let sspr_0029 = rows.iter().find(|r| r["code"] == "SSPR_0029").unwrap();
    assert_eq!(sspr_0029["name"], "OnPremisesAdminActionRequired");
    assert_eq!(sspr_0029["category"], "permissions");
    assert!(sspr_0029["resolution"].as_str().unwrap().contains("33004"));
}

#[tokio::test]
async fn unknown_step_strings_are_kept_and_counted_as_unclassified() {
    let (dir, lake) = crate::util::temp_lake();
    let page = format!(
        "{{\"value\":[{},{}]}}",
        crate::util::audit_record("a1", "2026-11-02T10:00:00Z", "User submitted their user ID"),
        crate::util::audit_record("a2", "2026-11-02T10:00:05Z", "User tried a brand new verification flow")
    );
    let f = crate::util::write(dir.path(), "in/page.json", &page);
    crate::util::import_paths(&lake, &[f]).await;
    let rows = sql_rows(&lake, "SELECT id, outcome, result_reason FROM sspr_step_events ORDER BY id").await;
    assert_eq!(rows[0]["outcome"], "progress");
    assert_eq!(rows[1]["outcome"], "unclassified");
    assert_eq!(rows[1]["result_reason"], "User tried a brand new verification flow");
    sspr_analytics::query::build::build(&lake, &Default::default(), false).await.unwrap();
    let failures = query_rows(&lake, "reset_failures_by_reason", &[]).await;
    assert_eq!(failures[0]["outcome"], "unclassified");
}

/// Issue 23: the step strings Microsoft's own SSPR Reset Funnel workbook
/// (microsoft/Application-Insights-Workbooks, "Workbooks/Azure Active Directory/SSPR Reset
/// Funnel") classifies, as Entra writes them, are each matched by a row of `sspr_steps` with the
/// outcome the workbook gives them; and `unclassified_steps` lists only the string no rule knows.
#[tokio::test]
async fn the_workbooks_step_strings_are_classified_and_only_new_wording_is_listed() {
    let known = [
        ("User entered too many invalid email verification codes and is blocked for 24 hours", "blocked"),
        ("User tried email verification too many times and is blocked for 24 hours", "blocked"),
        ("User entered too many invalid SMS verification codes and is blocked for 24 hours", "blocked"),
        ("User submitted a password that did not meet the requirements of the AD on-prem policy", "failed"),
        ("A system error occurred while attempting to reset the user's password", "failed"),
        (
            "User submitted a password that did not meet the security requirements of the cloud password policy: password was null or empty",
            "failed",
        ),
        ("User successfully unlocked the account", "succeeded"),
        (
            "The user selected a password that was automatically banned because the Microsoft Banned Password Detection capabilities found it to be too common or especially weak.",
            "failed",
        ),
        (
            "We could not reach your on-premises password reset service. Check your sync machine's event log",
            "failed",
        ),
        ("User completed all verification steps required to reset their password", "progress"),
        (
            "Password reset has been disabled entirely for this tenant. See http://aka.ms/ssprtroubleshoot to resolve this.",
            "failed",
        ),
    ];
    let (dir, lake) = crate::util::temp_lake();
    let mut records: Vec<String> = known
        .iter()
        .enumerate()
        .map(|(i, (reason, _))| {
            crate::util::audit_record(&format!("k{i:02}"), "2026-11-02T10:00:00Z", reason)
        })
        .collect();
    let new = "User tried a brand new verification flow";
    records.push(crate::util::audit_record("n1", "2026-11-03T09:00:00Z", new));
    records.push(crate::util::audit_record("n2", "2026-11-04T09:30:00Z", &format!("  {new}")));
    let f = crate::util::write(dir.path(), "in/page.json", &format!("{{\"value\":[{}]}}", records.join(",")));
    crate::util::import_paths(&lake, &[f]).await;
    let rows = sql_rows(
        &lake,
        "SELECT id, outcome, pattern, stage, pattern_stage, category, pattern_category FROM sspr_step_events ORDER BY id",
    )
    .await;
    for (i, (reason, outcome)) in known.iter().enumerate() {
        let row = &rows[i];
        assert_eq!(row["id"], format!("k{i:02}"));
        assert!(!row["pattern"].is_null(), "no rule for {reason:?}");
        assert_eq!(row["outcome"], *outcome, "{reason:?}");
        // The matched pattern's own columns, which queries filter on to reach the patterns
        // before the events: for a flow step they are the step's stage and category.
        assert_eq!(
            (&row["pattern_stage"], &row["pattern_category"]),
            (&row["stage"], &row["category"]),
            "{reason:?}"
        );
    }
    // A string no pattern knows has none: a filter on them never keeps it.
    for row in rows.iter().filter(|r| r["id"] == "n1" || r["id"] == "n2") {
        assert!(row["pattern_stage"].is_null() && row["pattern_category"].is_null(), "{row:?}");
    }
    let listed = query_rows(&lake, "unclassified_steps", &[]).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["result_reason"], new);
    assert_eq!((listed[0]["events"].as_i64(), listed[0]["sessions"].as_i64()), (Some(2), Some(2)));
    assert_eq!(listed[0]["first_seen"].as_str().map(|t| &t[..10]), Some("2026-11-03"));
}

/// Every step string the sample tenant writes is known: the report that finds new wording is
/// empty on it.
#[tokio::test]
async fn the_sample_tenant_has_no_unclassified_step_string() {
    let lake = sspr_analytics::store::Lake::open(&crate::util::shared_lake_arg()).unwrap();
    assert_eq!(query_rows(&lake, "unclassified_steps", &[]).await, Vec::<serde_json::Value>::new());
}

/// Issue 19 item 17: a machine's top event id, HRESULT, count and example describe the same
/// events (the example was the smallest message of any HRESULT).
#[tokio::test]
async fn credential_provider_errors_pair_each_hresult_with_its_own_example() {
    let lake = sspr_analytics::store::Lake::open(&crate::util::shared_lake_arg()).unwrap();
    let rows = query_rows(&lake, "credential_provider_errors", &[]).await;
    assert!(!rows.is_empty());
    let all = crate::util::sql_rows(
        &lake,
        "SELECT computer, event_id, coalesce(hresult, '') AS hresult, count(*) AS n, substr(min(message), 1, 200) AS example \
         FROM credential_provider_events WHERE level IN (1, 2, 3) GROUP BY 1, 2, 3",
    )
    .await;
    for r in &rows {
        let computer = r["computer"].as_str().unwrap();
        let hresult = r["top_hresult"].as_str().unwrap_or("");
        let same = all
            .iter()
            .find(|a| {
                a["computer"] == computer && a["event_id"] == r["top_event_id"] && a["hresult"] == hresult
            })
            .unwrap_or_else(|| panic!("{r}"));
        assert_eq!(n(same, "n"), n(r, "top_events"), "{r}");
        assert_eq!(same["example"], r["example"], "{r}");
        let most = all.iter().filter(|a| a["computer"] == computer).map(|a| n(a, "n")).max().unwrap();
        assert_eq!(n(r, "top_events"), most, "{r}");
    }
}
