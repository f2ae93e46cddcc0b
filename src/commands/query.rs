//! `sspr query NAME|--sql` and `sspr queries`.

use std::collections::BTreeMap;

use anyhow::Context;

use crate::cli::{QueriesArgs, QueryArgs};
use crate::error::Error;
use crate::output::{self, OutputFormat};
use crate::query::completeness::Completeness;
use crate::query::consistent;
use crate::query::saved::{self, Registry};
use crate::settings::{Settings, validate_tz};
use crate::store::Lake;

pub async fn run(settings: &Settings, args: &QueryArgs, quiet: bool) -> anyhow::Result<()> {
    let format = OutputFormat::resolve(args.format, args.out.as_deref())?;
    let tz_name = args.window.tz.clone().unwrap_or_else(|| settings.tz.clone());
    let tz = validate_tz(&tz_name)?;
    // Refuse a bad name or parameter before touching the lake, so the message is about them.
    let registry =
        if args.sql.is_some() { None } else { Some(registry(settings, args.queries_dir.as_deref())?) };
    let lake = Lake::open_existing(&settings.lake).await?;
    let (batches, schema, ctx, sql_text, chart_text) = if let Some(sql) = &args.sql {
        if !args.params.is_empty() || args.window.from.is_some() || args.window.to.is_some() {
            return Err(Error::usage(
                "--param, --from and --to apply to saved queries; ad-hoc SQL takes literals",
            )
            .into());
        }
        let (b, s, c) = consistent::collect(&lake, &settings.query, "--sql", async |ctx| {
            explained(saved::plan(ctx, "--sql", sql, Default::default()).await?, args)
        })
        .await?;
        (b, s, c, sql.clone(), None)
    } else {
        let registry = registry.unwrap_or_default();
        let name = args.name.as_deref().unwrap_or_default();
        let q = registry.get(name)?;
        let mut given = parse_params(&args.params)?;
        for (k, v) in [("from", &args.window.from), ("to", &args.window.to)] {
            if let Some(v) = v {
                if !q.params.iter().any(|p| p.name == k) {
                    return Err(Error::usage(format!(
                        "--{k}: query {} has no time window (it takes: {})",
                        q.name,
                        q.param_names()
                    ))
                    .into());
                }
                given.insert(k.to_string(), v.clone());
            }
        }
        // The zone is the report's, whatever the query: it buckets days where the query takes
        // `tz`, places dates given to --from/--to, and every time shown is printed in it.
        for (k, v) in q.context_params(&tz_name, &settings.query) {
            if k == "tz" {
                given.insert(k, v);
            } else {
                given.entry(k).or_insert(v);
            }
        }
        let params = q.bind(&given, &tz)?;
        let (b, s, c) = consistent::collect(&lake, &settings.query, &q.name, async |ctx| {
            explained(q.plan(ctx, params.clone()).await?, args)
        })
        .await?;
        (b, s, c, q.sql.clone(), Some(q.chart.clone().unwrap_or_else(|| "table".into())))
    };
    let result_schema = schema.clone();
    let bytes = if args.plan_only() && format == OutputFormat::Table {
        explain_text(&batches)
    } else if format == OutputFormat::Parquet {
        output::render(&batches, schema, format)?
    } else if format == OutputFormat::Xlsx {
        // The sheet is named after the query, its times on the wall clock of --tz.
        let (batches, schema) = output::in_zone(&batches, schema, tz.name())?;
        let name = args.name.as_deref().unwrap_or("sql");
        output::xlsx::workbook(&[output::xlsx::Sheet { name, batches: &batches, schema }])?
    } else {
        let (batches, schema) = output::in_zone(&batches, schema, tz.name())?;
        let width = if args.out.is_none() { crate::terminal::stdout_width() } else { None };
        output::render_to(&batches, schema, format, width)?
    };
    match &args.out {
        Some(p) => std::fs::write(p, bytes).map_err(|e| Error::io(p, e))?,
        None => super::stdout(&bytes)?,
    }
    if args.chart {
        // The saved query's `-- chart:` line; ad-hoc SQL has none.
        let Some(text) = &chart_text else {
            return Err(Error::usage("--chart draws a saved query's chart; ad-hoc --sql has none").into());
        };
        let origin = args.name.clone().unwrap_or_default();
        let chart = crate::charts::ChartSpec::parse(&origin, text)?;
        if let (Some(width), Some(spec)) = (chart_width(args, format), chart) {
            let (batches, schema) = output::in_zone(&batches, result_schema, tz.name())?;
            let data = crate::charts::data(&batches, &schema, &spec, &origin)?;
            super::stdout(format!("\n{}", crate::charts::term::text(&data, &spec, width)).as_bytes())?;
        }
    }
    if !args.plan_only() && !quiet {
        // Under every report (on stderr, so piped data stays clean): is the data complete and
        // built? `--quiet` promises only errors on stderr, so it leaves the lines out.
        match Completeness::of_lake(&ctx, &lake, chrono::Utc::now()).await {
            Ok(c) => {
                if let Some(w) = c.unbuilt_warning(&sql_text) {
                    eprintln!("{w}");
                }
                eprintln!("{}", c.line());
            }
            Err(e) => tracing::warn!(error = %e, "Completeness line unavailable."),
        }
    }
    Ok(())
}

/// The width to draw a terminal chart at: only for a table on a terminal, without NO_COLOR.
fn chart_width(args: &QueryArgs, format: OutputFormat) -> Option<usize> {
    if args.out.is_some() || format != OutputFormat::Table || crate::terminal::no_color() {
        return None;
    }
    crate::terminal::stdout_width()
}

/// The saved queries: the embedded ones, overridden by `--queries-dir` or the config's
/// `queries_dir`; a folder that cannot be read is named with the setting it came from.
pub(crate) fn registry(settings: &Settings, flag: Option<&std::path::Path>) -> anyhow::Result<Registry> {
    let (dir, origin) = match (flag, settings.queries_dir.as_deref()) {
        (Some(d), _) => (Some(d), "--queries-dir".to_string()),
        (None, Some(d)) => (
            Some(d),
            match &settings.config_path {
                Some(c) => format!("queries_dir (in {})", c.display()),
                None => "queries_dir".to_string(),
            },
        ),
        (None, None) => (None, String::new()),
    };
    if let Some(d) = dir
        && !d.is_dir()
    {
        let what = if d.exists() { "is not a folder" } else { "does not exist" };
        return Err(Error::usage(format!(
            "{origin} {}: {what}; it names a folder of .sql files that override or add saved queries",
            d.display()
        ))
        .into());
    }
    Registry::load(dir).with_context(|| format!("reading the saved queries of {origin}"))
}

/// The plan instead of the rows when `--explain` or `--analyze` asks for it.
fn explained(
    df: datafusion::dataframe::DataFrame,
    args: &QueryArgs,
) -> crate::Result<datafusion::dataframe::DataFrame> {
    Ok(if args.plan_only() { df.explain(false, args.analyze)? } else { df })
}

/// EXPLAIN output as plain text: each plan type, then its plan as DataFusion indents it.
fn explain_text(batches: &[datafusion::arrow::array::RecordBatch]) -> Vec<u8> {
    use datafusion::arrow::array::{Array, StringArray};
    let mut s = String::new();
    for b in batches {
        let (Some(kind), Some(plan)) = (
            b.column(0).as_any().downcast_ref::<StringArray>(),
            b.column(1).as_any().downcast_ref::<StringArray>(),
        ) else {
            continue;
        };
        for i in 0..b.num_rows() {
            s.push_str(&format!(
                "== {} ==\n{}\n\n",
                kind.value(i),
                if plan.is_null(i) { "" } else { plan.value(i) }
            ));
        }
    }
    s.into_bytes()
}

/// `--param k=v` pairs.
fn parse_params(items: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for p in items {
        let (k, v) =
            p.split_once('=').ok_or_else(|| Error::usage(format!("--param {p:?} must be NAME=VALUE")))?;
        out.insert(k.trim().to_string(), v.to_string());
    }
    Ok(out)
}

pub fn list(settings: &Settings, args: &QueriesArgs) -> anyhow::Result<()> {
    if output::needs_file(args.format) {
        return Err(Error::usage(format!(
            "sspr queries prints a list: --format {} is not one of table, csv, json, ndjson, markdown",
            args.format.name()
        ))
        .into());
    }
    let registry = registry(settings, args.queries_dir.as_deref())?;
    #[derive(serde::Serialize)]
    struct Row<'a> {
        name: &'a str,
        title: &'a str,
        params: String,
        description: &'a str,
    }
    let rows: Vec<Row> = registry
        .queries
        .iter()
        .map(|q| Row {
            name: &q.name,
            title: &q.title,
            params: q
                .params
                .iter()
                .map(|p| {
                    // A parameter with fixed values shows them: `capable=any (any|sspr|not_sspr)`.
                    let choices = if p.choices.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", p.choices.join("|"))
                    };
                    match &p.default {
                        Some(d) => format!("{}={d}{choices}", p.name),
                        None => format!("{}{choices}", p.name),
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
            description: &q.description,
        })
        .collect();
    let (batches, schema) = output::rows_to_batch(&rows)?;
    super::stdout(&output::render_to(&batches, schema, args.format, crate::terminal::stdout_width())?)
}
