//! The dashboard as one self-contained HTML page: inline CSS, inline SVG, the header with the
//! completeness line, each panel's chart, text and table, and the nightly summary as the first
//! panel when there is one.

use std::fmt::Write as _;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

use super::{DEFAULT_MAX_ROWS, Rendered, Size, cut_note, first_rows};
use crate::error::Result;

const CSS: &str = include_str!("report.css");

impl Rendered {
    /// The page, each table cut to [`DEFAULT_MAX_ROWS`].
    pub fn html(&self) -> Result<String> {
        self.html_with(DEFAULT_MAX_ROWS)
    }

    /// The page, each table cut to `max_rows` (the cut is said under it).
    pub(crate) fn html_with(&self, max_rows: usize) -> Result<String> {
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

/// The small Markdown the nightly summary is written in, as HTML: `#`/`##` headings (shown one
/// level down, under the page's title), `- ` lists, paragraphs, `**bold**` and `` `code` ``.
/// Everything is escaped first: the text carries user names and error messages.
fn markdown_html(md: &str) -> String {
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
fn escape(s: &str) -> String {
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
