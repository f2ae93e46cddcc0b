//! What a Graph collection run covers: the plan from the config, and the run's slices (one per
//! `loggedByService` and `slice_hours` of the window, plus the registration and users snapshots)
//! with their progress, which the checkpoint persists after every page.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::collectors::graph::cloud::{Endpoints, GraphApi};
use crate::error::{Error, Result};

/// What to collect and how.
#[derive(Debug, Clone)]
pub struct CollectPlan {
    pub endpoints: Endpoints,
    /// `loggedByService` values, one slice series each.
    pub services: Vec<String>,
    pub slice: chrono::Duration,
    pub overlap: chrono::Duration,
    pub lag: chrono::Duration,
    pub initial_lookback: chrono::Duration,
    /// Explicit window (overrides watermark logic).
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub concurrency: usize,
    pub page_size: usize,
    pub registration: bool,
    pub users: bool,
    /// Snapshot the directory role assignments (who is a privileged admin).
    pub roles: bool,
    /// Use the beta endpoint for audits (adds `userAgent`).
    pub beta_audits: bool,
}

/// One slice's progress, persisted after every page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct SliceState {
    pub source: String,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub start_url: String,
    pub next: Option<String>,
    pub pages: u64,
    pub items: u64,
    pub retries: u64,
    pub throttled: u64,
    pub done: bool,
    pub error: Option<String>,
}

/// A run in progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct RunState {
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub snapshot_date: NaiveDate,
    pub slices: BTreeMap<String, SliceState>,
}

fn fmt_instant(t: DateTime<Utc>) -> String {
    // chrono has no 7-digit fraction; Entra writes 100 ns ticks.
    format!("{}.{:07}Z", t.format("%Y-%m-%dT%H:%M:%S"), t.timestamp_subsec_nanos() / 100)
}

fn odata_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

/// Plans a new run's slices.
pub(crate) fn plan_run(
    plan: &CollectPlan,
    watermark: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<RunState> {
    let end = plan.to.unwrap_or(now - plan.lag);
    let start = plan
        .from
        .unwrap_or_else(|| watermark.map(|w| w - plan.overlap).unwrap_or(end - plan.initial_lookback));
    if start >= end {
        return Err(Error::Config(format!("empty window: {start} is not before {end}")));
    }
    let mut slices = BTreeMap::new();
    let version = if plan.beta_audits { "beta" } else { "v1.0" };
    if plan.endpoints.cloud.supports(GraphApi::DirectoryAudits) {
        for entry in &plan.services {
            // `Service` or `Service|Activity` (e.g. Core Directory's password operations only).
            let (service, activity) = match entry.split_once('|') {
                Some((s, a)) => (s.trim(), Some(a.trim())),
                None => (entry.trim(), None),
            };
            let mut s = start;
            while s < end {
                let e = (s + plan.slice).min(end);
                // ge start, le end minus one tick: windows are half-open and never overlap.
                let mut filter = format!(
                    "activityDateTime ge {} and activityDateTime le {} and loggedByService eq {}",
                    fmt_instant(s),
                    fmt_instant(e - chrono::Duration::nanoseconds(100)),
                    odata_quote(service)
                );
                if let Some(a) = activity {
                    filter.push_str(&format!(" and activityDisplayName eq {}", odata_quote(a)));
                }
                let mut url =
                    url::Url::parse(&plan.endpoints.graph_url(version, "auditLogs/directoryAudits"))
                        .map_err(|e| Error::Config(e.to_string()))?;
                url.query_pairs_mut()
                    .append_pair("$filter", &filter)
                    .append_pair("$orderby", "activityDateTime asc")
                    .append_pair("$top", &plan.page_size.to_string());
                let key = format!("audits.{}.{}", slug(entry), s.format("%Y%m%dT%H%M%SZ"));
                slices
                    .insert(key, SliceState::new("graph:directoryAudits", Some(s), Some(e), url.to_string()));
                s = e;
            }
        }
    } else {
        tracing::warn!(cloud = ?plan.endpoints.cloud, "directoryAudits is not available in this cloud; collecting snapshots only.");
    }
    if plan.registration {
        let url = format!(
            "{}?$top={}",
            plan.endpoints.graph_url("v1.0", "reports/authenticationMethods/userRegistrationDetails"),
            plan.page_size
        );
        slices
            .insert("registration".into(), SliceState::new("graph:userRegistrationDetails", None, None, url));
    }
    if plan.users {
        let select = "id,userPrincipalName,displayName,userType,department,jobTitle,accountEnabled,createdDateTime,onPremisesSyncEnabled";
        let url =
            format!("{}?$select={select}&$top={}", plan.endpoints.graph_url("v1.0", "users"), plan.page_size);
        slices.insert("users".into(), SliceState::new("graph:users", None, None, url));
    }
    if plan.roles {
        // Active assignments with their role's name and template; the principal is joined to
        // `users` by id (a group or service principal holds roles too, and is kept as such).
        // The endpoint does not page with $top: Graph returns every assignment.
        let url = format!(
            "{}?$expand=roleDefinition",
            plan.endpoints.graph_url("v1.0", "roleManagement/directory/roleAssignments")
        );
        slices.insert("roles".into(), SliceState::new("graph:roleAssignments", None, None, url));
    }
    Ok(RunState {
        run_id: crate::util::new_run_id(),
        started_at: now,
        window_start: start,
        window_end: end,
        snapshot_date: now.date_naive(),
        slices,
    })
}

impl SliceState {
    fn new(
        source: &str,
        window_start: Option<DateTime<Utc>>,
        window_end: Option<DateTime<Utc>>,
        start_url: String,
    ) -> Self {
        Self {
            source: source.into(),
            window_start,
            window_end,
            start_url,
            next: None,
            pages: 0,
            items: 0,
            retries: 0,
            throttled: 0,
            done: false,
            error: None,
        }
    }
}

/// Default sources: every SSPR and registration event, and only the password operations of Core
/// Directory (its other activities are the whole directory's change log).
pub(crate) fn default_services() -> Vec<String> {
    vec![
        "Self-service Password Management".into(),
        "Authentication Methods".into(),
        "Core Directory|Reset user password".into(),
        "Core Directory|Change user password".into(),
    ]
}

/// A plan with the defaults of the config file.
pub(crate) fn default_plan(endpoints: Endpoints) -> CollectPlan {
    CollectPlan {
        endpoints,
        services: default_services(),
        slice: chrono::Duration::hours(24),
        overlap: chrono::Duration::hours(2),
        lag: chrono::Duration::minutes(15),
        initial_lookback: chrono::Duration::days(7),
        from: None,
        to: None,
        concurrency: 4,
        page_size: 999,
        registration: true,
        users: true,
        roles: true,
        beta_audits: false,
    }
}

/// A duration like `2h`, `15m`, `7d`, `30s`.
pub(crate) fn parse_span(s: &str) -> std::result::Result<chrono::Duration, String> {
    let t = s.trim();
    let (n, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = n.parse().map_err(|_| format!("{s:?} is not a duration like 2h, 15m, 7d"))?;
    Ok(match unit {
        "s" => chrono::Duration::seconds(n),
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => return Err(format!("{s:?}: unit must be s, m, h or d")),
    })
}

/// Per-request timeout when the config gives none.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::graph::cloud::Cloud;

    #[test]
    fn slices_are_half_open_per_service_and_cover_the_window() {
        let mut plan = default_plan(Endpoints::new(Cloud::Global, None, None));
        plan.from = Some("2026-11-01T00:00:00Z".parse().unwrap());
        plan.to = Some("2026-11-03T12:00:00Z".parse().unwrap());
        let run = plan_run(&plan, None, Utc::now()).unwrap();
        let audits: Vec<_> = run.slices.iter().filter(|(k, _)| k.starts_with("audits.")).collect();
        assert_eq!(audits.len(), 4 * 3);
        let sspr: Vec<_> = audits.iter().filter(|(k, _)| k.contains("self-service")).collect();
        assert_eq!(sspr[0].1.window_end, sspr[1].1.window_start);
        assert_eq!(sspr[2].1.window_end, plan.to);
        let url = url::Url::parse(&sspr[0].1.start_url).unwrap();
        let filter = url.query_pairs().find(|(k, _)| k == "$filter").unwrap().1.to_string();
        assert_eq!(
            filter,
            "activityDateTime ge 2026-11-01T00:00:00.0000000Z and activityDateTime le 2026-11-01T23:59:59.9999999Z and loggedByService eq 'Self-service Password Management'"
        );
        assert!(url.as_str().starts_with("https://graph.microsoft.com/v1.0/auditLogs/directoryAudits?"));
        let core = audits.iter().find(|(k, _)| k.contains("reset-user-password")).unwrap();
        let f = url::Url::parse(&core.1.start_url)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "$filter")
            .unwrap()
            .1
            .to_string();
        assert!(
            f.ends_with(
                "loggedByService eq 'Core Directory' and activityDisplayName eq 'Reset user password'"
            ),
            "{f}"
        );
        assert!(run.slices.contains_key("registration") && run.slices.contains_key("users"));
        assert!(
            run.slices["roles"]
                .start_url
                .ends_with("/v1.0/roleManagement/directory/roleAssignments?$expand=roleDefinition")
        );
        let china = plan_run(
            &CollectPlan { endpoints: Endpoints::new(Cloud::China, None, None), ..plan.clone() },
            None,
            Utc::now(),
        )
        .unwrap();
        assert!(china.slices.keys().all(|k| !k.starts_with("audits.")));
        // `[graph] roles = false` leaves the role assignments out.
        let no_roles = plan_run(&CollectPlan { roles: false, ..plan.clone() }, None, Utc::now()).unwrap();
        assert!(!no_roles.slices.contains_key("roles") && no_roles.slices.contains_key("users"));
        assert_eq!(parse_span("2h").unwrap(), chrono::Duration::hours(2));
        assert!(parse_span("2 hours").is_err());
    }

    #[test]
    fn the_next_window_overlaps_the_watermark() {
        let plan = default_plan(Endpoints::new(Cloud::Global, None, None));
        let now: DateTime<Utc> = "2026-11-10T12:00:00Z".parse().unwrap();
        let w: DateTime<Utc> = "2026-11-10T06:00:00Z".parse().unwrap();
        let run = plan_run(&plan, Some(w), now).unwrap();
        assert_eq!(run.window_start, w - chrono::Duration::hours(2));
        assert_eq!(run.window_end, now - chrono::Duration::minutes(15));
        let first = plan_run(&plan, None, now).unwrap();
        assert_eq!(first.window_start, first.window_end - chrono::Duration::days(7));
    }
}
