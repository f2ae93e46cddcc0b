//! Flattening one input record into a row of `audit_events`, `registration_details` or `users`.
//!
//! The canonical shape is Graph's `directoryAudit`; Log Analytics rows (PascalCase, dynamic columns
//! as JSON strings) resolve through the same case-insensitive lookups, and diagnostic-settings
//! records are unwrapped from their envelope (`properties`), with envelope fields as fallbacks
//! (`callerIpAddress`, `tenantId`, `time`). Whatever is not modelled goes to `extra_json`.

use std::borrow::Cow;

use serde_json::Value;

use crate::collectors::files::record::{RawObject, object_text, path_str};
use crate::collectors::rows::Cell;
use crate::util::{date32, parse_instant};

/// Per-file values every row carries.
#[derive(Debug, Clone)]
pub struct RowContext<'c> {
    pub source_file: &'c str,
    pub ingested_at: i64,
    /// Snapshot date (Date32) for registration and user rows.
    pub snapshot_date: i32,
}

/// Which source format an audit record came from (the `source` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditSource {
    Graph,
    DiagnosticArchive,
    LogAnalytics,
    LogAnalyticsCsv,
}

impl AuditSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditSource::Graph => "graph",
            AuditSource::DiagnosticArchive => "diagnostic_archive",
            AuditSource::LogAnalytics => "log_analytics",
            AuditSource::LogAnalyticsCsv => "log_analytics_csv",
        }
    }
}

/// Flattens a `directoryAudit` (Graph or Log Analytics) record. `envelope` is the
/// diagnostic-settings wrapper when there is one.
pub fn audit_row<'a>(
    rec: &mut RawObject<'a>,
    mut envelope: Option<&mut RawObject<'a>>,
    source: AuditSource,
    ctx: &RowContext<'a>,
) -> Result<Vec<Cell<'a>>, String> {
    let id = rec.str(&["id"]).ok_or("missing id")?;
    let time_text = rec
        .str(&["activityDateTime"])
        .or_else(|| envelope.as_mut().and_then(|e| e.str(&["time"])))
        .ok_or("missing activityDateTime")?;
    let time = parse_instant(&time_text)
        .ok_or_else(|| format!("field activityDateTime: {time_text:?} is not an ISO 8601 date-time"))?;
    let (initiated, initiated_json) = split(rec.json_with_text(&["initiatedBy"]).map_err(|e| e.to_string())?);
    let (targets, targets_json) = split(rec.json_with_text(&["targetResources"]).map_err(|e| e.to_string())?);
    let (details, details_json) =
        split(rec.json_with_text(&["additionalDetails"]).map_err(|e| e.to_string())?);
    let user = initiated.as_ref().and_then(|v| lookup(v, "user"));
    let app = initiated.as_ref().and_then(|v| lookup(v, "app"));
    let ustr = |k: &str| user.and_then(|u| path_str(u, &[k])).map(|c| Cow::Owned(c.into_owned()));
    let astr = |k: &str| app.and_then(|u| path_str(u, &[k])).map(|c| Cow::Owned(c.into_owned()));
    let target = targets.as_ref().and_then(first_user_target);
    let tstr = |k: &str| target.and_then(|t| path_str(t, &[k])).map(|c| Cow::Owned(c.into_owned()));
    let detail = |key: &str| details.as_ref().and_then(|d| detail_value(d, key));

    let category = rec.str(&["category"]);
    let activity = rec.str(&["activityDisplayName", "OperationName"]);
    let service = rec.str(&["loggedByService"]);
    let op_type = rec.str(&["operationType", "AADOperationType"]);
    let result = rec.str(&["result"]);
    let reason = rec.str(&["resultReason"]);
    let mut description = rec.str(&["resultDescription"]);
    let mut correlation = rec.str(&["correlationId"]);
    let mut tenant = rec.str(&["AADTenantId", "tenantId"]);
    let user_agent = rec
        .str(&["userAgent"])
        .or_else(|| detail("User-Agent").or_else(|| detail("UserAgent")).map(Cow::Owned));
    let mut ip = ustr("ipAddress");
    if let Some(env) = envelope.as_mut() {
        ip = ip.or_else(|| env.str(&["callerIpAddress"]));
        correlation = correlation.or_else(|| env.str(&["correlationId"]));
        tenant = tenant.or_else(|| env.str(&["tenantId"]));
        description = description.or_else(|| env.str(&["resultDescription"]));
    }
    let mut extra = rec.leftovers("");
    if let Some(env) = envelope.as_mut() {
        env.consume(&["properties", "time"]);
        extra.extend(env.leftovers("envelope."));
    }
    Ok(vec![
        Cell::Str(Some(id)),
        Cell::Ts(Some(time.timestamp_micros())),
        Cell::Date(Some(date32(time.date_naive()))),
        category.into(),
        activity.into(),
        service.into(),
        op_type.into(),
        result.into(),
        reason.into(),
        description.into(),
        correlation.into(),
        ustr("id").into(),
        ustr("userPrincipalName").into(),
        ustr("displayName").into(),
        ip.into(),
        astr("appId").into(),
        astr("displayName").into(),
        astr("servicePrincipalId").into(),
        tstr("id").into(),
        tstr("userPrincipalName").into(),
        tstr("displayName").into(),
        user_agent.into(),
        detail("ClientType").into(),
        details_json.into(),
        targets_json.into(),
        initiated_json.into(),
        object_text(&extra).into(),
        tenant.into(),
        Cell::Str(Some(Cow::Borrowed(source.as_str()))),
        Cell::Str(Some(Cow::Borrowed(ctx.source_file))),
        Cell::Ts(Some(ctx.ingested_at)),
    ])
}

fn split<'a>(v: Option<(Value, Cow<'a, str>)>) -> (Option<Value>, Option<Cow<'a, str>>) {
    match v {
        Some((value, text)) => (Some(value), Some(text)),
        None => (None, None),
    }
}

fn lookup<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    let o = v.as_object()?;
    o.get(key)
        .or_else(|| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
        .filter(|v| !v.is_null())
}

fn first_user_target(targets: &Value) -> Option<&Value> {
    targets
        .as_array()?
        .iter()
        .find(|t| lookup(t, "type").and_then(Value::as_str).is_some_and(|s| s.eq_ignore_ascii_case("user")))
}

/// The value of an `additionalDetails` `{key, value}` entry, key compared case-insensitively.
fn detail_value(details: &Value, key: &str) -> Option<String> {
    details.as_array()?.iter().find_map(|kv| {
        let k = lookup(kv, "key")?.as_str()?;
        if !k.eq_ignore_ascii_case(key) {
            return None;
        }
        match lookup(kv, "value")? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::String(_) => None,
            other => Some(other.to_string()),
        }
    })
}

/// Flattens a `userRegistrationDetails` record.
pub fn registration_row<'a>(rec: &mut RawObject<'a>, ctx: &RowContext<'a>) -> Result<Vec<Cell<'a>>, String> {
    let id = rec.str(&["id"]).ok_or("missing id")?;
    let b = |rec: &mut RawObject<'a>, k: &str| rec.bool(&[k]).map_err(|e| e.to_string());
    let upn = rec.str(&["userPrincipalName"]);
    let name = rec.str(&["userDisplayName"]);
    let user_type = rec.str(&["userType"]).map(|s| Cow::Owned(s.to_ascii_lowercase()));
    let is_admin = b(rec, "isAdmin")?;
    let reg = b(rec, "isSsprRegistered")?;
    let en = b(rec, "isSsprEnabled")?;
    let cap = b(rec, "isSsprCapable")?;
    let mfa_reg = b(rec, "isMfaRegistered")?;
    let mfa_cap = b(rec, "isMfaCapable")?;
    let pwl = b(rec, "isPasswordlessCapable")?;
    let sys = b(rec, "isSystemPreferredAuthenticationMethodEnabled")?;
    let methods = string_list(rec, "methodsRegistered", true)?;
    let sys_methods = string_list(rec, "systemPreferredAuthenticationMethods", false)?;
    let preferred = rec.str(&["userPreferredMethodForSecondaryAuthentication"]);
    let updated = match rec.str(&["lastUpdatedDateTime"]) {
        None => None,
        Some(t) => Some(
            parse_instant(&t)
                .ok_or_else(|| format!("field lastUpdatedDateTime: {t:?} is not an ISO 8601 date-time"))?
                .timestamp_micros(),
        ),
    };
    let extra = rec.leftovers("");
    Ok(vec![
        Cell::Date(Some(ctx.snapshot_date)),
        Cell::Str(Some(id)),
        upn.into(),
        name.into(),
        user_type.into(),
        is_admin.into(),
        reg.into(),
        en.into(),
        cap.into(),
        mfa_reg.into(),
        mfa_cap.into(),
        pwl.into(),
        sys.into(),
        methods.into(),
        sys_methods.into(),
        preferred.into(),
        Cell::Ts(updated),
        object_text(&extra).into(),
        Cell::Str(Some(Cow::Borrowed(ctx.source_file))),
        Cell::Ts(Some(ctx.ingested_at)),
    ])
}

/// A JSON string array (or a comma-separated CSV cell) as one comma-separated string.
fn string_list(rec: &mut RawObject<'_>, key: &str, sort: bool) -> Result<Option<String>, String> {
    let Some(v) = rec
        .json(&[key])
        .or_else(|_| Ok::<_, String>(rec.str(&[key]).map(|s| Value::String(s.into_owned()))))?
    else {
        return Ok(None);
    };
    let mut items: Vec<String> = match v {
        Value::Array(a) => a
            .into_iter()
            .map(|x| match x {
                Value::String(s) => Ok(s),
                other => Err(format!("field {key}: expected strings, got {other}")),
            })
            .collect::<Result<_, _>>()?,
        Value::String(s) => s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
        other => return Err(format!("field {key}: expected an array of strings, got {other}")),
    };
    if sort {
        items.sort();
        items.dedup();
    }
    Ok(Some(items.join(",")))
}

/// Flattens a Graph `user` record.
pub fn user_row<'a>(rec: &mut RawObject<'a>, ctx: &RowContext<'a>) -> Result<Vec<Cell<'a>>, String> {
    let id = rec.str(&["id"]).ok_or("missing id")?;
    let upn = rec.str(&["userPrincipalName"]);
    let name = rec.str(&["displayName"]);
    let user_type = rec.str(&["userType"]).map(|s| Cow::Owned(s.to_ascii_lowercase()));
    let dept = rec.str(&["department"]);
    let title = rec.str(&["jobTitle"]);
    let enabled = rec.bool(&["accountEnabled"]).map_err(|e| e.to_string())?;
    let created = match rec.str(&["createdDateTime"]) {
        None => None,
        Some(t) => Some(
            parse_instant(&t)
                .ok_or_else(|| format!("field createdDateTime: {t:?} is not an ISO 8601 date-time"))?
                .timestamp_micros(),
        ),
    };
    let synced = rec.bool(&["onPremisesSyncEnabled"]).map_err(|e| e.to_string())?;
    let extra = rec.leftovers("");
    Ok(vec![
        Cell::Date(Some(ctx.snapshot_date)),
        Cell::Str(Some(id)),
        upn.into(),
        name.into(),
        user_type.into(),
        dept.into(),
        title.into(),
        enabled.into(),
        Cell::Ts(created),
        synced.into(),
        object_text(&extra).into(),
        Cell::Str(Some(Cow::Borrowed(ctx.source_file))),
        Cell::Ts(Some(ctx.ingested_at)),
    ])
}
