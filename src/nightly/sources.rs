//! The sources a run reads: Microsoft Graph, and the new files of each watched folder.

use std::path::{Path, PathBuf};

use chrono::Utc;

use super::{Plan, RunManifest, SourceReport, watch};
use crate::collectors::import::{ImportOptions, import};
use crate::error::{Error, Result};
use crate::settings::Settings;
use crate::store::Lake;

pub(super) async fn collect_graph(settings: &Settings, lake: &Lake, m: &mut RunManifest) {
    let mut report = SourceReport::new("graph", "graph");
    let result: Result<()> = async {
        let section = settings.graph.as_ref().ok_or_else(|| Error::Config("no [graph] section".into()))?;
        let g = section.resolve()?;
        let client = g.client()?;
        let state_dir = settings.state_dir(g.state_dir.as_deref());
        let s = crate::collectors::graph::collect::collect(lake, &client, &g.plan, &state_dir, &|_, _| {})
            .await?;
        report.records = s.items;
        report.rows_new = s.rows_new;
        report.retries = s.retries;
        report.throttled = s.throttled;
        report.pages = s.pages;
        for (slice, e) in &s.incomplete {
            report.incomplete.push(format!("slice {slice}: {e}"));
        }
        Ok(())
    }
    .await;
    m.add_source(report, result);
}

pub(super) async fn import_folder(
    settings: &Settings,
    lake: &Lake,
    plan: &Plan,
    folder: &crate::settings::WatchFolder,
    state_dir: &Path,
    m: &mut RunManifest,
) {
    let mut report = SourceReport::new(&folder.path.display().to_string(), "watch");
    let result: Result<()> = async {
        let mut seen = watch::Seen::load(state_dir)?;
        let files = watch::files(folder, &seen)?;
        report.files_seen = files.len();
        // A known file whose recorded time is missing or old gets the current one, so the
        // next night need not read it to hash it.
        let mut touched = false;
        for c in &files {
            if let Some(f) = seen.files.get_mut(&c.sha256)
                && f.path == c.path.display().to_string()
                && f.modified != c.modified
            {
                f.modified = c.modified;
                touched = true;
            }
        }
        let new: Vec<watch::Candidate> =
            files.into_iter().filter(|c| !seen.files.contains_key(&c.sha256)).collect();
        if new.is_empty() {
            return if touched { seen.save(state_dir) } else { Ok(()) };
        }
        let opts = ImportOptions {
            routing: settings.routing.clone(),
            source_tz: plan.source_tz,
            ..Default::default()
        };
        let paths: Vec<PathBuf> = new.iter().map(|c| c.path.clone()).collect();
        let s = import(lake, &paths, &opts, &|_| {}).await?;
        report.records = s.records;
        report.rows_new = s.rows_new;
        report.duplicates = s.duplicates;
        report.quarantined = s.quarantined;
        let now = Utc::now();
        for c in &new {
            let shown = c.path.display().to_string();
            match s.files.iter().find(|f| f.path == shown) {
                Some(f) if f.complete => {
                    report.files_imported.push(shown.clone());
                    seen.files.insert(
                        c.sha256.clone(),
                        watch::SeenFile { path: shown, size: c.size, imported: now, modified: c.modified },
                    );
                }
                Some(f) => report.incomplete.push(format!(
                    "{shown}: {}",
                    f.error.clone().unwrap_or_else(|| "not read to its end".into())
                )),
                None => report.incomplete.push(format!("{shown}: not imported")),
            }
        }
        seen.save(state_dir)
    }
    .await;
    m.add_source(report, result);
}
