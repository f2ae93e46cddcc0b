//! Flattening a Graph `unifiedRoleAssignment` (`roleManagement/directory/roleAssignments`, with
//! `$expand=roleDefinition` and optionally `principal`) into a row of `role_assignments`.

use std::borrow::Cow;

use serde_json::Value;

use crate::collectors::files::flatten::RowContext;
use crate::collectors::files::record::{RawObject, object_text, path_str};
use crate::collectors::rows::Cell;

/// One role assignment as a row. The role's name, template and built-in flag come from the
/// expanded `roleDefinition`; without it they stay NULL and the saved queries fall back to the
/// definition id (for a built-in role it is the template id). The principal's type comes from an
/// expanded `principal`'s `@odata.type` (`#microsoft.graph.user` → `user`).
pub(crate) fn role_assignment_row<'a>(
    rec: &mut RawObject<'a>,
    ctx: &RowContext<'a>,
) -> Result<Vec<Cell<'a>>, String> {
    let id = rec.str(&["id"]).ok_or("missing id")?;
    let principal = rec.str(&["principalId"]).ok_or("missing principalId")?;
    let definition_id = rec.str(&["roleDefinitionId"]);
    let scope = rec.str(&["directoryScopeId"]);
    let definition = rec.json(&["roleDefinition"]).map_err(|e| e.to_string())?;
    let definition = match definition {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v),
        Some(other) => return Err(format!("field roleDefinition: expected an object, got {other}")),
    };
    let text = |path: &[&str]| {
        definition.as_ref().and_then(|d| path_str(d, path)).map(|s| Cow::Owned(s.into_owned()))
    };
    let name = text(&["displayName"]);
    let template = text(&["templateId"]);
    let built_in = match definition.as_ref().and_then(|d| d.get("isBuiltIn")) {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Err(format!("field roleDefinition.isBuiltIn: expected true or false, got {other}"));
        }
    };
    let principal_type = match rec.json(&["principal"]).map_err(|e| e.to_string())? {
        Some(p) => path_str(&p, &["@odata.type"]).map(|t| {
            let t = t.trim_start_matches('#');
            Cow::Owned(t.strip_prefix("microsoft.graph.").unwrap_or(t).to_string())
        }),
        None => rec.str(&["principalType"]),
    };
    // The role's permissions and description are the definition's, not the assignment's: they
    // are left out rather than repeated on every row.
    let extra = rec.leftovers("");
    Ok(vec![
        Cell::Date(Some(ctx.snapshot_date)),
        Cell::Str(Some(id)),
        Cell::Str(Some(principal)),
        principal_type.into(),
        definition_id.or_else(|| text(&["id"])).into(),
        template.into(),
        name.into(),
        built_in.into(),
        scope.into(),
        object_text(&extra).into(),
        Cell::Str(Some(Cow::Borrowed(ctx.source_file))),
        Cell::Ts(Some(ctx.ingested_at)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(json: &str) -> Result<Vec<String>, String> {
        let ctx = RowContext { source_file: "f.json", ingested_at: 0, snapshot_date: 20_000 };
        let mut o = RawObject::parse(json).unwrap();
        role_assignment_row(&mut o, &ctx).map(|cells| cells.iter().map(|c| format!("{c:?}")).collect())
    }

    #[test]
    fn an_expanded_assignment_keeps_role_and_principal_type() {
        let r = row(r##"{"id":"a1","principalId":"u1","directoryScopeId":"/","roleDefinitionId":"62e9",
            "roleDefinition":{"id":"62e9","displayName":"Global Administrator","templateId":"62e9","isBuiltIn":true,
              "rolePermissions":[{"allowedResourceActions":["*"]}]},
            "principal":{"@odata.type":"#microsoft.graph.user","id":"u1"}}"##)
        .unwrap();
        let all = r.join("|");
        for want in ["a1", "u1", "\"user\"", "Global Administrator", "Some(true)", "\"/\""] {
            assert!(all.contains(want), "{want} in {all}");
        }
        assert!(!all.contains("allowedResourceActions"), "{all}");
    }

    #[test]
    fn a_bare_assignment_is_kept_and_a_bad_one_names_its_field() {
        let r = row(r#"{"id":"a2","principalId":"g1","roleDefinitionId":"fe93","appScopeId":null}"#).unwrap();
        assert!(r.join("|").contains("fe93"));
        assert_eq!(row(r#"{"id":"a3"}"#).unwrap_err(), "missing principalId");
        let e = row(r#"{"id":"a4","principalId":"u","roleDefinition":{"isBuiltIn":"maybe"}}"#).unwrap_err();
        assert!(e.contains("roleDefinition.isBuiltIn"), "{e}");
    }
}
