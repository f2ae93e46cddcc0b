//! `sspr collect graph`: the unattended collector.
//!
//! A run covers a window (`watermark - overlap` → `now - lag`, or `now - initial_lookback` the
//! first time) cut into slices per `loggedByService` and per `slice_hours`, plus one
//! `userRegistrationDetails` snapshot and one `users` snapshot. Slices are fetched concurrently
//! under one shared rate limiter. Every page is spooled to disk verbatim and the checkpoint
//! (slice, nextLink, pages, items) is saved after each one, so a killed run resumes at the page
//! where it stopped. When every slice is done, the spool is imported with the file importers
//! (merge on `id`, so overlap never duplicates), the ledger gets one row per slice, the
//! watermark moves and the spool is removed. A slice that fails stays incomplete: the run exits
//! non-zero, says which, and the next run resumes it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::collectors::checkpoint;
use crate::collectors::files::FileFormat;
use crate::collectors::graph::client::{FetchError, GraphClient};
use crate::collectors::graph::plan::{CollectPlan, RunState, plan_run};
use crate::collectors::import::{ImportOptions, import};
use crate::collectors::ledger::{LedgerEntry, ledger_batch};
use crate::error::{Error, Result};
use crate::store::Lake;
use crate::store::schema::INGEST_LEDGER;
use crate::store::table_writer::write_batches;

/// The collector's checkpoint file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct GraphState {
    /// End of the last fully collected audit window.
    pub watermark: Option<DateTime<Utc>>,
    pub run: Option<RunState>,
}

/// What a run did.
#[derive(Debug, Default, Serialize)]
pub struct CollectSummary {
    pub run_id: String,
    pub resumed: bool,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub slices: usize,
    pub pages: u64,
    pub items: u64,
    pub retries: u64,
    pub throttled: u64,
    pub rows_new: usize,
    pub incomplete: Vec<(String, String)>,
    /// Some slice failed because the credential was refused (a wrong secret, no consent): a rerun
    /// resumes only once the credential is fixed.
    pub credential_refused: bool,
}

/// Files of the collector inside the state directory.
struct StatePaths {
    pub checkpoint: PathBuf,
    pub spool: PathBuf,
}

impl StatePaths {
    fn new(state_dir: &Path) -> Self {
        Self { checkpoint: state_dir.join("graph-checkpoint.json"), spool: state_dir.join("graph-spool") }
    }
}

/// Where a slice's pages are spooled. Snapshot slices include the snapshot date in the path so
/// the importer files them under it.
fn slice_dir(spool: &Path, run: &RunState, key: &str) -> PathBuf {
    let base = spool.join(&run.run_id);
    match key {
        "registration" | "users" | "roles" => base.join(key).join(run.snapshot_date.to_string()),
        _ => base.join("audits").join(key),
    }
}

/// The collector's state lock, unlocked explicitly when dropped: a child forked by another thread
/// shares the lock's open file description until it execs, so closing ours is not enough.
struct StateLock(std::fs::File);

impl Drop for StateLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// One collector per state directory at a time (an advisory lock, released if the process dies).
fn lock_state(state_dir: &Path) -> Result<StateLock> {
    std::fs::create_dir_all(state_dir).map_err(|e| Error::io(state_dir, e))?;
    let p = state_dir.join("graph.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| Error::io(&p, e))?;
    match f.try_lock() {
        Ok(()) => Ok(StateLock(f)),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked {
            location: state_dir.display().to_string(),
            holder: "another sspr collect graph".into(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&p, e)),
    }
}

/// Runs (or resumes) a collection.
pub async fn collect(
    lake: &Lake,
    client: &GraphClient,
    plan: &CollectPlan,
    state_dir: &Path,
    on_page: &(dyn Fn(&str, u64) + Sync),
) -> Result<CollectSummary> {
    let paths = StatePaths::new(state_dir);
    let _guard = lock_state(state_dir)?;
    let mut state: GraphState = checkpoint::load(&paths.checkpoint)?.unwrap_or_default();
    let resumed = state.run.is_some();
    let run = match state.run.take() {
        Some(r) => {
            check_resumable(&r, plan)?;
            let done = r.slices.values().filter(|s| s.done).count();
            tracing::warn!(
                run = %r.run_id, window_start = %r.window_start, window_end = %r.window_end,
                slices_done = done, slices = r.slices.len(),
                "Resuming an unfinished Graph collection before any new window."
            );
            r
        }
        None => plan_run(plan, state.watermark, Utc::now())?,
    };
    state.run = Some(run.clone());
    checkpoint::save(&paths.checkpoint, &state)?;
    let shared = Arc::new(Mutex::new(state));

    let pending: Vec<String> = run.slices.iter().filter(|(_, s)| !s.done).map(|(k, _)| k.clone()).collect();
    let results: Vec<(String, std::result::Result<(), SliceError>)> = futures::stream::iter(pending)
        .map(|key| {
            let (shared, paths, run) = (shared.clone(), &paths, &run);
            async move {
                let r = fetch_slice(client, &key, run, paths, &shared, on_page).await;
                (key, r)
            }
        })
        .buffer_unordered(plan.concurrency.max(1))
        .collect()
        .await;
    let mut state = Arc::try_unwrap(shared).map(Mutex::into_inner).unwrap_or_default();
    let run = state.run.clone().expect("run set above");
    let mut summary = CollectSummary {
        run_id: run.run_id.clone(),
        resumed,
        window_start: Some(run.window_start),
        window_end: Some(run.window_end),
        slices: run.slices.len(),
        ..Default::default()
    };
    for s in run.slices.values() {
        summary.pages += s.pages;
        summary.items += s.items;
        summary.retries += s.retries;
        summary.throttled += s.throttled;
    }
    for (key, r) in &results {
        if let Err(e) = r {
            summary.incomplete.push((key.clone(), e.message.clone()));
            summary.credential_refused |= e.credential_refused;
        }
    }
    let all_done = run.slices.values().all(|s| s.done);
    if all_done {
        summary.rows_new = import_spool(lake, &paths.spool.join(&run.run_id)).await?;
    }
    write_ledger(lake, &run).await?;
    if all_done {
        state.watermark = Some(state.watermark.map_or(run.window_end, |w| w.max(run.window_end)));
        state.run = None;
        checkpoint::save(&paths.checkpoint, &state)?;
        let _ = std::fs::remove_dir_all(paths.spool.join(&run.run_id));
    } else {
        checkpoint::save(&paths.checkpoint, &state)?;
    }
    Ok(summary)
}

/// A run left unfinished is finished before anything else; an explicit window that is not its
/// window cannot be honoured now, so it is refused with what to do rather than ignored.
fn check_resumable(pending: &RunState, plan: &CollectPlan) -> Result<()> {
    let differs = |asked: Option<DateTime<Utc>>, has: DateTime<Utc>| asked.is_some_and(|a| a != has);
    if differs(plan.from, pending.window_start) || differs(plan.to, pending.window_end) {
        let done = pending.slices.values().filter(|s| s.done).count();
        return Err(Error::usage(format!(
            "--from/--to cannot run now: an earlier collection of {} → {} (run {}, {done} of {} slices \
             done) is unfinished and runs first, so that nothing it fetched is lost; run `sspr collect \
             graph` without --from/--to to finish it, then ask for your window",
            pending.window_start.to_rfc3339(),
            pending.window_end.to_rfc3339(),
            pending.run_id,
            pending.slices.len()
        )));
    }
    Ok(())
}

/// Why a slice stopped.
struct SliceError {
    message: String,
    credential_refused: bool,
}

impl From<String> for SliceError {
    fn from(message: String) -> Self {
        Self { message, credential_refused: false }
    }
}

async fn fetch_slice(
    client: &GraphClient,
    key: &str,
    run: &RunState,
    paths: &StatePaths,
    shared: &Mutex<GraphState>,
    on_page: &(dyn Fn(&str, u64) + Sync),
) -> std::result::Result<(), SliceError> {
    let dir = slice_dir(&paths.spool, run, key);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (mut url, mut pages) = {
        let st = shared.lock().await;
        let s = &st.run.as_ref().expect("run").slices[key];
        (s.next.clone().unwrap_or_else(|| s.start_url.clone()), s.pages)
    };
    let mut seen = HashSet::new();
    loop {
        if !seen.insert(url.clone()) {
            let msg = format!("nextLink loop: {url} was already fetched in this slice");
            record_error(shared, paths, key, &msg).await;
            return Err(msg.into());
        }
        let (page, stats) = match client.get_page(&url).await {
            Ok(p) => p,
            Err(e) => {
                let msg = e.to_string();
                record_error(shared, paths, key, &msg).await;
                let credential_refused = matches!(&e, FetchError::Auth(a) if !a.is_retryable());
                return Err(SliceError { message: msg, credential_refused });
            }
        };
        pages += 1;
        let file = dir.join(format!("page-{pages:05}.json"));
        checkpoint::write_durably(&file, &page.body).map_err(|e| e.to_string())?;
        {
            let mut st = shared.lock().await;
            let s = st.run.as_mut().expect("run").slices.get_mut(key).expect("slice");
            s.pages = pages;
            s.items += page.items as u64;
            s.retries += u64::from(stats.retries);
            s.throttled += u64::from(stats.throttled);
            s.next = page.next_link.clone();
            s.done = page.next_link.is_none();
            s.error = None;
            checkpoint::save(&paths.checkpoint, &*st).map_err(|e| e.to_string())?;
        }
        on_page(key, page.items as u64);
        match page.next_link {
            Some(n) => url = n,
            None => return Ok(()),
        }
    }
}

async fn record_error(shared: &Mutex<GraphState>, paths: &StatePaths, key: &str, msg: &str) {
    let mut st = shared.lock().await;
    if let Some(s) = st.run.as_mut().and_then(|r| r.slices.get_mut(key)) {
        s.error = Some(msg.to_string());
    }
    let _ = checkpoint::save(&paths.checkpoint, &*st);
}

/// Imports every spooled page of a run (idempotent: rows merge on their natural keys).
async fn import_spool(lake: &Lake, run_spool: &Path) -> Result<usize> {
    if !run_spool.exists() {
        return Ok(0);
    }
    let opts = ImportOptions { format: FileFormat::Auto, ..Default::default() };
    let s = import(lake, &[run_spool.to_path_buf()], &opts, &|_| {}).await?;
    if s.quarantined > 0 {
        tracing::warn!(records = s.quarantined, file = ?s.quarantine_file, "Some collected records could not be parsed and were quarantined.");
    }
    Ok(s.rows_new)
}

async fn write_ledger(lake: &Lake, run: &RunState) -> Result<()> {
    let now = Utc::now();
    let entries: Vec<LedgerEntry> = run
        .slices
        .iter()
        .map(|(key, s)| LedgerEntry {
            run_id: run.run_id.clone(),
            source: s.source.clone(),
            item: key.clone(),
            format: Some("graph".into()),
            window_start: s.window_start,
            window_end: s.window_end,
            pages: Some(s.pages as i64),
            records: Some(s.items as i64),
            retries: Some(s.retries as i64),
            throttled: Some(s.throttled as i64),
            complete: s.done,
            error: s.error.clone(),
            started_at: run.started_at,
            finished_at: Some(now),
            ..Default::default()
        })
        .collect();
    let lock = lake.lock().await?;
    let r = write_batches(lake, &INGEST_LEDGER, vec![ledger_batch(&entries)?]).await;
    lock.release().await?;
    r.map(|_| ())
}
