//! `sspr report [NAME…] --out DIR`

use crate::cli::{ReportArgs, ReportFormat};
use crate::error::Error;
use crate::report::{self, Dashboard, Window};
use crate::settings::{Settings, validate_tz};
use crate::store::Lake;

/// Writes one page per dashboard (one PNG per chart with `--format png`) and prints each path;
/// returns them.
pub async fn run(settings: &Settings, args: &ReportArgs) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let tz = validate_tz(args.window.tz.as_deref().unwrap_or(&settings.tz))?;
    let registry = super::query::registry(settings, args.queries_dir.as_deref())?;
    let all = Dashboard::load_all(args.dashboards_dir.as_deref(), &registry)?;
    let chosen: Vec<&Dashboard> = if args.names.is_empty() {
        all.iter().collect()
    } else {
        args.names
            .iter()
            .map(|n| {
                all.iter().find(|d| &d.name == n).ok_or_else(|| {
                    Error::usage(format!(
                        "no dashboard named {n:?} (known: {})",
                        all.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    };
    let lake = Lake::open_existing(&settings.lake).await?;
    let window = Window { from: args.window.from.clone(), to: args.window.to.clone(), tz };
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let mut written = Vec::new();
    let write =
        |path: &std::path::Path, bytes: &[u8]| std::fs::write(path, bytes).map_err(|e| Error::io(path, e));
    let (_, pages) =
        report::render_all(&lake, &settings.query, &registry, &chosen, &window, chrono::Utc::now()).await?;
    for (d, rendered) in chosen.iter().zip(pages) {
        let path = match args.format {
            ReportFormat::Png => {
                for (file, png) in rendered.pngs()? {
                    let path = args.out.join(file);
                    write(&path, &png)?;
                    super::stdout(format!("{}\n", path.display()).as_bytes())?;
                    written.push(path);
                }
                continue;
            }
            ReportFormat::Xlsx => {
                let path = args.out.join(format!("{}.xlsx", d.name));
                write(&path, &rendered.xlsx()?)?;
                path
            }
            ReportFormat::Html => {
                let path = args.out.join(format!("{}.html", d.name));
                write(&path, rendered.html_with(args.max_rows)?.as_bytes())?;
                path
            }
            ReportFormat::Md => {
                let (page, charts) = rendered.markdown_with(args.max_rows)?;
                for (file, svg) in charts {
                    write(&args.out.join(file), svg.as_bytes())?;
                }
                let path = args.out.join(format!("{}.md", d.name));
                write(&path, page.as_bytes())?;
                path
            }
        };
        super::stdout(format!("{}\n", path.display()).as_bytes())?;
        written.push(path);
    }
    Ok(written)
}
