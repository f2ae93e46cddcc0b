//! Issue 23: the figures of the Entra portal's "Authentication methods" pages, held to the
//! generator's model (`ground_truth.json`) through the reference table that groups the methods.

use std::collections::BTreeMap;

use crate::util::{ground_truth, query_rows, repo, shared_lake};

/// `auth_methods.csv`: method → group, read as the queries read it.
fn groups() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(repo().join("queries/reference/auth_methods.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[2].to_string())
        })
        .collect()
}

fn n(v: &serde_json::Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"))
}

#[tokio::test]
async fn users_per_method_and_per_method_group_match_the_model() {
    let (_d, lake) = shared_lake().await;
    let gt = ground_truth();
    let groups = groups();
    let total: u64 = gt.method_sets.values().sum();
    let sets: Vec<(Vec<&str>, u64)> =
        gt.method_sets.iter().map(|(k, v)| (k.split(',').filter(|m| !m.is_empty()).collect(), *v)).collect();
    // Per method.
    let mut want: BTreeMap<&str, u64> = BTreeMap::new();
    for (methods, users) in &sets {
        for m in methods {
            *want.entry(m).or_default() += users;
        }
    }
    let rows = query_rows(&lake, "registration_by_method", &[]).await;
    let got: BTreeMap<&str, u64> =
        rows.iter().map(|r| (r["method"].as_str().unwrap(), n(r, "users"))).collect();
    assert_eq!(got, want);
    for r in &rows {
        let pct = (1000.0 * n(r, "users") as f64 / total as f64).round() / 10.0;
        assert_eq!(r["users_pct"].as_f64(), Some(pct), "{r}");
        assert_eq!(r["method_group"].as_str(), groups.get(r["method"].as_str().unwrap()).map(String::as_str));
    }
    // Per group: users with any method of it, and users whose strongest group it is.
    let order =
        ["phishing_resistant", "passwordless", "mfa", "temporary", "weak", "sspr_only", "password", "none"];
    let (mut with, mut strongest): (BTreeMap<&str, u64>, BTreeMap<&str, u64>) = Default::default();
    for (methods, users) in &sets {
        let mine: Vec<&str> = methods.iter().filter_map(|m| groups.get(*m).map(String::as_str)).collect();
        for g in order {
            if mine.contains(&g) {
                *with.entry(g).or_default() += users;
            }
        }
        let best = order.iter().find(|g| mine.contains(g)).copied().unwrap_or("none");
        *strongest.entry(best).or_default() += users;
    }
    let rows = query_rows(&lake, "registration_by_method_group", &[]).await;
    let names: Vec<&str> = rows.iter().map(|r| r["method_group"].as_str().unwrap()).collect();
    assert_eq!(names, order, "every group, strongest first");
    for r in &rows {
        let g = r["method_group"].as_str().unwrap();
        assert_eq!(n(r, "users_with"), with.get(g).copied().unwrap_or(0), "{g}");
        assert_eq!(n(r, "users_strongest"), strongest.get(g).copied().unwrap_or(0), "{g}");
    }
    assert_eq!(rows.iter().map(|r| n(r, "users_strongest")).sum::<u64>(), total, "each user once");
}

#[tokio::test]
async fn distinct_users_who_reset_match_the_model() {
    let (_d, lake) = shared_lake().await;
    let gt = ground_truth();
    let rows = query_rows(&lake, "reset_users", &[]).await;
    let got: Vec<(String, u64, u64, u64, u64)> = rows
        .iter()
        .map(|r| {
            let k = r["initiated_by"].as_str().unwrap().to_string();
            (k, n(r, "attempts"), n(r, "attempts_succeeded"), n(r, "users_tried"), n(r, "users_succeeded"))
        })
        .collect();
    assert_eq!(got, gt.reset_users);
    let self_row = &gt.reset_users[0];
    assert!(self_row.0 == "self" && self_row.3 < self_row.1, "some users tried more than once: {self_row:?}");
}

/// The hunts "resets outside business hours" and "admins resetting their own password often",
/// held to the model; the hours come from the config.
#[tokio::test]
async fn off_hours_resets_and_admins_resetting_themselves_match_the_model() {
    let (d, lake) = shared_lake().await;
    let gt = ground_truth();
    let rows = query_rows(&lake, "resets_outside_business_hours", &[]).await;
    let mut sessions: Vec<&str> = rows
        .iter()
        .filter(|r| r["initiated_by"] == "self")
        .map(|r| r["correlation_id"].as_str().unwrap())
        .collect();
    let mut want: Vec<&str> = gt.off_hours_sessions.iter().map(String::as_str).collect();
    sessions.sort_unstable();
    want.sort_unstable();
    assert_eq!(sessions, want);
    let admin = rows.iter().filter(|r| r["initiated_by"] == "admin").count() as u64;
    assert_eq!(admin, gt.off_hours_admin_resets);

    let rows = query_rows(&lake, "admin_self_resets", &[]).await;
    let got: Vec<(String, u64, u64)> = rows
        .iter()
        .map(|r| {
            (r["user_principal_name"].as_str().unwrap().to_string(), n(r, "attempts"), n(r, "succeeded"))
        })
        .collect();
    assert!(!got.is_empty());
    assert_eq!(got, gt.admin_self_resets);

    // [query] business_hours = [0, 24] leaves only the weekends; a reversed pair is refused.
    let cfg = d.path().join("hours.toml");
    std::fs::write(&cfg, "[query]\nbusiness_hours = [0, 24]\n").unwrap();
    let lake_arg = crate::util::shared_lake_arg();
    let o = crate::util::sspr(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--lake",
            &lake_arg,
            "-q",
            "query",
            "resets_outside_business_hours",
            "--format",
            "json",
        ],
        &[],
    );
    let (out, err) = crate::util::text(&o);
    assert!(o.status.success(), "{err}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert!(!rows.is_empty() && rows.iter().all(|r| r["weekday"] == "Sat" || r["weekday"] == "Sun"), "{out}");
    std::fs::write(&cfg, "[query]\nbusiness_hours = [18, 8]\n").unwrap();
    let o = crate::util::sspr(
        &["--config", cfg.to_str().unwrap(), "--lake", &lake_arg, "query", "reset_users"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(crate::util::text(&o).1.contains("[query] business_hours = [18, 8]"));
}

/// Resets, changes, unlocks, admin resets and registrations per day, held to the events the
/// generator wrote (UTC days); the sample plants password changes, a refused one every fourth
/// day, and unlocks.
#[tokio::test]
async fn password_activity_per_day_matches_the_generated_events() {
    let (_d, lake) = shared_lake().await;
    let gt = ground_truth();
    let rows = query_rows(&lake, "password_activity_daily", &[]).await;
    let mut got: BTreeMap<(String, String), (u64, u64, u64)> = BTreeMap::new();
    for r in &rows {
        let key = (r["day"].as_str().unwrap().to_string(), r["activity"].as_str().unwrap().to_string());
        got.insert(key, (n(r, "events"), n(r, "succeeded"), n(r, "failed")));
    }
    let mut want: BTreeMap<(String, String), (u64, u64, u64)> = BTreeMap::new();
    for w in &gt.activity_daily {
        let e = want.entry((w.day.to_string(), w.activity.clone())).or_default();
        e.0 += w.events;
        match w.result.as_str() {
            "success" => e.1 += w.events,
            "failure" => e.2 += w.events,
            _ => {}
        }
    }
    assert_eq!(got, want);
    for activity in
        ["Change password (self-service)", "Unlock user account (self-service)", "Reset password (by admin)"]
    {
        assert!(want.keys().any(|(_, a)| a == activity), "the sample plants {activity}");
    }
    assert!(
        want.iter().any(|((_, a), c)| a == "Change password (self-service)" && c.2 > 0),
        "a refused change"
    );
}

/// "3+ rejected new passwords in one attempt": the planted attempt (three refusals, then a
/// password the policy takes) and any random one, held to the model; with a lower threshold the
/// attempts that ended on their only refusal come in too.
#[tokio::test]
async fn attempts_with_repeated_password_refusals_match_the_model() {
    let (_d, lake) = shared_lake().await;
    let gt = ground_truth();
    let rows = query_rows(&lake, "repeated_password_rejections", &[]).await;
    let got: Vec<(String, String, u64, String)> = rows
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("correlation_id"), s("user_principal_name"), n(r, "rejected"), s("outcome"))
        })
        .collect();
    assert_eq!(got, gt.repeated_password_rejections);
    assert!(got.iter().any(|r| r.2 >= 3 && r.3 == "succeeded"), "the planted attempt: {got:?}");
    let one = query_rows(&lake, "repeated_password_rejections", &[("min_rejected", "1")]).await;
    let ended_refused = one.iter().filter(|r| n(r, "rejected") == 1 && r["outcome"] == "failed").count();
    assert!(ended_refused > 0 && one.len() == got.len() + ended_refused, "{one:?}");
}

/// "More than N resets or changes per user per day", across the cloud and the domain controller:
/// the planted user (two self-service resets, two changes at the DC) and whatever the random
/// events add up to, held to the model; the connector's writeback 4724s are not counted again.
#[tokio::test]
async fn accounts_with_many_password_operations_a_day_match_the_model() {
    let (_d, lake) = shared_lake().await;
    let gt = ground_truth();
    let rows = query_rows(&lake, "password_operations_per_user_daily", &[]).await;
    let got: Vec<(String, String, [u64; 5])> = rows
        .iter()
        .map(|r| {
            let k = ["self_resets", "admin_resets", "changes", "dc_changes", "dc_resets"];
            (r["account"].as_str().unwrap().into(), r["day"].as_str().unwrap().into(), k.map(|k| n(r, k)))
        })
        .collect();
    let want: Vec<(String, String, [u64; 5])> = gt
        .password_operations_per_user_daily
        .iter()
        .map(|w| {
            (
                w.account.clone(),
                w.day.to_string(),
                [w.self_resets, w.admin_resets, w.changes, w.dc_changes, w.dc_resets],
            )
        })
        .collect();
    assert_eq!(got, want);
    assert!(want.iter().any(|w| w.2[0] > 0 && w.2[3] > 0), "cloud and DC in one row: {want:?}");
    for r in &rows {
        assert_eq!(
            n(r, "total"),
            ["self_resets", "admin_resets", "changes", "dc_changes", "dc_resets"]
                .iter()
                .map(|k| n(r, k))
                .sum::<u64>()
        );
    }
}

/// Registrations, default-method changes and deletions per day and method, succeeded and failed,
/// held to the method each event was generated for (the query reads it back from the wording).
#[tokio::test]
async fn security_info_activity_per_method_and_day_matches_the_model() {
    let (_d, lake) = shared_lake().await;
    let gt = ground_truth();
    let rows = query_rows(&lake, "registration_activity_daily", &[]).await;
    let mut got: BTreeMap<(String, String, String), (u64, u64)> = BTreeMap::new();
    for r in &rows {
        let s = |k: &str| r[k].as_str().unwrap().to_string();
        assert_eq!(n(r, "events"), n(r, "succeeded") + n(r, "failed"), "{r}");
        got.insert((s("day"), s("activity"), s("method")), (n(r, "succeeded"), n(r, "failed")));
    }
    let mut want: BTreeMap<(String, String, String), (u64, u64)> = BTreeMap::new();
    for w in &gt.registration_activity_daily {
        let e = want.entry((w.day.to_string(), w.activity.clone(), w.method.clone())).or_default();
        match w.result.as_str() {
            "success" => e.0 += w.events,
            _ => e.1 += w.events,
        }
    }
    assert_eq!(got, want);
    assert!(!got.keys().any(|k| k.2 == "unrecognised"), "every generated wording is known");
    for activity in
        ["User registered security info", "User changed default security info", "User deleted security info"]
    {
        assert!(want.keys().any(|k| k.1 == activity), "the sample has {activity}");
    }
    assert!(want.values().any(|v| v.1 > 0), "and failures");
}

/// The per-user registration list: each filter, alone and together, gives as many users as the
/// model has for it (coverage per user type and role, method sets).
#[tokio::test]
async fn the_user_registration_list_and_its_filters_match_the_model() {
    let (_d, lake) = shared_lake().await;
    let gt = ground_truth();
    let count = |params: Vec<(&'static str, &'static str)>| {
        let lake = lake.clone();
        async move { query_rows(&lake, "user_registration_details", &params).await.len() as u64 }
    };
    let all = gt.registration_coverage.iter().find(|r| r.user_type == "all").unwrap();
    assert_eq!(count(vec![]).await, all.users);
    assert_eq!(count(vec![("capable", "not_sspr")]).await, all.users - all.sspr_capable);
    assert_eq!(count(vec![("capable", "mfa")]).await, all.mfa_capable);
    assert_eq!(count(vec![("capable", "passwordless")]).await, all.passwordless_capable);
    let every = gt.registration_coverage_all_accounts.iter().find(|r| r.user_type == "all").unwrap();
    assert!(every.users > all.users, "the sample has disabled accounts");
    assert_eq!(count(vec![("include_disabled", "true")]).await, every.users);
    for r in gt.registration_coverage.iter().filter(|r| r.user_type != "all") {
        let params = [("user_type", r.user_type.as_str()), ("role", r.role.as_str())];
        let got = query_rows(&lake, "user_registration_details", &params).await.len() as u64;
        assert_eq!(got, r.users, "{} {}", r.user_type, r.role);
    }
    for method in ["mobilePhone", "email", "microsoftAuthenticatorPush"] {
        let want: u64 =
            gt.method_sets.iter().filter(|(k, _)| k.split(',').any(|m| m == method)).map(|(_, v)| v).sum();
        assert_eq!(count(vec![("method", method)]).await, want, "{method}");
    }
    // Privileged admins: as many as the model's, each holding a role of privileged_roles.csv.
    let privileged = gt.registration_coverage_by_role.iter().find(|r| r.role == "privilegedAdmin").unwrap();
    let rows = query_rows(&lake, "user_registration_details", &[("role", "privileged")]).await;
    assert_eq!(rows.len() as u64, privileged.users);
    let names = [
        "Global Administrator",
        "Helpdesk Administrator",
        "User Administrator",
        "Authentication Administrator",
        "Security Administrator",
    ];
    assert!(
        rows.iter().all(|r| r["privileged_admin"] == true
            && names.iter().any(|n| r["admin_roles"].as_str().unwrap().contains(n))),
        "{rows:?}"
    );
    // Together: SMS users who cannot reset.
    let rows =
        query_rows(&lake, "user_registration_details", &[("method", "mobilePhone"), ("capable", "not_sspr")])
            .await;
    assert!(rows.iter().all(|r| {
        r["methods_registered"].as_str().unwrap().split(',').any(|m| m == "mobilePhone")
            && r["sspr_capable"] == false
            && r["account_enabled"] == true
    }));
}

/// The registration and reset event list: one row per reset attempt (self-service and admin) and
/// per security-info event, each filter keeping what the model says it should.
#[tokio::test]
async fn the_registration_and_reset_event_list_matches_the_model() {
    let (_d, lake) = shared_lake().await;
    let gt = ground_truth();
    let rows = query_rows(&lake, "sspr_activity_events", &[]).await;
    let count = |f: &dyn Fn(&serde_json::Value) -> bool| rows.iter().filter(|r| f(r)).count() as u64;
    assert_eq!(count(&|r| r["feature"] == "reset"), gt.sspr_sessions + gt.admin_resets);
    assert_eq!(
        count(&|r| r["feature"] == "reset" && r["status"] == "success"),
        gt.sspr_sessions_succeeded + gt.admin_resets
    );
    assert_eq!(count(&|r| r["feature"] == "registration"), gt.security_info_events);
    let failed_info: u64 =
        gt.registration_activity_daily.iter().filter(|w| w.result == "failure").map(|w| w.events).sum();
    assert!(failed_info > 0);
    assert_eq!(count(&|r| r["feature"] == "registration" && r["status"] == "failure"), failed_info);
    let times: Vec<&str> = rows.iter().map(|r| r["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    // The filters are the same rows as filtering the whole list.
    let story = &gt.user_stories[0];
    let mine = query_rows(
        &lake,
        "sspr_activity_events",
        &[("user", &story.upn.to_uppercase()), ("feature", "reset")],
    )
    .await;
    assert_eq!(
        mine.len() as u64,
        count(&|r| r["feature"] == "reset" && r["user_principal_name"] == story.upn.as_str())
    );
    assert_eq!(mine.iter().filter(|r| r["initiated_by"] == "self").count() as u64, story.sessions);
    let failures = query_rows(&lake, "sspr_activity_events", &[("status", "failure")]).await;
    assert_eq!(failures.len() as u64, count(&|r| r["status"] == "failure"));
}

/// "A reset followed by a privileged operation by that account within 30 minutes": the planted
/// administrator (a role granted twelve minutes after their reset; a consent seventy minutes
/// after, outside the window) and whatever admin resets follow a reset, held to the model.
#[tokio::test]
async fn a_reset_followed_by_a_privileged_operation_matches_the_model() {
    let (_d, lake) = shared_lake().await;
    let gt = ground_truth();
    let rows = query_rows(&lake, "reset_then_privileged_operation", &[]).await;
    let got: Vec<(String, String, String, String)> = rows
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_else(|| panic!("{k} in {r}")).to_string();
            assert!(r["note"].is_null(), "the sample has directory audits: {r}");
            (s("user_principal_name"), s("reset_by"), s("operation"), s("operation_at"))
        })
        .collect();
    let want: Vec<(String, String, String, String)> = gt
        .reset_then_privileged_operation
        .iter()
        .map(|(u, by, op, at)| {
            (u.clone(), by.clone(), op.clone(), at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        })
        .collect();
    assert_eq!(got, want);
    assert!(want.iter().any(|w| w.2 == "Add member to role"), "the planted case: {want:?}");
    assert!(rows.iter().all(|r| r["minutes_after"].as_f64().unwrap() <= 30.0));
    // With a wider window the consent seventy minutes later comes in too.
    let wide = query_rows(&lake, "reset_then_privileged_operation", &[("minutes", "90")]).await;
    assert!(wide.iter().any(|r| r["operation"] == "Consent to application"), "{wide:?}");
}

/// A lake without directory audits (the Log Analytics export of the last three days) says so
/// instead of answering "nothing found".
#[tokio::test]
async fn without_directory_audits_the_privileged_hunt_says_it_cannot_see() {
    let (_d, lake) = crate::util::temp_lake();
    crate::util::import_paths(&lake, &[crate::util::sample("log-analytics")]).await;
    sspr_analytics::query::build::build(&lake, &Default::default(), false).await.unwrap();
    let rows = query_rows(&lake, "reset_then_privileged_operation", &[]).await;
    assert!(
        !rows.is_empty()
            && rows.iter().all(|r| r["note"].as_str().is_some_and(|n| n.contains("no directory audits"))),
        "{rows:?}"
    );
}
