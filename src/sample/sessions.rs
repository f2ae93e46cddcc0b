//! The SSPR sessions the synthetic tenant's users run, as Graph `directoryAudit` events, with
//! how each ended for the ground truth. Step strings, activity names and where IP and user agent
//! live follow reference/entra-audit.md §2.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

mod outside;

use crate::rng::Rng;
use crate::sample::tenant::User;
pub(crate) use outside::security_info_label;

const SSPR_SERVICE: &str = "Self-service Password Management";
const FLOW: &str = "Self-service password reset flow activity progress";
const RESET: &str = "Reset password (self-service)";
const AUTH_METHODS: &str = "Authentication Methods";

/// How a client reached SSPR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientKind {
    WebPortal,
    WindowsLogonScreen,
    WindowsAddIn,
}

impl ClientKind {
    fn draw(rng: &mut Rng) -> Self {
        let x = rng.f64();
        if x < 0.68 {
            ClientKind::WebPortal
        } else if x < 0.92 {
            ClientKind::WindowsLogonScreen
        } else {
            ClientKind::WindowsAddIn
        }
    }

    /// (ClientType additionalDetail, user agent). ClientType values are synthetic (see sample-data/README.md).
    fn details(self, rng: &mut Rng) -> (&'static str, &'static str) {
        match self {
            ClientKind::WebPortal => (
                "Browser",
                *rng.pick(&[
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
                    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                ]),
            ),
            ClientKind::WindowsLogonScreen => (
                "WindowsLogonScreen",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; WebView/3.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36 Edge/18.26100 MSAuthHost/1.0/In-Domain",
            ),
            ClientKind::WindowsAddIn => (
                "WindowsAddIn",
                "Mozilla/5.0 (Windows NT 6.1; Win64; x64; Trident/7.0; rv:11.0) like Gecko AADPasswordResetCredentialProvider/1.0",
            ),
        }
    }
}

/// One audit event in Graph `directoryAudit` shape, plus what the ground truth needs.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub time: DateTime<Utc>,
    pub json: Value,
    /// The authentication method (Graph `methodsRegistered` key) a security-info event is about.
    pub method: Option<&'static str>,
}

/// How a planted session goes where a random one would draw its course.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Steer<'a> {
    /// New passwords the policy refuses, each for the reason given, before the next is taken.
    pub rejected: &'a [&'a str],
    /// The session succeeds (a user who can reset, that is).
    pub succeed: bool,
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionTruth {
    pub correlation_id: String,
    pub start: DateTime<Utc>,
    pub succeeded: bool,
    /// The resultReason of the terminal non-progress step (None when succeeded).
    pub reason: Option<String>,
    pub outcome: &'static str,
    /// Events that the error_codes report counts: (code, count) where code = SSPR_00xx or the reason.
    pub error_code: Option<String>,
    /// Who reset, from where: what the on-premises logs of the session are generated from.
    pub upn: String,
    pub synced: bool,
    /// `ClientType` of the session.
    pub client: &'static str,
    /// When the new password was submitted (the moment writeback starts), if it was.
    pub submitted_at: Option<DateTime<Utc>>,
    pub ip: String,
    /// Verification methods started and completed (the `sspr_steps` method keys).
    pub methods_started: Vec<&'static str>,
    pub methods_completed: Vec<&'static str>,
    /// New passwords the policy rejected, each followed by another try (the terminal rejection of
    /// a session that ends on one is its `reason`, not listed here).
    pub retried_passwords: Vec<String>,
}

impl SessionTruth {
    /// Whether the session ended on a new password the policy refused.
    pub(crate) fn password_refused(&self) -> bool {
        self.outcome == "failed" && self.reason.as_deref().is_some_and(|r| REFUSALS.contains(&r))
    }
}

/// The policy refusals of a new password the generator writes (`Reset password (self-service)`
/// failures): the documented code, its lab-observed variant, and the banned-password text of
/// Microsoft's SSPR Reset Funnel workbook.
pub(crate) const REFUSALS: &[&str] = &[
    "FuzzyPolicyViolationInvalidPassword",
    "PasswordDoesNotComplyFuzzyPolicy",
    "The user selected a password that was automatically banned because the Microsoft banned password detection capabilities found it to be too common or especially weak.",
];

/// The `sspr_steps` method key of a method label used in step strings.
fn method_key(label: &str) -> &'static str {
    match label {
        "mobile SMS" => "mobile_sms",
        "email" => "email",
        "security questions" => "security_questions",
        "office voice call" => "office_voice",
        "mobile app notification" => "app_notification",
        _ => "other",
    }
}

/// Who an event is about and where it came from.
#[derive(Clone, Copy)]
struct Actor<'s> {
    user: &'s User,
    ip: &'s str,
    client: (&'s str, &'s str),
    corr: &'s str,
}

pub(crate) struct SessionBuilder<'a> {
    pub rng: &'a mut Rng,
}

fn method_label(m: &str) -> Option<&'static str> {
    match m {
        "mobilePhone" => Some("mobile SMS"),
        "email" => Some("email"),
        "securityQuestion" => Some("security questions"),
        "officePhone" => Some("office voice call"),
        "microsoftAuthenticatorPush" => Some("mobile app notification"),
        _ => None,
    }
}

impl SessionBuilder<'_> {
    fn event(
        &mut self,
        a: &Actor<'_>,
        t: DateTime<Utc>,
        activity: &str,
        result: &str,
        reason: &str,
    ) -> Event {
        let Actor { user, ip, client, corr } = *a;
        let rnd: String = (0..5).map(|_| (b'A' + self.rng.below(26) as u8) as char).collect();
        let id = format!("SSGM_{corr}_{rnd}_{}", 10_000_000 + self.rng.below(89_999_999));
        let frac = self.rng.below(10_000_000);
        let time_text = format!("{}.{frac:07}Z", t.format("%Y-%m-%dT%H:%M:%S"));
        let t = t + Duration::microseconds((frac / 10) as i64);
        Event {
            time: t,
            method: None,
            json: json!({
                "id": id,
                "category": "UserManagement",
                "correlationId": corr,
                "result": result,
                "resultReason": reason,
                "activityDisplayName": activity,
                "activityDateTime": time_text,
                "loggedByService": SSPR_SERVICE,
                "operationType": "Update",
                "initiatedBy": {"app": null, "user": {"id": user.id, "displayName": null, "userPrincipalName": user.upn, "ipAddress": ip, "userType": null, "homeTenantId": null, "homeTenantName": null}},
                "targetResources": [{"id": user.id, "displayName": null, "type": "User", "userPrincipalName": user.upn, "groupType": null, "modifiedProperties": []}],
                "additionalDetails": [{"key": "ClientType", "value": client.0}, {"key": "User-Agent", "value": client.1}],
            }),
        }
    }

    /// Runs one SSPR session for `user` starting at `start`; returns its events and truth.
    pub(crate) fn session(&mut self, user: &User, start: DateTime<Utc>) -> (Vec<Event>, SessionTruth) {
        self.session_from(user, start, None, Steer::default())
    }

    /// A session from a given IP (planted patterns), else from the user's usual one or a random one,
    /// steered as `steer` says.
    pub(crate) fn session_from(
        &mut self,
        user: &User,
        start: DateTime<Utc>,
        from_ip: Option<&str>,
        steer: Steer<'_>,
    ) -> (Vec<Event>, SessionTruth) {
        let rejected = steer.rejected;
        let corr = self.rng.guid();
        let client = ClientKind::draw(self.rng).details(self.rng);
        let ip = match from_ip {
            Some(ip) => ip.to_string(),
            None if self.rng.chance(0.85) => user.home_ip.clone(),
            None => format!("198.18.{}.{}", self.rng.below(256), 1 + self.rng.below(254)),
        };
        let mut t = start;
        let mut events = Vec::new();
        let mut step = |b: &mut Self, t: &mut DateTime<Utc>, activity: &str, result: &str, reason: &str| {
            let actor = Actor { user, ip: &ip, client, corr: &corr };
            events.push(b.event(&actor, *t, activity, result, reason));
            *t += Duration::seconds(5 + b.rng.below(40) as i64);
        };
        let mut truth = SessionTruth {
            correlation_id: corr.clone(),
            start,
            succeeded: false,
            reason: None,
            outcome: "succeeded",
            error_code: None,
            upn: user.upn.clone(),
            synced: user.synced,
            client: client.0,
            submitted_at: None,
            ip: ip.clone(),
            methods_started: Vec::new(),
            methods_completed: Vec::new(),
            retried_passwords: Vec::new(),
        };
        let fail = |truth: &mut SessionTruth, outcome: &'static str, reason: &str, code: Option<&str>| {
            truth.outcome = outcome;
            truth.reason = Some(reason.to_string());
            truth.error_code = if matches!(outcome, "failed" | "blocked") {
                Some(code.unwrap_or(reason).to_string())
            } else {
                None
            };
        };
        step(self, &mut t, FLOW, "success", "User submitted their user ID");
        if !user.sspr_enabled {
            let r = if self.rng.chance(0.5) {
                (
                    "This user is not a member of the password reset users group. Add this user to that group to resolve this.",
                    "SSPR_0013",
                )
            } else {
                (
                    "Password reset is not enabled for this user. Enable password reset under the configure tab to resolve this",
                    "SSPR_0013",
                )
            };
            step(self, &mut t, FLOW, "failure", r.0);
            fail(&mut truth, "failed", r.0, Some(r.1));
            return (events, truth);
        }
        let usable: Vec<&'static str> = user.methods.iter().filter_map(|m| method_label(m)).collect();
        if !user.registered || usable.is_empty() {
            // Both spellings exist in the wild (entra-audit.md 2.3 B: trailing space, no period).
            let r = if self.rng.chance(0.5) {
                "User's account has insufficient authentication methods defined. Add authentication info to resolve this "
            } else {
                "User's account has insufficient authentication methods defined. Add authentication info to resolve this."
            };
            step(self, &mut t, FLOW, "failure", r);
            fail(&mut truth, "failed", r, Some("SSPR_0014"));
            return (events, truth);
        }
        step(self, &mut t, FLOW, "success", "User was presented with verification options");
        let gates = if user.is_admin && usable.len() > 1 { 2 } else { 1 };
        let x = self.rng.f64();
        // Past every way a session ends early or fails (the draw is still made, so a session
        // without rejections takes the random stream as before).
        let x = if rejected.is_empty() && !steer.succeed { x } else { 0.30 + 0.69 * x };
        for g in 0..gates {
            let m = usable[g % usable.len()];
            step(self, &mut t, FLOW, "success", &format!("User started the {m} verification option"));
            truth.methods_started.push(method_key(m));
            if g == 0 && x < 0.06 {
                let r = format!("User abandoned after starting the {m} verification option");
                let r = if m == "security questions" {
                    "User abandoned after starting the security questions option".to_string()
                } else {
                    r
                };
                if !m.starts_with("mobile app") {
                    step(self, &mut t, FLOW, "success", &r);
                    fail(&mut truth, "abandoned", &r, None);
                    return (events, truth);
                }
            }
            if g == 0 && (0.06..0.09).contains(&x) && matches!(m, "mobile SMS" | "security questions") {
                let r = if m == "mobile SMS" {
                    "User entered too many invalid SMS verification codes and is blocked for 24 hours"
                } else {
                    "User tried to answer security questions too many times and is blocked for 24 hours"
                };
                step(self, &mut t, FLOW, "failure", r);
                fail(&mut truth, "blocked", r, Some("blocked_24h"));
                return (events, truth);
            }
            if g == 0 && (0.09..0.11).contains(&x) {
                let r = "User canceled before passing the required authentication methods";
                step(self, &mut t, FLOW, "success", r);
                fail(&mut truth, "canceled", r, None);
                return (events, truth);
            }
            if g == 0 && (0.11..0.13).contains(&x) && m != "mobile app notification" {
                let label = if m == "security questions" { "security question" } else { m };
                let r = format!("User contacted an admin after trying the {label} verification option");
                step(self, &mut t, FLOW, "success", &r);
                fail(&mut truth, "contacted_admin", &r, None);
                return (events, truth);
            }
            step(self, &mut t, FLOW, "success", &format!("User completed the {m} verification option"));
            truth.methods_completed.push(method_key(m));
        }
        step(self, &mut t, FLOW, "success", "User completed all verification steps required");
        if (0.13..0.16).contains(&x) {
            let r = "User abandoned before selecting a new password";
            step(self, &mut t, FLOW, "success", r);
            fail(&mut truth, "abandoned", r, None);
            return (events, truth);
        }
        truth.submitted_at = Some(t);
        step(self, &mut t, FLOW, "success", "User submitted a new password");
        for r in rejected {
            step(self, &mut t, RESET, "failure", r);
            truth.retried_passwords.push(r.to_string());
            truth.submitted_at = Some(t);
            step(self, &mut t, FLOW, "success", "User submitted a new password");
        }
        if (0.16..0.19).contains(&x) {
            let r = REFUSALS[0];
            step(self, &mut t, RESET, "failure", r);
            fail(&mut truth, "failed", r, None);
            return (events, truth);
        }
        if user.synced && (0.19..0.27).contains(&x) {
            let (r, code) = if x < 0.235 {
                (
                    "We encountered a problem while resetting the user's on-premises password. Check your sync machine's event log",
                    "SSPR_0029",
                )
            } else {
                (
                    "We could not reach your on-premises password reset service. Check your sync machine's event log",
                    "SSPR_0030",
                )
            };
            step(self, &mut t, FLOW, "failure", r);
            fail(&mut truth, "failed", r, Some(code));
            return (events, truth);
        }
        step(self, &mut t, RESET, "success", "Successfully completed reset.");
        step(self, &mut t, FLOW, "success", "User successfully reset password");
        truth.succeeded = true;
        (events, truth)
    }

    /// Reconnaissance: a user looks at the verification options and starts none (no terminal step).
    pub(crate) fn options_only(
        &mut self,
        user: &User,
        start: DateTime<Utc>,
        ip: &str,
    ) -> (Vec<Event>, SessionTruth) {
        let corr = self.rng.guid();
        let client = ClientKind::WebPortal.details(self.rng);
        let actor = Actor { user, ip, client, corr: &corr };
        let events = vec![
            self.event(&actor, start, FLOW, "success", "User submitted their user ID"),
            self.event(
                &actor,
                start + Duration::seconds(9),
                FLOW,
                "success",
                "User was presented with verification options",
            ),
        ];
        let truth = SessionTruth {
            correlation_id: corr.clone(),
            start,
            succeeded: false,
            reason: None,
            outcome: "unknown",
            error_code: None,
            upn: user.upn.clone(),
            synced: user.synced,
            client: client.0,
            submitted_at: None,
            ip: ip.to_string(),
            methods_started: Vec::new(),
            methods_completed: Vec::new(),
            retried_passwords: Vec::new(),
        };
        (events, truth)
    }
}

/// Midnight UTC of a date.
pub(crate) fn day_start(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
}
