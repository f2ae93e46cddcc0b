//! A chart's data read out of a query's rows: labels and series (or a timeline's marks), the top
//! N of many bars and the largest series of a stack.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef, TimeUnit};

use super::{ChartKind, ChartSpec, Sort};
use crate::error::{Error, Result};

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
    pub(crate) fn is_empty(&self, kind: ChartKind) -> bool {
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
    // "all / all") once and an empty one (an error code with no detail) left out.
    let x_cols: Vec<usize> = spec.x_columns().map(col).collect();
    let xs: Vec<String> = rows
        .iter()
        .map(|r| {
            let mut parts: Vec<&str> = Vec::new();
            for &c in &x_cols {
                if !r[c].is_empty() && !parts.contains(&r[c].as_str()) {
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
