//! `sspr collect graph`

use anyhow::Context;

use crate::cli::CollectSource;
use crate::collectors::graph::collect::{CollectSummary, collect};
use crate::settings::Settings;
use crate::store::Lake;

/// Returns false when a slice is incomplete (exit code 3; the next run resumes it).
pub async fn run(settings: &Settings, source: &CollectSource, quiet: bool) -> anyhow::Result<bool> {
    let CollectSource::Graph { from, to, json } = source;
    let section = settings.graph.as_ref().with_context(|| {
        format!(
            "no [graph] section in {}: see README \"Collecting from Microsoft Graph\"",
            settings
                .config_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "the config (--config)".into())
        )
    })?;
    let mut g = section.resolve()?;
    let parse = |s: &Option<String>, what: &str| -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
        s.as_deref()
            .map(|t| {
                crate::util::parse_instant(t)
                    .or_else(|| {
                        chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
                            .ok()
                            .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
                    })
                    .with_context(|| format!("--{what} {t:?} is not a date or RFC 3339 time"))
            })
            .transpose()
    };
    g.plan.from = parse(from, "from")?;
    g.plan.to = parse(to, "to")?;
    let client = g.client()?;
    let lake = Lake::open(&settings.lake)?;
    let state_dir = settings.state_dir(g.state_dir.as_deref());
    let bar = crate::progress::bar(quiet, 0, "graph");
    let counters = client.counters.clone();
    let summary = collect(&lake, &client, &g.plan, &state_dir, &|slice, items| {
        bar.inc(items);
        bar.set_message(format!(
            "{slice} · {} requests · {} throttled",
            counters.requests.load(std::sync::atomic::Ordering::Relaxed),
            counters.throttled.load(std::sync::atomic::Ordering::Relaxed)
        ));
    })
    .await?;
    bar.finish_and_clear();
    let out = if *json { format!("{}\n", serde_json::to_string_pretty(&summary)?) } else { render(&summary) };
    super::stdout(out.as_bytes())?;
    for (slice, e) in &summary.incomplete {
        eprintln!("incomplete: slice {slice}: {e}");
    }
    Ok(summary.incomplete.is_empty())
}

fn render(s: &CollectSummary) -> String {
    format!(
        "run {}{}: window {} → {}, {} slices, {} pages, {} records, {} new rows, {} retries ({} throttled){}\n",
        s.run_id,
        if s.resumed { " (resumed)" } else { "" },
        s.window_start.map(|t| t.to_rfc3339()).unwrap_or_default(),
        s.window_end.map(|t| t.to_rfc3339()).unwrap_or_default(),
        s.slices,
        s.pages,
        s.items,
        s.rows_new,
        s.retries,
        s.throttled,
        if s.incomplete.is_empty() {
            String::new()
        } else {
            format!(", {} slices incomplete (rerun to resume)", s.incomplete.len())
        }
    )
}
