//! Housekeeping: `[retention]` of the lake's raw tables and `keep_reports_days` of the report
//! folders, each removal recorded in the manifest.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::RunManifest;
use crate::error::{Error, Result};
use crate::settings::Settings;
use crate::store::Lake;

/// `[retention]`: removes each configured raw table's partitions older than its days.
pub(super) async fn retention(settings: &Settings, lake: &Lake, date: NaiveDate, m: &mut RunManifest) {
    for (table, days) in settings.retention.tables() {
        let cutoff = date - chrono::Duration::days(i64::from(days));
        match lake.drop_partitions_before(table, cutoff).await {
            Ok(dates) => {
                if !dates.is_empty() {
                    tracing::info!(table = table.name, partitions = dates.len(), %cutoff, "Retention removed old partitions.");
                }
                m.partitions_removed
                    .extend(dates.iter().map(|d| format!("{}/{}={d}", table.name, table.partition_col)));
            }
            Err(e) => m.error("retention", &e),
        }
    }
}

/// The `<date>` folders of `reports` more than `days` days before `today` (others left alone).
pub(super) fn old_reports(reports: &Path, today: NaiveDate, days: u32) -> Result<Vec<PathBuf>> {
    let cutoff = today - chrono::Duration::days(i64::from(days));
    let mut out = Vec::new();
    for e in std::fs::read_dir(reports).map_err(|e| Error::io(reports, e))? {
        let e = e.map_err(|e| Error::io(reports, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Ok(d) = NaiveDate::parse_from_str(&name, "%Y-%m-%d")
            && d < cutoff
            && e.path().is_dir()
        {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}
