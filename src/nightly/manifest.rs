//! The run manifest: one JSON document per `sspr nightly` run, stored in the lake
//! (`_runs/<run id>.json`, so it travels with the lake to object storage) and beside the reports
//! (`reports/<date>/run.json`, for monitoring that reads files). It says what the run did:
//! per source the files, records, retries, throttled responses and quarantined records; every
//! output with its size and hash; the export; the figures the next run compares against; every
//! error with its step; and the outcome the exit code reports.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::settings::Settings;
use crate::store::Lake;

/// The folder of run manifests under the lake root.
const RUNS_DIR: &str = "_runs";

/// How a run ended, and its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every source and step finished: exit 0.
    Complete,
    /// Finished, but some source, file, slice or step is incomplete or failed: exit 3.
    Partial,
    /// The run could not do its work (no source could be read, the build or the report folder
    /// failed): exit 1.
    Failed,
}

impl Outcome {
    pub(crate) fn exit_code(self) -> u8 {
        use crate::error::exit;
        match self {
            Outcome::Complete => exit::SUCCESS,
            Outcome::Partial => exit::INCOMPLETE,
            Outcome::Failed => exit::FAILED,
        }
    }
}

/// What one source (Graph, or a watched folder) gave.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SourceReport {
    pub name: String,
    /// `graph` or `watch`.
    pub kind: String,
    pub files_seen: usize,
    pub files_imported: Vec<String>,
    pub pages: u64,
    pub records: u64,
    pub rows_new: usize,
    pub duplicates: usize,
    pub quarantined: u64,
    pub retries: u64,
    pub throttled: u64,
    /// Slices or files not read to their end (the next run takes them again).
    pub incomplete: Vec<String>,
    /// Why the source could not be read at all.
    pub error: Option<String>,
}

impl SourceReport {
    pub(crate) fn new(name: &str, kind: &str) -> Self {
        Self { name: name.to_string(), kind: kind.to_string(), ..Default::default() }
    }

    fn complete(&self) -> bool {
        self.error.is_none() && self.incomplete.is_empty()
    }
}

/// One file the run wrote.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WrittenFile {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// The Power BI export of the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportReport {
    pub target: String,
    pub export_id: String,
    pub written: usize,
    pub carried: usize,
    pub rows: u64,
    pub pseudonymized: bool,
    /// Nothing was new: the current export was kept, no generation written.
    #[serde(default)]
    pub kept: bool,
}

/// A step that failed, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepError {
    pub step: String,
    pub message: String,
}

/// One run, as it happened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunManifest {
    pub format: u32,
    pub run_id: String,
    pub version: String,
    pub started: DateTime<Utc>,
    pub finished: Option<DateTime<Utc>>,
    pub report_date: NaiveDate,
    pub lake: String,
    /// SHA-256 of the resolved config (file and environment overrides), to see when it changed.
    pub config_digest: String,
    pub outcome: Outcome,
    /// No source brought a new row and the build changed nothing.
    pub nothing_new: bool,
    pub sources: Vec<SourceReport>,
    /// Derived-table partitions written or removed by the build.
    pub build_partitions: usize,
    pub outputs: Vec<WrittenFile>,
    pub export: Option<ExportReport>,
    /// What the next run compares against ([`super::since`]).
    pub figures: Option<Figures>,
    /// Report folders removed by `keep_reports_days` (fields added after format 1's first
    /// release default, so older manifests still read).
    #[serde(default)]
    pub removed: Vec<String>,
    /// Lake partitions removed by `[retention]` (`<table>/<column>=<date>`).
    #[serde(default)]
    pub partitions_removed: Vec<String>,
    /// Leftovers of an interrupted run removed from the lake's `_staging/` when the run took the
    /// lock.
    #[serde(default)]
    pub staging_cleaned: usize,
    /// Where the summary was delivered (`mail`, `webhook`); a failed delivery is in `errors`.
    #[serde(default)]
    pub delivered: Vec<String>,
    pub errors: Vec<StepError>,
}

impl RunManifest {
    pub(crate) fn start(settings: &Settings, started: DateTime<Utc>, report_date: NaiveDate) -> Self {
        let config = toml::to_string(&settings.layered.table).unwrap_or_default();
        Self {
            format: 1,
            run_id: format!("{}-{}", super::stamp(started), std::process::id()),
            version: env!("CARGO_PKG_VERSION").to_string(),
            started,
            finished: None,
            report_date,
            lake: settings.lake.clone(),
            config_digest: super::watch::hex(
                ring::digest::digest(&ring::digest::SHA256, config.as_bytes()).as_ref(),
            ),
            outcome: Outcome::Complete,
            nothing_new: false,
            sources: Vec::new(),
            build_partitions: 0,
            outputs: Vec::new(),
            export: None,
            figures: None,
            removed: Vec::new(),
            partitions_removed: Vec::new(),
            staging_cleaned: 0,
            delivered: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Records a failed step (and logs it).
    pub(crate) fn error(&mut self, step: &str, e: &Error) {
        let message = chain(e);
        tracing::error!(step, %message, "Nightly step failed.");
        self.errors.push(StepError { step: step.to_string(), message });
    }

    /// Records what a source gave, and why it could not be read when it failed.
    pub(crate) fn add_source(&mut self, mut report: SourceReport, result: Result<()>) {
        if let Err(e) = result {
            tracing::error!(source = %report.name, error = %chain(&e), "Nightly source failed.");
            report.error = Some(chain(&e));
        }
        self.sources.push(report);
    }

    /// Sets the end and the outcome.
    pub(crate) fn finish(&mut self, at: DateTime<Utc>) {
        self.finished = Some(at);
        let fatal = self.errors.iter().any(|e| matches!(e.step.as_str(), "run" | "build"));
        let all_sources_failed = !self.sources.is_empty() && self.sources.iter().all(|s| s.error.is_some());
        self.outcome = if fatal || all_sources_failed {
            Outcome::Failed
        } else if !self.errors.is_empty() || self.sources.iter().any(|s| !s.complete()) {
            Outcome::Partial
        } else {
            Outcome::Complete
        };
    }

    /// Stores the manifest in the lake (`_runs/<run id>.json`).
    pub(crate) async fn store(&self, lake: &Lake) -> Result<()> {
        let key = lake.root.key(&format!("{RUNS_DIR}/{}.json", self.run_id));
        let body = serde_json::to_vec_pretty(self)?;
        lake.root.store.put(&key, PutPayload::from(body)).await?;
        Ok(())
    }

    /// Writes the manifest beside the reports (`run.json`).
    pub(crate) fn write_local(&self, dir: &std::path::Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let p = dir.join("run.json");
        std::fs::write(&p, serde_json::to_vec_pretty(self)?).map_err(|e| Error::io(&p, e))
    }
}

impl RunManifest {
    /// The run's row of the lake's `runs` table.
    pub(crate) fn runs_row(&self) -> Result<datafusion::arrow::array::RecordBatch> {
        use std::sync::Arc;

        use datafusion::arrow::array::{
            ArrayRef, BooleanArray, Date32Array, Int64Array, RecordBatch, StringArray,
            TimestampMicrosecondArray,
        };
        let table = &crate::store::schema::RUNS;
        let sum = |f: &dyn Fn(&SourceReport) -> i64| -> ArrayRef {
            Arc::new(Int64Array::from(vec![self.sources.iter().map(f).sum::<i64>()]))
        };
        let int = |v: usize| -> ArrayRef { Arc::new(Int64Array::from(vec![v as i64])) };
        let text = |v: Option<String>| -> ArrayRef { Arc::new(StringArray::from(vec![v])) };
        let time = |t: Option<DateTime<Utc>>| -> ArrayRef {
            Arc::new(
                TimestampMicrosecondArray::from(vec![t.map(|t| t.timestamp_micros())]).with_timezone("UTC"),
            )
        };
        let outcome = serde_json::to_value(self.outcome)?.as_str().unwrap_or("").to_string();
        let errors = self.errors.iter().map(|e| format!("{}: {}", e.step, e.message)).collect::<Vec<_>>();
        let columns: Vec<ArrayRef> = vec![
            text(Some(self.run_id.clone())),
            Arc::new(Date32Array::from(vec![crate::util::date32(self.report_date)])),
            time(Some(self.started)),
            time(self.finished),
            text(Some(outcome)),
            Arc::new(BooleanArray::from(vec![self.nothing_new])),
            int(self.sources.len()),
            int(self.sources.iter().filter(|s| s.error.is_some()).count()),
            sum(&|s| s.files_imported.len() as i64),
            sum(&|s| s.records as i64),
            sum(&|s| s.rows_new as i64),
            sum(&|s| s.quarantined as i64),
            sum(&|s| s.retries as i64),
            sum(&|s| s.throttled as i64),
            int(self.build_partitions),
            int(self.outputs.len()),
            int(self.errors.len()),
            text((!errors.is_empty()).then(|| errors.join("; "))),
            text(self.export.as_ref().map(|e| e.export_id.clone())),
            text((!self.delivered.is_empty()).then(|| self.delivered.join(", "))),
            text(Some(self.config_digest.clone())),
            text(Some(self.version.clone())),
        ];
        Ok(RecordBatch::try_new(table.schema(), columns)?)
    }
}

/// The most recent complete run before `current`, from the lake's `_runs/`. A manifest that
/// cannot be read is skipped with a warning (it cannot be the baseline).
pub(crate) async fn previous_complete(lake: &Lake, current: &str) -> Result<Option<RunManifest>> {
    let prefix = lake.root.key(RUNS_DIR);
    let metas: Vec<_> = lake.root.store.list(Some(&prefix)).try_collect().await?;
    let mut best: Option<RunManifest> = None;
    for meta in metas {
        let bytes = lake.root.store.get(&meta.location).await?.bytes().await?;
        let run: RunManifest = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(manifest = %meta.location, error = %e, "Skipping a run manifest that cannot be read.");
                continue;
            }
        };
        if run.run_id == current || run.outcome != Outcome::Complete {
            continue;
        }
        if best.as_ref().is_none_or(|b| run.started > b.started) {
            best = Some(run);
        }
    }
    Ok(best)
}

/// An error and its causes on one line, each once (as the CLI prints them).
fn chain(e: &Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = c.source();
    }
    parts.join(": ")
}

/// What one run saw, for the next run to compare with (computed in `since.rs`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Figures {
    /// Error events by code (`source:code`), over the whole lake.
    pub error_codes: BTreeMap<String, i64>,
    /// Error events per day (UTC), the newest days.
    pub errors_by_day: BTreeMap<String, i64>,
    /// All users' SSPR capable share in the newest registration snapshot, and its date.
    pub coverage_pct: Option<f64>,
    pub coverage_snapshot: Option<String>,
    /// Users capable in an earlier snapshot and not in the newest (`coverage_lost`), by UPN.
    pub lost_coverage: Vec<String>,
    /// Rows of each security-signal query.
    pub signals: BTreeMap<String, i64>,
    /// Tables whose newest data is older than the staleness limit.
    pub stale: Vec<String>,
    /// Ingest sources with incomplete items.
    pub incomplete: Vec<String>,
}
