//! `sspr report`: each dashboard (`dashboards/*.toml`, see [`spec`]) as one self-contained HTML
//! page: inline CSS and inline SVG charts, no script and no external request of any kind, so it
//! can be opened from a mail, a share or a laptop without network, and printed ("Print to PDF"
//! gives clean pages). A header names the tenant, the window, the time zone and when it was made,
//! with the completeness line (stale or incomplete data in a visible warning); every panel shows
//! its chart, what it means and what to do, and its table folded under it.

mod files;
mod html;
mod spec;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

use crate::charts::{self, ChartSpec};
use crate::error::Result;
use crate::query::completeness::Completeness;
use crate::query::consistent;
use crate::query::context::QueryConfig;
use crate::query::saved::Registry;
use crate::store::Lake;
pub use spec::{Dashboard, Panel, Size};

/// The window and zone of a report, as `sspr query` takes them.
#[derive(Debug, Clone)]
pub struct Window {
    pub from: Option<String>,
    pub to: Option<String>,
    pub tz: chrono_tz::Tz,
}

impl Window {
    /// The window as the page's header states it.
    fn describe(&self) -> String {
        match (&self.from, &self.to) {
            (None, None) => "all data in the lake".to_string(),
            (f, t) => format!("{} → {}", f.as_deref().unwrap_or("start"), t.as_deref().unwrap_or("now")),
        }
    }
}

/// One panel's result.
pub struct PanelResult {
    pub title: String,
    pub panel: Panel,
    pub batches: Vec<RecordBatch>,
    pub schema: SchemaRef,
    pub svg: Option<String>,
    /// What the chart was drawn from, to draw it again at another size or as PNG.
    pub chart: Option<(charts::Data, ChartSpec)>,
}

/// A dashboard's queries run, and what the header needs.
pub struct Rendered {
    pub dashboard: Dashboard,
    pub panels: Vec<PanelResult>,
    pub tenant: Option<String>,
    pub completeness: Completeness,
    pub generated: DateTime<Utc>,
    pub window: Window,
    /// A text shown as the page's first panel, above the queries' panels: the nightly job's
    /// "since last night" summary on the overview (Markdown: headings, lists, bold, code).
    pub lead: Option<String>,
}

/// One panel's query result, before its chart is drawn.
pub struct PanelQuery {
    pub title: String,
    pub panel: Panel,
    pub batches: Vec<RecordBatch>,
    pub schema: SchemaRef,
    /// The chart to draw (none for a table), and the name its errors give.
    pub chart: Option<(ChartSpec, String)>,
}

/// What every page of one `sspr report` run states in its header: the tenant, the completeness
/// line and when it was made. Worked out once per run, not once per dashboard.
#[derive(Debug, Clone)]
pub struct Header {
    pub tenant: Option<String>,
    pub completeness: Completeness,
    pub generated: DateTime<Utc>,
}

impl Header {
    pub async fn of_lake(lake: &Lake, cfg: &QueryConfig, now: DateTime<Utc>) -> Result<Self> {
        let ctx = crate::query::context::build_context(lake, cfg).await?;
        let completeness = Completeness::of_lake(&ctx, lake, now).await?;
        let tenant = tenant(&ctx).await;
        Ok(Self { tenant, completeness, generated: now })
    }
}

/// Runs every panel's query over `lake` and draws its chart: [`render_all`] for one dashboard.
pub(crate) async fn run(
    lake: &Lake,
    cfg: &QueryConfig,
    registry: &Registry,
    dashboard: &Dashboard,
    window: &Window,
    header: &Header,
) -> Result<Rendered> {
    let cfg = &cfg.sharing_footers()?;
    let mut drawing = Vec::new();
    for p in &dashboard.panels {
        let q = query_panel(lake, cfg, registry, dashboard, p, window).await?;
        drawing.push(tokio::task::spawn_blocking(move || draw(q)));
    }
    rendered(dashboard, drawing, header, window).await
}

/// Every dashboard of one `sspr report` run, with the header worked out once. The header's
/// queries run beside the panels' queries, and each chart is drawn on a blocking thread as soon
/// as its rows are in, while the next panel's query runs: neither waits on the critical path
/// (issue 21 item 7: the report costs little more than its queries).
pub async fn render_all(
    lake: &Lake,
    cfg: &QueryConfig,
    registry: &Registry,
    dashboards: &[&Dashboard],
    window: &Window,
    now: DateTime<Utc>,
) -> Result<(Header, Vec<Rendered>)> {
    let cfg = &cfg.sharing_footers()?;
    let panels = async {
        let mut all = Vec::new();
        for d in dashboards {
            let mut drawing = Vec::new();
            for p in &d.panels {
                let q = query_panel(lake, cfg, registry, d, p, window).await?;
                drawing.push(tokio::task::spawn_blocking(move || draw(q)));
            }
            all.push(drawing);
        }
        Ok::<_, crate::error::Error>(all)
    };
    let (header, panels) = tokio::join!(Header::of_lake(lake, cfg, now), panels);
    let (header, panels) = (header?, panels?);
    let mut out = Vec::new();
    for (d, drawing) in dashboards.iter().zip(panels) {
        out.push(rendered(d, drawing, &header, window).await?);
    }
    Ok((header, out))
}

type Drawing = tokio::task::JoinHandle<Result<PanelResult>>;

/// The page's value once every chart of it is drawn.
async fn rendered(
    dashboard: &Dashboard,
    drawing: Vec<Drawing>,
    header: &Header,
    window: &Window,
) -> Result<Rendered> {
    let mut panels = Vec::new();
    for h in drawing {
        panels.push(h.await.map_err(|e| crate::error::Error::Query {
            query: dashboard.origin.clone(),
            message: format!("drawing a chart failed: {e}"),
        })??);
    }
    Ok(Rendered {
        dashboard: dashboard.clone(),
        panels,
        tenant: header.tenant.clone(),
        completeness: header.completeness.clone(),
        generated: header.generated,
        window: window.clone(),
        lead: None,
    })
}

/// Draws one panel's chart (none for a table) at the panel's size.
fn draw(q: PanelQuery) -> Result<PanelResult> {
    let PanelQuery { title, panel, batches, schema, chart } = q;
    let (svg, chart) = match chart {
        Some((spec, origin)) => {
            let size = if panel.size == Size::Half { (560, 340) } else { (900, 360) };
            let data = charts::data(&batches, &schema, &spec, &origin)?;
            (Some(charts::svg_sized(&data, &spec, "", size)?), Some((data, spec)))
        }
        None => (None, None),
    };
    Ok(PanelResult { title, panel, batches, schema, svg, chart })
}

/// Runs every panel's query in the window, its times in the window's zone: the report without
/// its charts and page (what the report benchmark sets the whole report against).
pub async fn query_panels(
    lake: &Lake,
    cfg: &QueryConfig,
    registry: &Registry,
    dashboard: &Dashboard,
    window: &Window,
) -> Result<Vec<PanelQuery>> {
    let mut panels = Vec::new();
    for p in &dashboard.panels {
        panels.push(query_panel(lake, cfg, registry, dashboard, p, window).await?);
    }
    Ok(panels)
}

/// One panel's query, bound to the window and run on one consistent snapshot of the lake.
async fn query_panel(
    lake: &Lake,
    cfg: &QueryConfig,
    registry: &Registry,
    dashboard: &Dashboard,
    p: &Panel,
    window: &Window,
) -> Result<PanelQuery> {
    let q = registry.get(&p.query)?;
    let mut given: BTreeMap<String, String> = p.params.clone();
    for (k, v) in [("from", &window.from), ("to", &window.to)] {
        if let Some(v) = v
            && q.params.iter().any(|d| d.name == k)
        {
            given.insert(k.to_string(), v.clone());
        }
    }
    for (k, v) in q.context_params(window.tz.name(), cfg) {
        if k == "tz" {
            given.insert(k, v);
        } else {
            given.entry(k).or_insert(v);
        }
    }
    let params = q.bind(&given, &window.tz)?;
    let (batches, schema, _) =
        consistent::collect(lake, cfg, &q.name, async |ctx| q.plan(ctx, params.clone()).await).await?;
    let (batches, schema) = crate::output::in_zone(&batches, schema, window.tz.name())?;
    let title = p.title.clone().unwrap_or_else(|| q.title.clone());
    let chart = p.chart.as_deref().or(q.chart.as_deref()).unwrap_or("table");
    let origin = format!("{}, panel {}", dashboard.origin, q.name);
    let chart = ChartSpec::parse(&origin, chart)?.map(|spec| (spec, origin));
    Ok(PanelQuery { title, panel: p.clone(), batches, schema, chart })
}

/// The tenant the lake's audit events come from, when there is exactly one. The smallest and
/// largest tenant id and the row count answer that from the files' statistics without reading a
/// row. Graph's `directoryAudits` carry no tenant id (diagnostic-settings archives do), so a lake
/// of Graph exports has events and no tenant: the header says which it is.
async fn tenant(ctx: &datafusion::prelude::SessionContext) -> Option<String> {
    let sql = "SELECT CAST(min(tenant_id) AS VARCHAR) AS lo, CAST(max(tenant_id) AS VARCHAR) AS hi, \
               CAST(count(*) AS VARCHAR) AS n FROM audit_events";
    let batches = ctx.sql(sql).await.ok()?.collect().await.ok()?;
    let rows = crate::output::text_rows(&batches).ok()?;
    let row = rows.first()?;
    match (row[0].as_str(), row[1].as_str(), row[2].as_str()) {
        (_, _, "0" | "") => None,
        ("", _, _) | (_, "", _) => Some("not recorded in the audit events".to_string()),
        (lo, hi, _) if lo == hi => Some(lo.to_string()),
        _ => Some("several tenants".to_string()),
    }
}

/// Rows a page shows per table unless `sspr report --max-rows` says otherwise: a page stays
/// small enough to mail and open; the chart has the top of a long result, and `sspr query` or
/// `--format xlsx` has all of it.
pub(crate) const DEFAULT_MAX_ROWS: usize = 1_000;

/// The first `n` rows of a result.
fn first_rows(batches: &[RecordBatch], n: usize) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut left = n;
    for b in batches {
        if left == 0 {
            break;
        }
        let take = b.num_rows().min(left);
        out.push(b.slice(0, take));
        left -= take;
    }
    out
}

/// The line under a cut table.
fn cut_note(shown: usize, rows: usize, query: &str) -> String {
    format!(
        "The first {shown} of {rows} rows; all of them: sspr query {query} --out {query}.csv (or sspr report --format xlsx)."
    )
}
