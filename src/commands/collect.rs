//! `sspr collect graph`

use anyhow::Context;

use crate::cli::CollectSource;
use crate::collectors::graph::collect::{CollectSummary, collect};
use crate::settings::Settings;
use crate::store::Lake;

/// Returns false when a slice is incomplete (exit code 3; the next run resumes it).
pub async fn run(settings: &Settings, source: &CollectSource, quiet: bool) -> anyhow::Result<bool> {
    let CollectSource::Graph { from, to, json, no_build } = source;
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
    let now = chrono::Utc::now();
    let parse = |s: &Option<String>, what: &str| -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
        s.as_deref()
            .map(|t| {
                crate::query::params::parse_time(t, &chrono_tz::UTC, now)
                    .map_err(|m| crate::Error::usage(format!("--{what}: {m}")).into())
            })
            .transpose()
    };
    g.plan.from = parse(from, "from")?;
    g.plan.to = parse(to, "to")?;
    if let (Some(f), Some(t)) = (g.plan.from, g.plan.to)
        && f >= t
    {
        return Err(crate::Error::usage(format!(
            "the window is empty: --from {} is not before --to {}",
            f.to_rfc3339(),
            t.to_rfc3339()
        ))
        .into());
    }
    let client = g.client()?;
    let (lake, created) = Lake::open_or_create(&settings.lake)?;
    if created {
        eprintln!("Creating a new lake at {}", settings.lake);
    }
    let state_dir = settings.state_dir(g.state_dir.as_deref());
    // One bar per source: events, pages, and the run's throttled responses and limiter waits.
    let multi = indicatif::MultiProgress::with_draw_target(if quiet {
        indicatif::ProgressDrawTarget::hidden()
    } else {
        indicatif::ProgressDrawTarget::stderr()
    });
    let bars: Vec<(&str, indicatif::ProgressBar)> =
        [("audits", "audits"), ("registration", "registr."), ("users", "users"), ("roles", "roles")]
            .into_iter()
            .map(|(key, label)| (key, multi.add(crate::progress::spinner(label))))
            .collect();
    let pages = std::sync::Mutex::new(std::collections::HashMap::<&str, u64>::new());
    let counters = client.counters.clone();
    let summary = collect(&lake, &client, &g.plan, &state_dir, &|slice, items| {
        let key = slice.split('.').next().unwrap_or(slice);
        if let Some((name, bar)) = bars.iter().find(|(k, _)| *k == key) {
            let n = pages.lock().map(|mut p| {
                let e = p.entry(name).or_default();
                *e += 1;
                *e
            });
            bar.inc(items);
            bar.set_message(format!(
                "{} pages · {} throttled · {:.0} s waited for the limiter",
                n.unwrap_or(0),
                counters.throttled.load(std::sync::atomic::Ordering::Relaxed),
                counters.waited_ms.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1000.0
            ));
        }
    })
    .await?;
    for (_, b) in &bars {
        b.finish_and_clear();
    }
    let out = if *json { format!("{}\n", serde_json::to_string_pretty(&summary)?) } else { render(&summary) };
    super::stdout(out.as_bytes())?;
    if !no_build && summary.rows_new > 0 {
        super::build::after_ingest(&lake, settings, *json).await?;
    }
    for (slice, e) in &summary.incomplete {
        eprintln!("incomplete: slice {slice}: {e}");
    }
    if summary.credential_refused {
        eprintln!(
            "The credential was refused: a rerun will fail the same way until it is fixed (wrong or \
             expired secret or certificate, missing admin consent). `sspr doctor` checks it; once it \
             passes, `sspr collect graph` resumes this run where it stopped."
        );
    } else if !summary.incomplete.is_empty() {
        eprintln!("Rerun `sspr collect graph` to resume: the slices above continue where they stopped.");
    }
    Ok(summary.incomplete.is_empty())
}

fn render(s: &CollectSummary) -> String {
    format!(
        "run {}{}: window {} → {}, {} slices, {} pages, {} records, {} new rows, {} retries ({} throttled){}\n",
        s.run_id,
        if s.resumed { " (resumed: an earlier run of this window had not finished)" } else { "" },
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
            format!(", {} slices incomplete", s.incomplete.len())
        }
    )
}
