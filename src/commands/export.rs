//! `sspr export --to DIR|URL`

use crate::cli::ExportArgs;
use crate::error::Error;
use crate::export::{self, DEFAULT_KEEP, ExportOptions, Since, pseudonym::Pseudonymizer};
use crate::settings::{Settings, validate_tz};
use crate::store::Lake;
use crate::store::layout::LakeRoot;

/// Exports the lake and prints what was written (or the manifest with `--json`).
pub async fn run(settings: &Settings, args: &ExportArgs) -> anyhow::Result<export::ExportSummary> {
    let to = args.to.clone().or_else(|| settings.export.to.clone()).ok_or_else(|| {
        Error::usage("where to? give --to DIR|URL (or `to` in the config's [export] section)")
    })?;
    let lake = Lake::open_existing(&settings.lake).await?;
    if LakeRoot::local_dir(&to)
        .zip(lake.root.local.as_ref())
        .is_some_and(|(t, l)| std::fs::canonicalize(&t).is_ok_and(|t| t.starts_with(l) || l.starts_with(&t)))
    {
        return Err(Error::usage(format!(
            "--to {to} is inside the lake {} (or holds it): export elsewhere",
            settings.lake
        ))
        .into());
    }
    let now = chrono::Utc::now();
    let since = match args.since.as_deref() {
        None => None,
        Some("last") => Some(Since::Last),
        Some(t) => {
            let tz = validate_tz(&settings.tz)?;
            let at = crate::query::params::parse_time(t, &tz, now)
                .map_err(|m| Error::usage(format!("--since {t}: {m}, or `last`")))?;
            Some(Since::Time(at))
        }
    };
    let pseudonymize = if args.pseudonymize {
        let (key, origin) = settings.pseudonym_key()?;
        Some(Pseudonymizer::new(&key, settings.export.pseudonymize_ids.unwrap_or(false), &origin)?)
    } else {
        None
    };
    let keep = args.keep.or(settings.export.keep).unwrap_or(DEFAULT_KEEP);
    if keep == 0 {
        return Err(Error::usage("--keep 0 would remove the export just written: keep at least 1").into());
    }
    let target = LakeRoot::parse(&to)?;
    let opts = ExportOptions { raw: args.raw, since, keep, pseudonymize };
    let summary = export::export(&lake, &target, &opts, now).await?;
    let out = if args.json {
        let mut j = serde_json::to_string_pretty(&summary.manifest).expect("a manifest serialises");
        j.push('\n');
        j
    } else {
        let m = &summary.manifest;
        let rows: u64 = m.tables.iter().map(|t| t.rows).sum();
        let mut s = format!(
            "export {} in {to}: {} tables, {rows} rows; {} files written, {} carried from the previous export{}\n",
            m.export_id,
            m.tables.len(),
            summary.written,
            summary.carried,
            if m.pseudonymized.is_some() { "; identities pseudonymised" } else { "" }
        );
        if !summary.removed.is_empty() {
            s.push_str(&format!("removed older exports: {}\n", summary.removed.join(", ")));
        }
        s.push_str(&format!("current: {to}/{} → {}/{}\n", export::CURRENT, m.export_id, export::MANIFEST));
        s
    };
    super::stdout(out.as_bytes())?;
    Ok(summary)
}
