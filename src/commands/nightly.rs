//! `sspr nightly` and `sspr config check`

use crate::cli::NightlyArgs;
use crate::nightly::{self, NightlyOptions, Outcome};
use crate::settings::Settings;

/// Runs the job; returns its exit code (0 complete, 3 partial, 1 failed). The lock held and a
/// config error come back as errors (4 and 2).
pub async fn run(settings: &Settings, args: &NightlyArgs) -> anyhow::Result<u8> {
    let registry = super::query::registry(settings, None)?;
    let m = nightly::run(settings, &registry, &NightlyOptions { date: args.date }).await?;
    let text = if args.json {
        format!("{}\n", serde_json::to_string_pretty(&m)?)
    } else {
        let mut s = format!(
            "nightly {}: {} — {} source(s), {} new row(s), {} output(s){}\n",
            m.run_id,
            match m.outcome {
                Outcome::Complete => "complete",
                Outcome::Partial => "PARTIAL",
                Outcome::Failed => "FAILED",
            },
            m.sources.len(),
            m.sources.iter().map(|s| s.rows_new).sum::<usize>(),
            m.outputs.len(),
            if m.nothing_new { "; nothing new" } else { "" }
        );
        for src in &m.sources {
            s.push_str(&format!(
                "  {} {}: {} file(s) imported of {} seen, {} record(s), {} new{}{}\n",
                src.kind,
                src.name,
                src.files_imported.len(),
                src.files_seen,
                src.records,
                src.rows_new,
                if src.incomplete.is_empty() {
                    String::new()
                } else {
                    format!(", {} INCOMPLETE", src.incomplete.len())
                },
                src.error.as_ref().map(|e| format!(", FAILED: {e}")).unwrap_or_default()
            ));
        }
        if let Some(e) = &m.export {
            s.push_str(&if e.kept {
                format!("  export to {}: nothing new, {} stays current\n", e.target, e.export_id)
            } else {
                format!(
                    "  export {} to {}: {} written, {} carried\n",
                    e.export_id, e.target, e.written, e.carried
                )
            });
        }
        for e in &m.errors {
            s.push_str(&format!("  error in {}: {}\n", e.step, e.message));
        }
        let dir = nightly::reports_dir(settings).join(m.report_date.to_string());
        s.push_str(&format!("reports: {}\nsummary: {}\n", dir.display(), dir.join("summary.md").display()));
        s
    };
    super::stdout(text.as_bytes())?;
    Ok(m.outcome.exit_code())
}

/// `sspr config check`: the resolved config (it was validated when the settings were resolved).
pub fn check(settings: &Settings) -> anyhow::Result<()> {
    let from = match &settings.config_path {
        Some(p) => format!("# config: {}\n", p.display()),
        None => {
            "# config: none (give --config or SSPR_CONFIG); defaults and SSPR_* variables only\n".to_string()
        }
    };
    if let Some(g) = &settings.graph {
        // Resolving reads the secret files: a missing one is named here, not at 2 a.m.
        g.resolve()?;
    }
    for w in &settings.nightly.watch {
        if !w.path.is_dir() {
            return Err(crate::Error::Config(format!(
                "[[nightly.watch]] path {} does not exist or is not a folder",
                w.path.display()
            ))
            .into());
        }
    }
    let text = format!(
        "{from}# every key: value  # where it came from (file:line or env VAR)\n{}ok\n",
        settings.layered.describe()
    );
    super::stdout(text.as_bytes())?;
    Ok(())
}
