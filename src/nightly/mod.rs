//! `sspr nightly`: the unattended job. Under the lake's writer lock for the whole run it collects
//! from Graph (when configured), imports the new files of the watched folders, brings the derived
//! tables up to date, writes the configured saved queries (CSV and Markdown) and dashboards (HTML)
//! to `reports/<date>/`, compares the run with the previous complete one ("since last night"),
//! exports for Power BI (when configured), and records everything in a run manifest
//! (`<lake>/_runs/<run id>.json`). One failing source does not stop the others; the outcome is
//! the exit code: complete, partial (some source or step incomplete), failed, lock held.

mod deliver;
mod housekeeping;
mod manifest;
mod outputs;
mod since;
mod sources;
mod stop;
mod watch;

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::{Error, Result};
use crate::query::saved::Registry;
use crate::report::{Dashboard, Window};
use crate::settings::{Settings, validate_tz};
use crate::store::Lake;
pub use manifest::{Outcome, RunManifest, SourceReport, WrittenFile};

/// Options of one run (from the command line).
#[derive(Debug, Clone, Default)]
pub(crate) struct NightlyOptions {
    /// The report date (default: today in the report zone).
    pub date: Option<NaiveDate>,
}

/// Runs the job over `settings`. Errors before the lock (config, a lake that cannot be opened,
/// the lock held) are returned; after it, every failure is recorded in the manifest and the run
/// goes on with what does not depend on the failed step.
pub(crate) async fn run(
    settings: &Settings,
    registry: &Registry,
    opts: &NightlyOptions,
) -> Result<RunManifest> {
    // Listening before anything else: a stop signal from here on ends the run cleanly.
    let stop = stop::Stop::listen();
    let mut plan = Plan::of(settings, registry)?;
    let (lake, _) = Lake::open_or_create(&settings.lake)?;
    let (held, lock, cleaned) = lake.lock_for_job().await?;
    let started = Utc::now();
    let date = opts.date.unwrap_or_else(|| started.with_timezone(&plan.tz).date_naive());
    plan.date = date;
    let mut m = RunManifest::start(settings, started, date);
    m.staging_cleaned = cleaned;
    tracing::info!(run = %m.run_id, lake = %settings.lake, "Nightly run started.");
    let summary = match steps(settings, registry, &plan, &held, &mut m, &stop).await {
        Ok(text) => text,
        Err(e) => {
            m.error("run", &e);
            None
        }
    };
    m.finish(Utc::now());
    // Delivered once the outcome is known; a failed delivery makes the run partial.
    if let Some(mail) = &settings.mail {
        let day = plan.reports.join(date.to_string());
        let overview =
            plan.dashboards.iter().any(|d| d.name == "overview").then(|| day.join("overview.html"));
        match deliver::mail(mail, &m, summary.as_deref(), overview.as_deref()).await {
            Ok(()) => m.delivered.push("mail".into()),
            Err(e) => {
                m.error("delivery", &e);
                m.finish(Utc::now());
            }
        }
    }
    if let Some(file) = &settings.nightly.webhook_url_file {
        let path = plan.reports.join(date.to_string()).join("summary.md");
        match deliver::webhook(file, &m, summary.as_deref(), &path).await {
            Ok(()) => m.delivered.push("webhook".into()),
            Err(e) => {
                m.error("delivery", &e);
                m.finish(Utc::now());
            }
        }
    }
    let row = m.runs_row();
    match row {
        Ok(batch) => {
            if let Err(e) =
                crate::store::table_writer::write_batches(&held, &crate::store::schema::RUNS, vec![batch])
                    .await
            {
                m.error("runs table", &e);
            }
        }
        Err(e) => m.error("runs table", &e),
    }
    if let Err(e) = m.store(&held).await {
        m.error("manifest", &e);
    }
    if let Err(e) = m.write_local(&plan.reports.join(date.to_string())) {
        m.error("manifest", &e);
    }
    lock.release().await?;
    tracing::info!(run = %m.run_id, outcome = ?m.outcome, "Nightly run finished.");
    Ok(m)
}

/// What the config asks of a run, validated before anything is touched.
struct Plan {
    /// The report date and zone.
    date: NaiveDate,
    tz: chrono_tz::Tz,
    graph: bool,
    queries: Vec<String>,
    dashboards: Vec<Dashboard>,
    export_to: Option<String>,
    reports: PathBuf,
    source_tz: chrono_tz::Tz,
}

impl Plan {
    fn of(settings: &Settings, registry: &Registry) -> Result<Self> {
        let n = &settings.nightly;
        let graph = match n.collect_graph {
            Some(true) if settings.graph.is_none() => {
                return Err(Error::Config("[nightly] collect_graph = true needs a [graph] section".into()));
            }
            Some(on) => on,
            None => settings.graph.is_some(),
        };
        let queries = match &n.queries {
            Some(list) => {
                for q in list {
                    registry.get(q).map_err(|_| {
                        Error::Config(format!(
                            "[nightly] queries: no saved query named {q:?} (`sspr queries` lists them)"
                        ))
                    })?;
                }
                list.clone()
            }
            None => registry.queries.iter().filter(|q| !q.is_lookup()).map(|q| q.name.clone()).collect(),
        };
        let all = Dashboard::load_all(None, registry)?;
        let dashboards = match &n.dashboards {
            Some(list) => list
                .iter()
                .map(|name| {
                    all.iter().find(|d| &d.name == name).cloned().ok_or_else(|| {
                        let known: Vec<&str> = all.iter().map(|d| d.name.as_str()).collect();
                        Error::Config(format!(
                            "[nightly] dashboards: no dashboard named {name:?} (known: {})",
                            known.join(", ")
                        ))
                    })
                })
                .collect::<Result<_>>()?,
            None => all,
        };
        let export_to = match n.export {
            Some(true) if settings.export.to.is_none() => {
                return Err(Error::Config(
                    "[nightly] export = true needs `to` in the [export] section".into(),
                ));
            }
            Some(false) => None,
            _ => settings.export.to.clone(),
        };
        if let Some(mail) = &settings.mail
            && mail.starttls == Some(false)
            && mail.username.is_some()
        {
            return Err(Error::Config(
                "[mail] starttls = false with a username would send the password in the clear".into(),
            ));
        }
        let source_tz = match &n.source_tz {
            Some(z) => validate_tz(z)?,
            None => chrono_tz::UTC,
        };
        let tz = validate_tz(&settings.tz)?;
        let date = Utc::now().with_timezone(&tz).date_naive();
        Ok(Self {
            date,
            tz,
            graph,
            queries,
            dashboards,
            export_to,
            reports: reports_dir(settings),
            source_tz,
        })
    }
}

impl Plan {
    /// The run's report folder, `reports/<date>/`.
    fn day_dir(&self) -> PathBuf {
        self.reports.join(self.date.to_string())
    }

    /// The reports' window: all data in the lake, days in the report zone.
    fn window(&self) -> Window {
        Window { from: None, to: None, tz: self.tz }
    }
}

/// `[nightly] reports_dir`, else `reports` beside a local lake, else `./reports`.
pub(crate) fn reports_dir(settings: &Settings) -> PathBuf {
    if let Some(d) = &settings.nightly.reports_dir {
        return d.clone();
    }
    match crate::store::layout::LakeRoot::local_dir(&settings.lake) {
        Some(dir) => dir.parent().map(|p| p.join("reports")).unwrap_or_else(|| PathBuf::from("reports")),
        None => PathBuf::from("reports"),
    }
}

async fn steps(
    settings: &Settings,
    registry: &Registry,
    plan: &Plan,
    lake: &Lake,
    m: &mut RunManifest,
    stop: &stop::Stop,
) -> Result<Option<String>> {
    let (date, tz) = (plan.date, plan.tz);
    // Before each step: a stop signal ends the run here, saying after what.
    let stopped = |m: &mut RunManifest, next: &str| match stop.requested() {
        Some(signal) => {
            m.errors.push(manifest::StepError {
                step: "interrupted".into(),
                message: format!("{signal}: stopped before {next}; the next run goes on from here"),
            });
            true
        }
        None => false,
    };
    if plan.graph {
        sources::collect_graph(settings, lake, m).await;
    }
    let state_dir = settings.state_dir(settings.graph.as_ref().and_then(|g| g.state_dir.as_deref()));
    for folder in &settings.nightly.watch {
        if stopped(m, &format!("importing {}", folder.path.display())) {
            return Ok(None);
        }
        sources::import_folder(settings, lake, plan, folder, &state_dir, m).await;
    }
    if stopped(m, "the build") {
        return Ok(None);
    }
    // Before the build, which then carries the removals over to the derived tables.
    housekeeping::retention(settings, lake, date, m).await;
    let changed = m.sources.iter().any(|s| s.rows_new > 0);
    match crate::query::build::build(lake, &settings.query, false).await {
        Ok(b) => {
            m.build_partitions = b.tables.iter().map(|t| t.partitions_written + t.partitions_removed).sum();
        }
        Err(e) => m.error("build", &e),
    }
    m.nothing_new = !changed && m.build_partitions == 0;
    let out = plan.day_dir();
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    if stopped(m, "the reports") {
        return Ok(None);
    }
    outputs::write_queries(settings, registry, plan, lake, m).await;
    if let Some(days) = settings.nightly.keep_reports_days {
        match housekeeping::old_reports(&plan.reports, date, days) {
            Ok(old) => {
                for dir in old {
                    match std::fs::remove_dir_all(&dir) {
                        Ok(()) => m.removed.push(dir.display().to_string()),
                        Err(e) => m.error("retention", &Error::io(&dir, e)),
                    }
                }
            }
            Err(e) => m.error("retention", &e),
        }
    }
    let mut summary_text = None;
    let figures = manifest::Figures::of_lake(lake, settings, registry, tz).await;
    match figures {
        Ok(f) => {
            let previous = manifest::previous_complete(lake, &m.run_id).await.unwrap_or_else(|e| {
                m.error("summary", &e);
                None
            });
            let text = since::summary(&f, previous.as_ref(), m);
            m.figures = Some(f);
            outputs::write_file(&out.join("summary.md"), text.as_bytes(), m);
            summary_text = Some(text);
        }
        Err(e) => m.error("summary", &e),
    }
    // The summary is the overview's first panel.
    outputs::write_dashboards(settings, registry, plan, lake, summary_text.as_deref(), m).await;
    if let Some(to) = &plan.export_to {
        if stopped(m, "the export") {
            return Ok(summary_text);
        }
        outputs::export(settings, lake, to, m).await;
    }
    Ok(summary_text)
}

/// When the run happened, for file names.
fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}
