//! Charts: Arrow batches and a [`ChartSpec`] in, an SVG out (plotters). No `SessionContext` here:
//! whoever ran the query hands over its rows, already in the report's time zone
//! ([`crate::output::in_zone`]), so time labels read in that zone.
//!
//! One theme: dark-to-light marks that stay apart in grey print (each series also has its own
//! marker shape), titles, axis names with units, a legend when there is more than one series,
//! percentages on a 0–100 axis, and every bar labelled with its number. What cannot be drawn is
//! still a readable panel: no rows (or only NULLs) say "no data in this window", one point or one
//! category draw as such, thousands of categories become the top N and one "other" bar, long and
//! non-ASCII labels are cut with an ellipsis (the table under the chart has them whole), and
//! negative or huge values get an axis that holds them.

mod basic;
mod data;
mod shapes;
mod spec;
pub(crate) mod term;

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::{RangedCoordf64, RangedCoordusize};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub use data::{Data, Mark, data, fold_series, top_n};
pub use spec::{ChartKind, ChartSpec, Sort};

use crate::error::{Error, Result};

/// The size charts are drawn at (the report scales them to its column width).
const WIDTH: u32 = 760;
const HEIGHT: u32 = 380;
/// Labels longer than this many characters are cut with an ellipsis.
pub const MAX_LABEL: usize = 28;
/// Marks of the series, dark to light: apart in colour and in grey print.
pub const PALETTE: [RGBColor; 5] = [
    RGBColor(0x1f, 0x3b, 0x73),
    RGBColor(0xd9, 0x7a, 0x1e),
    RGBColor(0x5a, 0x9b, 0x4a),
    RGBColor(0x8e, 0x44, 0x8b),
    RGBColor(0x9a, 0x9a, 0x9a),
];
const FONT: &str = "sans-serif";
/// Axis labels and names: fixed, where plotters would shrink them with a short chart's height.
const AXIS_FONT: u32 = 12;
/// Grid lines: light, so the marks stand out.
const GRID: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);
/// Pixels between bars.
const BAR_GAP: u32 = 6;
const NO_DATA: &str = "no data in this window";

/// Draws the chart as SVG, titled, at [`WIDTH`] × [`HEIGHT`].
pub fn svg(data: &Data, spec: &ChartSpec, title: &str) -> Result<String> {
    svg_sized(data, spec, title, (WIDTH, HEIGHT))
}

/// Draws the chart as SVG at `size` pixels; an empty `title` leaves the caption out (the report's
/// panel heading has it).
pub fn svg_sized(data: &Data, spec: &ChartSpec, title: &str, size: (u32, u32)) -> Result<String> {
    fonts();
    let size = fitted(data, spec, title, size);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        draw(&root, data, spec, title)?;
        root.present().map_err(draw_error)?;
    }
    Ok(out)
}

/// Draws the chart as a PNG image at `size` pixels (for mail and slides), with the font the
/// binary carries, so a machine with no fonts installed draws the same picture.
pub(crate) fn png(data: &Data, spec: &ChartSpec, title: &str, size: (u32, u32)) -> Result<Vec<u8>> {
    fonts();
    let (w, h) = fitted(data, spec, title, size);
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw(&root, data, spec, title)?;
        root.present().map_err(draw_error)?;
    }
    let mut out = Vec::new();
    let bad = |e: png::EncodingError| Error::Table { table: "chart".into(), message: format!("PNG: {e}") };
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(bad)?;
    writer.write_image_data(&rgb).map_err(bad)?;
    writer.finish().map_err(bad)?;
    Ok(out)
}

/// The text font: Liberation Sans (SIL OFL 1.1, `assets/fonts/`), carried in the binary and
/// registered once for the family every chart asks for. It sets the text metrics of SVG charts
/// (the browser draws their text with its own sans-serif) and the glyphs of PNG charts.
fn fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        const SANS: &[u8] =
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/fonts/LiberationSans-Regular.ttf"));
        // The file is part of the source tree; a test draws with it, so it cannot be invalid.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, SANS);
    });
}

/// Draws the chart (or the "no data" panel) on any backend.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &Data,
    spec: &ChartSpec,
    title: &str,
) -> Result<()> {
    root.fill(&WHITE).map_err(draw_error)?;
    if data.is_empty(spec.kind) {
        return empty(root, title);
    }
    match spec.kind {
        ChartKind::Line => basic::line(root, data, spec, title),
        ChartKind::Bar => basic::bars(root, &top_n(data.clone(), spec.sort, spec.limit), spec, title, false),
        ChartKind::HBar => basic::bars(root, &top_n(data.clone(), spec.sort, spec.limit), spec, title, true),
        ChartKind::Stacked => {
            let folded = fold_series(data.clone(), PALETTE.len());
            shapes::stacked(root, &top_n(folded, spec.sort, spec.limit), spec, title)
        }
        ChartKind::Funnel => shapes::funnel(root, data, spec, title),
        ChartKind::Heatmap => shapes::heatmap(root, data, spec, title),
        ChartKind::Timeline => shapes::timeline(root, data, spec, title),
    }
}

/// A chart of a few rows needs less height than `size` gives: timeline lanes of about 44 pixels
/// and horizontal bars of about 30 (a single bar is not a slab across the panel), plus the axis,
/// the legend and the title.
fn fitted(data: &Data, spec: &ChartSpec, title: &str, (w, h): (u32, u32)) -> (u32, u32) {
    if data.is_empty(spec.kind) {
        return (w, h);
    }
    let caption = if title.is_empty() { 0 } else { 30 };
    let rows = |n: usize| n.max(2) as u32;
    match spec.kind {
        ChartKind::Timeline => (w, h.min(caption + 26 + 24 + 40 + 44 * rows(data.labels.len()))),
        ChartKind::HBar | ChartKind::Funnel => {
            let bars = data.labels.len().min(spec.limit);
            (w, h.min(caption + 24 + 40 + 30 * rows(bars)))
        }
        _ => (w, h),
    }
}

fn draw_error<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> Error {
    Error::Table { table: "chart".into(), message: format!("drawing failed: {e}") }
}

fn empty<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str) -> Result<()> {
    let titled = if title.is_empty() {
        root.clone()
    } else {
        root.titled(&cut(title, 80), (FONT, 18)).map_err(draw_error)?
    };
    let (w, h) = titled.dim_in_pixel();
    let style = TextStyle::from((FONT, 16).into_font())
        .color(&RGBColor(0x55, 0x55, 0x55))
        .pos(Pos::new(HPos::Center, VPos::Center));
    titled.draw(&Text::new(NO_DATA, (w as i32 / 2, h as i32 / 2), style)).map_err(draw_error)?;
    Ok(())
}

/// A label cut to `max` characters with an ellipsis.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The value axis: from 0 (or below, for negative values) to a little above the largest value;
/// percentages on 0–100.
fn value_range(data: &Data, percent: bool) -> (f64, f64) {
    let values = data.series.iter().flat_map(|(_, v)| v.iter().flatten().copied());
    let (lo, hi) = values.fold((0f64, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if percent && lo >= 0.0 && hi <= 100.0 {
        return (0.0, 100.0);
    }
    let pad = |v: f64| if v == 0.0 { 0.0 } else { v * 1.12 };
    let (lo, hi) = (pad(lo), pad(hi));
    if hi - lo <= f64::EPSILON { (lo, lo + 1.0) } else { (lo, hi) }
}

/// How many value-axis labels to ask plotters for over `lo..hi`: as many as fit, but for counts
/// (every value whole) no more than the whole numbers in the range, so a count axis never shows
/// halves (0, 0.5, 1, …).
fn value_ticks(data: &Data, lo: f64, hi: f64) -> usize {
    let whole = data.series.iter().all(|(_, v)| v.iter().flatten().all(|v| v.fract() == 0.0));
    if whole { ((hi - lo).ceil() as usize + 1).clamp(2, 10) } else { 10 }
}

/// A number as a label: whole numbers without decimals, others with one, large ones grouped.
pub fn number(v: f64) -> String {
    if v.abs() >= 1e15 {
        return format!("{v:.3e}");
    }
    if v.fract() == 0.0 {
        let s = format!("{}", v.abs() as i128);
        let mut grouped = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        return if v < 0.0 { format!("-{grouped}") } else { grouped };
    }
    format!("{v:.1}")
}

fn axis_name(spec: &ChartSpec) -> String {
    match &spec.units {
        // Several columns of one unit (a stack's segments): the legend names them.
        Some(u) if spec.y.len() > 1 => u.clone(),
        Some(u) => format!("{} ({u})", spec.y.join(", ")),
        None if spec.percent() => format!("{} (%)", spec.y.join(", ")),
        None => spec.y.join(", "),
    }
}

/// How a vertical chart labels its `n` slots in `width` pixels: every `every`-th label, cut to
/// `chars` characters. Labels that fit are all shown; dates and times that do not are shown
/// whole at a stride (a cut date reads as nothing); other text is cut to its slot.
fn x_label_plan(labels: &[String], width: u32) -> (usize, usize) {
    let slot = (width as usize).saturating_sub(110) / labels.len().max(1);
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1).min(MAX_LABEL);
    if longest * 7 <= slot {
        return (MAX_LABEL, 1);
    }
    let temporal = labels.iter().all(|l| l.starts_with(|c: char| c.is_ascii_digit()) && l.contains('-'));
    if temporal {
        (MAX_LABEL, (longest * 7 + 8).div_ceil(slot.max(1)))
    } else {
        ((slot / 7).clamp(4, MAX_LABEL), 1)
    }
}

/// A chart of categories along x and values up.
type CategoryChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<SegmentedCoord<RangedCoordusize>, RangedCoordf64>>;

/// The grid and axes of a [`CategoryChart`]: a label per slot as [`x_label_plan`] says, the
/// value axis named with its unit.
fn category_mesh<DB: DrawingBackend>(
    chart: &mut CategoryChart<'_, DB>,
    data: &Data,
    (lo, hi): (f64, f64),
    spec: &ChartSpec,
    width: u32,
) -> Result<()> {
    let labels = &data.labels;
    let n = labels.len();
    // A label no wider than its bar (about 7 px a character at this size).
    let (max_label, every) = x_label_plan(labels, width);
    chart
        .configure_mesh()
        .label_style((FONT, AXIS_FONT))
        .axis_desc_style((FONT, AXIS_FONT))
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .x_labels(n)
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) if *i < n && i % every == 0 => cut(&labels[*i], max_label),
            _ => String::new(),
        })
        .x_desc(spec.x_name())
        .y_desc(axis_name(spec))
        .y_labels(value_ticks(data, lo, hi))
        .y_label_formatter(&|v| number(*v))
        .draw()
        .map_err(draw_error)?;
    Ok(())
}

/// The last slot of a segmented axis for `n` bars (inclusive ranges; at least two slots).
fn last_slot(n: usize) -> usize {
    n.max(2) - 1
}
