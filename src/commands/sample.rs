//! `sspr sample generate`

use crate::cli::SampleCommand;
use crate::error::Error;
use crate::sample::{OUTPUTS, Params, generate};

pub fn run(cmd: &SampleCommand) -> anyhow::Result<()> {
    let SampleCommand::Generate { users, days, seed, end_date, session_rate, out, force } = cmd;
    make_room(out, *force)?;
    let p =
        Params { users: *users, days: *days, seed: *seed, end_date: *end_date, session_rate: *session_rate };
    let truth = generate(&p, out)?;
    super::stdout(
        format!(
            "wrote {}: {} users, {} audit events, {} SSPR sessions ({} succeeded)\n",
            out.display(),
            truth.users,
            truth.audit_events,
            truth.sspr_sessions,
            truth.sspr_sessions_succeeded
        )
        .as_bytes(),
    )
}

/// A sample must be written into an empty folder: files of an earlier sample left beside the
/// new one would be imported with it and no longer match `ground_truth.json`. `--force` removes
/// what a sample consists of (and nothing else) first.
fn make_room(out: &std::path::Path, force: bool) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(out) else {
        return Ok(());
    };
    let present: Vec<String> =
        entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    if present.is_empty() {
        return Ok(());
    }
    if !force {
        return Err(Error::usage(format!(
            "{} is not empty ({} entries): write the sample into a new folder, or give --force to replace \
             the sample there ({})",
            out.display(),
            present.len(),
            OUTPUTS.join(", ")
        ))
        .into());
    }
    for name in OUTPUTS {
        let p = out.join(name);
        let removed = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        match removed {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&p, e).into()),
            _ => {}
        }
    }
    Ok(())
}
