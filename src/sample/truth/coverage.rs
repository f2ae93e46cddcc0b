//! The registration coverage the generator's users add up to: per user type and admin role
//! (`registration_coverage`), and per Graph role class (`registration_coverage_by_role`).

use std::collections::BTreeMap;

use crate::sample::roles::Assignment;
use crate::sample::tenant::User;
use crate::sample::truth::{CoverageRow, RoleCoverageRow};

/// `registration_coverage`'s rows over `people`: the all-users row and one per user type and role.
pub(super) fn coverage<'a>(people: impl Iterator<Item = &'a User>) -> Vec<CoverageRow> {
    let mut rows: BTreeMap<(String, String), CoverageRow> = BTreeMap::new();
    for u in people {
        let role = if u.is_admin { "admin" } else { "non-admin" };
        for key in [("all".to_string(), "all".to_string()), (u.user_type.to_string(), role.to_string())] {
            let r = rows.entry(key.clone()).or_insert_with(|| CoverageRow {
                user_type: key.0.clone(),
                role: key.1.clone(),
                ..Default::default()
            });
            r.users += 1;
            r.sspr_registered += u64::from(u.registered);
            r.sspr_enabled += u64::from(u.sspr_enabled);
            r.sspr_capable += u64::from(u.capable());
            r.mfa_capable += u64::from(u.mfa_capable());
        }
    }
    rows.into_values().collect()
}

/// `registration_coverage_by_role`'s rows: a user holding a privileged role is a privilegedAdmin,
/// one holding another role or flagged isAdmin an admin, anyone else a user.
pub(super) fn coverage_by_role(people: &[User], assignments: &[Assignment]) -> Vec<RoleCoverageRow> {
    let mut rows: BTreeMap<&str, RoleCoverageRow> = BTreeMap::new();
    for u in people.iter().filter(|u| u.account_enabled) {
        let held: Vec<&Assignment> = assignments.iter().filter(|a| a.principal_id == u.id).collect();
        let role = if held.iter().any(|a| a.privileged()) {
            "privilegedAdmin"
        } else if !held.is_empty() || u.is_admin {
            "admin"
        } else {
            "user"
        };
        for key in ["all", role] {
            let r = rows
                .entry(key)
                .or_insert_with(|| RoleCoverageRow { role: key.to_string(), ..Default::default() });
            r.users += 1;
            r.sspr_registered += u64::from(u.registered);
            r.sspr_enabled += u64::from(u.sspr_enabled);
            r.sspr_capable += u64::from(u.capable());
            r.mfa_capable += u64::from(u.mfa_capable());
        }
    }
    rows.into_values().collect()
}
