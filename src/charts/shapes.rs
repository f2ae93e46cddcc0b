//! The chart kinds beyond lines and plain bars: stacked bars, the funnel, the heatmap and the
//! timeline. Each draws on any plotters backend (SVG for pages, bitmap for PNG).

use chrono::TimeZone;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    AXIS_FONT, BAR_GAP, ChartSpec, Data, FONT, GRID, MAX_LABEL, PALETTE, category_mesh, cut, draw_error,
    last_slot, number,
};
use crate::error::Result;

/// Height of the legend row above a chart.
const LEGEND_ROW: u32 = 26;
/// The heatmap's lightest and darkest cells (a zero and the largest value).
const COLD: RGBColor = RGBColor(0xf3, 0xf5, 0xf9);
const HOT: RGBColor = PALETTE[0];

/// The area under the caption (when there is a title) and a legend row (when there are items).
fn layout<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    legend: &[(String, RGBColor)],
) -> Result<DrawingArea<DB, Shift>> {
    let area = if title.is_empty() {
        root.clone()
    } else {
        root.titled(&cut(title, 80), (FONT, 18)).map_err(draw_error)?
    };
    if legend.is_empty() {
        return Ok(area);
    }
    let (row, rest) = area.split_vertically(LEGEND_ROW);
    legend_row(&row, legend)?;
    Ok(rest)
}

/// Legend items side by side: a swatch and the name, cut to fit.
fn legend_row<DB: DrawingBackend>(row: &DrawingArea<DB, Shift>, items: &[(String, RGBColor)]) -> Result<()> {
    let width = row.dim_in_pixel().0 as i32;
    let each = ((width - 24) / items.len().max(1) as i32).max(40);
    let chars = ((each - 22) / 7).max(3) as usize;
    let style = TextStyle::from((FONT, 12).into_font()).color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, (name, color)) in items.iter().enumerate() {
        let x = 12 + i as i32 * each;
        row.draw(&Rectangle::new([(x, 8), (x + 12, 20)], color.filled())).map_err(draw_error)?;
        row.draw(&Text::new(cut(name, chars), (x + 17, 14), style.clone())).map_err(draw_error)?;
    }
    Ok(())
}

/// White or black text, whichever reads on `fill`.
fn ink_on(fill: RGBColor) -> &'static RGBColor {
    let luma = 0.299 * f64::from(fill.0) + 0.587 * f64::from(fill.1) + 0.114 * f64::from(fill.2);
    if luma < 140.0 { &WHITE } else { &BLACK }
}

/// One bar per label, split into a segment per series (positive values stacked up from zero,
/// negative ones down); the bar's total above it, each segment's number inside it when it fits.
pub(super) fn stacked<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &Data,
    spec: &ChartSpec,
    title: &str,
) -> Result<()> {
    let n = data.labels.len();
    let legend: Vec<(String, RGBColor)> = data
        .series
        .iter()
        .enumerate()
        .map(|(k, (name, _))| (name.clone(), PALETTE[k % PALETTE.len()]))
        .collect();
    let area = layout(root, title, if data.series.len() > 1 { &legend } else { &[] })?;
    let sums = |sign: f64| -> Vec<f64> {
        (0..n)
            .map(|i| data.series.iter().filter_map(|(_, v)| v[i]).filter(|v| v * sign > 0.0).sum())
            .collect()
    };
    let (ups, downs) = (sums(1.0), sums(-1.0));
    let hi = ups.iter().fold(0f64, |m, v| m.max(*v)) * 1.12;
    let lo = downs.iter().fold(0f64, |m, v| m.min(*v)) * 1.12;
    let (lo, hi) = if hi - lo <= f64::EPSILON { (0.0, 1.0) } else { (lo, hi) };
    let mut chart = ChartBuilder::on(&area)
        .margin(12)
        .x_label_area_size(56)
        .y_label_area_size(64)
        .build_cartesian_2d((0..last_slot(n)).into_segmented(), lo..hi)
        .map_err(draw_error)?;
    category_mesh(&mut chart, data, (lo, hi), spec, area.dim_in_pixel().0)?;
    let plot_h = f64::from(chart.plotting_area().dim_in_pixel().1);
    let px = |v: f64| v.abs() / (hi - lo) * plot_h;
    let slot_w = chart.plotting_area().dim_in_pixel().0 as usize / n.max(1);
    let (mut up, mut down) = (vec![0f64; n], vec![0f64; n]);
    for (k, (_, values)) in data.series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let mut segments = Vec::new();
        let mut numbers = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let Some(v) = *v else { continue };
            if v == 0.0 {
                continue;
            }
            let base = if v > 0.0 { &mut up[i] } else { &mut down[i] };
            let (from, to) = (*base, *base + v);
            *base = to;
            let mut r = Rectangle::new(
                [(SegmentValue::Exact(i), from), (SegmentValue::Exact(i + 1), to)],
                color.filled(),
            );
            r.set_margin(0, 0, BAR_GAP, BAR_GAP);
            segments.push(r);
            let text = number(v);
            if px(v) >= 14.0 && text.len() * 7 + 4 <= slot_w.saturating_sub(2 * BAR_GAP as usize) {
                let style = TextStyle::from((FONT, 11).into_font())
                    .color(ink_on(color))
                    .pos(Pos::new(HPos::Center, VPos::Center));
                numbers.push(Text::new(text, (SegmentValue::CenterOf(i), (from + to) / 2.0), style));
            }
        }
        chart.draw_series(segments).map_err(draw_error)?;
        chart.draw_series(numbers).map_err(draw_error)?;
    }
    // Each bar's total on top (below, for a bar of only negative values).
    let total_style = TextStyle::from((FONT, 11).into_font()).color(&BLACK);
    chart
        .draw_series((0..n).filter(|&i| data.series.iter().any(|(_, v)| v[i].is_some())).map(|i| {
            let total: f64 = data.series.iter().filter_map(|(_, v)| v[i]).sum();
            let (at, v) =
                if up[i] > 0.0 || down[i] == 0.0 { (up[i], VPos::Bottom) } else { (down[i], VPos::Top) };
            Text::new(
                number(total),
                (SegmentValue::CenterOf(i), at),
                total_style.clone().pos(Pos::new(HPos::Center, v)),
            )
        }))
        .map_err(draw_error)?;
    Ok(())
}

/// Stages top to bottom in the query's order, each bar centred and as wide as its number, with the
/// number and its share of the first stage beside it.
pub(super) fn funnel<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &Data,
    _spec: &ChartSpec,
    title: &str,
) -> Result<()> {
    let n = data.labels.len();
    let values = &data.series[0].1;
    let max = values.iter().flatten().fold(0f64, |m, v| m.max(v.abs()));
    let max = if max > 0.0 { max } else { 1.0 };
    let first = values.iter().flatten().copied().find(|v| *v != 0.0);
    let area = layout(root, title, &[])?;
    let longest = data.labels.iter().map(|l| cut(l, MAX_LABEL).chars().count()).max().unwrap_or(4);
    let room = area.dim_in_pixel().0 * 40 / 100;
    // The right third holds the numbers beside the widest bar.
    let mut chart = ChartBuilder::on(&area)
        .margin(12)
        .x_label_area_size(0)
        .y_label_area_size((longest as u32 * 7 + 16).min(room))
        .build_cartesian_2d(-max * 0.5..max * 1.05, (0..last_slot(n)).into_segmented())
        .map_err(draw_error)?;
    let labels = &data.labels;
    chart
        .configure_mesh()
        .label_style((FONT, AXIS_FONT))
        .axis_desc_style((FONT, AXIS_FONT))
        .disable_mesh()
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) if *i < n => cut(&labels[n - 1 - i], MAX_LABEL),
            _ => String::new(),
        })
        .x_labels(0)
        .draw()
        .map_err(draw_error)?;
    let stub = max * 0.004;
    let bars = values.iter().enumerate().filter_map(|(i, v)| {
        let half = v.as_ref()?.abs().max(stub) / 2.0;
        let lane = n - 1 - i;
        let mut r = Rectangle::new(
            [(-half, SegmentValue::Exact(lane)), (half, SegmentValue::Exact(lane + 1))],
            PALETTE[0].filled(),
        );
        r.set_margin(BAR_GAP / 2, BAR_GAP / 2, 0, 0);
        Some(r)
    });
    chart.draw_series(bars).map_err(draw_error)?;
    let style = TextStyle::from((FONT, 11).into_font()).color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    chart
        .draw_series(values.iter().enumerate().filter_map(|(i, v)| {
            let v = (*v)?;
            let share = match first {
                Some(f) => format!(" ({}%)", number((1000.0 * v / f).round() / 10.0)),
                None => String::new(),
            };
            let at = v.abs().max(stub) / 2.0 + max * 0.02;
            Some(Text::new(
                format!("{}{share}", number(v)),
                (at, SegmentValue::CenterOf(n - 1 - i)),
                style.clone(),
            ))
        }))
        .map_err(draw_error)?;
    Ok(())
}

/// The shade of a heatmap cell: from [`COLD`] at zero to [`HOT`] at the largest value (a square
/// root scale, so that a few busy hours do not wash out the rest).
fn heat(v: f64, max: f64) -> RGBColor {
    let t = if max > 0.0 { (v.max(0.0) / max).sqrt().min(1.0) } else { 0.0 };
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
    RGBColor(mix(COLD.0, HOT.0), mix(COLD.1, HOT.1), mix(COLD.2, HOT.2))
}

/// A cell per `x` label (columns) and series (rows, top to bottom in the query's order), shaded by
/// its number, the number written in it when it is not zero and fits; a scale in the legend row.
pub(super) fn heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &Data,
    spec: &ChartSpec,
    title: &str,
) -> Result<()> {
    let (nx, ny) = (data.labels.len(), data.series.len());
    let max = data.series.iter().flat_map(|(_, v)| v.iter().flatten()).fold(0f64, |m, v| m.max(*v));
    let unit = spec.units.clone().unwrap_or_else(|| spec.y[0].clone());
    let scale: Vec<(String, RGBColor)> = [0.0, 0.25, 0.5, 1.0]
        .iter()
        .map(|f| (format!("{} {unit}", number((max * f * f).round())), heat(max * f * f, max)))
        .collect();
    let area = layout(root, title, &scale)?;
    let longest = data.series.iter().map(|(s, _)| cut(s, 16).chars().count()).max().unwrap_or(3);
    let mut chart = ChartBuilder::on(&area)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(longest as u32 * 7 + 30)
        .build_cartesian_2d((0..last_slot(nx)).into_segmented(), (0..last_slot(ny)).into_segmented())
        .map_err(draw_error)?;
    let labels = &data.labels;
    let rows: Vec<&String> = data.series.iter().map(|(s, _)| s).collect();
    let plot = chart.plotting_area().dim_in_pixel();
    let cell_w = plot.0 as usize / nx.max(1);
    // Every x label when they fit, else every second or third.
    let every = ((labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) * 7 + 6) / cell_w.max(1)) + 1;
    chart
        .configure_mesh()
        .label_style((FONT, AXIS_FONT))
        .axis_desc_style((FONT, AXIS_FONT))
        .disable_mesh()
        .x_labels(nx)
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) if *i < nx && i % every == 0 => cut(&labels[*i], 8),
            _ => String::new(),
        })
        .y_labels(ny)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(j) if *j < ny => cut(rows[ny - 1 - j], 16),
            _ => String::new(),
        })
        .x_desc(spec.x_name())
        .y_desc(spec.series.clone().unwrap_or_default())
        .draw()
        .map_err(draw_error)?;
    let cells = data.series.iter().enumerate().flat_map(|(k, (_, values))| {
        values.iter().enumerate().filter_map(move |(i, v)| {
            let v = (*v)?;
            let row = ny - 1 - k;
            let mut r = Rectangle::new(
                [
                    (SegmentValue::Exact(i), SegmentValue::Exact(row)),
                    (SegmentValue::Exact(i + 1), SegmentValue::Exact(row + 1)),
                ],
                heat(v, max).filled(),
            );
            r.set_margin(1, 1, 1, 1);
            Some(r)
        })
    });
    chart.draw_series(cells).map_err(draw_error)?;
    let numbers = data.series.iter().enumerate().flat_map(|(k, (_, values))| {
        values.iter().enumerate().filter_map(move |(i, v)| {
            let v = (*v)?;
            let text = number(v);
            if v == 0.0 || text.len() * 6 + 2 > cell_w {
                return None;
            }
            let style = TextStyle::from((FONT, 10).into_font())
                .color(ink_on(heat(v, max)))
                .pos(Pos::new(HPos::Center, VPos::Center));
            Some(Text::new(text, (SegmentValue::CenterOf(i), SegmentValue::CenterOf(ny - 1 - k)), style))
        })
    });
    chart.draw_series(numbers).map_err(draw_error)?;
    Ok(())
}

/// A lane per `series` value, a mark per row at its time (a span to its end when it has one),
/// coloured and shaped by its kind; the time axis in the time column's zone.
pub(super) fn timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &Data,
    _spec: &ChartSpec,
    title: &str,
) -> Result<()> {
    let lanes = data.labels.len();
    let mut kinds: Vec<&str> = Vec::new();
    for m in &data.marks {
        if !kinds.contains(&m.kind.as_str()) {
            kinds.push(&m.kind);
        }
    }
    let legend: Vec<(String, RGBColor)> =
        kinds.iter().enumerate().map(|(k, name)| (name.to_string(), PALETTE[k % PALETTE.len()])).collect();
    let area = layout(root, title, &legend)?;
    let first = data.marks.iter().map(|m| m.start).min().unwrap_or(0) as f64;
    let last = data.marks.iter().map(|m| m.end.unwrap_or(m.start)).max().unwrap_or(0) as f64;
    let pad = if last > first { (last - first) * 0.03 } else { 3_600e6 };
    let (lo, hi) = (first - pad, last + pad);
    let longest = data.labels.iter().map(|l| cut(l, MAX_LABEL).chars().count()).max().unwrap_or(4);
    let room = area.dim_in_pixel().0 * 40 / 100;
    let mut chart = ChartBuilder::on(&area)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size((longest as u32 * 7 + 16).min(room))
        // Lanes at whole numbers, top to bottom; a real axis (not segments) so one lane sits in
        // the middle instead of under an empty slot.
        .build_cartesian_2d(lo..hi, -0.5..(lanes as f64 - 0.5))
        .map_err(draw_error)?;
    let zone = data.zone.unwrap_or(chrono_tz::UTC);
    let days = (hi - lo) > 2.0 * 86_400e6;
    let when = |v: &f64| -> String {
        match chrono::Utc.timestamp_micros(*v as i64).single() {
            Some(t) if days => t.with_timezone(&zone).format("%Y-%m-%d").to_string(),
            Some(t) => t.with_timezone(&zone).format("%m-%d %H:%M").to_string(),
            None => String::new(),
        }
    };
    let labels = &data.labels;
    chart
        .configure_mesh()
        .label_style((FONT, AXIS_FONT))
        .axis_desc_style((FONT, AXIS_FONT))
        .disable_y_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .x_labels(6)
        .x_label_formatter(&when)
        .x_desc(format!("time ({zone})"))
        .y_labels(lanes)
        .y_label_formatter(&|v| {
            let i = v.round();
            if (v - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < lanes {
                cut(&labels[lanes - 1 - i as usize], MAX_LABEL)
            } else {
                String::new()
            }
        })
        .draw()
        .map_err(draw_error)?;
    let lane_of =
        |m: &super::Mark| (lanes - 1 - labels.iter().position(|l| *l == m.lane).unwrap_or(0)) as f64;
    // A span at least two pixels wide, so a short gap is still seen.
    let min_span = (hi - lo) / f64::from(chart.plotting_area().dim_in_pixel().0.max(1)) * 2.0;
    for (k, kind) in kinds.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let of_kind = || data.marks.iter().filter(move |m| m.kind == *kind);
        let spans = of_kind().filter_map(|m| {
            let end = m.end? as f64;
            let start = m.start as f64;
            let lane = lane_of(m);
            Some(Rectangle::new(
                [(start, lane - 0.18), (end.max(start + min_span), lane + 0.18)],
                color.mix(0.85).filled(),
            ))
        });
        chart.draw_series(spans).map_err(draw_error)?;
        let points: Vec<(f64, f64)> =
            of_kind().filter(|m| m.end.is_none()).map(|m| (m.start as f64, lane_of(m))).collect();
        match k % 3 {
            0 => chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled()))),
            1 => chart.draw_series(points.iter().map(|&p| TriangleMarker::new(p, 5, color.filled()))),
            _ => chart.draw_series(points.iter().map(|&p| Cross::new(p, 4, color.stroke_width(2)))),
        }
        .map_err(draw_error)?;
    }
    Ok(())
}
