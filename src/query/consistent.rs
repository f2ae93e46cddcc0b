//! Reading while a writer publishes. A partition file is replaced by a rename, so a query that
//! listed the lake before the rename and reads a range of the file after it reads the new file
//! with the old file's size: a corrupt footer or a Snappy error. Such a read is retried with a
//! fresh listing (a new session), a few times, before it is an error; a query never returns a
//! mix of torn data, since a torn read fails rather than decoding.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};
use crate::query::context::{QueryConfig, build_context};
use crate::store::Lake;

/// Attempts after the first, and the pause before each (doubling).
pub(crate) const RETRIES: u32 = 4;
const FIRST_PAUSE_MS: u64 = 50;

/// What a read that raced a replace looks like: the new file read with the old file's layout,
/// which surfaces as any Parquet or Arrow decoding error (a corrupt footer, a Snappy error, a
/// short read: "failed to fill whole buffer"), or as a file that vanished between listing and
/// reading. A file that is really corrupt fails the same way after the retries, and is then named.
fn raced_a_replace(e: &DataFusionError) -> bool {
    let text = e.to_string();
    [
        "Parquet",
        "parquet",
        "Snappy",
        "snappy",
        "fill whole buffer",
        "EOF",
        "out of range",
        "not found",
        "No such file",
    ]
    .iter()
    .any(|m| text.contains(m))
}

/// Plans (with `plan`, in a fresh session each time) and collects a query over `lake`, retrying
/// a read that raced a partition replace. Returns the rows, their schema, and the session that
/// produced them. A failure to run names `origin`; when it came from a file that cannot be read,
/// the lake's footers are checked and the unreadable file named (the engine's error does not).
pub(crate) async fn collect(
    lake: &Lake,
    cfg: &QueryConfig,
    origin: &str,
    plan: impl AsyncFn(&SessionContext) -> Result<DataFrame>,
) -> Result<(Vec<RecordBatch>, SchemaRef, SessionContext)> {
    let mut attempt = 0;
    loop {
        let ctx = build_context(lake, cfg).await?;
        let df = plan(&ctx).await?;
        let schema = df.schema().inner().clone();
        match df.collect().await {
            Ok(batches) => return Ok((batches, schema, ctx)),
            Err(e) if attempt < RETRIES && raced_a_replace(&e) => {
                tracing::debug!(attempt, error = %e, "A read raced a partition replace; reading again.");
                tokio::time::sleep(std::time::Duration::from_millis(FIRST_PAUSE_MS << attempt)).await;
                attempt += 1;
            }
            Err(e) => {
                return Err(Error::Query {
                    query: origin.to_string(),
                    message: with_bad_files(lake, e).await,
                });
            }
        }
    }
}

/// The engine's message, and the lake files whose footers cannot be read when it is about Parquet.
async fn with_bad_files(lake: &Lake, e: DataFusionError) -> String {
    let text = e.to_string();
    if !text.contains("Parquet") && !text.contains("parquet") {
        return text;
    }
    match crate::store::verify::unreadable_footers(lake).await {
        Ok(bad) if !bad.is_empty() => format!(
            "{text}; unreadable lake file{}: {} (replace or remove it and re-import its source; \
             `sspr lake verify` checks every file)",
            if bad.len() == 1 { "" } else { "s" },
            bad.join("; ")
        ),
        _ => format!("{text}; a lake file could not be read: `sspr lake verify` names it"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The forms a raced read took in the loop test (tests/it/hardening.rs), and one that is not.
    #[test]
    fn raced_reads_are_recognised() {
        for text in [
            "Parquet error: Corrupt footer",
            "Arrow error: Parquet argument error: External: failed to fill whole buffer",
            "External error: snappy: corrupt input (expected valid offset but got offset 0)",
            "Object Store error: Object at location /lake/x not found: No such file or directory",
        ] {
            assert!(raced_a_replace(&DataFusionError::Execution(text.into())), "{text}");
        }
        assert!(!raced_a_replace(&DataFusionError::Plan("table 'nope' not in schema".into())));
    }
}
