//! The sample tenant's directory role assignments (`graph/roleAssignments/<date>/`), as Graph's
//! `roleManagement/directory/roleAssignments?$expand=roleDefinition` returns them. Every admin
//! (isAdmin in the registration details) holds a role: some one of Graph's privileged-admin
//! roles, some another role, some one of each. One admin's role is scoped to an administrative
//! unit, and a group and a service principal hold roles too (the coverage counts users only).
//! A stream of its own, so that adding roles left every other event of the sample as it was.

use std::path::Path;

use chrono::NaiveDate;
use serde_json::json;

use crate::error::Result;
use crate::rng::Rng;
use crate::sample::formats::GraphPager;
use crate::sample::tenant::User;

/// Built-in roles the generator hands out: (template id, name, one of Graph's privilegedAdmin
/// roles). Template ids from MicrosoftDocs/entra-docs `permissions-reference.md`. Global
/// Reader carries the docs' "privileged" label but is not in Graph's privilegedAdmin list.
const ROLES: &[(&str, &str, bool)] = &[
    ("62e90394-69f5-4237-9190-012177145e10", "Global Administrator", true),
    ("729827e3-9c14-49f7-bb1b-9608f156bbb8", "Helpdesk Administrator", true),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator", true),
    ("c4e39bd9-1100-46d3-8c65-fb160da0071f", "Authentication Administrator", true),
    ("194ae4cb-b126-40b2-bd5b-6091b380977d", "Security Administrator", true),
    ("4a5d8f65-41da-4de4-8968-e035b65339cf", "Reports Reader", false),
    ("69091246-20e8-4a56-aa4d-066075b2a7a8", "Teams Administrator", false),
    ("fdd7a751-b60b-444a-984c-02652fe8fa1c", "Groups Administrator", false),
    ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader", false),
];

/// One active role assignment.
pub(crate) struct Assignment {
    pub id: String,
    pub principal_id: String,
    pub role: usize,
    pub scope: String,
}

impl Assignment {
    pub(crate) fn privileged(&self) -> bool {
        ROLES[self.role].2
    }
}

/// The tenant's assignments, drawn from `seed`.
pub(crate) fn assign(people: &[User], seed: u64) -> Vec<Assignment> {
    let mut rng = Rng::new(seed ^ 0x0701_e5a5);
    let privileged: Vec<usize> = (0..ROLES.len()).filter(|&i| ROLES[i].2).collect();
    let other: Vec<usize> = (0..ROLES.len()).filter(|&i| !ROLES[i].2).collect();
    let mut out = Vec::new();
    let mut scoped = false;
    for u in people.iter().filter(|u| u.is_admin) {
        let draw = rng.below(100);
        let mut roles = Vec::new();
        if draw < 55 {
            roles.push(*rng.pick(&privileged));
        }
        if draw >= 40 {
            roles.push(*rng.pick(&other));
        }
        for role in roles {
            // The first Helpdesk Administrator holds the role over one administrative unit.
            let scope = if !scoped && ROLES[role].1 == "Helpdesk Administrator" {
                scoped = true;
                format!("/administrativeUnits/{}", rng.guid())
            } else {
                "/".to_string()
            };
            out.push(Assignment { id: rng.guid(), principal_id: u.id.clone(), role, scope });
        }
    }
    // A role-assignable group holding User Administrator and a service principal holding Global
    // Reader: principals that are not users, which the coverage by role does not count.
    for role in [2, 8] {
        let principal_id = rng.guid();
        out.push(Assignment { id: rng.guid(), principal_id, role, scope: "/".into() });
    }
    out
}

/// Writes the assignments as one snapshot, taken on `date`, as the collector asks for them
/// (`$expand=roleDefinition`; the principal is not expanded, so its type is not in the file).
pub(crate) fn write(out: &Path, assignments: &[Assignment], date: NaiveDate) -> Result<()> {
    let dir = out.join(format!("graph/roleAssignments/{date}"));
    let mut pager = GraphPager::new(dir, "roleManagement/directory/roleAssignments")?;
    for a in assignments {
        let (template, name, _) = ROLES[a.role];
        pager.push(&json!({
            "id": a.id,
            "principalId": a.principal_id,
            "directoryScopeId": a.scope,
            "roleDefinitionId": template,
            "roleDefinition": {
                "id": template,
                "displayName": name,
                "isBuiltIn": true,
                "isEnabled": true,
                "templateId": template,
                "version": "1",
            },
        }))?;
    }
    pager.finish()
}
