//! The figures the reports must show for a generated tenant, computed from the generator's model.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::sample::roles::Assignment;
use crate::sample::sessions::{Event, SessionTruth};
use crate::sample::tenant::{TenantParams, User};
use coverage::{coverage, coverage_by_role};

mod coverage;
mod findings;
mod onprem;
mod rows;

pub use onprem::{CountRow, DcResetRow, GapRow, OnPremTruth};
pub use rows::{
    ActivityDayRow, CodeRow, CoverageDailyRow, CoverageRow, DayRow, IpDayRow, KeyCount, MethodRow,
    PasswordOpsRow, ReasonRow, RegistrationDayRow, Signals, UserStory,
};

#[derive(Debug, Clone)]
struct SessionFact {
    correlation_id: String,
    ip: String,
    start: chrono::DateTime<chrono::Utc>,
    upn: String,
    outcome: &'static str,
    started: Vec<&'static str>,
    completed: Vec<&'static str>,
    /// New passwords refused by the policy, the terminal one included.
    rejected: u64,
    /// The session's last event.
    end: chrono::DateTime<chrono::Utc>,
}

/// `ground_truth.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroundTruth {
    pub generator: serde_json::Value,
    pub tenant_id: String,
    pub users: u64,
    /// Unique audit events across all exports.
    pub audit_events: u64,
    pub sspr_sessions: u64,
    pub sspr_sessions_succeeded: u64,
    pub latest_snapshot: Option<NaiveDate>,
    /// `registration_coverage` as the portal counts: accounts enabled in the users snapshot.
    pub registration_coverage: Vec<CoverageRow>,
    /// `registration_coverage` with `include_disabled=true`.
    #[serde(default)]
    pub registration_coverage_all_accounts: Vec<CoverageRow>,
    /// `registration_coverage_by_role`: Graph's privilegedAdmin / admin / user split of the
    /// enabled accounts, with the all-users row.
    #[serde(default)]
    pub registration_coverage_by_role: Vec<CoverageRow>,
    /// Active role assignments in the roleAssignments snapshot (users, groups, service principals).
    #[serde(default)]
    pub role_assignments: u64,
    pub reset_success_daily: Vec<DayRow>,
    pub reset_failures_by_reason: Vec<ReasonRow>,
    /// Cloud failure events by code (SSPR_00xx where known, else the resultReason).
    pub error_codes_cloud: Vec<CodeRow>,
    /// Attempts that failed or were blocked, by the code of their last failure.
    #[serde(default)]
    pub failed_attempts_by_code: Vec<CodeRow>,
    /// Reset attempts (sessions) by their true outcome and by the client kind they came from.
    #[serde(default)]
    pub attempts_by_outcome: Vec<KeyCount>,
    #[serde(default)]
    pub attempts_by_client_kind: Vec<KeyCount>,
    #[serde(default)]
    pub succeeded_by_client_kind: Vec<KeyCount>,
    /// Seconds from first to last event of succeeded sessions: 50th, 90th, 99th percentile
    /// (linear interpolation between closest ranks, as `percentile_cont`).
    #[serde(default)]
    pub time_to_reset_p50: f64,
    #[serde(default)]
    pub time_to_reset_p90: f64,
    #[serde(default)]
    pub time_to_reset_p99: f64,
    /// Enabled users created at least 14 days before the latest snapshot and not SSPR registered.
    #[serde(default)]
    pub new_users_unregistered_14d: u64,
    /// `Reset password (by admin)` events.
    #[serde(default)]
    pub admin_resets: u64,
    #[serde(default)]
    pub signals: Signals,
    /// Self-service attempts per verification method: started it, completed it, and succeeded.
    #[serde(default)]
    pub by_method: Vec<MethodRow>,
    /// Coverage per snapshot and slice (user type, role, department).
    #[serde(default)]
    pub coverage_daily: Vec<CoverageDailyRow>,
    /// The on-premises logs (writeback server, domain controller, credential providers).
    #[serde(default)]
    pub onprem: OnPremTruth,
    /// Enabled users of the latest registration snapshot per combination of registered methods
    /// (sorted, comma-separated; "" for none): `registration_by_method` and
    /// `registration_by_method_group` follow from it and the auth_methods reference table.
    #[serde(default)]
    pub method_sets: BTreeMap<String, u64>,
    /// Every password and security-info audit event (logged by SSPR or Authentication Methods)
    /// but the reset flow's steps, per UTC day, activity and result.
    #[serde(default)]
    pub activity_daily: Vec<ActivityDayRow>,
    /// `resets_outside_business_hours` with its defaults (UTC, 8 to 18, Monday to Friday): the
    /// correlation ids of the self-service attempts and the number of admin resets.
    #[serde(default)]
    pub off_hours_sessions: Vec<String>,
    #[serde(default)]
    pub off_hours_admin_resets: u64,
    /// `admin_self_resets` with its defaults (at least 2): (admin UPN, attempts, succeeded).
    #[serde(default)]
    pub admin_self_resets: Vec<(String, u64, u64)>,
    #[serde(skip)]
    admins: std::collections::BTreeSet<String>,
    /// `reset_users`: (initiated_by, attempts, attempts succeeded, users tried, users succeeded).
    #[serde(default)]
    pub reset_users: Vec<(String, u64, u64, u64, u64)>,
    /// `user_timeline` / `sspr explain` for one user per way a last session can end.
    #[serde(default)]
    pub user_stories: Vec<UserStory>,
    /// `repeated_password_rejections` with its default (at least 3): self-service attempts with
    /// that many new passwords refused, as (correlation id, UPN, rejected, outcome).
    #[serde(default)]
    pub repeated_password_rejections: Vec<(String, String, u64, String)>,
    /// `password_operations_per_user_daily` with its default (more than 3 a day).
    #[serde(default)]
    pub password_operations_per_user_daily: Vec<PasswordOpsRow>,
    /// Security-info events that name a method, per (UTC day, activity, method, result):
    /// `registration_activity_daily`.
    #[serde(default)]
    pub registration_activity_daily: Vec<RegistrationDayRow>,
    /// Every security-info event (registrations, changes, deletions, started and completed).
    #[serde(default)]
    pub security_info_events: u64,
    #[serde(skip)]
    security_info: BTreeMap<(NaiveDate, String, String, String), u64>,
    /// `reset_then_privileged_operation` with its default (30 minutes): (UPN, reset by `self` or
    /// `admin`, operation, when the operation was).
    #[serde(default)]
    pub reset_then_privileged_operation: Vec<(String, String, String, chrono::DateTime<chrono::Utc>)>,
    /// (actor UPN, time, activity) of every privileged directory operation but admin resets.
    #[serde(skip)]
    privileged_facts: Vec<(String, chrono::DateTime<chrono::Utc>, String)>,
    /// (UPN, time) of every self-service password change.
    #[serde(skip)]
    change_facts: Vec<(String, chrono::DateTime<chrono::Utc>)>,
    #[serde(skip)]
    days: BTreeMap<NaiveDate, DayRow>,
    #[serde(skip)]
    reasons: BTreeMap<(String, String), u64>,
    #[serde(skip)]
    codes: BTreeMap<String, u64>,
    /// (code, 1) per cloud error event: the terminal failure of a session and each refused
    /// password that was retried.
    #[serde(skip)]
    event_codes: Vec<(String, u64)>,
    #[serde(skip)]
    durations: Vec<f64>,
    #[serde(skip)]
    session_facts: Vec<SessionFact>,
    /// (upn, time, ip) of every security-info registration event.
    #[serde(skip)]
    registration_facts: Vec<(String, chrono::DateTime<chrono::Utc>, String)>,
    /// (admin upn, target upn, time) of every admin reset.
    #[serde(skip)]
    admin_facts: Vec<(String, String, chrono::DateTime<chrono::Utc>)>,
}

impl GroundTruth {
    pub(crate) fn add_roles(&mut self, people: &[User], assignments: &[Assignment]) {
        self.role_assignments = assignments.len() as u64;
        self.registration_coverage_by_role = coverage_by_role(people, assignments);
    }

    pub(crate) fn new(p: &TenantParams, tenant_id: &str) -> Self {
        Self {
            generator: serde_json::to_value(p).unwrap_or_default(),
            tenant_id: tenant_id.to_string(),
            users: p.users as u64,
            ..Default::default()
        }
    }

    pub(crate) fn add_registration(&mut self, people: &[User], snapshot: NaiveDate) {
        self.latest_snapshot = Some(snapshot);
        let midnight = snapshot.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        self.new_users_unregistered_14d = people
            .iter()
            .filter(|u| {
                u.account_enabled && !u.registered && (midnight - u.created).num_seconds() >= 14 * 86_400
            })
            .count() as u64;
        self.admins = people.iter().filter(|u| u.is_admin).map(|u| u.upn.clone()).collect();
        self.method_sets = BTreeMap::new();
        for u in people.iter().filter(|u| u.account_enabled) {
            *self.method_sets.entry(u.methods.join(",")).or_default() += 1;
        }
        // As the portal counts (enabled accounts), and with the disabled ones too.
        self.registration_coverage = coverage(people.iter().filter(|u| u.account_enabled));
        self.registration_coverage_all_accounts = coverage(people.iter());
    }

    pub(crate) fn add_session(&mut self, t: &SessionTruth, events: &[Event]) {
        self.audit_events += events.len() as u64;
        self.sspr_sessions += 1;
        let day = self
            .days
            .entry(t.start.date_naive())
            .or_insert_with(|| DayRow { day: t.start.date_naive(), ..Default::default() });
        day.sessions_started += 1;
        if t.succeeded {
            day.sessions_succeeded += 1;
            self.sspr_sessions_succeeded += 1;
        } else if let Some(r) = &t.reason {
            // The report groups a reason by its text without surrounding space and trailing
            // periods: Entra writes some strings both ways.
            let reason = r.trim().trim_end_matches('.').to_string();
            *self.reasons.entry((t.outcome.to_string(), reason)).or_default() += 1;
        } else {
            *self.reasons.entry((t.outcome.to_string(), "no terminal step logged".into())).or_default() += 1;
        }
        let exported = |e: &Event| crate::util::parse_instant(e.json["activityDateTime"].as_str()?);
        self.session_facts.push(SessionFact {
            correlation_id: t.correlation_id.clone(),
            ip: t.ip.clone(),
            start: events.iter().filter_map(exported).min().unwrap_or(t.start),
            upn: t.upn.clone(),
            outcome: if t.succeeded { "succeeded" } else { t.outcome },
            started: t.methods_started.clone(),
            completed: t.methods_completed.clone(),
            rejected: t.retried_passwords.len() as u64 + u64::from(t.password_refused()),
            end: events.iter().filter_map(exported).max().unwrap_or(t.start),
        });
        if let Some(c) = &t.error_code {
            *self.codes.entry(c.clone()).or_default() += 1;
        }
        // A refused password the user then replaced is an error event of its own; every refusal
        // the generator writes is the banned-password one (sspr_steps.csv gives them its code).
        self.event_codes.extend(t.error_code.iter().map(|c| (c.clone(), 1)).chain(
            t.retried_passwords.iter().map(|_| (crate::sample::sessions::REFUSALS[0].to_string(), 1)),
        ));
        bump(&mut self.attempts_by_outcome, if t.succeeded { "succeeded" } else { t.outcome });
        let kind = match t.client {
            "WindowsLogonScreen" => "windows_logon_screen",
            "WindowsAddIn" => "windows_7_8_addin",
            _ => "browser",
        };
        bump(&mut self.attempts_by_client_kind, kind);
        if t.succeeded {
            bump(&mut self.succeeded_by_client_kind, kind);
            // The exported times (with their sub-second part), as the lake sees them.
            let times: Vec<i64> = events
                .iter()
                .filter_map(|e| crate::util::parse_instant(e.json["activityDateTime"].as_str()?))
                .map(|t| t.timestamp_micros())
                .collect();
            if let (Some(a), Some(b)) = (times.iter().min(), times.iter().max()) {
                self.durations.push((b - a) as f64 / 1e6);
            }
        }
    }

    /// Coverage per slice of the two registration snapshots the generator writes.
    pub(crate) fn add_coverage_daily(&mut self, people: &[User], first: NaiveDate, last: NaiveDate) {
        let mut rows: BTreeMap<(NaiveDate, String, String, String, bool), CoverageDailyRow> = BTreeMap::new();
        for (date, latest) in [(first, false), (last, true)] {
            for u in people {
                let registered = if latest { u.registered } else { u.registered_before_window };
                let role = if u.is_admin { "admin" } else { "non-admin" };
                let key = (
                    date,
                    u.user_type.to_string(),
                    role.to_string(),
                    u.department.to_string(),
                    u.account_enabled,
                );
                let r = rows.entry(key.clone()).or_insert_with(|| CoverageDailyRow {
                    snapshot_date: date,
                    user_type: key.1.clone(),
                    role: key.2.clone(),
                    department: key.3.clone(),
                    account_enabled: key.4,
                    ..Default::default()
                });
                r.users += 1;
                r.sspr_registered += u64::from(registered);
                r.sspr_enabled += u64::from(u.sspr_enabled);
                r.sspr_capable += u64::from(registered && u.sspr_enabled);
                r.mfa_capable += u64::from(
                    registered && u.methods.iter().any(|m| *m != "email" && *m != "securityQuestion"),
                );
            }
        }
        self.coverage_daily = rows.into_values().collect();
    }

    pub(crate) fn add_other_events(&mut self, n: usize) {
        self.audit_events += n as u64;
    }

    /// Security-info events (registrations, changes, deletions): counted, and those naming a method
    /// kept per day, activity, method and result.
    pub(crate) fn add_security_info_events(&mut self, events: &[Event]) {
        self.audit_events += events.len() as u64;
        self.security_info_events += events.len() as u64;
        for e in events {
            // register_then_reset: security info registered, changed or deleted, whatever the
            // result, for the account it is about, from the address it came from.
            let user = e.json["targetResources"][0]["userPrincipalName"]
                .as_str()
                .or(e.json["initiatedBy"]["user"]["userPrincipalName"].as_str())
                .unwrap_or_default();
            let ip = e.json["initiatedBy"]["user"]["ipAddress"].as_str().unwrap_or_default();
            if let Some(t) = e.json["activityDateTime"].as_str().and_then(crate::util::parse_instant) {
                self.registration_facts.push((user.to_string(), t, ip.to_string()));
            }
            let Some(method) = e.method else { continue };
            let text = |k: &str| e.json[k].as_str().unwrap_or_default().to_string();
            let day = e.time.date_naive();
            let key = (day, text("activityDisplayName"), method.to_string(), text("result"));
            *self.security_info.entry(key).or_default() += 1;
        }
    }

    /// Directory audits that are not about passwords, each a privileged operation of
    /// `privileged_operations.csv`.
    pub(crate) fn add_privileged_events(&mut self, events: &[Event]) {
        self.audit_events += events.len() as u64;
        for e in events {
            let actor = e.json["initiatedBy"]["user"]["userPrincipalName"].as_str().unwrap_or_default();
            let activity = e.json["activityDisplayName"].as_str().unwrap_or_default();
            if let Some(t) = e.json["activityDateTime"].as_str().and_then(crate::util::parse_instant) {
                self.privileged_facts.push((actor.to_string(), t, activity.to_string()));
            }
        }
    }

    /// A self-service password change by `upn` (counted in the audit events by
    /// [`GroundTruth::add_other_events`]).
    pub(crate) fn add_password_change(&mut self, upn: &str, at: chrono::DateTime<chrono::Utc>) {
        self.change_facts.push((upn.to_string(), at));
    }

    /// The day's audit events per activity and result, but the reset flow's steps (one event per
    /// step): `password_activity_daily`.
    pub(crate) fn add_day_activity(&mut self, day: NaiveDate, events: &[Event]) {
        let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
        for e in events {
            let activity = e.json["activityDisplayName"].as_str().unwrap_or_default();
            let service = e.json["loggedByService"].as_str().unwrap_or_default();
            let password_or_security_info =
                matches!(service, "Self-service Password Management" | "Authentication Methods");
            if activity == "Self-service password reset flow activity progress" || !password_or_security_info
            {
                continue;
            }
            let result = e.json["result"].as_str().unwrap_or_default().to_lowercase();
            *counts.entry((activity.to_string(), result)).or_default() += 1;
        }
        self.activity_daily.extend(counts.into_iter().map(|((activity, result), events)| ActivityDayRow {
            day,
            activity,
            result,
            events,
        }));
    }

    /// Security-info registration events (as exported), for `register_then_reset`.
    pub(crate) fn add_registration_events(&mut self, events: &[Event]) {
        self.add_security_info_events(events);
    }

    pub(crate) fn add_admin_reset(&mut self, admin: &str, target: &str, at: chrono::DateTime<chrono::Utc>) {
        self.audit_events += 1;
        self.admin_resets += 1;
        self.admin_facts.push((admin.to_string(), target.to_string(), at));
    }

    pub(crate) fn finish(&mut self) {
        self.reset_success_daily = self.days.values().cloned().collect();
        let mut reasons: Vec<ReasonRow> = self
            .reasons
            .iter()
            .map(|((o, r), n)| ReasonRow { outcome: o.clone(), reason: r.clone(), sessions: *n })
            .collect();
        reasons.sort_by(|a, b| b.sessions.cmp(&a.sessions).then(a.reason.cmp(&b.reason)));
        self.reset_failures_by_reason = reasons;
        self.failed_attempts_by_code =
            self.codes.iter().map(|(c, n)| CodeRow { code: c.clone(), events: *n }).collect();
        let mut events: BTreeMap<&str, u64> = BTreeMap::new();
        for (c, n) in &self.event_codes {
            *events.entry(c).or_default() += n;
        }
        self.error_codes_cloud =
            events.iter().map(|(c, n)| CodeRow { code: c.to_string(), events: *n }).collect();
        self.durations.sort_by(f64::total_cmp);
        let pct = |p: f64| -> f64 {
            let d = &self.durations;
            if d.is_empty() {
                return 0.0;
            }
            let rank = p * (d.len() - 1) as f64;
            let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
            d[lo] + (d[hi] - d[lo]) * (rank - lo as f64)
        };
        self.time_to_reset_p50 = pct(0.5);
        self.time_to_reset_p90 = pct(0.9);
        self.time_to_reset_p99 = pct(0.99);
        self.compute_signals();
        self.compute_user_stories();
        self.compute_reset_users();
        self.compute_hunts();
        self.compute_password_hunts();
        self.compute_privileged_after_reset();
        self.registration_activity_daily = self
            .security_info
            .iter()
            .map(|((day, activity, method, result), n)| RegistrationDayRow {
                day: *day,
                activity: activity.clone(),
                method: method.clone(),
                result: result.clone(),
                events: *n,
            })
            .collect();
    }
}

fn bump(rows: &mut Vec<KeyCount>, key: &str) {
    match rows.iter_mut().find(|r| r.key == key) {
        Some(r) => r.attempts += 1,
        None => {
            rows.push(KeyCount { key: key.to_string(), attempts: 1 });
            rows.sort_by(|a, b| a.key.cmp(&b.key));
        }
    }
}
