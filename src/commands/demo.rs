//! `sspr demo`: the first-run experience. Builds a lake from the bundled sample tenant in a
//! directory it names, runs every saved query, and prints the headline reports.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::cli::DemoArgs;
use crate::collectors::import::{ImportOptions, import};
use crate::output::{OutputFormat, in_zone, render_to};
use crate::query::context::build_context;
use crate::query::saved::{self, Registry};
use crate::settings::{Settings, validate_tz};
use crate::store::{Lake, verify};

/// The reports printed, in order (the others run and are counted).
const HEADLINE: &[&str] = &[
    "registration_coverage",
    "reset_success_daily",
    "reset_failures_by_reason",
    "error_codes",
    "writeback_health",
    "dc_password_resets",
];

/// The sample the demo imports: `--sample DIR` when given, else the bundled tenant generated
/// afresh into `<dir>/sample-data` (deterministic: the same files as the repository's
/// `sample-data/`, which a test holds it to), so an installed binary needs no checkout.
fn sample_for(arg: Option<&PathBuf>, dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    if let Some(p) = arg {
        if !p.is_dir() {
            return Err(crate::Error::usage(format!("--sample {}: no such folder", p.display())).into());
        }
        return Ok(p.clone());
    }
    let out = dir.join("sample-data");
    if out.join("ground_truth.json").is_file() {
        return Ok(out);
    }
    crate::sample::generate(&crate::sample::Params::default(), &out)
        .with_context(|| format!("generating the sample tenant into {}", out.display()))?;
    Ok(out)
}

/// The export folders of a sample: its folders that hold a file the importer reads, so
/// `ground_truth.json`, the READMEs and `config/` (the example configuration) stay out and the
/// demo's lake has no "no importable file" item.
fn export_folders(sample: &std::path::Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(sample)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    dirs.retain(|d| !crate::collectors::files::discover(std::slice::from_ref(d)).0.is_empty());
    dirs.sort();
    dirs
}

pub async fn run(settings: &Settings, args: &DemoArgs, quiet: bool) -> anyhow::Result<()> {
    let tz = validate_tz(&args.tz)?;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => tempfile::Builder::new().prefix("sspr-demo-").tempdir()?.keep(),
    };
    let sample = sample_for(args.sample.as_ref(), &dir)?;
    let lake_dir = dir.join("lake");
    let lake = Lake::open(&lake_dir.to_string_lossy())?;
    eprintln!("Building a lake from {} in {}", sample.display(), lake_dir.display());

    let inputs = export_folders(&sample);
    let files = crate::collectors::files::discover(&inputs).0;
    let bar = crate::progress::bar(quiet, files.len() as u64, "import");
    let summary = import(&lake, &inputs, &ImportOptions::default(), &|f| {
        bar.inc(1);
        bar.set_message(f.path.rsplit('/').next().unwrap_or_default().to_string());
    })
    .await
    .context("importing the sample data")?;
    bar.finish_and_clear();
    eprint!("{}", super::import::render_summary(&summary));
    let built = crate::query::build::build(&lake, &settings.query, false)
        .await
        .context("building the derived tables of the demo lake")?;
    eprint!("{}", super::build::render(&built));

    let registry = Registry::load(settings.queries_dir.as_deref())?;
    let ctx = build_context(&lake, &settings.query).await?;
    let reports: Vec<_> = registry.queries.iter().filter(|q| !q.is_lookup()).collect();
    let bar = crate::progress::bar(quiet, reports.len() as u64, "reports");
    let mut outputs = BTreeMap::new();
    let mut failed = Vec::new();
    for q in reports {
        bar.set_message(q.name.clone());
        let given = q.context_params(&args.tz, &settings.query);
        match saved::run(&ctx, q, &given, &tz).await {
            Ok(batches) => {
                outputs.insert(q.name.clone(), (q.title.clone(), batches));
            }
            Err(e) => failed.push(format!("{}: {e}", q.name)),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();

    let width = crate::terminal::stdout_width();
    let mut out = String::new();
    for name in HEADLINE {
        if let Some((title, batches)) = outputs.get(*name) {
            let schema = batches
                .first()
                .map(|b| b.schema())
                .unwrap_or_else(|| std::sync::Arc::new(datafusion::arrow::datatypes::Schema::empty()));
            out.push_str(&format!("\n== {title} ({name}) ==\n"));
            let (batches, schema) = in_zone(batches, schema, tz.name())?;
            out.push_str(&String::from_utf8_lossy(&render_to(
                &batches,
                schema.clone(),
                OutputFormat::Table,
                width,
            )?));
            // On a terminal, the query's chart under its table.
            if let Some(w) = width.filter(|_| !args.no_charts && !crate::terminal::no_color())
                && let Some(q) = registry.queries.iter().find(|q| q.name == *name)
                && let Ok(Some(spec)) =
                    crate::charts::ChartSpec::parse(&q.name, q.chart.as_deref().unwrap_or("table"))
                && let Ok(data) = crate::charts::data(&batches, &schema, &spec, &q.name)
            {
                out.push('\n');
                out.push_str(&crate::charts::term::text(&data, &spec, w));
            }
        }
    }
    // The overview as a page to open in a browser.
    let dashboards = crate::report::Dashboard::load_all(None, &registry)?;
    let overview =
        dashboards.iter().find(|d| d.name == "overview").context("the overview dashboard ships")?;
    let window = crate::report::Window { from: None, to: None, tz };
    let header = crate::report::Header::of_lake(&lake, &settings.query, chrono::Utc::now()).await?;
    let page =
        crate::report::run(&lake, &settings.query, &registry, overview, &window, &header).await?.html()?;
    let page_path = dir.join("reports").join("overview.html");
    std::fs::create_dir_all(dir.join("reports")).context("creating the reports folder")?;
    std::fs::write(&page_path, page).with_context(|| format!("writing {}", page_path.display()))?;
    let report = verify::verify(&lake).await?;
    out.push_str(&format!(
        "\n{} saved queries ran; lake verify: {} files, {} problems.\nLake: {}\nOverview report: {}\nTry: sspr query reset_success_daily --lake {} --format csv\n",
        outputs.len(),
        report.files_checked,
        report.problems.len(),
        lake_dir.display(),
        page_path.display(),
        lake_dir.display()
    ));
    super::stdout(out.as_bytes())?;
    if !failed.is_empty() {
        bail!("{} saved queries failed:\n{}", failed.len(), failed.join("\n"));
    }
    Ok(())
}
