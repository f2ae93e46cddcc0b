//! What a run writes: the saved queries as CSV and Markdown, the dashboards as HTML, the Power
//! BI export, each file recorded with its size and hash.

use std::path::Path;

use chrono::Utc;

use super::{Plan, RunManifest, WrittenFile, manifest, watch};
use crate::error::{Error, Result};
use crate::query::saved::Registry;
use crate::report::Dashboard;
use crate::settings::Settings;
use crate::store::Lake;

pub(super) async fn write_queries(
    settings: &Settings,
    registry: &Registry,
    plan: &Plan,
    lake: &Lake,
    m: &mut RunManifest,
) {
    use crate::output::{OutputFormat, in_zone, render_to};
    let (out, window) = (plan.day_dir(), plan.window());
    for name in &plan.queries {
        let result: Result<()> = async {
            let q = registry.get(name)?;
            let given = q.context_params(window.tz.name(), &settings.query);
            let params = q.bind(&given, &window.tz)?;
            let (batches, schema, _) =
                crate::query::consistent::collect(lake, &settings.query, &q.name, async |ctx| {
                    q.plan(ctx, params.clone()).await
                })
                .await?;
            let (batches, schema) = in_zone(&batches, schema, window.tz.name())?;
            for (ext, format) in [("csv", OutputFormat::Csv), ("md", OutputFormat::Markdown)] {
                let bytes = render_to(&batches, schema.clone(), format, None)?;
                write_file(&out.join(format!("{name}.{ext}")), &bytes, m);
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            m.error(&format!("query {name}"), &e);
        }
    }
}

pub(super) async fn write_dashboards(
    settings: &Settings,
    registry: &Registry,
    plan: &Plan,
    lake: &Lake,
    lead: Option<&str>,
    m: &mut RunManifest,
) {
    let (out, window) = (plan.day_dir(), plan.window());
    let chosen: Vec<&Dashboard> = plan.dashboards.iter().collect();
    match crate::report::render_all(lake, &settings.query, registry, &chosen, &window, Utc::now()).await {
        Ok((_, pages)) => {
            for (d, mut page) in chosen.iter().zip(pages) {
                if d.name == "overview" {
                    page.lead = lead.map(str::to_string);
                }
                match page.html() {
                    Ok(html) => write_file(&out.join(format!("{}.html", d.name)), html.as_bytes(), m),
                    Err(e) => m.error(&format!("dashboard {}", d.name), &e),
                }
            }
        }
        Err(e) => m.error("dashboards", &e),
    }
}

pub(super) async fn export(settings: &Settings, lake: &Lake, to: &str, m: &mut RunManifest) {
    use crate::export::{ExportOptions, Since, pseudonym::Pseudonymizer};
    let result: Result<()> = async {
        let pseudonymize = match settings.pseudonym_key() {
            Ok((key, origin)) => {
                Some(Pseudonymizer::new(&key, settings.export.pseudonymize_ids.unwrap_or(false), &origin)?)
            }
            Err(_) => None,
        };
        let keep = settings.export.keep.unwrap_or(crate::export::DEFAULT_KEEP).max(1);
        let target = crate::store::layout::LakeRoot::parse(to)?;
        if m.nothing_new
            && let Some((cur, _)) = crate::export::current(&target).await?
        {
            // Nothing changed in the lake: the current export is still the lake's, and a new
            // generation would only copy it.
            m.export = Some(manifest::ExportReport {
                target: to.to_string(),
                export_id: cur.export_id,
                written: 0,
                carried: 0,
                rows: 0,
                pseudonymized: false,
                kept: true,
            });
            return Ok(());
        }
        let opts = ExportOptions { raw: false, since: Some(Since::Last), keep, pseudonymize };
        let s = crate::export::export(lake, &target, &opts, Utc::now()).await?;
        m.export = Some(manifest::ExportReport {
            target: to.to_string(),
            export_id: s.manifest.export_id.clone(),
            written: s.written,
            carried: s.carried,
            rows: s.manifest.tables.iter().map(|t| t.rows).sum(),
            pseudonymized: s.manifest.pseudonymized.is_some(),
            kept: false,
        });
        Ok(())
    }
    .await;
    if let Err(e) = result {
        m.error("export", &e);
    }
}

/// Writes one output and records it with its size and hash; a failure is the run's error.
pub(super) fn write_file(path: &Path, bytes: &[u8], m: &mut RunManifest) {
    match std::fs::write(path, bytes) {
        Ok(()) => m.outputs.push(WrittenFile {
            path: path.display().to_string(),
            bytes: bytes.len() as u64,
            sha256: watch::hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref()),
        }),
        Err(e) => m.error("output", &Error::io(path, e)),
    }
}
