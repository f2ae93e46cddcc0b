//! `sspr sample generate`: a deterministic synthetic tenant written in the real export formats,
//! with a `ground_truth.json` computed from the generator's own model (not from the lake), so tests
//! can prove every report figure.
//!
//! Output layout (`--out DIR`):
//! ```text
//! graph/directoryAudits/page-0001.json …           Graph pages with @odata.nextLink (all days)
//! graph/userRegistrationDetails/<date>/page-*.json  two snapshots (window start, window end)
//! graph/users/<date>/page-*.json                    directory users at the end of the window
//! diagnostic-archive/insights-logs-auditlogs/tenantId=<tid>/y=…/m=…/d=…/h=…/m=00/PT1H.json
//!                                                   first days, JSON lines with CRLF, envelope
//! log-analytics/AuditLogs.json                      last days, Log Analytics export (JSON lines)
//! eventlogs/AADC01/Application.evtx (+ .xml)         Entra Connect server: writeback, ADSync
//! eventlogs/DC01/Security.evtx (+ .xml)              domain controller: 4723/4724/4740 (+ 4624)
//! eventlogs/clients/<host>/Application.evtx          Windows 7/8.1 credential-provider logs
//! config/sspr.example.toml                          the nightly job's example config, key by key
//! ground_truth.json
//! ```
//! The three audit exports overlap on purpose: importing all of them must give every event once.

pub mod evtx_writer;
mod formats;
mod onprem;
mod roles;
mod sessions;
mod tenant;
pub mod truth;

use std::path::Path;

use chrono::Duration;

use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::sample::formats::{DiagArchive, GraphPager, LogAnalyticsFile};
use crate::sample::sessions::{SessionBuilder, Steer, day_start};
use crate::sample::tenant::{TenantParams, users};
use crate::sample::truth::GroundTruth;

pub use tenant::TenantParams as Params;

/// Days at the start of the window also written to the diagnostic-settings archive.
const DIAG_DAYS: u32 = 3;
/// Days at the end of the window also written to the Log Analytics export.
const LA_DAYS: u32 = 3;

/// What [`generate`] writes at the top of `out`; `sample generate --force` replaces these and
/// nothing else.
pub(crate) const OUTPUTS: &[&str] =
    &["graph", "diagnostic-archive", "log-analytics", "eventlogs", "config", "ground_truth.json"];

/// The example configuration of the nightly job, written as `config/sspr.example.toml`: its
/// watched folders are this sample's, as seen from the folder that holds `sample-data/`.
pub(crate) const EXAMPLE_CONFIG: &str = include_str!("sspr.example.toml");

/// Generates the tenant into `out`.
pub fn generate(p: &TenantParams, out: &Path) -> Result<GroundTruth> {
    if p.users == 0 || p.days == 0 {
        return Err(Error::Config("sample generate needs at least one user and one day".into()));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut rng = Rng::new(p.seed);
    let tenant_id = rng.guid();
    let people = users(p, &mut rng);
    let first_day = p.end_date - Duration::days(i64::from(p.days) - 1);
    let mut truth = GroundTruth::new(p, &tenant_id);
    truth.add_registration(&people, p.end_date);
    truth.add_coverage_daily(&people, first_day, p.end_date);

    formats::write_registration(out, &people, first_day, p.end_date)?;
    formats::write_users(out, &people, p.end_date)?;
    let assignments = roles::assign(&people, p.seed);
    roles::write(out, &assignments, p.end_date)?;
    truth.add_roles(&people, &assignments);

    let mut graph = GraphPager::new(out.join("graph/directoryAudits"), "auditLogs/directoryAudits")?;
    let mut diag = DiagArchive::new(out.join("diagnostic-archive/insights-logs-auditlogs"), &tenant_id);
    let mut la = LogAnalyticsFile::new(&out.join("log-analytics/AuditLogs.json"), &tenant_id)?;
    // Password changes and unlocks draw from a stream of their own, so that adding them left
    // every other event of the tenant as it was.
    let mut activity_rng = Rng::new(p.seed ^ 0x00ac_7171);
    // So do the password hunts planted after those.
    let mut hunt_rng = Rng::new(p.seed ^ 0x0bad_9a55);
    let mut dc_changes = Vec::new();
    let mut sb = SessionBuilder { rng: &mut rng };
    let mut sessions = Vec::new();
    let expected = people.len() as f64 * p.session_rate / 1000.0;
    let late_registrants: Vec<usize> =
        (0..people.len()).filter(|&i| people[i].registered && !people[i].registered_before_window).collect();
    for day in 0..p.days {
        let date = first_day + Duration::days(i64::from(day));
        let start = day_start(date);
        let mut events = Vec::new();
        let n = (expected * (0.7 + 0.6 * sb.rng.f64())).round() as usize;
        for _ in 0..n {
            let u = &people[pick_user(&mut sb, &people)];
            let at = start + Duration::seconds(sb.rng.below(86_400 - 900) as i64);
            let (ev, t) = sb.session(u, at);
            truth.add_session(&t, &ev);
            events.extend(ev);
            sessions.push(t);
        }
        let mut d = Day {
            truth: &mut truth,
            people: &people,
            start,
            index: day,
            events: &mut events,
            sessions: &mut sessions,
        };
        d.plant(&mut sb, p.days);
        for &i in late_registrants.iter().filter(|&&i| i % p.days as usize == day as usize) {
            let at = start + Duration::seconds(sb.rng.below(80_000) as i64);
            let ev = sb.registration(&people[i], at);
            d.truth.add_registration_events(&ev);
            d.events.extend(ev);
        }
        d.plant_activity(&mut SessionBuilder { rng: &mut activity_rng });
        let mut hb = SessionBuilder { rng: &mut hunt_rng };
        if day == p.days * 2 / 3 {
            d.plant_password_hunts(&mut hb, &mut dc_changes);
            d.plant_security_info_changes(&mut hb);
        }
        if day == p.days / 4 {
            d.plant_privileged_after_reset(&mut hb);
        }
        events.sort_by_key(|e| e.time);
        truth.add_day_activity(date, &events);
        for e in &events {
            graph.push(&e.json)?;
            if day < DIAG_DAYS {
                diag.push(e)?;
            }
            if day >= p.days.saturating_sub(LA_DAYS) {
                la.push(&e.json)?;
            }
        }
    }
    graph.finish()?;
    diag.finish()?;
    la.finish()?;
    let logs = onprem::generate(&sessions, &dc_changes, first_day, p.end_date, p.seed);
    write_event_logs(&out.join("eventlogs"), &logs)?;
    truth.onprem = logs.truth;
    truth.finish();
    let config = out.join("config");
    std::fs::create_dir_all(&config).map_err(|e| Error::io(&config, e))?;
    let example = config.join("sspr.example.toml");
    std::fs::write(&example, EXAMPLE_CONFIG).map_err(|e| Error::io(&example, e))?;
    let text = serde_json::to_string_pretty(&truth)?;
    let gt = out.join("ground_truth.json");
    std::fs::write(&gt, text + "\n").map_err(|e| Error::io(&gt, e))?;
    Ok(truth)
}

/// One day of the window, as the planting steps add to it: the ground truth, the tenant's users,
/// the day's midnight (UTC) and index, its events and sessions.
struct Day<'a> {
    truth: &'a mut GroundTruth,
    people: &'a [tenant::User],
    start: chrono::DateTime<chrono::Utc>,
    index: u32,
    events: &'a mut Vec<sessions::Event>,
    sessions: &'a mut Vec<sessions::SessionTruth>,
}

impl Day<'_> {
    /// Self-service password changes (two to five a day, the first of every fourth day refused by the
    /// password policy) and an account unlock every third day, for `password_activity_daily`.
    fn plant_activity(&mut self, xb: &mut SessionBuilder<'_>) {
        let members: Vec<&tenant::User> =
            self.people.iter().filter(|u| u.account_enabled && u.user_type == "member").collect();
        if members.is_empty() {
            return;
        }
        let pick = |xb: &mut SessionBuilder<'_>| members[xb.rng.below(members.len() as u64) as usize];
        let before = self.events.len();
        for k in 0..2 + xb.rng.below(4) {
            let u = pick(xb);
            let at = self.start + Duration::seconds(xb.rng.below(80_000) as i64);
            let refused = k == 0 && self.index.is_multiple_of(4);
            let (result, reason) =
                if refused { ("failure", "PasswordDoesNotComplyFuzzyPolicy") } else { ("success", "") };
            self.events.push(xb.account_event(u, at, "Change password (self-service)", result, reason));
            self.truth.add_password_change(&u.upn, at);
        }
        if self.index % 3 == 1 {
            let u = pick(xb);
            let at = self.start + Duration::seconds(xb.rng.below(80_000) as i64);
            self.events.push(xb.account_event(u, at, "Unlock user account (self-service)", "success", ""));
        }
        self.truth.add_other_events(self.events.len() - before);
    }

    /// The community's password hunts, on one day: a synced user whose first reset of the day has
    /// three new passwords refused before one is taken (`repeated_password_rejections`), who resets
    /// once more in the afternoon and then changes the password twice at the domain controller (four
    /// operations across the cloud and the DC: `password_operations_per_user_daily`).
    fn plant_password_hunts(
        &mut self,
        hb: &mut SessionBuilder<'_>,
        dc_changes: &mut Vec<(String, chrono::DateTime<chrono::Utc>)>,
    ) {
        let synced: Vec<&tenant::User> =
            self.people.iter().filter(|u| u.capable() && u.synced && u.account_enabled).collect();
        if synced.is_empty() {
            return;
        }
        let u = synced[hb.rng.below(synced.len() as u64) as usize];
        let refused = [sessions::REFUSALS[1], sessions::REFUSALS[2], sessions::REFUSALS[1]];
        for (at, rejected) in
            [(Duration::minutes(8 * 60 + 10), &refused[..]), (Duration::minutes(13 * 60 + 40), &[][..])]
        {
            let (ev, t) = hb.session_from(u, self.start + at, None, Steer { rejected, succeed: false });
            self.truth.add_session(&t, &ev);
            self.events.extend(ev);
            self.sessions.push(t);
        }
        for minute in [16 * 60 + 5, 16 * 60 + 20] {
            dc_changes.push((u.upn.clone(), self.start + Duration::minutes(minute)));
        }
    }

    /// The hunt "a reset followed by a privileged operation by that account within 30 minutes": an
    /// administrator resets their password at nine and, twelve minutes after the session ends, adds
    /// someone to a directory role; seventy minutes after it they consent to an application (outside
    /// the window); another administrator adds a role member with no reset before it.
    fn plant_privileged_after_reset(&mut self, hb: &mut SessionBuilder<'_>) {
        let admins: Vec<&tenant::User> =
            self.people.iter().filter(|u| u.is_admin && u.capable() && u.account_enabled).collect();
        let members: Vec<&tenant::User> =
            self.people.iter().filter(|u| !u.is_admin && u.account_enabled).collect();
        if admins.len() < 2 || members.is_empty() {
            return;
        }
        let a = admins[hb.rng.below(admins.len() as u64) as usize];
        let b = admins.iter().find(|u| u.id != a.id).copied().unwrap_or(a);
        let member = members[hb.rng.below(members.len() as u64) as usize];
        let (ev, t) =
            hb.session_from(a, self.start + Duration::hours(9), None, Steer { rejected: &[], succeed: true });
        let end = ev.iter().map(|e| e.time).max().unwrap_or(self.start);
        self.truth.add_session(&t, &ev);
        self.events.extend(ev);
        self.sessions.push(t);
        const ROLE: (&str, &str, &str) = ("Core Directory", "RoleManagement", "Add member to role");
        let ops = vec![
            hb.directory_event(a, end + Duration::minutes(12), ROLE, Some(member)),
            hb.directory_event(
                a,
                end + Duration::minutes(70),
                ("Core Directory", "ApplicationManagement", "Consent to application"),
                None,
            ),
            hb.directory_event(b, self.start + Duration::hours(15), ROLE, Some(member)),
        ];
        self.truth.add_privileged_events(&ops);
        self.events.extend(ops);
    }

    /// Security info changed outside registration, on the same day: a registered user makes another
    /// method the default, fails to make a third one the default and fails to delete one
    /// (`registration_activity_daily` counts success and failure per method).
    fn plant_security_info_changes(&mut self, hb: &mut SessionBuilder<'_>) {
        let many: Vec<&tenant::User> =
            self.people.iter().filter(|u| u.registered && u.methods.len() >= 2).collect();
        if many.is_empty() {
            return;
        }
        let u = many[hb.rng.below(many.len() as u64) as usize];
        let (m0, m1) = (u.methods[0], u.methods[1]);
        let (l0, l1) = (sessions::security_info_label(m0), sessions::security_info_label(m1));
        let changes = [
            (
                "User changed default security info",
                "success",
                format!("User changed the default security info for {l1}."),
                m1,
            ),
            (
                "User changed default security info",
                "failure",
                format!("User failed to change the default security info for {l0}."),
                m0,
            ),
            ("User deleted security info", "failure", format!("User failed to delete {l0}."), m0),
        ];
        let mut out = Vec::new();
        for (k, (activity, result, reason, method)) in changes.into_iter().enumerate() {
            let at = self.start + Duration::hours(11) + Duration::minutes(3 * k as i64);
            out.push(hb.security_info_change(u, at, activity, result, &reason, method));
        }
        self.truth.add_security_info_events(&out);
        self.events.extend(out);
    }

    /// Planted security patterns, on fixed days of the window: six users resetting from one IP on
    /// the same morning, one user looking at the verification options three times without starting
    /// any, and one administrator resetting six accounts within 45 minutes; plus one ordinary admin
    /// reset a day. The ground truth finds them (and anything the random sessions happen to form)
    /// with the reports' own rules.
    fn plant(&mut self, sb: &mut SessionBuilder<'_>, days: u32) {
        let capable: Vec<&tenant::User> = self.people.iter().filter(|u| u.capable()).collect();
        let admins: Vec<&tenant::User> = self.people.iter().filter(|u| u.is_admin).collect();
        if capable.len() < 8 || admins.is_empty() {
            return;
        }
        if self.index == days / 3 {
            for k in 0..6 {
                let u = capable[(k * 7 + 3) % capable.len()];
                let at = self.start + Duration::hours(9) + Duration::minutes(15 * k as i64);
                let (ev, t) = sb.session_from(u, at, Some(SHARED_IP), Steer::default());
                self.truth.add_session(&t, &ev);
                self.events.extend(ev);
                self.sessions.push(t);
            }
        }
        if self.index == days / 2 + 1 {
            // Security info registered, then a reset two hours later from an address never seen.
            let u = capable[capable.len() / 3];
            let reg = sb.registration(u, self.start + Duration::hours(10));
            self.truth.add_registration_events(&reg);
            self.events.extend(reg);
            let (ev, t) =
                sb.session_from(u, self.start + Duration::hours(12), Some("198.18.250.9"), Steer::default());
            self.truth.add_session(&t, &ev);
            self.events.extend(ev);
            self.sessions.push(t);
        }
        if self.index == days * 3 / 4 {
            let u = capable[capable.len() / 2];
            for (k, minute) in [0i64, 20, 45].into_iter().enumerate() {
                let ip = if k == 0 { u.home_ip.clone() } else { format!("198.18.200.{}", 10 + k) };
                let (ev, t) =
                    sb.options_only(u, self.start + Duration::hours(20) + Duration::minutes(minute), &ip);
                self.truth.add_session(&t, &ev);
                self.events.extend(ev);
                self.sessions.push(t);
            }
        }
        let admin = admins[sb.rng.below(admins.len() as u64) as usize];
        let target = capable[sb.rng.below(capable.len() as u64) as usize];
        let at = self.start + Duration::seconds(sb.rng.below(80_000) as i64);
        self.events.push(sb.admin_reset(admin, target, at));
        self.truth.add_admin_reset(&admin.upn, &target.upn, at);
        if self.index == days / 2 {
            let bulk = admins[0];
            for k in 0..6 {
                let target = capable[(k * 11 + 5) % capable.len()];
                let at = self.start + Duration::hours(14) + Duration::minutes(7 * k as i64 + 2);
                self.events.push(sb.admin_reset(bulk, target, at));
                self.truth.add_admin_reset(&bulk.upn, &target.upn, at);
            }
        }
    }
}

/// An IP behind which several users reset on the same day (`resets_per_ip`).
const SHARED_IP: &str = "100.64.0.77";

/// Mostly users who can reset; some who cannot (they produce the policy / registration failures).
fn pick_user(sb: &mut SessionBuilder<'_>, people: &[tenant::User]) -> usize {
    loop {
        let i = sb.rng.below(people.len() as u64) as usize;
        let u = &people[i];
        if u.capable() || sb.rng.chance(0.35) {
            return i;
        }
    }
}

/// Writes each log as `.evtx` (the project's EVTX writer) and the XML exports as event XML
/// (`wevtutil qe /f:xml` without a root element, or Event Viewer's `<Events>` form).
fn write_event_logs(dir: &Path, logs: &onprem::OnPremLogs) -> Result<()> {
    let create = |path: &Path| -> Result<()> {
        let parent = path.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))
    };
    for (name, events) in &logs.files {
        let path = dir.join(format!("{name}.evtx"));
        create(&path)?;
        let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut w =
            evtx_writer::EvtxWriter::new(std::io::BufWriter::new(file)).map_err(|e| Error::io(&path, e))?;
        for ev in events {
            w.write(ev).map_err(|e| Error::io(&path, e))?;
        }
        w.finish().map_err(|e| Error::io(&path, e))?;
    }
    for (name, root, events) in &logs.xml_files {
        let path = dir.join(format!("{name}.xml"));
        create(&path)?;
        let mut text = String::new();
        if *root {
            text.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Events>\r\n");
        }
        for ev in events {
            text.push_str(&evtx_writer::to_xml(ev));
            text.push_str("\r\n");
        }
        if *root {
            text.push_str("</Events>\r\n");
        }
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}
