//! `sspr lake verify|stats|unlock`

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::cli::LakeCommand;
use crate::error::Error;
use crate::output::{self, OutputFormat};
use crate::settings::Settings;
use crate::store::Lake;
use crate::store::layout::{LakeLock, Unlocked};
use crate::store::verify::{self, VerifyReport};

/// Returns false when `verify` found problems.
pub async fn run(settings: &Settings, cmd: &LakeCommand) -> anyhow::Result<bool> {
    let format = match cmd {
        LakeCommand::Verify { format } | LakeCommand::Stats { format } => text_format(*format)?,
        LakeCommand::Unlock { .. } => OutputFormat::Table,
    };
    let lake = Lake::open_existing(&settings.lake).await?;
    let width = crate::terminal::stdout_width();
    match cmd {
        LakeCommand::Verify { .. } => {
            let report = verify::verify(&lake).await?;
            super::stdout(&render_verify(&report, format, width)?)?;
            if !report.problems.is_empty() {
                eprintln!("{} problem(s) in {} files checked", report.problems.len(), report.files_checked);
            }
            Ok(report.problems.is_empty())
        }
        LakeCommand::Unlock { force } => {
            let text = match LakeLock::unlock(&lake.root, *force).await? {
                Unlocked::NotLocked => format!("{} is not locked: no writer holds it\n", settings.lake),
                Unlocked::Removed { holder } => {
                    format!("removed the lock of {} (it was held by {holder})\n", settings.lake)
                }
            };
            super::stdout(text.as_bytes())?;
            Ok(true)
        }
        LakeCommand::Stats { .. } => {
            let stats = verify::stats(&lake).await?;
            let (b, s) = output::rows_to_batch(&stats)?;
            super::stdout(&output::render_to(&b, s, format, width)?)?;
            Ok(true)
        }
    }
}

/// The verify report in a format: a table says "ok" or lists the problems; JSON is the whole
/// report (counts and problems, `[]` when clean) for monitoring; CSV, NDJSON and Markdown list
/// the problems (only the header when clean).
fn render_verify(
    report: &VerifyReport,
    format: OutputFormat,
    width: Option<usize>,
) -> anyhow::Result<Vec<u8>> {
    if format == OutputFormat::Json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(report)?).into_bytes());
    }
    if format == OutputFormat::Table && report.problems.is_empty() {
        return Ok(format!(
            "ok: {} files, {} rows match their table schemas and the Power BI-safe profile\n",
            report.files_checked, report.rows_checked
        )
        .into_bytes());
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("file", DataType::Utf8, false),
        Field::new("message", DataType::Utf8, false),
    ]));
    let files = StringArray::from_iter_values(report.problems.iter().map(|p| p.file.as_str()));
    let messages = StringArray::from_iter_values(report.problems.iter().map(|p| p.message.as_str()));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(files), Arc::new(messages)])?;
    Ok(output::render_to(&[batch], schema, format, width)?)
}

/// These commands print text: Parquet is refused rather than ignored.
fn text_format(f: OutputFormat) -> anyhow::Result<OutputFormat> {
    if output::needs_file(f) {
        return Err(Error::usage(format!(
            "sspr lake prints text: --format {} is not one of table, csv, json, ndjson, markdown",
            f.name()
        ))
        .into());
    }
    Ok(f)
}
