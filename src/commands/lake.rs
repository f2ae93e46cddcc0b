//! `sspr lake verify|stats`

use crate::cli::LakeCommand;
use crate::output::{self, OutputFormat};
use crate::settings::Settings;
use crate::store::Lake;
use crate::store::verify;

/// Returns false when `verify` found problems.
pub async fn run(settings: &Settings, cmd: &LakeCommand) -> anyhow::Result<bool> {
    let lake = Lake::open(&settings.lake)?;
    match cmd {
        LakeCommand::Verify { format } => {
            let report = verify::verify(&lake).await?;
            if report.problems.is_empty() {
                super::stdout(
                    format!(
                        "ok: {} files, {} rows match their table schemas and the Power BI-safe profile\n",
                        report.files_checked, report.rows_checked
                    )
                    .as_bytes(),
                )?;
                return Ok(true);
            }
            let (b, s) = output::rows_to_batch(&report.problems)?;
            super::stdout(&output::render(&b, s, text_format(*format))?)?;
            eprintln!("{} problem(s) in {} files checked", report.problems.len(), report.files_checked);
            Ok(false)
        }
        LakeCommand::Stats { format } => {
            let stats = verify::stats(&lake).await?;
            let (b, s) = output::rows_to_batch(&stats)?;
            super::stdout(&output::render(&b, s, text_format(*format))?)?;
            Ok(true)
        }
    }
}

fn text_format(f: OutputFormat) -> OutputFormat {
    if f == OutputFormat::Parquet { OutputFormat::Table } else { f }
}
