//! The synthetic tenant's on-premises evidence, consistent with its cloud sessions:
//! - the Entra Connect server's Application log (`AADC01`): PasswordResetService 31001/31002/31003
//!   sharing the TrackingId with the cloud session's correlation id, 33004/33008 with ADSync 6329
//!   for SSPR_0029 sessions, 32001 for SSPR_0030 sessions, 31019 heartbeats every five minutes with
//!   one outage window per week (32015/32002 instead of heartbeats, then 31016/31015), and some
//!   unrelated Application events (skipped on import);
//! - the domain controller's Security log (`DC01`): 4724 by the `MSOL_` connector account for each
//!   writeback reset (Audit Failure for policy rejections), helpdesk 4724s, 4723 changes, 4740
//!   lockouts, and 4624 logons (skipped on import);
//! - the credential-provider logs of the Windows 7/8.1 machines whose users reset from the add-in.
//!
//! Event texts follow reference/onprem-logs.md §1 (S1/S6/S7 wordings). The credential provider's
//! event ids and messages are not documented anywhere (§2.1, `[UNKNOWN]`); the ones written here are
//! synthetic and named so in sample-data/README.md.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};

mod event_log;

use crate::rng::Rng;
use crate::sample::evtx_writer::WinEvent;
use crate::sample::sessions::{SessionTruth, day_start};
use crate::sample::truth::{CountRow, DcResetRow, GapRow, OnPremTruth};
use event_log::{Log, account_change};

const AADC: &str = "AADC01.contoso.com";
const DC: &str = "DC01.contoso.com";
const CONNECTOR: &str = "MSOL_73c8a9aa6173";
const DOMAIN: &str = "CONTOSO";
const CLIENT_MACHINES: [&str; 4] = [
    "WIN7-FIN-014.contoso.com",
    "WIN7-OPS-022.contoso.com",
    "WIN81-HR-003.contoso.com",
    "WIN81-LAB-007.contoso.com",
];
const CREDENTIAL_PROVIDER: &str = "AADPasswordResetCredentialProvider";
/// Heartbeat gaps longer than this are outages in the ground truth (and the report default).
const GAP_MINUTES: i64 = 15;

const CLASSIC_KEYWORDS: u64 = 0x0080_0000_0000_0000;
pub(crate) const AUDIT_SUCCESS: u64 = 0x8020_0000_0000_0000;
const AUDIT_FAILURE: u64 = 0x8010_0000_0000_0000;

/// The generated logs: one list of events per log file, in time order with record ids set, and
/// the event-XML exports made of them: (name, with a root element, events).
pub(crate) struct OnPremLogs {
    pub files: Vec<(String, Vec<WinEvent>)>,
    pub xml_files: Vec<(String, bool, Vec<WinEvent>)>,
    pub truth: OnPremTruth,
}

/// Days at the end of the window that the server's XML export covers (`wevtutil qe` of a recent
/// window; it overlaps the EVTX file on purpose).
const XML_DAYS: i64 = 3;

fn sam(upn: &str) -> String {
    upn.split('@').next().unwrap_or(upn).to_string()
}

fn rid(upn: &str) -> u32 {
    upn.bytes().fold(1100u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))) % 90_000 + 1100
}

/// Generates the three kinds of logs for the sessions of the window `[first_day, last_day]`, with
/// the planted `changes`: (UPN, time) of a user changing their own password on-premises (4723).
pub(crate) fn generate(
    sessions: &[SessionTruth],
    changes: &[(String, DateTime<Utc>)],
    first_day: NaiveDate,
    last_day: NaiveDate,
    seed: u64,
) -> OnPremLogs {
    let mut rng = Rng::new(seed ^ 0x0e7e_1095);
    let mut aadc = Log { events: Vec::new() };
    let mut dc = Log { events: Vec::new() };
    let mut clients: BTreeMap<&str, Log> =
        CLIENT_MACHINES.iter().map(|m| (*m, Log { events: Vec::new() })).collect();
    let mut t = OnPremTruth::default();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut dc_resets: BTreeMap<(bool, bool), u64> = BTreeMap::new();
    let connector_sid = "S-1-5-21-3623811015-3361044348-30300820-1604";

    // Cloud sessions that reached the on-premises writeback.
    for s in sessions {
        if s.client == "WindowsAddIn" {
            let machine = CLIENT_MACHINES[(rid(&s.upn) as usize) % CLIENT_MACHINES.len()];
            let log = clients.get_mut(machine).expect("known machine");
            log.classic(
                CREDENTIAL_PROVIDER,
                1000,
                4,
                s.start - Duration::seconds(2),
                machine,
                format!("Password reset started from the sign-in screen for {}.", s.upn),
            );
            if !s.succeeded && matches!(s.outcome, "failed" | "blocked") {
                log.classic(
                    CREDENTIAL_PROVIDER,
                    1002,
                    2,
                    s.start + Duration::seconds(30),
                    machine,
                    format!("Password reset did not complete for {}: {}. hr=0x80004005", s.upn, s.outcome),
                );
                *errors_for(&mut t, machine) += 1;
            }
        }
        let (Some(at), true) = (s.submitted_at, s.synced) else { continue };
        let code = s.error_code.as_deref();
        let corr = &s.correlation_id;
        let user = sam(&s.upn);
        let at = at + Duration::milliseconds(400 + rng.below(1500) as i64);
        match code {
            Some("SSPR_0030") => {
                aadc.classic(
                    "PasswordResetService",
                    32001,
                    2,
                    at,
                    AADC,
                    format!("TrackingId: {corr}, Couldn't connect to any service bus endpoint(s), Details: "),
                );
                *errors.entry("PasswordResetService/32001".into()).or_default() += 1;
            }
            _ if s.succeeded || code == Some("SSPR_0029") => {
                t.writeback_started += 1;
                aadc.classic(
                    "PasswordResetService",
                    31001,
                    4,
                    at,
                    AADC,
                    format!(
                        "TrackingId: {corr}, PasswordResetStart, Details: Context: cloudAnchor: User_{user}"
                    ),
                );
                let set_at = at + Duration::milliseconds(300 + rng.below(700) as i64);
                if s.succeeded {
                    dc.security(4724, 13824, true, set_at, account_change(&user, CONNECTOR, connector_sid));
                    *dc_resets.entry((true, true)).or_default() += 1;
                    aadc.classic(
                        "PasswordResetService",
                        31002,
                        4,
                        set_at + Duration::milliseconds(200),
                        AADC,
                        format!("TrackingId: {corr}, PasswordResetSuccess, Details: "),
                    );
                    t.writeback_succeeded += 1;
                } else {
                    t.writeback_failed += 1;
                    if rng.chance(0.5) {
                        // Protected account / RestrictRemoteSam (S6): 33004 with ADSync 6329 access denied.
                        aadc.classic(
                            "ADSync",
                            6329,
                            2,
                            set_at,
                            AADC,
                            format!(
                                "ERR_: MMS(4924): admaexport.cpp(2944): Failed to acquire user information: {DOMAIN}\\{CONNECTOR}. Error Code: ERROR_ACCESS_DENIED"
                            ),
                        );
                        aadc.classic(
                            "PasswordResetService",
                            33004,
                            2,
                            set_at + Duration::milliseconds(100),
                            AADC,
                            format!("TrackingId: {corr}, ADPermissionsError, Details: The management agent does not have permission to set the password of {user}."),
                        );
                        *errors.entry("ADSync/6329".into()).or_default() += 1;
                        *errors.entry("PasswordResetService/33004".into()).or_default() += 1;
                    } else {
                        // Domain password policy rejects the password: DC 4724 Audit Failure (S8).
                        dc.security(
                            4724,
                            13824,
                            false,
                            set_at,
                            account_change(&user, CONNECTOR, connector_sid),
                        );
                        *dc_resets.entry((true, false)).or_default() += 1;
                        aadc.classic(
                            "ADSync",
                            6329,
                            2,
                            set_at + Duration::milliseconds(50),
                            AADC,
                            "BAIL: MMS(4924) 0x80230619: \"A restriction prevents the password from being changed to the current one specified.\"".into(),
                        );
                        aadc.classic(
                            "PasswordResetService",
                            33008,
                            2,
                            set_at + Duration::milliseconds(100),
                            AADC,
                            format!("TrackingId: {corr}, ADPasswordPolicyError, Details: "),
                        );
                        *errors.entry("ADSync/6329".into()).or_default() += 1;
                        *errors.entry("PasswordResetService/33008".into()).or_default() += 1;
                    }
                    aadc.classic(
                        "PasswordResetService",
                        31003,
                        2,
                        set_at + Duration::milliseconds(300),
                        AADC,
                        format!("TrackingId: {corr}, PasswordResetFail, Details: "),
                    );
                    *errors.entry("PasswordResetService/31003".into()).or_default() += 1;
                }
            }
            _ => {}
        }
    }

    // Heartbeats every five minutes, with one outage of 70–110 minutes per week.
    let days = (last_day - first_day).num_days() + 1;
    let start = day_start(first_day);
    let end = day_start(last_day) + Duration::days(1);
    let mut outages = Vec::new();
    for week in 0..(days + 6) / 7 {
        let day = week * 7 + 2;
        if day < days {
            let from = start + Duration::days(day) + Duration::minutes(120 + 5 * rng.below(24) as i64);
            outages.push((from, from + Duration::minutes(70 + 5 * rng.below(9) as i64)));
        }
    }
    let mut hb = start + Duration::seconds(37);
    let mut last_hb: Option<DateTime<Utc>> = None;
    while hb < end {
        if let Some((from, to)) = outages.iter().find(|(f, to)| hb >= *f && hb < *to) {
            aadc.classic("PasswordResetService", 32015, 2, hb, AADC, "ReportServiceHealthError: Failed to send the heartbeat to the password reset service, Details: ".into());
            *errors.entry("PasswordResetService/32015".into()).or_default() += 1;
            if (hb - *from).num_minutes() % 15 < 5 {
                aadc.classic("PasswordResetService", 32002, 2, hb + Duration::seconds(3), AADC, "Error Connecting to ServiceBus. The token provider was unable to provide a security token., Details: ".into());
                *errors.entry("PasswordResetService/32002".into()).or_default() += 1;
            }
            if hb + Duration::minutes(5) >= *to {
                // The administrator restarts the service at the end of the outage.
                aadc.classic(
                    "PasswordResetService",
                    31016,
                    4,
                    hb + Duration::seconds(60),
                    AADC,
                    "WriteBackServiceStopped".into(),
                );
                aadc.classic(
                    "PasswordResetService",
                    31015,
                    4,
                    hb + Duration::seconds(90),
                    AADC,
                    "WriteBackServiceStarted".into(),
                );
                t.service_stops += 1;
            }
        } else {
            aadc.classic(
                "PasswordResetService",
                31019,
                4,
                hb,
                AADC,
                "ServiceBusHeartBeat: Successfully sent a request to ssprdedicatedsbprodfra-1.servicebus.windows.net".into(),
            );
            if let Some(prev) = last_hb
                && (hb - prev).num_minutes() > GAP_MINUTES
            {
                t.heartbeat_gaps.push(GapRow { after: prev, before: hb, minutes: (hb - prev).num_minutes() });
            }
            last_hb = Some(hb);
        }
        hb += Duration::minutes(5);
    }

    // Other DC and server activity; some kept (helpdesk resets, changes, lockouts), some not.
    let mut d = start;
    while d < end {
        for _ in 0..2 {
            let at = d + Duration::seconds(rng.below(86_400) as i64);
            let target = format!("user{:04}", rng.below(2000));
            dc.security(
                4724,
                13824,
                true,
                at,
                account_change(&target, "helpdesk.admin", "S-1-5-21-3623811015-3361044348-30300820-1422"),
            );
            *dc_resets.entry((false, true)).or_default() += 1;
            t.dc_password_ops.entry((target, at.date_naive())).or_default().1 += 1;
        }
        for _ in 0..3 {
            let at = d + Duration::seconds(rng.below(86_400) as i64);
            let target = format!("user{:04}", rng.below(2000));
            let mut data = account_change(&target, &target, "S-1-5-21-3623811015-3361044348-30300820-2001");
            data.push(("PrivilegeList", "-".into()));
            dc.security(4723, 13824, true, at, data);
            t.dc_password_ops.entry((target, at.date_naive())).or_default().0 += 1;
        }
        let at = d + Duration::seconds(rng.below(86_400) as i64);
        let target = format!("user{:04}", rng.below(2000));
        dc.security(4740, 13824, true, at, account_change(&target, "DC01$", "S-1-5-18"));
        for _ in 0..6 {
            let at = d + Duration::seconds(rng.below(86_400) as i64);
            dc.security(
                4624,
                12544,
                true,
                at,
                vec![("TargetUserName", format!("user{:04}", rng.below(2000)))],
            );
        }
        for _ in 0..2 {
            let at = d + Duration::seconds(rng.below(86_400) as i64);
            aadc.classic(
                "Directory Synchronization",
                904,
                4,
                at,
                AADC,
                "Scheduler::SchedulerThreadMain : Started a sync cycle (Delta).".into(),
            );
        }
        d += Duration::days(1);
    }
    // Planted: users changing their own password on-premises (no random draw, so the rest of the
    // logs stay as they were).
    for (upn, at) in changes {
        let account = sam(upn);
        let mut data = account_change(
            &account,
            &account,
            &format!("S-1-5-21-3623811015-3361044348-30300820-{}", rid(&account)),
        );
        data.push(("PrivilegeList", "-".into()));
        dc.security(4723, 13824, true, *at, data);
        t.dc_password_ops.entry((account, at.date_naive())).or_default().0 += 1;
    }
    // Credential-provider connectivity errors, a few per machine and week.
    for (machine, log) in clients.iter_mut() {
        for _ in 0..(days + 6) / 7 * 2 {
            let at = start + Duration::seconds(rng.below((days * 86_400) as u64) as i64);
            log.classic(
                CREDENTIAL_PROVIDER,
                1001,
                2,
                at,
                machine,
                "Could not reach https://passwordreset.microsoftonline.com. hr=0x80072EE7".into(),
            );
            *errors_for(&mut t, machine) += 1;
        }
    }

    let aadc = aadc.finish(412_001);
    let dc = dc.finish(2_880_101);
    t.writeback_events =
        aadc.iter().filter(|e| matches!(e.provider.as_str(), "PasswordResetService" | "ADSync")).count()
            as u64;
    t.dc_security_events = dc.iter().filter(|e| e.event_id != 4624).count() as u64;
    t.writeback_errors = errors.into_iter().map(|(key, events)| CountRow { key, events }).collect();
    t.dc_password_resets = dc_resets
        .into_iter()
        .map(|((by_connector, success), events)| DcResetRow { by_connector, success, events })
        .collect();
    let recent = (day_start(last_day) - Duration::days(XML_DAYS - 1)).timestamp_micros();
    let xml_files = vec![
        (
            "AADC01/Application".to_string(),
            false,
            aadc.iter().filter(|e| e.time_created >= recent).cloned().collect(),
        ),
        ("DC01/Security".to_string(), true, dc.clone()),
    ];
    let kept = |e: &WinEvent| {
        matches!(e.provider.as_str(), "PasswordResetService" | "ADSync" | CREDENTIAL_PROVIDER)
            || (e.channel == "Security" && [4723, 4724, 4740, 4767, 4794].contains(&e.event_id))
    };
    t.skipped_events = aadc.iter().chain(&dc).filter(|e| !kept(e)).count() as u64
        + xml_files.iter().flat_map(|(_, _, evs)| evs).filter(|e| !kept(e)).count() as u64;
    let mut files = vec![("AADC01/Application".to_string(), aadc), ("DC01/Security".to_string(), dc)];
    for (machine, log) in clients {
        let events = log.finish(1);
        t.credential_provider_events += events.len() as u64;
        let host = machine.split('.').next().unwrap_or(machine);
        files.push((format!("clients/{host}/Application"), events));
    }
    OnPremLogs { files, xml_files, truth: t }
}

fn errors_for<'t>(t: &'t mut OnPremTruth, machine: &str) -> &'t mut u64 {
    if let Some(i) = t.credential_provider_errors.iter().position(|r| r.key == machine) {
        return &mut t.credential_provider_errors[i].events;
    }
    t.credential_provider_errors.push(CountRow { key: machine.to_string(), events: 0 });
    t.credential_provider_errors.sort_by(|a, b| a.key.cmp(&b.key));
    let i = t.credential_provider_errors.iter().position(|r| r.key == machine).expect("just added");
    &mut t.credential_provider_errors[i].events
}
