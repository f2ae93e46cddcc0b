//! `sspr build`

use anyhow::Context;

use crate::cli::BuildArgs;
use crate::query::build::{BuildSummary, build};
use crate::settings::Settings;
use crate::store::Lake;

pub async fn run(settings: &Settings, args: &BuildArgs) -> anyhow::Result<BuildSummary> {
    let lake = Lake::open_existing(&settings.lake).await?;
    let summary = build(&lake, &settings.query, args.full)
        .await
        .with_context(|| format!("building the derived tables of {}", settings.lake))?;
    let text =
        if args.json { format!("{}\n", serde_json::to_string_pretty(&summary)?) } else { render(&summary) };
    super::stdout(text.as_bytes())?;
    Ok(summary)
}

/// The incremental build `import` and `collect` run when they published new data, so a report
/// never reads derived tables older than the data it was given (`--no-build` skips it). Its
/// summary goes to stderr: stdout holds the import's own summary (or JSON).
pub(crate) async fn after_ingest(
    lake: &Lake,
    settings: &Settings,
    quiet_summary: bool,
) -> anyhow::Result<BuildSummary> {
    let summary = build(lake, &settings.query, false).await.with_context(|| {
        format!("building the derived tables of {} (import them with --no-build to skip)", settings.lake)
    })?;
    if !quiet_summary {
        eprint!("{}", render(&summary));
    }
    Ok(summary)
}

/// The human summary of a build.
pub(crate) fn render(s: &BuildSummary) -> String {
    let mut out =
        format!("build ({}) in {:.1} s\n", if s.full { "full" } else { "changed partitions" }, s.seconds);
    for t in &s.tables {
        let span = match (t.dates.first(), t.dates.last()) {
            (Some(a), Some(b)) if a == b => format!(" ({a})"),
            (Some(a), Some(b)) => format!(" ({a} … {b})"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "  {:<28} {:>3} days recomputed{span}: {} partitions written, {} removed, {} rows\n",
            t.table,
            t.dates.len(),
            t.partitions_written,
            t.partitions_removed,
            t.rows
        ));
    }
    out
}
