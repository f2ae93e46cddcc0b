//! The registration coverage the generator's users add up to: per user type and admin role
//! (`registration_coverage`), and per Graph role class (`registration_coverage_by_role`).

use std::collections::{BTreeMap, HashMap};

use crate::sample::roles::Assignment;
use crate::sample::tenant::User;
use crate::sample::truth::CoverageRow;

/// The all-users row and one row per slice that `slice` puts each user in (a user type and a
/// role), each counting its users and what they are registered and capable of.
fn tally<'a>(
    people: impl Iterator<Item = &'a User>,
    slice: impl Fn(&User) -> (String, String),
) -> Vec<CoverageRow> {
    let mut rows: BTreeMap<(String, String), CoverageRow> = BTreeMap::new();
    for u in people {
        for key in [("all".to_string(), "all".to_string()), slice(u)] {
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

/// `registration_coverage`'s rows over `people`: per user type and admin role (`isAdmin`).
pub(super) fn coverage<'a>(people: impl Iterator<Item = &'a User>) -> Vec<CoverageRow> {
    tally(people, |u| (u.user_type.to_string(), if u.is_admin { "admin" } else { "non-admin" }.to_string()))
}

/// `registration_coverage_by_role`'s rows over the enabled accounts (user type `all`): a user
/// holding a privileged role is a privilegedAdmin, one holding another role or flagged isAdmin an
/// admin, anyone else a user.
pub(super) fn coverage_by_role(people: &[User], assignments: &[Assignment]) -> Vec<CoverageRow> {
    let mut held: HashMap<&str, bool> = HashMap::new();
    for a in assignments {
        *held.entry(a.principal_id.as_str()).or_default() |= a.privileged();
    }
    tally(people.iter().filter(|u| u.account_enabled), |u| {
        let role = match held.get(u.id.as_str()) {
            Some(true) => "privilegedAdmin",
            Some(false) => "admin",
            None if u.is_admin => "admin",
            None => "user",
        };
        ("all".to_string(), role.to_string())
    })
}
