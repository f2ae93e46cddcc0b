//! The mock's pages: `directoryAudits` filtered as the collector's `$filter` asks, and the
//! registration and users snapshots, cut by `$top` with a `$skiptoken` next link as Graph does.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::collectors::graph::mock::{MockConfig, time_of};

/// The page a request asks for: (body, items). `None` for unknown paths.
pub(super) fn build_page(
    cfg: &MockConfig,
    path: &str,
    query: &str,
    base: &str,
    scale: usize,
) -> Option<(Vec<u8>, usize)> {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let skip: usize = get("$skiptoken").and_then(|s| s.parse().ok()).unwrap_or(0);
    let top: usize =
        get("$top").and_then(|s| s.parse().ok()).unwrap_or(cfg.page_size).min(cfg.page_size).max(1) * scale;
    let data: Vec<&Value> = if path.ends_with("/auditLogs/directoryAudits") {
        let f = parse_filter(get("$filter").as_deref().unwrap_or(""));
        cfg.audits
            .iter()
            .filter(|e| {
                let t = time_of(e);
                f.ge.is_none_or(|g| t.is_some_and(|t| t >= g))
                    && f.le.is_none_or(|l| t.is_some_and(|t| t <= l))
                    && f.service.as_ref().is_none_or(|s| e["loggedByService"].as_str() == Some(s.as_str()))
                    && f.activity
                        .as_ref()
                        .is_none_or(|a| e["activityDisplayName"].as_str() == Some(a.as_str()))
            })
            .collect()
    } else if path.ends_with("/reports/authenticationMethods/userRegistrationDetails") {
        cfg.registrations.iter().collect()
    } else if path.ends_with("/users") {
        cfg.users.iter().collect()
    } else if path.ends_with("/roleManagement/directory/roleAssignments") {
        cfg.roles.iter().collect()
    } else {
        return None;
    };
    let items: Vec<&Value> = data.iter().skip(skip).take(top).copied().collect();
    let mut page = json!({"@odata.context": format!("{base}{path}"), "value": items});
    if skip + items.len() < data.len() {
        let mut next: Vec<(String, String)> = params.into_iter().filter(|(k, _)| k != "$skiptoken").collect();
        next.push(("$skiptoken".into(), (skip + items.len()).to_string()));
        let q = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(next).finish();
        page["@odata.nextLink"] = json!(format!("{base}{path}?{q}"));
    }
    let n = items.len();
    Some((page.to_string().into_bytes(), n))
}

#[derive(Debug, Default)]
struct Filter {
    ge: Option<DateTime<Utc>>,
    le: Option<DateTime<Utc>>,
    service: Option<String>,
    activity: Option<String>,
}

/// Understands the filter shapes the collector sends:
/// `activityDateTime ge X and activityDateTime le Y and loggedByService eq 'S'`.
fn parse_filter(f: &str) -> Filter {
    let mut out = Filter::default();
    for clause in f.split(" and ") {
        let c = clause.trim();
        if let Some(v) = c.strip_prefix("activityDateTime ge ") {
            out.ge = crate::util::parse_instant(v);
        } else if let Some(v) = c.strip_prefix("activityDateTime le ") {
            out.le = crate::util::parse_instant(v);
        } else if let Some(v) = c.strip_prefix("loggedByService eq ") {
            out.service = Some(v.trim_matches('\'').replace("''", "'"));
        } else if let Some(v) = c.strip_prefix("activityDisplayName eq ") {
            out.activity = Some(v.trim_matches('\'').replace("''", "'"));
        }
    }
    out
}
