//! `sspr nightly`: the unattended job. Under the lake's writer lock for the whole run it collects
//! from Graph (when configured), imports the new files of the watched folders, brings the derived
//! tables up to date, writes the configured saved queries (CSV and Markdown) and dashboards (HTML)
//! to `reports/<date>/`, compares the run with the previous complete one ("since last night"),
//! exports for Power BI (when configured), and records everything in a run manifest
//! (`<lake>/_runs/<run id>.json`). One failing source does not stop the others; the outcome is
//! the exit code: complete, partial (some source or step incomplete), failed, lock held.

pub mod deliver;
pub mod manifest;
pub mod since;
pub mod stop;
pub mod watch;

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};

use crate::collectors::import::{ImportOptions, import};
use crate::error::{Error, Result};
use crate::query::saved::Registry;
use crate::report::{Dashboard, Window};
use crate::settings::{Settings, validate_tz};
use crate::store::Lake;
pub use manifest::{Outcome, RunManifest, SourceReport, WrittenFile};

/// Options of one run (from the command line).
#[derive(Debug, Clone, Default)]
pub struct NightlyOptions {
    /// The report date (default: today in the report zone).
    pub date: Option<NaiveDate>,
}

/// Runs the job over `settings`. Errors before the lock (config, a lake that cannot be opened,
/// the lock held) are returned; after it, every failure is recorded in the manifest and the run
/// goes on with what does not depend on the failed step.
pub async fn run(settings: &Settings, registry: &Registry, opts: &NightlyOptions) -> Result<RunManifest> {
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
pub fn reports_dir(settings: &Settings) -> PathBuf {
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
        collect_graph(settings, lake, m).await;
    }
    let state_dir = settings.state_dir(settings.graph.as_ref().and_then(|g| g.state_dir.as_deref()));
    for folder in &settings.nightly.watch {
        if stopped(m, &format!("importing {}", folder.path.display())) {
            return Ok(None);
        }
        import_folder(settings, lake, plan, folder, &state_dir, m).await;
    }
    if stopped(m, "the build") {
        return Ok(None);
    }
    // Before the build, which then carries the removals over to the derived tables.
    retention(settings, lake, date, m).await;
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
    write_queries(settings, registry, plan, lake, m).await;
    if let Some(days) = settings.nightly.keep_reports_days {
        match old_reports(&plan.reports, date, days) {
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
    let figures = since::Figures::of_lake(lake, settings, registry, tz).await;
    match figures {
        Ok(f) => {
            let previous = manifest::previous_complete(lake, &m.run_id).await.unwrap_or_else(|e| {
                m.error("summary", &e);
                None
            });
            let text = since::summary(&f, previous.as_ref(), m);
            m.figures = Some(f);
            write_file(&out.join("summary.md"), text.as_bytes(), m);
            summary_text = Some(text);
        }
        Err(e) => m.error("summary", &e),
    }
    // The summary is the overview's first panel.
    write_dashboards(settings, registry, plan, lake, summary_text.as_deref(), m).await;
    if let Some(to) = &plan.export_to {
        if stopped(m, "the export") {
            return Ok(summary_text);
        }
        export(settings, lake, to, m).await;
    }
    Ok(summary_text)
}

/// `[retention]`: removes each configured raw table's partitions older than its days.
async fn retention(settings: &Settings, lake: &Lake, date: NaiveDate, m: &mut RunManifest) {
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
fn old_reports(reports: &Path, today: NaiveDate, days: u32) -> Result<Vec<PathBuf>> {
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

async fn collect_graph(settings: &Settings, lake: &Lake, m: &mut RunManifest) {
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

async fn import_folder(
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

async fn write_queries(
    settings: &Settings,
    registry: &Registry,
    plan: &Plan,
    lake: &Lake,
    m: &mut RunManifest,
) {
    use crate::output::{OutputFormat, in_zone, render_to};
    let (out, window) = (plan.day_dir(), plan.window());
    for name in &plan.queries {
        let result: Result<()> = async {
            let q = registry.get(name)?;
            let given = q.context_params(window.tz.name(), &settings.query);
            let params = q.bind(&given, &window.tz)?;
            let (batches, schema, _) =
                crate::query::consistent::collect(lake, &settings.query, &q.name, async |ctx| {
                    q.plan(ctx, params.clone()).await
                })
                .await?;
            let (batches, schema) = in_zone(&batches, schema, window.tz.name())?;
            for (ext, format) in [("csv", OutputFormat::Csv), ("md", OutputFormat::Markdown)] {
                let bytes = render_to(&batches, schema.clone(), format, None)?;
                write_file(&out.join(format!("{name}.{ext}")), &bytes, m);
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            m.error(&format!("query {name}"), &e);
        }
    }
}

async fn write_dashboards(
    settings: &Settings,
    registry: &Registry,
    plan: &Plan,
    lake: &Lake,
    lead: Option<&str>,
    m: &mut RunManifest,
) {
    let (out, window) = (plan.day_dir(), plan.window());
    let chosen: Vec<&Dashboard> = plan.dashboards.iter().collect();
    match crate::report::render_all(lake, &settings.query, registry, &chosen, &window, Utc::now()).await {
        Ok((_, pages)) => {
            for (d, mut page) in chosen.iter().zip(pages) {
                if d.name == "overview" {
                    page.lead = lead.map(str::to_string);
                }
                match page.html() {
                    Ok(html) => write_file(&out.join(format!("{}.html", d.name)), html.as_bytes(), m),
                    Err(e) => m.error(&format!("dashboard {}", d.name), &e),
                }
            }
        }
        Err(e) => m.error("dashboards", &e),
    }
}

async fn export(settings: &Settings, lake: &Lake, to: &str, m: &mut RunManifest) {
    use crate::export::{ExportOptions, Since, pseudonym::Pseudonymizer};
    let result: Result<()> = async {
        let pseudonymize = match settings.pseudonym_key() {
            Ok((key, origin)) => {
                Some(Pseudonymizer::new(&key, settings.export.pseudonymize_ids.unwrap_or(false), &origin)?)
            }
            Err(_) => None,
        };
        let keep = settings.export.keep.unwrap_or(crate::export::DEFAULT_KEEP).max(1);
        let target = crate::store::layout::LakeRoot::parse(to)?;
        if m.nothing_new
            && let Some((cur, _)) = crate::export::current(&target).await?
        {
            // Nothing changed in the lake: the current export is still the lake's, and a new
            // generation would only copy it.
            m.export = Some(manifest::ExportReport {
                target: to.to_string(),
                export_id: cur.export_id,
                written: 0,
                carried: 0,
                rows: 0,
                pseudonymized: false,
                kept: true,
            });
            return Ok(());
        }
        let opts = ExportOptions { raw: false, since: Some(Since::Last), keep, pseudonymize };
        let s = crate::export::export(lake, &target, &opts, Utc::now()).await?;
        m.export = Some(manifest::ExportReport {
            target: to.to_string(),
            export_id: s.manifest.export_id.clone(),
            written: s.written,
            carried: s.carried,
            rows: s.manifest.tables.iter().map(|t| t.rows).sum(),
            pseudonymized: s.manifest.pseudonymized.is_some(),
            kept: false,
        });
        Ok(())
    }
    .await;
    if let Err(e) = result {
        m.error("export", &e);
    }
}

/// Writes one output and records it with its size and hash; a failure is the run's error.
fn write_file(path: &Path, bytes: &[u8], m: &mut RunManifest) {
    match std::fs::write(path, bytes) {
        Ok(()) => m.outputs.push(WrittenFile {
            path: path.display().to_string(),
            bytes: bytes.len() as u64,
            sha256: watch::hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref()),
        }),
        Err(e) => m.error("output", &Error::io(path, e)),
    }
}

/// When the run happened, for file names.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}
