//! `sspr report`: each dashboard (`dashboards/*.toml`, see [`spec`]) as one self-contained HTML
//! page: inline CSS and inline SVG charts, no script and no external request of any kind, so it
//! can be opened from a mail, a share or a laptop without network, and printed ("Print to PDF"
//! gives clean pages). A header names the tenant, the window, the time zone and when it was made,
//! with the completeness line (stale or incomplete data in a visible warning); every panel shows
//! its chart, what it means and what to do, and its table folded under it.

pub mod spec;

use std::collections::BTreeMap;
use std::fmt::Write as _;

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
    pub fn describe(&self) -> String {
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
pub async fn run(
    lake: &Lake,
    cfg: &QueryConfig,
    registry: &Registry,
    dashboard: &Dashboard,
    window: &Window,
    header: &Header,
) -> Result<Rendered> {
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

/// The small Markdown the nightly summary is written in, as HTML: `#`/`##` headings (shown one
/// level down, under the page's title), `- ` lists, paragraphs, `**bold**` and `` `code` ``.
/// Everything is escaped first: the text carries user names and error messages.
pub fn markdown_html(md: &str) -> String {
    fn inline(text: &str) -> String {
        let mut out = String::new();
        for (i, part) in escape(text).split('`').enumerate() {
            if i % 2 == 1 {
                let _ = write!(out, "<code>{part}</code>");
                continue;
            }
            for (j, piece) in part.split("**").enumerate() {
                if j % 2 == 1 {
                    let _ = write!(out, "<strong>{piece}</strong>");
                } else {
                    out.push_str(piece);
                }
            }
        }
        out
    }
    let mut h = String::new();
    let mut list = false;
    // Sections whose whole body is "None." are gathered on one line at the end, so that a quiet
    // night is a short panel and what did change stands out.
    let mut quiet = Vec::new();
    let lines: Vec<&str> = md.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if let Some(t) = line.strip_prefix("## ") {
            let mut j = i;
            while j < lines.len() && lines[j].trim().is_empty() {
                j += 1;
            }
            let ends = |k: usize| k >= lines.len() || lines[k].starts_with('#');
            if j < lines.len()
                && lines[j].trim() == "None."
                && ends((j + 1..lines.len()).find(|&k| !lines[k].trim().is_empty()).unwrap_or(lines.len()))
            {
                quiet.push(inline(t));
                i = j + 1;
                continue;
            }
        }
        let is_item = line.starts_with("- ");
        if list && !is_item {
            h.push_str("</ul>");
            list = false;
        }
        if let Some(t) = line.strip_prefix("## ") {
            let _ = write!(h, "<h3>{}</h3>", inline(t));
        } else if let Some(t) = line.strip_prefix("# ") {
            let _ = write!(h, "<h2>{}</h2>", inline(t));
        } else if let Some(t) = line.strip_prefix("- ") {
            if !list {
                h.push_str("<ul>");
                list = true;
            }
            let _ = write!(h, "<li>{}</li>", inline(t));
        } else if !line.trim().is_empty() {
            let _ = write!(h, "<p>{}</p>", inline(line));
        }
    }
    if list {
        h.push_str("</ul>");
    }
    if !quiet.is_empty() {
        let _ = write!(h, "<p class=\"quiet\">Nothing to report: {}.</p>", quiet.join(" · "));
    }
    h
}

/// HTML text: `&`, `<`, `>`, `"` escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

const CSS: &str = include_str!("report.css");

/// Rows a page shows per table unless `sspr report --max-rows` says otherwise: a page stays
/// small enough to mail and open; the chart has the top of a long result, and `sspr query` or
/// `--format xlsx` has all of it.
pub const DEFAULT_MAX_ROWS: usize = 1_000;

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

impl Rendered {
    /// The page, each table cut to [`DEFAULT_MAX_ROWS`].
    pub fn html(&self) -> Result<String> {
        self.html_with(DEFAULT_MAX_ROWS)
    }

    /// The page, each table cut to `max_rows` (the cut is said under it).
    pub fn html_with(&self, max_rows: usize) -> Result<String> {
        let d = &self.dashboard;
        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{}</title><style>{CSS}</style></head><body>\n<header><h1>{}</h1><p class=\"lead\">{}</p>\
             <dl class=\"facts\">{}</dl>{}</header>\n<main>\n",
            escape(&d.title),
            escape(&d.title),
            escape(&d.description),
            self.facts(),
            self.warning()
        );
        if let Some(lead) = &self.lead {
            let _ = write!(
                h,
                "<section class=\"panel lead-panel\" id=\"since-last-night\">{}</section>",
                markdown_html(lead)
            );
            h.push('\n');
        }
        for p in &self.panels {
            let rows: usize = p.batches.iter().map(|b| b.num_rows()).sum();
            let class = if p.panel.size == Size::Half { "panel half" } else { "panel" };
            let _ = write!(
                h,
                "<section class=\"{class}\" data-query=\"{}\"><h2>{}</h2>",
                escape(&p.panel.query),
                escape(&p.title)
            );
            if !p.panel.text.is_empty() {
                let _ = write!(h, "<p class=\"explain\">{}</p>", escape(&p.panel.text));
            }
            match &p.svg {
                Some(svg) => {
                    let _ = write!(h, "<figure class=\"chart\">{svg}</figure>");
                }
                None if rows == 0 => h.push_str("<p class=\"empty\">no data in this window</p>"),
                None => {}
            }
            let mut table = table_html(&first_rows(&p.batches, max_rows), &p.schema)?;
            if rows > max_rows {
                let _ = write!(
                    table,
                    "<p class=\"cut\">{}</p>",
                    escape(&cut_note(max_rows, rows, &p.panel.query))
                );
            }
            if p.svg.is_some() {
                let _ = write!(
                    h,
                    "<details><summary>Table: {rows} row{} ({})</summary>{table}</details>",
                    if rows == 1 { "" } else { "s" },
                    escape(&p.panel.query)
                );
            } else if rows > 0 {
                h.push_str(&table);
            }
            h.push_str("</section>\n");
        }
        let _ = write!(
            h,
            "</main>\n<footer>sspr-analytics {} · saved queries and dashboards: <code>sspr queries</code>, <code>dashboards/*.toml</code></footer>\n</body></html>\n",
            env!("CARGO_PKG_VERSION")
        );
        Ok(h)
    }

    fn facts(&self) -> String {
        let w = &self.window;
        let window = w.describe();
        let generated = self.generated.with_timezone(&w.tz).format("%Y-%m-%d %H:%M %Z").to_string();
        [
            ("Tenant", self.tenant.clone().unwrap_or_else(|| "no audit events".into())),
            ("Window", window),
            ("Time zone", w.tz.name().to_string()),
            ("Generated", generated),
        ]
        .iter()
        .map(|(k, v)| format!("<div><dt>{k}</dt><dd>{}</dd></div>", escape(v)))
        .collect()
    }

    fn warning(&self) -> String {
        let line = escape(&self.completeness.line());
        if self.completeness.has_warning() {
            format!("<p class=\"completeness warn\"><strong>Check the data:</strong> {line}</p>")
        } else {
            format!("<p class=\"completeness\">{line}</p>")
        }
    }
}

impl Rendered {
    /// The dashboard's tables as one Excel workbook: a sheet per panel, named after its query,
    /// in panel order, times on the wall clock of the report's zone.
    pub fn xlsx(&self) -> Result<Vec<u8>> {
        let sheets: Vec<crate::output::xlsx::Sheet<'_>> = self
            .panels
            .iter()
            .map(|p| crate::output::xlsx::Sheet {
                name: &p.panel.query,
                batches: &p.batches,
                schema: p.schema.clone(),
            })
            .collect();
        crate::output::xlsx::workbook(&sheets)
    }

    /// Every charted panel as a PNG image for mail and slides: `(file name, bytes)`, named
    /// `<dashboard>-<n>-<query>.png` in panel order. Each picture stands alone, so its caption
    /// carries the panel's title and the window.
    pub fn pngs(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        for (i, p) in self.panels.iter().enumerate() {
            let Some((data, spec)) = &p.chart else { continue };
            let size = if p.panel.size == Size::Half { (960, 560) } else { (1280, 560) };
            let caption = format!("{} · {} ({})", p.title, self.window.describe(), self.window.tz.name());
            let file = format!("{}-{}-{}.png", self.dashboard.name, i + 1, p.panel.query);
            out.push((file, charts::png(data, spec, &caption, size)?));
        }
        Ok(out)
    }

    /// The page as Markdown, with each chart as an SVG file beside it: `(markdown, [(file name,
    /// svg)])`. Charts are linked as `<dashboard>-<n>.svg`.
    pub fn markdown(&self) -> Result<(String, Vec<(String, String)>)> {
        self.markdown_with(DEFAULT_MAX_ROWS)
    }

    /// [`Rendered::markdown`] with each table cut to `max_rows`.
    pub fn markdown_with(&self, max_rows: usize) -> Result<(String, Vec<(String, String)>)> {
        let d = &self.dashboard;
        let mut m = format!("# {}\n\n{}\n\n", d.title, d.description);
        let w = &self.window;
        let window = w.describe();
        let _ = writeln!(
            m,
            "Tenant: {} · Window: {window} · Time zone: {} · Generated: {}\n",
            self.tenant.as_deref().unwrap_or("no audit events"),
            w.tz.name(),
            self.generated.with_timezone(&w.tz).format("%Y-%m-%d %H:%M %Z")
        );
        let line = self.completeness.line();
        if self.completeness.has_warning() {
            let _ = writeln!(m, "> **Check the data:** {line}\n");
        } else {
            let _ = writeln!(m, "> {line}\n");
        }
        if let Some(lead) = &self.lead {
            // One level down, under the page's title.
            for line in lead.lines() {
                let _ = writeln!(m, "{}{line}", if line.starts_with('#') { "#" } else { "" });
            }
            m.push('\n');
        }
        let mut files = Vec::new();
        for (i, p) in self.panels.iter().enumerate() {
            let _ = writeln!(m, "## {}\n", p.title);
            if !p.panel.text.is_empty() {
                let _ = writeln!(m, "{}\n", p.panel.text);
            }
            if let Some(svg) = &p.svg {
                let file = format!("{}-{}.svg", d.name, i + 1);
                let _ = writeln!(m, "![{}]({file})\n", p.title);
                files.push((file, svg.clone()));
            }
            let rows: usize = p.batches.iter().map(|b| b.num_rows()).sum();
            if rows == 0 {
                m.push_str("_no data in this window_\n\n");
            } else {
                let table = crate::output::render(
                    &first_rows(&p.batches, max_rows),
                    p.schema.clone(),
                    crate::output::OutputFormat::Markdown,
                )?;
                m.push_str(&String::from_utf8_lossy(&table));
                if rows > max_rows {
                    let _ = writeln!(m, "\n_{}_", cut_note(max_rows, rows, &p.panel.query));
                }
                m.push('\n');
            }
        }
        Ok((m, files))
    }
}

/// A result as an HTML table (every value whole; numbers right-aligned).
fn table_html(batches: &[RecordBatch], schema: &SchemaRef) -> Result<String> {
    use datafusion::arrow::datatypes::DataType;
    // Numbers right-aligned; numbers, dates and times kept on one line (a date broken after its
    // year reads as two values).
    let class: Vec<&str> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            t if t.is_numeric() => " class=\"num\"",
            DataType::Date32 | DataType::Timestamp(_, _) => " class=\"time\"",
            _ => "",
        })
        .collect();
    let mut h = String::from("<div class=\"scroll\"><table><thead><tr>");
    for f in schema.fields() {
        let _ = write!(h, "<th>{}</th>", escape(f.name()));
    }
    h.push_str("</tr></thead><tbody>");
    for row in crate::output::human_rows(batches)? {
        h.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let _ = write!(h, "<td{}>{}</td>", class[i], escape(cell));
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div>");
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::markdown_html;

    #[test]
    fn the_summary_markdown_becomes_escaped_html_with_quiet_sections_on_one_line() {
        let md = "# Since last night — 2026-11-15\n\nThis run: 2 file(s).\n\n## New error codes\n\n\
                  - `6329` (3) from <b>&x\n- **bold** and `a<b`\n\n## Error spikes\n\nNone.\n\n\
                  ## Coverage\n\nNone.\n";
        let h = markdown_html(md);
        assert_eq!(
            h,
            "<h2>Since last night — 2026-11-15</h2><p>This run: 2 file(s).</p><h3>New error codes</h3>\
             <ul><li><code>6329</code> (3) from &lt;b&gt;&amp;x</li><li><strong>bold</strong> and \
             <code>a&lt;b</code></li></ul><p class=\"quiet\">Nothing to report: Error spikes · Coverage.</p>"
        );
    }
}
