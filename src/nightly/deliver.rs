//! Delivery of the run's summary. A webhook gets one JSON POST that Teams and Slack incoming
//! webhooks both show (`text`, Markdown), with the run's facts beside it (`sspr`) for any other
//! receiver. A mail goes over SMTP with STARTTLS (and AUTH only after it), the summary as its
//! text and the overview report attached. A failed delivery is the run's error (exit 3, in the
//! manifest); the reports on disk are already written and stay.

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};

use super::manifest::RunManifest;

/// The longest summary text sent; a longer one is cut, pointing at the file.
const MAX_TEXT: usize = 20_000;

/// POSTs the summary to the URL held in `url_file`.
pub(crate) async fn webhook(
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

/// Mails the summary (and the overview page, when it was written) as `[mail]` says.
pub(crate) async fn mail(
    cfg: &crate::settings::MailSection,
    m: &RunManifest,
    summary: Option<&str>,
    overview: Option<&Path>,
) -> Result<()> {
    use lettre::message::header::ContentType;
    use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    let target = format!("SMTP {}", cfg.smtp_host);
    let fail = |message: String| Error::Delivery { target: target.clone(), message };
    let starttls = cfg.starttls.unwrap_or(true);
    if !starttls && cfg.username.is_some() {
        return Err(Error::Config(
            "[mail] starttls = false with a username would send the password in the clear".into(),
        ));
    }
    let mailbox = |s: &str, key: &str| -> Result<Mailbox> {
        s.parse().map_err(|e| Error::Config(format!("[mail] {key} {s:?} is not a mail address: {e}")))
    };
    let mut b = Message::builder().from(mailbox(&cfg.from, "from")?);
    if cfg.to.is_empty() {
        return Err(Error::Config("[mail] to names no recipient".into()));
    }
    for t in &cfg.to {
        b = b.to(mailbox(t, "to")?);
    }
    let rows: usize = m.sources.iter().map(|s| s.rows_new).sum();
    let subject = format!(
        "SSPR nightly {}: {}{}",
        m.report_date,
        match m.outcome {
            super::Outcome::Complete => "complete",
            super::Outcome::Partial => "PARTIAL",
            super::Outcome::Failed => "FAILED",
        },
        if m.nothing_new { ", nothing new".to_string() } else { format!(", {rows} new rows") }
    );
    let text = summary.unwrap_or("(no summary: see the run manifest)").to_string();
    let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(text));
    if cfg.attach_overview.unwrap_or(true)
        && let Some(p) = overview.filter(|p| p.is_file())
    {
        let html = std::fs::read(p).map_err(|e| Error::io(p, e))?;
        let kind = ContentType::parse("text/html; charset=utf-8").map_err(|e| fail(e.to_string()))?;
        parts = parts.singlepart(Attachment::new("overview.html".into()).body(html, kind));
    }
    let email =
        b.subject(subject).multipart(parts).map_err(|e| fail(format!("building the message: {e}")))?;
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.smtp_host.as_str())
        .port(cfg.smtp_port.unwrap_or(587))
        .timeout(Some(Duration::from_secs(60)));
    if starttls {
        let mut tls = TlsParameters::builder(cfg.smtp_host.clone());
        if let Some(ca) = &cfg.ca_file {
            let pem = std::fs::read(ca).map_err(|e| Error::io(ca, e))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| Error::Config(format!("[mail] ca_file {}: {e}", ca.display())))?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls.build_rustls().map_err(|e| fail(format!("TLS setup: {e}")))?;
        transport = transport.tls(Tls::Required(tls));
    }
    if let Some(user) = &cfg.username {
        let file = cfg
            .password_file
            .as_ref()
            .ok_or_else(|| Error::Config("[mail] username needs password_file".into()))?;
        let password = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?.trim().to_string();
        transport = transport.credentials(Credentials::new(user.clone(), password));
    }
    transport.build().send(email).await.map_err(|e| fail(e.to_string()))?;
    Ok(())
}
