//! Delivery of the run's summary. A webhook gets one JSON POST that Teams and Slack incoming
//! webhooks both show (`text`, Markdown), with the run's facts beside it (`sspr`) for any other
//! receiver. A failed delivery is the run's error (exit 3, in the manifest); the reports on disk
//! are already written and stay.

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};

use super::manifest::RunManifest;

/// The longest summary text sent; a longer one is cut, pointing at the file.
const MAX_TEXT: usize = 20_000;

/// POSTs the summary to the URL held in `url_file`.
pub async fn webhook(
    url_file: &Path,
    m: &RunManifest,
    summary: Option<&str>,
    summary_path: &Path,
) -> Result<()> {
    let url = std::fs::read_to_string(url_file).map_err(|e| Error::io(url_file, e))?.trim().to_string();
    // The URL carries the webhook's token: errors name the file, never the URL.
    let target = format!("the webhook in {}", url_file.display());
    let fail = |message: String| Error::Delivery { target: target.clone(), message };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(fail("the file does not hold an http(s) URL".into()));
    }
    let mut text = summary.unwrap_or("(no summary: see the run manifest)").to_string();
    if text.len() > MAX_TEXT {
        let cut = (0..=MAX_TEXT).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        text.truncate(cut);
        text.push_str(&format!("\n\n… cut; the whole summary is {}", summary_path.display()));
    }
    let rows: usize = m.sources.iter().map(|s| s.rows_new).sum();
    let body = serde_json::json!({
        "text": text,
        "sspr": {
            "run_id": m.run_id,
            "report_date": m.report_date,
            "outcome": m.outcome,
            "nothing_new": m.nothing_new,
            "new_rows": rows,
            "errors": m.errors.iter().map(|e| format!("{}: {}", e.step, e.message)).collect::<Vec<_>>(),
            "summary": summary_path.display().to_string(),
        }
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| fail(format!("cannot build an HTTP client: {e}")))?;
    let reply =
        client.post(&url).json(&body).send().await.map_err(|e| fail(format!("{}", e.without_url())))?;
    let status = reply.status();
    if !status.is_success() {
        let detail: String = reply.text().await.unwrap_or_default().chars().take(200).collect();
        return Err(fail(format!("HTTP {status}: {detail}")));
    }
    Ok(())
}
