//! The rows of the ground truth: what each report must show, one struct per report shape.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CoverageRow {
    pub user_type: String,
    pub role: String,
    pub users: u64,
    pub sspr_registered: u64,
    pub sspr_enabled: u64,
    pub sspr_capable: u64,
    #[serde(default)]
    pub mfa_capable: u64,
    #[serde(default)]
    pub passwordless_capable: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DayRow {
    pub day: NaiveDate,
    pub sessions_started: u64,
    pub sessions_succeeded: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ReasonRow {
    pub outcome: String,
    pub reason: String,
    pub sessions: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CodeRow {
    pub code: String,
    pub events: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct KeyCount {
    pub key: String,
    pub attempts: u64,
}

/// Coverage of one registration snapshot and slice (the `registration_coverage_daily` grain).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CoverageDailyRow {
    pub snapshot_date: NaiveDate,
    pub user_type: String,
    pub role: String,
    pub department: String,
    pub account_enabled: bool,
    pub users: u64,
    pub sspr_registered: u64,
    pub sspr_enabled: u64,
    pub sspr_capable: u64,
    pub mfa_capable: u64,
}

/// Audit events of one UTC day, activity and result (`password_activity_daily`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ActivityDayRow {
    pub day: NaiveDate,
    pub activity: String,
    pub result: String,
    pub events: u64,
}

/// One user's self-service sessions, as `sspr explain` tells them: for one user per way a
/// user's last session can end (the first such user by UPN).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UserStory {
    pub upn: String,
    pub sessions: u64,
    pub succeeded: u64,
    pub last_outcome: String,
    pub last_correlation_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IpDayRow {
    pub ip: String,
    pub day: NaiveDate,
    pub users: u64,
}

/// The security signals the generator plants, computed from its model with the reports' rules.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Signals {
    /// Users blocked for 24 hours, with how many blocked attempts.
    pub blocked_users: Vec<KeyCount>,
    /// (IP, UTC day) with at least 5 distinct users starting a self-service attempt.
    pub resets_per_ip: Vec<IpDayRow>,
    /// Users with at least 2 attempts that saw the verification options and started none.
    pub verification_recon: Vec<KeyCount>,
    /// Administrators who reset at least 3 distinct accounts within one hour (the most in any hour).
    pub bulk_admin_resets: Vec<KeyCount>,
    /// Successful resets verified only by phone (SMS / voice) from an IP no other attempt used
    /// (correlation ids, sorted).
    pub sms_voice_only_resets_from_rare_ip: Vec<String>,
    /// Resets within 24 hours after a security-info registration, from an IP neither the
    /// registration nor the user's earlier attempts used (correlation ids, sorted).
    pub register_then_reset: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MethodRow {
    pub method: String,
    pub started: u64,
    pub completed: u64,
    pub succeeded: u64,
}

/// Security-info events of one UTC day, activity, method and result.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RegistrationDayRow {
    pub day: NaiveDate,
    pub activity: String,
    pub method: String,
    pub result: String,
    pub events: u64,
}

/// One account's password operations on one UTC day, from the cloud and the domain controller.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PasswordOpsRow {
    /// The on-premises account name: the UPN's part before `@`, lower-cased.
    pub account: String,
    pub day: NaiveDate,
    pub self_resets: u64,
    pub admin_resets: u64,
    pub changes: u64,
    pub dc_changes: u64,
    pub dc_resets: u64,
}
