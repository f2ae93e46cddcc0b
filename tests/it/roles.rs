//! Issue 23: the portal's privileged-admin / admin / user split, from the directory's role
//! assignments (`graph/roleAssignments/`), held to the generator's model.

use crate::util::{ground_truth, import_paths, query_rows, sample, shared_lake, sql_rows, temp_lake};

type Row = (String, u64, u64, u64, u64, u64);

fn counts(r: &serde_json::Value) -> Row {
    let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"));
    let role = r["role"].as_str().unwrap().to_string();
    (role, n("users"), n("sspr_registered"), n("sspr_enabled"), n("sspr_capable"), n("mfa_capable"))
}

#[tokio::test]
async fn coverage_by_role_matches_the_model() {
    let (_d, lake) = shared_lake().await;
    let gt = ground_truth();
    let rows = query_rows(&lake, "registration_coverage_by_role", &[]).await;
    let roles: Vec<&str> = rows.iter().map(|r| r["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["all", "privilegedAdmin", "admin", "user"], "{rows:?}");
    let mut got: Vec<Row> = rows.iter().map(counts).collect();
    got.sort();
    let want: Vec<Row> = gt
        .registration_coverage_by_role
        .iter()
        .map(|r| (r.role.clone(), r.users, r.sspr_registered, r.sspr_enabled, r.sspr_capable, r.mfa_capable))
        .collect();
    assert_eq!(got, want);
    // Each role is there in the sample, and the roles add up to the all-users row.
    assert!(want.iter().all(|r| r.1 > 0), "{want:?}");
    assert_eq!(got.iter().filter(|r| r.0 != "all").map(|r| r.1).sum::<u64>(), got[1].1);
    let latest = gt.latest_snapshot.unwrap().to_string();
    for r in &rows {
        assert!(r["note"].is_null(), "{r}");
        assert_eq!(r["roles_snapshot"].as_str(), Some(latest.as_str()), "{r}");
        assert_eq!(r["accounts"], "enabled only");
        let pct =
            (1000.0 * r["sspr_capable"].as_f64().unwrap() / r["users"].as_f64().unwrap()).round() / 10.0;
        assert_eq!(r["capable_pct"].as_f64(), Some(pct), "{r}");
    }
    // The snapshot is in the lake whole: the users' roles, one scoped to an administrative unit,
    // and the two held by a group and a service principal, which are no user's.
    let held = sql_rows(
        &lake,
        "SELECT count(*) AS n, count(*) FILTER (WHERE directory_scope_id LIKE '/administrativeUnits/%') AS scoped, \
         count(*) FILTER (WHERE u.user_id IS NULL) AS not_users, \
         count(*) FILTER (WHERE role_name IS NULL OR role_template_id IS NULL) AS unnamed \
         FROM role_assignments LEFT JOIN users u ON u.user_id = principal_id",
    )
    .await;
    assert_eq!(held[0]["n"].as_u64(), Some(gt.role_assignments));
    assert_eq!((held[0]["scoped"].as_u64(), held[0]["not_users"].as_u64()), (Some(1), Some(2)));
    assert_eq!(held[0]["unnamed"].as_u64(), Some(0));
    // With the disabled accounts counted too, the all-users row grows to the whole snapshot.
    let all = query_rows(&lake, "registration_coverage_by_role", &[("include_disabled", "true")]).await;
    assert_eq!(all[0]["users"].as_u64(), Some(gt.users));
}

/// A lake with registration details but no role assignments (collected before the roles slice
/// existed) says so, and counts the privileged admins as admins rather than as users.
#[tokio::test]
async fn without_role_assignments_the_split_says_so() {
    let (_d, lake) = temp_lake();
    import_paths(&lake, &[sample("graph/userRegistrationDetails"), sample("graph/users")]).await;
    let rows = query_rows(&lake, "registration_coverage_by_role", &[]).await;
    assert!(
        rows.iter().all(|r| r["note"].as_str().is_some_and(|n| n.contains("no role assignments"))),
        "{rows:?}"
    );
    let roles: Vec<&str> = rows.iter().map(|r| r["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["all", "admin", "user"]);
    let gt = ground_truth();
    let of = |role: &str| gt.registration_coverage_by_role.iter().find(|r| r.role == role).unwrap().users;
    assert_eq!(rows[1]["users"].as_u64(), Some(of("privilegedAdmin") + of("admin")));
}

/// A role assignment export with a broken record keeps the good ones and quarantines the bad
/// one, naming the field.
#[tokio::test]
async fn a_bad_role_assignment_is_quarantined_and_the_rest_imported() {
    let dir = tempfile::tempdir().unwrap();
    let day = dir.path().join("roleAssignments/2026-11-20");
    std::fs::create_dir_all(&day).unwrap();
    std::fs::write(
        day.join("page.json"),
        r#"{"value":[
            {"id":"a1","principalId":"u1","roleDefinitionId":"62e90394-69f5-4237-9190-012177145e10","directoryScopeId":"/"},
            {"id":"a2","principalId":"u2","roleDefinitionId":"x","roleDefinition":{"isBuiltIn":"maybe"}}
        ]}"#,
    )
    .unwrap();
    let (_d, lake) = temp_lake();
    let s = import_paths(&lake, &[dir.path().to_path_buf()]).await;
    assert_eq!((s.records, s.quarantined), (2, 1), "{s:?}");
    let q = std::fs::read_to_string(lake.root.local_path(s.quarantine_file.as_deref().unwrap()).unwrap())
        .unwrap();
    assert!(q.contains("roleDefinition.isBuiltIn"), "{q}");
    let rows =
        sql_rows(&lake, "SELECT assignment_id, CAST(snapshot_date AS STRING) AS d FROM role_assignments")
            .await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0]["assignment_id"].as_str(), rows[0]["d"].as_str()), (Some("a1"), Some("2026-11-20")));
}
