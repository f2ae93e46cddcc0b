//! What the reports must find, computed from the generator's model once every event is in: the
//! planted security signals and hunts, the user stories `sspr explain` is held to, and the users
//! who reset.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::{GroundTruth, IpDayRow, KeyCount, MethodRow, SessionFact, Signals, UserStory, bump};

impl GroundTruth {
    pub(super) fn compute_signals(&mut self) {
        let mut s = Signals::default();
        for f in &self.session_facts {
            if f.outcome == "blocked" {
                bump(&mut s.blocked_users, &f.upn);
            }
        }
        let mut per_ip: BTreeMap<(String, NaiveDate), std::collections::BTreeSet<String>> = BTreeMap::new();
        let mut ip_attempts: BTreeMap<&str, u64> = BTreeMap::new();
        for f in &self.session_facts {
            per_ip.entry((f.ip.clone(), f.start.date_naive())).or_default().insert(f.upn.clone());
            *ip_attempts.entry(&f.ip).or_default() += 1;
        }
        let phone = ["mobile_sms", "mobile_voice", "office_voice"];
        s.sms_voice_only_resets_from_rare_ip = self
            .session_facts
            .iter()
            .filter(|f| {
                f.outcome == "succeeded"
                    && !f.completed.is_empty()
                    && f.completed.iter().all(|m| phone.contains(m))
                    && ip_attempts.get(f.ip.as_str()) == Some(&1)
            })
            .map(|f| f.correlation_id.clone())
            .collect();
        s.sms_voice_only_resets_from_rare_ip.sort();
        let mut rtr: Vec<String> = self
            .session_facts
            .iter()
            .filter(|f| {
                self.registration_facts.iter().any(|(upn, at, ip)| {
                    *upn == f.upn
                        && f.start > *at
                        && (f.start - *at).num_seconds() <= 24 * 3600
                        && f.ip != *ip
                        && !self.session_facts.iter().any(|g| g.upn == f.upn && g.ip == f.ip && g.start < *at)
                })
            })
            .map(|f| f.correlation_id.clone())
            .collect();
        rtr.sort();
        rtr.dedup();
        s.register_then_reset = rtr;
        s.resets_per_ip = per_ip
            .into_iter()
            .filter(|(_, users)| users.len() >= 5)
            .map(|((ip, day), users)| IpDayRow { ip, day, users: users.len() as u64 })
            .collect();
        let mut recon = Vec::new();
        for f in &self.session_facts {
            if f.outcome == "unknown" {
                bump(&mut recon, &f.upn);
            }
        }
        s.verification_recon = recon.into_iter().filter(|r| r.attempts >= 2).collect();
        let mut by_admin: BTreeMap<&str, Vec<(chrono::DateTime<chrono::Utc>, &str)>> = BTreeMap::new();
        for (admin, target, at) in &self.admin_facts {
            by_admin.entry(admin).or_default().push((*at, target));
        }
        for (admin, mut resets) in by_admin {
            resets.sort();
            let most = (0..resets.len())
                .map(|i| {
                    let end = resets[i].0 + chrono::Duration::hours(1);
                    resets[i..]
                        .iter()
                        .take_while(|r| r.0 < end)
                        .map(|r| r.1)
                        .collect::<std::collections::BTreeSet<_>>()
                        .len()
                })
                .max()
                .unwrap_or(0) as u64;
            if most >= 5 {
                s.bulk_admin_resets.push(KeyCount { key: admin.to_string(), attempts: most });
            }
        }
        self.signals = s;
        let mut methods: BTreeMap<&str, MethodRow> = BTreeMap::new();
        for f in &self.session_facts {
            let mut seen: Vec<&str> = f.started.clone();
            seen.sort();
            seen.dedup();
            for m in seen {
                let r = methods
                    .entry(m)
                    .or_insert_with(|| MethodRow { method: m.to_string(), ..Default::default() });
                r.started += 1;
                r.completed += u64::from(f.completed.contains(&m));
                r.succeeded += u64::from(f.outcome == "succeeded");
            }
        }
        self.by_method = methods.into_values().collect();
    }

    pub(super) fn compute_hunts(&mut self) {
        use chrono::{Datelike, Timelike};
        let off = |t: &chrono::DateTime<chrono::Utc>| {
            t.weekday().number_from_monday() >= 6 || !(8..18).contains(&t.hour())
        };
        let mut sessions: Vec<&SessionFact> = self.session_facts.iter().filter(|f| off(&f.start)).collect();
        sessions.sort_by(|a, b| (a.start, &a.correlation_id).cmp(&(b.start, &b.correlation_id)));
        self.off_hours_sessions = sessions.iter().map(|f| f.correlation_id.clone()).collect();
        self.off_hours_admin_resets = self.admin_facts.iter().filter(|(_, _, at)| off(at)).count() as u64;
        let mut per_admin: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for f in self.session_facts.iter().filter(|f| self.admins.contains(&f.upn)) {
            let e = per_admin.entry(f.upn.as_str()).or_default();
            e.0 += 1;
            e.1 += u64::from(f.outcome == "succeeded");
        }
        let mut rows: Vec<(String, u64, u64)> = per_admin
            .into_iter()
            .filter(|(_, (n, _))| *n >= 2)
            .map(|(u, (n, s))| (u.to_string(), n, s))
            .collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        self.admin_self_resets = rows;
    }

    pub(super) fn compute_reset_users(&mut self) {
        use std::collections::BTreeSet;
        let succeeded = |f: &&SessionFact| f.outcome == "succeeded";
        let users = |it: &mut dyn Iterator<Item = &str>| it.collect::<BTreeSet<_>>().len() as u64;
        let s = &self.session_facts;
        let self_row = (
            "self".to_string(),
            s.len() as u64,
            s.iter().filter(succeeded).count() as u64,
            users(&mut s.iter().map(|f| f.upn.as_str())),
            users(&mut s.iter().filter(succeeded).map(|f| f.upn.as_str())),
        );
        // The generator's admin resets all succeed.
        let a = &self.admin_facts;
        let targets = users(&mut a.iter().map(|(_, t, _)| t.as_str()));
        let admin_row = ("admin".to_string(), a.len() as u64, a.len() as u64, targets, targets);
        self.reset_users = [self_row, admin_row].into_iter().filter(|r| r.1 > 0).collect();
    }

    pub(super) fn compute_user_stories(&mut self) {
        let mut by_user: BTreeMap<&str, Vec<&SessionFact>> = BTreeMap::new();
        for f in &self.session_facts {
            by_user.entry(f.upn.as_str()).or_default().push(f);
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut stories = Vec::new();
        for (upn, mut sessions) in by_user {
            sessions.sort_by_key(|f| f.start);
            let Some(last) = sessions.last() else { continue };
            if !seen.insert(last.outcome) {
                continue;
            }
            stories.push(UserStory {
                upn: upn.to_string(),
                sessions: sessions.len() as u64,
                succeeded: sessions.iter().filter(|f| f.outcome == "succeeded").count() as u64,
                last_outcome: last.outcome.to_string(),
                last_correlation_id: last.correlation_id.clone(),
            });
        }
        self.user_stories = stories;
    }
}
