//! `sspr query NAME|--sql` and `sspr queries`.

use std::collections::BTreeMap;

use anyhow::{Context, bail};

use crate::cli::{QueriesArgs, QueryArgs};
use crate::output::{self, OutputFormat};
use crate::query::context::build_context;
use crate::query::saved::{self, Registry};
use crate::settings::{Settings, validate_tz};
use crate::store::Lake;

pub async fn run(settings: &Settings, args: &QueryArgs, quiet: bool) -> anyhow::Result<()> {
    if output::needs_file(args.format) && args.out.is_none() {
        bail!("--format parquet writes a file: give --out FILE");
    }
    let tz_name = args.tz.clone().unwrap_or_else(|| settings.tz.clone());
    let tz = validate_tz(&tz_name)?;
    let lake = Lake::open(&settings.lake)?;
    let ctx = build_context(&lake, &settings.query).await?;
    let (batches, schema) = if let Some(sql) = &args.sql {
        if !args.params.is_empty() {
            bail!("--param applies to saved queries; ad-hoc SQL takes literals");
        }
        let df = saved::plan(&ctx, "--sql", sql, Default::default()).await?;
        let df = explained(df, args)?;
        let schema = df.schema().inner().clone();
        (df.collect().await.context("running --sql")?, schema)
    } else {
        let dir = args.queries_dir.as_deref().or(settings.queries_dir.as_deref());
        let registry = Registry::load(dir)?;
        let name = args.name.as_deref().unwrap_or_default();
        let q = registry.get(name)?;
        let mut given = parse_params(&args.params)?;
        for (k, v) in [("from", &args.from), ("to", &args.to)] {
            if let Some(v) = v {
                given.insert(k.to_string(), v.clone());
            }
        }
        if q.params.iter().any(|p| p.name == "tz") {
            given.insert("tz".into(), tz_name.clone());
        } else if args.tz.is_some() {
            tracing::info!(query = %q.name, "Query has no tz parameter; --tz only affects date parameters.");
        }
        let params = q.bind(&given, &tz)?;
        let df = q.plan(&ctx, params).await?;
        let df = explained(df, args)?;
        let schema = df.schema().inner().clone();
        (df.collect().await.with_context(|| format!("running {}", q.name))?, schema)
    };
    let bytes = if args.plan_only() && args.format == OutputFormat::Table {
        explain_text(&batches)
    } else {
        output::render(&batches, schema, args.format)?
    };
    match &args.out {
        Some(p) => std::fs::write(p, bytes).with_context(|| format!("writing {}", p.display()))?,
        None => super::stdout(&bytes)?,
    }
    if !args.plan_only() && !quiet {
        // Under every report (on stderr, so piped data stays clean): is the data complete?
        // `--quiet` promises only errors on stderr, so it leaves the line out.
        match crate::query::completeness::line(&ctx, chrono::Utc::now()).await {
            Ok(l) => eprintln!("{l}"),
            Err(e) => tracing::warn!(error = %e, "Completeness line unavailable."),
        }
    }
    Ok(())
}

/// The plan instead of the rows when `--explain` or `--analyze` asks for it.
fn explained(
    df: datafusion::dataframe::DataFrame,
    args: &QueryArgs,
) -> anyhow::Result<datafusion::dataframe::DataFrame> {
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
pub fn parse_params(items: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for p in items {
        let (k, v) = p.split_once('=').with_context(|| format!("--param {p:?} must be NAME=VALUE"))?;
        out.insert(k.trim().to_string(), v.to_string());
    }
    Ok(out)
}

pub fn list(settings: &Settings, args: &QueriesArgs) -> anyhow::Result<()> {
    let dir = args.queries_dir.as_deref().or(settings.queries_dir.as_deref());
    let registry = Registry::load(dir)?;
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
                .map(|p| match &p.default {
                    Some(d) => format!("{}={d}", p.name),
                    None => p.name.clone(),
                })
                .collect::<Vec<_>>()
                .join(" "),
            description: &q.description,
        })
        .collect();
    let (batches, schema) = output::rows_to_batch(&rows)?;
    let format = if args.format == OutputFormat::Parquet { OutputFormat::Table } else { args.format };
    super::stdout(&output::render(&batches, schema, format)?)
}
