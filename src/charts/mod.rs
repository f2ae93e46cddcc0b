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

mod shapes;
pub mod spec;
pub mod term;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef, TimeUnit};
use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::{RangedCoordf64, RangedCoordusize};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub use spec::{ChartKind, ChartSpec, Sort};

use crate::error::{Error, Result};

/// The size charts are drawn at (the report scales them to its column width).
pub const WIDTH: u32 = 760;
pub const HEIGHT: u32 = 380;
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
/// Grid lines: light, so the marks stand out.
const GRID: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);
/// Pixels between bars.
const BAR_GAP: u32 = 6;
const NO_DATA: &str = "no data in this window";

/// A chart's data: category labels and, per series, one value per label (`None` where NULL).
/// A timeline has its lanes as `labels` and its rows as `marks` instead.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Data {
    pub labels: Vec<String>,
    pub series: Vec<(String, Vec<Option<f64>>)>,
    /// Timeline rows, in the query's order.
    pub marks: Vec<Mark>,
    /// The zone a timeline's time axis is labelled in (the time column's own zone).
    pub zone: Option<chrono_tz::Tz>,
}

/// One row of a timeline: an instant (µs since 1970 UTC) or a span, in a lane, of a kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub start: i64,
    pub end: Option<i64>,
    pub lane: String,
    pub kind: String,
}

impl Data {
    /// Whether there is anything to draw (a heatmap of zeros has nothing to show either).
    pub fn is_empty(&self, kind: ChartKind) -> bool {
        match kind {
            ChartKind::Timeline => self.marks.is_empty(),
            ChartKind::Heatmap => !self.series.iter().any(|(_, v)| v.iter().flatten().any(|v| *v != 0.0)),
            _ => self.labels.is_empty() || !self.series.iter().any(|(_, v)| v.iter().any(Option::is_some)),
        }
    }
}

/// Reads the spec's columns out of the rows: `x` as text labels, each `y` (or each value of
/// `series`) as numbers.
pub fn data(batches: &[RecordBatch], schema: &SchemaRef, spec: &ChartSpec, origin: &str) -> Result<Data> {
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    spec.check(origin, &names)?;
    let rows = crate::output::human_rows(batches)?;
    let col = |name: &str| names.iter().position(|n| n == name).expect("checked above");
    let numbers = |name: &str| -> Result<Vec<Option<f64>>> {
        let mut out = Vec::new();
        for b in batches {
            let c = cast(b.column(col(name)), &DataType::Float64)?;
            let c = c.as_primitive::<Float64Type>();
            out.extend((0..c.len()).map(|i| (!c.is_null(i) && c.value(i).is_finite()).then(|| c.value(i))));
        }
        Ok(out)
    };
    if spec.kind == ChartKind::Timeline {
        return timeline_data(batches, &rows, spec, &col);
    }
    // Several x columns label a bar with their values joined, a value repeated (the "all" row's
    // "all / all") once.
    let x_cols: Vec<usize> = spec.x_columns().map(col).collect();
    let xs: Vec<String> = rows
        .iter()
        .map(|r| {
            let mut parts: Vec<&str> = Vec::new();
            for &c in &x_cols {
                if !parts.contains(&r[c].as_str()) {
                    parts.push(&r[c]);
                }
            }
            parts.join(" / ")
        })
        .collect();
    let Some(series_col) = &spec.series else {
        let series = spec.y.iter().map(|y| Ok((y.clone(), numbers(y)?))).collect::<Result<Vec<_>>>()?;
        return Ok(Data { labels: distinct(xs), series, ..Data::default() });
    };
    // One series per value of `series`, over the distinct x values in their first order.
    let keys: Vec<String> = rows.iter().map(|r| r[col(series_col)].clone()).collect();
    let mut labels: Vec<String> = Vec::new();
    for x in &xs {
        if !labels.contains(x) {
            labels.push(x.clone());
        }
    }
    let mut series: Vec<(String, Vec<Option<f64>>)> = Vec::new();
    for y in &spec.y {
        let values = numbers(y)?;
        for (i, key) in keys.iter().enumerate() {
            let name = if spec.y.len() > 1 { format!("{key} {y}") } else { key.clone() };
            let at = labels.iter().position(|l| *l == xs[i]).expect("every x is a label");
            let slot = match series.iter().position(|(n, _)| *n == name) {
                Some(s) => s,
                None => {
                    series.push((name, vec![None; labels.len()]));
                    series.len() - 1
                }
            };
            series[slot].1[at] = values[i];
        }
    }
    Ok(Data { labels, series, ..Data::default() })
}

/// A timeline's marks: `x` (and `end`) as instants, `series` as the lane, `y` as the kind.
fn timeline_data(
    batches: &[RecordBatch],
    rows: &[Vec<String>],
    spec: &ChartSpec,
    col: &dyn Fn(&str) -> usize,
) -> Result<Data> {
    let not_time = |name: &str, t: &DataType| Error::Query {
        query: "chart".into(),
        message: format!("-- chart: timeline: column {name} is {t}, not a timestamp"),
    };
    let instants = |name: &str| -> Result<(Vec<Option<i64>>, Option<chrono_tz::Tz>)> {
        let mut out = Vec::new();
        let mut zone = None;
        for b in batches {
            let c = b.column(col(name));
            let DataType::Timestamp(_, tz) = c.data_type() else {
                return Err(not_time(name, c.data_type()));
            };
            zone = tz.as_deref().and_then(|z| z.parse::<chrono_tz::Tz>().ok());
            let micros = cast(c, &DataType::Timestamp(TimeUnit::Microsecond, tz.clone()))?;
            let micros = cast(&micros, &DataType::Int64)?;
            let m = micros.as_primitive::<Int64Type>();
            out.extend((0..m.len()).map(|i| (!m.is_null(i)).then(|| m.value(i))));
        }
        Ok((out, zone))
    };
    let (starts, zone) = instants(&spec.x)?;
    let ends = match &spec.end {
        Some(e) => instants(e)?.0,
        None => vec![None; starts.len()],
    };
    let mut labels: Vec<String> = Vec::new();
    let mut marks = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let lane = spec.series.as_ref().map(|s| row[col(s)].clone()).unwrap_or_default();
        if !labels.contains(&lane) {
            labels.push(lane.clone());
        }
        // A row with no start cannot be placed; the table under the chart still has it.
        let Some(start) = starts[i] else { continue };
        let end = ends[i].filter(|e| *e > start);
        marks.push(Mark { start, end, lane, kind: row[col(&spec.y[0])].clone() });
    }
    Ok(Data { labels, series: Vec::new(), marks, zone })
}

/// Labels told apart: a value that repeats (two rows of one code, refined by another column) gets
/// ` #2`, ` #3` … so no two bars read the same; the table under the chart has the other columns.
fn distinct(labels: Vec<String>) -> Vec<String> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    labels
        .into_iter()
        .map(|l| {
            let n = seen.entry(l.clone()).or_default();
            *n += 1;
            if *n == 1 { l } else { format!("{l} #{n}") }
        })
        .collect()
}

/// Orders bars and folds the ones past `limit` into one "other (N more)" bar (first series'
/// values decide; the others follow).
pub fn top_n(mut data: Data, sort: Sort, limit: usize) -> Data {
    // The order is by the bar's whole length: all its segments when stacked.
    let key = |i: usize| {
        let parts: Vec<f64> = data.series.iter().filter_map(|(_, v)| v[i]).collect();
        if parts.is_empty() { f64::NEG_INFINITY } else { parts.iter().sum() }
    };
    let mut order: Vec<usize> = (0..data.labels.len()).collect();
    match sort {
        Sort::Desc => order.sort_by(|&a, &b| key(b).total_cmp(&key(a))),
        Sort::Asc => order.sort_by(|&a, &b| key(a).total_cmp(&key(b))),
        Sort::None => {}
    }
    let keep = if order.len() > limit { limit - 1 } else { order.len() };
    let rest: Vec<usize> = order[keep..].to_vec();
    order.truncate(keep);
    let mut labels: Vec<String> = order.iter().map(|&i| data.labels[i].clone()).collect();
    if !rest.is_empty() {
        labels.push(format!("other ({} more)", rest.len()));
    }
    for (_, values) in &mut data.series {
        let mut v: Vec<Option<f64>> = order.iter().map(|&i| values[i]).collect();
        if !rest.is_empty() {
            let sum: f64 = rest.iter().filter_map(|&i| values[i]).sum();
            v.push(Some(sum));
        }
        *values = v;
    }
    data.labels = labels;
    data
}

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
pub fn png(data: &Data, spec: &ChartSpec, title: &str, size: (u32, u32)) -> Result<Vec<u8>> {
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
        ChartKind::Line => line(root, data, spec, title),
        ChartKind::Bar => bars(root, &top_n(data.clone(), spec.sort, spec.limit), spec, title, false),
        ChartKind::HBar => bars(root, &top_n(data.clone(), spec.sort, spec.limit), spec, title, true),
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

/// At most `max` series: the largest `max - 1` by total and one "other" summing the rest (so
/// every segment keeps a colour of its own).
pub fn fold_series(mut data: Data, max: usize) -> Data {
    if data.series.len() <= max {
        return data;
    }
    let total = |v: &[Option<f64>]| v.iter().flatten().sum::<f64>();
    data.series.sort_by(|a, b| total(&b.1).total_cmp(&total(&a.1)));
    let rest = data.series.split_off(max - 1);
    let n = data.labels.len();
    let sum: Vec<Option<f64>> = (0..n)
        .map(|i| {
            let parts: Vec<f64> = rest.iter().filter_map(|(_, v)| v[i]).collect();
            (!parts.is_empty()).then(|| parts.iter().sum())
        })
        .collect();
    data.series.push((format!("other ({} more)", rest.len()), sum));
    data
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
pub(crate) type CategoryChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<SegmentedCoord<RangedCoordusize>, RangedCoordf64>>;

/// The grid and axes of a [`CategoryChart`]: a label per slot as [`x_label_plan`] says, the
/// value axis named with its unit.
fn category_mesh<DB: DrawingBackend>(
    chart: &mut CategoryChart<'_, DB>,
    labels: &[String],
    spec: &ChartSpec,
    width: u32,
) -> Result<()> {
    let n = labels.len();
    // A label no wider than its bar (about 7 px a character at this size).
    let (max_label, every) = x_label_plan(labels, width);
    chart
        .configure_mesh()
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
        .y_label_formatter(&|v| number(*v))
        .draw()
        .map_err(draw_error)?;
    Ok(())
}

/// The last slot of a segmented axis for `n` bars (inclusive ranges; at least two slots).
fn last_slot(n: usize) -> usize {
    n.max(2) - 1
}

fn bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &Data,
    spec: &ChartSpec,
    title: &str,
    horizontal: bool,
) -> Result<()> {
    let n = data.labels.len();
    let (lo, hi) = value_range(data, spec.percent());
    // A value too small for a pixel still gets a visible stub (its label carries the number).
    let stub = (hi - lo) * 0.004;
    let drawn: Vec<Option<f64>> = data.series[0]
        .1
        .iter()
        .map(|v| v.map(|v| if v != 0.0 && v.abs() < stub { stub.copysign(v) } else { v }))
        .collect();
    // The axis holds the negative stubs too.
    let lo = if drawn.iter().flatten().any(|v| *v < 0.0) { lo.min(-2.0 * stub) } else { lo };
    let values = &data.series[0].1;
    let label_style = TextStyle::from((FONT, 11).into_font()).color(&BLACK);
    let mut builder = ChartBuilder::on(root);
    if !title.is_empty() {
        builder.caption(cut(title, 80), (FONT, 18));
    }
    builder.margin(12);
    if horizontal {
        let longest = data.labels.iter().map(|l| cut(l, MAX_LABEL).chars().count()).max().unwrap_or(4);
        // Labels may take up to 45 % of the width; longer ones are cut (the table has them whole).
        let room = root.dim_in_pixel().0 * 45 / 100;
        builder.x_label_area_size(40).y_label_area_size((longest as u32 * 7 + 16).min(room));
        // Segmented ranges are inclusive: `0..n - 1` is n slots.
        let mut chart =
            builder.build_cartesian_2d(lo..hi, (0..last_slot(n)).into_segmented()).map_err(draw_error)?;
        let labels = &data.labels;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if *i < n => cut(&labels[n - 1 - i], MAX_LABEL),
                _ => String::new(),
            })
            .x_desc(axis_name(spec))
            .x_label_formatter(&|v| number(*v))
            .draw()
            .map_err(draw_error)?;
        // The first (largest) bar at the top; bars apart by a margin.
        chart
            .draw_series(
                Histogram::horizontal(&chart)
                    .style(PALETTE[0].filled())
                    .margin(BAR_GAP)
                    .data(drawn.iter().enumerate().filter_map(|(i, v)| Some((n - 1 - i, (*v)?)))),
            )
            .map_err(draw_error)?;
        chart
            .draw_series(values.iter().enumerate().filter_map(|(i, v)| {
                let v = (*v)?;
                let style = label_style.clone().pos(Pos::new(HPos::Left, VPos::Center));
                Some(Text::new(format!(" {}", number(v)), (v, SegmentValue::CenterOf(n - 1 - i)), style))
            }))
            .map_err(draw_error)?;
    } else {
        builder.x_label_area_size(56).y_label_area_size(64);
        let mut chart =
            builder.build_cartesian_2d((0..last_slot(n)).into_segmented(), lo..hi).map_err(draw_error)?;
        category_mesh(&mut chart, &data.labels, spec, root.dim_in_pixel().0)?;
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .style(PALETTE[0].filled())
                    .margin(BAR_GAP)
                    .data(drawn.iter().enumerate().filter_map(|(i, v)| Some((i, (*v)?)))),
            )
            .map_err(draw_error)?;
        chart
            .draw_series(values.iter().enumerate().filter_map(|(i, v)| {
                let v = (*v)?;
                let style = label_style.clone().pos(Pos::new(HPos::Center, VPos::Bottom));
                Some(Text::new(number(v), (SegmentValue::CenterOf(i), v), style))
            }))
            .map_err(draw_error)?;
    }
    Ok(())
}

fn line<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &Data,
    spec: &ChartSpec,
    title: &str,
) -> Result<()> {
    let n = data.labels.len();
    let (lo, hi) = value_range(data, spec.percent());
    let mut builder = ChartBuilder::on(root);
    if !title.is_empty() {
        builder.caption(cut(title, 80), (FONT, 18));
    }
    let mut chart = builder
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)
        .map_err(draw_error)?;
    let labels = &data.labels;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .x_labels(n.min(8))
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < n {
                cut(&labels[i as usize], 16)
            } else {
                String::new()
            }
        })
        .x_desc(spec.x_name())
        .y_desc(axis_name(spec))
        .y_label_formatter(&|v| number(*v))
        .draw()
        .map_err(draw_error)?;
    for (k, (name, values)) in data.series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let points: Vec<(f64, f64)> =
            values.iter().enumerate().filter_map(|(i, v)| Some((i as f64, (*v)?))).collect();
        let drawn =
            chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(2))).map_err(draw_error)?;
        if data.series.len() > 1 {
            drawn
                .label(cut(name, 40))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        // A marker per point, a different shape per series (apart in grey print too).
        match k % 3 {
            0 => chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(draw_error)?,
            1 => chart
                .draw_series(points.iter().map(|&p| TriangleMarker::new(p, 4, color.filled())))
                .map_err(draw_error)?,
            _ => chart
                .draw_series(points.iter().map(|&p| Cross::new(p, 4, color.stroke_width(2))))
                .map_err(draw_error)?,
        };
    }
    if data.series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(0xbb, 0xbb, 0xbb))
            .label_font((FONT, 12))
            .draw()
            .map_err(draw_error)?;
    }
    Ok(())
}
