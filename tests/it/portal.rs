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
