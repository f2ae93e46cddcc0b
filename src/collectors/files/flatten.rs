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
pub(crate) enum AuditSource {
    Graph,
    DiagnosticArchive,
    LogAnalytics,
    LogAnalyticsCsv,
    /// The Entra admin center's audit log download (CSV).
    PortalCsv,
}

impl AuditSource {
    fn as_str(self) -> &'static str {
        match self {
            AuditSource::Graph => "graph",
            AuditSource::DiagnosticArchive => "diagnostic_archive",
            AuditSource::LogAnalytics => "log_analytics",
            AuditSource::LogAnalyticsCsv => "log_analytics_csv",
            AuditSource::PortalCsv => "portal_csv",
        }
    }
}

/// Flattens a `directoryAudit` (Graph or Log Analytics) record. `envelope` is the
/// diagnostic-settings wrapper when there is one.
pub(crate) fn audit_row<'a>(
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
    if !crate::util::storable_time(time.timestamp_micros()) {
        return Err(format!("field activityDateTime: {time_text:?} is outside 1601-01-01 .. 9999-12-31"));
    }
    let initiated_json = rec.json_field_text(&["initiatedBy"]).map(|(_, t)| t);
    let targets_json = rec.json_field_text(&["targetResources"]).map(|(_, t)| t);
    let details_json = rec.json_field_text(&["additionalDetails"]).map(|(_, t)| t);
    let nested = Nested::read(initiated_json.as_deref(), targets_json.as_deref(), details_json.as_deref())?;
    let ustr = |k: &str| nested.user.get(k).map(|s| Cow::Owned(s.to_string()));
    let astr = |k: &str| nested.app.get(k).map(|s| Cow::Owned(s.to_string()));
    let tstr = |k: &str| nested.target.get(k).map(|s| Cow::Owned(s.to_string()));
    let detail = |key: &str| nested.detail(key);

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

/// The facts of `initiatedBy`, `targetResources` and `additionalDetails` the row needs, read with
/// typed deserialisation (no JSON tree is built; the texts themselves go to the `_json` columns).
/// Shapes the typed reader does not expect fall back to a JSON tree with case-insensitive lookups.
#[derive(Default)]
struct Nested {
    user: Party,
    app: Party,
    target: Party,
    details: Vec<(String, String)>,
}

/// `id`, `userPrincipalName`, `displayName`, `ipAddress`, `appId`, `servicePrincipalId`.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct Party {
    #[serde(alias = "Id", deserialize_with = "scalar")]
    id: Option<String>,
    #[serde(rename = "userPrincipalName", alias = "UserPrincipalName", deserialize_with = "scalar")]
    upn: Option<String>,
    #[serde(rename = "displayName", alias = "DisplayName", deserialize_with = "scalar")]
    display_name: Option<String>,
    #[serde(rename = "ipAddress", alias = "IpAddress", deserialize_with = "scalar")]
    ip: Option<String>,
    #[serde(rename = "appId", alias = "AppId", deserialize_with = "scalar")]
    app_id: Option<String>,
    #[serde(rename = "servicePrincipalId", alias = "ServicePrincipalId", deserialize_with = "scalar")]
    sp_id: Option<String>,
    #[serde(rename = "type", alias = "Type", deserialize_with = "scalar")]
    kind: Option<String>,
}

impl Party {
    fn get(&self, k: &str) -> Option<&str> {
        match k {
            "id" => self.id.as_deref(),
            "userPrincipalName" => self.upn.as_deref(),
            "displayName" => self.display_name.as_deref(),
            "ipAddress" => self.ip.as_deref(),
            "appId" => self.app_id.as_deref(),
            "servicePrincipalId" => self.sp_id.as_deref(),
            _ => None,
        }
    }

    fn from_value(v: Option<&Value>) -> Self {
        let s = |k: &str| v.and_then(|v| path_str(v, &[k])).map(Cow::into_owned);
        Party {
            id: s("id"),
            upn: s("userPrincipalName"),
            display_name: s("displayName"),
            ip: s("ipAddress"),
            app_id: s("appId"),
            sp_id: s("servicePrincipalId"),
            kind: s("type"),
        }
    }
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct Initiated {
    #[serde(alias = "User", deserialize_with = "nullable")]
    user: Party,
    #[serde(alias = "App", deserialize_with = "nullable")]
    app: Party,
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct Detail {
    #[serde(alias = "Key", deserialize_with = "scalar")]
    key: Option<String>,
    #[serde(alias = "Value", deserialize_with = "scalar")]
    value: Option<String>,
}

/// `null` as the default.
fn nullable<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(<Option<T> as serde::Deserialize>::deserialize(d)?.unwrap_or_default())
}

/// A scalar as text (`null` and `""` as `None`, numbers and booleans printed); objects and arrays
/// are skipped as `None` (the whole field is kept in its `_json` column).
fn scalar<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON scalar")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok((!v.is_empty()).then(|| v.to_string()))
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok((!v.is_empty()).then_some(v))
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(serde_json::Number::from_f64(v).map(|n| n.to_string()).unwrap_or_else(|| v.to_string())))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(V)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            while m.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
            while s.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

impl Nested {
    fn read(initiated: Option<&str>, targets: Option<&str>, details: Option<&str>) -> Result<Self, String> {
        let typed = || -> serde_json::Result<Nested> {
            let i: Initiated = initiated.map(serde_json::from_str).transpose()?.unwrap_or_default();
            let t: Vec<Party> = targets.map(serde_json::from_str).transpose()?.unwrap_or_default();
            let d: Vec<Detail> = details.map(serde_json::from_str).transpose()?.unwrap_or_default();
            let target =
                t.into_iter().find(|p| p.kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case("user")));
            Ok(Nested {
                user: i.user,
                app: i.app,
                target: target.unwrap_or_default(),
                details: d.into_iter().filter_map(|d| Some((d.key?, d.value?))).collect(),
            })
        };
        if let Ok(n) = typed() {
            return Ok(n);
        }
        // Unexpected shapes (or invalid JSON, which fails here with the field named).
        let tree = |field: &str, text: Option<&str>| -> Result<Option<Value>, String> {
            text.map(|t| {
                serde_json::from_str::<Value>(t).map_err(|e| format!("field {field} is not valid JSON ({e})"))
            })
            .transpose()
        };
        let initiated = tree("initiatedBy", initiated)?;
        let targets = tree("targetResources", targets)?;
        let details = tree("additionalDetails", details)?;
        let details = details
            .as_ref()
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|kv| {
                        let k = lookup(kv, "key")?.as_str()?.to_string();
                        let v = match lookup(kv, "value")? {
                            Value::String(s) if !s.is_empty() => s.clone(),
                            Value::String(_) => return None,
                            other => other.to_string(),
                        };
                        Some((k, v))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Nested {
            user: Party::from_value(initiated.as_ref().and_then(|v| lookup(v, "user"))),
            app: Party::from_value(initiated.as_ref().and_then(|v| lookup(v, "app"))),
            target: Party::from_value(targets.as_ref().and_then(first_user_target)),
            details,
        })
    }

    /// An `additionalDetails` value by key, compared case-insensitively.
    fn detail(&self, key: &str) -> Option<String> {
        self.details.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.clone())
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

/// Flattens a `userRegistrationDetails` record.
pub(crate) fn registration_row<'a>(
    rec: &mut RawObject<'a>,
    ctx: &RowContext<'a>,
) -> Result<Vec<Cell<'a>>, String> {
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
pub(crate) fn user_row<'a>(rec: &mut RawObject<'a>, ctx: &RowContext<'a>) -> Result<Vec<Cell<'a>>, String> {
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

#[cfg(test)]
mod nested_tests {
    use super::Nested;

    #[test]
    fn typed_and_tree_readers_agree_and_bad_json_names_the_field() {
        let i = r#"{"user":{"id":"u1","userPrincipalName":"a@b","ipAddress":"203.0.113.9","extra":{"x":[1]}},"app":null}"#;
        let t = r#"[{"type":"Device","id":"d"},{"Type":"User","Id":"t1","UserPrincipalName":"t@b"}]"#;
        let d = r#"[{"key":"ClientType","value":"Browser"},{"key":"n","value":3},{"key":"e","value":""}]"#;
        let n = Nested::read(Some(i), Some(t), Some(d)).unwrap();
        assert_eq!(n.user.get("ipAddress"), Some("203.0.113.9"));
        assert_eq!(n.target.get("userPrincipalName"), Some("t@b"));
        assert_eq!(n.detail("clienttype").as_deref(), Some("Browser"));
        assert_eq!(n.detail("n").as_deref(), Some("3"));
        assert_eq!(n.detail("e"), None);
        // A shape the typed reader rejects (user as a string) goes through the tree reader.
        let odd = Nested::read(Some(r#"{"user":"someone","app":{"appId":"x"}}"#), None, None).unwrap();
        assert_eq!(odd.app.get("appId"), Some("x"));
        assert_eq!(odd.user.get("id"), None);
        let err = Nested::read(None, Some("[{"), None).err().unwrap();
        assert!(err.contains("targetResources"), "{err}");
    }
}
