//! What the reports must find, computed from the generator's model once every event is in: the
//! planted security signals and hunts, the user stories `sspr explain` is held to, and the users
//! who reset.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::{
    GroundTruth, IpDayRow, KeyCount, MethodRow, PasswordOpsRow, SessionFact, Signals, UserStory, bump,
};

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
            if most >= 3 {
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

    /// The two password hunts with their defaults: attempts with 3 or more refused passwords, and
    /// accounts with more than 3 password operations in a UTC day across the cloud and the DC.
    pub(super) fn compute_password_hunts(&mut self) {
        let mut rejected: Vec<(String, String, u64, String)> = self
            .session_facts
            .iter()
            .filter(|f| f.rejected >= 3)
            .map(|f| (f.correlation_id.clone(), f.upn.clone(), f.rejected, f.outcome.to_string()))
            .collect();
        rejected.sort_by(|a, b| b.2.cmp(&a.2).then(a.1.cmp(&b.1)).then(a.0.cmp(&b.0)));
        self.repeated_password_rejections = rejected;

        let account = |upn: &str| upn.split('@').next().unwrap_or(upn).to_lowercase();
        let mut ops: BTreeMap<(String, NaiveDate), PasswordOpsRow> = BTreeMap::new();
        let mut add = |a: String, day: NaiveDate, f: &dyn Fn(&mut PasswordOpsRow)| {
            let r = ops.entry((a.clone(), day)).or_insert_with(|| PasswordOpsRow {
                account: a,
                day,
                ..Default::default()
            });
            f(r);
        };
        for f in &self.session_facts {
            add(account(&f.upn), f.start.date_naive(), &|r| r.self_resets += 1);
        }
        for (_, target, at) in &self.admin_facts {
            add(account(target), at.date_naive(), &|r| r.admin_resets += 1);
        }
        for (upn, at) in &self.change_facts {
            add(account(upn), at.date_naive(), &|r| r.changes += 1);
        }
        for ((a, day), (changes, resets)) in &self.onprem.dc_password_ops {
            let (c, x) = (*changes, *resets);
            add(a.to_lowercase(), *day, &move |r| {
                r.dc_changes += c;
                r.dc_resets += x;
            });
        }
        let total =
            |r: &PasswordOpsRow| r.self_resets + r.admin_resets + r.changes + r.dc_changes + r.dc_resets;
        let mut rows: Vec<PasswordOpsRow> = ops.into_values().filter(|r| total(r) > 3).collect();
        rows.sort_by(|a, b| total(b).cmp(&total(a)).then(a.day.cmp(&b.day)).then(a.account.cmp(&b.account)));
        self.password_operations_per_user_daily = rows;
    }

    /// Successful resets (self-service: when the session ended; admin: when it was done) followed
    /// within 30 minutes by a privileged operation of the same account: the planted directory
    /// audits, and admin resets of other accounts.
    pub(super) fn compute_privileged_after_reset(&mut self) {
        let window = chrono::Duration::minutes(30);
        let resets = self
            .session_facts
            .iter()
            .filter(|f| f.outcome == "succeeded")
            .map(|f| (f.upn.as_str(), "self", f.end))
            .chain(self.admin_facts.iter().map(|(_, target, at)| (target.as_str(), "admin", *at)));
        let ops: Vec<(&str, chrono::DateTime<chrono::Utc>, &str)> = self
            .privileged_facts
            .iter()
            .map(|(a, t, x)| (a.as_str(), *t, x.as_str()))
            .chain(
                self.admin_facts
                    .iter()
                    .map(|(admin, _, at)| (admin.as_str(), *at, "Reset password (by admin)")),
            )
            .collect();
        let mut rows = Vec::new();
        for (upn, by, at) in resets {
            for (actor, t, activity) in &ops {
                if *actor == upn && *t >= at && *t - at <= window {
                    rows.push((upn.to_string(), by.to_string(), activity.to_string(), *t));
                }
            }
        }
        rows.sort_by(|a, b| (a.3, &a.0, &a.2).cmp(&(b.3, &b.0, &b.2)));
        self.reset_then_privileged_operation = rows;
    }
}
