//! Charts in the terminal, under a query's table (`sspr query NAME --chart`): bars (stacked bars
//! and funnels by their totals) as rows of `█` scaled to the width, a line as one sparkline per
//! series, a heatmap as a grid of shades, a timeline as a row of marks per lane. Plain Unicode,
//! no colour, so
//! it reads the same in any terminal; the caller draws it only when stdout is a terminal and
//! `NO_COLOR` is unset.

use unicode_width::UnicodeWidthStr;

use super::{ChartKind, ChartSpec, Data, cut, number, top_n};

const SPARKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The chart as text lines no wider than `width`.
pub(crate) fn text(data: &Data, spec: &ChartSpec, width: usize) -> String {
    if data.is_empty(spec.kind) {
        return "(chart: no data in this window)\n".into();
    }
    match spec.kind {
        ChartKind::Line => sparklines(data, width),
        ChartKind::Bar | ChartKind::HBar => bars(&top_n(data.clone(), spec.sort, spec.limit), width),
        ChartKind::Stacked | ChartKind::Funnel => {
            bars(&totals(&top_n(data.clone(), spec.sort, spec.limit)), width)
        }
        ChartKind::Heatmap => shades(data, width),
        ChartKind::Timeline => lanes(data, width),
    }
}

/// One series: each label's sum over the series.
fn totals(data: &Data) -> Data {
    let sums = (0..data.labels.len())
        .map(|i| {
            let parts: Vec<f64> = data.series.iter().filter_map(|(_, v)| v[i]).collect();
            (!parts.is_empty()).then(|| parts.iter().sum())
        })
        .collect();
    Data { labels: data.labels.clone(), series: vec![("total".into(), sums)], ..Data::default() }
}

const SHADES: [char; 5] = ['·', '░', '▒', '▓', '█'];

/// A heatmap as rows of shades, one character per column (zero is `·`), with the scale.
fn shades(data: &Data, width: usize) -> String {
    let name_w = data.series.iter().map(|(n, _)| cut(n, 12).width()).max().unwrap_or(0);
    let max = data.series.iter().flat_map(|(_, v)| v.iter().flatten()).fold(0f64, |m, v| m.max(*v));
    let room = width.saturating_sub(name_w + 1).max(8);
    let mut out = String::new();
    for (name, values) in &data.series {
        let name = cut(name, 12);
        let row: String = values
            .iter()
            .take(room)
            .map(|v| match v {
                None => ' ',
                Some(v) if *v <= 0.0 || max <= 0.0 => SHADES[0],
                Some(v) => SHADES[1 + ((v / max).sqrt() * 3.0).round() as usize],
            })
            .collect();
        out.push_str(&format!("{name}{} {row}\n", " ".repeat(name_w - name.width())));
    }
    let first = data.labels.first().cloned().unwrap_or_default();
    let last = data.labels.get(room.min(data.labels.len()).saturating_sub(1)).cloned().unwrap_or_default();
    out.push_str(&format!("{} {first} … {last}   · 0  █ {}\n", " ".repeat(name_w), number(max)));
    out
}

/// A timeline as one row per lane: `●` at each instant, `─` along each span, over the window.
fn lanes(data: &Data, width: usize) -> String {
    let name_w = data.labels.iter().map(|n| cut(n, 20).width()).max().unwrap_or(0);
    let room = width.saturating_sub(name_w + 3).max(8);
    let lo = data.marks.iter().map(|m| m.start).min().unwrap_or(0);
    let hi = data.marks.iter().map(|m| m.end.unwrap_or(m.start)).max().unwrap_or(0).max(lo + 1);
    let at = |t: i64| (((t - lo) as f64 / (hi - lo) as f64) * (room - 1) as f64).round() as usize;
    let mut out = String::new();
    for lane in &data.labels {
        let mut row = vec![' '; room];
        for m in data.marks.iter().filter(|m| m.lane == *lane) {
            match m.end {
                Some(end) => row[at(m.start)..=at(end)].iter_mut().for_each(|c| *c = '─'),
                None => row[at(m.start)] = '●',
            }
        }
        let name = cut(lane, 20);
        let row: String = row.into_iter().collect();
        out.push_str(&format!("{name}{} │{}\n", " ".repeat(name_w - name.width()), row.trim_end()));
    }
    let when = |t: i64, format: &str| {
        chrono::DateTime::from_timestamp_micros(t)
            .map(|t| t.with_timezone(&data.zone.unwrap_or(chrono_tz::UTC)).format(format).to_string())
            .unwrap_or_default()
    };
    // The window's ends under the lanes; without the year when the whole line would not fit.
    let long = format!("{} … {}", when(lo, "%Y-%m-%d %H:%M"), when(hi, "%Y-%m-%d %H:%M"));
    let ends = if name_w + 2 + long.width() <= width {
        format!("{}  {long}", " ".repeat(name_w))
    } else {
        format!("{} … {}", when(lo, "%m-%d %H:%M"), when(hi, "%m-%d %H:%M"))
    };
    out.push_str(&ends);
    out.push('\n');
    out
}

fn bars(data: &Data, width: usize) -> String {
    let values = &data.series[0].1;
    let label_w = data.labels.iter().map(|l| cut(l, 24).width()).max().unwrap_or(0);
    let numbers: Vec<String> = values.iter().map(|v| v.map(number).unwrap_or_default()).collect();
    let number_w = numbers.iter().map(|n| n.len()).max().unwrap_or(0);
    let room = width.saturating_sub(label_w + number_w + 3).max(4);
    let max = values.iter().flatten().fold(0f64, |m, v| m.max(v.abs()));
    let mut out = String::new();
    for (i, label) in data.labels.iter().enumerate() {
        let label = cut(label, 24);
        let pad = " ".repeat(label_w - label.width());
        let len = match values[i] {
            Some(v) if max > 0.0 => ((v.abs() / max) * room as f64).round() as usize,
            _ => 0,
        };
        let bar = "█".repeat(len.max(usize::from(values[i].is_some_and(|v| v != 0.0))));
        out.push_str(&format!("{label}{pad} │{bar} {}\n", numbers[i]));
    }
    out
}

fn sparklines(data: &Data, width: usize) -> String {
    let name_w = data.series.iter().map(|(n, _)| cut(n, 20).width()).max().unwrap_or(0);
    let first = data.labels.first().cloned().unwrap_or_default();
    let last = data.labels.last().cloned().unwrap_or_default();
    let mut out = String::new();
    for (name, values) in &data.series {
        let present: Vec<f64> = values.iter().flatten().copied().collect();
        let (lo, hi) =
            present.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        // One character per point; a series longer than the room shows its last points.
        let room = width.saturating_sub(name_w + 30).max(8);
        let shown = &values[values.len().saturating_sub(room)..];
        let spark: String = shown
            .iter()
            .map(|v| match v {
                None => ' ',
                Some(_) if hi <= lo => SPARKS[3],
                Some(v) => SPARKS[(((v - lo) / (hi - lo)) * 7.0).round() as usize],
            })
            .collect();
        let name = cut(name, 20);
        let pad = " ".repeat(name_w - name.width());
        let range =
            if present.is_empty() { String::new() } else { format!(" {} – {}", number(lo), number(hi)) };
        out.push_str(&format!("{name}{pad} {spark}{range}\n"));
    }
    out.push_str(&format!("{} {first} … {last}\n", " ".repeat(name_w)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(t: &str) -> ChartSpec {
        ChartSpec::parse("t", t).unwrap().unwrap()
    }

    #[test]
    fn bars_scale_to_the_width_and_carry_their_numbers() {
        let d = Data {
            labels: vec![
                "SSPR_0014".into(),
                "32015".into(),
                "a very long reason that will not fit in the label column".into(),
            ],
            series: vec![("events".into(), vec![Some(55.0), Some(29.0), Some(1.0)])],
            ..Data::default()
        };
        let t = text(&d, &spec("bar x=code y=events"), 80);
        assert!(t.lines().all(|l| l.width() <= 80), "{t}");
        let first = t.lines().next().unwrap();
        assert!(first.starts_with("SSPR_0014") && first.ends_with(" 55"), "{t}");
        assert!(first.matches('█').count() > t.lines().nth(1).unwrap().matches('█').count(), "{t}");
        assert!(t.contains('…'), "{t}");
    }

    #[test]
    fn a_line_is_a_sparkline_per_series_with_its_range() {
        let d = Data {
            labels: vec!["2026-11-01".into(), "2026-11-02".into(), "2026-11-03".into()],
            series: vec![("success_rate_pct".into(), vec![Some(50.0), None, Some(75.0)])],
            ..Data::default()
        };
        let t = text(&d, &spec("line x=day y=success_rate_pct"), 100);
        assert!(t.contains("▁ █ 50 – 75"), "{t}");
        assert!(t.contains("2026-11-01 … 2026-11-03"), "{t}");
        let empty = Data { labels: vec![], series: vec![("v".into(), vec![])], ..Data::default() };
        assert_eq!(text(&empty, &spec("line x=a y=v"), 80), "(chart: no data in this window)\n");
    }

    #[test]
    fn a_heatmap_is_rows_of_shades_and_a_timeline_rows_of_marks() {
        let d = Data {
            labels: vec!["0".into(), "1".into(), "2".into()],
            series: vec![
                ("Mon".into(), vec![Some(0.0), Some(9.0), Some(1.0)]),
                ("Tue".into(), vec![Some(4.0), None, Some(0.0)]),
            ],
            ..Data::default()
        };
        let t = text(&d, &spec("heatmap x=h y=n series=d"), 80);
        assert_eq!(t.lines().next(), Some("Mon ·█▒"), "square-root shades: {t}");
        assert_eq!(t.lines().nth(1), Some("Tue ▓ ·"), "{t}");
        assert!(t.contains("· 0  █ 9"), "{t}");
        let hour = 3_600_000_000_i64;
        let marks = vec![
            super::super::Mark { start: 0, end: None, lane: "AADC01".into(), kind: "started".into() },
            super::super::Mark {
                start: 5 * hour,
                end: Some(9 * hour),
                lane: "AADC02".into(),
                kind: "gap".into(),
            },
        ];
        let tl = Data { labels: vec!["AADC01".into(), "AADC02".into()], marks, ..Data::default() };
        let t = text(&tl, &spec("timeline x=t y=k series=c"), 30);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("AADC01 │●") && !lines[0].contains('─'), "{t}");
        assert!(lines[1].starts_with("AADC02 │") && lines[1].ends_with('─'), "{t}");
        assert!(t.contains("01-01 00:00 … 01-01 09:00"), "{t}");
        assert!(t.lines().all(|l| l.width() <= 30), "{t}");
    }
}
