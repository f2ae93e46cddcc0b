//! Lines and plain bars (vertical and horizontal).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    AXIS_FONT, BAR_GAP, ChartSpec, Data, FONT, GRID, MAX_LABEL, PALETTE, axis_name, category_mesh, cut,
    draw_error, last_slot, number, value_range, value_ticks,
};
use crate::error::Result;

pub(super) fn bars<DB: DrawingBackend>(
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
            .label_style((FONT, AXIS_FONT))
            .axis_desc_style((FONT, AXIS_FONT))
            .disable_y_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if *i < n => cut(&labels[n - 1 - i], MAX_LABEL),
                _ => String::new(),
            })
            .x_desc(axis_name(spec))
            .x_labels(value_ticks(data, lo, hi))
            .x_label_formatter(&|v| number(*v))
            .draw()
            .map_err(draw_error)?;
        // The first (largest) bar at the top; bars apart by a margin. One histogram per bar: a
        // histogram of several draws them in its hash map's order, and the same chart would be
        // different bytes each time.
        for (i, v) in drawn.iter().enumerate() {
            let Some(v) = *v else { continue };
            chart
                .draw_series(
                    Histogram::horizontal(&chart)
                        .style(PALETTE[0].filled())
                        .margin(BAR_GAP)
                        .data(std::iter::once((n - 1 - i, v))),
                )
                .map_err(draw_error)?;
        }
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
        category_mesh(&mut chart, data, (lo, hi), spec, root.dim_in_pixel().0)?;
        // One histogram per bar, in order (as above).
        for (i, v) in drawn.iter().enumerate() {
            let Some(v) = *v else { continue };
            chart
                .draw_series(
                    Histogram::vertical(&chart)
                        .style(PALETTE[0].filled())
                        .margin(BAR_GAP)
                        .data(std::iter::once((i, v))),
                )
                .map_err(draw_error)?;
        }
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

pub(super) fn line<DB: DrawingBackend>(
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
        .label_style((FONT, AXIS_FONT))
        .axis_desc_style((FONT, AXIS_FONT))
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
        .y_labels(value_ticks(data, lo, hi))
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
