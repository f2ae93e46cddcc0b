//! Writers for the real export formats the generator produces.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate, Timelike};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::sample::sessions::Event;
use crate::sample::tenant::User;

/// Graph's page size for `$top=999`.
const PAGE_SIZE: usize = 999;
const GRAPH: &str = "https://graph.microsoft.com/v1.0";

fn create(path: &Path) -> Result<BufWriter<std::fs::File>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(BufWriter::new(std::fs::File::create(path).map_err(|e| Error::io(path, e))?))
}

/// Writes Graph pages of [`PAGE_SIZE`] items, each but the last with `@odata.nextLink`.
pub(crate) struct GraphPager {
    dir: PathBuf,
    resource: String,
    items: Vec<Value>,
    page: usize,
}

impl GraphPager {
    pub(crate) fn new(dir: PathBuf, resource: &str) -> Result<Self> {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Self { dir, resource: resource.to_string(), items: Vec::new(), page: 0 })
    }

    pub(crate) fn push(&mut self, v: &Value) -> Result<()> {
        // Hold one extra item so we know whether a next page exists.
        if self.items.len() == PAGE_SIZE {
            self.flush(true)?;
        }
        self.items.push(v.clone());
        Ok(())
    }

    fn flush(&mut self, more: bool) -> Result<()> {
        self.page += 1;
        let mut page = json!({
            "@odata.context": format!("{GRAPH}/$metadata#{}", self.resource),
        });
        if more {
            page["@odata.nextLink"] = json!(format!(
                "{GRAPH}/{}?$top={PAGE_SIZE}&$skiptoken=sample{:06}",
                self.resource, self.page
            ));
        }
        page["value"] = Value::Array(std::mem::take(&mut self.items));
        let path = self.dir.join(format!("page-{:04}.json", self.page));
        let mut w = create(&path)?;
        serde_json::to_writer(&mut w, &page)?;
        w.flush().map_err(|e| Error::io(&path, e))
    }

    pub(crate) fn finish(mut self) -> Result<()> {
        if !self.items.is_empty() || self.page == 0 {
            self.flush(false)?;
        }
        Ok(())
    }
}

/// The diagnostic-settings archive: one `PT1H.json` per hour, JSON lines with CRLF, envelope +
/// `properties` (entra-audit.md §5.2, tenant-level path as observed live).
pub(crate) struct DiagArchive {
    root: PathBuf,
    tenant_id: String,
    current: Option<(String, BufWriter<std::fs::File>)>,
}

impl DiagArchive {
    pub(crate) fn new(root: PathBuf, tenant_id: &str) -> Self {
        Self { root, tenant_id: tenant_id.to_string(), current: None }
    }

    pub(crate) fn push(&mut self, e: &Event) -> Result<()> {
        let t = e.time;
        let rel = format!(
            "tenantId={}/y={}/m={:02}/d={:02}/h={:02}/m=00/PT1H.json",
            self.tenant_id,
            t.year(),
            t.month(),
            t.day(),
            t.hour()
        );
        if self.current.as_ref().is_none_or(|(r, _)| *r != rel) {
            if let Some((_, mut w)) = self.current.take() {
                w.flush().map_err(|err| Error::io(&self.root, err))?;
            }
            self.current = Some((rel.clone(), create(&self.root.join(&rel))?));
        }
        let p = &e.json;
        let envelope = json!({
            "time": format!("{}.{:07}Z", t.format("%Y-%m-%dT%H:%M:%S"), t.timestamp_subsec_nanos() / 100),
            "resourceId": format!("/tenants/{}/providers/Microsoft.aadiam", self.tenant_id),
            "operationName": p["activityDisplayName"],
            "operationVersion": "1.0",
            "category": "AuditLogs",
            "tenantId": self.tenant_id,
            "resultType": if p["result"] == "success" { "Success" } else { "Failure" },
            "resultSignature": "None",
            "resultDescription": p["resultReason"],
            "durationMs": 0,
            "callerIpAddress": p["initiatedBy"]["user"]["ipAddress"],
            "correlationId": p["correlationId"],
            "identity": p["initiatedBy"]["user"]["userPrincipalName"],
            "Level": 4,
            "properties": p,
        });
        let (_, w) = self.current.as_mut().expect("opened above");
        serde_json::to_writer(&mut *w, &envelope)?;
        w.write_all(b"\r\n").map_err(|err| Error::io(&self.root, err))
    }

    pub(crate) fn finish(mut self) -> Result<()> {
        if let Some((_, mut w)) = self.current.take() {
            w.flush().map_err(|e| Error::io(&self.root, e))?;
        }
        Ok(())
    }
}

/// A Log Analytics `AuditLogs` export: JSON lines, PascalCase columns, dynamic columns as JSON strings.
pub(crate) struct LogAnalyticsFile {
    path: PathBuf,
    w: BufWriter<std::fs::File>,
    tenant_id: String,
}

impl LogAnalyticsFile {
    pub(crate) fn new(path: &Path, tenant_id: &str) -> Result<Self> {
        Ok(Self { path: path.to_path_buf(), w: create(path)?, tenant_id: tenant_id.to_string() })
    }

    pub(crate) fn push(&mut self, p: &Value) -> Result<()> {
        let row = json!({
            "TenantId": "11111111-2222-3333-4444-555555555555",
            "SourceSystem": "Azure AD",
            "TimeGenerated": p["activityDateTime"],
            "ResourceId": format!("/tenants/{}/providers/Microsoft.aadiam", self.tenant_id),
            "OperationName": p["activityDisplayName"],
            "OperationVersion": "1.0",
            "Category": p["category"],
            "ResultType": if p["result"] == "success" { "Success" } else { "Failure" },
            "ResultSignature": "None",
            "ResultDescription": p["resultReason"],
            "DurationMs": 0,
            "CorrelationId": p["correlationId"],
            "Resource": "Microsoft.aadiam",
            "ResourceGroup": "Microsoft.aadiam",
            "Level": "4",
            "AdditionalDetails": p["additionalDetails"].to_string(),
            "Id": p["id"],
            "InitiatedBy": p["initiatedBy"].to_string(),
            "LoggedByService": p["loggedByService"],
            "Result": p["result"],
            "ResultReason": p["resultReason"],
            "TargetResources": p["targetResources"].to_string(),
            "AADTenantId": self.tenant_id,
            "ActivityDisplayName": p["activityDisplayName"],
            "ActivityDateTime": p["activityDateTime"],
            "AADOperationType": p["operationType"],
            "Type": "AuditLogs",
        });
        serde_json::to_writer(&mut self.w, &row)?;
        self.w.write_all(b"\n").map_err(|e| Error::io(&self.path, e))
    }

    pub(crate) fn finish(mut self) -> Result<()> {
        self.w.flush().map_err(|e| Error::io(&self.path, e))
    }
}

/// Two registration snapshots: the window's first day (late registrants not yet registered) and last day.
pub(crate) fn write_registration(
    out: &Path,
    people: &[User],
    first: NaiveDate,
    last: NaiveDate,
) -> Result<()> {
    for (date, latest) in [(first, false), (last, true)] {
        let dir = out.join(format!("graph/userRegistrationDetails/{date}"));
        let mut pager = GraphPager::new(dir, "reports/authenticationMethods/userRegistrationDetails")?;
        for u in people {
            let registered = if latest { u.registered } else { u.registered_before_window };
            let methods: Vec<&str> = if registered || latest {
                u.methods.clone()
            } else {
                u.methods.iter().take(usize::from(!u.methods.is_empty() && !u.registered)).copied().collect()
            };
            pager.push(&json!({
                "id": u.id,
                "userPrincipalName": u.upn,
                "userDisplayName": u.display_name,
                "userType": u.user_type,
                "isAdmin": u.is_admin,
                "isSsprRegistered": registered,
                "isSsprEnabled": u.sspr_enabled,
                "isSsprCapable": registered && u.sspr_enabled,
                "isMfaRegistered": super::tenant::mfa_capable(registered, &methods),
                "isMfaCapable": super::tenant::mfa_capable(registered, &methods),
                "isPasswordlessCapable": false,
                "isSystemPreferredAuthenticationMethodEnabled": true,
                "systemPreferredAuthenticationMethods": if methods.contains(&"microsoftAuthenticatorPush") { vec!["push"] } else { vec![] },
                "userPreferredMethodForSecondaryAuthentication": if methods.contains(&"microsoftAuthenticatorPush") { "push" } else { "none" },
                "methodsRegistered": methods,
                "lastUpdatedDateTime": format!("{date}T03:12:44.1234567Z"),
            }))?;
        }
        pager.finish()?;
    }
    Ok(())
}

/// Directory users at the end of the window.
pub(crate) fn write_users(out: &Path, people: &[User], date: NaiveDate) -> Result<()> {
    let mut pager = GraphPager::new(out.join(format!("graph/users/{date}")), "users")?;
    for u in people {
        pager.push(&json!({
            "id": u.id,
            "userPrincipalName": u.upn,
            "displayName": u.display_name,
            "userType": if u.user_type == "guest" { "Guest" } else { "Member" },
            "department": u.department,
            "jobTitle": null,
            "accountEnabled": u.account_enabled,
            "createdDateTime": u.created.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "onPremisesSyncEnabled": if u.synced { json!(true) } else { Value::Null },
        }))?;
    }
    pager.finish()
}
