//! One Windows event log as the generator writes it: classic Application events and Security
//! audits, numbered as a fresh log numbers them.

use chrono::{DateTime, Utc};

use super::{AUDIT_FAILURE, AUDIT_SUCCESS, CLASSIC_KEYWORDS, DC, DOMAIN, rid};
use crate::sample::evtx_writer::WinEvent;

pub(super) struct Log {
    pub(super) events: Vec<WinEvent>,
}

impl Log {
    pub(super) fn classic(
        &mut self,
        provider: &str,
        id: u16,
        level: u8,
        at: DateTime<Utc>,
        computer: &str,
        msg: String,
    ) {
        self.events.push(WinEvent {
            provider: provider.into(),
            event_id: id,
            qualifiers: Some(0),
            level,
            keywords: CLASSIC_KEYWORDS,
            time_created: at.timestamp_micros(),
            process_id: 4120,
            thread_id: 5008,
            channel: "Application".into(),
            computer: computer.into(),
            data: vec![(None, msg)],
            ..Default::default()
        });
    }

    pub(super) fn security(
        &mut self,
        id: u16,
        task: u16,
        success: bool,
        at: DateTime<Utc>,
        data: Vec<(&str, String)>,
    ) {
        self.events.push(WinEvent {
            provider: "Microsoft-Windows-Security-Auditing".into(),
            event_id: id,
            task,
            keywords: if success { AUDIT_SUCCESS } else { AUDIT_FAILURE },
            time_created: at.timestamp_micros(),
            process_id: 668,
            thread_id: 2844,
            channel: "Security".into(),
            computer: DC.into(),
            data: data.into_iter().map(|(k, v)| (Some(k.to_string()), v)).collect(),
            ..Default::default()
        });
    }

    /// Sorts by time and numbers the records 1, 2, … as a fresh log does.
    pub(super) fn finish(mut self, first_record: u64) -> Vec<WinEvent> {
        self.events.sort_by_key(|e| e.time_created);
        for (i, e) in self.events.iter_mut().enumerate() {
            e.event_record_id = first_record + i as u64;
        }
        self.events
    }
}

pub(super) fn account_change(target: &str, subject: &str, subject_sid: &str) -> Vec<(&'static str, String)> {
    vec![
        ("TargetUserName", target.to_string()),
        ("TargetDomainName", DOMAIN.to_string()),
        ("TargetSid", format!("S-1-5-21-3623811015-3361044348-30300820-{}", rid(target))),
        ("SubjectUserSid", subject_sid.to_string()),
        ("SubjectUserName", subject.to_string()),
        ("SubjectDomainName", DOMAIN.to_string()),
        ("SubjectLogonId", "0x3e7".to_string()),
    ]
}
