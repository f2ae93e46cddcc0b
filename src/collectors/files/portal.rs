//! The Entra admin center's audit log "Download" as CSV (Monitoring → Audit logs → Download →
//! CSV): the first file many admins have. Each row is turned into a Graph-shaped `directoryAudit`
//! and flattened by the same code as Graph exports, with `source` = `portal_csv`.
//!
//! The header, as two independent public sources spell it (Microsoft documents no column list;
//! `../shared/reference/entra-audit.md` §5.3 marks it unverified): `Date (UTC)`, `CorrelationId`,
//! `Service`, `Category`, `Activity`, `Result`, `ResultReason`, `User Agent`, `ActorType`,
//! `ActorDisplayName`, `ActorObjectId`, `ActorUserPrincipalName`, `IPAddress`,
//! `ActorHomeTenantId`, `ActorHomeTenantName`, `ActorServicePrincipalId`,
//! `ActorServicePrincipalName`, then `Target1…3` × (`Type`, `DisplayName`, `ObjectId`,
//! `UserPrincipalName`, `ModifiedProperty1…5` × `Name`/`OldValue`/`NewValue`), then
//! `AdditionalDetail1…6` × `Key`/`Value`. Sources: the `$InputHeaders` of bitpusher2k's
//! `ProcessEntraAuditLog.ps1` (v2.8, 2024-05-12, "Processes an exported CSV of Entra ID Audit log
//! from the admin center"; it names the first column `Date`), and a public Timesketch converter of
//! a downloaded `AuditLogs_2024-11-09.csv` that lists the same columns with `Date (UTC)` and reads
//! that column as ISO 8601. Both spellings of the first column are accepted.
//!
//! The download has no audit `id`: each row gets `portal-<SHA-256 of the row>` so importing the same
//! download twice stores each event once. The same event imported from the download *and* from
//! Graph or Log Analytics is stored twice (the ids differ): use one source per window.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// The first column, in the spellings seen.
const DATE_COLUMNS: &[&str] = &["Date (UTC)", "Date"];
/// Columns that, with a date column, make a header the portal's download.
const REQUIRED: &[&str] = &["CorrelationId", "Service", "Category", "Activity", "Result"];
const TARGETS: usize = 3;
const MODIFIED_PROPERTIES: usize = 5;
const ADDITIONAL_DETAILS: usize = 6;

/// Whether a CSV header is the admin center's audit log download.
pub(crate) fn is_portal_header(headers: &[String]) -> bool {
    let has = |c: &str| headers.iter().any(|h| h.trim() == c);
    DATE_COLUMNS.iter().any(|d| has(d)) && REQUIRED.iter().all(|c| has(c))
}

/// One row as a Graph `directoryAudit` JSON object (text), ready for the Graph flattening.
/// Columns this module does not know are kept as extra fields (they land in `extra_json`).
pub(crate) fn to_graph_json(headers: &[String], cells: &csv::StringRecord) -> String {
    let mut row: BTreeMap<&str, &str> = BTreeMap::new();
    for (h, c) in headers.iter().zip(cells.iter()) {
        row.insert(h.trim(), c);
    }
    let mut used: Vec<String> = Vec::new();
    let mut get = |k: &str| -> Option<String> {
        used.push(k.to_string());
        row.get(k).map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_string)
    };
    let date = DATE_COLUMNS.iter().find_map(|d| get(d));
    let mut audit = Map::new();
    audit.insert("id".into(), json!(row_id(cells)));
    audit.insert("activityDateTime".into(), json!(date));
    audit.insert("correlationId".into(), json!(get("CorrelationId")));
    audit.insert("loggedByService".into(), json!(get("Service")));
    audit.insert("category".into(), json!(get("Category")));
    audit.insert("activityDisplayName".into(), json!(get("Activity")));
    // The portal writes "Success" / "Failure"; Graph writes the enum in lower case.
    audit.insert("result".into(), json!(get("Result").map(|r| r.to_ascii_lowercase())));
    audit.insert("resultReason".into(), json!(get("ResultReason")));
    audit.insert("userAgent".into(), json!(get("User Agent").or_else(|| get("UserAgent"))));
    audit.insert("initiatedBy".into(), initiated_by(&mut get));
    audit.insert("targetResources".into(), Value::Array(targets(&mut get)));
    audit.insert("additionalDetails".into(), Value::Array(details(&mut get)));
    let actor_type = get("ActorType");
    if let Some(t) = actor_type {
        audit.insert("portalActorType".into(), json!(t));
    }
    for (k, v) in &row {
        if !used.iter().any(|u| u == k) && !v.trim().is_empty() {
            audit.insert(format!("portal.{k}"), json!(v));
        }
    }
    Value::Object(audit).to_string()
}

fn initiated_by(get: &mut impl FnMut(&str) -> Option<String>) -> Value {
    let upn = get("ActorUserPrincipalName");
    let user = json!({
        "id": get("ActorObjectId"),
        "displayName": get("ActorDisplayName"),
        "userPrincipalName": upn,
        "ipAddress": get("IPAddress"),
        "homeTenantId": get("ActorHomeTenantId"),
        "homeTenantName": get("ActorHomeTenantName"),
    });
    let sp_id = get("ActorServicePrincipalId");
    let sp_name = get("ActorServicePrincipalName");
    let mut out = Map::new();
    if user.as_object().is_some_and(|u| u.values().any(|v| !v.is_null())) {
        out.insert("user".into(), user);
    }
    if sp_id.is_some() || sp_name.is_some() {
        out.insert("app".into(), json!({ "servicePrincipalId": sp_id, "displayName": sp_name }));
    }
    Value::Object(out)
}

fn targets(get: &mut impl FnMut(&str) -> Option<String>) -> Vec<Value> {
    let mut out = Vec::new();
    for n in 1..=TARGETS {
        let mut props = Vec::new();
        for p in 1..=MODIFIED_PROPERTIES {
            let name = get(&format!("Target{n}ModifiedProperty{p}Name"));
            let old = get(&format!("Target{n}ModifiedProperty{p}OldValue"));
            let new = get(&format!("Target{n}ModifiedProperty{p}NewValue"));
            if name.is_some() || old.is_some() || new.is_some() {
                props.push(json!({ "displayName": name, "oldValue": old, "newValue": new }));
            }
        }
        let target = json!({
            "type": get(&format!("Target{n}Type")),
            "displayName": get(&format!("Target{n}DisplayName")),
            "id": get(&format!("Target{n}ObjectId")),
            "userPrincipalName": get(&format!("Target{n}UserPrincipalName")),
            "modifiedProperties": props,
        });
        let present = target.as_object().is_some_and(|t| {
            t.iter().any(|(k, v)| {
                if k == "modifiedProperties" {
                    v.as_array().is_some_and(|a| !a.is_empty())
                } else {
                    !v.is_null()
                }
            })
        });
        if present {
            out.push(target);
        }
    }
    out
}

fn details(get: &mut impl FnMut(&str) -> Option<String>) -> Vec<Value> {
    (1..=ADDITIONAL_DETAILS)
        .filter_map(|n| {
            let key = get(&format!("AdditionalDetail{n}Key"));
            let value = get(&format!("AdditionalDetail{n}Value"));
            key.map(|k| json!({ "key": k, "value": value.unwrap_or_default() }))
        })
        .collect()
}

/// `portal-` and the SHA-256 of the row's cells (unit-separated), in hex.
fn row_id(cells: &csv::StringRecord) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for c in cells.iter() {
        ctx.update(c.as_bytes());
        ctx.update(&[0x1f]);
    }
    let digest = ctx.finish();
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("portal-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cols: &[&str]) -> Vec<String> {
        cols.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_download_row_becomes_a_graph_directory_audit() {
        let h = header(&[
            "Date (UTC)",
            "CorrelationId",
            "Service",
            "Category",
            "Activity",
            "Result",
            "ResultReason",
            "User Agent",
            "ActorType",
            "ActorDisplayName",
            "ActorObjectId",
            "ActorUserPrincipalName",
            "IPAddress",
            "Target1Type",
            "Target1DisplayName",
            "Target1ObjectId",
            "Target1UserPrincipalName",
            "AdditionalDetail1Key",
            "AdditionalDetail1Value",
            "Unknown",
        ]);
        assert!(is_portal_header(&h));
        assert!(!is_portal_header(&header(&["Date", "Activity"])));
        let cells = csv::StringRecord::from(vec![
            "2026-11-14T08:00:01.123Z",
            "c-1",
            "Self-service Password Management",
            "UserManagement",
            "Reset password (self-service)",
            "Success",
            "",
            "Mozilla/5.0",
            "User",
            "Jan Peeters",
            "u-1",
            "jan@contoso.example",
            "203.0.113.9",
            "User",
            "Jan Peeters",
            "u-1",
            "jan@contoso.example",
            "ClientType",
            "WindowsLogonScreen",
            "kept",
        ]);
        let v: Value = serde_json::from_str(&to_graph_json(&h, &cells)).unwrap();
        assert_eq!(v["result"], "success");
        assert_eq!(v["initiatedBy"]["user"]["ipAddress"], "203.0.113.9");
        assert_eq!(v["targetResources"][0]["userPrincipalName"], "jan@contoso.example");
        assert_eq!(v["additionalDetails"][0]["value"], "WindowsLogonScreen");
        assert_eq!(v["portal.Unknown"], "kept");
        let id = v["id"].as_str().unwrap();
        assert!(id.starts_with("portal-") && id.len() == 7 + 64, "{id}");
        assert_eq!(to_graph_json(&h, &cells), to_graph_json(&h, &cells), "the id is stable");
    }
}
