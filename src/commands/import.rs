//! `sspr import PATH…`

use anyhow::Context;

use crate::cli::ImportArgs;
use crate::collectors::import::{ImportOptions, ImportSummary, import};
use crate::settings::Settings;
use crate::store::Lake;

/// Runs the import; returns the summary (the caller turns incomplete files into the exit code).
pub async fn run(settings: &Settings, args: &ImportArgs, quiet: bool) -> anyhow::Result<ImportSummary> {
    let (lake, created) = Lake::open_or_create(&settings.lake)?;
    if created {
        eprintln!("Creating a new lake at {}", settings.lake);
    }
    let source_tz: chrono_tz::Tz = args.source_tz.parse().map_err(|_| {
        crate::Error::usage(format!(
            "--source-tz {:?} is not an IANA time zone name (such as Europe/Brussels)",
            args.source_tz
        ))
    })?;
    let mut opts = ImportOptions {
        format: args.format,
        snapshot_date: args.snapshot_date,
        routing: settings.routing.clone(),
        source_tz,
        ..Default::default()
    };
    if let Some(t) = args.threads {
        opts.threads = t.max(1);
    }
    let bar = crate::progress::bar(quiet, 0, "importing");
    let summary = import(&lake, &args.paths, &opts, &|f| {
        bar.inc_length(1);
        bar.inc(1);
        bar.set_message(f.path.clone());
    })
    .await
    .with_context(|| format!("importing into {}", settings.lake))?;
    bar.finish_and_clear();
    if args.json {
        super::stdout(format!("{}\n", serde_json::to_string_pretty(&summary)?).as_bytes())?;
    } else {
        super::stdout(render_summary(&summary).as_bytes())?;
    }
    if !args.no_build && summary.partitions_published > 0 {
        super::build::after_ingest(&lake, settings, args.json).await?;
    }
    Ok(summary)
}

/// The human summary of an import.
pub(crate) fn render_summary(s: &ImportSummary) -> String {
    let mut out = format!(
        "run {}: {} files, {} records, {} new rows, {} duplicates skipped, {} quarantined, {} partitions written\n",
        s.run_id,
        s.files.len(),
        s.records,
        s.rows_new,
        s.duplicates,
        s.quarantined,
        s.partitions_published
    );
    if s.skipped > 0 {
        out.push_str(&format!(
            "  {} event-log records not kept: no routing rule names their provider / event id\n",
            s.skipped
        ));
    }
    for t in &s.tables {
        if t.rows_offered > 0 {
            out.push_str(&format!(
                "  {:<26} {:>8} rows offered, {:>8} new, {:>3} partitions touched\n",
                t.table, t.rows_offered, t.merge.rows_new, t.partitions_touched
            ));
        }
    }
    for f in s.files.iter() {
        for w in &f.warnings {
            out.push_str(&format!("  {}: warning: {w}\n", f.path));
        }
    }
    for f in s.files.iter().filter(|f| f.error.is_some() || f.quarantined > 0) {
        out.push_str(&format!(
            "  {}: {}{}\n",
            f.path,
            f.error.as_deref().unwrap_or("read to the end"),
            if f.quarantined > 0 {
                format!(" ({} records quarantined)", f.quarantined)
            } else {
                String::new()
            }
        ));
    }
    if let Some(q) = &s.quarantine_file {
        out.push_str(&format!("  quarantined records: {q}\n"));
    }
    out
}
