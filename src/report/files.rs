//! The dashboard in the other forms `sspr report --format` writes: an Excel workbook of its
//! tables, each chart as a PNG image, and a Markdown page with its charts as SVG files.

use std::fmt::Write as _;

use super::{Rendered, Size, cut_note, first_rows};
use crate::charts;
use crate::error::Result;

impl Rendered {
    /// The dashboard's tables as one Excel workbook: a sheet per panel, named after its query,
    /// in panel order, times on the wall clock of the report's zone.
    pub(crate) fn xlsx(&self) -> Result<Vec<u8>> {
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
    pub(crate) fn pngs(&self) -> Result<Vec<(String, Vec<u8>)>> {
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

    /// [`Rendered::markdown`] with each table cut to `max_rows`.
    pub(crate) fn markdown_with(&self, max_rows: usize) -> Result<(String, Vec<(String, String)>)> {
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
