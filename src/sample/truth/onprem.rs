//! What the on-premises reports must show on the sample's event logs: the part of the ground
//! truth that [`crate::sample::onprem`] computes while it writes the logs.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CountRow {
    pub key: String,
    pub events: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct GapRow {
    pub after: DateTime<Utc>,
    pub before: DateTime<Utc>,
    pub minutes: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DcResetRow {
    pub by_connector: bool,
    pub success: bool,
    pub events: u64,
}

/// What the on-premises reports must show.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OnPremTruth {
    /// Rows each event-log table must hold after importing every file (EVTX and XML) once.
    pub writeback_events: u64,
    pub credential_provider_events: u64,
    pub dc_security_events: u64,
    /// Records in all the files (EVTX and XML) that no routing rule keeps.
    pub skipped_events: u64,
    /// Writeback-server error events by `provider/event_id` (level Error or Warning).
    pub writeback_errors: Vec<CountRow>,
    /// Heartbeat (31019) gaps longer than `GAP_MINUTES` (15).
    pub heartbeat_gaps: Vec<GapRow>,
    pub service_stops: u64,
    /// 31001 operations: started, succeeded (31002), failed (31003), and how many carry the
    /// correlation id of a cloud session as their TrackingId.
    pub writeback_started: u64,
    pub writeback_succeeded: u64,
    pub writeback_failed: u64,
    /// Credential-provider Error events by machine.
    pub credential_provider_errors: Vec<CountRow>,
    /// DC 4724 by the connector account vs others, success vs failure.
    pub dc_password_resets: Vec<DcResetRow>,
    /// DC 4723 (changes) and 4724 not by the connector (resets) per (account, UTC day), for
    /// `password_operations_per_user_daily`.
    #[serde(skip)]
    pub dc_password_ops: BTreeMap<(String, NaiveDate), (u64, u64)>,
}
